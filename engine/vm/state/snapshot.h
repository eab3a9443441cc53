/*
 * snapshot.h - the VM state stream (hv vm save): "HVSTATE1", then typed
 * sections (tag u32, length u64, payload), all little-endian. For the
 * state code and the core; a device writes and reads its own section's
 * payload with snap-io.h alone and never includes this.
 */
#ifndef HV_VM_SNAPSHOT_H
#define HV_VM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/vm/state/snap-io.h"
#include "engine/vm/vmm.h"

/* --- the stream (snapshot.c), shared with live migration (precopy.c) --- */

#define STATE_MAGIC	"HVSTATE1"
#define PAGE		4096u

enum {
	SEC_HEADER = 1, SEC_RAM, SEC_VCPU, SEC_IRQCHIP, SEC_SERIAL,
	SEC_LEGACY, SEC_ACPI_PM, SEC_PCI, SEC_VIRTIO,
	SEC_FWCFG,		/* firmware only: fw_cfg's selector and offset */
	SEC_PFLASH,		/* Gen2 UEFI: the variable store's command state */
	SEC_LAST_DEV = SEC_PFLASH,
	/* migration only (precopy.c); SEC_CLOCK also ends a saved state */
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
enum { VDEV_BLK = 1, VDEV_NET, VDEV_BALLOON, VDEV_SCSI };
int nvdevs(struct vmm *vm);
struct virtio_dev *vdev_at(struct vmm *vm, int i, uint8_t *kind, uint32_t *index);
/* the guest's clocks and the host's wall-clock time (clock.c): written
 * last, and set forward by the time since when the VM resumes */
struct clock_state {
	bool seen;
	uint64_t realtime, kvmclock;
	uint64_t tsc[VMM_MAX_VCPUS];
};
int clock_save(struct vmm *vm, struct stream *s, struct hv_err *err);
int clock_load(struct vmm *vm, struct clock_state *c, uint64_t len, struct stream *s,
	       struct hv_err *err);
int clock_forward(struct vmm *vm, const struct clock_state *c, struct hv_err *err);
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
