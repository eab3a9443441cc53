/*
 * vcpu.c - one thread per vCPU running KVM_RUN and handing each exit to
 * the buses; pausing, stopping and the VM's exit reason.
 *
 * A vCPU is pulled out of KVM_RUN by setting its run->immediate_exit and
 * sending it VMM_KICK_SIGNAL (a no-op handler): either KVM_RUN was
 * entered before the flag and the signal interrupts it, or after and
 * the flag makes it return at once.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "engine/vm/vmm-int.h"

void
vmm_log(struct vmm *vm, const char *fmt, ...)
{
	char line[600];
	va_list ap;

	(void)vm;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fprintf(stderr, "hv-vmm: %s\n", line);
}

/* with vm->lock held */
static void
flag_all(struct vmm *vm)
{
	int i;

	for (i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].run)
			vm->vcpus[i].run->immediate_exit = 1;
}

void
vcpu_kick_all(struct vmm *vm)
{
	int i;

	for (i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].started &&
		    !pthread_equal(vm->vcpus[i].thread, pthread_self()))
			pthread_kill(vm->vcpus[i].thread, VMM_KICK_SIGNAL);
}

void
vmm_request_stop(struct vmm *vm, enum vmm_exit_reason r, int code,
		 const char *fmt, ...)
{
	uint64_t one = 1;
	bool first = false;
	va_list ap;

	pthread_mutex_lock(&vm->lock);
	if (vm->exit.reason == VMM_EXIT_NONE) {
		vm->exit.reason = r;
		vm->exit.code = code;
		va_start(ap, fmt);
		vsnprintf(vm->exit.msg, sizeof vm->exit.msg, fmt, ap);
		va_end(ap);
		first = true;
	}
	if (vm->state != VM_STOPPING) {
		vm->state = VM_STOPPING;
		flag_all(vm);
		pthread_cond_broadcast(&vm->cond);
	}
	pthread_mutex_unlock(&vm->lock);
	vcpu_kick_all(vm);
	if (first) {
		if (r != VMM_EXIT_POWEROFF && r != VMM_EXIT_DEBUG)
			vmm_log(vm, "stopping: %s", vm->exit.msg);
		if (vm->wait_fd >= 0 && write(vm->wait_fd, &one, sizeof one) < 0)
			vmm_log(vm, "wait eventfd: %s", strerror(errno));
	}
}

static void
regs_line(struct vcpu *v, char *buf, size_t len)
{
	struct kvm_regs r;
	struct kvm_sregs s;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		snprintf(buf, len, "(registers unreadable)");
		return;
	}
	snprintf(buf, len,
		 "vcpu %d rip=%#llx rsp=%#llx rax=%#llx rbx=%#llx rcx=%#llx "
		 "rdx=%#llx rsi=%#llx rdi=%#llx rflags=%#llx cs=%#x/%#llx l=%d "
		 "cr0=%#llx cr3=%#llx cr4=%#llx efer=%#llx",
		 v->id, r.rip, r.rsp, r.rax, r.rbx, r.rcx, r.rdx, r.rsi, r.rdi,
		 r.rflags, s.cs.selector, s.cs.base, s.cs.l, s.cr0, s.cr3,
		 s.cr4, s.efer);
}

static void
exit_pio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool out = run->io.direction == KVM_EXIT_IO_OUT;
	uint32_t i;

	for (i = 0; i < run->io.count; i++, data += run->io.size)
		if (!bus_access(&v->vm->pio, run->io.port, data, run->io.size,
				out))
			atomic_fetch_add(&v->vm->pio_unhandled, 1);
}

static void
exit_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	int len = run->mmio.len > 8 ? 8 : run->mmio.len;

	if (!bus_access(&v->vm->mmio, run->mmio.phys_addr, run->mmio.data, len,
			run->mmio.is_write))
		atomic_fetch_add(&v->vm->mmio_unhandled, 1);
}

static void
exit_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vmm_request_stop(v->vm, VMM_EXIT_POWEROFF, 0, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vmm_request_stop(v->vm, VMM_EXIT_RESET, 0, "guest reset");
		break;
	default:
		vmm_request_stop(v->vm, VMM_EXIT_INTERNAL, 0,
				 "vcpu %d: system event %u", v->id,
				 v->run->system_event.type);
	}
}

/* false: this exit ends the VM */
static bool
dispatch(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char regs[400];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		exit_pio(v);
		return true;
	case KVM_EXIT_MMIO:
		exit_mmio(v);
		return true;
	case KVM_EXIT_HLT:
	case KVM_EXIT_INTR:
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		return true;
	case KVM_EXIT_SYSTEM_EVENT:
		exit_system_event(v);
		return false;
	case KVM_EXIT_SHUTDOWN:
		regs_line(v, regs, sizeof regs);
		vmm_request_stop(v->vm, VMM_EXIT_TRIPLE_FAULT, 0,
				 "triple fault: %s", regs);
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		regs_line(v, regs, sizeof regs);
		vmm_request_stop(v->vm, VMM_EXIT_INTERNAL, 0,
				 "KVM internal error (suberror %u%s): %s",
				 run->internal.suberror,
				 run->internal.suberror == 1 ? ", emulation failure" : "",
				 regs);
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		regs_line(v, regs, sizeof regs);
		vmm_request_stop(v->vm, VMM_EXIT_INTERNAL, 0,
				 "VM entry failed (reason %#llx): %s",
				 (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
				 regs);
		return false;
	default:
		regs_line(v, regs, sizeof regs);
		vmm_request_stop(v->vm, VMM_EXIT_INTERNAL, 0,
				 "unhandled KVM exit %u: %s", run->exit_reason, regs);
		return false;
	}
}

/* park while paused; false once the VM is stopping */
static bool
may_run(struct vcpu *v)
{
	struct vmm *vm = v->vm;
	bool go;

	pthread_mutex_lock(&vm->lock);
	while (vm->state == VM_PAUSED) {
		vm->parked++;
		pthread_cond_broadcast(&vm->cond);
		pthread_cond_wait(&vm->cond, &vm->lock);
		vm->parked--;
	}
	go = vm->state == VM_RUNNING;
	if (go)
		v->run->immediate_exit = 0;
	pthread_mutex_unlock(&vm->lock);
	return go;
}

static void *
vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, VMM_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	while (may_run(v)) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			vmm_request_stop(v->vm, VMM_EXIT_INTERNAL, 0,
					 "vcpu %d: KVM_RUN: %s", v->id,
					 strerror(errno));
			break;
		}
		if (v->run->exit_reason < VMM_NR_EXIT_KINDS)
			__atomic_fetch_add(&v->exits[v->run->exit_reason], 1,
					   __ATOMIC_RELAXED);
		if (!dispatch(v))
			break;
	}
	return NULL;
}

int
vcpu_start_all(struct vmm *vm, struct hv_err *err)
{
	int i, rc;

	for (i = 0; i < vm->nvcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		rc = pthread_create(&v->thread, NULL, vcpu_thread, v);
		if (rc != 0) {
			vmm_request_stop(vm, VMM_EXIT_INTERNAL, 0,
					 "cannot start vcpu threads");
			return hv_fail(err, HV_EIO, "vcpu thread: %s",
				       strerror(rc));
		}
		v->started = true;
	}
	return 0;
}

void
vcpu_join_all(struct vmm *vm)
{
	int i;

	for (i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].started) {
			pthread_join(vm->vcpus[i].thread, NULL);
			vm->vcpus[i].started = false;
		}
	}
}

int
vmm_pause(struct vmm *vm)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_RUNNING) {
		pthread_mutex_unlock(&vm->lock);
		return vm->state == VM_PAUSED ? 0 : -1;
	}
	vm->state = VM_PAUSED;
	flag_all(vm);
	pthread_mutex_unlock(&vm->lock);
	vcpu_kick_all(vm);
	pthread_mutex_lock(&vm->lock);
	while (vm->state == VM_PAUSED && vm->parked < vm->nvcpus)
		pthread_cond_wait(&vm->cond, &vm->lock);
	pthread_mutex_unlock(&vm->lock);
	return vm->state == VM_PAUSED ? 0 : -1;
}

int
vmm_resume(struct vmm *vm)
{
	int rc = -1;

	pthread_mutex_lock(&vm->lock);
	if (vm->state == VM_PAUSED) {
		vm->state = VM_RUNNING;
		pthread_cond_broadcast(&vm->cond);
		rc = 0;
	} else if (vm->state == VM_RUNNING) {
		rc = 0;
	}
	pthread_mutex_unlock(&vm->lock);
	return rc;
}

bool
vmm_paused(struct vmm *vm)
{
	bool p;

	pthread_mutex_lock(&vm->lock);
	p = vm->state == VM_PAUSED;
	pthread_mutex_unlock(&vm->lock);
	return p;
}

bool
vmm_running(struct vmm *vm)
{
	bool r;

	pthread_mutex_lock(&vm->lock);
	r = vm->state == VM_RUNNING || vm->state == VM_PAUSED;
	pthread_mutex_unlock(&vm->lock);
	return r;
}
