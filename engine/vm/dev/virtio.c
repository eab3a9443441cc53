/*
 * virtio.c - split virtqueues (virtio 1.2, 2.7): popping descriptor
 * chains (direct and indirect), filling the used ring, and notification
 * suppression with and without VIRTIO_F_EVENT_IDX.
 *
 * Memory order: the driver publishes avail->idx after the ring entries,
 * so we load the index with acquire before reading entries; we store
 * used entries before used->idx (release), and a full fence separates
 * our used->idx store from reading the driver's used_event/flags.
 */
#include <endian.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "engine/vm/dev/virtio.h"
#include "engine/vm/state/snap-io.h"

void
virtio_init(struct virtio_dev *d, struct vmm *vm, const struct gmem *mem,
	    const char *name, uint16_t device_id, int nqueues,
	    uint16_t queue_size)
{
	int i;

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->vm = vm;
	d->mem = mem;
	snprintf(d->name, sizeof d->name, "%s", name);
	d->device_id = device_id;
	d->nqueues = nqueues;
	d->host_features = 1ull << VIRTIO_F_VERSION_1 |
			   1ull << VIRTIO_F_INDIRECT_DESC |
			   1ull << VIRTIO_F_EVENT_IDX;
	d->config_vector = VIRTIO_NO_VECTOR;
	for (i = 0; i < nqueues; i++) {
		d->vq[i].max_size = queue_size;
		d->vq[i].size = queue_size;
		d->vq[i].msix_vector = VIRTIO_NO_VECTOR;
	}
}

bool
virtio_has(const struct virtio_dev *d, unsigned feature)
{
	return d->guest_features & (1ull << feature);
}

bool
virtio_live(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_S_DRIVER_OK) &&
	       !(d->status & (VIRTIO_S_NEEDS_RESET | VIRTIO_S_FAILED));
}

/* migration: the rings count as written (the device wrote through views
   it took when the queue was enabled, which gmem_ptr did not see) */
void
virtio_mark_rings(struct virtio_dev *d)
{
	for (int i = 0; i < d->nqueues; i++) {
		struct virtq *vq = &d->vq[i];

		if (!vq->enabled)
			continue;
		gmem_ptr(d->mem, vq->desc_gpa, 16 * vq->size);
		gmem_ptr(d->mem, vq->avail_gpa, 6 + 2 * vq->size);
		gmem_ptr(d->mem, vq->used_gpa, 6 + 8 * vq->size);
	}
}

void
virtio_reset(struct virtio_dev *d)
{
	int i;

	d->status = 0;
	d->guest_features = 0;
	d->isr = 0;
	d->config_vector = VIRTIO_NO_VECTOR;
	for (i = 0; i < d->nqueues; i++) {
		struct virtq *vq = &d->vq[i];
		uint16_t max = vq->max_size;

		memset(vq, 0, sizeof(*vq));
		vq->max_size = vq->size = max;
		vq->msix_vector = VIRTIO_NO_VECTOR;
	}
	if (d->ops && d->ops->reset)
		d->ops->reset(d);
}

void
virtio_needs_reset(struct virtio_dev *d, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (d->status & VIRTIO_S_NEEDS_RESET)
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	d->status |= VIRTIO_S_NEEDS_RESET;
	d->needs_reset_events++;
	vmm_log(d->vm, "%s: device needs reset: %s", d->name, why);
	if (d->vm)
		atomic_fetch_add(&d->vm->needs_reset, 1);
	d->config_gen++;
	if (d->signal)
		d->signal(d, -1);	/* a config change tells the driver */
}

int
virtq_enable(struct virtio_dev *d, int q)
{
	struct virtq *vq = &d->vq[q];
	uint64_t n = vq->size;

	if (!n || (n & (n - 1)) || n > vq->max_size) {
		virtio_needs_reset(d, "queue %d: bad size %llu", q,
				   (unsigned long long)n);
		return -1;
	}
	vq->desc = gmem_ptr(d->mem, vq->desc_gpa, 16 * n);
	vq->avail = gmem_ptr(d->mem, vq->avail_gpa, 6 + 2 * n);
	vq->used = gmem_ptr(d->mem, vq->used_gpa, 6 + 8 * n);
	if (!vq->desc || !vq->avail || !vq->used || (vq->desc_gpa & 15) ||
	    (vq->avail_gpa & 1) || (vq->used_gpa & 3)) {
		vq->desc = vq->avail = vq->used = NULL;
		virtio_needs_reset(d, "queue %d: rings outside RAM or misaligned",
				   q);
		return -1;
	}
	vq->last_avail = vq->used_idx = vq->signalled = 0;
	vq->enabled = true;
	return 0;
}

static uint16_t
ring_load16(const uint8_t *p)
{
	uint16_t v = __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);

	return le16toh(v);
}

static void
ring_store16(uint8_t *p, uint16_t v)
{
	__atomic_store_n((uint16_t *)p, htole16(v), __ATOMIC_RELEASE);
}

struct desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static void
desc_get(const uint8_t *table, uint32_t i, struct desc *out)
{
	uint8_t raw[16];

	memcpy(raw, table + 16 * (size_t)i, 16);	/* read the guest once */
	out->addr = get_le64(raw);
	out->len = get_le32(raw + 8);
	out->flags = get_le16(raw + 12);
	out->next = get_le16(raw + 14);
}

/* one descriptor into the chain; NULL or an error message */
static const char *
chain_add(struct virtio_dev *d, struct vq_chain *c, const struct desc *ds)
{
	uint8_t *p = gmem_ptr(d->mem, ds->addr, ds->len);
	bool w = ds->flags & VIRTQ_DESC_F_WRITE;

	if (!p)
		return "buffer outside guest RAM";
	if (c->nout + c->nin >= VIRTQ_MAX_SEGS)
		return "chain too long";
	if (!w && c->nin)
		return "readable buffer after a writable one";
	if ((uint64_t)(w ? c->in_len : c->out_len) + ds->len > UINT32_MAX)
		return "total length overflows";
	c->seg[c->nout + c->nin] = (struct vq_seg){ p, ds->len };
	if (w) {
		c->nin++;
		c->in_len += ds->len;
	} else {
		c->nout++;
		c->out_len += ds->len;
	}
	return NULL;
}

/* walk the chain from head; NULL or why it is bad */
static const char *
chain_walk(struct virtio_dev *d, struct virtq *vq, uint16_t head,
	   struct vq_chain *c)
{
	const uint8_t *table = vq->desc;
	uint32_t n = vq->size, i = head, steps = 0;
	bool indirect = false;
	const char *bad;
	struct desc ds;

	for (;;) {
		if (i >= n)
			return "descriptor index out of range";
		if (++steps > n)
			return "descriptor loop";
		desc_get(table, i, &ds);
		if (ds.flags & VIRTQ_DESC_F_INDIRECT) {
			if (indirect)
				return "indirect table inside an indirect table";
			if (!virtio_has(d, VIRTIO_F_INDIRECT_DESC) ||
			    (ds.flags & VIRTQ_DESC_F_NEXT))
				return "indirect descriptor not allowed here";
			if (!ds.len || ds.len % 16 ||
			    ds.len / 16 > VIRTQ_MAX_INDIRECT)
				return "bad indirect table length";
			table = gmem_ptr(d->mem, ds.addr, ds.len);
			if (!table || (ds.addr & 15) != 0)
				return "indirect table outside guest RAM";
			indirect = true;
			n = ds.len / 16;
			i = 0;
			steps = 0;
			continue;
		}
		bad = chain_add(d, c, &ds);
		if (bad)
			return bad;
		if (!(ds.flags & VIRTQ_DESC_F_NEXT))
			return NULL;
		i = ds.next;
	}
}

int
virtq_pop(struct virtio_dev *d, int q, struct vq_chain *c)
{
	struct virtq *vq = &d->vq[q];
	uint16_t avail_idx, head;
	const char *bad;

	if (!vq->enabled || !virtio_live(d))
		return 0;
	avail_idx = ring_load16(vq->avail + 2);
	if (avail_idx == vq->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size) {
		virtio_needs_reset(d, "queue %d: avail index jumped from %u to %u",
				   q, vq->last_avail, avail_idx);
		return -1;
	}
	head = get_le16(vq->avail + 4 + 2 * (vq->last_avail % vq->size));
	memset(c, 0, offsetof(struct vq_chain, seg));
	c->head = head;
	bad = chain_walk(d, vq, head, c);
	if (bad) {
		virtio_needs_reset(d, "queue %d: chain at head %u: %s", q, head,
				   bad);
		return -1;
	}
	vq->last_avail++;
	if (virtio_has(d, VIRTIO_F_EVENT_IDX))	/* avail_event: kick me next */
		ring_store16(vq->used + 4 + 8 * vq->size, vq->last_avail);
	return 1;
}

void
virtq_push(struct virtio_dev *d, int q, uint16_t head, uint32_t len)
{
	struct virtq *vq = &d->vq[q];
	uint8_t *e;

	if (!vq->enabled)
		return;
	e = vq->used + 4 + 8 * (vq->used_idx % vq->size);
	put_le32(e, head);
	put_le32(e + 4, len);
	vq->used_idx++;
	ring_store16(vq->used + 2, vq->used_idx);	/* release: entry first */
}

void
virtq_notify_guest(struct virtio_dev *d, int q)
{
	struct virtq *vq = &d->vq[q];
	uint16_t old = vq->signalled, now = vq->used_idx;
	bool want;

	if (!vq->enabled || old == now)
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (virtio_has(d, VIRTIO_F_EVENT_IDX)) {
		uint16_t ev = ring_load16(vq->avail + 4 + 2 * vq->size);

		want = (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
	} else {
		want = !(ring_load16(vq->avail) & 1);	/* NO_INTERRUPT */
	}
	vq->signalled = now;
	if (want && d->signal)
		d->signal(d, q);
}

uint32_t
vq_chain_read(const struct vq_chain *c, uint32_t off, void *buf, uint32_t len)
{
	uint8_t *out = buf;
	uint32_t done = 0;
	int i;

	for (i = 0; i < c->nout && done < len; i++) {
		uint32_t n;

		if (off >= c->seg[i].len) {
			off -= c->seg[i].len;
			continue;
		}
		n = c->seg[i].len - off;
		if (n > len - done)
			n = len - done;
		memcpy(out + done, c->seg[i].p + off, n);
		done += n;
		off = 0;
	}
	return done;
}

uint32_t
vq_chain_write(const struct vq_chain *c, uint32_t off, const void *buf,
	       uint32_t len)
{
	const uint8_t *in = buf;
	uint32_t done = 0;
	int i;

	for (i = c->nout; i < c->nout + c->nin && done < len; i++) {
		uint32_t n;

		if (off >= c->seg[i].len) {
			off -= c->seg[i].len;
			continue;
		}
		n = c->seg[i].len - off;
		if (n > len - done)
			n = len - done;
		memcpy(c->seg[i].p + off, in + done, n);
		done += n;
		off = 0;
	}
	return done;
}

/* --- state (snapshot.c); d->lock held ------------------------------------ */

void
virtio_save(struct virtio_dev *d, struct snap_w *w)
{
	int i;

	snap_u64(w, d->guest_features);
	snap_u8(w, d->status);
	snap_u8(w, d->config_gen);
	snap_u8(w, d->isr);
	snap_u16(w, d->config_vector);
	snap_u32(w, d->nqueues);
	for (i = 0; i < d->nqueues; i++) {
		const struct virtq *vq = &d->vq[i];

		snap_u16(w, vq->size);
		snap_u8(w, vq->enabled);
		snap_u64(w, vq->desc_gpa);
		snap_u64(w, vq->avail_gpa);
		snap_u64(w, vq->used_gpa);
		snap_u16(w, (uint16_t)(vq->last_avail - (d->ops && d->ops->held ? d->ops->held(d, i) : 0)));
		snap_u16(w, vq->used_idx);
		snap_u16(w, vq->signalled);
		snap_u16(w, vq->msix_vector);
	}
	snap_u32(w, d->config_len);
	snap_put(w, d->config, d->config_len);
}

/* on a device just created with the same configuration; RAM is loaded */
int
virtio_load(struct virtio_dev *d, struct snap_r *r)
{
	int i;

	d->guest_features = snap_g64(r) & d->host_features;
	d->status = snap_g8(r);
	d->config_gen = snap_g8(r);
	d->isr = snap_g8(r);
	d->config_vector = snap_g16(r);
	if (snap_g32(r) != (uint32_t)d->nqueues)
		r->bad = true;
	for (i = 0; i < d->nqueues && !r->bad; i++) {
		struct virtq *vq = &d->vq[i];
		bool on;

		vq->size = snap_g16(r);
		on = snap_g8(r) != 0;
		vq->desc_gpa = snap_g64(r);
		vq->avail_gpa = snap_g64(r);
		vq->used_gpa = snap_g64(r);
		vq->enabled = false;
		if (r->bad || vq->size > vq->max_size || (on && virtq_enable(d, i) != 0)) {
			r->bad = true;
			break;
		}
		vq->last_avail = snap_g16(r);
		vq->used_idx = snap_g16(r);
		vq->signalled = snap_g16(r);
		vq->msix_vector = snap_g16(r);
	}
	if (snap_g32(r) != d->config_len)
		r->bad = true;
	else
		snap_get(r, d->config, d->config_len);
	return r->bad ? -1 : 0;
}
