/*
 * qcow2-refcount.c - reference counts and cluster allocation.
 *
 * New clusters are taken from the end of the image (q->end_cluster, the
 * first cluster past everything with a refcount). Their refcounts are
 * written before anything points to them, so a crash at any point
 * leaves at worst a leaked cluster, never a cluster in use with a
 * refcount of 0.
 *
 * A missing refcount block is placed at the end of the image; when it
 * covers itself it counts itself (self-describing), otherwise its own
 * refcount goes into the block that covers it. The refcount table grows
 * by writing a bigger copy, then switching the header to it in one
 * write, then freeing the old one.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/disk/qcow2.h"

uint64_t
qcow2_rb_get(const struct qcow2 *q, const uint8_t *rb, uint64_t i)
{
	unsigned bits = 1u << q->refcount_order, shift;

	switch (q->refcount_order) {
	case 3:
		return rb[i];
	case 4:
		return get_be16(rb + 2 * i);
	case 5:
		return get_be32(rb + 4 * i);
	case 6:
		return get_be64(rb + 8 * i);
	default:
		/* sub-byte widths: bit 0 is the least significant */
		shift = (unsigned)((i * bits) % 8);
		return (rb[i * bits / 8] >> shift) & ((1u << bits) - 1);
	}
}

void
qcow2_rb_put(const struct qcow2 *q, uint8_t *rb, uint64_t i, uint64_t v)
{
	unsigned bits = 1u << q->refcount_order, shift, mask;

	switch (q->refcount_order) {
	case 3:
		rb[i] = (uint8_t)v;
		break;
	case 4:
		put_be16(rb + 2 * i, (uint16_t)v);
		break;
	case 5:
		put_be32(rb + 4 * i, (uint32_t)v);
		break;
	case 6:
		put_be64(rb + 8 * i, v);
		break;
	default:
		shift = (unsigned)((i * bits) % 8);
		mask = ((1u << bits) - 1) << shift;
		rb[i * bits / 8] = (uint8_t)((rb[i * bits / 8] & ~mask) |
					     ((v << shift) & mask));
	}
}

static uint64_t
rc_max(const struct qcow2 *q)
{
	return q->refcount_order == 6 ? UINT64_MAX :
	       (1ull << (1u << q->refcount_order)) - 1;
}

/* byte range of entries [first, first+n) inside a refcount block */
static void
rb_span(const struct qcow2 *q, uint64_t first, uint64_t n, uint64_t *boff,
	uint64_t *blen)
{
	uint64_t bits = 1u << q->refcount_order;

	*boff = first * bits / 8;
	*blen = ((first + n) * bits + 7) / 8 - *boff;
}

/* the refcount block of table index ri; *rb = NULL when not allocated */
static int
rb_load(struct disk *d, uint64_t ri, uint8_t **rb, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t off;

	*rb = NULL;
	if (ri >= q->rct_entries)
		return 0;
	off = q->rct[ri] & ~QCOW2_RCT_RESERVED;
	if (off == 0)
		return 0;
	if (off & (q->cs - 1) || off < q->cs)
		return hv_fail(err, HV_ECORRUPT,
			       "%s: refcount table entry %llu is invalid (0x%llx)",
			       d->path, (unsigned long long)ri,
			       (unsigned long long)off);
	return qcow2_cache_get(d, &q->rbc, off, rb, false, err);
}

int
qcow2_refcount_get(struct disk *d, uint64_t cluster, uint64_t *rc,
		   struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint8_t *rb;

	*rc = 0;
	if (rb_load(d, cluster / q->rb_entries, &rb, err) < 0)
		return -1;
	if (rb)
		*rc = qcow2_rb_get(q, rb, cluster % q->rb_entries);
	return 0;
}

static int ensure_rb(struct disk *d, uint64_t ri, struct hv_err *err);

static int
write_rct_entry(struct disk *d, uint64_t ri, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint8_t v[8];

	if (q->rct_deferred)
		return 0;
	if (qcow2_barrier(d, err) < 0)
		return -1;
	put_be64(v, q->rct[ri]);
	return qcow2_pwrite(d, v, 8, q->rct_off + ri * 8, err);
}

/* Apply delta to the refcounts of clusters [first, first+n). */
static int
update_range(struct disk *d, uint64_t first, uint64_t n, int delta,
	     struct hv_err *err)
{
	struct qcow2 *q = d->priv;

	while (n) {
		uint64_t ri = first / q->rb_entries, i0 = first % q->rb_entries;
		uint64_t cnt = q->rb_entries - i0 < n ? q->rb_entries - i0 : n;
		uint64_t boff, blen;
		uint8_t *rb;

		if (delta > 0 && ensure_rb(d, ri, err) < 0)
			return -1;
		if (rb_load(d, ri, &rb, err) < 0)
			return -1;
		if (!rb)
			return hv_fail(err, HV_ECORRUPT,
				       "%s: freeing cluster %llu that has no refcount block",
				       d->path, (unsigned long long)first);
		for (uint64_t i = i0; i < i0 + cnt; i++) {
			uint64_t rc = qcow2_rb_get(q, rb, i);

			if ((delta < 0 && rc == 0) ||
			    (delta > 0 && rc == rc_max(q)))
				return hv_fail(err, HV_ECORRUPT,
					       "%s: refcount of cluster %llu would %s",
					       d->path,
					       (unsigned long long)(ri * q->rb_entries + i),
					       delta < 0 ? "go below 0" : "overflow");
			qcow2_rb_put(q, rb, i, rc + (uint64_t)(int64_t)delta);
		}
		rb_span(q, i0, cnt, &boff, &blen);
		if (qcow2_pwrite(d, rb + boff, blen,
				 (q->rct[ri] & ~QCOW2_RCT_RESERVED) + boff,
				 err) < 0)
			return -1;
		first += cnt;
		n -= cnt;
	}
	return 0;
}

int
qcow2_refcount_set(struct disk *d, uint64_t cluster, uint64_t rc,
		   struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t ri = cluster / q->rb_entries, boff, blen;
	uint8_t *rb;

	if (rc > rc_max(q))
		return hv_fail(err, HV_EINVAL, "%s: refcount %llu too large",
			       d->path, (unsigned long long)rc);
	if (ensure_rb(d, ri, err) < 0 || rb_load(d, ri, &rb, err) < 0)
		return -1;
	qcow2_rb_put(q, rb, cluster % q->rb_entries, rc);
	rb_span(q, cluster % q->rb_entries, 1, &boff, &blen);
	return qcow2_pwrite(d, rb + boff, blen,
			    (q->rct[ri] & ~QCOW2_RCT_RESERVED) + boff, err);
}

static int
grow_rct(struct disk *d, uint64_t ri_needed, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t want = (ri_needed + 1 > q->rct_entries ? ri_needed + 1 :
			 q->rct_entries) * 2;
	uint64_t nt = (want * 8 + q->cs - 1) / q->cs, t, ne;
	uint64_t old_off = q->rct_off, old_n = q->rct_clusters;
	uint8_t *raw, hv[12];
	uint64_t *nrct;
	int ret = -1;

	if (nt * q->cs > QCOW2_MAX_RCT_BYTES)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: refcount table would exceed 8 MiB", d->path);
	ne = nt * q->cs / 8;
	t = q->end_cluster;
	q->end_cluster += nt;
	if ((q->end_cluster + nt + 8) / q->rb_entries >= ne)
		return hv_fail(err, HV_EINTERNAL,
			       "%s: refcount table growth too small", d->path);
	nrct = realloc(q->rct, ne * 8);
	raw = calloc(nt, q->cs);
	if (!nrct || !raw) {
		free(raw);
		if (nrct)
			q->rct = nrct;
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	}
	memset(nrct + q->rct_entries, 0, (ne - q->rct_entries) * 8);
	q->rct = nrct;
	q->rct_entries = ne;
	/* new blocks go into the new table only, written below */
	q->rct_deferred = true;
	if (update_range(d, t, nt, 1, err) < 0)
		goto out;
	for (uint64_t i = 0; i < ne; i++)
		put_be64(raw + 8 * i, q->rct[i]);
	if (qcow2_pwrite(d, raw, nt * q->cs, t * q->cs, err) < 0)
		goto out;
	put_be64(hv, t * q->cs);
	put_be32(hv + 8, (uint32_t)nt);
	if (qcow2_barrier(d, err) < 0 ||
	    qcow2_write_header_field(d, QH_RCT_OFF, hv, sizeof hv, err) < 0)
		goto out;
	q->rct_off = t * q->cs;
	q->rct_clusters = (uint32_t)nt;
	q->rct_deferred = false;
	if (qcow2_barrier(d, err) < 0)
		goto out;
	ret = update_range(d, old_off / q->cs, old_n, -1, err);
out:
	q->rct_deferred = false;
	free(raw);
	return ret;
}

/* make sure refcount block ri exists */
static int
ensure_rb(struct disk *d, uint64_t ri, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t b;
	uint8_t *rb;

	if (ri >= q->rct_entries && grow_rct(d, ri, err) < 0)
		return -1;
	if (q->rct[ri] & ~QCOW2_RCT_RESERVED)
		return 0;
	b = q->end_cluster++;
	if (qcow2_cache_get(d, &q->rbc, b * q->cs, &rb, true, err) < 0)
		return -1;
	if (b / q->rb_entries == ri)
		qcow2_rb_put(q, rb, b % q->rb_entries, 1);
	if (qcow2_pwrite(d, rb, q->cs, b * q->cs, err) < 0) {
		qcow2_cache_drop(&q->rbc, b * q->cs);
		return -1;
	}
	if (b / q->rb_entries != ri && update_range(d, b, 1, 1, err) < 0)
		return -1;
	q->rct[ri] = b * q->cs;
	return write_rct_entry(d, ri, err);
}

#define REUSE_SCAN	65536u	/* clusters looked at per allocation */

/*
 * A run of n free clusters below end_cluster (freed by discard or
 * rewrites), searched from free_hint; *c = 0 when none was found.
 * Only ranges whose refcount block exists qualify, so reuse never
 * needs new metadata.
 */
static int
find_free(struct disk *d, uint64_t n, uint64_t *c, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t run = 0, start = 0, rc, seen = 0;
	bool all_used = true;

	*c = 0;
	for (uint64_t i = q->free_hint; i < q->end_cluster; i++) {
		uint64_t ri = i / q->rb_entries;

		if (++seen > REUSE_SCAN)
			return 0;
		rc = 1;
		if (ri < q->rct_entries && (q->rct[ri] & ~QCOW2_RCT_RESERVED) &&
		    qcow2_refcount_get(d, i, &rc, err) < 0)
			return -1;
		if (rc) {
			run = 0;
			if (all_used)
				q->free_hint = i + 1;
			continue;
		}
		all_used = false;
		if (run++ == 0)
			start = i;
		if (run == n) {
			*c = start;
			return 0;
		}
	}
	return 0;
}

int
qcow2_alloc(struct disk *d, uint64_t n, uint64_t *off, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t c;
	bool ready;

	if (q->free_hint < q->end_cluster) {
		if (find_free(d, n, &c, err) < 0)
			return -1;
		if (c) {
			if (update_range(d, c, n, 1, err) < 0)
				return -1;
			*off = c * q->cs;
			return 0;
		}
	}

	do {
		c = q->end_cluster;
		ready = true;
		for (uint64_t ri = c / q->rb_entries;
		     ri <= (c + n - 1) / q->rb_entries; ri++) {
			if (ri < q->rct_entries &&
			    (q->rct[ri] & ~QCOW2_RCT_RESERVED))
				continue;
			if (ensure_rb(d, ri, err) < 0)
				return -1;
			ready = false;
			break;
		}
	} while (!ready);
	if (update_range(d, c, n, 1, err) < 0)
		return -1;
	q->end_cluster = c + n;
	*off = c * q->cs;
	return 0;
}

int
qcow2_free(struct disk *d, uint64_t off, uint64_t n, struct hv_err *err)
{
	struct qcow2 *q = d->priv;

	for (uint64_t i = 0; i < n; i++) {
		qcow2_cache_drop(&q->l2c, off + i * q->cs);
		qcow2_cache_drop(&q->rbc, off + i * q->cs);
	}
	q->zc_entry = 0;
	if (off / q->cs < q->free_hint)
		q->free_hint = off / q->cs;
	return update_range(d, off / q->cs, n, -1, err);
}

/* drop the reference an L2 entry held */
int
qcow2_free_entry(struct disk *d, uint64_t e, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t off, len;

	if (e & QCOW2_COMPRESSED) {
		uint64_t first, last;

		/* counted on every cluster its sectors touch */
		qcow2_compressed_span(q, e, &off, &len);
		first = off / q->cs;
		last = (off + len - 1) / q->cs;
		return qcow2_free(d, first * q->cs, last - first + 1, err);
	}
	off = e & QCOW2_OFF_MASK;
	return off ? qcow2_free(d, off, 1, err) : 0;
}

/* the first cluster past the file and past every counted cluster */
int
qcow2_find_end(struct disk *d, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t end = qcow2_bytes_to_clusters(q, q->file_size);
	uint8_t *rb;

	for (uint64_t ri = 0; ri < q->rct_entries; ri++) {
		if (rb_load(d, ri, &rb, err) < 0)
			return -1;
		for (uint64_t i = q->rb_entries; rb && i > 0; i--) {
			if (qcow2_rb_get(q, rb, i - 1) == 0)
				continue;
			if (ri * q->rb_entries + i > end)
				end = ri * q->rb_entries + i;
			break;
		}
	}
	q->end_cluster = end;
	q->free_hint = 1;
	return 0;
}
