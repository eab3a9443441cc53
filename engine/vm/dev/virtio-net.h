/*
 * virtio-net.h - a network adapter (virtio id 1) on a TAP, with the
 * port's policy (engine/net/filter.h) in its packet path.
 */
#ifndef HV_VM_VIRTIO_NET_H
#define HV_VM_VIRTIO_NET_H

#include "engine/vm/vmm-int.h"

struct virtio_net;

/* takes nc->tap_fd (closed by virtio_net_destroy, even on failure) */
int virtio_net_create(struct vmm *vm, const struct vmm_nic_config *nc,
		      struct hv_err *err);
void virtio_net_destroy(struct virtio_net *n);
void virtio_net_stats(struct virtio_net *n, struct vmm_nic_stats *s);
/* a RARP from the adapter's MAC on its TAP (after a migration) */
void virtio_net_announce(struct virtio_net *n);
/* the core's view, for the VM's saved state (state/snapshot.c) */
struct virtio_dev *virtio_net_vdev(struct virtio_net *n);

#endif
