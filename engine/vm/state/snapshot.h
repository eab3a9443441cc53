/*
 * snapshot.h - the VM state stream (hv vm save): "HVSTATE1", then typed
 * sections (tag u32, length u64, payload), all little-endian. Devices
 * write their own section payloads with the snap_w helpers and read
 * them back with snap_r, which never reads past the payload: a short or
 * hostile section sets r->bad and every later get returns zeros.
 */
#ifndef HV_VM_SNAPSHOT_H
#define HV_VM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snap_w {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

struct snap_r {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

void snap_put(struct snap_w *w, const void *data, size_t len);
void snap_u8(struct snap_w *w, uint8_t v);
void snap_u16(struct snap_w *w, uint16_t v);
void snap_u32(struct snap_w *w, uint32_t v);
void snap_u64(struct snap_w *w, uint64_t v);

/* 0 and r->bad when fewer than len bytes are left */
int snap_get(struct snap_r *r, void *data, size_t len);
uint8_t snap_g8(struct snap_r *r);
uint16_t snap_g16(struct snap_r *r);
uint32_t snap_g32(struct snap_r *r);
uint64_t snap_g64(struct snap_r *r);

/* device state: each returns 0, or -1 when the payload does not fit */
struct serial;
struct legacy;
struct acpi_pm;
struct pci_bus;
struct virtio_dev;
struct virtio_pci;
struct virtio_blk;
struct virtio_net;
struct virtio_balloon;

void serial_save(struct serial *s, struct snap_w *w);
int serial_load(struct serial *s, struct snap_r *r);
void legacy_save(void *l, struct snap_w *w);
int legacy_load(void *l, struct snap_r *r);
void acpi_pm_save(struct acpi_pm *pm, struct snap_w *w);
int acpi_pm_load(struct acpi_pm *pm, struct snap_r *r);
struct fw_cfg;
void fw_cfg_save(struct fw_cfg *f, struct snap_w *w);
int fw_cfg_load(struct fw_cfg *f, struct snap_r *r);
void pci_save(struct pci_bus *b, struct snap_w *w);
int pci_load(struct pci_bus *b, struct snap_r *r);
/* the virtio core's device state and its PCI transport's */
void virtio_save(struct virtio_dev *d, struct snap_w *w);
int virtio_load(struct virtio_dev *d, struct snap_r *r);
void virtio_pci_save(struct virtio_pci *vp, struct snap_w *w);
int virtio_pci_load(struct virtio_pci *vp, struct snap_r *r);
struct virtio_dev *virtio_blk_vdev(struct virtio_blk *b);
struct virtio_dev *virtio_net_vdev(struct virtio_net *n);
struct virtio_dev *virtio_balloon_vdev(struct virtio_balloon *b);
/* the balloon's own, after the core's and its transport's */
void virtio_balloon_save(struct virtio_balloon *b, struct snap_w *w);
int virtio_balloon_load(struct virtio_balloon *b, struct snap_r *r);

/* --- the stream (snapshot.c), shared with live migration (precopy.c) --- */

#define STATE_MAGIC	"HVSTATE1"
#define PAGE		4096u

enum {
	SEC_HEADER = 1, SEC_RAM, SEC_VCPU, SEC_IRQCHIP, SEC_SERIAL,
	SEC_LEGACY, SEC_ACPI_PM, SEC_PCI, SEC_VIRTIO,
	SEC_FWCFG,		/* Gen1 only: fw_cfg's selector and offset */
	/* migration only (precopy.c) */
	SEC_PAGES = 16, SEC_DISK, SEC_CLOCK, SEC_SYNC,
	SEC_END = 0xFFFFFFFFu,
};

struct vmm;
struct hv_err;

/* buffered (1 MiB) reads or writes on a file or socket */
struct stream {
	int fd;
	uint8_t *buf;
	size_t n, pos;		/* reading: bytes in buf, next one */
	int error;		/* errno, or -1: end of file */
	uint64_t bytes;		/* moved through fd so far */
	bool sum;		/* keep crc: a CRC-32C of what went through */
	uint32_t crc;
};

void out_put(struct stream *s, const void *p, size_t len);
void out_flush(struct stream *s);
void out_section(struct stream *s, uint32_t tag, const struct snap_w *w);
int in_get(struct stream *s, void *p, size_t len);

bool page_zero(const uint8_t *p);
/* hold every virtio device's lock: the I/O thread stays out of RAM */
void vdevs_lock(struct vmm *vm, bool lock);
/* a restored VM's queues served once, as if kicked (vmm_start) */
void vdevs_kick(struct vmm *vm);
void header_save(struct vmm *vm, struct snap_w *w);
/* the VM's virtio devices, 0..nvdevs()-1: kind VDEV_*, index among its kind */
enum { VDEV_BLK = 1, VDEV_NET, VDEV_BALLOON };
int nvdevs(struct vmm *vm);
struct virtio_dev *vdev_at(struct vmm *vm, int i, uint8_t *kind, uint32_t *index);
/* every vCPU, the irqchip and each device model, as sections */
int devices_save(struct vmm *vm, struct stream *s, struct hv_err *err);
/*
 * Read sections up to SEC_END (whose payload, when it has one, is the
 * CRC-32C of everything before it: s->sum must be on to check it). extra (may be NULL) is offered each tag
 * past SEC_VIRTIO after the header: it returns 0 when it consumed the
 * section's len bytes, 1 for a tag it does not know, -1 on error. With
 * extra, no SEC_RAM is needed (migration sends pages instead).
 */
typedef int (*snap_extra_fn)(void *opaque, uint32_t tag, uint64_t len, struct stream *s,
			     struct hv_err *err);
int stream_load(struct vmm *vm, struct stream *s, snap_extra_fn extra, void *opaque,
		struct hv_err *err);

#endif
