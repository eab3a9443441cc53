/*
 * virtio-blk.h - a block device (virtio id 2) on an engine/disk image.
 */
#ifndef HV_VM_VIRTIO_BLK_H
#define HV_VM_VIRTIO_BLK_H

#include "engine/vm/vmm-int.h"

struct virtio_blk;

int virtio_blk_create(struct vmm *vm, const struct vmm_disk_config *c,
		      struct hv_err *err);
void virtio_blk_destroy(struct virtio_blk *b);
void virtio_blk_stats(struct virtio_blk *b, struct vmm_disk_stats *s);

#endif
