/*
 * raw.c - the raw driver: the file is the disk, byte for byte.
 *
 * "Dynamic" raw is a sparse file and "fixed" is fully allocated with
 * fallocate. Holes are found with SEEK_DATA/SEEK_HOLE so convert and
 * compact skip them; discard punches holes. A file whose size is not a
 * multiple of 512 reads as if padded with zeros to the next sector.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/fs.h>

#include "engine/disk/disk-int.h"

static int
raw_probe(const uint8_t *buf, size_t len, uint64_t file_size)
{
	/* anything is a raw disk, but anything else wins */
	return 1;
}

static int
raw_errno(struct hv_err *err, struct disk *d, const char *what, int e)
{
	return hv_fail(err, HV_EIO, "%s: %s: %s",
		       d->path, what, strerror(e));
}

static int
raw_open(struct disk *d, struct hv_err *err)
{
	struct stat st;
	uint64_t size;

	if (fstat(d->fd, &st) < 0)
		return raw_errno(err, d, "stat", errno);
	size = (uint64_t)st.st_size;
	if (S_ISBLK(st.st_mode) && ioctl(d->fd, BLKGETSIZE64, &size) < 0)
		return raw_errno(err, d, "size of block device", errno);
	d->size = (size + DISK_SECTOR - 1) / DISK_SECTOR * DISK_SECTOR;
	return 0;
}

static void
raw_close(struct disk *d)
{
}

static int
raw_create(const char *path, const struct disk_create_opts *o,
	   struct hv_err *err)
{
	int fd, rc;

	if (o->parent != NULL)
		return hv_fail(err, HV_EINVAL,
			       "%s: a raw image cannot have a parent", path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return hv_fail(err, errno == EEXIST ? HV_EEXIST : HV_EIO,
			       "%s: %s", path, strerror(errno));
	rc = dio_ftruncate(fd, (off_t)o->size);
	if (rc == 0 && o->fixed) {
		rc = -posix_fallocate(fd, 0, (off_t)o->size);
		if (rc == -EOPNOTSUPP)
			rc = 0;	/* the file system cannot preallocate */
	}
	if (rc == 0)
		rc = dio_fsync(fd);
	close(fd);
	if (rc < 0)
		return hv_fail(err, HV_EIO, "%s: %s", path, strerror(-rc));
	return 0;
}

static int
raw_read(struct disk *d, uint64_t off, void *buf, size_t len,
	 struct hv_err *err)
{
	ssize_t n = dio_pread(d->fd, buf, len, (off_t)off);

	/* short only past the end of an unaligned file: zeros, as padded */
	if (n < 0)
		return raw_errno(err, d, "read", (int)-n);
	if ((size_t)n < len)
		memset((char *)buf + n, 0, len - (size_t)n);
	return 0;
}

/* a raw file is its own map */
static int
raw_map(struct disk *d, uint64_t off, uint64_t len, uint64_t *host,
	uint64_t *pnum)
{
	*host = off;
	*pnum = len;
	return 0;
}

static int
raw_write(struct disk *d, uint64_t off, const void *buf, size_t len,
	  struct hv_err *err)
{
	ssize_t n = dio_pwrite(d->fd, buf, len, (off_t)off);

	if (n < 0)
		return raw_errno(err, d, "write", (int)-n);
	return 0;
}

static bool
raw_fallocate_unsupported(int e)
{
	return e == EOPNOTSUPP || e == ENOSYS || e == EINVAL || e == ENODEV;
}

static int
raw_discard(struct disk *d, uint64_t off, uint64_t len, struct hv_err *err)
{
	if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	/* discard is a hint: a file system without holes ignores it */
	if (raw_fallocate_unsupported(errno))
		return 0;
	return raw_errno(err, d, "discard", errno);
}

static int
raw_write_zeroes(struct disk *d, uint64_t off, uint64_t len,
		 struct hv_err *err)
{
	static const char zero[65536];

	/* zero in place, keeping the blocks (a fixed file stays fixed) */
	if (fallocate(d->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
		      (off_t)off, (off_t)len) == 0)
		return 0;
	if (!raw_fallocate_unsupported(errno))
		return raw_errno(err, d, "write zeroes", errno);
	while (len > 0) {
		size_t n = len < sizeof zero ? (size_t)len : sizeof zero;

		if (raw_write(d, off, zero, n, err) < 0)
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

static int
raw_flush(struct disk *d, struct hv_err *err)
{
	int rc = dio_fsync(d->fd);

	if (rc < 0)
		return raw_errno(err, d, "flush", -rc);
	return 0;
}

static uint64_t
raw_round_up(uint64_t v)
{
	return (v + DISK_SECTOR - 1) / DISK_SECTOR * DISK_SECTOR;
}

static int
raw_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum,
		 struct hv_err *err)
{
	off_t data, hole;

	*pnum = len;
	data = lseek(d->fd, (off_t)off, SEEK_DATA);
	if (data < 0 && errno == ENXIO)
		return DISK_ST_ZERO;	/* a hole up to the end of the file */
	if (data < 0)
		return DISK_ST_DATA;	/* no hole support: all data */
	if ((uint64_t)data > off) {
		/* a hole is zeros; only whole sectors of it count */
		uint64_t n = ((uint64_t)data - off) / DISK_SECTOR * DISK_SECTOR;

		if (n > 0) {
			*pnum = n < len ? n : len;
			return DISK_ST_ZERO;
		}
	}
	hole = lseek(d->fd, (off_t)off, SEEK_HOLE);
	if (hole < 0 || (uint64_t)hole <= off)
		return DISK_ST_DATA;
	*pnum = raw_round_up((uint64_t)hole - off);
	if (*pnum > len)
		*pnum = len;
	return DISK_ST_DATA;
}

static int
raw_info(struct disk *d, struct disk_info *info, struct hv_err *err)
{
	snprintf(info->subformat, sizeof info->subformat, "%s",
		 info->allocated >= info->file_size ? "full" : "sparse");
	return 0;
}

static int
raw_resize(struct disk *d, uint64_t size, struct hv_err *err)
{
	int rc = dio_ftruncate(d->fd, (off_t)size);

	if (rc < 0)
		return raw_errno(err, d, "resize", -rc);
	d->size = size;
	return 0;
}

const struct disk_driver disk_raw_driver = {
	.fmt = DISK_FMT_RAW,
	.name = "raw",
	.probe = raw_probe,
	.open = raw_open,
	.close = raw_close,
	.create = raw_create,
	.read_layer = raw_read,
	.write = raw_write,
	.write_zeroes = raw_write_zeroes,
	.discard = raw_discard,
	.flush = raw_flush,
	.block_status = raw_block_status,
	.map = raw_map,
	.info = raw_info,
	.resize = raw_resize,
};
