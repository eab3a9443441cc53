/*
 * scsi.c - SCSI disk (SBC) and DVD (MMC) targets: what Linux's sd and sr
 * drivers, SeaBIOS and OVMF send (SPC-4, SBC-3, MMC-6 for the fields).
 *
 * A unit attention is reported once, by the first command it applies to
 * (all but INQUIRY, REPORT LUNS, REQUEST SENSE and GET EVENT STATUS
 * NOTIFICATION), as SPC says; this is how a guest that merely opens the
 * drive learns that its medium changed. Data-in is cut to what the
 * initiator's allocation length and buffer allow; a READ or WRITE whose
 * data does not fit the buffers is an overrun the transport reports.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "engine/vm/dev/scsi.h"

/* sense keys, additional sense codes */
#define KEY_NOT_READY		0x02
#define KEY_MEDIUM_ERROR	0x03
#define KEY_ILLEGAL_REQUEST	0x05
#define KEY_UNIT_ATTENTION	0x06
#define KEY_DATA_PROTECT	0x07

#define ASC_INVALID_OPCODE	0x20
#define ASC_LBA_RANGE		0x21
#define ASC_INVALID_FIELD	0x24
#define ASC_NO_LUN		0x25
#define ASC_PARAM_LIST_LEN	0x1A
#define ASC_WRITE_PROTECTED	0x27
#define ASC_MEDIUM_CHANGED	0x28
#define ASC_RESET		0x29
#define ASC_SAVING_PARAMS	0x39
#define ASC_NO_MEDIUM		0x3A
#define ASC_REMOVAL_PREVENTED	0x53
#define ASC_READ_ERROR		0x11
#define ASC_WRITE_ERROR		0x0C

#define PROFILE_DVD_ROM		0x0010

static void put_be16(uint8_t *p, uint16_t v) { p[0] = v >> 8; p[1] = v; }
static void put_be32(uint8_t *p, uint32_t v) { put_be16(p, v >> 16); put_be16(p + 2, v); }
static void put_be64(uint8_t *p, uint64_t v) { put_be32(p, v >> 32); put_be32(p + 4, v); }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)be16(p) << 16 | be16(p + 2); }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }

/* --- the LUN ---------------------------------------------------------------- */

void
scsi_lun_disk(struct scsi_lun *l, struct disk *d, bool ro, const char *serial)
{
	memset(l, 0, sizeof *l);
	l->kind = SCSI_DISK;
	l->disk = d;
	l->iso_fd = -1;
	l->ro = ro;
	l->block_size = 512;
	l->blocks = disk_size(d) / 512;
	snprintf(l->serial, sizeof l->serial, "%s", serial);
	scsi_lun_reset(l);
}

void
scsi_lun_dvd(struct scsi_lun *l, const char *serial)
{
	memset(l, 0, sizeof *l);
	l->kind = SCSI_DVD;
	l->iso_fd = -1;
	l->ro = true;
	l->block_size = 2048;
	snprintf(l->serial, sizeof l->serial, "%s", serial);
	scsi_lun_reset(l);
}

void
scsi_lun_medium(struct scsi_lun *l, int fd, uint64_t bytes)
{
	bool had = l->iso_fd >= 0;

	if (had)
		close(l->iso_fd);
	l->iso_fd = fd;
	l->blocks = fd >= 0 ? bytes / 2048 : 0;
	l->tray_open = false;
	if (fd >= 0) {
		l->media_event = 2;			/* new media */
		l->ua_asc = ASC_MEDIUM_CHANGED;		/* not ready to ready */
		l->ua_ascq = 0;
	} else if (had) {
		l->media_event = 3;			/* media removal */
		l->ua_asc = ASC_MEDIUM_CHANGED;
		l->ua_ascq = 0;
	}
}

void
scsi_lun_close(struct scsi_lun *l)
{
	if (l->iso_fd >= 0)
		close(l->iso_fd);
	l->iso_fd = -1;
	if (l->disk != NULL)
		disk_close(l->disk);
	l->disk = NULL;
}

void
scsi_lun_reset(struct scsi_lun *l)
{
	l->ua_asc = ASC_RESET;	/* power on, reset, or bus device reset */
	l->ua_ascq = 0;
	l->prevent = false;
}

static bool
has_medium(const struct scsi_lun *l)
{
	return l->kind == SCSI_DISK ? l->disk != NULL : l->iso_fd >= 0;
}

/* --- status ------------------------------------------------------------------ */

static void
check(struct scsi_lun *l, struct scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
	uint8_t *s = c->sense;

	memset(s, 0, SCSI_SENSE_LEN);
	s[0] = 0x70;		/* current error, fixed format */
	s[2] = key;
	s[7] = SCSI_SENSE_LEN - 8;
	s[12] = asc;
	s[13] = ascq;
	c->status = SCSI_CHECK_CONDITION;
	c->in_len = 0;
	if (l != NULL) {
		memcpy(l->sense, s, SCSI_SENSE_LEN);
		if (key != KEY_UNIT_ATTENTION)
			l->errors++;
	}
}

static void
invalid_field(struct scsi_lun *l, struct scsi_cmd *c)
{
	check(l, c, KEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
}

/* data-in: at most the allocation length and the buffer */
static void
reply(struct scsi_cmd *c, const void *data, uint32_t len, uint32_t alloc)
{
	if (len > alloc)
		len = alloc;
	if (len > c->in_max)
		len = c->in_max;
	memcpy(c->in, data, len);
	c->in_len = len;
}

static bool
no_medium(struct scsi_lun *l, struct scsi_cmd *c)
{
	if (has_medium(l))
		return false;
	check(l, c, KEY_NOT_READY, ASC_NO_MEDIUM, l->tray_open ? 2 : 1);
	return true;
}

/* --- inquiry, sense, LUNs ----------------------------------------------------- */

static void
inquiry(struct scsi_lun *l, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	uint8_t d[96];
	uint8_t type = l->kind == SCSI_DVD ? 0x05 : 0x00;
	uint32_t alloc = be16(cdb + 3), n;
	size_t sl = strlen(l->serial);

	memset(d, 0, sizeof d);
	d[0] = type;
	if (!(cdb[1] & 1)) {
		if (cdb[2] != 0) {
			invalid_field(l, c);
			return;
		}
		d[1] = l->kind == SCSI_DVD ? 0x80 : 0;	/* removable */
		d[2] = 0x05;				/* SPC-3 */
		d[3] = 0x02;				/* response format 2 */
		d[4] = 36 - 5;
		d[7] = 0x02;				/* CmdQue */
		memcpy(d + 8, "HV      ", 8);
		memcpy(d + 16, l->kind == SCSI_DVD ? "Virtual DVD-ROM " : "Virtual Disk    ", 16);
		memcpy(d + 32, "1.0 ", 4);
		reply(c, d, 36, alloc);
		return;
	}
	switch (cdb[2]) {
	case 0x00:		/* supported VPD pages */
		d[3] = 3;
		d[4] = 0x00; d[5] = 0x80; d[6] = 0x83;
		reply(c, d, 7, alloc);
		return;
	case 0x80:		/* unit serial number */
		d[1] = 0x80;
		d[3] = (uint8_t)sl;
		memcpy(d + 4, l->serial, sl);
		reply(c, d, 4 + (uint32_t)sl, alloc);
		return;
	case 0x83:		/* device identification: T10 vendor ID */
		d[1] = 0x83;
		n = 8 + (uint32_t)sl;
		put_be16(d + 2, (uint16_t)(4 + n));
		d[4] = 0x02;				/* ASCII */
		d[5] = 0x01;				/* T10 vendor ID, LUN */
		d[7] = (uint8_t)n;
		memcpy(d + 8, "HV      ", 8);
		memcpy(d + 16, l->serial, sl);
		reply(c, d, 8 + n, alloc);
		return;
	}
	invalid_field(l, c);
}

static void
request_sense(struct scsi_lun *l, struct scsi_cmd *c)
{
	struct scsi_cmd t = { 0 };

	if (l->ua_asc != 0) {
		check(l, &t, KEY_UNIT_ATTENTION, l->ua_asc, l->ua_ascq);
		l->ua_asc = 0;
	} else if (!has_medium(l)) {
		check(l, &t, KEY_NOT_READY, ASC_NO_MEDIUM, l->tray_open ? 2 : 1);
	} else {
		memset(t.sense, 0, SCSI_SENSE_LEN);
		t.sense[0] = 0x70;
		t.sense[7] = SCSI_SENSE_LEN - 8;
	}
	c->status = SCSI_GOOD;
	reply(c, t.sense, SCSI_SENSE_LEN, c->cdb[4]);
}

static void
report_luns(struct scsi_cmd *c)
{
	uint8_t d[16] = { 0 };

	put_be32(d, 8);		/* one LUN: 0 */
	if (be32(c->cdb + 6) < 16) {
		check(NULL, c, KEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	c->status = SCSI_GOOD;
	reply(c, d, 16, be32(c->cdb + 6));
}

void
scsi_exec_absent(struct scsi_cmd *c)
{
	uint8_t d[36] = { 0 };

	c->status = SCSI_GOOD;
	c->in_len = 0;
	c->overrun = false;
	if (c->cdb_len >= 6 && c->cdb[0] == 0x12) {
		d[0] = 0x7F;	/* no device at this LUN */
		d[2] = 0x05;
		d[3] = 0x02;
		d[4] = 36 - 5;
		reply(c, d, 36, be16(c->cdb + 3));
		return;
	}
	if (c->cdb_len >= 12 && c->cdb[0] == 0xA0) {
		report_luns(c);
		return;
	}
	check(NULL, c, KEY_ILLEGAL_REQUEST, ASC_NO_LUN, 0);
}

/* --- capacity and data ---------------------------------------------------------- */

static void
read_capacity(struct scsi_lun *l, struct scsi_cmd *c, bool sixteen)
{
	uint8_t d[32] = { 0 };
	uint64_t last = l->blocks ? l->blocks - 1 : 0;

	if (no_medium(l, c))
		return;
	if (!sixteen) {
		put_be32(d, last > 0xFFFFFFFFu ? 0xFFFFFFFFu : (uint32_t)last);
		put_be32(d + 4, l->block_size);
		reply(c, d, 8, 8);
		return;
	}
	put_be64(d, last);
	put_be32(d + 8, l->block_size);
	reply(c, d, 32, be32(c->cdb + 10));
}

/* READ/WRITE(6/10/12/16): where and how many blocks */
static bool
rw_range(const struct scsi_cmd *c, uint64_t *lba, uint32_t *n)
{
	const uint8_t *cdb = c->cdb;

	switch (cdb[0]) {
	case 0x08: case 0x0A:
		*lba = (uint64_t)(cdb[1] & 0x1F) << 16 | be16(cdb + 2);
		*n = cdb[4] ? cdb[4] : 256;
		return true;
	case 0x28: case 0x2A:
		*lba = be32(cdb + 2);
		*n = be16(cdb + 7);
		return true;
	case 0xA8: case 0xAA:
		if (c->cdb_len < 12)
			return false;
		*lba = be32(cdb + 2);
		*n = be32(cdb + 6);
		return true;
	case 0x88: case 0x8A:
		if (c->cdb_len < 16)
			return false;
		*lba = be64(cdb + 2);
		*n = be32(cdb + 10);
		return true;
	}
	return false;
}

static int
medium_read(struct scsi_lun *l, uint64_t off, uint8_t *buf, uint32_t len, struct hv_err *err)
{
	ssize_t r;

	if (l->kind == SCSI_DISK)
		return disk_read(l->disk, off, buf, len, err);
	while (len > 0) {
		r = pread(l->iso_fd, buf, len, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return hv_fail(err, HV_EIO, "ISO read at %llu: %s", (unsigned long long)off,
				       r < 0 ? strerror(errno) : "the file is shorter than it was");
		buf += r;
		off += (uint64_t)r;
		len -= (uint32_t)r;
	}
	return 0;
}

static void
read_write(struct scsi_lun *l, struct scsi_cmd *c, bool write)
{
	uint64_t lba, bytes;
	uint32_t n;
	struct hv_err err;

	if (!rw_range(c, &lba, &n)) {
		check(l, c, KEY_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
	if (no_medium(l, c))
		return;
	if (write && l->ro) {
		check(l, c, KEY_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
		return;
	}
	if (lba > l->blocks || n > l->blocks - lba) {
		check(l, c, KEY_ILLEGAL_REQUEST, ASC_LBA_RANGE, 0);
		return;
	}
	bytes = (uint64_t)n * l->block_size;
	if (bytes > SCSI_MAX_XFER) {
		invalid_field(l, c);
		return;
	}
	if (bytes > (write ? c->out_len : c->in_max)) {
		c->overrun = true;
		invalid_field(l, c);
		return;
	}
	if (write) {
		if (disk_write(l->disk, lba * l->block_size, c->out, bytes, &err) != 0) {
			check(l, c, KEY_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
			return;
		}
		l->writes++;
		l->write_bytes += bytes;
		return;
	}
	if (medium_read(l, lba * l->block_size, c->in, (uint32_t)bytes, &err) != 0) {
		check(l, c, KEY_MEDIUM_ERROR, ASC_READ_ERROR, 0);
		return;
	}
	c->in_len = (uint32_t)bytes;
	l->reads++;
	l->read_bytes += bytes;
}

static void
sync_cache(struct scsi_lun *l, struct scsi_cmd *c)
{
	struct hv_err err;

	if (no_medium(l, c))
		return;
	if (l->kind == SCSI_DISK && !l->ro && disk_flush(l->disk, &err) != 0)
		check(l, c, KEY_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
}

/* --- mode pages ------------------------------------------------------------------ */

/* the pages this LUN has: page (0x3F: all) appended at d; its length,
   0 when it has no such page */
static uint32_t
mode_pages(const struct scsi_lun *l, uint8_t page, uint8_t *d)
{
	uint32_t n = 0;

	if (l->kind == SCSI_DISK && (page == 0x08 || page == 0x3F)) {
		memset(d + n, 0, 20);
		d[n] = 0x08;		/* caching */
		d[n + 1] = 0x12;
		d[n + 2] = 0x04;	/* WCE: flushes are asked for */
		n += 20;
	}
	if (l->kind == SCSI_DVD && (page == 0x2A || page == 0x3F)) {
		memset(d + n, 0, 22);
		d[n] = 0x2A;		/* CD/DVD capabilities and mechanical status */
		d[n + 1] = 20;
		d[n + 2] = 0x3B;	/* reads CD-R, CD-RW, method 2, DVD-ROM, DVD-R */
		d[n + 4] = 0x40;	/* multi-session */
		/* a tray that locks and ejects; whether locked now */
		d[n + 6] = 0x20 | 0x08 | 0x01 | (l->prevent ? 0x02 : 0);
		put_be16(d + n + 8, 2770);	/* 16x DVD, kB/s (obsolete) */
		put_be16(d + n + 12, 2048);	/* buffer, KiB */
		put_be16(d + n + 14, 2770);
		n += 22;
	}
	return n;
}

static void
mode_sense(struct scsi_lun *l, struct scsi_cmd *c, bool ten)
{
	const uint8_t *cdb = c->cdb;
	uint8_t d[128] = { 0 };
	uint8_t page = cdb[2] & 0x3F, pc = cdb[2] >> 6;
	uint32_t hdr = ten ? 8 : 4, n, alloc = ten ? be16(cdb + 7) : cdb[4];

	if (pc == 3) {
		check(l, c, KEY_ILLEGAL_REQUEST, ASC_SAVING_PARAMS, 0);
		return;
	}
	if (cdb[3] != 0 && cdb[3] != 0xFF) {	/* subpages: none but "all" */
		invalid_field(l, c);
		return;
	}
	n = mode_pages(l, page, d + hdr);
	if (n == 0 && page != 0x3F && page != 0x00) {
		invalid_field(l, c);
		return;
	}
	if (pc == 1)		/* changeable values: none are */
		for (uint32_t p = hdr; p + 2 <= hdr + n; p += 2u + d[p + 1])
			memset(d + p + 2, 0, d[p + 1]);
	n += hdr;
	if (ten) {
		put_be16(d, (uint16_t)(n - 2));
		d[3] = l->ro && l->kind == SCSI_DISK ? 0x80 : 0;	/* WP */
	} else {
		d[0] = (uint8_t)(n - 1);
		d[2] = l->ro && l->kind == SCSI_DISK ? 0x80 : 0;
	}
	reply(c, d, n, alloc);
}

/* --- MMC ---------------------------------------------------------------------------- */

static void
put_addr(uint8_t *p, uint64_t lba, bool msf)
{
	uint64_t f;

	if (!msf) {
		put_be32(p, (uint32_t)lba);
		return;
	}
	f = lba + 150;
	p[0] = 0;
	p[1] = (uint8_t)(f / (60 * 75) > 255 ? 255 : f / (60 * 75));
	p[2] = (uint8_t)(f / 75 % 60);
	p[3] = (uint8_t)(f % 75);
}

static void
read_toc(struct scsi_lun *l, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	bool msf = cdb[1] & 0x02;
	uint8_t fmt = cdb[2] & 0x0F, track = cdb[6], d[32] = { 0 };
	uint32_t n = 4;

	if (fmt == 0 && cdb[9] >> 6)	/* the old place for the format */
		fmt = cdb[9] >> 6;
	if (no_medium(l, c))
		return;
	d[2] = d[3] = 1;	/* first and last track (session) */
	if (fmt == 0) {
		if (track > 1 && track != 0xAA) {
			invalid_field(l, c);
			return;
		}
		if (track <= 1) {	/* track 1: data, at 0 */
			d[n + 1] = 0x14;
			d[n + 2] = 1;
			put_addr(d + n + 4, 0, msf);
			n += 8;
		}
		d[n + 1] = 0x14;	/* the lead-out */
		d[n + 2] = 0xAA;
		put_addr(d + n + 4, l->blocks, msf);
		n += 8;
	} else if (fmt == 1) {	/* multi-session: the last session's start */
		d[n + 1] = 0x14;
		d[n + 2] = 1;
		put_addr(d + n + 4, 0, msf);
		n += 8;
	} else {
		invalid_field(l, c);
		return;
	}
	put_be16(d, (uint16_t)(n - 2));
	reply(c, d, n, be16(cdb + 7));
}

/* a feature descriptor header: code, version/persistent/current, length */
static uint32_t
feature(uint8_t *p, uint16_t code, uint8_t flags, uint8_t len)
{
	put_be16(p, code);
	p[2] = flags;
	p[3] = len;
	return 4u + len;
}

static void
get_configuration(struct scsi_lun *l, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	uint8_t rt = cdb[1] & 0x03, d[96] = { 0 }, cur = has_medium(l) ? 1 : 0;
	uint16_t start = be16(cdb + 2);
	uint32_t n = 8, k;
	static const uint16_t list[] = { 0x0000, 0x0001, 0x0003, 0x0010, 0x001F };

	if (rt == 3) {
		invalid_field(l, c);
		return;
	}
	put_be16(d + 6, cur ? PROFILE_DVD_ROM : 0);
	for (k = 0; k < sizeof list / sizeof list[0]; k++) {
		uint16_t code = list[k];
		uint8_t *p = d + n;
		bool current = code <= 0x0003 || cur;

		if (code < start || (rt == 2 && code != start) || (rt == 1 && !current))
			continue;
		switch (code) {
		case 0x0000:	/* profile list: DVD-ROM */
			n += feature(p, code, 0x03, 4);
			put_be16(p + 4, PROFILE_DVD_ROM);
			p[6] = cur;
			break;
		case 0x0001:	/* core: a SCSI interface */
			n += feature(p, code, 0x0B, 8);
			put_be32(p + 4, 1);
			break;
		case 0x0003:	/* removable medium: a tray that locks and ejects */
			n += feature(p, code, 0x03, 4);
			p[4] = 0x20 | 0x08 | 0x01 | (l->prevent ? 0x04 : 0);
			break;
		case 0x0010:	/* random readable */
			n += feature(p, code, current ? 0x01 : 0x00, 8);
			put_be32(p + 4, 2048);
			put_be16(p + 8, 16);
			break;
		case 0x001F:	/* DVD read */
			n += feature(p, code, current ? 0x09 : 0x08, 4);
			break;
		}
	}
	put_be32(d, n - 4);
	reply(c, d, n, be16(cdb + 7));
}

static void
event_status(struct scsi_lun *l, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	uint8_t d[8] = { 0 };

	if (!(cdb[1] & 1)) {	/* asynchronous notification: not offered */
		invalid_field(l, c);
		return;
	}
	d[3] = 0x10;		/* the media class is all we report */
	if (!(cdb[4] & 0x10)) {
		put_be16(d, 2);
		d[2] = 0x80;	/* no event available */
		reply(c, d, 4, be16(cdb + 7));
		return;
	}
	put_be16(d, 6);
	d[2] = 0x04;		/* media */
	d[4] = l->media_event;
	d[5] = (has_medium(l) ? 0x02 : 0) | (l->tray_open ? 0x01 : 0);
	l->media_event = 0;
	reply(c, d, 8, be16(cdb + 7));
}

static void
start_stop(struct scsi_lun *l, struct scsi_cmd *c)
{
	uint8_t f = c->cdb[4];

	if (!(f & 0x02) || l->kind != SCSI_DVD)
		return;		/* start/stop the motor: nothing to do */
	if (f & 0x01) {		/* load: close the tray, the medium (if any) is back */
		l->tray_open = false;
		return;
	}
	if (l->prevent) {
		check(l, c, KEY_ILLEGAL_REQUEST, ASC_REMOVAL_PREVENTED, 2);
		return;
	}
	/* the guest ejects: the drive is empty from now on, as Hyper-V's */
	if (l->iso_fd >= 0)
		close(l->iso_fd);
	l->iso_fd = -1;
	l->blocks = 0;
	l->tray_open = true;
}

/* --- dispatch ----------------------------------------------------------------------- */

/* how long a CDB is, by its group code; 0: reserved/vendor group */
static uint32_t
cdb_length(uint8_t op)
{
	static const uint8_t len[8] = { 6, 10, 10, 0, 16, 12, 0, 0 };

	return len[op >> 5];
}

/* commands a pending unit attention does not stop */
static bool
ua_exempt(uint8_t op)
{
	return op == 0x12 || op == 0xA0 || op == 0x03 || op == 0x4A;
}

void
scsi_exec(struct scsi_lun *l, struct scsi_cmd *c)
{
	const uint8_t *cdb = c->cdb;
	uint8_t op;

	c->status = SCSI_GOOD;
	c->in_len = 0;
	c->overrun = false;
	if (c->cdb_len < 6) {
		check(l, c, KEY_ILLEGAL_REQUEST, ASC_INVALID_FIELD, 0);
		return;
	}
	op = cdb[0];
	if (cdb_length(op) == 0 || cdb_length(op) > c->cdb_len) {
		check(l, c, KEY_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
		return;
	}
	if (l->ua_asc != 0 && !ua_exempt(op)) {
		check(l, c, KEY_UNIT_ATTENTION, l->ua_asc, l->ua_ascq);
		l->ua_asc = 0;
		return;
	}
	switch (op) {
	case 0x00:				/* TEST UNIT READY */
		no_medium(l, c);
		return;
	case 0x03:				/* REQUEST SENSE */
		request_sense(l, c);
		return;
	case 0x12:				/* INQUIRY */
		inquiry(l, c);
		return;
	case 0xA0:				/* REPORT LUNS */
		report_luns(c);
		return;
	case 0x25:				/* READ CAPACITY(10) */
		read_capacity(l, c, false);
		return;
	case 0x9E:				/* SERVICE ACTION IN(16) */
		if ((cdb[1] & 0x1F) == 0x10)	/* READ CAPACITY(16) */
			read_capacity(l, c, true);
		else
			invalid_field(l, c);
		return;
	case 0x08: case 0x28: case 0xA8: case 0x88:	/* READ */
		read_write(l, c, false);
		return;
	case 0x0A: case 0x2A: case 0xAA: case 0x8A:	/* WRITE */
		read_write(l, c, true);
		return;
	case 0x35: case 0x91:			/* SYNCHRONIZE CACHE */
		sync_cache(l, c);
		return;
	case 0x2F:				/* VERIFY(10): nothing to compare */
		no_medium(l, c);
		return;
	case 0x1A:				/* MODE SENSE(6) */
		mode_sense(l, c, false);
		return;
	case 0x5A:				/* MODE SENSE(10) */
		mode_sense(l, c, true);
		return;
	case 0x15: case 0x55:			/* MODE SELECT: nothing changeable */
		if ((op == 0x15 ? c->cdb[4] : be16(cdb + 7)) != 0) {
			check(l, c, KEY_ILLEGAL_REQUEST, ASC_PARAM_LIST_LEN, 0);
			return;
		}
		return;
	case 0x1B:				/* START STOP UNIT */
		start_stop(l, c);
		return;
	case 0x1E:				/* PREVENT ALLOW MEDIUM REMOVAL */
		if (l->kind == SCSI_DVD)
			l->prevent = cdb[4] & 0x01;
		return;
	}
	if (l->kind == SCSI_DVD) {
		switch (op) {
		case 0x43:			/* READ TOC/PMA/ATIP */
			read_toc(l, c);
			return;
		case 0x46:			/* GET CONFIGURATION */
			get_configuration(l, c);
			return;
		case 0x4A:			/* GET EVENT STATUS NOTIFICATION */
			event_status(l, c);
			return;
		case 0xBB:			/* SET CD SPEED: one speed */
			return;
		}
	}
	check(l, c, KEY_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
}
