/*
 * virtio.c - the modern virtio-pci transport (virtio 1.x section 4.1) and
 * split virtqueues, polled: no MSI-X vector is set and the driver asks
 * for no interrupts, so completions are found by reading the used ring
 * (native speed in ring 3).  Devices are transitional (0x1000 + n, as
 * QEMU's default) or modern-only (0x1040 + type); both are driven through
 * their virtio capabilities, never the legacy I/O BAR.
 */
#include "tests/guest/probe.h"

#define VIRTIO_VENDOR		0x1AF4
#define PCI_STATUS		0x06
#define PCI_STATUS_CAPS		0x10
#define PCI_CAP_PTR		0x34
#define PCI_CAP_VNDR		0x09

#define CAP_COMMON		1
#define CAP_NOTIFY		2
#define CAP_ISR			3
#define CAP_DEVICE		4

/* common configuration structure offsets */
#define CC_DFSELECT		0x00
#define CC_DF			0x04
#define CC_GFSELECT		0x08
#define CC_GF			0x0C
#define CC_MSIX			0x10
#define CC_NUMQ			0x12
#define CC_STATUS		0x14
#define CC_CFGGEN		0x15
#define CC_Q_SELECT		0x16
#define CC_Q_SIZE		0x18
#define CC_Q_MSIX		0x1A
#define CC_Q_ENABLE		0x1C
#define CC_Q_NOFF		0x1E
#define CC_Q_DESC		0x20
#define CC_Q_AVAIL		0x28
#define CC_Q_USED		0x30

#define S_ACK			0x01
#define S_DRIVER		0x02
#define S_DRIVER_OK		0x04
#define S_FEATURES_OK		0x08
#define S_FAILED		0x80

#define VRING_AVAIL_F_NO_INTERRUPT	1
#define VRING_USED_F_NO_NOTIFY		1
#define NO_VECTOR		0xFFFF

static int
type_of(const struct pci_dev *p)
{
	if (p->vendor != VIRTIO_VENDOR)
		return -1;
	if (p->device >= 0x1040 && p->device <= 0x107F)
		return p->device - 0x1040;
	if (p->device >= 0x1000 && p->device <= 0x103F)
		return p->subsys;
	return -1;
}

static int
map_cap(struct virtio_dev *vd, uint8_t pos)
{
	struct pci_dev *p = vd->pci;
	uint8_t type = pci_read8(p, pos + 3), bar = pci_read8(p, pos + 4);
	uint32_t off = pci_read32(p, pos + 8), len = pci_read32(p, pos + 12);
	volatile uint8_t *at;

	if (type < CAP_COMMON || type > CAP_DEVICE)
		return 0;
	if (bar > 5 || !p->bar[bar] || (uint64_t)off + len > p->bar_len[bar])
		return 0;	/* unusable; a later capability may do */
	at = (volatile uint8_t *)(uintptr_t)(p->bar[bar] + off);
	if (type == CAP_COMMON && !vd->common)
		vd->common = at;
	else if (type == CAP_NOTIFY && !vd->notify_base) {
		vd->notify_base = at;
		vd->notify_mult = pci_read32(p, pos + 16);
	} else if (type == CAP_ISR && !vd->isr)
		vd->isr = at;
	else if (type == CAP_DEVICE && !vd->devcfg)
		vd->devcfg = at;
	return 0;
}

static int
walk_caps(struct virtio_dev *vd)
{
	struct pci_dev *p = vd->pci;
	uint8_t pos;
	int guard = 48;

	if (!(pci_read16(p, PCI_STATUS) & PCI_STATUS_CAPS))
		return -1;
	for (pos = pci_read8(p, PCI_CAP_PTR) & 0xFC; pos && guard--;
	     pos = pci_read8(p, pos + 1) & 0xFC)
		if (pci_read8(p, pos) == PCI_CAP_VNDR)
			map_cap(vd, pos);
	return vd->common && vd->notify_base && vd->isr ? 0 : -1;
}

/* the nth (0-based) virtio device of this type in scan order */
int
virtio_find(struct pci_dev *devs, int n, int type, int nth,
	    struct virtio_dev *vd)
{
	int i;

	memset(vd, 0, sizeof(*vd));
	for (i = 0; i < n; i++) {
		if (type_of(&devs[i]) != type || nth--)
			continue;
		vd->pci = &devs[i];
		vd->type = type;
		if (pci_enable(vd->pci) || walk_caps(vd)) {
			pr("virtio: %02x.%x: no usable modern capabilities\n",
			   devs[i].dev, devs[i].fn);
			return -1;
		}
		return 0;
	}
	return -1;
}

uint8_t
virtio_status(struct virtio_dev *vd)
{
	return mmio_r8(vd->common + CC_STATUS);
}

void
virtio_reset(struct virtio_dev *vd)
{
	uint64_t start = rdtsc();

	mmio_w8(vd->common + CC_STATUS, 0);
	/* reset completes when status reads back 0 (bounded: ~10 s) */
	while (virtio_status(vd) && rdtsc() - start < 30000000000ull)
		cpu_relax();
}

uint64_t
virtio_cfg_r64(struct virtio_dev *vd, uint32_t off)
{
	uint32_t lo, hi;
	uint8_t gen;
	int tries = 100;

	do {
		gen = mmio_r8(vd->common + CC_CFGGEN);
		lo = mmio_r32(vd->devcfg + off);
		hi = mmio_r32(vd->devcfg + off + 4);
	} while (gen != mmio_r8(vd->common + CC_CFGGEN) && --tries);
	return (uint64_t)hi << 32 | lo;
}

static void
w64(volatile uint8_t *p, uint64_t v)
{
	mmio_w32(p, (uint32_t)v);
	mmio_w32(p + 4, (uint32_t)(v >> 32));
}

static int
negotiate(struct virtio_dev *vd, uint64_t want)
{
	volatile uint8_t *c = vd->common;
	uint64_t dev;

	mmio_w32(c + CC_DFSELECT, 0);
	dev = mmio_r32(c + CC_DF);
	mmio_w32(c + CC_DFSELECT, 1);
	dev |= (uint64_t)mmio_r32(c + CC_DF) << 32;
	vd->features = dev & (want | VIRTIO_F_VERSION_1);
	if (!(vd->features & VIRTIO_F_VERSION_1))
		return -1;
	mmio_w32(c + CC_GFSELECT, 0);
	mmio_w32(c + CC_GF, (uint32_t)vd->features);
	mmio_w32(c + CC_GFSELECT, 1);
	mmio_w32(c + CC_GF, (uint32_t)(vd->features >> 32));
	mmio_w8(c + CC_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	return virtio_status(vd) & S_FEATURES_OK ? 0 : -1;
}

/* 3.1.1 up to FEATURES_OK: reset, ACKNOWLEDGE, DRIVER, the features */
int
virtio_begin(struct virtio_dev *vd, uint64_t want_features)
{
	virtio_reset(vd);
	mmio_w8(vd->common + CC_STATUS, S_ACK);
	mmio_w8(vd->common + CC_STATUS, S_ACK | S_DRIVER);
	mmio_w16(vd->common + CC_MSIX, NO_VECTOR);
	if (negotiate(vd, want_features)) {
		virtio_fail(vd);
		return -1;
	}
	return 0;
}

void
virtio_ready(struct virtio_dev *vd)
{
	mmio_w8(vd->common + CC_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

void
virtio_fail(struct virtio_dev *vd)
{
	mmio_w8(vd->common + CC_STATUS, S_FAILED);
}

int
virtio_queue(struct virtio_dev *vd, struct virtq *vq, uint16_t index, uint16_t want)
{
	volatile uint8_t *c = vd->common;
	uint16_t max, size = 1;

	mmio_w16(c + CC_Q_SELECT, index);
	max = mmio_r16(c + CC_Q_SIZE);
	if (!max || !vq->desc || !vq->avail || !vq->used)
		return -1;
	while (size * 2 <= want && size * 2 <= max)
		size *= 2;
	memset(vq->desc, 0, 16ull * want);
	memset((void *)vq->avail, 0, 6 + 2ull * want);
	memset((void *)vq->used, 0, 6 + 8ull * want);
	vq->size = size;
	vq->index = index;
	vq->avail_idx = vq->used_seen = 0;
	vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	mmio_w16(c + CC_Q_SIZE, size);
	mmio_w16(c + CC_Q_MSIX, NO_VECTOR);
	w64(c + CC_Q_DESC, (uintptr_t)vq->desc);
	w64(c + CC_Q_AVAIL, (uintptr_t)vq->avail);
	w64(c + CC_Q_USED, (uintptr_t)vq->used);
	vq->notify = (volatile uint16_t *)(vd->notify_base +
		(uint64_t)mmio_r16(c + CC_Q_NOFF) * vd->notify_mult);
	mmio_w16(c + CC_Q_ENABLE, 1);
	return 0;
}

int
virtq_mem(struct virtq *vq, uint16_t entries)
{
	if (vq->desc)
		return 0;	/* once per device, reused across resets */
	vq->desc = mem_alloc(16ull * entries, PAGE_SIZE);
	vq->avail = mem_alloc(6 + 2ull * entries, 2);
	vq->used = mem_alloc(6 + 8ull * entries, PAGE_SIZE);
	return vq->desc && vq->avail && vq->used ? 0 : -1;
}

/* reset, negotiate, queue 0 with up to qsize entries, DRIVER_OK */
int
virtio_init(struct virtio_dev *vd, uint64_t want_features, uint16_t qsize)
{
	if (virtio_begin(vd, want_features))
		return -1;
	if (virtq_mem(&vd->vq, qsize) || virtio_queue(vd, &vd->vq, 0, qsize)) {
		virtio_fail(vd);
		return -1;
	}
	virtio_ready(vd);
	return 0;
}

void
virtq_push(struct virtq *vq, uint16_t head)
{
	vq->avail->ring[vq->avail_idx & (vq->size - 1)] = head;
	barrier();	/* x86 keeps stores in order; the compiler must too */
	vq->avail->idx = ++vq->avail_idx;
}

void
virtq_kick(struct virtq *vq)
{
	mb();		/* avail->idx visible before we read used->flags */
	if (!(vq->used->flags & VRING_USED_F_NO_NOTIFY))
		mmio_w16(vq->notify, vq->index);
}

bool
virtq_pop(struct virtq *vq, uint32_t *id, uint32_t *len)
{
	volatile struct virtq_used_elem *e;

	if (vq->used->idx == vq->used_seen)
		return false;
	barrier();	/* read the element after seeing the index */
	e = &vq->used->ring[vq->used_seen & (vq->size - 1)];
	*id = e->id;
	*len = e->len;
	vq->used_seen++;
	return true;
}
