/*
 * vmm.c - the public life of a VM: create (KVM, RAM, devices, kernel),
 * start, stop, destroy; console, exit reason, statistics.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/vm/dev/virtio-balloon.h"
#include "engine/vm/dev/virtio-scsi.h"
#include "engine/vm/dev/virtio-blk.h"
#include "engine/vm/dev/virtio-net.h"
#include "engine/vm/dev/fw_cfg.h"
#include "engine/vm/dev/pflash.h"
#include "engine/vm/state/snapshot.h"
#include "engine/vm/vmm-int.h"

static void
kick_handler(int sig)
{
	(void)sig;	/* only here to make KVM_RUN return EINTR */
}

static int
check_config(const struct vmm_config *c, struct hv_err *err)
{
	if (c->mem_bytes < (16ull << 20) || (c->mem_bytes & ((2ull << 20) - 1)))
		return hv_fail(err, HV_EINVAL,
			       "memory must be a multiple of 2 MiB, at least 16 MiB");
	if (c->mem_bytes > (1ull << 40))
		return hv_fail(err, HV_EINVAL, "memory above 1 TiB");
	if (c->vcpus < 1 || c->vcpus > VMM_MAX_VCPUS)
		return hv_fail(err, HV_EINVAL, "vCPUs must be 1..%d", VMM_MAX_VCPUS);
	if (c->generation != 1 && c->generation != 2)
		return hv_fail(err, HV_EINVAL, "generation must be 1 or 2");
	if (vmm_uefi(c) && c->nvram == NULL)
		return hv_fail(err, HV_EINVAL, "a Gen2 UEFI VM needs its variable store (NVRAM)");
	if (c->ndisks < 0 || c->ndisks > VMM_MAX_DISKS)
		return hv_fail(err, HV_EINVAL, "at most %d disks", VMM_MAX_DISKS);
	if (c->nnics < 0 || c->nnics > VMM_MAX_NICS)
		return hv_fail(err, HV_EINVAL, "at most %d network adapters", VMM_MAX_NICS);
	if (c->balloon && c->balloon_bytes >= c->mem_bytes)
		return hv_fail(err, HV_EINVAL, "the balloon cannot hold all of the VM's memory");
	return 0;
}

static int
fds_setup(struct vmm *vm, struct hv_err *err)
{
	int p[2];

	vm->wait_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->wait_fd < 0 || pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0)
		return hv_fail(err, HV_EIO, "eventfd/pipe: %s", strerror(errno));
	vm->console_rd = p[0];
	vm->console_wr = p[1];
	fcntl(p[1], F_SETPIPE_SZ, 1 << 20);	/* a burst while nobody reads */
	return 0;
}

static void
vmm_init_struct(struct vmm *vm, const struct vmm_config *c)
{
	int i;

	vm->cfg = *c;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->mem.page_fd = -1;
	vm->wait_fd = vm->console_rd = vm->console_wr = -1;
	vm->epoll_fd = vm->io_stop_fd = -1;
	vm->nvcpus = c->vcpus;
	for (i = 0; i < VMM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;	/* destroy may run before they exist */
	pthread_mutex_init(&vm->lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	pthread_mutex_init(&vm->gsi_lock, NULL);
	pthread_mutex_init(&vm->pio.lock, NULL);
	pthread_mutex_init(&vm->mmio.lock, NULL);
	vm->state = VM_CREATED;
}

static int
devices_setup(struct vmm *vm, struct hv_err *err)
{
	int i;

	if (serial_init(vm, err) != 0 || legacy_init(vm, err) != 0 ||
	    pci_init(vm, err) != 0 || acpi_pm_init(vm, err) != 0)
		return -1;
	for (i = 0; i < vm->cfg.ndisks; i++)
		if (virtio_blk_create(vm, &vm->cfg.disks[i], err) != 0)
			return -1;
	if (vm->cfg.nic_rom && vm->cfg.nnics > 0 && vmm_load_nic_rom(vm, err) != 0)
		return -1;
	for (i = 0; i < vm->cfg.nnics; i++)
		if (virtio_net_create(vm, &vm->cfg.nics[i], err) != 0)
			return -1;
	if (vm->cfg.balloon && virtio_balloon_create(vm, vm->cfg.balloon_bytes, err) != 0)
		return -1;
	if (vm->cfg.ndvds > 0 && virtio_scsi_create(vm, &vm->cfg, err) != 0)
		return -1;
	return 0;
}

int
vmm_create(struct vmm **out, const struct vmm_config *c, struct hv_err *err)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	struct boot_cpu cpu;
	struct vmm *vm;
	int i;

	*out = NULL;
	if (check_config(c, err) != 0) {
		for (i = 0; i < c->nnics && i < VMM_MAX_NICS; i++)
			if (c->nics[i].tap_fd >= 0)
				close(c->nics[i].tap_fd);	/* ours, as promised */
		return -1;
	}
	vm = calloc(1, sizeof(*vm));
	if (!vm)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	vmm_init_struct(vm, c);
	sigemptyset(&sa.sa_mask);
	sigaction(VMM_KICK_SIGNAL, &sa, NULL);	/* no SA_RESTART */
	if (fds_setup(vm, err) != 0 || io_init(vm, err) != 0 ||
	    kvm_vm_setup(vm, err) != 0 ||
	    devices_setup(vm, err) != 0)
		goto fail;
	/* restoring: RAM and registers come from the saved state (Gen1's
	   firmware ROM is no RAM: it is mapped all the same) */
	if (c->generation == 1 || vmm_uefi(c) ? vmm_load_firmware(vm, err) != 0 :
	    !c->restoring && vmm_load_kernel(vm, &cpu, err) != 0)
		goto fail;
	for (i = 0; i < vm->nvcpus; i++) {
		vm->vcpus[i].vm = vm;
		vm->vcpus[i].id = i;
		if (kvm_vcpu_setup(vm, &vm->vcpus[i], err) != 0)
			goto fail;
	}
	/* firmware starts where a PC does: the reset vector, KVM's initial state */
	if (c->generation == 2 && !vmm_uefi(c) && !c->restoring &&
	    kvm_vcpu_boot_regs(&vm->vcpus[0], &cpu, err) != 0)
		goto fail;
	*out = vm;
	return 0;
fail:
	vmm_destroy(vm);
	return -1;
}

int
vmm_start(struct vmm *vm, struct hv_err *err)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_CREATED) {
		pthread_mutex_unlock(&vm->lock);
		return hv_fail(err, HV_EBUSY, "the VM was already started");
	}
	vm->state = VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	if (io_thread_start(vm, err) != 0)
		return -1;
	if (vm->cfg.restoring)
		vdevs_kick(vm);
	return vcpu_start_all(vm, err);
}

void
vmm_stop(struct vmm *vm)
{
	vmm_request_stop(vm, VMM_EXIT_POWEROFF, 0, "turned off");
	vcpu_join_all(vm);
}

void
vmm_destroy(struct vmm *vm)
{
	int i;

	if (!vm)
		return;
	vmm_stop(vm);
	io_thread_stop(vm);
	for (i = 0; i < vm->nblk; i++)
		virtio_blk_destroy(vm->blk[i]);
	for (i = 0; i < vm->nnet; i++)
		virtio_net_destroy(vm->net[i]);
	virtio_balloon_destroy(vm->balloon);
	virtio_scsi_destroy(vm->scsi);
	/* TAPs handed over that no adapter took yet */
	for (i = vm->nnet; i < vm->cfg.nnics; i++)
		if (vm->cfg.nics[i].tap_fd >= 0)
			close(vm->cfg.nics[i].tap_fd);
	for (i = 0; i < vm->nvcpus; i++) {
		if (vm->vcpus[i].run)
			munmap(vm->vcpus[i].run,
			       vm->vcpus[i].run_size);
		if (vm->vcpus[i].fd >= 0)
			close(vm->vcpus[i].fd);
	}
	pci_free(vm);
	fw_cfg_free(vm);
	if (vm->fw_image)
		munmap(vm->fw_image, vm->fw_len);
	free(vm->nic_rom);
	pflash_destroy(vm->flash);
	acpi_pm_free(vm);
	legacy_free(vm);
	serial_free(vm);
	kvm_vm_teardown(vm);
	if (vm->wait_fd >= 0)
		close(vm->wait_fd);
	if (vm->console_rd >= 0)
		close(vm->console_rd);
	if (vm->console_wr >= 0)
		close(vm->console_wr);
	free(vm);
}

int
vmm_console_fd(struct vmm *vm)
{
	return vm->console_rd;
}

int
vmm_console_input(struct vmm *vm, const void *buf, size_t len)
{
	return serial_input(vm->serial, buf, len);
}

int
vmm_wait_fd(struct vmm *vm)
{
	return vm->wait_fd;
}

void
vmm_exit_info(struct vmm *vm, struct vmm_exit *e)
{
	pthread_mutex_lock(&vm->lock);
	*e = vm->exit;
	pthread_mutex_unlock(&vm->lock);
}

void
vmm_announce(struct vmm *vm)
{
	for (int i = 0; i < vm->nnet; i++)
		virtio_net_announce(vm->net[i]);
}

void
vmm_stats(struct vmm *vm, struct vmm_stats *s)
{
	int i, k;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < vm->nvcpus; i++) {
		for (k = 0; k < VMM_NR_EXIT_KINDS; k++) {
			uint64_t n = __atomic_load_n(&vm->vcpus[i].exits[k],
						     __ATOMIC_RELAXED);

			s->exits[k] += n;
			s->exits_total += n;
		}
	}
	s->pio_unhandled = atomic_load(&vm->pio_unhandled);
	s->mmio_unhandled = atomic_load(&vm->mmio_unhandled);
	s->needs_reset = atomic_load(&vm->needs_reset);
	s->console_dropped = atomic_load(&vm->console_dropped);
	s->ndisks = vm->nblk;
	for (i = 0; i < vm->nblk; i++)
		virtio_blk_stats(vm->blk[i], &s->disks[i]);
	s->nnics = vm->nnet;
	for (i = 0; i < vm->nnet; i++)
		virtio_net_stats(vm->net[i], &s->nics[i]);
}

const char *
vmm_exit_name(int r)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception",
		[KVM_EXIT_IO] = "io", [KVM_EXIT_HYPERCALL] = "hypercall",
		[KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt",
		[KVM_EXIT_MMIO] = "mmio", [KVM_EXIT_IRQ_WINDOW_OPEN] = "irq_window",
		[KVM_EXIT_SHUTDOWN] = "shutdown", [KVM_EXIT_FAIL_ENTRY] = "fail_entry",
		[KVM_EXIT_INTR] = "intr", [KVM_EXIT_SET_TPR] = "set_tpr",
		[KVM_EXIT_TPR_ACCESS] = "tpr_access",
		[KVM_EXIT_INTERNAL_ERROR] = "internal_error",
		[KVM_EXIT_SYSTEM_EVENT] = "system_event",
	};

	if (r >= 0 && r < (int)(sizeof names / sizeof names[0]) && names[r])
		return names[r];
	return "other";
}

const char *
vmm_exit_reason_name(enum vmm_exit_reason r)
{
	switch (r) {
	case VMM_EXIT_NONE: return "none";
	case VMM_EXIT_POWEROFF: return "poweroff";
	case VMM_EXIT_RESET: return "reset";
	case VMM_EXIT_DEBUG: return "debug-exit";
	case VMM_EXIT_TRIPLE_FAULT: return "triple-fault";
	case VMM_EXIT_INTERNAL: return "internal-error";
	}
	return "?";
}

int
vmm_dvd_set(struct vmm *vm, int slot, const char *path, struct hv_err *err)
{
	if (vm->scsi == NULL)
		return hv_fail(err, HV_EINVAL, "the VM has no DVD drive");
	return virtio_scsi_dvd_set(vm->scsi, slot, path, err);
}

bool
vmm_dvd_loaded(struct vmm *vm, int slot)
{
	return vm->scsi != NULL && virtio_scsi_dvd_loaded(vm->scsi, slot);
}

void
vmm_balloon_set(struct vmm *vm, uint64_t bytes)
{
	if (vm->balloon != NULL)
		virtio_balloon_set(vm->balloon, bytes);
}

void
vmm_balloon_ask_stats(struct vmm *vm)
{
	if (vm->balloon != NULL)
		virtio_balloon_ask_stats(vm->balloon);
}

void
vmm_balloon_info(struct vmm *vm, struct vmm_balloon_info *info)
{
	memset(info, 0, sizeof *info);
	info->stats_age_ms = -1;
	if (vm->balloon != NULL)
		virtio_balloon_info(vm->balloon, info);
}
