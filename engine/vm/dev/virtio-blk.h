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
/* the core's view, for the VM's saved state (state/snapshot.c) */
struct virtio_dev *virtio_blk_vdev(struct virtio_blk *b);

/* storage migration: the disk's bytes, a bitmap of the BLK_MIRROR_BLOCKs
   the guest changed since the last take (on: start one; off: drop it),
   and I/O beside the guest's (buf NULL with write: zeroes) */
#define BLK_MIRROR_BLOCK	(64u * 1024)
uint64_t virtio_blk_size(struct virtio_blk *b);
int virtio_blk_mirror(struct virtio_blk *b, bool on);
/* held: the caller holds the device's lock (vdevs_lock) */
/* copies words of the bitmap to out and clears them; the count of bits */
uint64_t virtio_blk_mirror_take(struct virtio_blk *b, bool held, uint64_t *out, uint64_t words);
/* each block set in bm (words of it), the last one clipped to the disk's
   size: fn(ctx, off, len); stops at fn's first -1 and returns it */
int virtio_blk_mirror_walk(struct virtio_blk *b, const uint64_t *bm, uint64_t words,
			   int (*fn)(void *ctx, uint64_t off, uint32_t len, struct hv_err *err),
			   void *ctx, struct hv_err *err);
int virtio_blk_io(struct virtio_blk *b, bool held, bool write, uint64_t off, void *buf,
		  size_t len, struct hv_err *err);
/* these two: the lock held */
int virtio_blk_flush(struct virtio_blk *b, struct hv_err *err);
int virtio_blk_reopen(struct virtio_blk *b, struct hv_err *err);

/* live export (state/live-export.c): what the device's image is
   (disk_get_info) */
struct disk_info;
int virtio_blk_info(struct virtio_blk *b, struct disk_info *info, struct hv_err *err);

/* online merge (state/online-merge.c): the top image's own status of a
   range, its parent's path (NULL: none), the device's lock, and, with
   the lock held, a new image for the device (the old chain is closed) */
struct disk;
int virtio_blk_layer_status(struct virtio_blk *b, uint64_t off, uint64_t len, uint64_t *pnum,
			    struct hv_err *err);
const char *virtio_blk_parent_path(struct virtio_blk *b);
void virtio_blk_lock(struct virtio_blk *b, bool lock);
void virtio_blk_swap(struct virtio_blk *b, struct disk *d, const char *path);

#endif
