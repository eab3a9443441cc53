/*
 * fuzz-vhd.c - libFuzzer target for the VHD driver's open path: the
 * input becomes an image file, which is opened read-only and, if it
 * opens, read at a few places, walked by block status, described and
 * checked. Parents are not followed (DISK_NOBACKING): a fuzzed parent
 * name must not reach other files on the host.
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
	static uint8_t buf[65536];
	struct disk_check_result r = { 0 };
	struct disk_info info;
	struct hv_err err;
	uint64_t size = disk_size(d), off = 0, pnum;

	if (size >= sizeof buf)
		disk_read(d, 0, buf, sizeof buf, &err);
	if (size >= DISK_SECTOR) {
		disk_read(d, size - DISK_SECTOR, buf, DISK_SECTOR, &err);
		disk_read(d, size / 2 / DISK_SECTOR * DISK_SECTOR, buf,
			  DISK_SECTOR, &err);
	}
	for (int i = 0; i < 64 && off < size; i++) {
		if (disk_block_status(d, off, size - off, &pnum, &err) < 0)
			break;
		off += pnum;
	}
	disk_get_info(d, &info, &err);
	disk_check(d, false, &r, &err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-vhd-XXXXXX";
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
