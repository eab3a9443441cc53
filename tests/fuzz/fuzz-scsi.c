/*
 * fuzz-scsi.c - SCSI commands as a hostile guest sends them through
 * virtio-scsi (engine/vm/dev/scsi.c): a disk LUN on a small raw image and
 * a DVD LUN on an ISO file. The first byte picks the LUN and its state
 * (medium in or out, read-only, a pending unit attention, the tray
 * locked); then commands follow, each {cdb length, cdb, data-out length
 * (2 bytes), allocation room for data-in (3 bytes)} with the data-out
 * taken from what is left. Every answer must stay inside the buffers the
 * initiator gave, and carry sense when it is CHECK CONDITION.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "engine/vm/dev/scsi.h"

#define IMG_BYTES	(1u << 20)
#define ISO_BYTES	(64u * 2048)

static struct disk *img;
static int iso_fd = -1;
static uint8_t *inbuf;

static void
setup(void)
{
	char dir[] = "/tmp/fuzz-scsi.XXXXXX", path[64];
	struct disk_create_opts o = { .fmt = DISK_FMT_RAW, .size = IMG_BYTES };
	struct hv_err err;

	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(path, sizeof path, "%s/disk.raw", dir);
	if (disk_create(path, &o, &err) != 0 || disk_open(&img, path, 0, &err) != 0)
		abort();
	unlink(path);
	snprintf(path, sizeof path, "%s/dvd.iso", dir);
	iso_fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (iso_fd < 0 || ftruncate(iso_fd, ISO_BYTES) != 0)
		abort();
	unlink(path);
	rmdir(dir);
	if ((inbuf = malloc(SCSI_MAX_XFER + 64)) == NULL)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct scsi_lun l;
	size_t at = 1;
	uint8_t f;

	if (img == NULL)
		setup();
	if (size < 1)
		return 0;
	f = data[0];
	if (f & 1) {
		scsi_lun_dvd(&l, "fuzz-dvd");
		if (f & 2)
			scsi_lun_medium(&l, dup(iso_fd), ISO_BYTES);
	} else {
		scsi_lun_disk(&l, img, f & 2, "fuzz-disk");
	}
	if (!(f & 4))
		l.ua_asc = 0;		/* start past the power-on attention */
	l.prevent = f & 8;
	while (at + 1 <= size) {
		struct scsi_cmd c = { 0 };
		uint32_t cl = data[at++] % 33, out_len, in_max;
		uint8_t cdb[32] = { 0 };

		if (at + cl + 5 > size)
			break;
		memcpy(cdb, data + at, cl);
		at += cl;
		out_len = (uint32_t)(data[at] << 8 | data[at + 1]);
		in_max = (uint32_t)(data[at + 2] << 16 | data[at + 3] << 8 | data[at + 4]);
		at += 5;
		if (out_len > size - at)
			out_len = (uint32_t)(size - at);
		if (in_max > SCSI_MAX_XFER)
			in_max = SCSI_MAX_XFER;
		c.cdb = cdb;
		c.cdb_len = cl;
		c.out = data + at;
		c.out_len = out_len;
		at += out_len;
		/* a canary past the room the initiator gave */
		memset(inbuf + in_max, 0xA5, 64);
		c.in = inbuf;
		c.in_max = in_max;
		scsi_exec(&l, &c);
		for (int i = 0; i < 64; i++)
			if (inbuf[in_max + i] != 0xA5)
				abort();
		if (c.in_len > in_max || (c.status == SCSI_CHECK_CONDITION && c.sense[0] != 0x70))
			abort();
	}
	if (l.kind == SCSI_DVD && l.iso_fd >= 0)
		close(l.iso_fd);
	return 0;
}
