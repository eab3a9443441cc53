/*
 * fpu.c - a vCPU's FPU state in whichever form the host's KVM takes it
 * (see fpu.h). An XSAVE area begins with the 512-byte FXSAVE image, which
 * is what struct kvm_fpu holds in another order, so a blob from one kind of
 * host is turned into the other's form on the way in.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "engine/vm/fpu.h"

#define FXSAVE_LEN	512
#define XSTATE_HDR	512	/* the XSAVE header: xstate_bv first */

static int
has_cap(int kvm_fd, int cap)
{
	return ioctl(kvm_fd, KVM_CHECK_EXTENSION, cap) > 0;
}

static int
xsave_len(int kvm_fd)
{
	int n = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);

	return n > (int)sizeof(struct kvm_xsave) ? n : (int)sizeof(struct kvm_xsave);
}

int
fpu_state_len(int kvm_fd)
{
	return has_cap(kvm_fd, KVM_CAP_XSAVE) ? xsave_len(kvm_fd) : (int)sizeof(struct kvm_fpu);
}

/* FXSAVE image (64-bit layout) <-> struct kvm_fpu */
static void
fx_to_fpu(const uint8_t *fx, struct kvm_fpu *f)
{
	memset(f, 0, sizeof *f);
	memcpy(&f->fcw, fx + 0, 2);
	memcpy(&f->fsw, fx + 2, 2);
	f->ftwx = fx[4];
	memcpy(&f->last_opcode, fx + 6, 2);
	memcpy(&f->last_ip, fx + 8, 8);
	memcpy(&f->last_dp, fx + 16, 8);
	memcpy(&f->mxcsr, fx + 24, 4);
	memcpy(f->fpr, fx + 32, sizeof f->fpr);
	memcpy(f->xmm, fx + 160, sizeof f->xmm);
}

static void
fpu_to_fx(const struct kvm_fpu *f, uint8_t *fx)
{
	memcpy(fx + 0, &f->fcw, 2);
	memcpy(fx + 2, &f->fsw, 2);
	fx[4] = f->ftwx;
	memcpy(fx + 6, &f->last_opcode, 2);
	memcpy(fx + 8, &f->last_ip, 8);
	memcpy(fx + 16, &f->last_dp, 8);
	memcpy(fx + 24, &f->mxcsr, 4);
	memcpy(fx + 32, f->fpr, sizeof f->fpr);
	memcpy(fx + 160, f->xmm, sizeof f->xmm);
}

int
fpu_state_get(int kvm_fd, int vcpu_fd, void **buf, uint32_t *len, struct kvm_xcrs *xcrs)
{
	int xs = xsave_len(kvm_fd), r;
	void *p;

	memset(xcrs, 0, sizeof *xcrs);
	if (has_cap(kvm_fd, KVM_CAP_XCRS) && ioctl(vcpu_fd, KVM_GET_XCRS, xcrs) < 0)
		return -1;
	if (!has_cap(kvm_fd, KVM_CAP_XSAVE)) {
		p = calloc(1, sizeof(struct kvm_fpu));
		if (!p)
			return -1;
		if (ioctl(vcpu_fd, KVM_GET_FPU, p) < 0) {
			free(p);
			return -1;
		}
		*buf = p;
		*len = sizeof(struct kvm_fpu);
		return 0;
	}
	p = calloc(1, xs);
	if (!p)
		return -1;
	r = ioctl(vcpu_fd, xs > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 : KVM_GET_XSAVE, p);
	if (r < 0) {
		free(p);
		return -1;
	}
	*buf = p;
	*len = xs;
	return 0;
}

static int
regs_set(int kvm_fd, int vcpu_fd, const void *buf, uint32_t len)
{
	bool xsave = has_cap(kvm_fd, KVM_CAP_XSAVE);
	int xs = xsave_len(kvm_fd), r;
	struct kvm_fpu f;
	uint8_t *x;
	uint64_t bv = 3;	/* x87 and SSE */

	if (len == sizeof(struct kvm_fpu)) {
		if (!xsave)
			return ioctl(vcpu_fd, KVM_SET_FPU, buf);
		x = calloc(1, xs);
		if (!x)
			return -1;
		fpu_to_fx(buf, x);
		memcpy(x + XSTATE_HDR, &bv, sizeof bv);
		r = ioctl(vcpu_fd, KVM_SET_XSAVE, x);
		free(x);
		return r;
	}
	if (len < FXSAVE_LEN + 64 || len > (1u << 20)) {
		errno = EINVAL;
		return -1;
	}
	if (!xsave) {
		fx_to_fpu(buf, &f);
		return ioctl(vcpu_fd, KVM_SET_FPU, &f);
	}
	x = calloc(1, (size_t)xs > len ? (size_t)xs : len);
	if (!x)
		return -1;
	memcpy(x, buf, len);
	r = ioctl(vcpu_fd, KVM_SET_XSAVE, x);
	free(x);
	return r;
}

int
fpu_state_set(int kvm_fd, int vcpu_fd, const void *buf, uint32_t len, const struct kvm_xcrs *xcrs)
{
	if (xcrs->nr_xcrs > KVM_MAX_XCRS) {
		errno = EINVAL;
		return -1;
	}
	if (regs_set(kvm_fd, vcpu_fd, buf, len) < 0)
		return -1;
	/* a host without XSAVE has no XCR0 to set: the guest's CPUID there
	   says it has no XSAVE either */
	if (xcrs->nr_xcrs > 0 && has_cap(kvm_fd, KVM_CAP_XCRS) &&
	    ioctl(vcpu_fd, KVM_SET_XCRS, xcrs) < 0)
		return -1;
	return 0;
}
