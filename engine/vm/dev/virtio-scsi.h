/*
 * virtio-scsi.h - the VM's SCSI controller (virtio id 8): one target per
 * DVD drive (target N, LUN 0 is DVD drive N), each on an ISO file the
 * host may change or eject while the guest runs.
 */
#ifndef HV_VM_VIRTIO_SCSI_H
#define HV_VM_VIRTIO_SCSI_H

#include "engine/vm/vmm-int.h"

struct virtio_scsi;

int virtio_scsi_create(struct vmm *vm, const struct vmm_config *cfg, struct hv_err *err);
void virtio_scsi_destroy(struct virtio_scsi *s);

/* DVD drive slot's medium: path an ISO, or NULL/"" to eject; also when
   the guest locked the drive (PREVENT MEDIUM REMOVAL): Linux's udev
   locks every loaded drive so that its eject button works, and Hyper-V
   changes the medium regardless */
int virtio_scsi_dvd_set(struct virtio_scsi *s, int slot, const char *path, struct hv_err *err);
/* whether slot holds a medium now (the guest may have ejected it) */
bool virtio_scsi_dvd_loaded(struct virtio_scsi *s, int slot);

/* for the VM's saved state (state/snapshot.c, with snap-io.h): the core's
   view, and the LUNs' own state after the core's and the transport's;
   load: 0, or -1 when the payload does not fit */
struct virtio_dev *virtio_scsi_vdev(struct virtio_scsi *s);
void virtio_scsi_save(struct virtio_scsi *s, struct snap_w *w);
int virtio_scsi_load(struct virtio_scsi *s, struct snap_r *r);

#endif
