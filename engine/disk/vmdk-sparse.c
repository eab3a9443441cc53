/*
 * vmdk-sparse.c - hosted sparse extents ("KDMV", versions 1-3): the
 * header, the grain directory and grain tables, plain and deflated
 * grains, and the streamOptimized footer.
 *
 * Grain tables are read on demand into a small cache, so a hostile
 * image can make us hold at most the GD (bounded by the file size and
 * VMDK_MAX_GD) plus VMDK_GT_CACHE tables.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "engine/disk/vmdk-int.h"

static int
rd(struct vmdk_extent *e, void *buf, size_t len, uint64_t off,
   struct hv_err *err)
{
	ssize_t n;

	if (off > e->file_size || len > e->file_size - off)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK data at offset %llu "
			       "lies past the end of the file", e->path,
			       (unsigned long long)off);
	n = dio_pread(e->fd, buf, len, (off_t)off);
	if (n < 0)
		return hv_fail(err, HV_EIO, "%s: read at %llu: %s", e->path,
			       (unsigned long long)off, strerror((int)-n));
	return 0;
}

static int
wr(struct vmdk_extent *e, const void *buf, size_t len, uint64_t off,
   struct hv_err *err)
{
	ssize_t n = dio_pwrite(e->fd, buf, len, (off_t)off);

	if (n < 0)
		return hv_fail(err, HV_EIO, "%s: write at %llu: %s", e->path,
			       (unsigned long long)off, strerror((int)-n));
	return 0;
}

static bool
is_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int
vmdk_sparse_header(struct vmdk_extent *e, const uint8_t *h,
		   struct hv_err *err)
{
	uint64_t cap, grain, per_gd;

	if (get_le32(h) != VMDK_MAGIC)
		return hv_fail(err, HV_ECORRUPT, "%s: not a VMDK sparse extent "
			       "(bad magic)", e->path);
	e->version = get_le32(h + 4);
	if (e->version < 1 || e->version > 3)
		return hv_fail(err, HV_ENOTSUP, "%s: VMDK sparse extent version "
			       "%u is not supported", e->path, e->version);
	e->flags = get_le32(h + 8);
	cap = get_le64(h + 12);
	grain = get_le64(h + 20);
	e->desc_sector = get_le64(h + 28);
	e->desc_sectors = get_le64(h + 36);
	e->num_gtes = get_le32(h + 44);
	e->rgd_sector = get_le64(h + 48);
	e->gd_sector = get_le64(h + 56);
	e->overhead = get_le64(h + 64);
	if (cap > VMDK_MAX_SECTORS)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK capacity %llu "
			       "sectors is too big", e->path,
			       (unsigned long long)cap);
	if (!is_pow2(grain) || grain > VMDK_MAX_GRAIN)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK grain size %llu "
			       "sectors is invalid", e->path,
			       (unsigned long long)grain);
	if (e->num_gtes == 0 || e->num_gtes > VMDK_MAX_GTES)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK grain table size %u "
			       "is invalid", e->path, e->num_gtes);
	if ((e->flags & VMDK_FL_NL_TEST) &&
	    (h[73] != '\n' || h[74] != ' ' || h[75] != '\r' || h[76] != '\n'))
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK header newline test "
			       "failed (file copied in text mode?)", e->path);
	e->compressed = e->flags & VMDK_FL_COMPRESSED;
	e->markers = e->flags & VMDK_FL_MARKERS;
	e->zero_grain = e->flags & VMDK_FL_ZERO_GRAIN;
	if (e->compressed && get_le16(h + 77) != 1)
		return hv_fail(err, HV_ENOTSUP, "%s: VMDK compression algorithm "
			       "%u is not supported", e->path, get_le16(h + 77));
	e->capacity = cap * DISK_SECTOR;
	e->grain = grain * DISK_SECTOR;
	per_gd = grain * e->num_gtes;
	if ((cap + per_gd - 1) / per_gd > VMDK_MAX_GD)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK grain directory is "
			       "too big", e->path);
	e->gd_entries = (uint32_t)((cap + per_gd - 1) / per_gd);
	return 0;
}

/* streamOptimized: the real header is in the footer before end-of-stream */
static int
read_footer(struct vmdk_extent *e, struct hv_err *err)
{
	uint8_t f[3 * 512];

	if (e->file_size < 4 * 512)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK stream is too short "
			       "for its footer", e->path);
	if (rd(e, f, sizeof(f), e->file_size - sizeof(f), err) < 0)
		return -1;
	if (get_le32(f + 8) != 0 || get_le32(f + 12) != VMDK_MARKER_FOOTER ||
	    get_le64(f + 1024) != 0 || get_le32(f + 1032) != 0 ||
	    get_le32(f + 1036) != VMDK_MARKER_EOS)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK stream footer or "
			       "end-of-stream marker missing", e->path);
	if (vmdk_sparse_header(e, f + 512, err) < 0)
		return -1;
	if (e->gd_sector == VMDK_GD_AT_END)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK footer has no grain "
			       "directory", e->path);
	return 0;
}

static int
load_gd(struct vmdk_extent *e, uint64_t sector, uint32_t **out,
	struct hv_err *err)
{
	size_t bytes = (size_t)e->gd_entries * 4;
	uint32_t *gd;
	uint8_t *raw;

	if (sector > e->file_size / DISK_SECTOR ||
	    bytes > e->file_size - sector * DISK_SECTOR)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK grain directory lies "
			       "past the end of the file", e->path);
	gd = malloc(bytes ? bytes : 1);
	if (gd == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", e->path);
	raw = (uint8_t *)gd;
	if (rd(e, raw, bytes, sector * DISK_SECTOR, err) < 0) {
		free(gd);
		return -1;
	}
	for (uint32_t i = 0; i < e->gd_entries; i++)
		gd[i] = get_le32(raw + 4 * (size_t)i);
	*out = gd;
	return 0;
}

int
vmdk_sparse_open(struct vmdk_extent *e, struct hv_err *err)
{
	uint8_t h[VMDK_HDR_SIZE];
	struct stat st;

	if (fstat(e->fd, &st) < 0)
		return hv_fail(err, HV_EIO, "%s: %s", e->path, strerror(errno));
	e->file_size = (uint64_t)st.st_size;
	if (e->file_size < VMDK_HDR_SIZE)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK sparse extent is "
			       "truncated", e->path);
	if (rd(e, h, sizeof(h), 0, err) < 0 ||
	    vmdk_sparse_header(e, h, err) < 0)
		return -1;
	if (e->gd_sector == VMDK_GD_AT_END && read_footer(e, err) < 0)
		return -1;
	if (load_gd(e, e->gd_sector, &e->gd, err) < 0)
		return -1;
	if ((e->flags & VMDK_FL_RGD) && e->rgd_sector &&
	    load_gd(e, e->rgd_sector, &e->rgd, err) < 0)
		return -1;
	e->file_size = (e->file_size + DISK_SECTOR - 1) & ~(uint64_t)511;
	return 0;
}

void
vmdk_extent_free(struct vmdk_extent *e)
{
	for (unsigned i = 0; i < VMDK_GT_CACHE; i++)
		free(e->cache[i].gte);
	free(e->gd);
	free(e->gd64);
	free(e->rgd);
	free(e->zgrain);
	free(e->path);
	memset(e, 0, sizeof(*e));
	e->fd = -1;
}

static int
load_gt(struct vmdk_extent *e, uint64_t sector, uint32_t **out,
	struct hv_err *err)
{
	size_t bytes = (size_t)e->num_gtes * 4;
	struct vmdk_gt *slot;
	uint8_t *raw;

	for (unsigned i = 0; i < VMDK_GT_CACHE; i++) {
		if (e->cache[i].sector == sector && e->cache[i].gte) {
			*out = e->cache[i].gte;
			return 0;
		}
	}
	if (sector > e->file_size / DISK_SECTOR ||
	    bytes > e->file_size - sector * DISK_SECTOR)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK grain table at sector "
			       "%llu lies past the end of the file", e->path,
			       (unsigned long long)sector);
	slot = &e->cache[e->cache_next];
	e->cache_next = (e->cache_next + 1) % VMDK_GT_CACHE;
	if (slot->gte == NULL) {
		slot->gte = malloc(bytes);
		if (slot->gte == NULL)
			return hv_fail(err, HV_EIO, "%s: out of memory", e->path);
	}
	slot->sector = 0;
	raw = (uint8_t *)slot->gte;
	if (rd(e, raw, bytes, sector * DISK_SECTOR, err) < 0)
		return -1;
	for (uint32_t i = 0; i < e->num_gtes; i++)
		slot->gte[i] = get_le32(raw + 4 * (size_t)i);
	slot->sector = sector;
	*out = slot->gte;
	return 0;
}

int
vmdk_sparse_gte(struct vmdk_extent *e, uint64_t off, uint32_t *gte,
		struct hv_err *err)
{
	uint64_t g = off / e->grain, gdi = g / e->num_gtes;
	uint32_t *gt;

	*gte = 0;
	if (off >= e->capacity || gdi >= e->gd_entries || e->gd[gdi] == 0)
		return 0;
	if (load_gt(e, e->gd[gdi], &gt, err) < 0)
		return -1;
	*gte = gt[g % e->num_gtes];
	return 0;
}

static int
inflate_grain(struct vmdk_extent *e, const uint8_t *src, size_t len,
	      uint64_t gstart, struct hv_err *err)
{
	uint64_t need = e->capacity - gstart;
	z_stream z;
	int rc;

	memset(&z, 0, sizeof(z));
	if (inflateInit(&z) != Z_OK)
		return hv_fail(err, HV_EIO, "%s: zlib init failed", e->path);
	z.next_in = (Bytef *)src;
	z.avail_in = (uInt)len;
	z.next_out = e->zgrain;
	z.avail_out = (uInt)e->grain;
	rc = inflate(&z, Z_FINISH);
	inflateEnd(&z);
	if (need > e->grain)
		need = e->grain;
	if (rc != Z_STREAM_END || z.total_out < need)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK compressed grain at "
			       "%llu is damaged", e->path,
			       (unsigned long long)gstart);
	memset(e->zgrain + z.total_out, 0, e->grain - z.total_out);
	return 0;
}

static int
read_compressed(struct vmdk_extent *e, uint32_t gte, uint64_t gstart,
		struct hv_err *err)
{
	uint64_t pos = (uint64_t)gte * DISK_SECTOR, len;
	uint8_t m[12], *buf;
	int rc;

	if (e->zgrain && e->zgrain_gte == gte)
		return 0;
	if (e->zgrain == NULL && (e->zgrain = malloc(e->grain)) == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", e->path);
	e->zgrain_gte = 0;
	if (pos >= e->file_size)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK grain table entry "
			       "points past the end of the file", e->path);
	len = e->file_size - pos;
	if (e->markers) {
		if (rd(e, m, sizeof(m), pos, err) < 0)
			return -1;
		len = get_le32(m + 8);
		pos += sizeof(m);
		if (len == 0)
			return hv_fail(err, HV_ECORRUPT, "%s: VMDK grain table "
				       "entry points at a marker", e->path);
	}
	if (len > 2 * e->grain + 4096) {
		if (e->markers)
			return hv_fail(err, HV_ECORRUPT, "%s: VMDK compressed "
				       "grain size %llu is too big", e->path,
				       (unsigned long long)len);
		len = 2 * e->grain + 4096;
	}
	buf = malloc(len ? len : 1);
	if (buf == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", e->path);
	rc = rd(e, buf, len, pos, err);
	if (rc == 0)
		rc = inflate_grain(e, buf, len, gstart, err);
	free(buf);
	if (rc == 0)
		e->zgrain_gte = gte;
	return rc;
}

static bool
gte_is_data(const struct vmdk_extent *e, uint32_t gte)
{
	return gte != 0 && !(e->zero_grain && gte == VMDK_GTE_ZERO);
}

int
vmdk_sparse_read(struct vmdk_extent *e, uint64_t off, void *buf, size_t len,
		 struct hv_err *err)
{
	uint8_t *p = buf;

	while (len > 0) {
		uint64_t in = off % e->grain, gstart = off - in;
		size_t n = (size_t)(e->grain - in < len ? e->grain - in : len);
		uint32_t gte;

		if (vmdk_sparse_gte(e, off, &gte, err) < 0)
			return -1;
		if (!gte_is_data(e, gte)) {
			memset(p, 0, n);
		} else if (e->compressed) {
			if (read_compressed(e, gte, gstart, err) < 0)
				return -1;
			memcpy(p, e->zgrain + in, n);
		} else if (rd(e, p, n, (uint64_t)gte * DISK_SECTOR + in,
			      err) < 0) {
			return -1;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

/* Point GD entry gdi (in the GD and the redundant GD) at new zero GTs. */
static int
alloc_gt(struct vmdk_extent *e, uint64_t gdi, struct hv_err *err)
{
	size_t bytes = ((size_t)e->num_gtes * 4 + 511) & ~(size_t)511;
	uint32_t *dirs[2] = { e->rgd, e->gd };
	uint64_t dsec[2] = { e->rgd_sector, e->gd_sector };
	uint8_t *zero = calloc(1, bytes), le[4];
	uint64_t at[2] = { 0, 0 };
	int rc = -1;

	if (zero == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", e->path);
	/* tables first, then the directory entries that point to them */
	for (int i = 0; i < 2; i++) {
		if (dirs[i] == NULL)
			continue;
		at[i] = e->file_size;
		if (wr(e, zero, bytes, at[i], err) < 0)
			goto out;
		e->file_size += bytes;
	}
	for (int i = 0; i < 2; i++) {
		if (dirs[i] == NULL)
			continue;
		put_le32(le, (uint32_t)(at[i] / DISK_SECTOR));
		if (wr(e, le, 4, dsec[i] * DISK_SECTOR + gdi * 4, err) < 0)
			goto out;
		dirs[i][gdi] = (uint32_t)(at[i] / DISK_SECTOR);
	}
	rc = 0;
out:
	free(zero);
	return rc;
}

/* Set the GTE of grain g in both grain tables (redundant first). */
static int
set_gte(struct vmdk_extent *e, uint64_t g, uint32_t val, struct hv_err *err)
{
	uint64_t gdi = g / e->num_gtes, gti = g % e->num_gtes;
	uint32_t *dirs[2] = { e->rgd, e->gd };
	uint8_t le[4];

	if (e->gd[gdi] == 0 && alloc_gt(e, gdi, err) < 0)
		return -1;
	put_le32(le, val);
	for (int i = 0; i < 2; i++) {
		uint64_t sec;

		if (dirs[i] == NULL)
			continue;
		sec = dirs[i][gdi];
		if (sec == 0 || sec > e->file_size / DISK_SECTOR ||
		    e->num_gtes * 4ull > e->file_size - sec * DISK_SECTOR)
			return hv_fail(err, HV_ECORRUPT, "%s: VMDK grain table at "
				       "sector %llu lies past the end of the "
				       "file", e->path, (unsigned long long)sec);
		if (wr(e, le, 4, sec * DISK_SECTOR + gti * 4, err) < 0)
			return -1;
		for (unsigned k = 0; k < VMDK_GT_CACHE; k++)
			if (e->cache[k].gte && e->cache[k].sector == sec)
				e->cache[k].gte[gti] = val;
	}
	return 0;
}

/* Fill a new grain: what the parent (or nothing) shows there now. */
static int
grain_base(struct disk *d, struct vmdk_extent *e, uint32_t gte,
	   uint64_t gstart, uint8_t *g, struct hv_err *err)
{
	uint64_t voff = e->start + gstart, psize, n;

	memset(g, 0, e->grain);
	if (gte != 0 || d->parent == NULL)
		return 0;
	psize = disk_size(d->parent);
	if (voff >= psize)
		return 0;
	n = psize - voff < e->grain ? psize - voff : e->grain;
	if (e->len - gstart < n)
		n = e->len - gstart;
	return disk_read(d->parent, voff, g, (size_t)n, err);
}

int
vmdk_sparse_write(struct disk *d, struct vmdk_extent *e, uint64_t off,
		  const void *buf, size_t len, struct hv_err *err)
{
	uint64_t in = off % e->grain, gstart = off - in, at;
	uint32_t gte;
	uint8_t *g;
	int rc = -1;

	if (off >= e->capacity || len > e->grain - in)
		return hv_fail(err, HV_ECORRUPT, "%s: VMDK write past the "
			       "extent's capacity", e->path);
	if (vmdk_sparse_gte(e, off, &gte, err) < 0)
		return -1;
	if (gte_is_data(e, gte)) {
		at = (uint64_t)gte * DISK_SECTOR;
		if (at > e->file_size || e->grain > e->file_size - at)
			return hv_fail(err, HV_ECORRUPT, "%s: VMDK grain table "
				       "entry points past the end of the file",
				       e->path);
		return wr(e, buf, len, at + in, err);
	}
	if (e->file_size / DISK_SECTOR + e->grain / DISK_SECTOR > UINT32_MAX)
		return hv_fail(err, HV_ENOTSUP, "%s: VMDK file is full "
			       "(grain offsets are 32-bit)", e->path);
	g = malloc(e->grain);
	if (g == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", e->path);
	if (len < e->grain && grain_base(d, e, gte, gstart, g, err) < 0)
		goto out;
	memcpy(g + in, buf, len);
	/* the grain's data first, then the table entries that point at it */
	at = e->file_size;
	if (wr(e, g, e->grain, at, err) < 0)
		goto out;
	e->file_size += e->grain;
	rc = set_gte(e, off / e->grain, (uint32_t)(at / DISK_SECTOR), err);
out:
	free(g);
	return rc;
}

static void
check_err(struct disk_check_result *r, struct vmdk_extent *e,
	  const char *what, uint64_t gdi)
{
	if (r->errors++ == 0)
		snprintf(r->first, sizeof(r->first), "%s: %s (grain table %llu)",
			 e->path, what, (unsigned long long)gdi);
}

static void
check_gt(struct vmdk_extent *e, const uint32_t *gt, uint64_t gdi,
	 struct disk_check_result *r)
{
	for (uint32_t i = 0; i < e->num_gtes; i++) {
		uint64_t at = (uint64_t)gt[i] * DISK_SECTOR;
		uint64_t need = e->compressed ? 1 : e->grain;

		if (gte_is_data(e, gt[i]) &&
		    (at > e->file_size || need > e->file_size - at))
			check_err(r, e, "grain table entry past end of file",
				  gdi);
	}
}

int
vmdk_sparse_check(struct vmdk_extent *e, struct disk_check_result *r,
		  struct hv_err *err)
{
	size_t bytes = (size_t)e->num_gtes * 4;
	uint32_t *copy = malloc(bytes), *gt;
	struct hv_err e2;

	if (copy == NULL)
		return hv_fail(err, HV_EIO, "%s: out of memory", e->path);
	for (uint64_t gdi = 0; gdi < e->gd_entries; gdi++) {
		bool have = e->gd[gdi] != 0;

		if (e->rgd && (e->rgd[gdi] != 0) != have)
			check_err(r, e, "grain directory and redundant grain "
				  "directory differ", gdi);
		if (!have)
			continue;
		if (load_gt(e, e->gd[gdi], &gt, &e2) < 0) {
			check_err(r, e, "grain table past end of file", gdi);
			continue;
		}
		check_gt(e, gt, gdi, r);
		if (e->rgd == NULL || e->rgd[gdi] == 0)
			continue;
		memcpy(copy, gt, bytes);
		if (load_gt(e, e->rgd[gdi], &gt, &e2) < 0)
			check_err(r, e, "redundant grain table past end of file",
				  gdi);
		else if (memcmp(copy, gt, bytes) != 0)
			check_err(r, e, "grain table and redundant grain table "
				  "differ", gdi);
	}
	free(copy);
	return 0;
}
