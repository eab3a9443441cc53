/*
 * fuzz-vhdx.c - libFuzzer target for the VHDX open path: headers, region
 * tables, metadata, BAT, parent locator and log replay (in memory, as
 * the open is read-only), then a few reads and block status calls.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/disk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
poke(struct disk *d)
{
	static uint8_t buf[65536];
	uint64_t sz = disk_size(d), pnum;
	uint64_t offs[] = { 0, sz / 2, sz > sizeof buf ? sz - sizeof buf : 0 };
	struct hv_err err;

	for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		uint64_t off = offs[i] / DISK_SECTOR * DISK_SECTOR;
		uint64_t len = sz - off < sizeof buf ? sz - off : sizeof buf;

		len = len / DISK_SECTOR * DISK_SECTOR;
		if (len == 0)
			continue;
		disk_read(d, off, buf, len, &err);
		disk_block_status(d, off, len, &pnum, &err);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[] = "/tmp/fuzz-vhdx-XXXXXX";
	struct hv_err err;
	struct disk *d;
	int fd = mkstemp(path);

	if (fd < 0)
		return 0;
	if (write(fd, data, size) == (ssize_t)size &&
	    disk_open(&d, path, DISK_RDONLY | DISK_NOBACKING, &err) == 0) {
		poke(d);
		disk_close(d);
	}
	close(fd);
	unlink(path);
	return 0;
}
