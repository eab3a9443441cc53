/*
 * fuzz-qcow2.c - libFuzzer target for the qcow2 driver's open path: the
 * input becomes an image file, opened read-only; if it opens, a few
 * ranges are read (through L1/L2, zero and compressed clusters), block
 * status is walked, and the refcount check runs. Backing files are not
 * followed (DISK_NOBACKING): a fuzzed name must not reach host files.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/disk.h"

static void
poke_image(struct disk *d)
{
	static uint8_t buf[128 * 1024];
	struct disk_check_result r = { 0 };
	struct disk_info info;
	struct hv_err err;
	uint64_t size = disk_size(d), off = 0, pnum;

	disk_read(d, 0, buf, size < sizeof buf ? size : sizeof buf, &err);
	if (size >= DISK_SECTOR) {
		disk_read(d, size - DISK_SECTOR, buf, DISK_SECTOR, &err);
		disk_read(d, size / 3 / DISK_SECTOR * DISK_SECTOR, buf,
			  DISK_SECTOR, &err);
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

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-qcow2-XXXXXX";
	struct hv_err err;
	struct disk *d;
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		unlink(path);
		return 0;
	}
	close(fd);
	if (disk_open(&d, path, DISK_RDONLY | DISK_NOBACKING, &err) == 0) {
		poke_image(d);
		disk_close(d);
	}
	unlink(path);
	return 0;
}
