/*
 * vmm.h - hv's virtual machine monitor on /dev/kvm: one VM, its vCPU
 * threads, its devices (8250 serial, i8042 reset, CMOS/RTC, debug-exit,
 * PCI host bridge, virtio-pci modern + virtio-blk) and direct kernel boot
 * (PVH ELF entry or Linux bzImage 64-bit protocol).
 *
 * The worker process owns one struct vmm:
 *
 *	vmm_create(&vm, &cfg, &err);	 KVM VM, RAM, devices, kernel loaded
 *	vmm_start(vm, &err);		 vCPU + I/O threads; returns at once
 *	poll vmm_console_fd(vm) and vmm_wait_fd(vm) in the event loop
 *	vmm_exit_info(vm, &e);		 why it stopped by itself
 *	vmm_destroy(vm);
 *
 * Calls are made from one control thread; vCPU and I/O threads are
 * internal. Nothing here calls exit() or touches global state, except
 * that vmm_create() installs a no-op handler for VMM_KICK_SIGNAL (used
 * to pull vCPU threads out of KVM_RUN).
 */
#ifndef HV_VMM_H
#define HV_VMM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"
#include "engine/net/filter.h"
#include "engine/qos.h"

#define VMM_MAX_VCPUS	64
#define VMM_MAX_DISKS	16
#define VMM_MAX_NICS	8
#define VMM_MAX_DVDS	4
#define VMM_KICK_SIGNAL	SIGUSR1

struct vmm;

struct vmm_disk_config {
	const char *path;	/* any format engine/disk opens */
	bool readonly;
	char serial[21];	/* VIRTIO_BLK_T_GET_ID; "" = none */
	uint64_t max_iops;	/* storage QoS: normalized 8 KiB IOs/s; 0: none */
	uint64_t max_bw;	/* bytes/s; 0: unlimited */
};

/* a DVD drive on the VM's SCSI controller (virtio-scsi), target N for
   drive N */
struct vmm_dvd_config {
	const char *path;	/* an ISO file; NULL or "": no medium */
	char serial[21];
};

/* a virtio-net adapter on a TAP the caller opened (IFF_TAP | IFF_NO_PI |
   IFF_VNET_HDR, 12-byte header, nonblocking); the VMM owns the fd from
   vmm_create on, and closes it */
struct vmm_nic_config {
	int tap_fd;
	struct net_policy policy;	/* policy.mac is the adapter's MAC */
	uint64_t max_bw;		/* bits per second, 0: unlimited */
	/* minimum bandwidth: with the switch's capacity known, the adapter
	   takes its share from the switch's QoS arbiter (engine/qos.h) every
	   100 ms; capacity 0 leaves max_bw alone in charge */
	uint64_t min_bw;		/* bits per second reserved under contention */
	uint64_t capacity;		/* the switch's bits per second; 0: unknown */
	const char *qos_home;		/* HV_HOME of the table; read in vmm_create */
	char qos_domain[32];		/* "net-BRIDGE" */
	char qos_key[QOS_KEY_MAX];	/* "VMUUID:nicN" */
};

/* the balloon's view: what the host asked, what the guest gave, and the
   guest's own statistics (virtio VIRTIO_BALLOON_S_* tags) */
#define VMM_BALLOON_NSTATS	10
enum { VMM_BS_MEMFREE = 4, VMM_BS_MEMTOT = 5, VMM_BS_AVAIL = 6 };
struct vmm_balloon_info {
	bool present, driver_ok;
	uint64_t target_bytes;		/* the host wants the balloon this big */
	uint64_t actual_bytes;		/* the guest says it holds this much */
	uint64_t stats_actual;		/* ... and held when its stats came */
	uint64_t stats[VMM_BALLOON_NSTATS];
	unsigned stats_seen;		/* bit per tag the guest reported */
	int64_t stats_age_ms;		/* -1: none yet */
	uint64_t inflated_pages, deflated_pages, released_bytes;
};

struct vmm_config {
	uint64_t mem_bytes;	/* guest RAM, multiple of 2 MiB, >= 16 MiB */
	int vcpus;		/* 1..VMM_MAX_VCPUS (APs wait for INIT/SIPI) */
	int generation;		/* 1: BIOS; 2: UEFI, or direct kernel boot */
	const char *kernel;	/* PVH ELF or bzImage (Gen2); NULL: UEFI */
	const char *initrd;	/* NULL: none */
	const char *cmdline;	/* NULL: "" */
	const char *firmware;	/* NULL: SeaBIOS (Gen1), OVMF (Gen2 UEFI) */
	const char *nvram;	/* Gen2 UEFI: the VM's variable store (its own
				   copy of OVMF_VARS, written as the firmware
				   sets variables) */
	int ndisks;
	struct vmm_disk_config disks[VMM_MAX_DISKS];
	int nnics;
	struct vmm_nic_config nics[VMM_MAX_NICS];
	/* the firmware's boot order: "dvd,disk,net" (any order, each at
	   most once); NULL or "": the firmware's own (DVD, disk) */
	const char *boot_order;
	/* the NICs' option ROM (iPXE for virtio-net, Debian's ipxe-qemu),
	   which firmware runs to boot from the network; NULL: none */
	const char *nic_rom;
	int ndvds;		/* 0: no SCSI controller */
	struct vmm_dvd_config dvds[VMM_MAX_DVDS];
	/* dynamic memory: a balloon holding this much at boot (RAM is the
	   maximum memory; the startup memory is RAM minus this) */
	bool balloon;
	uint64_t balloon_bytes;
	/* smart paging: [page_offset, +page_bytes) of RAM lives in this file
	   (made, 0600) until vmm_unpage(); NULL: none */
	const char *page_file;
	uint64_t page_offset, page_bytes;
	/* the VM's state comes from vmm_restore_state(): no kernel is
	   loaded and the vCPUs are not set up to boot */
	bool restoring;
};

/* a Gen2 VM without a kernel to boot directly starts in UEFI firmware */
static inline bool
vmm_uefi(const struct vmm_config *c)
{
	return c->generation == 2 && c->kernel == NULL;
}

enum vmm_exit_reason {
	VMM_EXIT_NONE = 0,	/* still running (or never started) */
	VMM_EXIT_POWEROFF,	/* vmm_stop(), or the guest powered off */
	VMM_EXIT_RESET,		/* guest asked for a reset (i8042 0xFE, ...) */
	VMM_EXIT_DEBUG,		/* debug-exit port: code = (v << 1) | 1 */
	VMM_EXIT_TRIPLE_FAULT,	/* KVM_EXIT_SHUTDOWN */
	VMM_EXIT_INTERNAL,	/* emulation failure, failed entry, ...: msg */
};

struct vmm_exit {
	enum vmm_exit_reason reason;
	int code;		/* VMM_EXIT_DEBUG: the exit status */
	char msg[512];		/* one line, with registers where they help */
};

/* counters indexed by KVM_EXIT_* (linux/kvm.h); see vmm_exit_name() */
#define VMM_NR_EXIT_KINDS	64

struct vmm_disk_stats {
	uint64_t reads, writes, flushes, discards, write_zeroes, other;
	uint64_t read_bytes, write_bytes;
	uint64_t errors;	/* requests answered with IOERR/UNSUPP */
	uint64_t normalized_ios;	/* storage QoS units (8 KiB) served */
	uint64_t throttled;	/* times QoS held the queue back */
	uint64_t throttled_ns;	/* and for how long, in all */
};

struct vmm_nic_stats {
	uint64_t rx_packets, rx_bytes;	/* to the guest */
	uint64_t tx_packets, tx_bytes;	/* from the guest */
	uint64_t drops[NET_VERDICTS];	/* by the port's policy, by reason */
	uint64_t rx_too_big;		/* no guest buffer could hold it */
	uint64_t tx_errors;		/* the TAP refused a frame */
	uint64_t throttled;		/* times QoS held the queue back */
};

struct vmm_stats {
	uint64_t exits[VMM_NR_EXIT_KINDS];	/* summed over vCPUs */
	uint64_t exits_total;
	uint64_t pio_unhandled, mmio_unhandled;
	int ndisks;
	struct vmm_disk_stats disks[VMM_MAX_DISKS];
	int nnics;
	struct vmm_nic_stats nics[VMM_MAX_NICS];
	uint64_t needs_reset;	/* virtio devices put in DEVICE_NEEDS_RESET */
	uint64_t console_dropped;	/* bytes lost on a full console pipe */
};

int vmm_create(struct vmm **out, const struct vmm_config *c,
	       struct hv_err *err);
int vmm_start(struct vmm *vm, struct hv_err *err);
/* All vCPUs out of KVM_RUN and parked; 0, or -1 if not running. */
int vmm_pause(struct vmm *vm);
int vmm_resume(struct vmm *vm);
bool vmm_paused(struct vmm *vm);
/* After an incoming migration: each adapter sends a RARP from its MAC, so
 * the switches on the way learn where it is now (as QEMU announces). */
void vmm_announce(struct vmm *vm);
/* Turn off: vCPUs stop, exit info says POWEROFF unless it already said why. */
void vmm_stop(struct vmm *vm);
/* Press the ACPI power button: PWRBTN_STS, and the SCI if the guest
 * enabled it; 0, or -1 if the VM is not running (or paused). */
int vmm_power_button(struct vmm *vm);
void vmm_destroy(struct vmm *vm);

/* Save (state/snapshot.c): the paused VM's whole state (RAM, vCPUs, irqchip,
 * devices) as a versioned stream to fd; the VM stays paused. Restore it
 * into a VM created with the same config and .restoring, then
 * vmm_start(); on failure destroy that VM. Both: 0, or -1 and err. */
int vmm_save_state(struct vmm *vm, int fd, struct hv_err *err);
int vmm_restore_state(struct vmm *vm, int fd, struct hv_err *err);
/* the same with every virtio device's lock already held (vdevs_lock): a
   caller that copied the disks under those locks saves the same instant */
int vmm_save_state_held(struct vmm *vm, int fd, struct hv_err *err);
/* state/state-file.c: HV_HOME/vms/NAME/state.hvs; saved through a synced
   temporary file renamed into place */
int vmm_state_path(const char *home, const char *name, char *buf, size_t len);
int vmm_save_file(struct vmm *vm, const char *path, struct hv_err *err);
int vmm_restore_file(struct vmm *vm, const char *path, struct hv_err *err);

/* live migration (state/precopy.c) over fd, a stream the caller
   authenticated */
struct vmm_migrate_progress {
	const char *phase;		/* "storage", "memory", "final" */
	int pass;			/* 1: all RAM; then the pages written since */
	uint64_t sent_bytes;		/* on the wire so far */
	uint64_t remaining_bytes;	/* what this pass sends */
	uint64_t rate;			/* bytes/s while sending */
	uint64_t elapsed_ms;
};
struct vmm_migrate_opts {
	uint64_t max_downtime_ms;	/* the last pass must fit in it */
	bool storage;			/* mirror the disks too */
	int max_passes;			/* 0: 30; then the last pass goes anyway */
	void (*progress)(void *opaque, const struct vmm_migrate_progress *p);
	void *opaque;
};
struct vmm_migrate_result {
	int passes;
	uint64_t total_ms, downtime_ms;	/* downtime: paused to running there */
	uint64_t bytes, pages, zero_pages, disk_bytes;
	bool committed;		/* the destination was told to run it */
	bool unconfirmed;	/* ... and never said it did */
};
/*
 * Source: 0 once the destination runs the VM (this one stays paused:
 * stop it); -1 with the VM running here as before, unless r->committed
 * (it then must never run here again).
 */
int vmm_migrate_send(struct vmm *vm, int fd, const struct vmm_migrate_opts *o,
		     struct vmm_migrate_result *r, struct hv_err *err);
/*
 * Destination, into a VM created with cfg.restoring: the whole stream,
 * then the handover. 0: vmm_start() it now and vmm_migrate_running();
 * -1: the source was told why (it keeps running). storage: the disks
 * arrive in the stream (else they are shared, and opened again here).
 */
int vmm_migrate_receive(struct vmm *vm, int fd, bool storage,
			struct vmm_migrate_result *r, struct hv_err *err);
void vmm_migrate_refuse(int fd, const char *msg);

/*
 * Online merge (state/online-merge.c): copy what disk's differencing
 * image holds into parent (its parent image) while the VM runs, then run
 * the disk on parent; the caller deletes the child. On failure the VM is
 * as before.
 */
int vmm_disk_merge(struct vmm *vm, int disk, const char *parent,
		   void (*progress)(void *opaque, uint64_t done, uint64_t total), void *opaque,
		   struct hv_err *err);

/*
 * Live export (state/live-export.c): copy each disk of the running VM
 * into a new image (path, format "vhdx", ...: flattened, like the
 * source's fixed or dynamic kind when the format is the same) while the
 * guest writes on; then pause it, hold every device, copy the last
 * blocks and, with state, write its whole state from that same instant;
 * it runs on (or stays paused if it was). On failure the VM is as before
 * and nothing it made is left. progress: bytes read of all disks; false
 * stops it.
 */
struct vmm_export_opts {
	int ndisks;			/* the VM's, in order */
	struct { const char *path, *format; } disks[VMM_MAX_DISKS];
	const char *state;		/* NULL: the disks only */
	bool (*progress)(void *opaque, uint64_t done, uint64_t total);
	void *opaque;
};
struct vmm_export_result {
	int rounds;			/* copy-again rounds while it ran */
	uint64_t total_ms;
	uint64_t pause_us;		/* the vCPUs stood still this long */
	uint64_t disk_bytes;		/* written to the copies */
	uint64_t state_bytes;
	uint64_t last_blocks;		/* copied while paused */
};
int vmm_export(struct vmm *vm, const struct vmm_export_opts *o, struct vmm_export_result *r,
	       struct hv_err *err);

/* read end of a nonblocking pipe carrying all the guest writes to COM1 */
int vmm_console_fd(struct vmm *vm);
/* feed COM1's receive FIFO; returns bytes taken (the FIFO may be full) */
int vmm_console_input(struct vmm *vm, const void *buf, size_t len);
/* eventfd, readable once the VM stopped by itself (or was stopped) */
int vmm_wait_fd(struct vmm *vm);
bool vmm_running(struct vmm *vm);

/* dynamic memory: how big the balloon should be; ask for fresh guest
   statistics; read it all (info->present false without a balloon) */
void vmm_balloon_set(struct vmm *vm, uint64_t bytes);
void vmm_balloon_ask_stats(struct vmm *vm);
void vmm_balloon_info(struct vmm *vm, struct vmm_balloon_info *info);

/* smart paging over: RAM backed by the paging file moves into memory (the
   vCPUs pause for the copy) and the file is removed */
int vmm_unpage(struct vmm *vm, struct hv_err *err);
bool vmm_paging(struct vmm *vm);

void vmm_exit_info(struct vmm *vm, struct vmm_exit *e);
void vmm_stats(struct vmm *vm, struct vmm_stats *s);
/* DVD drive slot's medium while the VM runs: an ISO, or NULL to eject
   (the guest sees a media change, also where it locked the drive, as on
   Hyper-V). loaded: whether it holds a medium now (the guest may have
   ejected it). */
int vmm_dvd_set(struct vmm *vm, int slot, const char *path, struct hv_err *err);
bool vmm_dvd_loaded(struct vmm *vm, int slot);

/* storage QoS: disk's IOPS rate now (the host arbiter's grant), never
   above its configured maximum; 0: back to that maximum (or none) */
int vmm_disk_set_iops(struct vmm *vm, int disk, uint64_t iops);
const char *vmm_exit_name(int kvm_exit_reason);	/* "io", "mmio", ... */
const char *vmm_exit_reason_name(enum vmm_exit_reason r); /* "poweroff" */

#endif
