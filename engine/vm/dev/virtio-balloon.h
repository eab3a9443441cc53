/*
 * virtio-balloon.h - the memory balloon (virtio id 5) dynamic memory
 * steers: the host sets its target, the guest's page frames come back
 * to the host, and the guest's memory statistics come out.
 */
#ifndef HV_VM_VIRTIO_BALLOON_H
#define HV_VM_VIRTIO_BALLOON_H

#include "engine/vm/vmm-int.h"

struct virtio_balloon;

int virtio_balloon_create(struct vmm *vm, uint64_t initial_bytes,
			  struct hv_err *err);
void virtio_balloon_destroy(struct virtio_balloon *b);
void virtio_balloon_set(struct virtio_balloon *b, uint64_t bytes);
void virtio_balloon_ask_stats(struct virtio_balloon *b);
void virtio_balloon_info(struct virtio_balloon *b, struct vmm_balloon_info *out);

/* for the VM's saved state (state/snapshot.c, with snap-io.h): the core's
   view, and the balloon's own state, after the core's and its
   transport's; load: 0, or -1 when the payload does not fit */
struct virtio_dev *virtio_balloon_vdev(struct virtio_balloon *b);
void virtio_balloon_save(struct virtio_balloon *b, struct snap_w *w);
int virtio_balloon_load(struct virtio_balloon *b, struct snap_r *r);

#endif
