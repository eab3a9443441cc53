/*
 * qcow2-check.c - consistency check and repair.
 *
 * Count every reference to every host cluster (header, L1 tables of the
 * active image and of snapshots, L2 tables, data and compressed
 * clusters, refcount table and blocks, snapshot table) and compare with
 * the stored refcounts: a refcount below the references is an error
 * (the cluster could be handed out twice), above is a leak. Repair
 * rewrites each wrong refcount to the reference count, then checks
 * again to report what is left.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/disk/qcow2.h"

#define CHECK_MAX_CLUSTERS	(1ull << 27)	/* 256 MiB of counters */
#define CHECK_MAX_SNAPSHOTS	65536u

struct walk {
	struct disk *d;
	uint16_t *refs;
	uint64_t n;		/* clusters in the file */
	uint64_t fresh;		/* repair: clusters from here are new */
	struct disk_check_result *r;
	uint8_t *l2;		/* scratch cluster */
};

static void __attribute__((format(printf, 2, 3)))
problem(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	w->r->errors++;
	if (w->r->first[0])
		return;
	va_start(ap, fmt);
	vsnprintf(w->r->first, sizeof w->r->first, fmt, ap);
	va_end(ap);
}

static void
add_ref(struct walk *w, uint64_t off, uint64_t len, const char *what)
{
	struct qcow2 *q = w->d->priv;
	uint64_t first = off >> q->cluster_bits;
	uint64_t last = (off + len - 1) >> q->cluster_bits;

	if (len == 0)
		return;
	if (last >= w->n || off + len < off) {
		problem(w, "%s at 0x%llx is past the end of the file", what,
			(unsigned long long)off);
		return;
	}
	for (uint64_t c = first; c <= last; c++)
		if (w->refs[c] < UINT16_MAX)
			w->refs[c]++;
}

static void
walk_l2(struct walk *w, uint64_t l2_off)
{
	struct qcow2 *q = w->d->priv;
	struct hv_err e;

	if (qcow2_pread_meta(w->d, w->l2, q->cs, l2_off, "L2 table", &e) < 0) {
		problem(w, "%s", e.msg);
		return;
	}
	for (uint32_t i = 0; i < q->l2_entries; i++) {
		uint64_t ent = get_be64(w->l2 + 8 * (uint64_t)i), off, len;

		if (ent & QCOW2_COMPRESSED) {
			qcow2_compressed_span(q, ent, &off, &len);
			add_ref(w, off & ~511ull, len + (off & 511),
				"compressed cluster");
			continue;
		}
		off = ent & QCOW2_OFF_MASK;
		if (!off)
			continue;
		if (off & (q->cs - 1)) {
			problem(w, "L2 entry at 0x%llx is not cluster aligned (0x%llx)",
				(unsigned long long)(l2_off + 8 * i),
				(unsigned long long)off);
			continue;
		}
		add_ref(w, off, q->cs, "data cluster");
	}
}

static void
walk_l1(struct walk *w, uint64_t l1_off, uint32_t l1_size, bool active)
{
	struct qcow2 *q = w->d->priv;
	uint64_t bytes = (uint64_t)l1_size * 8;
	struct hv_err e;
	uint8_t *raw;

	if (l1_size == 0)
		return;
	if (l1_off & (q->cs - 1) || bytes > QCOW2_MAX_L1_BYTES) {
		problem(w, "snapshot L1 table at 0x%llx is invalid",
			(unsigned long long)l1_off);
		return;
	}
	add_ref(w, l1_off, bytes, "L1 table");
	raw = malloc(bytes);
	if (!raw) {
		problem(w, "out of memory");
		return;
	}
	if (!active && qcow2_pread_meta(w->d, raw, bytes, l1_off, "L1 table",
					&e) < 0) {
		problem(w, "%s", e.msg);
		free(raw);
		return;
	}
	for (uint32_t i = 0; i < l1_size; i++) {
		uint64_t ent = active ? q->l1[i] : get_be64(raw + 8 * (uint64_t)i);
		uint64_t off = ent & QCOW2_OFF_MASK;

		if (!off)
			continue;
		if (off & (q->cs - 1) || (ent & QCOW2_L1_RESERVED)) {
			problem(w, "L1 entry %u is invalid (0x%llx)", i,
				(unsigned long long)ent);
			continue;
		}
		add_ref(w, off, q->cs, "L2 table");
		if (off + q->cs <= q->file_size)
			walk_l2(w, off);
	}
	free(raw);
}

static void
walk_snapshots(struct walk *w)
{
	struct qcow2 *q = w->d->priv;
	uint64_t off = q->snapshots_off;
	uint8_t h[40];
	struct hv_err e;

	if (q->nb_snapshots == 0)
		return;
	if (q->nb_snapshots > CHECK_MAX_SNAPSHOTS || off & (q->cs - 1)) {
		problem(w, "snapshot table is invalid");
		return;
	}
	for (uint32_t i = 0; i < q->nb_snapshots; i++) {
		uint64_t len;

		if (qcow2_pread_meta(w->d, h, sizeof h, off, "snapshot table",
				     &e) < 0) {
			problem(w, "%s", e.msg);
			return;
		}
		len = 40 + (uint64_t)get_be32(h + 36) + get_be16(h + 12) +
		      get_be16(h + 14);
		walk_l1(w, get_be64(h), get_be32(h + 8), false);
		off += (len + 7) & ~7ull;
	}
	add_ref(w, q->snapshots_off, off - q->snapshots_off, "snapshot table");
}

static void
walk_all(struct walk *w)
{
	struct qcow2 *q = w->d->priv;

	add_ref(w, 0, q->cs, "header");
	walk_l1(w, q->l1_off, q->l1_size, true);
	walk_snapshots(w);
	add_ref(w, q->rct_off, (uint64_t)q->rct_clusters * q->cs,
		"refcount table");
	for (uint64_t ri = 0; ri < q->rct_entries; ri++) {
		uint64_t off = q->rct[ri] & ~QCOW2_RCT_RESERVED;

		if (!off)
			continue;
		if (off & (q->cs - 1)) {
			problem(w, "refcount block %llu is not cluster aligned",
				(unsigned long long)ri);
			continue;
		}
		add_ref(w, off, q->cs, "refcount block");
	}
}

/* compare one cluster; repair sets the refcount to the references */
static int
compare(struct walk *w, uint64_t c, uint64_t rc, bool repair,
	struct hv_err *err)
{
	uint64_t refs = c < w->n ? w->refs[c] : 0;

	if (refs == rc)
		return 0;
	if (refs > rc)
		problem(w, "cluster %llu has refcount %llu but %llu references",
			(unsigned long long)c, (unsigned long long)rc,
			(unsigned long long)refs);
	else
		w->r->leaks++;
	if (!repair || c >= w->fresh)
		return 0;
	return qcow2_refcount_set(w->d, c, refs, err);
}

static int
compare_all(struct walk *w, bool repair, struct hv_err *err)
{
	struct qcow2 *q = w->d->priv;
	struct hv_err e;

	for (uint64_t ri = 0; ri < q->rct_entries; ri++) {
		uint64_t base = ri * q->rb_entries;
		uint64_t off = q->rct[ri] & ~QCOW2_RCT_RESERVED;

		if (!off && base >= w->n)
			continue;
		for (uint64_t i = 0; i < q->rb_entries; i++) {
			uint64_t rc = 0;

			if (off && (off & (q->cs - 1) || off + q->cs > q->file_size))
				break;	/* counted by walk_all / add_ref */
			if (off && qcow2_refcount_get(w->d, base + i, &rc, &e) < 0) {
				problem(w, "%s", e.msg);
				break;
			}
			if (!off && base + i >= w->n)
				break;
			if (compare(w, base + i, rc, repair, err) < 0)
				return -1;
		}
	}
	/* references past what the refcount table covers */
	for (uint64_t c = q->rct_entries * q->rb_entries; c < w->n; c++)
		if (compare(w, c, 0, repair, err) < 0)
			return -1;
	return 0;
}


/* a wrong refcount is reported once, not again as a wrong flag */
static bool
refs_agree(const struct walk *w, uint64_t c, uint64_t rc)
{
	return c < w->n && w->refs[c] == rc;
}

/* bit 63 must say "refcount is exactly 1" in the active tables */
static int
copied_l2(struct walk *w, uint64_t l2_off, bool repair, struct hv_err *err)
{
	struct qcow2 *q = w->d->priv;
	struct hv_err e;
	uint64_t rc = 0, ent, want;
	uint8_t *l2;

	for (uint32_t i = 0; i < q->l2_entries; i++) {
		if (qcow2_cache_get(w->d, &q->l2c, l2_off, &l2, false, &e) < 0)
			return 0;	/* reported by walk_l2 */
		ent = get_be64(l2 + 8 * (uint64_t)i);
		if (ent & QCOW2_COMPRESSED) {
			want = ent & ~QCOW2_COPIED;
		} else {
			if (!(ent & QCOW2_OFF_MASK) ||
			    (ent & QCOW2_OFF_MASK & (q->cs - 1)) ||
			    qcow2_refcount_get(w->d, (ent & QCOW2_OFF_MASK) >>
					       q->cluster_bits, &rc, &e) < 0)
				continue;
			want = rc == 1 ? ent | QCOW2_COPIED : ent & ~QCOW2_COPIED;
		}
		if (want == ent || (!(ent & QCOW2_COMPRESSED) &&
				    !refs_agree(w, (ent & QCOW2_OFF_MASK) >>
						q->cluster_bits, rc)))
			continue;
		problem(w, "L2 entry %u at 0x%llx has a wrong copied flag", i,
			(unsigned long long)l2_off);
		if (repair && qcow2_set_l2(w->d, l2_off, i, 1, &want, err) < 0)
			return -1;
	}
	return 0;
}

static int
check_copied(struct walk *w, bool repair, struct hv_err *err)
{
	struct qcow2 *q = w->d->priv;
	struct hv_err e;
	uint64_t rc, off, want;
	uint8_t v[8];

	for (uint32_t i = 0; i < q->l1_size; i++) {
		off = q->l1[i] & QCOW2_OFF_MASK;
		if (!off || off & (q->cs - 1) || off + q->cs > q->file_size ||
		    qcow2_refcount_get(w->d, off >> q->cluster_bits, &rc, &e) < 0)
			continue;
		want = rc == 1 ? q->l1[i] | QCOW2_COPIED : q->l1[i] & ~QCOW2_COPIED;
		if (want != q->l1[i] && refs_agree(w, off >> q->cluster_bits, rc)) {
			problem(w, "L1 entry %u has a wrong copied flag", i);
			if (repair) {
				q->l1[i] = want;
				put_be64(v, want);
				if (qcow2_pwrite(w->d, v, 8, q->l1_off + 8ull * i,
						 err) < 0)
					return -1;
			}
		}
		if (copied_l2(w, off, repair, err) < 0)
			return -1;
	}
	return 0;
}

static int
run_check(struct disk *d, bool repair, struct disk_check_result *r,
	  struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	struct walk w = { .d = d, .r = r, .fresh = q->end_cluster };
	int ret;

	w.n = qcow2_bytes_to_clusters(q, q->file_size);
	if (w.n > CHECK_MAX_CLUSTERS)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: too many clusters to check (%llu)", d->path,
			       (unsigned long long)w.n);
	w.refs = calloc(w.n ? w.n : 1, sizeof *w.refs);
	w.l2 = malloc(q->cs);
	if (!w.refs || !w.l2) {
		free(w.refs);
		free(w.l2);
		return hv_fail(err, HV_EIO, "%s: out of memory", d->path);
	}
	memset(r, 0, sizeof *r);
	walk_all(&w);
	ret = compare_all(&w, repair, err);
	if (ret == 0)
		ret = check_copied(&w, repair, err);
	free(w.refs);
	free(w.l2);
	return ret;
}

int
qcow2_check(struct disk *d, bool repair, struct disk_check_result *r,
	    struct hv_err *err)
{
	struct qcow2 *q = d->priv;
	uint64_t before;

	if (run_check(d, false, r, err) < 0)
		return -1;
	if (!repair || (r->errors == 0 && r->leaks == 0))
		return 0;
	if (!q->writable)
		return hv_fail(err, HV_EINVAL, "%s: repair needs a writable image",
			       d->path);
	if (q->has_bitmaps)
		return hv_fail(err, HV_ENOTSUP,
			       "%s: cannot repair an image with persistent bitmaps",
			       d->path);
	before = r->errors + r->leaks;
	/* new refcount blocks must go past every referenced cluster */
	if (qcow2_find_end(d, err) < 0)
		return -1;
	if (q->end_cluster < qcow2_bytes_to_clusters(q, q->file_size))
		q->end_cluster = qcow2_bytes_to_clusters(q, q->file_size);
	if (run_check(d, true, r, err) < 0)
		return -1;
	if (run_check(d, false, r, err) < 0)
		return -1;
	r->repaired = before > r->errors + r->leaks ?
		      before - (r->errors + r->leaks) : 0;
	return 0;
}
