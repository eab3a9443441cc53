/*
 * fpu.h - a vCPU's FPU/SSE/AVX registers and XCR0 as the host's KVM
 * offers them, for the state stream (save, checkpoints, migration, live
 * export). A host with XSAVE (KVM_CAP_XSAVE) gives the XSAVE area (size
 * KVM_CAP_XSAVE2 when larger) and the XCRs; one without (KVM_CAP_XSAVE 0:
 * an emulated CPU without it, say) only struct kvm_fpu, and refuses
 * KVM_SET_XCRS. The stream keeps whichever blob the source had; either
 * loads on either kind of host (the FXSAVE part is what both share).
 */
#ifndef HV_VM_FPU_H
#define HV_VM_FPU_H

#include <stdint.h>
#include <linux/kvm.h>

/* the size of the blob fpu_state_get gives on this host */
int fpu_state_len(int kvm_fd);

/* the vCPU's registers into a malloc'ed blob (*buf, *len) and its XCRs
   (nr_xcrs 0 where the host has none); -1 with errno on failure */
int fpu_state_get(int kvm_fd, int vcpu_fd, void **buf, uint32_t *len,
		  struct kvm_xcrs *xcrs);

/* the reverse; -1 with errno (EINVAL for a blob of no known shape) */
int fpu_state_set(int kvm_fd, int vcpu_fd, const void *buf, uint32_t len,
		  const struct kvm_xcrs *xcrs);

#endif
