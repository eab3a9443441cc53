/*
 * live-export.c - a running VM's disks, and its memory, copied to new images
 * without stopping it (hv vm export NAME DIR while it runs; Hyper-V's
 * live export).
 *
 * Each copy gets the disk's bytes through the VM's own handle while the
 * guest writes on; virtio-blk marks the blocks it writes meanwhile (the
 * storage-migration bitmap), and those are copied again in rounds until
 * few are left. Then the vCPUs stop and every virtio device's lock is
 * taken, so no request is half done: the last blocks are copied and the
 * state is written under those same locks. Saving after letting go of
 * them would not do: a request the I/O thread completed in between would
 * be done in the state (its used ring, the guest's memory of it) but
 * missing from the copied disk. A request still waiting in its queue is
 * in neither, and the restored VM serves it (each live queue gets a kick).
 * The copies and the state are synced once the VM runs again: that makes
 * them durable, not more consistent, and the guest does not wait for it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "engine/vm/dev/virtio-blk.h"
#include "engine/vm/state/snapshot.h"
#include "engine/vm/vmm-int.h"

#define CHUNK		(1u << 20)
#define ROUNDS		20	/* copy-again rounds before the pause */
#define FEW		16	/* blocks left that the pause may take */

struct copy {
	struct virtio_blk *b;
	struct disk *dst;
	const char *path;
	uint64_t size, words;
	bool made, mirror;
};

struct export {
	struct vmm *vm;
	const struct vmm_export_opts *o;
	struct vmm_export_result *r;
	struct copy c[VMM_MAX_DISKS];
	uint8_t *buf;
	uint64_t *tmp, words;
	uint64_t done, total;
	int state_fd;
};

static uint64_t
now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000 + (uint64_t)t.tv_nsec / 1000;
}

/* -1 when the caller wants it stopped */
static int
tick(struct export *x, struct hv_err *err)
{
	if (x->o->progress != NULL && !x->o->progress(x->o->opaque, x->done, x->total))
		return hv_fail(err, HV_EIO, "the export was cancelled");
	return 0;
}

/* a new image of disk i's size: the format asked, else like the disk */
static int
copy_create(struct export *x, int i, struct hv_err *err)
{
	struct copy *c = &x->c[i];
	struct disk_create_opts co = { .fmt = disk_format_parse(x->o->disks[i].format) };
	struct disk_info info;
	struct stat st;

	c->b = x->vm->blk[i];
	c->path = x->o->disks[i].path;
	c->size = virtio_blk_size(c->b);
	c->words = (c->size / BLK_MIRROR_BLOCK + 64) / 64;
	if (c->words > x->words)
		x->words = c->words;
	if (co.fmt == DISK_FMT_NONE)
		return hv_fail(err, HV_EINVAL, "disk %d: unknown format '%s'", i,
			       x->o->disks[i].format);
	if (virtio_blk_info(c->b, &info, err) != 0)
		return -1;
	if (info.fmt == co.fmt) {	/* a fixed disk's copy is fixed too */
		co.fixed = strcmp(info.subformat, "fixed") == 0;
		co.block_size = info.block_size;
	}
	co.size = c->size;
	if (lstat(c->path, &st) == 0)
		return hv_fail(err, HV_EEXIST, "%s: file exists; not overwriting it", c->path);
	if (disk_create(c->path, &co, err) != 0)
		return -1;
	c->made = true;
	if (disk_open(&c->dst, c->path, DISK_NOBACKING, err) != 0)
		return -1;
	if (disk_size(c->dst) < c->size)
		return hv_fail(err, HV_EINTERNAL, "%s: created smaller than the VM's disk %d",
			       c->path, i);
	return 0;
}

/* [off, +len) of the VM's disk into its copy; dirty: it may hold older data */
static int
copy_range(struct export *x, struct copy *c, bool held, bool dirty, uint64_t off,
	   uint32_t len, struct hv_err *err)
{
	if (virtio_blk_io(c->b, held, false, off, x->buf, len, err) != 0)
		return -1;
	if (x->buf[0] != 0 || memcmp(x->buf, x->buf + 1, len - 1) != 0) {
		x->r->disk_bytes += len;
		return disk_write(c->dst, off, x->buf, len, err);
	}
	/* zeros: a fresh image reads as zeros already */
	return dirty ? disk_write_zeroes(c->dst, off, len, err) : 0;
}

static int
copy_bulk(struct export *x, struct copy *c, struct hv_err *err)
{
	for (uint64_t off = 0; off < c->size; off += CHUNK) {
		uint32_t n = c->size - off < CHUNK ? (uint32_t)(c->size - off) : CHUNK;

		if (copy_range(x, c, false, false, off, n, err) != 0)
			return -1;
		x->done += n;
		if (tick(x, err) != 0)
			return -1;
	}
	return 0;
}

struct block {		/* copy_block's: one disk, held or not */
	struct export *x;
	struct copy *c;
	bool held;
};

static int
copy_block(void *ctx, uint64_t off, uint32_t len, struct hv_err *err)
{
	struct block *k = ctx;

	return copy_range(k->x, k->c, k->held, true, off, len, err);
}

/* the blocks the guest wrote since the last take, on every disk: their
   count, or -1 */
static int64_t
copy_dirty(struct export *x, bool held, struct hv_err *err)
{
	int64_t all = 0;

	for (int i = 0; i < x->o->ndisks; i++) {
		struct copy *c = &x->c[i];
		struct block k = { x, c, held };

		all += (int64_t)virtio_blk_mirror_take(c->b, held, x->tmp, c->words);
		if (virtio_blk_mirror_walk(c->b, x->tmp, c->words, copy_block, &k, err) != 0)
			return -1;
	}
	return all;
}

/* the copies and the state made durable; mirrors off */
static int
finish(struct export *x, struct hv_err *err)
{
	struct stat st;

	for (int i = 0; i < x->o->ndisks; i++)
		if (disk_flush(x->c[i].dst, err) != 0)
			return -1;
	if (x->state_fd >= 0) {
		if (fsync(x->state_fd) != 0)
			return hv_fail(err, HV_EIO, "%s: fsync: %s", x->o->state, strerror(errno));
		if (fstat(x->state_fd, &st) == 0)
			x->r->state_bytes = (uint64_t)st.st_size;
	}
	return 0;
}

/* the last blocks and the state, with the VM stopped and its devices held */
static int
last_pass(struct export *x, struct hv_err *err)
{
	int64_t n;
	int rc = -1;

	vdevs_lock(x->vm, true);
	n = copy_dirty(x, true, err);
	if (n >= 0) {
		x->r->last_blocks = (uint64_t)n;
		rc = x->state_fd >= 0 ? vmm_save_state_held(x->vm, x->state_fd, err) : 0;
	}
	vdevs_lock(x->vm, false);
	return rc;
}

static void
cleanup(struct export *x, bool failed)
{
	for (int i = 0; i < x->o->ndisks; i++) {
		struct copy *c = &x->c[i];

		if (c->mirror)
			virtio_blk_mirror(c->b, false);
		if (c->dst != NULL)
			disk_close(c->dst);
		if (failed && c->made)
			unlink(c->path);
	}
	if (x->state_fd >= 0) {
		close(x->state_fd);
		if (failed)
			unlink(x->o->state);
	}
	free(x->buf);
	free(x->tmp);
}

int
vmm_export(struct vmm *vm, const struct vmm_export_opts *o, struct vmm_export_result *r,
	   struct hv_err *err)
{
	struct export x = { .vm = vm, .o = o, .r = r, .state_fd = -1 };
	uint64_t t0 = now_us(), tp;
	bool was_paused;
	int rc = -1, i;

	memset(r, 0, sizeof *r);
	if (o->ndisks != vm->nblk || o->ndisks > VMM_MAX_DISKS)
		return hv_fail(err, HV_EINVAL, "the VM has %d disks, the export names %d",
			       vm->nblk, o->ndisks);
	x.buf = malloc(CHUNK);
	if (x.buf == NULL) {
		hv_fail(err, HV_EINTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < o->ndisks; i++)
		if (copy_create(&x, i, err) != 0)
			goto out;
	if (o->state != NULL) {
		x.state_fd = open(o->state, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (x.state_fd < 0) {
			hv_fail(err, HV_EIO, "%s: %s", o->state, strerror(errno));
			goto out;
		}
	}
	x.tmp = calloc(x.words ? x.words : 1, 8);
	if (x.tmp == NULL) {
		hv_fail(err, HV_EINTERNAL, "out of memory");
		goto out;
	}
	for (i = 0; i < o->ndisks; i++) {
		if (virtio_blk_mirror(x.c[i].b, true) != 0) {
			hv_fail(err, HV_EINTERNAL, "out of memory");
			goto out;
		}
		x.c[i].mirror = true;
		x.total += x.c[i].size;
	}
	for (i = 0; i < o->ndisks; i++)
		if (copy_bulk(&x, &x.c[i], err) != 0)
			goto out;
	while (r->rounds < ROUNDS) {
		int64_t n = copy_dirty(&x, false, err);

		r->rounds++;
		if (n < 0 || tick(&x, err) != 0)
			goto out;
		if (n < FEW)
			break;
	}

	was_paused = vmm_paused(vm);	/* paused by its admin: it stays so */
	tp = now_us();			/* the pause counts from asking for it */
	if (vmm_pause(vm) != 0) {
		hv_fail(err, HV_EIO, "the VM stopped during the export");
		goto out;
	}
	rc = last_pass(&x, err);
	if (!was_paused)
		vmm_resume(vm);
	r->pause_us = now_us() - tp;
	if (rc == 0)
		rc = finish(&x, err);
	if (rc == 0)
		vmm_log(vm, "export: %d rounds, %llu blocks while paused, paused %llu us%s",
			r->rounds, (unsigned long long)r->last_blocks,
			(unsigned long long)r->pause_us, o->state ? " with the state" : "");
out:
	cleanup(&x, rc != 0);
	r->total_ms = (now_us() - t0) / 1000;
	return rc;
}
