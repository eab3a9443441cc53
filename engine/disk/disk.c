/*
 * disk.c - the disk core: format probing, opening an image with its
 * parent chain, and the public I/O calls that check bounds, alignment
 * and read-only before handing a range to the image's driver.
 *
 * Drivers only know their own layer (see disk-int.h); the core turns an
 * UNALLOC range into a read of the parent, and zeros at the bottom.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "engine/disk/disk-int.h"
#include "engine/disk/disk-tools.h"

static const char *const disk_fmt_names[DISK_FMT_COUNT] = {
	[DISK_FMT_RAW] = "raw", [DISK_FMT_VHD] = "vhd",
	[DISK_FMT_VHDX] = "vhdx", [DISK_FMT_QCOW2] = "qcow2",
	[DISK_FMT_VMDK] = "vmdk",
};

#define DISK_PROBE_LEN	65536u

const struct disk_driver *
disk_driver_of(enum disk_format fmt)
{
	switch (fmt) {
	case DISK_FMT_RAW:	return &disk_raw_driver;
	case DISK_FMT_VHD:	return &disk_vhd_driver;
	case DISK_FMT_VHDX:	return &disk_vhdx_driver;
	case DISK_FMT_QCOW2:	return &disk_qcow2_driver;
	case DISK_FMT_VMDK:	return &disk_vmdk_driver;
	default:		return NULL;
	}
}

const char *
disk_format_name(enum disk_format fmt)
{
	if (fmt < 0 || fmt >= DISK_FMT_COUNT)
		return "unknown";
	return disk_fmt_names[fmt];
}

enum disk_format
disk_format_parse(const char *name)
{
	if (name == NULL)
		return DISK_FMT_NONE;
	for (int i = 0; i < DISK_FMT_COUNT; i++)
		if (strcasecmp(name, disk_fmt_names[i]) == 0)
			return (enum disk_format)i;
	if (strcasecmp(name, "vpc") == 0)	/* qemu's name for VHD */
		return DISK_FMT_VHD;
	return DISK_FMT_NONE;
}

bool
disk_is_zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	/* the first 16 bytes, then the buffer against itself shifted */
	for (size_t i = 0; i < len && i < 16; i++)
		if (p[i] != 0)
			return false;
	return len <= 16 || memcmp(p, p + 16, len - 16) == 0;
}

static int
open_fail(struct hv_err *err, const char *path, int e)
{
	if (e == ENOENT)
		return hv_fail(err, HV_ENOENT, "%s: No such file", path);
	return hv_fail(err, HV_EIO, "%s: %s", path, strerror(e));
}

static int
file_size_of(int fd, const char *path, uint64_t *size, struct hv_err *err)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return open_fail(err, path, errno);
	if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, size) < 0)
			return open_fail(err, path, errno);
		return 0;
	}
	if (!S_ISREG(st.st_mode))
		return hv_fail(err, HV_EINVAL,
			       "%s: not a regular file or block device", path);
	*size = (uint64_t)st.st_size;
	return 0;
}

/*
 * Pick the driver that claims the file most strongly; raw (score 1) is
 * the fallback. A fixed VHD is a raw disk with a footer at its end, so
 * when nothing claims the head, the VHD driver also sees the last
 * sector.
 */
static const struct disk_driver *
probe_fd(int fd, const char *path, struct hv_err *err)
{
	const struct disk_driver *best = NULL, *vhd;
	uint64_t fsize;
	uint8_t *buf;
	ssize_t n;
	int best_score = 0;

	if (file_size_of(fd, path, &fsize, err) < 0)
		return NULL;
	buf = malloc(DISK_PROBE_LEN);
	if (buf == NULL) {
		hv_fail(err, HV_EIO, "%s: out of memory", path);
		return NULL;
	}
	n = dio_pread(fd, buf, DISK_PROBE_LEN, 0);
	if (n < 0) {
		hv_fail(err, HV_EIO, "%s: %s", path, strerror((int)-n));
		goto out;
	}
	for (int i = 0; i < DISK_FMT_COUNT; i++) {
		const struct disk_driver *drv = disk_driver_of(i);
		int score;

		if (drv == NULL || drv->probe == NULL)
			continue;
		score = drv->probe(buf, (size_t)n, fsize);
		if (score > best_score) {
			best = drv;
			best_score = score;
		}
	}
	vhd = disk_driver_of(DISK_FMT_VHD);
	if (best_score <= 1 && vhd != NULL && vhd->probe != NULL &&
	    fsize >= 512 &&
	    dio_pread(fd, buf, 512, (off_t)(fsize - 512)) == 512 &&
	    vhd->probe(buf, 512, fsize) > 1)
		best = vhd;
	if (best == NULL)
		hv_fail(err, HV_ENOTSUP, "%s: unknown image format", path);
out:
	free(buf);
	return best;
}

enum disk_format
disk_probe(const char *path, struct hv_err *err)
{
	const struct disk_driver *drv;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		open_fail(err, path, errno);
		return DISK_FMT_NONE;
	}
	drv = probe_fd(fd, path, err);
	close(fd);
	return drv ? drv->fmt : DISK_FMT_NONE;
}

static void
disk_free(struct disk *d)
{
	if (d == NULL)
		return;
	free(d->path);
	free(d->parent_name);
	if (d->fd >= 0)
		close(d->fd);
	free(d);
}

/* open one layer; fmt NONE: probe it */
static int
open_layer(struct disk **out, const char *path, unsigned flags,
	   enum disk_format fmt, struct hv_err *err)
{
	const struct disk_driver *drv;
	struct disk *d;
	int fd, oflags = (flags & DISK_RDONLY) ? O_RDONLY : O_RDWR;

	fd = open(path, oflags | O_CLOEXEC);
	if (fd < 0)
		return open_fail(err, path, errno);
	if (fmt != DISK_FMT_NONE) {
		drv = disk_driver_of(fmt);
		if (drv == NULL) {
			close(fd);
			return hv_fail(err, HV_ENOTSUP,
				       "%s: format %s is not supported", path,
				       disk_format_name(fmt));
		}
	} else {
		drv = probe_fd(fd, path, err);
		if (drv == NULL) {
			close(fd);
			return -1;
		}
	}
	d = calloc(1, sizeof *d);
	if (d == NULL || (d->path = strdup(path)) == NULL) {
		free(d);
		close(fd);
		return hv_fail(err, HV_EIO, "%s: out of memory", path);
	}
	d->drv = drv;
	d->fd = fd;
	d->flags = flags;
	d->parent_fmt = DISK_FMT_NONE;
	if (drv->open(d, err) < 0) {
		disk_free(d);
		return -1;
	}
	*out = d;
	return 0;
}

/* a parent named relative to its child lives in the child's directory */
static char *
parent_path(const char *child, const char *name)
{
	const char *slash = strrchr(child, '/');
	char *p;

	if (name[0] == '/' || slash == NULL)
		return strdup(name);
	if (asprintf(&p, "%.*s/%s", (int)(slash - child), child, name) < 0)
		return NULL;
	return p;
}

struct chain_seen {
	dev_t dev[DISK_MAX_CHAIN + 1];
	ino_t ino[DISK_MAX_CHAIN + 1];
	int n;
};

/* remember d's file; -1 when it is already in the chain */
static int
chain_note(struct chain_seen *s, struct disk *d, struct hv_err *err)
{
	struct stat st;

	if (fstat(d->fd, &st) < 0)
		return open_fail(err, d->path, errno);
	for (int i = 0; i < s->n; i++)
		if (s->dev[i] == st.st_dev && s->ino[i] == st.st_ino)
			return hv_fail(err, HV_ECORRUPT,
				       "%s: parent chain loops back to an image already in it",
				       d->path);
	s->dev[s->n] = st.st_dev;
	s->ino[s->n] = st.st_ino;
	s->n++;
	return 0;
}

static int
check_parent_size(struct disk *d, struct hv_err *err)
{
	/* qcow2 may sit on a smaller backing file: past its end is zero */
	if (d->drv->fmt == DISK_FMT_QCOW2 || d->parent->size >= d->size)
		return 0;
	return hv_fail(err, HV_ECORRUPT,
		       "%s: parent %s is smaller (%llu bytes) than the image (%llu bytes)",
		       d->path, d->parent->path,
		       (unsigned long long)d->parent->size,
		       (unsigned long long)d->size);
}

static int
open_chain(struct disk *d, unsigned flags, struct chain_seen *seen,
	   struct hv_err *err)
{
	unsigned pflags = DISK_RDONLY;

	if ((flags & DISK_PARENT_RW) && seen->n == 1)
		pflags = 0;
	while (d->parent_name != NULL && d->parent_name[0] != '\0') {
		char *path;
		int rc;

		if (seen->n > DISK_MAX_CHAIN)
			return hv_fail(err, HV_ECORRUPT,
				       "%s: parent chain longer than %d images",
				       disk_path(d), DISK_MAX_CHAIN);
		path = parent_path(d->path, d->parent_name);
		if (path == NULL)
			return hv_fail(err, HV_EIO, "out of memory");
		if (access(path, F_OK) < 0 && errno == ENOENT) {
			hv_fail(err, HV_ENOENT, "parent %s of %s: No such file",
				path, d->path);
			free(path);
			return -1;
		}
		rc = open_layer(&d->parent, path, pflags, d->parent_fmt, err);
		free(path);
		if (rc < 0)
			return -1;
		if (chain_note(seen, d->parent, err) < 0 ||
		    check_parent_size(d, err) < 0)
			return -1;
		d = d->parent;
		pflags = DISK_RDONLY;
	}
	return 0;
}

int
disk_open(struct disk **out, const char *path, unsigned flags,
	  struct hv_err *err)
{
	struct chain_seen *seen;
	struct disk *d;

	if (open_layer(&d, path, flags, DISK_FMT_NONE, err) < 0)
		return -1;
	if (flags & DISK_NOBACKING)
		goto done;
	seen = calloc(1, sizeof *seen);
	if (seen == NULL) {
		disk_close(d);
		return hv_fail(err, HV_EIO, "%s: out of memory", path);
	}
	if (chain_note(seen, d, err) < 0 || open_chain(d, flags, seen, err) < 0) {
		free(seen);
		disk_close(d);
		return -1;
	}
	free(seen);
done:
	*out = d;
	return 0;
}

void
disk_close(struct disk *d)
{
	while (d != NULL) {
		struct disk *parent = d->parent;

		if (d->drv->close != NULL)
			d->drv->close(d);
		disk_free(d);
		d = parent;
	}
}

uint64_t disk_size(const struct disk *d) { return d->size; }
enum disk_format disk_format_of(const struct disk *d) { return d->drv->fmt; }
struct disk *disk_parent(const struct disk *d) { return d->parent; }
const char *disk_path(const struct disk *d) { return d->path; }

int
disk_create(const char *path, const struct disk_create_opts *o,
	    struct hv_err *err)
{
	const struct disk_driver *drv = disk_driver_of(o->fmt);
	struct disk_create_opts opts = *o;
	struct stat st;

	if (drv == NULL || drv->create == NULL)
		return hv_fail(err, HV_ENOTSUP, "%s: creating %s images is not supported",
			       path, disk_format_name(o->fmt));
	if (lstat(path, &st) == 0)
		return hv_fail(err, HV_EEXIST, "%s: file exists; not overwriting it",
			       path);
	if (o->parent != NULL) {
		struct disk *p;
		char *pp = parent_path(path, o->parent);

		if (pp == NULL)
			return hv_fail(err, HV_EIO, "out of memory");
		if (disk_open(&p, pp, DISK_RDONLY, err) < 0) {
			free(pp);
			return -1;
		}
		free(pp);
		if (opts.size == 0)
			opts.size = p->size;
		disk_close(p);
	}
	if (opts.size == 0 || opts.size % DISK_SECTOR != 0)
		return hv_fail(err, HV_EINVAL,
			       "%s: size must be a positive multiple of %u bytes",
			       path, DISK_SECTOR);
	if (drv->create(path, &opts, err) < 0) {
		/* the file was not there before: do not leave half of it */
		unlink(path);
		return -1;
	}
	return 0;
}

/* --- I/O ----------------------------------------------------------------- */

static int
check_range(struct disk *d, uint64_t off, uint64_t len, bool write,
	    struct hv_err *err)
{
	if (off % DISK_SECTOR != 0 || len % DISK_SECTOR != 0)
		return hv_fail(err, HV_EINVAL,
			       "%s: I/O at %llu+%llu is not %u-byte aligned",
			       d->path, (unsigned long long)off,
			       (unsigned long long)len, DISK_SECTOR);
	if (off > d->size || len > d->size - off)
		return hv_fail(err, HV_EINVAL,
			       "%s: I/O at %llu+%llu is past the end (%llu bytes)",
			       d->path, (unsigned long long)off,
			       (unsigned long long)len,
			       (unsigned long long)d->size);
	if (write && (d->flags & DISK_RDONLY))
		return hv_fail(err, HV_EINVAL, "%s: opened read-only", d->path);
	return 0;
}

/* the driver's status of one layer, with its answer checked */
static int
layer_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum,
	     struct hv_err *err)
{
	int st = d->drv->block_status(d, off, len, pnum, err);

	if (st < 0)
		return -1;
	if (*pnum > len)
		*pnum = len;
	if (*pnum == 0 || *pnum % DISK_SECTOR != 0 ||
	    (st != DISK_ST_DATA && st != DISK_ST_ZERO && st != DISK_ST_UNALLOC))
		return hv_fail(err, HV_EINTERNAL,
			       "%s: %s driver gave a bad block status at %llu",
			       d->path, d->drv->name, (unsigned long long)off);
	return st;
}

int
disk_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum,
		  struct hv_err *err)
{
	if (len == 0)
		return hv_fail(err, HV_EINVAL, "%s: empty range", d->path);
	if (check_range(d, off, len, false, err) < 0)
		return -1;
	return layer_status(d, off, len, pnum, err);
}

int
disk_chain_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum,
		  struct hv_err *err)
{
	int st;

	for (;;) {
		if (off >= d->size) {
			/* past a smaller backing file */
			*pnum = len;
			return DISK_ST_ZERO;
		}
		if (len > d->size - off)
			len = d->size - off;
		st = layer_status(d, off, len, pnum, err);
		if (st != DISK_ST_UNALLOC)
			return st;
		if (d->parent == NULL)
			return DISK_ST_ZERO;
		len = *pnum;
		d = d->parent;
	}
}

/* read [off, off+len) of d and its parents; bounds already checked */
static int
read_chain(struct disk *d, uint64_t off, char *buf, uint64_t len,
	   struct hv_err *err)
{
	while (len > 0) {
		uint64_t n, pnum;
		int st;

		if (d == NULL || off >= d->size) {
			memset(buf, 0, len);
			return 0;
		}
		n = len < d->size - off ? len : d->size - off;
		st = layer_status(d, off, n, &pnum, err);
		if (st < 0)
			return -1;
		if (st == DISK_ST_DATA) {
			if (d->drv->read_layer(d, off, buf, pnum, err) < 0)
				return -1;
		} else if (st == DISK_ST_ZERO || d->parent == NULL) {
			memset(buf, 0, pnum);
		} else if (read_chain(d->parent, off, buf, pnum, err) < 0) {
			return -1;
		}
		off += pnum;
		buf += pnum;
		len -= pnum;
	}
	return 0;
}

int
disk_read(struct disk *d, uint64_t off, void *buf, size_t len,
	  struct hv_err *err)
{
	if (check_range(d, off, len, false, err) < 0)
		return -1;
	return read_chain(d, off, buf, len, err);
}

int
disk_write(struct disk *d, uint64_t off, const void *buf, size_t len,
	   struct hv_err *err)
{
	if (check_range(d, off, len, true, err) < 0)
		return -1;
	if (len == 0)
		return 0;
	return d->drv->write(d, off, buf, len, err);
}

/* no write_zeroes in the driver: write zero buffers where not zero yet */
static int
write_zero_buffers(struct disk *d, uint64_t off, uint64_t len,
		   struct hv_err *err)
{
	const size_t chunk = 1024 * 1024;
	char *zero = NULL;
	int rc = 0;

	while (len > 0 && rc == 0) {
		uint64_t pnum;
		int st = disk_chain_status(d, off, len, &pnum, err);

		if (st < 0)
			return -1;
		if (st == DISK_ST_DATA) {
			size_t n = pnum < chunk ? (size_t)pnum : chunk;

			if (zero == NULL && (zero = calloc(1, chunk)) == NULL)
				return hv_fail(err, HV_EIO, "out of memory");
			rc = d->drv->write(d, off, zero, n, err);
			pnum = n;
		}
		off += pnum;
		len -= pnum;
	}
	free(zero);
	return rc;
}

int
disk_write_zeroes(struct disk *d, uint64_t off, uint64_t len,
		  struct hv_err *err)
{
	if (check_range(d, off, len, true, err) < 0)
		return -1;
	if (len == 0)
		return 0;
	if (d->drv->write_zeroes != NULL)
		return d->drv->write_zeroes(d, off, len, err);
	return write_zero_buffers(d, off, len, err);
}

int
disk_discard(struct disk *d, uint64_t off, uint64_t len, struct hv_err *err)
{
	if (check_range(d, off, len, true, err) < 0)
		return -1;
	if (len == 0 || d->drv->discard == NULL)
		return 0;
	return d->drv->discard(d, off, len, err);
}

int
disk_flush(struct disk *d, struct hv_err *err)
{
	if (d->flags & DISK_RDONLY)
		return 0;
	if (d->drv->flush == NULL)
		return 0;
	return d->drv->flush(d, err);
}

int
disk_get_info(struct disk *d, struct disk_info *info, struct hv_err *err)
{
	struct stat st;

	memset(info, 0, sizeof *info);
	info->fmt = d->drv->fmt;
	info->size = d->size;
	if (fstat(d->fd, &st) < 0)
		return open_fail(err, d->path, errno);
	info->file_size = (uint64_t)st.st_size;
	info->allocated = (uint64_t)st.st_blocks * 512;
	if (S_ISBLK(st.st_mode))
		file_size_of(d->fd, d->path, &info->file_size, NULL);
	if (d->parent_name != NULL)
		snprintf(info->parent, sizeof info->parent, "%s",
			 d->parent_name);
	if (d->drv->info == NULL)
		return 0;
	return d->drv->info(d, info, err);
}

int
disk_check(struct disk *d, bool repair, struct disk_check_result *r,
	   struct hv_err *err)
{
	memset(r, 0, sizeof *r);
	if (d->drv->check == NULL)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: no check for this format (%s)", d->path,
			       d->drv->name);
	if (repair && (d->flags & DISK_RDONLY))
		return hv_fail(err, HV_EINVAL,
			       "%s: opened read-only, cannot repair", d->path);
	return d->drv->check(d, repair, r, err);
}
