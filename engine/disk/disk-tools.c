/*
 * disk-tools.c - the image tools that change an image in place: resize,
 * compact and merge. (convert lives in disk-convert.c.)
 */
#include <stdlib.h>
#include <string.h>

#include "engine/disk/disk-int.h"
#include "engine/disk/disk-tools.h"

#define TOOL_CHUNK	(4u << 20)
#define TOOL_GRAN_RAW	65536u	/* compact granule when there are no blocks */

int
disk_resize(const char *path, uint64_t size, bool shrink, struct hv_err *err)
{
	struct disk *d;
	int rc = -1;

	if (size == 0 || size % DISK_SECTOR != 0)
		return hv_fail(err, HV_EINVAL,
			       "%s: size must be a positive multiple of %u bytes",
			       path, DISK_SECTOR);
	if (disk_open(&d, path, DISK_NOBACKING, err) < 0)
		return -1;
	if (size == d->size) {
		rc = 0;
		goto out;
	}
	if (size < d->size && !shrink) {
		hv_fail(err, HV_EINVAL,
			"%s: shrinking from %llu to %llu bytes loses data; ask for it with --shrink",
			path, (unsigned long long)d->size,
			(unsigned long long)size);
		goto out;
	}
	if (d->drv->resize == NULL) {
		hv_fail(err, HV_ENOTSUP, "%s: resizing %s images is not supported",
			path, d->drv->name);
		goto out;
	}
	if (d->drv->resize(d, size, err) < 0)
		goto out;
	d->size = size;
	rc = disk_flush(d, err);
out:
	disk_close(d);
	return rc;
}

static uint64_t
tool_granule(struct disk *d)
{
	struct disk_info info;

	if (disk_get_info(d, &info, NULL) == 0 && info.block_size >= DISK_SECTOR &&
	    info.block_size <= 256u << 20)
		return info.block_size;
	return TOOL_GRAN_RAW;
}

/* discard the all-zero granules of [off, off+len), a DATA range */
static int
compact_range(struct disk *d, char *buf, uint64_t gran, uint64_t off,
	      uint64_t len, struct hv_err *err)
{
	while (len > 0) {
		uint64_t n = gran - off % gran;

		if (n > len)
			n = len;
		/* only whole granules: a part of a block frees nothing */
		if (n == gran) {
			if (disk_read(d, off, buf, n, err) < 0)
				return -1;
			if (disk_is_zero(buf, n) &&
			    disk_discard(d, off, n, err) < 0)
				return -1;
		}
		off += n;
		len -= n;
	}
	return 0;
}

/*
 * Without the driver's own compact: read every allocated granule and
 * discard the ones that are all zero. A child is left alone: dropping
 * its zero block would uncover the parent's data.
 */
static int
compact_generic(struct disk *d, disk_progress_fn progress, void *ctx,
		struct hv_err *err)
{
	uint64_t gran = tool_granule(d), off = 0;
	char *buf;
	int rc = 0;

	if (d->parent != NULL)
		return 0;
	buf = malloc(gran);
	if (buf == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	while (off < d->size && rc == 0) {
		uint64_t pnum, len = d->size - off;
		int st;

		if (len > TOOL_CHUNK)
			len = TOOL_CHUNK;
		/* whole granules only, so status ranges line up with them */
		if (len > gran && off % gran == 0)
			len -= len % gran;
		st = disk_block_status(d, off, len, &pnum, err);
		if (st < 0) {
			rc = -1;
			break;
		}
		if (st == DISK_ST_DATA)
			rc = compact_range(d, buf, gran, off, pnum, err);
		off += pnum;
		if (progress != NULL)
			progress(ctx, off, d->size);
	}
	free(buf);
	return rc;
}

int
disk_compact(const char *path, disk_progress_fn progress, void *ctx,
	     struct hv_err *err)
{
	struct disk *d;
	int rc;

	if (disk_open(&d, path, 0, err) < 0)
		return -1;
	if (d->drv->compact != NULL)
		rc = d->drv->compact(d, progress, ctx, err);
	else
		rc = compact_generic(d, progress, ctx, err);
	if (rc == 0)
		rc = disk_flush(d, err);
	disk_close(d);
	return rc;
}

/* copy one range the child holds (DATA or ZERO) into the parent */
static int
merge_range(struct disk *c, char *buf, int st, uint64_t off, uint64_t len,
	    struct hv_err *err)
{
	if (st == DISK_ST_ZERO)
		return disk_write_zeroes(c->parent, off, len, err);
	while (len > 0) {
		uint64_t n = len < TOOL_CHUNK ? len : TOOL_CHUNK;

		if (disk_read(c, off, buf, n, err) < 0 ||
		    disk_write(c->parent, off, buf, n, err) < 0)
			return -1;
		off += n;
		len -= n;
	}
	return 0;
}

static int
merge_grow_parent(struct disk *c, struct hv_err *err)
{
	struct disk *p = c->parent;

	if (p->size >= c->size)
		return 0;
	if (p->drv->resize == NULL)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: parent %s is smaller and cannot grow",
			       c->path, p->path);
	if (p->drv->resize(p, c->size, err) < 0)
		return -1;
	p->size = c->size;
	return 0;
}

int
disk_merge(const char *child, disk_progress_fn progress, void *ctx,
	   struct hv_err *err)
{
	struct disk *c;
	char *buf = NULL;
	uint64_t off = 0;
	int rc = -1;

	/* the child is only read; its parent takes the writes */
	if (disk_open(&c, child, DISK_RDONLY | DISK_PARENT_RW, err) < 0)
		return -1;
	if (c->parent == NULL) {
		hv_fail(err, HV_EINVAL, "%s: has no parent to merge into", child);
		goto out;
	}
	if (merge_grow_parent(c, err) < 0)
		goto out;
	buf = malloc(TOOL_CHUNK);
	if (buf == NULL) {
		hv_fail(err, HV_EIO, "%s: out of memory", child);
		goto out;
	}
	while (off < c->size) {
		uint64_t pnum;
		int st = disk_block_status(c, off, c->size - off, &pnum, err);

		if (st < 0)
			goto out;
		if (st != DISK_ST_UNALLOC &&
		    merge_range(c, buf, st, off, pnum, err) < 0)
			goto out;
		off += pnum;
		if (progress != NULL)
			progress(ctx, off, c->size);
	}
	rc = disk_flush(c->parent, err);
out:
	free(buf);
	disk_close(c);
	return rc;
}
