/*
 * vhdx-ops.c - VHDX image tools: create (fixed, dynamic, differencing),
 * check (and repair), resize (grow), discard and compact.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/crc32c.h"
#include "engine/disk/vhdx.h"

#define LOG_OFF		(1 * MiB)
#define LOG_LEN		(1 * MiB)
#define META_OFF	(2 * MiB)
#define META_LEN	(1 * MiB)
#define BAT_OFF		(3 * MiB)

/* ---- create ---- */

static int
put_all(int fd, const void *buf, size_t len, uint64_t off, const char *path,
	struct hv_err *err)
{
	ssize_t r = dio_pwrite(fd, buf, len, (off_t)off);

	if (r < 0)
		return hv_fail(err, HV_EIO, "%s: write: %s", path,
			       strerror((int)-r));
	return 0;
}

/* p relative to the folder child_dir (both canonical): ".\\x", "..\\d\\x" */
static char *
rel_path(const char *child_dir, const char *p)
{
	size_t common = 0, i, ups = 0;
	const char *rest;
	char *out;

	for (i = 0; child_dir[i] && child_dir[i] == p[i]; i++)
		if (child_dir[i] == '/')
			common = i + 1;
	if (child_dir[i] == '\0' && p[i] == '/')
		common = i + 1;
	/* the folders of child_dir below the common part (none when p lies
	   in child_dir itself: common is then past child_dir's end) */
	rest = child_dir + (common > i ? i : common);
	if (*rest)
		for (ups = 1; *rest; rest++)
			ups += *rest == '/';
	out = malloc(3 * ups + strlen(p) + 3);
	if (out == NULL)
		return NULL;
	strcpy(out, ups ? "" : ".\\");
	while (ups--)
		strcat(out, "..\\");
	strcat(out, p + common);
	for (char *c = out; *c; c++)
		if (*c == '/')
			*c = '\\';
	return out;
}

struct pinfo {
	char linkage[40];
	char *rel, *abs;
	uint64_t size;
};

static int
parent_info(const char *child, const char *parent, struct pinfo *pi,
	    struct hv_err *err)
{
	struct disk pd = { .drv = &disk_vhdx_driver, .fd = -1,
			   .flags = DISK_RDONLY | DISK_NOBACKING };
	char *cdir = strdup(child), *slash, *rdir = NULL, *joined = NULL;
	int rc = -1;

	if (cdir == NULL)
		return hv_fail(err, HV_EIO, "out of memory");
	slash = strrchr(cdir, '/');
	if (slash)
		*slash = '\0';
	rdir = realpath(slash ? (*cdir ? cdir : "/") : ".", NULL);
	if (parent[0] != '/' && slash &&
	    asprintf(&joined, "%s/%s", cdir, parent) < 0)
		joined = NULL;
	pi->abs = realpath(joined ? joined : parent, NULL);
	if (rdir == NULL || pi->abs == NULL) {
		hv_fail(err, HV_ENOENT, "parent %s of %s: %s", parent, child,
			strerror(errno));
		goto out;
	}
	pd.path = pi->abs;
	pd.fd = open(pi->abs, O_RDONLY | O_CLOEXEC);
	if (pd.fd < 0) {
		hv_fail(err, HV_ENOENT, "%s: %s", pi->abs, strerror(errno));
		goto out;
	}
	if (vhdx_open(&pd, err) < 0) {
		if (err && err->code != HV_EIO)
			hv_fail(err, HV_ENOTSUP,
				"%s: the parent of a VHDX must be a valid VHDX image",
				pi->abs);
		goto out;
	}
	vhdx_guid_fmt(pi->linkage, ((struct vhdx *)pd.priv)->hdr.data_write_guid);
	pi->size = ((struct vhdx *)pd.priv)->vsize;
	vhdx_close(&pd);
	free(pd.parent_name);
	pi->rel = rel_path(rdir, pi->abs);
	rc = pi->rel ? 0 : hv_fail(err, HV_EIO, "out of memory");
out:
	if (pd.fd >= 0)
		close(pd.fd);
	free(cdir);
	free(rdir);
	free(joined);
	return rc;
}

static void
make_regions(uint8_t *b, uint64_t bat_len)
{
	memset(b, 0, VHDX_RT_SIZE);
	memcpy(b, "regi", 4);
	put_le32(b + 8, 2);
	memcpy(b + 16, vhdx_guid_bat, 16);
	put_le64(b + 32, BAT_OFF);
	put_le32(b + 40, (uint32_t)bat_len);
	put_le32(b + 44, 1);
	memcpy(b + 48, vhdx_guid_meta, 16);
	put_le64(b + 64, META_OFF);
	put_le32(b + 72, (uint32_t)META_LEN);
	put_le32(b + 76, 1);
	put_le32(b + 4, crc32c(0, b, VHDX_RT_SIZE));
}

static int
write_layout(int fd, const char *path, const struct disk_create_opts *o,
	     uint32_t bs, const struct pinfo *pi, struct hv_err *err)
{
	uint64_t nbat = vhdx_bat_count(o->size, bs, 512, o->parent != NULL);
	uint64_t bat_len = (nbat * 8 + MiB - 1) / MiB * MiB;
	uint64_t data = BAT_OFF + (bat_len ? bat_len : MiB);
	uint64_t nb = (o->size + bs - 1) / bs, cr = (1ull << 23) * 512 / bs;
	uint8_t *b = calloc(1, bat_len > META_LEN ? bat_len : META_LEN);
	struct vhdx_header h = { .version = 1, .log_length = LOG_LEN,
				 .log_offset = LOG_OFF };
	int rc = -1;

	if (b == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", path);
	if (bat_len == 0)
		bat_len = MiB;
	memcpy(b, "vhdxfile", 8);
	for (int i = 0; i < 2; i++)	/* creator "hv", UTF-16LE */
		put_le16(b + 8 + 2 * i, (uint16_t)"hv"[i]);
	if (put_all(fd, b, 64 * KiB, 0, path, err) < 0)
		goto out;
	vhdx_guid_new(h.file_write_guid);
	vhdx_guid_new(h.data_write_guid);
	for (int i = 0; i < 2; i++) {
		h.seq = (uint64_t)i + 1;
		vhdx_header_encode(b, &h);
		if (put_all(fd, b, VHDX_HDR_SIZE, i ? VHDX_HDR2_OFF :
			    VHDX_HDR1_OFF, path, err) < 0)
			goto out;
	}
	make_regions(b, bat_len);
	if (put_all(fd, b, VHDX_RT_SIZE, VHDX_RT1_OFF, path, err) < 0 ||
	    put_all(fd, b, VHDX_RT_SIZE, VHDX_RT2_OFF, path, err) < 0)
		goto out;
	memset(b, 0, META_LEN);
	vhdx_make_metadata(b, META_LEN, bs, o->fixed, o->size, 512,
			   pi ? pi->linkage : NULL, pi ? pi->rel : NULL,
			   pi ? pi->abs : NULL);
	if (put_all(fd, b, META_LEN, META_OFF, path, err) < 0)
		goto out;
	if (o->fixed) {
		memset(b, 0, bat_len);
		for (uint64_t i = 0; i < nb; i++)
			put_le64(b + 8 * (i + i / cr), VHDX_BAT_MAKE(
				 VHDX_PB_FULLY_PRESENT, data + i * bs));
		if (put_all(fd, b, bat_len, BAT_OFF, path, err) < 0)
			goto out;
		data += nb * bs;
	}
	if (dio_ftruncate(fd, (off_t)data) < 0 || dio_fsync(fd) < 0) {
		hv_fail(err, HV_EIO, "%s: cannot size or flush the file", path);
		goto out;
	}
	rc = 0;
out:
	free(b);
	return rc;
}

int
vhdx_create(const char *path, const struct disk_create_opts *o,
	    struct hv_err *err)
{
	uint32_t bs = o->block_size ? o->block_size :
		      o->parent ? 2 * MiB : 32 * MiB;
	struct pinfo pi = { .size = 0 };
	int fd, rc = -1;

	if (bs < VHDX_MIN_BLOCK || bs > VHDX_MAX_BLOCK || (bs & (bs - 1)))
		return hv_fail(err, HV_EINVAL,
			       "%s: VHDX block size must be a power of two from 1 MiB to 256 MiB",
			       path);
	if (o->size == 0 || o->size % 512 || o->size > VHDX_MAX_SIZE)
		return hv_fail(err, HV_EINVAL,
			       "%s: VHDX size must be a multiple of 512 bytes up to 64 TiB",
			       path);
	if (o->parent && o->fixed)
		return hv_fail(err, HV_EINVAL,
			       "%s: a differencing VHDX cannot be fixed", path);
	if (o->parent && parent_info(path, o->parent, &pi, err) < 0)
		goto out;
	if (o->parent && pi.size != o->size) {
		hv_fail(err, HV_EINVAL,
			"%s: a differencing VHDX must have its parent's size (%llu bytes)",
			path, (unsigned long long)pi.size);
		goto out;
	}
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		hv_fail(err, errno == EEXIST ? HV_EEXIST : HV_EIO, "%s: %s",
			path, strerror(errno));
		goto out;
	}
	rc = write_layout(fd, path, o, bs, o->parent ? &pi : NULL, err);
	close(fd);
out:
	free(pi.rel);
	free(pi.abs);
	return rc;
}

/* ---- check ---- */

struct extent {
	uint64_t off, len, idx;
};

static int
ext_cmp(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	return x->off < y->off ? -1 : x->off > y->off;
}

static bool
entry_present(const struct vhdx *s, uint64_t i, uint64_t *len)
{
	unsigned st = VHDX_BAT_STATE(s->bat[i]);

	if (i % (s->chunk_ratio + 1) == s->chunk_ratio) {
		*len = VHDX_SB_SIZE;
		return s->has_parent && st == VHDX_SB_PRESENT;
	}
	*len = s->block_size;
	return st == VHDX_PB_FULLY_PRESENT || st == VHDX_PB_PARTIALLY_PRESENT;
}

/* the blocks in the file, sorted by offset */
static struct extent *
extents(const struct vhdx *s, size_t *n)
{
	struct extent *v = malloc((s->bat_entries + 1) * sizeof *v);
	uint64_t len;

	*n = 0;
	if (v == NULL)
		return NULL;
	for (uint64_t i = 0; i < s->bat_entries; i++)
		if (entry_present(s, i, &len))
			v[(*n)++] = (struct extent){ VHDX_BAT_OFF(s->bat[i]),
						     len, i };
	qsort(v, *n, sizeof *v, ext_cmp);
	return v;
}

static void
problem(struct disk_check_result *r, const char *path, const char *what)
{
	if (r->errors++ == 0)
		snprintf(r->first, sizeof r->first, "%s: %s", path, what);
}

/* the header copy that is not current must be valid too */
static int
check_headers(struct disk *d, struct vhdx *s, bool repair,
	      struct disk_check_result *r, struct hv_err *err)
{
	uint8_t b[VHDX_HDR_SIZE], z[VHDX_HDR_SIZE];
	uint64_t off = s->cur_hdr ? VHDX_HDR1_OFF : VHDX_HDR2_OFF;

	if (vhdx_pread(d, s, b, sizeof b, off, err) < 0)
		return -1;
	memcpy(z, b, sizeof z);
	memset(z + 4, 0, 4);
	if (memcmp(b, "head", 4) == 0 &&
	    crc32c(0, z, sizeof z) == get_le32(b + 4))
		return 0;
	problem(r, d->path, "a VHDX header copy has a bad checksum");
	if (!repair || (d->flags & DISK_RDONLY))
		return 0;
	if (vhdx_write_header(d, s, err) < 0)
		return -1;
	r->repaired++;
	return 0;
}

/* both region table copies must be valid and equal */
static int
check_regions(struct disk *d, struct vhdx *s, bool repair,
	      struct disk_check_result *r, struct hv_err *err)
{
	uint8_t *a = malloc(2 * VHDX_RT_SIZE), *b;
	int rc = -1;

	if (a == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	b = a + VHDX_RT_SIZE;
	if (vhdx_pread(d, s, a, VHDX_RT_SIZE, VHDX_RT1_OFF, err) < 0 ||
	    vhdx_pread(d, s, b, VHDX_RT_SIZE, VHDX_RT2_OFF, err) < 0)
		goto out;
	rc = 0;
	if (memcmp(a, b, VHDX_RT_SIZE) == 0)
		goto out;
	problem(r, d->path, "the two VHDX region tables differ (one is damaged)");
	if (!repair || (d->flags & DISK_RDONLY))
		goto out;
	/* open used table 1 when valid, else table 2: copy that one */
	if (vhdx_region_valid(a))
		rc = vhdx_pwrite(d, a, VHDX_RT_SIZE, VHDX_RT2_OFF, err);
	else
		rc = vhdx_pwrite(d, b, VHDX_RT_SIZE, VHDX_RT1_OFF, err);
	if (rc == 0)
		rc = vhdx_fsync(d, err);
	if (rc == 0)
		r->repaired++;
out:
	free(a);
	return rc;
}

static uint64_t
meta_end(const struct vhdx *s)
{
	uint64_t e = s->hdr.log_offset + s->hdr.log_length;

	if (s->bat_off + s->bat_len > e)
		e = s->bat_off + s->bat_len;
	if (s->meta_off + s->meta_len > e)
		e = s->meta_off + s->meta_len;
	return e;
}

int
vhdx_check(struct disk *d, bool repair, struct disk_check_result *r,
	   struct hv_err *err)
{
	struct vhdx *s = d->priv;
	uint64_t end = meta_end(s);
	struct extent *v;
	size_t n;
	char msg[160];

	if (s->replayed)
		r->repaired++;	/* the log was replayed on open */
	if (check_headers(d, s, repair, r, err) < 0 ||
	    check_regions(d, s, repair, r, err) < 0)
		return -1;
	v = extents(s, &n);
	if (v == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	for (size_t i = 0; i < n; i++) {
		if (i && v[i].off < v[i - 1].off + v[i - 1].len) {
			snprintf(msg, sizeof msg,
				 "VHDX BAT entries %llu and %llu overlap",
				 (unsigned long long)v[i - 1].idx,
				 (unsigned long long)v[i].idx);
			problem(r, d->path, msg);
		}
		if (v[i].off + v[i].len > end)
			end = v[i].off + v[i].len;
	}
	free(v);
	end = (end + MiB - 1) / MiB * MiB;
	if (s->file_size > end) {
		r->leaks += (s->file_size - end) / MiB;
		if (repair && !(d->flags & DISK_RDONLY)) {
			if (vhdx_fsync(d, err) < 0 ||
			    dio_ftruncate(d->fd, (off_t)end) < 0)
				return hv_fail(err, HV_EIO,
					       "%s: cannot truncate", d->path);
			s->file_size = end;
			r->repaired++;
		}
	}
	return 0;
}

/* ---- resize ---- */

int
vhdx_resize(struct disk *d, uint64_t size, struct hv_err *err)
{
	struct vhdx *s = d->priv;
	uint64_t nbat = vhdx_bat_count(size, s->block_size, s->lsec,
				       s->has_parent);
	uint64_t old = s->bat_entries, oldnb = s->nblocks, falloc = 0;
	uint64_t *bat, *idx = NULL, *val = NULL;
	struct vhdx_logsec meta;
	size_t n = 0;
	int rc = -1;

	if (size == s->vsize)
		return 0;
	if (size < s->vsize)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: shrinking a VHDX is not supported", d->path);
	if (size % s->lsec || size > VHDX_MAX_SIZE)
		return hv_fail(err, HV_EINVAL,
			       "%s: VHDX size must be a multiple of %u bytes up to 64 TiB",
			       d->path, s->lsec);
	if (nbat * 8 > s->bat_len)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: growing to %llu bytes needs a bigger BAT region (moving it is not supported)",
			       d->path, (unsigned long long)size);
	bat = realloc(s->bat, nbat * 8);
	if (bat == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	s->bat = bat;
	idx = calloc(nbat - old, 8);
	val = calloc(nbat - old, 8);
	if (idx == NULL || val == NULL) {
		hv_fail(err, HV_EIO, "%s: out of memory", d->path);
		goto out;
	}
	if (vhdx_begin_write(d, s, err) < 0)
		goto out;
	if (s->leave_alloc && vhdx_alloc(d, s, ((size + s->block_size - 1) /
			s->block_size - oldnb) * s->block_size, &falloc, err) < 0)
		goto out;
	for (uint64_t i = old; i < nbat; i++) {
		bool pb = i % (s->chunk_ratio + 1) != s->chunk_ratio;
		uint64_t blk = i - i / (s->chunk_ratio + 1);

		bat[i] = 0;
		idx[n] = i;
		val[n++] = s->leave_alloc && pb ? VHDX_BAT_MAKE(
			VHDX_PB_FULLY_PRESENT,
			falloc + (blk - oldnb) * s->block_size) : 0;
	}
	meta.off = s->vsize_item_off / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR;
	if (vhdx_pread(d, s, meta.data, VHDX_LOG_SECTOR, meta.off, err) < 0)
		goto out;
	put_le64(meta.data + (s->vsize_item_off - meta.off), size);
	if (s->leave_alloc && vhdx_fsync(d, err) < 0)
		goto out;
	s->bat_entries = nbat;
	if (vhdx_set_bat(d, s, idx, val, n, &meta, 1, err) < 0) {
		s->bat_entries = old;
		goto out;
	}
	s->vsize = size;
	vhdx_geometry(s);
	d->size = size;
	rc = 0;
out:
	free(idx);
	free(val);
	return rc;
}

/* ---- discard and compact ---- */

/*
 * Whole blocks in [off, off+len) leave the image: ZERO in a plain disk,
 * NOT_PRESENT (the parent shows through) in a child. Fixed disks keep
 * their blocks. The space is reclaimed by compact.
 */
int
vhdx_discard(struct disk *d, uint64_t off, uint64_t len, struct hv_err *err)
{
	struct vhdx *s = d->priv;
	uint64_t first = (off + s->block_size - 1) / s->block_size;
	uint64_t last = (off + len) / s->block_size, *idx, *val;
	size_t n = 0;
	int rc;

	if (off + len >= s->vsize)
		last = s->nblocks;
	if (s->leave_alloc || first >= last)
		return 0;
	idx = calloc(last - first, 8);
	val = calloc(last - first, 8);
	if (idx == NULL || val == NULL) {
		free(idx);
		free(val);
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	}
	for (uint64_t b = first; b < last; b++) {
		uint64_t i = b + b / s->chunk_ratio;
		uint64_t nv = s->has_parent ? VHDX_PB_NOT_PRESENT : VHDX_PB_ZERO;

		if (s->bat[i] != nv) {
			idx[n] = i;
			val[n++] = nv;
		}
	}
	rc = n ? vhdx_set_bat(d, s, idx, val, n, NULL, 0, err) : 0;
	free(idx);
	free(val);
	return rc;
}

static int
block_is_zero(struct disk *d, struct vhdx *s, uint64_t off, uint8_t *buf,
	      bool *zero, struct hv_err *err)
{
	*zero = false;
	for (uint64_t p = 0; p < s->block_size; p += MiB) {
		if (vhdx_pread(d, s, buf, MiB, off + p, err) < 0)
			return -1;
		for (size_t i = 0; i < MiB; i += 8)
			if (get_le64(buf + i))
				return 0;
	}
	*zero = true;
	return 0;
}

/* move one block down to dst: copy, flush, then the BAT via the log */
static int
move_block(struct disk *d, struct vhdx *s, const struct extent *e,
	   uint64_t dst, uint8_t *buf, struct hv_err *err)
{
	uint64_t nv = VHDX_BAT_MAKE(VHDX_BAT_STATE(s->bat[e->idx]), dst);

	for (uint64_t p = 0; p < e->len; p += MiB)
		if (vhdx_pread(d, s, buf, MiB, e->off + p, err) < 0 ||
		    vhdx_pwrite(d, buf, MiB, dst + p, err) < 0)
			return -1;
	if (vhdx_fsync(d, err) < 0)
		return -1;
	return vhdx_set_bat(d, s, &e->idx, &nv, 1, NULL, 0, err);
}

int
vhdx_compact(struct disk *d, disk_progress_fn progress, void *ctx,
	     struct hv_err *err)
{
	struct vhdx *s = d->priv;
	uint8_t *buf = malloc(MiB);
	uint64_t cur = (meta_end(s) + MiB - 1) / MiB * MiB;
	struct extent *v = NULL;
	size_t n;
	int rc = -1;

	if (buf == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	if (s->leave_alloc) {
		free(buf);
		return 0;	/* fixed: nothing to give back */
	}
	if (vhdx_begin_write(d, s, err) < 0)
		goto out;
	/* all-zero blocks of a plain disk become ZERO blocks */
	for (uint64_t b = 0; !s->has_parent && b < s->nblocks; b++) {
		uint64_t i = b + b / s->chunk_ratio, zv = VHDX_PB_ZERO;
		bool zero;

		if (VHDX_BAT_STATE(s->bat[i]) != VHDX_PB_FULLY_PRESENT)
			continue;
		if (block_is_zero(d, s, VHDX_BAT_OFF(s->bat[i]), buf, &zero,
				  err) < 0 ||
		    (zero && vhdx_set_bat(d, s, &i, &zv, 1, NULL, 0, err) < 0))
			goto out;
		if (progress)
			progress(ctx, b + 1, 2 * s->nblocks);
	}
	v = extents(s, &n);
	if (v == NULL) {
		hv_fail(err, HV_EIO, "%s: out of memory", d->path);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		/* only into free space that does not overlap the source */
		if (v[i].off >= cur + v[i].len &&
		    move_block(d, s, &v[i], cur, buf, err) < 0)
			goto out;
		if (v[i].off >= cur + v[i].len)
			v[i].off = cur;
		cur = v[i].off + v[i].len > cur ? v[i].off + v[i].len : cur;
		if (progress)
			progress(ctx, s->nblocks + (i + 1) * s->nblocks / n,
				 2 * s->nblocks);
	}
	if (vhdx_fsync(d, err) < 0 || dio_ftruncate(d->fd, (off_t)cur) < 0) {
		hv_fail(err, HV_EIO, "%s: cannot shrink the file", d->path);
		goto out;
	}
	s->file_size = cur;
	rc = 0;
out:
	free(v);
	free(buf);
	return rc;
}
