/*
 * virtio-balloon.c - the memory balloon (virtio 1.2, 5.5) behind dynamic
 * memory. The VM's RAM is its maximum memory; the host sets how many
 * pages the balloon should hold (num_pages), the guest hands those page
 * frames over on the inflate queue, and the VMM gives their memory back
 * to the host (MADV_DONTNEED: the worker's RSS falls). Deflating hands
 * pages back; they fault in again, zeroed, when the guest touches them.
 * The stats queue is how the host learns the guest's demand: the driver
 * keeps one buffer there, the device returns it to ask for fresh numbers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "engine/vm/dev/virtio-balloon.h"
#include "engine/vm/dev/virtio-pci.h"
#include "engine/vm/state/snap-io.h"

#define VIRTIO_ID_BALLOON	5
#define QUEUE_SIZE		128
#define INFLATEQ		0
#define DEFLATEQ		1
#define STATSQ			2

#define BALLOON_F_STATS_VQ	1
#define BALLOON_F_DEFLATE_ON_OOM 2

#define PAGE			4096u
#define CONFIG_LEN		8

struct virtio_balloon {
	struct virtio_dev vdev;
	struct virtio_pci *vp;
	uint8_t config[CONFIG_LEN];	/* num_pages, actual */
	struct vmm_balloon_info info;	/* under vdev.lock */
	struct vq_chain chain;
	bool stats_held;		/* the driver's stats buffer is ours */
	uint16_t stats_head;
	int64_t stats_ms;		/* when the last stats came */
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* give a run of guest pages back to the host */
static void
release(struct virtio_balloon *b, uint64_t pfn, uint64_t n)
{
	void *p = gmem_ptr(b->vdev.mem, pfn * PAGE, n * PAGE);

	if (p == NULL) {
		/* a run across the PCI hole or outside RAM: page by page */
		for (uint64_t i = 0; i < n && n > 1; i++)
			release(b, pfn + i, 1);
		return;
	}
	/* smart paging's file-backed RAM: punch the hole too (EINVAL on
	   anonymous memory, which DONTNEED alone gives back) */
	madvise(p, n * PAGE, MADV_REMOVE);
	madvise(p, n * PAGE, MADV_DONTNEED);
	b->info.released_bytes += n * PAGE;
}

/* the page frame numbers in one inflate buffer, adjacent ones together */
static void
inflate(struct virtio_balloon *b, const struct vq_chain *c)
{
	uint64_t run = 0, first = 0;
	uint8_t pfn[4];

	for (uint32_t off = 0; off + 4 <= c->out_len; off += 4) {
		uint64_t p;

		vq_chain_read(c, off, pfn, 4);
		p = get_le32(pfn);
		if (run && p == first + run) {
			run++;
			continue;
		}
		if (run)
			release(b, first, run);
		first = p;
		run = 1;
	}
	if (run)
		release(b, first, run);
	b->info.inflated_pages += c->out_len / 4;
}

static void
take_stats(struct virtio_balloon *b, const struct vq_chain *c)
{
	uint8_t e[10];

	for (uint32_t off = 0; off + 10 <= c->out_len; off += 10) {
		unsigned tag;

		vq_chain_read(c, off, e, 10);
		tag = get_le16(e);
		if (tag < VMM_BALLOON_NSTATS) {
			b->info.stats[tag] = get_le64(e + 2);
			b->info.stats_seen |= 1u << tag;
		}
	}
	b->stats_ms = now_ms();
	b->info.stats_actual = b->info.actual_bytes;
}

static void
balloon_notify(struct virtio_dev *d, int q)
{
	struct virtio_balloon *b = (struct virtio_balloon *)d;
	struct vq_chain *c = &b->chain;
	bool pushed = false;

	while (virtq_pop(d, q, c) == 1) {
		if (q == STATSQ) {
			/* kept until the host wants fresh numbers */
			take_stats(b, c);
			b->stats_held = true;
			b->stats_head = c->head;
			continue;
		}
		if (q == INFLATEQ)
			inflate(b, c);
		else
			b->info.deflated_pages += c->out_len / 4;
		virtq_push(d, q, c->head, 0);
		pushed = true;
	}
	if (pushed)
		virtq_notify_guest(d, q);
}

static void
balloon_config_write(struct virtio_dev *d, uint32_t off, const void *data, int len)
{
	struct virtio_balloon *b = (struct virtio_balloon *)d;

	/* only "actual" (offset 4) is the driver's to write */
	if (off < 4 || off + (uint32_t)len > CONFIG_LEN)
		return;
	memcpy(b->config + off, data, (size_t)len);
	b->info.actual_bytes = (uint64_t)get_le32(b->config + 4) * PAGE;
}

static void
balloon_reset(struct virtio_dev *d)
{
	struct virtio_balloon *b = (struct virtio_balloon *)d;

	b->stats_held = false;
	put_le32(b->config + 4, 0);
	b->info.actual_bytes = 0;
}

static const struct virtio_ops balloon_ops = {
	.serve_at_ready = true,	/* Linux primes the stats queue before DRIVER_OK */
	.notify = balloon_notify,
	.reset = balloon_reset,
	.config_write = balloon_config_write,
};

int
virtio_balloon_create(struct vmm *vm, uint64_t initial_bytes, struct hv_err *err)
{
	struct virtio_balloon *b;

	if ((b = calloc(1, sizeof *b)) == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	vm->balloon = b;	/* vmm_destroy frees it from here */
	virtio_init(&b->vdev, vm, &vm->mem, "virtio-balloon", VIRTIO_ID_BALLOON, 3, QUEUE_SIZE);
	b->vdev.host_features |= 1ull << BALLOON_F_STATS_VQ | 1ull << BALLOON_F_DEFLATE_ON_OOM;
	put_le32(b->config, (uint32_t)(initial_bytes / PAGE));
	b->info.present = true;
	b->info.target_bytes = initial_bytes / PAGE * PAGE;
	b->vdev.config = b->config;
	b->vdev.config_len = CONFIG_LEN;
	b->vdev.ops = &balloon_ops;
	return virtio_pci_add(vm, &b->vdev, 0x050000, &b->vp, err);
}

void
virtio_balloon_destroy(struct virtio_balloon *b)
{
	if (b == NULL)
		return;
	virtio_pci_free(b->vp);
	pthread_mutex_destroy(&b->vdev.lock);
	free(b);
}

void
virtio_balloon_set(struct virtio_balloon *b, uint64_t bytes)
{
	pthread_mutex_lock(&b->vdev.lock);
	if (bytes / PAGE != get_le32(b->config)) {
		put_le32(b->config, (uint32_t)(bytes / PAGE));
		b->info.target_bytes = bytes / PAGE * PAGE;
		b->vdev.config_gen++;
		if (b->vdev.signal != NULL && virtio_live(&b->vdev))
			b->vdev.signal(&b->vdev, -1);	/* config changed */
	}
	pthread_mutex_unlock(&b->vdev.lock);
}

void
virtio_balloon_ask_stats(struct virtio_balloon *b)
{
	pthread_mutex_lock(&b->vdev.lock);
	if (b->stats_held && virtio_live(&b->vdev)) {
		b->stats_held = false;
		virtq_push(&b->vdev, STATSQ, b->stats_head, 0);
		virtq_notify_guest(&b->vdev, STATSQ);
	}
	pthread_mutex_unlock(&b->vdev.lock);
}

void
virtio_balloon_info(struct virtio_balloon *b, struct vmm_balloon_info *out)
{
	pthread_mutex_lock(&b->vdev.lock);
	*out = b->info;
	out->driver_ok = virtio_live(&b->vdev);
	out->stats_age_ms = b->stats_ms ? now_ms() - b->stats_ms : -1;
	pthread_mutex_unlock(&b->vdev.lock);
}

/*
 * What the core's state leaves out (snapshot.c; d->lock held): the stats
 * buffer the driver left with us (without it back the guest never
 * reports again, and dynamic memory goes blind), and the sizes as the
 * config space says them.
 */
void
virtio_balloon_save(struct virtio_balloon *b, struct snap_w *w)
{
	snap_u8(w, b->stats_held);
	snap_u16(w, b->stats_head);
}

int
virtio_balloon_load(struct virtio_balloon *b, struct snap_r *r)
{
	if (r->off < r->len) {	/* none in a state saved before it was */
		b->stats_held = snap_g8(r) != 0;
		b->stats_head = snap_g16(r);
	}
	b->info.target_bytes = (uint64_t)get_le32(b->config) * PAGE;
	b->info.actual_bytes = (uint64_t)get_le32(b->config + 4) * PAGE;
	b->stats_ms = 0;
	return r->bad ? -1 : 0;
}

/* the core's view, for the VM's saved state (snapshot.c) */
struct virtio_dev *
virtio_balloon_vdev(struct virtio_balloon *b)
{
	return &b->vdev;
}
