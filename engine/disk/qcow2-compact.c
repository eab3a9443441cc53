/*
 * qcow2-compact.c - return all-zero data clusters and trim the file.
 *
 * A data cluster whose bytes are all zero is unmapped (no backing
 * file) or turned into a zero cluster (v3 with a backing file, where
 * unmapping would expose the parent); v2 images with a backing file
 * keep theirs. The L2 entry changes before the refcount drops, as in
 * every other path, and the file is then cut after the last cluster
 * still counted.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/disk/qcow2.h"

static bool
all_zero(const uint8_t *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* compact the clusters of one L2 table: unmap first, then free */
static int
compact_table(struct disk *d, uint64_t l1i, uint64_t *olde,
	      struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t l2_off = q->l1[l1i] & QCOW2_OFF_MASK, e, ne;
	uint32_t n = 0;
	uint8_t *l2;

	if (!l2_off || !(q->l1[l1i] & QCOW2_COPIED))
		return 0;	/* none, or shared with a snapshot */
	for (uint32_t i = 0; i < q->l2_entries; i++) {
		if (qcow2_l2_get(d, l1i, &l2, err) < 0)
			return -1;
		e = get_be64(l2 + 8 * (uint64_t)i);
		if (!(e & QCOW2_COPIED) || (e & (QCOW2_COMPRESSED | QCOW2_ZERO)) ||
		    !(e & QCOW2_OFF_MASK))
			continue;
		if (qcow2_check_l2_entry(d, e, err) < 0 ||
		    qcow2_pread_data(d, q->cow, q->cs, e & QCOW2_OFF_MASK,
				     err) < 0)
			return -1;
		if (!all_zero(q->cow, q->cs))
			continue;
		ne = d->parent_name ? QCOW2_ZERO : 0;
		if (qcow2_set_l2(d, l2_off, i, 1, &ne, err) < 0)
			return -1;
		olde[n++] = e;
	}
	if (n && qcow2_barrier(d, err) < 0)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		if (qcow2_free_entry(d, olde[i], err) < 0)
			return -1;
	return 0;
}

/* cut the file after the last cluster with a refcount */
static int
trim_file(struct disk *d, struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t last = 0, rc;

	for (uint64_t c = q->end_cluster; c > 0; c--) {
		if (qcow2_refcount_get(d, c - 1, &rc, err) < 0)
			return -1;
		if (rc) {
			last = c;
			break;
		}
	}
	if (last == 0 || last * q->cs >= q->file_size)
		return 0;
	if (dio_fsync(d->fd) < 0 || dio_ftruncate(d->fd, (off_t)(last * q->cs)) < 0)
		return hv_fail(err, HV_EIO, "%s: cannot shorten the file", d->path);
	q->file_size = last * q->cs;
	q->end_cluster = last;
	if (q->free_hint > last)
		q->free_hint = last;
	return 0;
}

int
qcow2_compact(struct disk *d, disk_progress_fn progress, void *ctx,
	      struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t *olde;
	int ret = 0;

	if (qcow2_prepare_write(d, err) < 0)
		return -1;
	if (d->parent_name && q->version < 3)
		return 0;
	olde = malloc((size_t)q->l2_entries * 8);
	if (!olde)
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	for (uint64_t l1i = 0; ret == 0 && l1i < q->l1_size; l1i++) {
		ret = compact_table(d, l1i, olde, err);
		if (progress)
			progress(ctx, l1i + 1, q->l1_size);
	}
	free(olde);
	return ret ? -1 : trim_file(d, err);
}
