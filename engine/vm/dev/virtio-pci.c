/*
 * virtio-pci.c - virtio 1.x over PCI, modern transport only (virtio 1.2,
 * 4.1). BAR0 holds every structure the capabilities point at:
 *
 *	0x0000 common config	0x3000 notify (4 bytes per queue)
 *	0x1000 ISR		0x4000 MSI-X table
 *	0x2000 device config	0x5000 MSI-X PBA
 *
 * Interrupts go out through one irqfd per MSI-X vector, routed by
 * KVM_SET_GSI_ROUTING to the table's address/data; queue kicks arrive
 * on one ioeventfd per queue (the I/O thread), or as an MMIO exit on
 * the vCPU when KVM could not take the ioeventfd.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "engine/vm/dev/pci.h"
#include "engine/vm/dev/virtio-pci.h"
#include "engine/vm/state/snap-io.h"

#define BAR_SIZE	0x8000
#define OFF_COMMON	0x0000
#define OFF_ISR		0x1000
#define OFF_DEVICE	0x2000
#define OFF_NOTIFY	0x3000
#define OFF_MSIX	0x4000
#define OFF_PBA		0x5000
#define COMMON_LEN	0x38
#define NOTIFY_MULT	4

#define CAP_COMMON	1
#define CAP_NOTIFY	2
#define CAP_ISR		3
#define CAP_DEVICE	4
#define CAP_PCI_CFG	5	/* BAR access through config space */

#define MSIX_VECS	(VIRTIO_MAX_QUEUES + 1)
#define MSIX_ENABLE	0x8000
#define MSIX_MASKALL	0x4000

struct virtio_pci;

struct vp_queue {
	struct virtio_pci *vp;
	int q, fd;
	bool assigned;
};

struct virtio_pci {
	struct pci_dev pci;
	struct vmm *vm;
	struct virtio_dev *d;
	uint32_t dfselect, gfselect;
	uint16_t qsel;
	unsigned msix_cap;
	unsigned cfg_cap;	/* the CAP_PCI_CFG capability */
	int nvec;
	uint8_t table[MSIX_VECS * 16];
	uint64_t pba;
	int gsi[MSIX_VECS], irqfd[MSIX_VECS];
	struct vp_queue kick[VIRTIO_MAX_QUEUES];
};

/* --- interrupts ---------------------------------------------------------- */

static bool
msix_on(struct virtio_pci *vp, bool *masked)
{
	uint16_t ctl = get_le16(vp->pci.cfg + vp->msix_cap + 2);

	*masked = ctl & MSIX_MASKALL;
	return ctl & MSIX_ENABLE;
}

static void
fire(struct virtio_pci *vp, unsigned vec)
{
	uint64_t one = 1;
	bool masked;

	if (vec >= (unsigned)vp->nvec || !msix_on(vp, &masked))
		return;		/* no INTx: modern drivers use MSI-X */
	if (masked || (get_le32(vp->table + 16 * vec + 12) & 1)) {
		vp->pba |= 1ull << vec;
		return;
	}
	vp->pba &= ~(1ull << vec);
	if (write(vp->irqfd[vec], &one, sizeof one) != sizeof one)
		vmm_log(vp->vm, "%s: irqfd: %s", vp->d->name, strerror(errno));
}

/* the core's hook: d->lock is held */
static void
vp_signal(struct virtio_dev *d, int q)
{
	struct virtio_pci *vp = d->transport;

	d->isr |= q < 0 ? 2 : 1;
	fire(vp, q < 0 ? d->config_vector : d->vq[q].msix_vector);
}

static void
pending_fire(struct virtio_pci *vp)
{
	int v;

	for (v = 0; v < vp->nvec; v++)
		if (vp->pba & (1ull << v))
			fire(vp, v);
}

static void
msix_table_write(struct virtio_pci *vp, uint64_t off, const void *data,
		 int len)
{
	unsigned vec = off / 16;
	uint8_t *e = vp->table + 16 * vec;

	if (off + len > (uint64_t)16 * vp->nvec)
		return;
	memcpy(vp->table + off, data, len);
	if ((off & 15) < 12)
		vmm_msi_route(vp->vm, vp->gsi[vec], get_le64(e), get_le32(e + 8));
	else
		pending_fire(vp);
}

static void bar_io(void *opaque, uint64_t off, void *data, int len, bool write);

/*
 * The PCI configuration access capability (virtio 1.2, 4.1.4.9): the
 * driver names a BAR, an offset and a length (1, 2 or 4) in it, then
 * reads or writes pci_cfg_data, which reaches that BAR there. iPXE wants
 * the capability present; firmware without a mapping of the BAR uses it.
 * Anything but BAR0, an aligned access and a valid length is ignored.
 */
static bool
cfg_window(struct virtio_pci *vp, uint32_t *at, unsigned *len)
{
	const uint8_t *c = vp->pci.cfg + vp->cfg_cap;

	*at = get_le32(c + 8);
	*len = get_le32(c + 12);
	return c[4] == 0 && (*len == 1 || *len == 2 || *len == 4) &&
	       *at % *len == 0 && *at < BAR_SIZE && *at + *len <= BAR_SIZE;
}

static void
vp_cap_read(struct pci_dev *pd, unsigned off, unsigned len)
{
	struct virtio_pci *vp = pd->opaque;
	unsigned data = vp->cfg_cap + 16, n;
	uint32_t at;

	if (off + len <= data || off >= data + 4)
		return;
	memset(pd->cfg + data, 0, 4);
	if (cfg_window(vp, &at, &n))
		bar_io(vp, at, pd->cfg + data, (int)n, false);
}

static void
cfg_cap_write(struct virtio_pci *vp, unsigned off, uint32_t val, unsigned len)
{
	uint8_t *c = vp->pci.cfg + vp->cfg_cap;
	unsigned i, n;
	uint32_t at;

	for (i = 0; i < len; i++) {
		unsigned r = off + i - vp->cfg_cap;

		if (r == 4 || (r >= 8 && r < 20))	/* bar, offset, length, data */
			c[r] = val >> (8 * i);
	}
	if (off + len > vp->cfg_cap + 16 && off < vp->cfg_cap + 20 && cfg_window(vp, &at, &n))
		bar_io(vp, at, c + 16, (int)n, true);
}

/*
 * A config write into our capabilities (pci lock held): the access
 * capability's window, and MSI-X enable and function mask (message
 * control bits 15, 14); nothing else is writable.
 */
static void
vp_cap_write(struct pci_dev *pd, unsigned off, uint32_t val, unsigned len)
{
	struct virtio_pci *vp = pd->opaque;
	unsigned at = vp->msix_cap + 3, i;

	if (off < vp->cfg_cap + 20 && off + len > vp->cfg_cap) {
		cfg_cap_write(vp, off, val, len);
		return;
	}
	if (at < off || at >= off + len)
		return;
	i = at - off;
	pthread_mutex_lock(&vp->d->lock);
	pd->cfg[at] = (pd->cfg[at] & 0x07) | ((val >> (8 * i)) & 0xC0);
	pending_fire(vp);
	pthread_mutex_unlock(&vp->d->lock);
}

/* --- queue kicks ------------------------------------------------------- */

static void
kick(struct virtio_pci *vp, int q)
{
	struct virtio_dev *d = vp->d;

	if (q < 0 || q >= d->nqueues)
		return;
	pthread_mutex_lock(&d->lock);
	if (d->vq[q].enabled && virtio_live(d) && d->ops->notify)
		d->ops->notify(d, q);
	pthread_mutex_unlock(&d->lock);
}

static void
kick_fd(void *opaque)
{
	struct vp_queue *k = opaque;

	kick(k->vp, k->q);
}

static void
ioeventfd_set(struct virtio_pci *vp, struct vp_queue *k, uint32_t bar,
	      bool assign)
{
	struct kvm_ioeventfd io = {
		.addr = bar + OFF_NOTIFY + NOTIFY_MULT * k->q,
		.len = vp->vm->ioeventfd_any_len ? 0 : 2,
		.fd = k->fd,
		.flags = assign ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN,
	};

	if (k->assigned == assign || k->fd < 0)
		return;
	if (ioctl(vp->vm->vm_fd, KVM_IOEVENTFD, &io) == 0)
		k->assigned = assign;
	else if (assign)
		vmm_log(vp->vm, "%s: no ioeventfd for queue %d (%s): MMIO exits",
			vp->d->name, k->q, strerror(errno));
}

static void
vp_bar_moved(struct pci_dev *pd, int bar, uint32_t old, uint32_t base)
{
	struct virtio_pci *vp = pd->opaque;
	int q;

	for (q = 0; q < vp->d->nqueues; q++) {
		ioeventfd_set(vp, &vp->kick[q], old, false);
		/* a BAR being sized sits at all ones: wait for the real one */
		if (base < PCI_MMIO_END)
			ioeventfd_set(vp, &vp->kick[q], base, true);
	}
}

/* --- common configuration ---------------------------------------------- */

static void
common_snapshot(struct virtio_pci *vp, uint8_t *c)
{
	struct virtio_dev *d = vp->d;
	struct virtq *vq = vp->qsel < d->nqueues ? &d->vq[vp->qsel] : NULL;

	memset(c, 0, COMMON_LEN);
	put_le32(c + 0x00, vp->dfselect);
	put_le32(c + 0x04, vp->dfselect < 2 ?
		 (uint32_t)(d->host_features >> (32 * vp->dfselect)) : 0);
	put_le32(c + 0x08, vp->gfselect);
	put_le32(c + 0x0C, vp->gfselect < 2 ?
		 (uint32_t)(d->guest_features >> (32 * vp->gfselect)) : 0);
	put_le16(c + 0x10, d->config_vector);
	put_le16(c + 0x12, d->nqueues);
	c[0x14] = d->status;
	c[0x15] = d->config_gen;
	put_le16(c + 0x16, vp->qsel);
	if (!vq)
		return;
	put_le16(c + 0x18, vq->size);
	put_le16(c + 0x1A, vq->msix_vector);
	put_le16(c + 0x1C, vq->enabled);
	put_le16(c + 0x1E, vp->qsel);		/* queue_notify_off */
	put_le64(c + 0x20, vq->desc_gpa);
	put_le64(c + 0x28, vq->avail_gpa);
	put_le64(c + 0x30, vq->used_gpa);
}

static void
set_status(struct virtio_pci *vp, uint8_t v)
{
	struct virtio_dev *d = vp->d;

	if (v == 0) {
		virtio_reset(d);
		return;
	}
	if ((v & VIRTIO_S_FEATURES_OK) && !(d->status & VIRTIO_S_FEATURES_OK) &&
	    !virtio_has(d, VIRTIO_F_VERSION_1))
		v &= ~VIRTIO_S_FEATURES_OK;	/* legacy drivers: refused */
	bool was_live = virtio_live(d);

	d->status = v | (d->status & VIRTIO_S_NEEDS_RESET);
	/* a driver may fill and kick a queue before DRIVER_OK (Linux's
	   virtio_balloon primes its stats queue so), and a device must not
	   touch it until then: a device that asks is served now */
	if (!was_live && virtio_live(d) && d->ops->notify && d->ops->serve_at_ready)
		for (int q = 0; q < d->nqueues; q++)
			if (d->vq[q].enabled)
				d->ops->notify(d, q);	/* as kick() does */
}

static uint16_t
vector_ok(struct virtio_pci *vp, uint16_t v)
{
	return v < vp->nvec ? v : VIRTIO_NO_VECTOR;
}

/* field at off (its start) now holds val */
static void
common_apply(struct virtio_pci *vp, unsigned off, uint64_t val)
{
	struct virtio_dev *d = vp->d;
	struct virtq *vq = vp->qsel < d->nqueues ? &d->vq[vp->qsel] : NULL;
	uint64_t mask = 0xFFFFFFFFull << (32 * (vp->gfselect & 1));

	switch (off) {
	case 0x00: vp->dfselect = val; return;
	case 0x08: vp->gfselect = val; return;
	case 0x0C:
		if (vp->gfselect < 2 && !(d->status & VIRTIO_S_FEATURES_OK))
			d->guest_features = (d->guest_features & ~mask) |
				((val << (32 * vp->gfselect)) & mask &
				 d->host_features);
		return;
	case 0x10: d->config_vector = vector_ok(vp, val); return;
	case 0x14: set_status(vp, val); return;
	case 0x16: vp->qsel = val; return;
	}
	if (!vq || vq->enabled)
		return;		/* queue fields are frozen once enabled */
	switch (off) {
	case 0x18: vq->size = val; return;
	case 0x1A: vq->msix_vector = vector_ok(vp, val); return;
	case 0x1C:
		if (val == 1)
			virtq_enable(d, vp->qsel);
		return;
	case 0x20: vq->desc_gpa = val; return;
	case 0x28: vq->avail_gpa = val; return;
	case 0x30: vq->used_gpa = val; return;
	}
}

static unsigned
field_size(unsigned off)
{
	if (off < 0x10)
		return 4;
	if (off == 0x14 || off == 0x15)
		return 1;
	if (off < 0x20)
		return 2;
	return 8;
}

static void
common_io(struct virtio_pci *vp, unsigned off, uint8_t *data, int len,
	  bool write)
{
	uint8_t c[COMMON_LEN];
	unsigned start, sz;
	uint64_t val;

	common_snapshot(vp, c);
	if (!write) {
		memcpy(data, c + off, len);
		return;
	}
	if (off < 0x10)
		start = off & ~3u;
	else if (off == 0x14 || off == 0x15)
		start = off;
	else if (off < 0x20)
		start = off & ~1u;
	else
		start = 0x20 + ((off - 0x20) & ~7u);
	sz = field_size(start);
	if (off + len > start + sz)
		return;		/* straddles two fields: ignore */
	memcpy(c + off, data, len);
	val = sz == 1 ? c[start] : sz == 2 ? get_le16(c + start) :
	      sz == 4 ? get_le32(c + start) : get_le64(c + start);
	common_apply(vp, start, val);
}

/* --- BAR0 -------------------------------------------------------------- */

static void
bar_io(void *opaque, uint64_t off, void *data, int len, bool write)
{
	struct virtio_pci *vp = opaque;
	struct virtio_dev *d = vp->d;
	uint8_t *b = data;

	if (off >= OFF_NOTIFY && off < OFF_NOTIFY + NOTIFY_MULT * VIRTIO_MAX_QUEUES) {
		if (write)
			kick(vp, (off - OFF_NOTIFY) / NOTIFY_MULT);
		else
			memset(data, 0, len);
		return;
	}
	pthread_mutex_lock(&d->lock);
	if (!write)
		memset(data, 0, len);
	if (off < OFF_COMMON + COMMON_LEN && off + len <= COMMON_LEN) {
		common_io(vp, off, b, len, write);
	} else if (off == OFF_ISR && !write) {
		b[0] = d->isr;		/* reading clears it */
		d->isr = 0;
	} else if (off >= OFF_DEVICE && off - OFF_DEVICE + len <= d->config_len) {
		if (!write)
			memcpy(data, d->config + off - OFF_DEVICE, len);
		else if (d->ops && d->ops->config_write)
			d->ops->config_write(d, (uint32_t)(off - OFF_DEVICE), data, len);
	} else if (off >= OFF_MSIX && off < OFF_MSIX + sizeof vp->table) {
		if (write)
			msix_table_write(vp, off - OFF_MSIX, data, len);
		else if (off - OFF_MSIX + len <= sizeof vp->table)
			memcpy(data, vp->table + off - OFF_MSIX, len);
	} else if (off >= OFF_PBA && off + len <= OFF_PBA + 8 && !write) {
		uint8_t p[8];

		put_le64(p, vp->pba);
		memcpy(data, p + off - OFF_PBA, len);
	}
	pthread_mutex_unlock(&d->lock);
}

/* --- setup ------------------------------------------------------------- */

static int
add_caps(struct virtio_pci *vp)
{
	static const struct { uint8_t type; uint32_t off, len; } caps[] = {
		{ CAP_COMMON, OFF_COMMON, COMMON_LEN },
		{ CAP_ISR, OFF_ISR, 1 },
		{ CAP_DEVICE, OFF_DEVICE, 0 },
		{ CAP_NOTIFY, OFF_NOTIFY, NOTIFY_MULT * VIRTIO_MAX_QUEUES },
	};
	uint8_t c[20], m[12] = { 0x11 };
	size_t i;
	int at;

	for (i = 0; i < sizeof caps / sizeof caps[0]; i++) {
		memset(c, 0, sizeof c);
		c[0] = 0x09;		/* vendor specific */
		c[2] = caps[i].type == CAP_NOTIFY ? 20 : 16;
		c[3] = caps[i].type;
		c[4] = 0;		/* BAR0 */
		put_le32(c + 8, caps[i].off);
		put_le32(c + 12, caps[i].type == CAP_DEVICE ?
			 vp->d->config_len : caps[i].len);
		put_le32(c + 16, NOTIFY_MULT);
		if (pci_add_cap(&vp->pci, c, c[2]) < 0)
			return -1;
	}
	memset(c, 0, sizeof c);
	c[0] = 0x09;
	c[2] = 20;
	c[3] = CAP_PCI_CFG;
	if ((at = pci_add_cap(&vp->pci, c, 20)) < 0)
		return -1;
	vp->cfg_cap = at;
	put_le16(m + 2, vp->nvec - 1);
	put_le32(m + 4, OFF_MSIX);	/* BIR 0 */
	put_le32(m + 8, OFF_PBA);
	at = pci_add_cap(&vp->pci, m, sizeof m);
	if (at < 0)
		return -1;
	vp->msix_cap = at;
	return 0;
}

static int
wire(struct virtio_pci *vp, struct hv_err *err)
{
	struct vmm *vm = vp->vm;
	int v, q;

	for (v = 0; v < vp->nvec; v++) {
		struct kvm_irqfd irqfd = { 0 };

		put_le32(vp->table + 16 * v + 12, 1);	/* masked at reset */
		vp->gsi[v] = vmm_gsi_alloc(vm);
		vp->irqfd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->gsi[v] < 0 || vp->irqfd[v] < 0 ||
		    vmm_msi_route(vm, vp->gsi[v], 0, 0) != 0)
			return hv_fail(err, HV_EIO, "%s: MSI-X vector %d: no GSI",
				       vp->d->name, v);
		irqfd.fd = vp->irqfd[v];
		irqfd.gsi = vp->gsi[v];
		if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) != 0)
			return hv_fail(err, HV_EIO, "%s: KVM_IRQFD: %s",
				       vp->d->name, strerror(errno));
	}
	for (q = 0; q < vp->d->nqueues; q++) {
		struct vp_queue *k = &vp->kick[q];

		if (vp->d->vcpu_kicks & 1u << q) {
			k->fd = -1;	/* served on the vCPU that kicks */
			continue;
		}
		k->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (k->fd < 0 || io_watch(vm, k->fd, kick_fd, k) != 0)
			return hv_fail(err, HV_EIO, "%s: queue eventfd: %s",
				       vp->d->name, strerror(errno));
		ioeventfd_set(vp, k, vp->pci.bar_addr[0], true);
	}
	return 0;
}

int
virtio_pci_add(struct vmm *vm, struct virtio_dev *d, uint32_t class_code,
	       struct virtio_pci **out, struct hv_err *err)
{
	struct virtio_pci *vp = calloc(1, sizeof(*vp));
	int i;

	*out = vp;
	if (!vp)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	vp->vm = vm;
	vp->d = d;
	vp->nvec = d->nqueues + 1;
	for (i = 0; i < MSIX_VECS; i++)
		vp->gsi[i] = vp->irqfd[i] = -1;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++)
		vp->kick[i] = (struct vp_queue){ vp, i, -1, false };
	d->transport = vp;
	d->signal = vp_signal;
	pci_header(&vp->pci, 0x1AF4, 0x1040 + d->device_id, class_code,
		   0x1AF4, d->device_id);
	vp->pci.cfg[0x08] = 1;		/* revision 1: modern */
	vp->pci.bar_size[0] = BAR_SIZE;
	vp->pci.bar_fn = bar_io;
	vp->pci.opaque = vp;
	vp->pci.cap_write = vp_cap_write;
	vp->pci.cap_read = vp_cap_read;
	vp->pci.bar_moved = vp_bar_moved;
	if (d->rom)
		pci_set_rom(&vp->pci, d->rom, d->rom_len);
	if (add_caps(vp) != 0)
		return hv_fail(err, HV_EINTERNAL, "PCI config space full");
	if (pci_add(vm, &vp->pci, err) != 0)
		return -1;
	return wire(vp, err);
}

int
virtio_pci_slot(const struct virtio_pci *vp)
{
	return vp->pci.slot;
}

void
virtio_pci_free(struct virtio_pci *vp)
{
	int i;

	if (!vp)
		return;
	for (i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		if (vp->kick[i].fd >= 0) {
			ioeventfd_set(vp, &vp->kick[i], vp->pci.bar_addr[0], false);
			close(vp->kick[i].fd);
		}
	}
	for (i = 0; i < MSIX_VECS; i++) {
		if (vp->irqfd[i] >= 0)
			close(vp->irqfd[i]);
		if (vp->gsi[i] >= 0)
			vmm_gsi_free(vp->vm, vp->gsi[i]);
	}
	free(vp);
}

/* --- state (snapshot.c); d->lock held; config space is pci.c's ------------ */

void
virtio_pci_save(struct virtio_pci *vp, struct snap_w *w)
{
	snap_u32(w, vp->dfselect);
	snap_u32(w, vp->gfselect);
	snap_u16(w, vp->qsel);
	snap_u32(w, vp->nvec);
	snap_put(w, vp->table, 16 * vp->nvec);
	snap_u64(w, vp->pba);
}

/* after pci_load and virtio_load: routes follow the table again, and each
   live queue gets one kick in case the guest's was in flight at the save */
int
virtio_pci_load(struct virtio_pci *vp, struct snap_r *r)
{
	struct virtio_dev *d = vp->d;
	uint64_t one = 1;
	int v, q;

	vp->dfselect = snap_g32(r);
	vp->gfselect = snap_g32(r);
	vp->qsel = snap_g16(r);
	if (snap_g32(r) != (uint32_t)vp->nvec)
		return -1;
	snap_get(r, vp->table, 16 * vp->nvec);
	vp->pba = snap_g64(r) & ((1ull << vp->nvec) - 1);
	if (r->bad)
		return -1;
	if (d->config_vector != VIRTIO_NO_VECTOR && d->config_vector >= vp->nvec)
		return -1;
	for (q = 0; q < d->nqueues; q++)
		if (d->vq[q].msix_vector != VIRTIO_NO_VECTOR &&
		    d->vq[q].msix_vector >= vp->nvec)
			return -1;
	for (v = 0; v < vp->nvec; v++) {
		uint8_t *e = vp->table + 16 * v;

		if (vmm_msi_route(vp->vm, vp->gsi[v], get_le64(e), get_le32(e + 8)) != 0)
			return -1;
	}
	for (q = 0; q < d->nqueues; q++) {
		if (!d->vq[q].enabled)
			continue;
		if (vp->kick[q].fd < 0) {	/* a queue served on the vCPU */
			if (virtio_live(d) && d->ops->notify)
				d->ops->notify(d, q);
		} else if (write(vp->kick[q].fd, &one, sizeof one) != sizeof one) {
			return -1;
		}
	}
	return 0;
}
