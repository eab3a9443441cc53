/*
 * qcow2-map.c - guest-to-host mapping: the metadata cluster cache, L2
 * lookup, compressed clusters, and the read side (read_layer and
 * block_status).
 *
 * The caches are write-through (the write path updates the cached copy
 * and the file together), so evicting a slot never loses anything.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "engine/disk/qcow2.h"

enum qc_type { QC_UNALLOC, QC_ZERO, QC_DATA, QC_COMPRESSED };

static enum qc_type
entry_type(uint64_t e)
{
	if (e & QCOW2_COMPRESSED)
		return QC_COMPRESSED;
	if (e & QCOW2_ZERO)
		return QC_ZERO;
	return (e & QCOW2_OFF_MASK) ? QC_DATA : QC_UNALLOC;
}

int
qcow2_cache_init(struct qcow2_cache *c, unsigned n, uint32_t cs)
{
	c->slot = calloc(n, sizeof *c->slot);
	if (!c->slot)
		return -1;
	c->n = n;
	for (unsigned i = 0; i < n; i++) {
		c->slot[i].buf = malloc(cs);
		if (!c->slot[i].buf)
			return -1;
	}
	return 0;
}

void
qcow2_cache_free(struct qcow2_cache *c)
{
	for (unsigned i = 0; c->slot && i < c->n; i++)
		free(c->slot[i].buf);
	free(c->slot);
	c->slot = NULL;
	c->n = 0;
}

void
qcow2_cache_drop(struct qcow2_cache *c, uint64_t off)
{
	for (unsigned i = 0; i < c->n; i++)
		if (c->slot[i].off == off)
			c->slot[i].off = 0;
}

/* fresh: the caller is about to fill a new cluster, do not read it */
int
qcow2_cache_get(struct disk *d, struct qcow2_cache *c, uint64_t off,
		uint8_t **buf, bool fresh, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	struct qcow2_cslot *victim = &c->slot[0];

	for (unsigned i = 0; i < c->n; i++) {
		struct qcow2_cslot *s = &c->slot[i];

		if (s->off == off) {
			s->lru = ++c->tick;
			if (fresh)
				memset(s->buf, 0, q->cs);
			*buf = s->buf;
			return 0;
		}
		if (s->off == 0 || (victim->off != 0 && s->lru < victim->lru))
			victim = s;
	}
	victim->off = 0;
	if (fresh)
		memset(victim->buf, 0, q->cs);
	else if (qcow2_pread_meta(d, victim->buf, q->cs, off,
				  c == &q->l2c ? "L2 table" : "refcount block",
				  err) < 0)
		return -1;
	victim->off = off;
	victim->lru = ++c->tick;
	*buf = victim->buf;
	return 0;
}

/* the L2 table of one L1 entry, or *l2 = NULL when there is none */
int
qcow2_l2_get(struct disk *d, uint64_t l1_index, uint8_t **l2,
	     struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t off;

	*l2 = NULL;
	if (l1_index >= q->l1_size)
		return 0;
	off = q->l1[l1_index] & QCOW2_OFF_MASK;
	if (off == 0)
		return 0;
	if (off & (q->cs - 1) || off < q->cs)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: L1 entry %llu points to invalid L2 offset 0x%llx",
			       d->path, (unsigned long long)l1_index,
			       (unsigned long long)off);
	return qcow2_cache_get(d, &q->l2c, off, l2, false, err);
}

int
qcow2_check_l2_entry(struct disk *d, uint64_t e, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t off = e & QCOW2_OFF_MASK, len;

	if (e & QCOW2_COMPRESSED) {
		qcow2_compressed_span(q, e, &off, &len);
		if (off >= q->cs)
			return 0;
		return hv_fail(err, HV_ECORRUPT,
			       "%s: compressed cluster inside the header (0x%llx)",
			       d->path, (unsigned long long)off);
	}
	if (off && ((off & (q->cs - 1)) || off < q->cs))
		return hv_fail(err, HV_ECORRUPT,
			       "%s: L2 entry points to invalid cluster offset 0x%llx",
			       d->path, (unsigned long long)off);
	return 0;
}

/* where a compressed cluster's bytes are in the file */
void
qcow2_compressed_span(const struct qcow2 *q, uint64_t e, uint64_t *off,
		      uint64_t *len)
{
	unsigned x = 62 - (q->cluster_bits - 8);
	uint64_t nsect = (e >> x) & ((1ull << (62 - x)) - 1);

	*off = e & ((1ull << x) - 1);
	*len = (nsect + 1) * 512 - (*off & 511);
}

int
qcow2_read_compressed(struct disk *d, uint64_t e, uint8_t **out,
		      struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t off, len;
	z_stream zs;
	int zr;

	if (q->zc_entry == e && e) {
		*out = q->zc_buf;
		return 0;
	}
	q->zc_entry = 0;
	qcow2_compressed_span(q, e, &off, &len);
	if (off < q->cs || off >= q->file_size)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: compressed cluster at invalid offset 0x%llx",
			       d->path, (unsigned long long)off);
	if (qcow2_pread_data(d, q->zc_in, len, off, err) < 0)
		return -1;
	memset(&zs, 0, sizeof zs);
	if (inflateInit2(&zs, -12) != Z_OK)
		return hv_fail(err, HV_EIO, "%s: zlib init failed", d->path);
	zs.next_in = q->zc_in;
	zs.avail_in = (uInt)len;
	zs.next_out = q->zc_buf;
	zs.avail_out = q->cs;
	zr = inflate(&zs, Z_FINISH);
	inflateEnd(&zs);
	if ((zr != Z_STREAM_END && zr != Z_BUF_ERROR) || zs.avail_out != 0)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: compressed cluster at 0x%llx does not decompress",
			       d->path, (unsigned long long)off);
	q->zc_entry = e;
	*out = q->zc_buf;
	return 0;
}

/* the L2 entry of guest cluster gc (0 when unmapped) */
static int
lookup(struct disk *d, uint64_t gc, uint64_t *e, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint8_t *l2;

	*e = 0;
	if (qcow2_l2_get(d, gc / q->l2_entries, &l2, err) < 0)
		return -1;
	if (l2)
		*e = get_be64(l2 + 8 * (gc % q->l2_entries));
	return qcow2_check_l2_entry(d, *e, err);
}

int
qcow2_read_layer(struct disk *d, uint64_t off, void *buf, size_t len,
		 struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint8_t *p = buf, *run_buf = NULL, *z;
	uint64_t run_host = 0, run_len = 0, e;

	while (len) {
		uint64_t within = off & (q->cs - 1);
		size_t n = q->cs - within < len ? q->cs - within : len;
		uint64_t host;

		if (lookup(d, off >> q->cluster_bits, &e, err) < 0)
			return -1;
		host = (e & QCOW2_OFF_MASK) + within;
		if (run_len && (entry_type(e) != QC_DATA ||
				host != run_host + run_len)) {
			if (qcow2_pread_data(d, run_buf, run_len, run_host,
					     err) < 0)
				return -1;
			run_len = 0;
		}
		switch (entry_type(e)) {
		case QC_DATA:
			if (!run_len) {
				run_host = host;
				run_buf = p;
			}
			run_len += n;
			break;
		case QC_COMPRESSED:
			if (qcow2_read_compressed(d, e, &z, err) < 0)
				return -1;
			memcpy(p, z + within, n);
			break;
		default:
			memset(p, 0, n);
		}
		p += n;
		off += n;
		len -= n;
	}
	if (run_len && qcow2_pread_data(d, run_buf, run_len, run_host, err) < 0)
		return -1;
	return 0;
}

/* where standard (uncompressed) data clusters lie in the file */
int
qcow2_map(struct disk *d, uint64_t off, uint64_t len, uint64_t *host,
	  uint64_t *pnum)
{
	struct qcow2 *q = d->priv;
	uint64_t done = 0, e;

	while (done < len) {
		uint64_t within = (off + done) & (q->cs - 1);
		uint64_t n = q->cs - within < len - done ? q->cs - within : len - done;
		uint64_t h;

		if (lookup(d, (off + done) >> q->cluster_bits, &e, NULL) < 0 ||
		    entry_type(e) != QC_DATA)
			break;
		h = (e & QCOW2_OFF_MASK) + within;
		if (h + n > q->file_size || (done && h != *host + done))
			break;
		if (done == 0)
			*host = h;
		done += n;
	}
	*pnum = done;
	return done ? 0 : -1;
}

static int
status_of(uint64_t e)
{
	switch (entry_type(e)) {
	case QC_ZERO:
		return DISK_ST_ZERO;
	case QC_UNALLOC:
		return DISK_ST_UNALLOC;
	default:
		return DISK_ST_DATA;
	}
}

int
qcow2_block_status(struct disk *d, uint64_t off, uint64_t len,
		   uint64_t *pnum, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t done = 0;
	int st = 0;

	while (done < len) {
		uint64_t gc = (off + done) >> q->cluster_bits;
		uint64_t within = (off + done) & (q->cs - 1);
		uint64_t n = q->cs - within, e;
		uint8_t *l2;
		int s;

		if (qcow2_l2_get(d, gc / q->l2_entries, &l2, err) < 0)
			return -1;
		if (!l2) {
			/* the whole L2 range is unallocated */
			n = ((uint64_t)(q->l2_entries - gc % q->l2_entries)
			     << q->cluster_bits) - within;
			s = DISK_ST_UNALLOC;
		} else {
			e = get_be64(l2 + 8 * (gc % q->l2_entries));
			if (qcow2_check_l2_entry(d, e, err) < 0)
				return -1;
			s = status_of(e);
		}
		if (st && s != st)
			break;
		st = s;
		done += n;
	}
	*pnum = done < len ? done : len;
	return st;
}
