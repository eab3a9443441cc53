/*
 * qcow2.c - the qcow2 driver (versions 2 and 3): header parsing and
 * validation, header extensions, open/close/info, and the driver table.
 *
 * Everything read from the file is bounds-checked here or where it is
 * used (L2 tables and refcount blocks in qcow2-map.c/qcow2-refcount.c),
 * so a malformed image gives one HV_ECORRUPT line and never makes us
 * allocate more than the format's own limits (32 MiB L1, 8 MiB refcount
 * table, one cluster at a time otherwise).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/disk/qcow2.h"

int
qcow2_pread_meta(struct disk *d, void *buf, size_t len, uint64_t off,
		 const char *what, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	ssize_t r;

	if (off > q->file_size || len > q->file_size - off)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: %s at 0x%llx is past the end of the file",
			       d->path, what, (unsigned long long)off);
	r = dio_pread(d->fd, buf, len, (off_t)off);
	if (r < 0)
		return hv_fail(err, HV_EIO, "%s: reading %s: %s", d->path,
			       what, strerror((int)-r));
	if ((size_t)r != len)
		return hv_fail(err, HV_EIO, "%s: short read of %s", d->path,
			       what);
	return 0;
}

/*
 * Guest data: qemu leaves the tail of the last cluster unwritten, so a
 * data cluster may end past EOF; that part reads as zeros.
 */
int
qcow2_pread_data(struct disk *d, void *buf, size_t len, uint64_t off,
		 struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	size_t have = 0;
	ssize_t r;

	if (off < q->file_size)
		have = q->file_size - off < len ? q->file_size - off : len;
	if (have) {
		r = dio_pread(d->fd, buf, have, (off_t)off);
		if (r < 0)
			return hv_fail(err, HV_EIO, "%s: read at 0x%llx: %s",
				       d->path, (unsigned long long)off,
				       strerror((int)-r));
		if ((size_t)r != have)
			return hv_fail(err, HV_EIO, "%s: short read at 0x%llx",
				       d->path, (unsigned long long)off);
	}
	memset((uint8_t *)buf + have, 0, len - have);
	return 0;
}

int
qcow2_pwrite(struct disk *d, const void *buf, size_t len, uint64_t off,
	     struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	ssize_t r;

	r = dio_pwrite(d->fd, buf, len, (off_t)off);
	if (r < 0)
		return hv_fail(err, HV_EIO, "%s: write at 0x%llx: %s", d->path,
			       (unsigned long long)off, strerror((int)-r));
	if ((size_t)r != len)
		return hv_fail(err, HV_EIO, "%s: short write at 0x%llx",
			       d->path, (unsigned long long)off);
	if (off + len > q->file_size)
		q->file_size = off + len;
	return 0;
}

/*
 * Power-loss ordering: what was written so far reaches the disk before
 * anything that points to it (or before a refcount drops). A no-op
 * under convert, which syncs once at the end (dio_set_nosync).
 */
int
qcow2_barrier(struct disk *d, struct hv_err *err)
{
	int r = dio_fsync(d->fd);

	if (r < 0)
		return hv_fail(err, HV_EIO, "%s: fsync: %s", d->path,
			       strerror(-r));
	return 0;
}

int
qcow2_write_header_field(struct disk *d, unsigned off, const void *v,
			 size_t len, struct hv_err *err)
{
	return qcow2_pwrite(d, v, len, off, err);
}

static int
qcow2_probe(const uint8_t *buf, size_t len, uint64_t file_size)
{
	if (len < 8 || get_be32(buf) != QCOW2_MAGIC)
		return 0;
	return get_be32(buf + QH_VERSION) >= 2 ? 100 : 50;
}

static void
qcow2_free_priv(struct qcow2 *q)
{
	if (!q)
		return;
	free(q->l1);
	free(q->rct);
	qcow2_cache_free(&q->l2c);
	qcow2_cache_free(&q->rbc);
	free(q->zc_buf);
	free(q->zc_in);
	free(q->cow);
	free(q);
}

static void
qcow2_close(struct disk *d)
{
	qcow2_free_priv(d->priv);
	d->priv = NULL;
}

/* name an unknown incompatible feature from the image's own table */
static void
feature_name(const uint8_t *hdr, const uint8_t *ft, uint32_t ft_len, int bit,
	     char *out, size_t outlen)
{
	(void)hdr;
	snprintf(out, outlen, "bit %d", bit);
	for (uint32_t i = 0; ft && i + 48 <= ft_len; i += 48) {
		if (ft[i] != 0 || ft[i + 1] != bit)
			continue;
		snprintf(out, outlen, "'%.46s'", (const char *)ft + i + 2);
		for (char *p = out; *p; p++)
			if (*p < 32 || *p > 126)
				*p = '?';
		return;
	}
}

/* qemu's format names, which is what the extension holds */
static enum disk_format
backing_format(const char *name)
{
	static const struct {
		const char *name;
		enum disk_format fmt;
	} map[] = {
		{ "raw", DISK_FMT_RAW }, { "file", DISK_FMT_RAW },
		{ "vpc", DISK_FMT_VHD }, { "vhd", DISK_FMT_VHD },
		{ "vhdx", DISK_FMT_VHDX }, { "qcow2", DISK_FMT_QCOW2 },
		{ "vmdk", DISK_FMT_VMDK },
	};

	for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
		if (strcmp(name, map[i].name) == 0)
			return map[i].fmt;
	return DISK_FMT_NONE;
}

static int
parse_extensions(struct disk *d, const uint8_t *c0, uint32_t c0_len,
		 uint32_t end, const uint8_t **ft, uint32_t *ft_len,
		 struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint32_t off = q->hdr_len;

	while (off + 8 <= end) {
		uint32_t type = get_be32(c0 + off);
		uint32_t len = get_be32(c0 + off + 4);

		off += 8;
		if (type == QCOW2_EXT_END)
			return 0;
		if (len > end - off)
			return hv_fail(err, HV_ECORRUPT,
				       "%s: header extension 0x%08x runs past its area",
				       d->path, type);
		if (type == QCOW2_EXT_BACKING_FMT) {
			char fmt[32];

			snprintf(fmt, sizeof fmt, "%.*s",
				 (int)(len < 31 ? len : 31),
				 (const char *)c0 + off);
			d->parent_fmt = backing_format(fmt);
		} else if (type == QCOW2_EXT_BITMAPS) {
			q->has_bitmaps = true;
		} else if (type == QCOW2_EXT_FEATURES) {
			*ft = c0 + off;
			*ft_len = len;
		}
		off += (len + 7) & ~7u;
	}
	(void)c0_len;
	return 0;
}

static int
check_features(struct disk *d, const uint8_t *c0, const uint8_t *ft,
	       uint32_t ft_len, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t unknown = q->incompat & ~QCOW2_INC_KNOWN;
	char name[64];

	if (!unknown)
		return 0;
	for (int bit = 0; bit < 64; bit++) {
		if (!(unknown & (1ull << bit)))
			continue;
		feature_name(c0, ft, ft_len, bit, name, sizeof name);
		return hv_fail(err, HV_ENOTSUP,
			       "%s: unsupported qcow2 incompatible feature %s "
			       "(external data file, zstd and extended L2 "
			       "entries are not supported)", d->path, name);
	}
	return 0;
}

static int
read_backing_name(struct disk *d, const uint8_t *c0, uint32_t c0_len,
		  uint64_t boff, uint32_t blen, struct hv_err *err)
{
	struct qcow2 *q = d->priv;

	if (boff == 0)
		return 0;
	if (blen == 0 || blen > QCOW2_MAX_BACKING_NAME)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: backing file name length %u is invalid",
			       d->path, blen);
	if (boff < q->hdr_len || boff > c0_len || blen > c0_len - boff)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: backing file name is outside the header cluster",
			       d->path);
	if (memchr(c0 + boff, 0, blen))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: backing file name contains a NUL byte",
			       d->path);
	d->parent_name = strndup((const char *)c0 + boff, blen);
	if (!d->parent_name)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	return 0;
}

static bool
overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int
check_tables(struct disk *d, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t need, l1_bytes = (uint64_t)q->l1_size * 8;
	uint64_t rct_bytes = (uint64_t)q->rct_clusters * q->cs;
	uint64_t per_l2 = (uint64_t)q->l2_entries << q->cluster_bits;

	/* entries needed to map the virtual size, without overflow */
	need = d->size / per_l2 + (d->size % per_l2 != 0);
	if (l1_bytes > QCOW2_MAX_L1_BYTES || need > QCOW2_MAX_L1_BYTES / 8)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: virtual size %llu needs an L1 table over 32 MiB",
			       d->path, (unsigned long long)d->size);
	if (q->l1_size < need)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: L1 table (%u entries) is too small for virtual size %llu",
			       d->path, q->l1_size,
			       (unsigned long long)d->size);
	if (q->l1_off & (q->cs - 1))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: L1 table offset 0x%llx is not cluster aligned",
			       d->path, (unsigned long long)q->l1_off);
	if (q->l1_size && (q->l1_off > q->file_size ||
			   l1_bytes > q->file_size - q->l1_off))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: L1 table at 0x%llx is past the end of the file",
			       d->path, (unsigned long long)q->l1_off);
	if (q->l1_size && q->l1_off < q->cs)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: L1 table overlaps the header", d->path);
	if (q->rct_clusters == 0 || rct_bytes > QCOW2_MAX_RCT_BYTES)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: refcount table size (%u clusters) is invalid",
			       d->path, q->rct_clusters);
	if (q->rct_off & (q->cs - 1))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: refcount table offset 0x%llx is not cluster aligned",
			       d->path, (unsigned long long)q->rct_off);
	if (q->rct_off < q->cs)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: refcount table overlaps the header", d->path);
	if (q->rct_off > q->file_size || rct_bytes > q->file_size - q->rct_off)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: refcount table at 0x%llx is past the end of the file",
			       d->path, (unsigned long long)q->rct_off);
	if (q->l1_size && overlaps(q->l1_off, l1_bytes, q->rct_off, rct_bytes))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: L1 table overlaps the refcount table", d->path);
	return 0;
}

static int
load_tables(struct disk *d, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t l1_bytes = (uint64_t)q->l1_size * 8;
	uint64_t rct_bytes = (uint64_t)q->rct_clusters * q->cs;
	uint8_t *raw;

	q->l1 = calloc(q->l1_size ? q->l1_size : 1, 8);
	q->rct_entries = rct_bytes / 8;
	q->rct = calloc(q->rct_entries, 8);
	raw = malloc(rct_bytes > l1_bytes ? rct_bytes : l1_bytes ? l1_bytes : 1);
	if (!q->l1 || !q->rct || !raw) {
		free(raw);
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	}
	if (l1_bytes && qcow2_pread_meta(d, raw, l1_bytes, q->l1_off,
					 "L1 table", err) < 0)
		goto fail;
	for (uint32_t i = 0; i < q->l1_size; i++)
		q->l1[i] = get_be64(raw + 8 * i);
	if (qcow2_pread_meta(d, raw, rct_bytes, q->rct_off, "refcount table",
			     err) < 0)
		goto fail;
	for (uint64_t i = 0; i < q->rct_entries; i++)
		q->rct[i] = get_be64(raw + 8 * i);
	free(raw);
	return 0;
fail:
	free(raw);
	return -1;
}

static int
parse_header(struct disk *d, const uint8_t *h, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint32_t crypt;

	if (get_be32(h) != QCOW2_MAGIC)
		return hv_fail(err, HV_ECORRUPT, "%s: not a qcow2 image (bad magic)",
			       d->path);
	q->version = get_be32(h + QH_VERSION);
	if (q->version != 2 && q->version != 3)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: qcow2 version %u is not supported (2 or 3)",
			       d->path, q->version);
	q->cluster_bits = get_be32(h + QH_CLUSTER_BITS);
	if (q->cluster_bits < QCOW2_MIN_CLUSTER_BITS ||
	    q->cluster_bits > QCOW2_MAX_CLUSTER_BITS)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: cluster_bits %u out of range (9..21)",
			       d->path, q->cluster_bits);
	q->cs = 1u << q->cluster_bits;
	q->l2_entries = q->cs / 8;
	d->size = get_be64(h + QH_SIZE);
	if (d->size % DISK_SECTOR)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: virtual size %llu is not a multiple of 512",
			       d->path, (unsigned long long)d->size);
	crypt = get_be32(h + QH_CRYPT);
	if (crypt)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: encrypted qcow2 images are not supported",
			       d->path);
	q->l1_size = get_be32(h + QH_L1_SIZE);
	q->l1_off = get_be64(h + QH_L1_OFF);
	q->rct_off = get_be64(h + QH_RCT_OFF);
	q->rct_clusters = get_be32(h + QH_RCT_CLUSTERS);
	q->nb_snapshots = get_be32(h + QH_NB_SNAP);
	q->snapshots_off = get_be64(h + QH_SNAP_OFF);
	q->refcount_order = 4;
	q->hdr_len = QCOW2_V2_HDR_LEN;
	if (q->version == 3) {
		q->incompat = get_be64(h + QH_INCOMPAT);
		q->compat = get_be64(h + QH_COMPAT);
		q->autoclear = get_be64(h + QH_AUTOCLEAR);
		q->refcount_order = get_be32(h + QH_REFCOUNT_ORDER);
		q->hdr_len = get_be32(h + QH_HDR_LEN);
		if (q->hdr_len < QCOW2_V3_HDR_LEN || q->hdr_len % 8 ||
		    q->hdr_len > q->cs)
			return hv_fail(err, HV_ECORRUPT,
				       "%s: header length %u is invalid",
				       d->path, q->hdr_len);
		if (q->refcount_order > 6)
			return hv_fail(err, HV_ECORRUPT,
				       "%s: refcount_order %u is over 6",
				       d->path, q->refcount_order);
	}
	q->rb_entries = (uint32_t)(((uint64_t)q->cs * 8) >> q->refcount_order);
	return 0;
}

/* header, extensions and backing name all live in cluster 0 */
static int
read_cluster0(struct disk *d, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint8_t *c0, h[QCOW2_V3_HDR_LEN + 8] = { 0 };
	const uint8_t *ft = NULL;
	uint32_t ft_len = 0, c0_len, ext_end;
	uint64_t boff;
	int ret = -1;

	if (q->file_size < QCOW2_V2_HDR_LEN)
		return hv_fail(err, HV_ECORRUPT, "%s: file too short for a qcow2 header",
			       d->path);
	if (qcow2_pread_meta(d, h, q->file_size < sizeof h ? QCOW2_V2_HDR_LEN :
			     sizeof h, 0, "header", err) < 0)
		return -1;
	if (parse_header(d, h, err) < 0)
		return -1;
	c0_len = q->file_size < q->cs ? (uint32_t)q->file_size : q->cs;
	if (q->hdr_len > c0_len)
		return hv_fail(err, HV_ECORRUPT, "%s: header is truncated", d->path);
	c0 = calloc(1, q->cs);
	if (!c0)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	if (qcow2_pread_meta(d, c0, c0_len, 0, "header cluster", err) < 0)
		goto out;
	if (q->version == 3 && q->hdr_len > QH_COMPRESSION && c0[QH_COMPRESSION])
		q->incompat |= QCOW2_INC_COMPRESSION;
	boff = get_be64(c0 + QH_BACKING_OFF);
	ext_end = boff && boff < c0_len ? (uint32_t)boff : c0_len;
	if (parse_extensions(d, c0, c0_len, ext_end, &ft, &ft_len, err) < 0)
		goto out;
	if (check_features(d, c0, ft, ft_len, err) < 0)
		goto out;
	if (read_backing_name(d, c0, c0_len, boff,
			      get_be32(c0 + QH_BACKING_LEN), err) < 0)
		goto out;
	ret = 0;
out:
	free(c0);
	return ret;
}

static int
alloc_buffers(struct disk *d, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	/* about 4 MiB of L2 tables, 1 MiB of refcount blocks */
	unsigned nl2 = (unsigned)((4u << 20) >> q->cluster_bits);
	unsigned nrb = (unsigned)((1u << 20) >> q->cluster_bits);

	nl2 = nl2 < 4 ? 4 : nl2 > 64 ? 64 : nl2;
	nrb = nrb < 2 ? 2 : nrb > 16 ? 16 : nrb;
	q->zc_entry = 0;
	q->zc_buf = malloc(q->cs);
	q->zc_in = malloc(2 * (size_t)q->cs + 1024);
	q->cow = malloc(q->cs);
	if (!q->zc_buf || !q->zc_in || !q->cow ||
	    qcow2_cache_init(&q->l2c, nl2, q->cs) < 0 ||
	    qcow2_cache_init(&q->rbc, nrb, q->cs) < 0)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	return 0;
}

/* Dirty (lazy refcounts) images need their refcounts rebuilt first. */
static int
open_for_write(struct disk *d, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	struct disk_check_result r;
	uint8_t v[8];

	if (q->incompat & QCOW2_INC_CORRUPT)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: image is marked corrupt; open it read-only",
			       d->path);
	if (qcow2_find_end(d, err) < 0)
		return -1;
	if (!(q->incompat & QCOW2_INC_DIRTY))
		return 0;
	memset(&r, 0, sizeof r);
	if (qcow2_check(d, true, &r, err) < 0)
		return -1;
	if (r.errors)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: dirty image: refcounts could not be rebuilt (%s)",
			       d->path, r.first);
	if (dio_fsync(d->fd) < 0)
		return hv_fail(err, HV_EIO, "%s: fsync failed", d->path);
	q->incompat &= ~QCOW2_INC_DIRTY;
	put_be64(v, q->incompat);
	return qcow2_write_header_field(d, QH_INCOMPAT, v, 8, err);
}

int
qcow2_open_file(struct disk *d, struct hv_err *err)
{
	struct qcow2 *q;
	struct stat st;

	q = calloc(1, sizeof *q);
	if (!q)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	d->priv = q;
	d->parent_fmt = DISK_FMT_NONE;
	if (fstat(d->fd, &st) < 0) {
		hv_fail(err, HV_EIO, "%s: stat: %s", d->path, strerror(errno));
		goto fail;
	}
	q->file_size = (uint64_t)st.st_size;
	q->writable = !(d->flags & DISK_RDONLY);
	if (read_cluster0(d, err) < 0 || check_tables(d, err) < 0 ||
	    load_tables(d, err) < 0 || alloc_buffers(d, err) < 0)
		goto fail;
	if (q->writable && open_for_write(d, err) < 0)
		goto fail;
	return 0;
fail:
	free(d->parent_name);
	d->parent_name = NULL;
	qcow2_close(d);
	return -1;
}

static int
qcow2_open(struct disk *d, struct hv_err *err)
{
	return qcow2_open_file(d, err);
}

/*
 * Before the first change: drop auto-clear bits (bitmaps we do not
 * keep up to date must read as inconsistent, as the spec asks).
 */
int
qcow2_prepare_write(struct disk *d, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint8_t v[8] = { 0 };

	if (!q->writable)
		return hv_fail(err, HV_EINVAL, "%s: opened read-only", d->path);
	if (q->hdr_cleaned)
		return 0;
	if (q->version == 3 && q->autoclear) {
		if (qcow2_write_header_field(d, QH_AUTOCLEAR, v, 8, err) < 0)
			return -1;
		q->autoclear = 0;
	}
	q->hdr_cleaned = true;
	return 0;
}

static int
qcow2_info(struct disk *d, struct disk_info *info, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	struct stat st;

	if (fstat(d->fd, &st) < 0)
		return hv_fail(err, HV_EIO, "%s: stat: %s", d->path,
			       strerror(errno));
	info->fmt = DISK_FMT_QCOW2;
	/* plain words: convert keys "like the source" off "fixed" */
	snprintf(info->subformat, sizeof info->subformat, "%s",
		 d->parent_name ? "differencing" : "dynamic");
	info->size = d->size;
	info->file_size = (uint64_t)st.st_size;
	info->allocated = (uint64_t)st.st_blocks * 512;
	info->block_size = q->cs;
	snprintf(info->parent, sizeof info->parent, "%s",
		 d->parent_name ? d->parent_name : "");
	return 0;
}

const struct disk_driver disk_qcow2_driver = {
	.fmt = DISK_FMT_QCOW2,
	.name = "qcow2",
	.probe = qcow2_probe,
	.open = qcow2_open,
	.close = qcow2_close,
	.create = qcow2_create,
	.read_layer = qcow2_read_layer,
	.write = qcow2_write,
	.write_zeroes = qcow2_write_zeroes,
	.discard = qcow2_discard,
	.flush = qcow2_flush,
	.block_status = qcow2_block_status,
	.map = qcow2_map,
	.info = qcow2_info,
	.check = qcow2_check,
	.resize = qcow2_resize,
	.compact = qcow2_compact,
};
