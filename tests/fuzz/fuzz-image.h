/*
 * fuzz-image.h - the one harness every disk-format fuzz target uses: the
 * input becomes an image file in a directory of its own (so a descriptor's
 * relative extent names reach nothing else), opened read-only without
 * following parents (a fuzzed parent name must not reach host files), and
 * if it opens: read at its start, a third, its middle and its end, walked
 * by block status (reading what it reports), described and checked.
 * Errors are fine; a crash, hang or sanitizer report is a bug.
 */
#ifndef HV_FUZZ_IMAGE_H
#define HV_FUZZ_IMAGE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/disk/disk.h"

static void
fuzz_poke(struct disk *d)
{
	static uint8_t buf[128 * 1024];
	struct disk_check_result r = { 0 };
	struct disk_info info;
	struct hv_err err;
	uint64_t size = disk_size(d), off = 0, pnum;
	uint64_t at[] = { 0, size / 3, size / 2, size > sizeof buf ? size - sizeof buf : 0 };

	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		uint64_t o = at[i] / DISK_SECTOR * DISK_SECTOR;
		uint64_t len = size - o < sizeof buf ? size - o : sizeof buf;

		len = len / DISK_SECTOR * DISK_SECTOR;
		if (len > 0)
			disk_read(d, o, buf, len, &err);
	}
	for (int i = 0; i < 64 && off < size; i++) {
		if (disk_block_status(d, off, size - off, &pnum, &err) < 0)
			break;
		if (pnum <= sizeof buf)
			disk_read(d, off, buf, pnum, &err);
		off += pnum;
	}
	disk_get_info(d, &info, &err);
	disk_check(d, false, &r, &err);
}

/* run one input as an image named in.EXT */
static int
fuzz_image(const uint8_t *data, size_t size, const char *ext)
{
	char dir[] = "/tmp/fuzz-image-XXXXXX", path[64];
	struct hv_err err;
	struct disk *d;
	FILE *f;

	if (mkdtemp(dir) == NULL)
		return 0;
	snprintf(path, sizeof path, "%s/in.%s", dir, ext);
	f = fopen(path, "wb");
	if (f != NULL) {
		if (size == 0 || fwrite(data, 1, size, f) == size) {
			fclose(f);
			if (disk_open(&d, path, DISK_RDONLY | DISK_NOBACKING, &err) == 0) {
				fuzz_poke(d);
				disk_close(d);
			}
		} else {
			fclose(f);
		}
		unlink(path);
	}
	rmdir(dir);
	return 0;
}

#endif
