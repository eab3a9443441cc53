/*
 * disk-arbiter.h - a worker's side of the host's storage QoS: every
 * 100 ms each of its VM's disks tells the "disk" domain of the host
 * arbiter (engine/qos.h) what it reserves (minimum IOPS), may use
 * (maximum IOPS) and tried to do, and runs at the IOPS it is granted.
 * Only when hv.conf gives the storage's capacity (storage.iops_capacity);
 * without it there is nothing to share and each disk keeps its maximum.
 *
 *	disk_arbiter_open(&a, home, vm, capacity, vmm, &err);  NULL: not needed
 *	poll disk_arbiter_fd(a); when readable: disk_arbiter_tick(a)
 *	disk_arbiter_close(a);
 */
#ifndef HV_VM_DISK_ARBITER_H
#define HV_VM_DISK_ARBITER_H

#include <stdint.h>

#include "engine/hv.h"
#include "engine/vm/vmm.h"

#define DISK_ARBITER_MS		100
#define DISK_ARBITER_DOMAIN	"disk"

struct disk_arbiter;

/* *out is NULL (and 0 returned) when capacity is 0 or vm has no disks */
int disk_arbiter_open(struct disk_arbiter **out, const char *home,
		      const struct hv_vm *vm, uint64_t capacity,
		      struct vmm *vmm, struct hv_err *err);
int disk_arbiter_fd(const struct disk_arbiter *a);
/* the timer fired: publish each disk's demand, apply its grant */
void disk_arbiter_tick(struct disk_arbiter *a);
/* leave the domain (the others share what this VM had); NULL is fine */
void disk_arbiter_close(struct disk_arbiter *a);

#endif
