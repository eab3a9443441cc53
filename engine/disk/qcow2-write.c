/*
 * qcow2-write.c - the write side: data writes with copy-on-write,
 * zero clusters, discard, flush and growing the virtual size.
 *
 * Ordering, so a crash (SIGKILL at any write) never corrupts the image:
 *  1. refcounts of new clusters (qcow2_alloc writes them first);
 *  2. the new data cluster or L2 table;
 *  3. the L2 (or L1) entry that points to it;
 *  4. only then the refcount drop of whatever the entry pointed to.
 * A crash between steps leaks clusters at worst (qemu-img check: leaks,
 * not corruption). Power-loss durability comes with flush().
 */
#include <stdlib.h>
#include <string.h>

#include "engine/disk/qcow2.h"

/* a cluster we may overwrite in place: ours alone, plain data */
static bool
in_place(uint64_t e)
{
	return (e & QCOW2_COPIED) && !(e & (QCOW2_COMPRESSED | QCOW2_ZERO)) &&
	       (e & QCOW2_OFF_MASK);
}

static int
write_l1_entry(struct disk *d, uint64_t l1i, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint8_t v[8];

	put_be64(v, q->l1[l1i]);
	return qcow2_pwrite(d, v, 8, q->l1_off + l1i * 8, err);
}

/* the L2 table of l1i, allocated (or un-shared) so we may change it */
int
qcow2_l2_for_write(struct disk *d, uint64_t l1i, uint8_t **l2,
		   uint64_t *l2_off, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t old = q->l1[l1i] & QCOW2_OFF_MASK, noff;
	uint8_t *src, *dst;

	if (old && (q->l1[l1i] & QCOW2_COPIED)) {
		*l2_off = old;
		return qcow2_l2_get(d, l1i, l2, err);
	}
	memset(q->cow, 0, q->cs);
	if (old) {
		/* shared with a snapshot: copy it first */
		if (qcow2_l2_get(d, l1i, &src, err) < 0)
			return -1;
		memcpy(q->cow, src, q->cs);
	}
	if (qcow2_alloc(d, 1, &noff, err) < 0)
		return -1;
	if (qcow2_cache_get(d, &q->l2c, noff, &dst, true, err) < 0)
		return -1;
	memcpy(dst, q->cow, q->cs);
	if (qcow2_pwrite(d, dst, q->cs, noff, err) < 0) {
		qcow2_cache_drop(&q->l2c, noff);
		return -1;
	}
	if (qcow2_barrier(d, err) < 0)
		return -1;
	q->l1[l1i] = noff | QCOW2_COPIED;
	if (write_l1_entry(d, l1i, err) < 0)
		return -1;
	if (old && (qcow2_barrier(d, err) < 0 ||
		    qcow2_free(d, old, 1, err) < 0))
		return -1;
	*l2_off = noff;
	return qcow2_cache_get(d, &q->l2c, noff, l2, false, err);
}

/* set entries [first, first+n) of the L2 table at l2_off, one write */
int
qcow2_set_l2(struct disk *d, uint64_t l2_off, uint32_t first, uint32_t n,
	     const uint64_t *e, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint8_t *l2;

	if (qcow2_cache_get(d, &q->l2c, l2_off, &l2, false, err) < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		put_be64(l2 + 8 * (first + i), e[i]);
	return qcow2_pwrite(d, l2 + 8 * first, 8 * (size_t)n,
			    l2_off + 8 * (uint64_t)first, err);
}

/* what guest cluster gc held before this write, into dst */
static int
old_content(struct disk *d, uint64_t gc, uint64_t e, uint8_t *dst,
	    struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t goff = gc << q->cluster_bits, psize, n;
	uint8_t *z;

	memset(dst, 0, q->cs);
	if (e & QCOW2_COMPRESSED) {
		if (qcow2_read_compressed(d, e, &z, err) < 0)
			return -1;
		memcpy(dst, z, q->cs);
		return 0;
	}
	if (e & QCOW2_ZERO)
		return 0;
	if (e & QCOW2_OFF_MASK)
		return qcow2_pread_data(d, dst, q->cs, e & QCOW2_OFF_MASK, err);
	if (!d->parent && d->parent_name)
		return hv_fail(err, HV_EINVAL,
			       "%s: partial write needs the backing file, which is not open",
			       d->path);
	if (!d->parent)
		return 0;
	psize = disk_size(d->parent);
	if (goff >= psize)
		return 0;
	n = psize - goff < q->cs ? psize - goff : q->cs;
	return disk_read(d->parent, goff, dst, n, err);
}

struct wctx {
	uint64_t l2_off;
	uint8_t *l2;
	uint32_t idx;		/* first entry of the run */
	uint64_t off;		/* guest offset of the run */
	const uint8_t *buf;
	size_t len;
};

static uint64_t
entry_at(struct disk *d, struct wctx *w, uint32_t i)
{
	struct qcow2 *q = d->priv;
	uint8_t *l2;
	struct hv_err dummy;

	/* the slot may have moved if the cache was used meanwhile */
	if (qcow2_cache_get(d, &q->l2c, w->l2_off, &l2, false, &dummy) < 0)
		return 0;
	return get_be64(l2 + 8 * (uint64_t)i);
}

/* overwrite clusters we own, host-contiguous, in one write */
static int
write_in_place(struct disk *d, struct wctx *w, size_t *done,
	       struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t e = entry_at(d, w, w->idx);
	uint64_t host = (e & QCOW2_OFF_MASK) + (w->off & (q->cs - 1));
	size_t n = q->cs - (w->off & (q->cs - 1));
	uint32_t i = w->idx + 1;

	while (n < w->len && i < q->l2_entries) {
		uint64_t e2 = entry_at(d, w, i);

		if (!in_place(e2) ||
		    (e2 & QCOW2_OFF_MASK) != (e & QCOW2_OFF_MASK) +
		    ((uint64_t)(i - w->idx) << q->cluster_bits))
			break;
		n += q->cs;
		i++;
	}
	if (n > w->len)
		n = w->len;
	*done = n;
	return qcow2_pwrite(d, w->buf, n, host, err);
}

/* drop what replaced L2 entries held, once the new entries are down */
static int
free_old(struct disk *d, const uint64_t *olde, uint32_t n,
	 struct hv_err *err)
{
	bool any = false;

	for (uint32_t i = 0; i < n; i++)
		any |= (olde[i] & (QCOW2_COMPRESSED | QCOW2_OFF_MASK)) != 0;
	if (!any)
		return 0;
	if (qcow2_barrier(d, err) < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (qcow2_free_entry(d, olde[i], err) < 0)
			return -1;
	return 0;
}

/* write one new cluster that the write covers only partly */
static int
write_cow_cluster(struct disk *d, uint64_t gc, uint64_t e, uint64_t host,
		  uint64_t skip, const uint8_t *src, size_t n,
		  struct hv_err *err)
{
	struct qcow2 *q = d->priv;

	if (old_content(d, gc, e, q->cow, err) < 0)
		return -1;
	memcpy(q->cow + skip, src, n);
	return qcow2_pwrite(d, q->cow, q->cs, host, err);
}

#define MAX_RUN 512u	/* clusters allocated per step */

static int
write_new(struct disk *d, struct wctx *w, size_t *done, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t within = w->off & (q->cs - 1), gc = w->off >> q->cluster_bits;
	uint64_t olde[MAX_RUN], newe[MAX_RUN] = { 0 }, host, end;
	uint32_t k = 0;
	size_t n;

	/* a run of clusters that all need a new home */
	end = within + w->len;
	while (k < MAX_RUN && w->idx + k < q->l2_entries &&
	       ((uint64_t)k << q->cluster_bits) < end) {
		olde[k] = entry_at(d, w, w->idx + k);
		if (in_place(olde[k]))
			break;
		if (qcow2_check_l2_entry(d, olde[k], err) < 0)
			return -1;
		k++;
	}
	n = ((size_t)k << q->cluster_bits) - within;
	if (n > w->len)
		n = w->len;
	if (qcow2_alloc(d, k, &host, err) < 0)
		return -1;
	for (uint32_t i = 0; i < k; i++) {
		uint64_t cstart = i ? ((uint64_t)i << q->cluster_bits) - within : 0;
		uint64_t skip = i ? 0 : within;
		uint64_t cn = q->cs - skip;
		uint64_t h = host + ((uint64_t)i << q->cluster_bits);

		if (cn > n - cstart)
			cn = n - cstart;
		if (cn < q->cs) {
			if (write_cow_cluster(d, gc + i, olde[i], h, skip,
					      w->buf + cstart, cn, err) < 0)
				return -1;
			continue;
		}
		/* full clusters: one write for all of them */
		uint32_t j = i;

		while (j + 1 < k && n - (cstart + ((uint64_t)(j + 1 - i) <<
						    q->cluster_bits)) >= q->cs)
			j++;
		if (qcow2_pwrite(d, w->buf + cstart,
				 (size_t)(j - i + 1) << q->cluster_bits, h,
				 err) < 0)
			return -1;
		i = j;
	}
	for (uint32_t i = 0; i < k; i++)
		newe[i] = (host + ((uint64_t)i << q->cluster_bits)) |
			  QCOW2_COPIED;
	if (qcow2_barrier(d, err) < 0 ||
	    qcow2_set_l2(d, w->l2_off, w->idx, k, newe, err) < 0 ||
	    free_old(d, olde, k, err) < 0)
		return -1;
	*done = n;
	return 0;
}

int
qcow2_write(struct disk *d, uint64_t off, const void *buf, size_t len,
	    struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	struct wctx w;

	if (qcow2_prepare_write(d, err) < 0)
		return -1;
	w.buf = buf;
	w.off = off;
	w.len = len;
	while (w.len) {
		uint64_t gc = w.off >> q->cluster_bits;
		size_t done;

		if (qcow2_l2_for_write(d, gc / q->l2_entries, &w.l2,
				       &w.l2_off, err) < 0)
			return -1;
		w.idx = (uint32_t)(gc % q->l2_entries);
		if (qcow2_check_l2_entry(d, entry_at(d, &w, w.idx), err) < 0)
			return -1;
		if (in_place(entry_at(d, &w, w.idx))) {
			if (write_in_place(d, &w, &done, err) < 0)
				return -1;
		} else if (write_new(d, &w, &done, err) < 0) {
			return -1;
		}
		w.buf += done;
		w.off += done;
		w.len -= done;
	}
	return 0;
}

static int
write_zero_buffers(struct disk *d, uint64_t off, uint64_t len,
		   struct hv_err *err)
{
	size_t chunk = len < (1u << 20) ? (size_t)len : (1u << 20);
	uint8_t *z = calloc(1, chunk);
	int ret = 0;

	if (!z)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	while (len && ret == 0) {
		size_t n = len < chunk ? (size_t)len : chunk;

		ret = qcow2_write(d, off, z, n, err);
		off += n;
		len -= n;
	}
	free(z);
	return ret;
}

/*
 * Change whole clusters [gc, gc+n) inside one L2 table: zero = true
 * makes them read as zeros (v3 zero flag), false deallocates them.
 */
static int
remap_clusters(struct disk *d, uint64_t gc, uint32_t n, bool zero,
	       struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t olde[MAX_RUN], newe[MAX_RUN] = { 0 }, l2_off;
	uint32_t idx = (uint32_t)(gc % q->l2_entries);
	uint8_t *l2;

	if (qcow2_l2_get(d, gc / q->l2_entries, &l2, err) < 0)
		return -1;
	if (!l2 && (!zero || !d->parent))
		return 0;	/* already unallocated, reads as zeros */
	if (qcow2_l2_for_write(d, gc / q->l2_entries, &l2, &l2_off, err) < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++) {
		olde[i] = get_be64(l2 + 8 * (uint64_t)(idx + i));
		if (qcow2_check_l2_entry(d, olde[i], err) < 0)
			return -1;
		newe[i] = zero ? QCOW2_ZERO : 0;
		if (zero && in_place(olde[i])) {
			/* keep our own cluster as a preallocated zero */
			newe[i] = olde[i] | QCOW2_ZERO;
			olde[i] = 0;
		}
	}
	if (qcow2_set_l2(d, l2_off, idx, n, newe, err) < 0)
		return -1;
	return free_old(d, olde, n, err);
}

/* apply fn to the whole clusters of [off, off+len), table by table */
static int
for_whole_clusters(struct disk *d, uint64_t off, uint64_t len, bool zero,
		   struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t gc = (off + q->cs - 1) >> q->cluster_bits;
	uint64_t end = (off + len) >> q->cluster_bits;

	while (gc < end) {
		uint64_t n = q->l2_entries - gc % q->l2_entries;

		if (n > end - gc)
			n = end - gc;
		if (n > MAX_RUN)
			n = MAX_RUN;
		if (remap_clusters(d, gc, (uint32_t)n, zero, err) < 0)
			return -1;
		gc += n;
	}
	return 0;
}

int
qcow2_write_zeroes(struct disk *d, uint64_t off, uint64_t len,
		   struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t head = (q->cs - (off & (q->cs - 1))) & (q->cs - 1);
	uint64_t tail;

	if (qcow2_prepare_write(d, err) < 0)
		return -1;
	if (q->version < 3 || head >= len)
		return write_zero_buffers(d, off, len, err);
	tail = (off + len) & (q->cs - 1);
	if (head && write_zero_buffers(d, off, head, err) < 0)
		return -1;
	if (for_whole_clusters(d, off + head, len - head - tail, true,
			       err) < 0)
		return -1;
	return tail ? write_zero_buffers(d, off + len - tail, tail, err) : 0;
}

/* Whole clusters only; v2 with a backing file cannot hide it: no-op. */
int
qcow2_discard(struct disk *d, uint64_t off, uint64_t len, struct hv_err *err)
{
	struct qcow2 *q = d->priv;

	if (qcow2_prepare_write(d, err) < 0)
		return -1;
	if (d->parent_name && q->version < 3)
		return 0;
	return for_whole_clusters(d, off, len, d->parent_name != NULL, err);
}

int
qcow2_flush(struct disk *d, struct hv_err *err)
{
	int r = dio_fsync(d->fd);

	if (r < 0)
		return hv_fail(err, HV_EIO, "%s: fsync: %s", d->path,
			       strerror(-r));
	return 0;
}

static int
grow_l1(struct disk *d, uint32_t entries, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t bytes = (uint64_t)entries * 8, noff;
	uint64_t nc = qcow2_bytes_to_clusters(q, bytes);
	uint64_t old_off = q->l1_off, old_n;
	uint8_t *raw, h[12];
	uint64_t *nl1;
	int ret = -1;

	old_n = qcow2_bytes_to_clusters(q, (uint64_t)q->l1_size * 8);
	raw = calloc(nc, q->cs);
	nl1 = calloc(entries, 8);
	if (!raw || !nl1)
		goto nomem;
	memcpy(nl1, q->l1, (size_t)q->l1_size * 8);
	for (uint32_t i = 0; i < q->l1_size; i++)
		put_be64(raw + 8 * (uint64_t)i, q->l1[i]);
	if (qcow2_alloc(d, nc, &noff, err) < 0 ||
	    qcow2_pwrite(d, raw, nc * q->cs, noff, err) < 0)
		goto out;
	put_be32(h, entries);
	put_be64(h + 4, noff);
	if (qcow2_barrier(d, err) < 0 ||
	    qcow2_write_header_field(d, QH_L1_SIZE, h, sizeof h, err) < 0)
		goto out;
	free(q->l1);
	q->l1 = nl1;
	nl1 = NULL;
	q->l1_size = entries;
	q->l1_off = noff;
	ret = old_n ? qcow2_barrier(d, err) ? -1 :
	      qcow2_free(d, old_off, old_n, err) : 0;
	goto out;
nomem:
	hv_fail(err, HV_EIO, "%s: out of memory", d->path);
out:
	free(raw);
	free(nl1);
	return ret;
}

int
qcow2_resize(struct disk *d, uint64_t size, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t per_l2 = (uint64_t)q->l2_entries << q->cluster_bits, need;
	uint8_t v[8];

	if (qcow2_prepare_write(d, err) < 0)
		return -1;
	if (size % DISK_SECTOR)
		return hv_fail(err, HV_EINVAL,
			       "%s: size %llu is not a multiple of 512",
			       d->path, (unsigned long long)size);
	if (size < d->size)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: shrinking a qcow2 image is not supported",
			       d->path);
	need = size / per_l2 + (size % per_l2 != 0);
	if (need > QCOW2_MAX_L1_BYTES / 8)
		return hv_fail(err, HV_EINVAL,
			       "%s: size %llu needs an L1 table over 32 MiB "
			       "(use a bigger cluster size)", d->path,
			       (unsigned long long)size);
	if (need > q->l1_size && grow_l1(d, (uint32_t)need, err) < 0)
		return -1;
	put_be64(v, size);
	if (qcow2_write_header_field(d, QH_SIZE, v, 8, err) < 0)
		return -1;
	d->size = size;
	return 0;
}
