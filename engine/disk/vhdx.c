/*
 * vhdx.c - the VHDX driver ([MS-VHDX]): open (with log replay), reads,
 * block status with sector bitmaps, writes that allocate payload blocks
 * at the end of the file and update the BAT through the log.
 *
 * A read-only open of an image with a dirty log replays the log in
 * memory (struct vhdx_patch) instead of refusing like qemu-img.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/disk/vhdx.h"

/* ---- file I/O ---- */

static void
apply_patches(const struct vhdx *s, uint8_t *buf, size_t len, uint64_t off)
{
	for (size_t i = 0; i < s->npatches; i++) {
		const struct vhdx_patch *p = &s->patches[i];
		uint64_t a = p->off > off ? p->off : off;
		uint64_t b = p->off + p->len < off + len ? p->off + p->len :
			     off + len;

		if (a >= b)
			continue;
		if (p->data)
			memcpy(buf + (a - off), p->data + (a - p->off), b - a);
		else
			memset(buf + (a - off), 0, b - a);
	}
}

int
vhdx_pread(struct disk *d, struct vhdx *s, void *buf, size_t len,
	   uint64_t off, struct hv_err *err)
{
	size_t want = 0;
	ssize_t r = 0;

	if (off < s->file_size)
		want = s->file_size - off < len ? s->file_size - off : len;
	if (want) {
		r = dio_pread(d->fd, buf, want, (off_t)off);
		if (r < 0)
			return hv_fail(err, HV_EIO, "%s: read at %llu: %s",
				       d->path, (unsigned long long)off,
				       strerror((int)-r));
	}
	if ((size_t)r < len)	/* past the end of the file reads zeros */
		memset((uint8_t *)buf + r, 0, len - (size_t)r);
	if (s->npatches)
		apply_patches(s, buf, len, off);
	return 0;
}

int
vhdx_pwrite(struct disk *d, void *buf, size_t len, uint64_t off,
	    struct hv_err *err)
{
	struct vhdx *s = d->priv;
	ssize_t r = dio_pwrite(d->fd, buf, len, (off_t)off);

	if (r < 0)
		return hv_fail(err, HV_EIO, "%s: write at %llu: %s", d->path,
			       (unsigned long long)off, strerror((int)-r));
	if (off + len > s->file_size)
		s->file_size = off + len;
	return 0;
}

int
vhdx_fsync(struct disk *d, struct hv_err *err)
{
	struct vhdx *s = d->priv;
	int r = dio_fsync(d->fd);

	if (r < 0)
		return hv_fail(err, HV_EIO, "%s: fsync: %s", d->path,
			       strerror(-r));
	s->apply_unsynced = false;
	return 0;
}

/* New space at the end of the file, 1 MiB aligned; it reads as zeros. */
int
vhdx_alloc(struct disk *d, struct vhdx *s, uint64_t len, uint64_t *off,
	   struct hv_err *err)
{
	uint64_t at = (s->file_size + MiB - 1) / MiB * MiB;
	int r;

	if (at + len > 2 * VHDX_MAX_SIZE)
		return hv_fail(err, HV_EINVAL, "%s: VHDX file would grow too large",
			       d->path);
	r = dio_ftruncate(d->fd, (off_t)(at + len));
	if (r < 0)
		return hv_fail(err, HV_EIO, "%s: cannot grow the file: %s",
			       d->path, strerror(-r));
	s->file_size = at + len;
	*off = at;
	return 0;
}

/*
 * First change of a session: new file and data write GUIDs (so children
 * see their parent changed) and a fresh log GUID, which makes every
 * older log entry invalid.
 */
int
vhdx_begin_write(struct disk *d, struct vhdx *s, struct hv_err *err)
{
	if (s->writing)
		return 0;
	if (d->flags & DISK_RDONLY)
		return hv_fail(err, HV_EINVAL, "%s: opened read-only", d->path);
	vhdx_guid_new(s->hdr.file_write_guid);
	vhdx_guid_new(s->hdr.data_write_guid);
	vhdx_guid_new(s->hdr.log_guid);
	s->log_seq = 0;
	if (vhdx_write_header(d, s, err) < 0)
		return -1;
	s->writing = true;
	return 0;
}

/* ---- BAT ---- */

static uint64_t
bat_index(const struct vhdx *s, uint64_t blk)
{
	return blk + blk / s->chunk_ratio;
}

static uint64_t
sb_index(const struct vhdx *s, uint64_t blk)
{
	return (blk / s->chunk_ratio) * (s->chunk_ratio + 1) + s->chunk_ratio;
}

static struct vhdx_logsec *
find_sec(struct vhdx_logsec *v, size_t n, uint64_t off)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].off == off)
			return &v[i];
	return NULL;
}

/*
 * Set BAT entries idx[i] = val[i] (plus the extra sectors, e.g. bitmaps)
 * in one log transaction, then in memory.
 */
int
vhdx_set_bat(struct disk *d, struct vhdx *s, const uint64_t *idx,
	     const uint64_t *val, size_t n, struct vhdx_logsec *extra,
	     size_t nextra, struct hv_err *err)
{
	struct vhdx_logsec *v = calloc(n + nextra, sizeof *v);
	size_t nv = 0;
	int rc = -1;

	if (v == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	for (size_t i = 0; i < n; i++) {
		uint64_t off = s->bat_off + idx[i] * 8;
		uint64_t sec = off / VHDX_LOG_SECTOR * VHDX_LOG_SECTOR;
		struct vhdx_logsec *ls = find_sec(v, nv, sec);

		if (ls == NULL) {
			ls = &v[nv++];
			ls->off = sec;
			if (vhdx_pread(d, s, ls->data, VHDX_LOG_SECTOR, sec,
				       err) < 0)
				goto out;
		}
		put_le64(ls->data + (off - sec), val[i]);
	}
	if (nextra)
		memcpy(v + nv, extra, nextra * sizeof *v);
	if (vhdx_log_write(d, s, v, nv + nextra, err) < 0)
		goto out;
	for (size_t i = 0; i < n; i++)
		if (idx[i] < s->bat_entries)
			s->bat[idx[i]] = val[i];
	rc = 0;
out:
	free(v);
	return rc;
}

static int
read_bat(struct disk *d, struct vhdx *s, struct hv_err *err)
{
	uint8_t *raw;

	s->bat = calloc(s->bat_entries ? s->bat_entries : 1, 8);
	raw = malloc(s->bat_entries * 8 + 1);
	if (s->bat == NULL || raw == NULL) {
		free(raw);
		return hv_fail(err, HV_EIO, "%s: out of memory for the BAT",
			       d->path);
	}
	if (vhdx_pread(d, s, raw, s->bat_entries * 8, s->bat_off, err) < 0) {
		free(raw);
		return -1;
	}
	for (uint64_t i = 0; i < s->bat_entries; i++)
		s->bat[i] = get_le64(raw + 8 * i);
	free(raw);
	return 0;
}

static bool
overlaps_meta(const struct vhdx *s, uint64_t off, uint64_t len)
{
	return off < MiB ||
	       (off < s->bat_off + s->bat_len && s->bat_off < off + len) ||
	       (off < s->meta_off + s->meta_len && s->meta_off < off + len) ||
	       (off < s->hdr.log_offset + s->hdr.log_length &&
		s->hdr.log_offset < off + len);
}

static int
check_entry(struct disk *d, struct vhdx *s, uint64_t i, bool is_sb,
	    struct hv_err *err)
{
	unsigned st = VHDX_BAT_STATE(s->bat[i]);
	uint64_t off = VHDX_BAT_OFF(s->bat[i]);
	uint64_t len = is_sb ? VHDX_SB_SIZE : s->block_size;
	bool present;

	if (is_sb && !s->has_parent)
		return 0;
	if (is_sb ? st != VHDX_SB_NOT_PRESENT && st != VHDX_SB_PRESENT :
	    st == 4 || st == 5 || (st == VHDX_PB_PARTIALLY_PRESENT &&
				   !s->has_parent))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX BAT entry %llu has invalid state %u",
			       d->path, (unsigned long long)i, st);
	present = is_sb ? st == VHDX_SB_PRESENT :
		  st == VHDX_PB_FULLY_PRESENT || st == VHDX_PB_PARTIALLY_PRESENT;
	if (!present)
		return 0;
	if (off >= s->file_size)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX BAT entry %llu points past the end of the file (offset %llu)",
			       d->path, (unsigned long long)i,
			       (unsigned long long)off);
	if (overlaps_meta(s, off, len))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: VHDX BAT entry %llu overlaps the headers, log, BAT or metadata",
			       d->path, (unsigned long long)i);
	return 0;
}

static int
check_bat(struct disk *d, struct vhdx *s, struct hv_err *err)
{
	for (uint64_t i = 0; i < s->bat_entries; i++)
		if (check_entry(d, s, i, i % (s->chunk_ratio + 1) ==
				s->chunk_ratio, err) < 0)
			return -1;
	return 0;
}

/* ---- open/close ---- */

static char *
win_to_posix(const char *dir, const char *p, bool relative)
{
	char *out = malloc(strlen(dir) + strlen(p) + 2), *o;

	if (out == NULL)
		return NULL;
	if (relative) {
		if (strncmp(p, ".\\", 2) == 0 || strncmp(p, "./", 2) == 0)
			p += 2;
		sprintf(out, "%s%s%s", dir, *dir ? "/" : "", p);
	} else {
		strcpy(out, p);
	}
	for (o = out; *o; o++)
		if (*o == '\\')
			*o = '/';
	return out;
}

/*
 * The parent: relative_path (from the child's folder), then the absolute
 * path. One that exists is given to the core as an absolute path; when
 * neither exists the stored relative path is given, so the core reports
 * it missing.
 */
static int
resolve_parent(struct disk *d, struct vhdx *s, struct hv_err *err)
{
	char *dir = strdup(d->path), *slash, *cand[2] = { NULL, NULL };

	if (dir == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	if (s->parent_rel)
		cand[0] = win_to_posix(dir, s->parent_rel, true);
	if (s->parent_abs)
		cand[1] = win_to_posix(dir, s->parent_abs, false);
	free(dir);
	for (int i = 0; i < 2 && d->parent_name == NULL; i++)
		if (cand[i])
			d->parent_name = realpath(cand[i], NULL);
	free(cand[0]);
	free(cand[1]);
	if (d->parent_name == NULL && s->parent_rel)
		d->parent_name = win_to_posix("", s->parent_rel, true);
	else if (d->parent_name == NULL && s->parent_abs)
		d->parent_name = win_to_posix("", s->parent_abs, false);
	if (d->parent_name == NULL)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: VHDX parent is given only by volume path",
			       d->path);
	d->parent_fmt = DISK_FMT_VHDX;
	return 0;
}

int
vhdx_open(struct disk *d, struct hv_err *err)
{
	struct vhdx *s = calloc(1, sizeof *s);
	struct stat st;

	if (s == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	d->priv = s;
	if (fstat(d->fd, &st) < 0) {
		hv_fail(err, HV_EIO, "%s: %s", d->path, strerror(errno));
		goto fail;
	}
	s->file_size = (uint64_t)st.st_size;
	if (vhdx_read_headers(d, s, err) < 0)
		goto fail;
	if (!vhdx_guid_zero(s->hdr.log_guid) && vhdx_log_replay(d, s, err) < 0)
		goto fail;
	if (vhdx_read_regions(d, s, err) < 0 ||
	    vhdx_read_metadata(d, s, err) < 0 || read_bat(d, s, err) < 0 ||
	    check_bat(d, s, err) < 0)
		goto fail;
	if (s->has_parent && resolve_parent(d, s, err) < 0)
		goto fail;
	d->size = s->vsize;
	return 0;
fail:
	vhdx_close(d);
	return -1;
}

void
vhdx_close(struct disk *d)
{
	struct vhdx *s = d->priv;

	if (s == NULL)
		return;
	/* clean close: everything applied, so the log is empty again */
	if (s->writing && vhdx_fsync(d, NULL) == 0) {
		memset(s->hdr.log_guid, 0, 16);
		vhdx_write_header(d, s, NULL);
	}
	for (size_t i = 0; i < s->npatches; i++)
		free(s->patches[i].data);
	free(s->patches);
	free(s->bat);
	free(s->parent_rel);
	free(s->parent_abs);
	free(s->parent_vol);
	free(s);
	d->priv = NULL;
}

/* ---- parent linkage ---- */

static int
check_parent(struct disk *d, struct vhdx *s, struct hv_err *err)
{
	struct vhdx *ps;
	char want[40];
	const char *have = s->parent_linkage;

	if (s->parent_checked || d->parent == NULL)
		return 0;
	if (d->parent->drv != &disk_vhdx_driver)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: parent %s is not a VHDX image", d->path,
			       d->parent->path);
	ps = d->parent->priv;
	vhdx_guid_fmt(want, ps->hdr.data_write_guid);
	if (strcasecmp(have, want) != 0 &&
	    !(strlen(have) == 36 && strncasecmp(have, want + 1, 36) == 0))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: parent %s changed since the child was made (parent_linkage %s, parent data write GUID %s)",
			       d->path, d->parent->path, have, want);
	s->parent_checked = true;
	return 0;
}

/* ---- block status and reads ---- */

/* bit k of a sector bitmap block: k = sector within the chunk */
static uint64_t
bitmap_first(const struct vhdx *s, uint64_t blk)
{
	return (blk % s->chunk_ratio) * (s->block_size / s->lsec);
}

/* Length in bytes from off (inside one PARTIALLY_PRESENT block) whose
 * sectors share off's bitmap bit; *set gets the bit. */
static int
bitmap_run(struct disk *d, struct vhdx *s, uint64_t off, uint64_t len,
	   bool *set, uint64_t *pnum, struct hv_err *err)
{
	uint64_t blk = off / s->block_size, in = off % s->block_size;
	uint64_t sbe = s->bat[sb_index(s, blk)];
	uint64_t k0 = bitmap_first(s, blk) + in / s->lsec;
	uint64_t k1 = bitmap_first(s, blk) + (in + len - 1) / s->lsec;
	uint64_t b0 = k0 / 8, nb = k1 / 8 - b0 + 1, k;
	uint8_t *bm;

	if (VHDX_BAT_STATE(sbe) != VHDX_SB_PRESENT) {
		*set = false;	/* no bitmap: nothing is here */
		*pnum = len;
		return 0;
	}
	bm = malloc(nb);
	if (bm == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	if (vhdx_pread(d, s, bm, nb, VHDX_BAT_OFF(sbe) + b0, err) < 0) {
		free(bm);
		return -1;
	}
#define BIT(k) ((bm[(k) / 8 - b0] >> ((k) % 8)) & 1)
	*set = BIT(k0);
	for (k = k0 + 1; k <= k1 && BIT(k) == *set; k++)
		;
#undef BIT
	free(bm);
	*pnum = (k - bitmap_first(s, blk)) * s->lsec - in;
	if (*pnum > len)
		*pnum = len;
	return 0;
}

/* status of [off, off+len) within one block */
static int
block_status1(struct disk *d, struct vhdx *s, uint64_t off, uint64_t len,
	      uint64_t *pnum, struct hv_err *err)
{
	uint64_t blk = off / s->block_size;
	bool set = false;

	*pnum = len;
	switch (VHDX_BAT_STATE(s->bat[bat_index(s, blk)])) {
	case VHDX_PB_FULLY_PRESENT:
		return DISK_ST_DATA;
	case VHDX_PB_PARTIALLY_PRESENT:
		if (bitmap_run(d, s, off, len, &set, pnum, err) < 0)
			return -1;
		return set ? DISK_ST_DATA : DISK_ST_UNALLOC;
	case VHDX_PB_ZERO:
	case VHDX_PB_UNMAPPED:
		return DISK_ST_ZERO;
	default:
		return DISK_ST_UNALLOC;
	}
}

static uint64_t
to_block_end(const struct vhdx *s, uint64_t off, uint64_t len)
{
	uint64_t left = s->block_size - off % s->block_size;

	return len < left ? len : left;
}

static int
vhdx_block_status(struct disk *d, uint64_t off, uint64_t len, uint64_t *pnum,
		  struct hv_err *err)
{
	struct vhdx *s = d->priv;
	uint64_t n, done;
	int st, st2;

	if (check_parent(d, s, err) < 0)
		return -1;
	st = block_status1(d, s, off, to_block_end(s, off, len), &n, err);
	if (st < 0)
		return -1;
	done = n;
	/* merge following whole blocks of the same kind */
	while (done < len && (off + done) % s->block_size == 0) {
		st2 = block_status1(d, s, off + done,
				    to_block_end(s, off + done, len - done),
				    &n, err);
		if (st2 < 0)
			return -1;
		if (st2 != st)
			break;
		done += n;
	}
	*pnum = done;
	return st;
}

static int
vhdx_read_layer(struct disk *d, uint64_t off, void *buf, size_t len,
		struct hv_err *err)
{
	struct vhdx *s = d->priv;
	uint8_t *p = buf;

	while (len) {
		uint64_t n = to_block_end(s, off, len);
		uint64_t e = s->bat[bat_index(s, off / s->block_size)];
		unsigned st = VHDX_BAT_STATE(e);

		if (st == VHDX_PB_FULLY_PRESENT ||
		    st == VHDX_PB_PARTIALLY_PRESENT) {
			if (vhdx_pread(d, s, p, n, VHDX_BAT_OFF(e) +
				       off % s->block_size, err) < 0)
				return -1;
		} else {
			memset(p, 0, n);
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* where FULLY_PRESENT payload lies in the file (no log patches pending) */
static int
vhdx_map(struct disk *d, uint64_t off, uint64_t len, uint64_t *host,
	 uint64_t *pnum)
{
	struct vhdx *s = d->priv;
	uint64_t done = 0;

	if (s->npatches)
		return -1;
	while (done < len) {
		uint64_t n = to_block_end(s, off + done, len - done);
		uint64_t e = s->bat[bat_index(s, (off + done) / s->block_size)];
		uint64_t h = VHDX_BAT_OFF(e) + (off + done) % s->block_size;

		if (VHDX_BAT_STATE(e) != VHDX_PB_FULLY_PRESENT ||
		    h + n > s->file_size || (done && h != *host + done))
			break;
		if (done == 0)
			*host = h;
		done += n;
	}
	*pnum = done;
	return done ? 0 : -1;
}

/* ---- writes ---- */

/* the log sectors that set bits [in, in+len) of blk in bitmap at sb */
static int
bitmap_secs(struct disk *d, struct vhdx *s, uint64_t blk, uint64_t sb,
	    uint64_t in, uint64_t len, struct vhdx_logsec **out, size_t *n,
	    struct hv_err *err)
{
	uint64_t k0 = bitmap_first(s, blk) + in / s->lsec;
	uint64_t k1 = bitmap_first(s, blk) + (in + len - 1) / s->lsec;
	uint64_t s0 = k0 / 8 / VHDX_LOG_SECTOR, s1 = k1 / 8 / VHDX_LOG_SECTOR;
	struct vhdx_logsec *v = calloc(s1 - s0 + 1, sizeof *v);
	size_t nv = 0;

	if (v == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	for (uint64_t sec = s0; sec <= s1; sec++) {
		struct vhdx_logsec *ls = &v[nv];
		uint64_t base = sec * VHDX_LOG_SECTOR * 8;
		bool changed = false;

		ls->off = sb + sec * VHDX_LOG_SECTOR;
		if (vhdx_pread(d, s, ls->data, VHDX_LOG_SECTOR, ls->off,
			       err) < 0) {
			free(v);
			return -1;
		}
		for (uint64_t k = k0 > base ? k0 : base;
		     k <= k1 && k < base + VHDX_LOG_SECTOR * 8; k++) {
			uint8_t bit = (uint8_t)(1u << (k % 8));

			changed |= !(ls->data[(k - base) / 8] & bit);
			ls->data[(k - base) / 8] |= bit;
		}
		nv += changed;
	}
	*out = v;
	*n = nv;
	return 0;
}

/* a write into a PARTIALLY_PRESENT block: data, then its bitmap bits */
static int
write_partial(struct disk *d, struct vhdx *s, uint64_t blk, uint64_t in,
	      const void *buf, uint64_t n, struct hv_err *err)
{
	uint64_t e = s->bat[bat_index(s, blk)];
	struct vhdx_logsec *v;
	size_t nv;
	int rc;

	if (vhdx_pwrite(d, (void *)buf, n, VHDX_BAT_OFF(e) + in, err) < 0 ||
	    bitmap_secs(d, s, blk, VHDX_BAT_OFF(s->bat[sb_index(s, blk)]), in,
			n, &v, &nv, err) < 0)
		return -1;
	rc = 0;
	if (nv) {
		rc = vhdx_fsync(d, err);
		if (rc == 0)
			rc = vhdx_log_write(d, s, v, nv, err);
	}
	free(v);
	return rc;
}

/*
 * A write into a block not in the file: new block at the end of the
 * file, data, flush, then the BAT (and bitmap) through the log. A
 * differencing child keeps the block PARTIALLY_PRESENT with a bitmap
 * unless the write covers it all or it read as zeros before.
 */
static int
write_new(struct disk *d, struct vhdx *s, uint64_t blk, uint64_t in,
	  const void *buf, uint64_t n, struct hv_err *err)
{
	uint64_t bi = bat_index(s, blk), idx[2] = { bi }, val[2], boff, sboff = 0;
	unsigned st = VHDX_BAT_STATE(s->bat[bi]);
	bool full = n == s->block_size ||
		    (in == 0 && blk * s->block_size + n >= s->vsize);
	bool partial = s->has_parent && !full && st != VHDX_PB_ZERO &&
		       st != VHDX_PB_UNMAPPED;
	struct vhdx_logsec *v = NULL;
	size_t nv = 0, ni = 1;
	int rc = -1;

	if (vhdx_begin_write(d, s, err) < 0)
		return -1;
	if (partial) {
		uint64_t si = sb_index(s, blk);

		sboff = VHDX_BAT_OFF(s->bat[si]);
		if (VHDX_BAT_STATE(s->bat[si]) != VHDX_SB_PRESENT) {
			if (vhdx_alloc(d, s, VHDX_SB_SIZE, &sboff, err) < 0)
				return -1;
			idx[ni] = si;
			val[ni++] = VHDX_BAT_MAKE(VHDX_SB_PRESENT, sboff);
		}
	}
	if (vhdx_alloc(d, s, s->block_size, &boff, err) < 0 ||
	    vhdx_pwrite(d, (void *)buf, n, boff + in, err) < 0 ||
	    vhdx_fsync(d, err) < 0)
		return -1;
	val[0] = VHDX_BAT_MAKE(partial ? VHDX_PB_PARTIALLY_PRESENT :
			       VHDX_PB_FULLY_PRESENT, boff);
	if (partial && bitmap_secs(d, s, blk, sboff, in, n, &v, &nv, err) < 0)
		return -1;
	rc = vhdx_set_bat(d, s, idx, val, ni, v, nv, err);
	free(v);
	return rc;
}

static int
write_block(struct disk *d, struct vhdx *s, uint64_t off, const void *buf,
	    uint64_t n, struct hv_err *err)
{
	uint64_t blk = off / s->block_size, in = off % s->block_size;
	uint64_t e = s->bat[bat_index(s, blk)];

	switch (VHDX_BAT_STATE(e)) {
	case VHDX_PB_FULLY_PRESENT:
		if (vhdx_begin_write(d, s, err) < 0)
			return -1;
		return vhdx_pwrite(d, (void *)buf, n, VHDX_BAT_OFF(e) + in, err);
	case VHDX_PB_PARTIALLY_PRESENT:
		if (vhdx_begin_write(d, s, err) < 0)
			return -1;
		return write_partial(d, s, blk, in, buf, n, err);
	default:
		return write_new(d, s, blk, in, buf, n, err);
	}
}

/* widen a write to whole logical sectors (4 KiB) with what reads there */
static int
write_widened(struct disk *d, struct vhdx *s, uint64_t off, const void *buf,
	      size_t len, struct hv_err *err)
{
	uint64_t a = off / s->lsec * s->lsec;
	uint64_t b = (off + len + s->lsec - 1) / s->lsec * s->lsec;
	uint8_t *tmp = malloc(b - a);
	int rc = -1;

	if (tmp == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	if (disk_read(d, a, tmp, s->lsec, err) < 0 ||
	    disk_read(d, b - s->lsec, tmp + (b - a) - s->lsec, s->lsec,
		      err) < 0)
		goto out;
	memcpy(tmp + (off - a), buf, len);
	for (uint64_t p = a; p < b; ) {
		uint64_t n = to_block_end(s, p, b - p);

		if (write_block(d, s, p, tmp + (p - a), n, err) < 0)
			goto out;
		p += n;
	}
	rc = 0;
out:
	free(tmp);
	return rc;
}

static int
vhdx_write(struct disk *d, uint64_t off, const void *buf, size_t len,
	   struct hv_err *err)
{
	struct vhdx *s = d->priv;
	const uint8_t *p = buf;

	if (check_parent(d, s, err) < 0)
		return -1;
	if (s->has_parent && (off % s->lsec || len % s->lsec))
		return write_widened(d, s, off, buf, len, err);
	while (len) {
		uint64_t n = to_block_end(s, off, len);

		if (write_block(d, s, off, p, n, err) < 0)
			return -1;
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static int
vhdx_flush(struct disk *d, struct hv_err *err)
{
	struct vhdx *s = d->priv;

	if (!s->writing)
		return 0;
	return vhdx_fsync(d, err);
}

static int
vhdx_info(struct disk *d, struct disk_info *info, struct hv_err *err)
{
	struct vhdx *s = d->priv;
	struct stat st;

	if (fstat(d->fd, &st) < 0)
		return hv_fail(err, HV_EIO, "%s: %s", d->path, strerror(errno));
	info->fmt = DISK_FMT_VHDX;
	snprintf(info->subformat, sizeof info->subformat, "%s",
		 s->has_parent ? "differencing" :
		 s->leave_alloc ? "fixed" : "dynamic");
	info->size = s->vsize;
	info->file_size = (uint64_t)st.st_size;
	info->allocated = (uint64_t)st.st_blocks * 512;
	info->block_size = s->block_size;
	snprintf(info->parent, sizeof info->parent, "%s",
		 s->has_parent ? (s->parent_rel ? s->parent_rel :
				  s->parent_abs ? s->parent_abs : "") : "");
	return 0;
}

static int
vhdx_probe(const uint8_t *buf, size_t len, uint64_t file_size)
{
	if (len >= 8 && memcmp(buf, "vhdxfile", 8) == 0)
		return 100;
	return 0;
}

const struct disk_driver disk_vhdx_driver = {
	.fmt = DISK_FMT_VHDX,
	.name = "vhdx",
	.probe = vhdx_probe,
	.open = vhdx_open,
	.close = vhdx_close,
	.create = vhdx_create,
	.read_layer = vhdx_read_layer,
	.write = vhdx_write,
	.discard = vhdx_discard,
	.flush = vhdx_flush,
	.block_status = vhdx_block_status,
	.map = vhdx_map,
	.info = vhdx_info,
	.check = vhdx_check,
	.resize = vhdx_resize,
	.compact = vhdx_compact,
};
