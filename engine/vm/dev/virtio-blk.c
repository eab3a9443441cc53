/*
 * virtio-blk.c - virtio block device (virtio 1.2, 5.2) over engine/disk:
 * read, write, flush, get-id (serial), discard and write-zeroes, one
 * request queue. Requests are served synchronously on the I/O thread
 * (or the vCPU on an MMIO kick) through a bounce buffer, so a segment
 * of any size and alignment works and the disk sees whole sectors.
 *
 * Storage QoS (blk-qos.c): each request costs normalized IOs and bytes;
 * when a bucket is short, the popped request waits in the device, the
 * queue is not popped further, and a timerfd on the I/O thread resumes
 * it when the tokens are there (virtio-net's transmit path does the
 * same). The host's arbiter may change the IOPS rate while it runs.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "engine/vm/dev/virtio-blk.h"
#include "engine/vm/dev/virtio-pci.h"
#include "engine/vm/host/blk-qos.h"

#define VIRTIO_ID_BLOCK		2
#define QUEUE_SIZE		256

#define BLK_F_SIZE_MAX		1
#define BLK_F_SEG_MAX		2
#define BLK_F_RO		5
#define BLK_F_BLK_SIZE		6
#define BLK_F_FLUSH		9
#define BLK_F_DISCARD		13
#define BLK_F_WRITE_ZEROES	14

#define T_IN			0
#define T_OUT			1
#define T_FLUSH			4
#define T_GET_ID		8
#define T_DISCARD		11
#define T_WRITE_ZEROES		13

#define S_OK			0
#define S_IOERR			1
#define S_UNSUPP		2

#define SIZE_MAX_SEG		(1u << 20)	/* bytes in one segment */
#define SEG_MAX			(QUEUE_SIZE - 2)
#define REQ_MAX			(4u << 20)	/* bytes in one request */
#define CONFIG_LEN		60

struct virtio_blk {
	struct virtio_dev vdev;
	struct virtio_pci *vp;
	struct disk *disk;
	uint64_t sectors;
	bool ro;
	char serial[21];
	uint8_t config[CONFIG_LEN];
	struct vmm_disk_stats st;	/* under vdev.lock */
	uint8_t *bounce;
	struct vq_chain chain;
	/* storage QoS; `chain` is a request that waits for tokens while
	   pending, the queue is not popped while the timer is armed */
	struct blk_qos qos;
	uint64_t max_iops;	/* the configured limit; 0: none */
	int timer_fd;
	bool pending, timer_armed;
	uint64_t held_since;	/* when QoS began holding the queue; 0: not */
	uint64_t *mirror;	/* storage migration: a bit per changed block */
	char *path;
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool
in_range(struct virtio_blk *b, uint64_t sector, uint64_t bytes)
{
	return sector <= b->sectors && bytes / 512 <= b->sectors - sector &&
	       bytes % 512 == 0;
}

/* the guest changed [sector, +bytes): a mirror sends it again */
static void
mirror_mark(struct virtio_blk *b, uint64_t sector, uint64_t bytes)
{
	uint64_t first, last;

	if (b->mirror == NULL || bytes == 0)
		return;
	first = sector * 512 / BLK_MIRROR_BLOCK;
	last = (sector * 512 + bytes - 1) / BLK_MIRROR_BLOCK;
	for (uint64_t k = first; k <= last; k++)
		b->mirror[k / 64] |= 1ull << (k % 64);
}

static uint8_t
do_read(struct virtio_blk *b, const struct vq_chain *c, uint64_t sector,
	uint32_t *written)
{
	uint32_t len = c->in_len - 1;
	struct hv_err err;

	if (len > REQ_MAX || !in_range(b, sector, len))
		return S_IOERR;
	if (disk_read(b->disk, sector * 512, b->bounce, len, &err) != 0) {
		vmm_log(b->vdev.vm, "%s: %s", b->vdev.name, err.msg);
		return S_IOERR;
	}
	vq_chain_write(c, 0, b->bounce, len);
	*written = len;
	b->st.reads++;
	b->st.read_bytes += len;
	return S_OK;
}

static uint8_t
do_write(struct virtio_blk *b, const struct vq_chain *c, uint64_t sector)
{
	uint32_t len = c->out_len - 16;
	struct hv_err err;

	if (b->ro || len > REQ_MAX || !in_range(b, sector, len))
		return S_IOERR;
	vq_chain_read(c, 16, b->bounce, len);
	if (disk_write(b->disk, sector * 512, b->bounce, len, &err) != 0) {
		vmm_log(b->vdev.vm, "%s: %s", b->vdev.name, err.msg);
		return S_IOERR;
	}
	mirror_mark(b, sector, len);
	b->st.writes++;
	b->st.write_bytes += len;
	return S_OK;
}

/* discard / write-zeroes: one segment {le64 sector, le32 n, le32 flags} */
static uint8_t
do_range(struct virtio_blk *b, const struct vq_chain *c, uint32_t type)
{
	uint8_t seg[16];
	uint64_t sector, bytes;
	struct hv_err err;
	int rc;

	if (b->ro || c->out_len != 32 || vq_chain_read(c, 16, seg, 16) != 16)
		return S_IOERR;
	sector = get_le64(seg);
	bytes = (uint64_t)get_le32(seg + 8) * 512;
	if (!in_range(b, sector, bytes))
		return S_IOERR;
	mirror_mark(b, sector, bytes);
	if (type == T_DISCARD) {
		rc = disk_discard(b->disk, sector * 512, bytes, &err);
		b->st.discards++;
	} else {
		rc = disk_write_zeroes(b->disk, sector * 512, bytes, &err);
		b->st.write_zeroes++;
	}
	if (rc != 0) {
		vmm_log(b->vdev.vm, "%s: %s", b->vdev.name, err.msg);
		return S_IOERR;
	}
	return S_OK;
}

static uint8_t
do_request(struct virtio_blk *b, const struct vq_chain *c, uint32_t *written)
{
	uint8_t hdr[16], id[20] = { 0 };
	struct hv_err err;
	uint32_t type;

	*written = 0;
	if (vq_chain_read(c, 0, hdr, 16) != 16)
		return S_IOERR;
	type = get_le32(hdr);
	switch (type) {
	case T_IN:
		return do_read(b, c, get_le64(hdr + 8), written);
	case T_OUT:
		return do_write(b, c, get_le64(hdr + 8));
	case T_FLUSH:
		b->st.flushes++;
		if (disk_flush(b->disk, &err) != 0) {
			vmm_log(b->vdev.vm, "%s: %s", b->vdev.name, err.msg);
			return S_IOERR;
		}
		return S_OK;
	case T_GET_ID:
		b->st.other++;
		memcpy(id, b->serial, strnlen(b->serial, 20));
		*written = vq_chain_write(c, 0, id, c->in_len - 1 < 20 ?
					  c->in_len - 1 : 20);
		return S_OK;
	case T_DISCARD:
	case T_WRITE_ZEROES:
		return do_range(b, c, type);
	}
	b->st.other++;
	return S_UNSUPP;
}

/* what a request costs under QoS; false for those it lets through
   (get-id, unknown types: no disk work) */
static bool
request_cost(const struct vq_chain *c, uint64_t *ios, uint64_t *bytes)
{
	uint8_t hdr[16];

	if (vq_chain_read(c, 0, hdr, 16) != 16)
		return false;
	switch (get_le32(hdr)) {
	case T_IN:
		*bytes = c->in_len - 1;
		break;
	case T_OUT:
		*bytes = c->out_len > 16 ? c->out_len - 16 : 0;
		break;
	case T_FLUSH:
	case T_DISCARD:
	case T_WRITE_ZEROES:
		*bytes = 0;
		break;
	default:
		return false;
	}
	*ios = blk_qos_cost(*bytes);
	return true;
}

static void
arm_timer(struct virtio_blk *b, uint64_t ns)
{
	struct itimerspec its = { .it_value = { (time_t)(ns / 1000000000ull),
						(long)(ns % 1000000000ull) } };

	if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
		its.it_value.tv_nsec = 1;
	if (timerfd_settime(b->timer_fd, 0, &its, NULL) == 0)
		b->timer_armed = true;
}

/* may the pending request go now? if not, the timer will say when */
static bool
qos_admit(struct virtio_blk *b, uint64_t ios, uint64_t bytes)
{
	uint64_t now = now_ns(), wait = 0;

	if (blk_qos_limited(&b->qos) &&
	    !blk_qos_take(&b->qos, ios, bytes, now, &wait)) {
		if (b->held_since == 0) {
			b->held_since = now;
			b->st.throttled++;
		}
		arm_timer(b, wait);
		return false;
	}
	if (b->held_since != 0) {
		b->st.throttled_ns += now - b->held_since;
		b->held_since = 0;
	}
	b->st.normalized_ios += ios;
	return true;
}

/* serve the queue until it is empty or QoS holds it; d->lock held */
static void
blk_pump(struct virtio_blk *b)
{
	struct virtio_dev *d = &b->vdev;
	struct vq_chain *c = &b->chain;
	uint64_t ios, bytes;
	bool pushed = false;
	uint32_t written;
	uint8_t status;

	if (b->timer_armed)
		return;		/* the timer resumes us */
	for (;;) {
		if (!b->pending) {
			if (virtq_pop(d, 0, c) != 1)
				break;
			if (c->in_len < 1) {
				virtio_needs_reset(d, "request without a status byte");
				return;
			}
			b->pending = true;
		}
		if (request_cost(c, &ios, &bytes) && !qos_admit(b, ios, bytes))
			break;
		b->pending = false;
		status = do_request(b, c, &written);
		if (status != S_OK)
			b->st.errors++;
		vq_chain_write(c, c->in_len - 1, &status, 1);
		virtq_push(d, 0, c->head, written + 1);
		pushed = true;
	}
	if (pushed)
		virtq_notify_guest(d, 0);
}

static void
blk_notify(struct virtio_dev *d, int q)
{
	blk_pump((struct virtio_blk *)d);
}

static void
timer_fired(void *opaque)
{
	struct virtio_blk *b = opaque;

	pthread_mutex_lock(&b->vdev.lock);
	b->timer_armed = false;
	blk_pump(b);
	pthread_mutex_unlock(&b->vdev.lock);
}

static void
blk_reset(struct virtio_dev *d)
{
	struct virtio_blk *b = (struct virtio_blk *)d;

	/* the request we held belongs to a ring that no longer exists */
	b->pending = false;
	if (b->held_since != 0)
		b->st.throttled_ns += now_ns() - b->held_since;
	b->held_since = 0;
}

/* a request storage QoS holds back was taken off the ring, not done */
static int
blk_held(struct virtio_dev *d, int q)
{
	return q == 0 && ((struct virtio_blk *)d)->pending;
}

static const struct virtio_ops blk_ops = {
	.notify = blk_notify,
	.reset = blk_reset,
	.held = blk_held,
};

static void
fill_config(struct virtio_blk *b)
{
	uint8_t *c = b->config;

	put_le64(c + 0, b->sectors);		/* capacity */
	put_le32(c + 8, SIZE_MAX_SEG);		/* size_max */
	put_le32(c + 12, SEG_MAX);		/* seg_max */
	put_le32(c + 20, 512);			/* blk_size */
	put_le16(c + 34, 1);			/* num_queues */
	put_le32(c + 36, REQ_MAX / 512);	/* max_discard_sectors */
	put_le32(c + 40, 1);			/* max_discard_seg */
	put_le32(c + 44, 1);			/* discard_sector_alignment */
	put_le32(c + 48, REQ_MAX / 512);	/* max_write_zeroes_sectors */
	put_le32(c + 52, 1);			/* max_write_zeroes_seg */
	c[56] = 1;				/* write_zeroes_may_unmap */
}

int
virtio_blk_create(struct vmm *vm, const struct vmm_disk_config *dc,
		  struct hv_err *err)
{
	struct virtio_blk *b;
	char name[24];

	if (vm->nblk >= VMM_MAX_DISKS)
		return hv_fail(err, HV_EINVAL, "too many disks");
	b = calloc(1, sizeof(*b));
	if (!b)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	vm->blk[vm->nblk++] = b;	/* vmm_destroy frees it from here */
	b->timer_fd = -1;
	snprintf(name, sizeof name, "virtio-blk%d", vm->nblk - 1);
	virtio_init(&b->vdev, vm, &vm->mem, name, VIRTIO_ID_BLOCK, 1, QUEUE_SIZE);
	b->bounce = malloc(REQ_MAX);
	if (!b->bounce)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (disk_open(&b->disk, dc->path, dc->readonly ? DISK_RDONLY : 0,
		      err) != 0)
		return -1;
	b->ro = dc->readonly;
	b->path = strdup(dc->path);
	if (b->path == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	b->sectors = disk_size(b->disk) / 512;
	snprintf(b->serial, sizeof b->serial, "%s", dc->serial);
	b->vdev.host_features |= 1ull << BLK_F_SIZE_MAX | 1ull << BLK_F_SEG_MAX |
		1ull << BLK_F_BLK_SIZE | 1ull << BLK_F_FLUSH |
		(b->ro ? 1ull << BLK_F_RO :
		 1ull << BLK_F_DISCARD | 1ull << BLK_F_WRITE_ZEROES);
	fill_config(b);
	b->vdev.config = b->config;
	b->vdev.config_len = CONFIG_LEN;
	b->vdev.ops = &blk_ops;
	b->max_iops = dc->max_iops;
	blk_qos_init(&b->qos, dc->max_iops, dc->max_bw, now_ns());
	b->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timer_fd < 0)
		return hv_fail(err, HV_EIO, "%s: timerfd: %s", name, strerror(errno));
	if (io_watch(vm, b->timer_fd, timer_fired, b) != 0)
		return hv_fail(err, HV_EIO, "%s: cannot watch its QoS timer", name);
	return virtio_pci_add(vm, &b->vdev, 0x018000, &b->vp, err);
}

void
virtio_blk_destroy(struct virtio_blk *b)
{
	struct hv_err err;

	if (!b)
		return;
	virtio_pci_free(b->vp);
	if (b->disk) {
		if (!b->ro && disk_flush(b->disk, &err) != 0)
			vmm_log(b->vdev.vm, "%s: %s", b->vdev.name, err.msg);
		disk_close(b->disk);
	}
	if (b->timer_fd >= 0)
		close(b->timer_fd);
	pthread_mutex_destroy(&b->vdev.lock);
	free(b->bounce);
	free(b->mirror);
	free(b->path);
	free(b);
}

void
virtio_blk_stats(struct virtio_blk *b, struct vmm_disk_stats *s)
{
	pthread_mutex_lock(&b->vdev.lock);
	*s = b->st;
	if (b->held_since != 0)
		s->throttled_ns += now_ns() - b->held_since;
	pthread_mutex_unlock(&b->vdev.lock);
}

/* vmm.h's, kept beside the bucket it changes; from the worker's thread */
int
vmm_disk_set_iops(struct vmm *vm, int disk, uint64_t iops)
{
	struct virtio_blk *b;

	if (disk < 0 || disk >= vm->nblk)
		return -1;
	b = vm->blk[disk];
	if (b->max_iops != 0 && (iops == 0 || iops > b->max_iops))
		iops = b->max_iops;	/* never above the disk's own maximum */
	pthread_mutex_lock(&b->vdev.lock);
	blk_qos_set_iops(&b->qos, iops, now_ns());
	if (b->timer_armed)
		arm_timer(b, 0);	/* a waiting request: look again */
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

/* the core's view, for the VM's saved state (snapshot.c) */
struct virtio_dev *
virtio_blk_vdev(struct virtio_blk *b)
{
	return &b->vdev;
}

/* --- storage migration (state/precopy.c) ------------------------------ */

uint64_t
virtio_blk_size(struct virtio_blk *b)
{
	return b->sectors * 512;
}

int
virtio_blk_mirror(struct virtio_blk *b, bool on)
{
	uint64_t words = (virtio_blk_size(b) / BLK_MIRROR_BLOCK + 64) / 64;
	uint64_t *m = on ? calloc(words, sizeof *m) : NULL;

	if (on && m == NULL)
		return -1;
	pthread_mutex_lock(&b->vdev.lock);
	free(b->mirror);
	b->mirror = m;
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

uint64_t
virtio_blk_mirror_take(struct virtio_blk *b, bool held, uint64_t *out, uint64_t words)
{
	uint64_t n = 0, have = (virtio_blk_size(b) / BLK_MIRROR_BLOCK + 64) / 64;

	if (!held)
		pthread_mutex_lock(&b->vdev.lock);
	for (uint64_t i = 0; i < words; i++) {
		out[i] = b->mirror != NULL && i < have ? b->mirror[i] : 0;
		if (b->mirror != NULL && i < have)
			b->mirror[i] = 0;
		n += (uint64_t)__builtin_popcountll(out[i]);
	}
	if (!held)
		pthread_mutex_unlock(&b->vdev.lock);
	return n;
}

int
virtio_blk_mirror_walk(struct virtio_blk *b, const uint64_t *bm, uint64_t words,
		       int (*fn)(void *ctx, uint64_t off, uint32_t len, struct hv_err *err),
		       void *ctx, struct hv_err *err)
{
	uint64_t size = virtio_blk_size(b);

	for (uint64_t w = 0; w < words; w++) {
		for (uint64_t bits = bm[w]; bits != 0; bits &= bits - 1) {
			uint64_t off = (w * 64 + (uint64_t)__builtin_ctzll(bits)) * BLK_MIRROR_BLOCK;

			if (off >= size)
				return 0;
			if (fn(ctx, off, size - off < BLK_MIRROR_BLOCK ? (uint32_t)(size - off) :
			       BLK_MIRROR_BLOCK, err) != 0)
				return -1;
		}
	}
	return 0;
}

int
virtio_blk_io(struct virtio_blk *b, bool held, bool write, uint64_t off, void *buf,
	      size_t len, struct hv_err *err)
{
	int rc;

	if (!held)
		pthread_mutex_lock(&b->vdev.lock);
	if (!write)
		rc = disk_read(b->disk, off, buf, len, err);
	else if (buf == NULL)
		rc = disk_write_zeroes(b->disk, off, len, err);
	else
		rc = disk_write(b->disk, off, buf, len, err);
	if (!held)
		pthread_mutex_unlock(&b->vdev.lock);
	return rc;
}

/* d->lock held: the source's last writes are on disk (shared storage) */
int
virtio_blk_flush(struct virtio_blk *b, struct hv_err *err)
{
	return b->ro ? 0 : disk_flush(b->disk, err);
}

/*
 * On shared storage the destination opened the image while the source
 * still wrote it: what it cached of the metadata (a VHDX or qcow2 table)
 * may be stale. Open it again once the source has flushed and stopped.
 */
int
virtio_blk_reopen(struct virtio_blk *b, struct hv_err *err)
{
	struct disk *d;

	if (disk_open(&d, b->path, b->ro ? DISK_RDONLY : 0, err) != 0)
		return -1;
	if (disk_size(d) / 512 != b->sectors) {
		disk_close(d);
		return hv_fail(err, HV_EINVAL, "%s: its size changed during the migration", b->path);
	}
	pthread_mutex_lock(&b->vdev.lock);
	disk_close(b->disk);
	b->disk = d;
	pthread_mutex_unlock(&b->vdev.lock);
	return 0;
}

int
virtio_blk_info(struct virtio_blk *b, struct disk_info *info, struct hv_err *err)
{
	int rc;

	pthread_mutex_lock(&b->vdev.lock);
	rc = disk_get_info(b->disk, info, err);
	pthread_mutex_unlock(&b->vdev.lock);
	return rc;
}

/* --- online merge (state/online-merge.c) ------------------------------ */

int
virtio_blk_layer_status(struct virtio_blk *b, uint64_t off, uint64_t len, uint64_t *pnum,
			struct hv_err *err)
{
	int st;

	pthread_mutex_lock(&b->vdev.lock);
	st = disk_block_status(b->disk, off, len, pnum, err);
	pthread_mutex_unlock(&b->vdev.lock);
	return st;
}

const char *
virtio_blk_parent_path(struct virtio_blk *b)
{
	struct disk *p = disk_parent(b->disk);

	return p ? disk_path(p) : NULL;
}

void
virtio_blk_lock(struct virtio_blk *b, bool lock)
{
	if (lock)
		pthread_mutex_lock(&b->vdev.lock);
	else
		pthread_mutex_unlock(&b->vdev.lock);
}

/* the lock held: d (at path) is the device's image from now on */
void
virtio_blk_swap(struct virtio_blk *b, struct disk *d, const char *path)
{
	char *p = strdup(path);

	disk_close(b->disk);
	b->disk = d;
	if (p != NULL) {
		free(b->path);
		b->path = p;
	}
}
