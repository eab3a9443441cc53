/*
 * virtio.h - the virtio core every device and transport shares: device
 * state (features, status, queues) and split virtqueues. Devices never
 * walk rings themselves: they pop chains and push used entries here.
 *
 * A chain the guest got wrong (loop, outside RAM, overflowing length,
 * too long, indirect in indirect, avail index jump) puts the device in
 * DEVICE_NEEDS_RESET; it then ignores the queues until the driver
 * resets it. The VMM itself never trusts a ring value twice: each field
 * is copied out of guest memory once, then checked.
 */
#ifndef HV_VM_VIRTIO_H
#define HV_VM_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/vm/vmm-int.h"

#define VIRTIO_F_INDIRECT_DESC	28
#define VIRTIO_F_EVENT_IDX	29
#define VIRTIO_F_VERSION_1	32

#define VIRTIO_S_ACKNOWLEDGE	0x01
#define VIRTIO_S_DRIVER		0x02
#define VIRTIO_S_DRIVER_OK	0x04
#define VIRTIO_S_FEATURES_OK	0x08
#define VIRTIO_S_NEEDS_RESET	0x40
#define VIRTIO_S_FAILED		0x80

#define VIRTQ_DESC_F_NEXT	1
#define VIRTQ_DESC_F_WRITE	2
#define VIRTQ_DESC_F_INDIRECT	4

#define VIRTIO_MAX_QUEUES	8
#define VIRTQ_MAX_SIZE		256
#define VIRTQ_MAX_SEGS		256	/* buffers in one chain */
#define VIRTQ_MAX_INDIRECT	1024	/* entries in one indirect table */
#define VIRTIO_NO_VECTOR	0xFFFF

struct virtq {
	uint16_t size, max_size;
	bool enabled;
	uint64_t desc_gpa, avail_gpa, used_gpa;
	uint8_t *desc, *avail, *used;	/* host views, checked at enable */
	uint16_t last_avail;		/* next avail entry to take */
	uint16_t used_idx;		/* next used entry to fill */
	uint16_t signalled;		/* used_idx at the last interrupt */
	uint16_t msix_vector;
};

struct vq_seg {
	uint8_t *p;
	uint32_t len;
};

/* one descriptor chain: readable buffers first, then writable ones */
struct vq_chain {
	uint16_t head;
	int nout, nin;
	uint32_t out_len, in_len;
	struct vq_seg seg[VIRTQ_MAX_SEGS];
};

struct virtio_dev;

struct virtio_ops {
	/* queue q was kicked; called with d->lock held */
	void (*notify)(struct virtio_dev *d, int q);
	/* the driver reset the device (queues are already cleared) */
	void (*reset)(struct virtio_dev *d);
	/* the driver wrote device config (d->lock held); NULL: read-only */
	void (*config_write)(struct virtio_dev *d, uint32_t off,
			     const void *data, int len);
	/* chains of queue q taken but not finished (d->lock held): a saved
	   state hands them back to the ring, to be taken again; NULL: none */
	int (*held)(struct virtio_dev *d, int q);
	/* serve every enabled queue when the driver sets DRIVER_OK: for a
	   driver known to kick before it (Linux's virtio_balloon primes its
	   stats queue then; the kick is dropped, nothing else would come) */
	bool serve_at_ready;
};

struct virtio_dev {
	pthread_mutex_t lock;
	struct vmm *vm;			/* NULL in unit tests */
	const struct gmem *mem;
	char name[24];			/* for log lines: "virtio-blk0" */
	uint16_t device_id;
	uint64_t host_features, guest_features;
	uint8_t status, config_gen, isr;
	uint16_t config_vector;
	int nqueues;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint8_t *config;
	uint32_t config_len;
	const struct virtio_ops *ops;
	/* the transport's interrupt: q >= 0 a queue, -1 config change */
	void (*signal)(struct virtio_dev *d, int q);
	void *transport;
	uint64_t needs_reset_events;
	/* queues whose kicks run the device on the kicking vCPU (an MMIO
	   exit) rather than through an ioeventfd and the I/O thread */
	uint32_t vcpu_kicks;
	/* an option ROM on the device's PCI function (a NIC's iPXE), NULL:
	   none; the VM keeps it */
	const uint8_t *rom;
	uint32_t rom_len;
};

void virtio_init(struct virtio_dev *d, struct vmm *vm, const struct gmem *mem,
		 const char *name, uint16_t device_id, int nqueues,
		 uint16_t queue_size);
bool virtio_has(const struct virtio_dev *d, unsigned feature);
bool virtio_live(const struct virtio_dev *d);	/* DRIVER_OK, no reset owed */
void virtio_reset(struct virtio_dev *d);
void virtio_mark_rings(struct virtio_dev *d);
/* the guest broke the rules: mark DEVICE_NEEDS_RESET and say why, once */
void virtio_needs_reset(struct virtio_dev *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int virtq_enable(struct virtio_dev *d, int q);

/* 1: a chain in *c; 0: none pending; -1: bad chain (device needs reset) */
int virtq_pop(struct virtio_dev *d, int q, struct vq_chain *c);
void virtq_push(struct virtio_dev *d, int q, uint16_t head, uint32_t len);
/* interrupt the driver if it wants one (event idx / NO_INTERRUPT) */
void virtq_notify_guest(struct virtio_dev *d, int q);

/* copy between a chain and a flat buffer: readable part / writable part */
uint32_t vq_chain_read(const struct vq_chain *c, uint32_t off, void *buf,
		       uint32_t len);
uint32_t vq_chain_write(const struct vq_chain *c, uint32_t off,
			const void *buf, uint32_t len);

/* the core's device state (state/snapshot.c, with snap-io.h; d->lock
   held); load: 0, or -1 when the payload does not fit */
void virtio_save(struct virtio_dev *d, struct snap_w *w);
int virtio_load(struct virtio_dev *d, struct snap_r *r);

#endif
