/*
 * fuzz-vmdk.c - libFuzzer target for the VMDK open path: the input is
 * written to a temp file, opened read-only, and if it opens, a few
 * ranges are read and their block status asked. Any crash, hang or
 * sanitizer report is a bug; errors are fine.
 *
 * Extent files a descriptor names are resolved next to the temp file,
 * in a directory of its own, so inputs cannot reach other files by
 * relative names (absolute names may open files: reads only).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/disk.h"

static void
poke(struct disk *d)
{
	static uint8_t buf[128 * 1024];
	uint64_t size = disk_size(d), pnum, offs[4];
	struct hv_err err;

	offs[0] = 0;
	offs[1] = size / 2;
	offs[2] = size > sizeof(buf) ? size - sizeof(buf) : 0;
	offs[3] = size / 3;
	for (int i = 0; i < 4; i++) {
		uint64_t off = offs[i] & ~(uint64_t)(DISK_SECTOR - 1);
		uint64_t len = size - off < sizeof(buf) ? size - off : sizeof(buf);

		len &= ~(uint64_t)(DISK_SECTOR - 1);
		if (len == 0)
			continue;
		disk_read(d, off, buf, (size_t)len, &err);
		disk_block_status(d, off, len, &pnum, &err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char dir[] = "/tmp/fuzz-vmdk-XXXXXX", path[64];
	struct hv_err err;
	struct disk *d;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/in.vmdk", dir);
	f = fopen(path, "wb");
	if (f == NULL)
		goto out;
	if (size)
		fwrite(data, 1, size, f);
	fclose(f);
	if (disk_open(&d, path, DISK_RDONLY | DISK_NOBACKING, &err) == 0) {
		poke(d);
		disk_close(d);
	}
	unlink(path);
out:
	rmdir(dir);
	return 0;
}
