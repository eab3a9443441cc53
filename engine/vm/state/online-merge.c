/*
 * online-merge.c - merging a running VM's differencing disk into its parent
 * (hv checkpoint delete while the VM runs; Hyper-V's online merge).
 *
 * The guest goes on writing to the child while its allocated ranges are
 * copied into the parent (through the worker's own handle, the device
 * lock held a chunk at a time); virtio-blk marks what the guest writes
 * meanwhile (the storage-migration bitmap), and those blocks are copied
 * again until few are left. Then, with the device lock held, the last
 * ones go, the parent is flushed and becomes the device's image; the
 * child is closed and the caller deletes it. On any failure the VM goes
 * on with the child, as before: the parent only ever gained data the
 * child already had over it, which nothing reads through the parent.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "engine/disk/disk.h"
#include "engine/vm/dev/virtio-blk.h"
#include "engine/vm/vmm-int.h"

#define CHUNK		(1u << 20)
#define ROUNDS		20	/* copy-again rounds before the last one */

struct merge {
	struct virtio_blk *b;
	struct disk *parent;
	uint8_t *buf;
	uint64_t size, words, *dirty, *tmp;
	uint64_t done, total;
	void (*progress)(void *, uint64_t, uint64_t);
	void *opaque;
};

static int
copy_range(struct merge *m, bool held, uint64_t off, uint64_t len, struct hv_err *err)
{
	while (len > 0) {
		uint32_t n = len < CHUNK ? (uint32_t)len : CHUNK;

		if (virtio_blk_io(m->b, held, false, off, m->buf, n, err) != 0 ||
		    disk_write(m->parent, off, m->buf, n, err) != 0)
			return -1;
		off += n;
		len -= n;
		m->done += n;
	}
	return 0;
}

/* what the child holds itself: every range it allocated */
static int
copy_allocated(struct merge *m, struct hv_err *err)
{
	uint64_t off = 0;

	m->total = m->size;
	while (off < m->size) {
		uint64_t pnum = 0, len = m->size - off < 64 * (uint64_t)CHUNK ? m->size - off : 64 * (uint64_t)CHUNK;
		int st = virtio_blk_layer_status(m->b, off, len, &pnum, err);

		if (st < 0)
			return -1;
		if (pnum == 0)
			pnum = DISK_SECTOR;
		if (st == DISK_ST_DATA || st == DISK_ST_ZERO) {
			if (copy_range(m, false, off, pnum, err) != 0)
				return -1;
		} else {
			m->done += pnum;
		}
		off += pnum;
		if (m->progress)
			m->progress(m->opaque, off, m->size);
	}
	return 0;
}

struct block {		/* copy_block's: one disk, held or not */
	struct merge *m;
	bool held;
};

static int
copy_block(void *ctx, uint64_t off, uint32_t len, struct hv_err *err)
{
	struct block *k = ctx;

	return copy_range(k->m, k->held, off, len, err);
}

/* the blocks the guest wrote since the last round; their count */
static uint64_t
copy_dirty(struct merge *m, bool held, struct hv_err *err, int *rc)
{
	uint64_t n = virtio_blk_mirror_take(m->b, held, m->tmp, m->words);
	struct block k = { m, held };

	*rc = virtio_blk_mirror_walk(m->b, m->tmp, m->words, copy_block, &k, err);
	return n;
}

int
vmm_disk_merge(struct vmm *vm, int disk, const char *parent,
	       void (*progress)(void *opaque, uint64_t done, uint64_t total), void *opaque,
	       struct hv_err *err)
{
	struct merge m = { .progress = progress, .opaque = opaque };
	char want[PATH_MAX], have[PATH_MAX];
	int rc = -1, r;

	if (disk < 0 || disk >= vm->nblk)
		return hv_fail(err, HV_EINVAL, "the VM has no disk %d", disk);
	m.b = vm->blk[disk];
	const char *cur = virtio_blk_parent_path(m.b);

	if (cur == NULL || realpath(cur, have) == NULL || realpath(parent, want) == NULL ||
	    strcmp(have, want) != 0)
		return hv_fail(err, HV_EINVAL, "%s is not the parent of the VM's disk %d", parent, disk);
	m.size = virtio_blk_size(m.b);
	m.words = (m.size / BLK_MIRROR_BLOCK + 64) / 64;
	m.buf = malloc(CHUNK);
	m.tmp = calloc(m.words, 8);
	if (m.buf == NULL || m.tmp == NULL || virtio_blk_mirror(m.b, true) != 0) {
		hv_fail(err, HV_EINTERNAL, "out of memory");
		goto out;
	}
	if (disk_open(&m.parent, want, 0, err) != 0)
		goto out;
	if (disk_size(m.parent) != m.size) {
		hv_fail(err, HV_EINVAL, "%s: its size differs from its child's", want);
		goto out;
	}
	if (copy_allocated(&m, err) != 0)
		goto out;
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t n = copy_dirty(&m, false, err, &r);

		if (r != 0)
			goto out;
		if (n < 16)
			break;
	}
	/* the last blocks and the switch, with the guest's I/O held */
	virtio_blk_lock(m.b, true);
	copy_dirty(&m, true, err, &r);
	if (r == 0 && disk_flush(m.parent, err) == 0) {
		virtio_blk_swap(m.b, m.parent, want);
		m.parent = NULL;
		rc = 0;
	}
	virtio_blk_lock(m.b, false);
out:
	virtio_blk_mirror(m.b, false);
	if (m.parent != NULL)
		disk_close(m.parent);
	free(m.buf);
	free(m.tmp);
	return rc;
}
