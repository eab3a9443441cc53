/*
 * clock.c - the guest's clocks across a pause the guest did not see: a
 * save and restore, a checkpoint applied, an export restored, a live
 * migration. SEC_CLOCK holds the host's wall-clock time with kvmclock and
 * each vCPU's TSC as they were read; the side that resumes the VM moves
 * kvmclock and every TSC forward by the wall-clock time since, so the
 * guest sees its pause as a gap, as on real hardware, and its clock stays
 * the host's (a restored Debian server was behind by the whole save).
 * Then KVM_KVMCLOCK_CTRL tells the guest it was stopped by its host, so
 * its soft-lockup and RCU-stall watchdogs do not take the gap for a hang.
 *
 *	SEC_CLOCK  u64 realtime ns, u64 kvmclock ns, u32 n, n x u64 TSC
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "engine/vm/state/snapshot.h"
#include "engine/vm/vmm-int.h"

#define MSR_TSC		0x10

static uint64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int
tsc_rw(struct vcpu *v, bool set, uint64_t *val)
{
	struct { struct kvm_msrs h; struct kvm_msr_entry e; } m = { .h.nmsrs = 1 };

	m.e.index = MSR_TSC;
	m.e.data = set ? *val : 0;
	if (ioctl(v->fd, set ? KVM_SET_MSRS : KVM_GET_MSRS, &m) != 1)
		return -1;
	*val = m.e.data;
	return 0;
}

int
clock_save(struct vmm *vm, struct stream *s, struct hv_err *err)
{
	struct kvm_clock_data clock = { 0 };
	struct snap_w w = { 0 };

	snap_u64(&w, realtime_ns());
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0)
		return hv_fail(err, HV_EIO, "KVM_GET_CLOCK: %s", strerror(errno));
	snap_u64(&w, clock.clock);
	snap_u32(&w, (uint32_t)vm->nvcpus);
	for (int i = 0; i < vm->nvcpus; i++) {
		uint64_t tsc;

		if (tsc_rw(&vm->vcpus[i], false, &tsc) != 0) {
			free(w.p);
			return hv_fail(err, HV_EIO, "vcpu %d: reading its TSC: %s", i, strerror(errno));
		}
		snap_u64(&w, tsc);
	}
	out_section(s, SEC_CLOCK, &w);
	free(w.p);
	return 0;
}

int
clock_load(struct vmm *vm, struct clock_state *c, uint64_t len, struct stream *s,
	   struct hv_err *err)
{
	uint8_t *p = len <= 20 + 8ull * VMM_MAX_VCPUS ? malloc(len ? len : 1) : NULL;
	struct snap_r r = { .p = p, .len = len };
	uint32_t n;

	if (p == NULL || in_get(s, p, len) != 0) {
		free(p);
		return hv_fail(err, HV_EINVAL, "state: a bad clock section");
	}
	c->realtime = snap_g64(&r);
	c->kvmclock = snap_g64(&r);
	n = snap_g32(&r);
	for (uint32_t i = 0; i < n && i < VMM_MAX_VCPUS; i++)
		c->tsc[i] = snap_g64(&r);
	free(p);
	if (r.bad || r.off != r.len || n != (uint32_t)vm->nvcpus)
		return hv_fail(err, HV_EINVAL, "state: a bad clock section");
	c->seen = true;
	return 0;
}

int
clock_forward(struct vmm *vm, const struct clock_state *c, struct hv_err *err)
{
	uint64_t now = realtime_ns();
	uint64_t gap = now > c->realtime ? now - c->realtime : 0;
	struct kvm_clock_data clock = { .clock = c->kvmclock + gap };

	if (ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0)
		return hv_fail(err, HV_EIO, "KVM_SET_CLOCK: %s", strerror(errno));
	for (int i = 0; i < vm->nvcpus; i++) {
		int khz = ioctl(vm->vcpus[i].fd, KVM_GET_TSC_KHZ, 0);
		uint64_t tsc;

		if (khz <= 0)
			return hv_fail(err, HV_EIO, "KVM_GET_TSC_KHZ: %s", strerror(errno));
		tsc = c->tsc[i] + gap / 1000 * (uint64_t)khz / 1000;
		if (tsc_rw(&vm->vcpus[i], true, &tsc) != 0)
			return hv_fail(err, HV_EIO, "vcpu %d: setting its TSC: %s", i, strerror(errno));
		/* EINVAL: the guest uses no kvmclock; nothing to tell it */
		ioctl(vm->vcpus[i].fd, KVM_KVMCLOCK_CTRL, 0);
	}
	return 0;
}
