/*
 * virtio-pci.h - the virtio 1.x PCI transport (modern only): one memory
 * BAR with the common config, ISR, device config, notify area and the
 * MSI-X table/PBA; vendor 0x1AF4, device 0x1040 + virtio id.
 */
#ifndef HV_VM_VIRTIO_PCI_H
#define HV_VM_VIRTIO_PCI_H

#include "engine/vm/dev/virtio.h"

struct virtio_pci;

/* puts d on PCI bus 0 and wires its MSI-X vectors and queue ioeventfds */
int virtio_pci_add(struct vmm *vm, struct virtio_dev *d,
		   uint32_t class_code, struct virtio_pci **out,
		   struct hv_err *err);
void virtio_pci_free(struct virtio_pci *vp);
/* its PCI slot on bus 0 (the firmware's boot paths name it) */
int virtio_pci_slot(const struct virtio_pci *vp);

/* the transport's state, after the core's (state/snapshot.c, with
   snap-io.h); load: 0, or -1 when the payload does not fit */
void virtio_pci_save(struct virtio_pci *vp, struct snap_w *w);
int virtio_pci_load(struct virtio_pci *vp, struct snap_r *r);

#endif
