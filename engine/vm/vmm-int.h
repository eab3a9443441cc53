/*
 * vmm-int.h - what the VMM's files share: guest memory, the I/O buses,
 * interrupt lines and the struct vmm itself. Not for the worker.
 */
#ifndef HV_VMM_INT_H
#define HV_VMM_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <linux/kvm.h>

#include "engine/vm/vmm.h"

/* guest physical layout */
#define MMIO_HOLE_START	0xC0000000ull	/* RAM above this moves to 4 GiB */
#define MMIO_HOLE_END	0x100000000ull
#define PCI_MMIO_BASE	0xC0000000ull	/* BARs the VMM assigns itself */
#define PCI_MMIO_END	0xFEC00000ull
#define IOAPIC_BASE	0xFEC00000ull
#define LAPIC_BASE	0xFEE00000ull

/* guest RAM: one mapping, at most two memslots around the hole */
struct gmem {
	uint8_t *host;
	int page_fd;		/* smart paging's file, or -1 */
	uint64_t size;		/* bytes of RAM */
	uint64_t low;		/* bytes mapped at GPA 0 (<= MMIO_HOLE_START) */
	/* live migration: a bit per page (by offset in host) that device
	   code may have written, which KVM's dirty log cannot see */
	_Atomic uint64_t *_Atomic track;
	_Atomic uint64_t *track_buf;	/* track's, freed with the VM */
	bool logging;		/* KVM's dirty log is on for the slots */
};

static inline void
gmem_mark(const struct gmem *m, uint64_t off, uint64_t len)
{
	_Atomic uint64_t *t = m->track;

	if (t == NULL || len == 0)
		return;
	for (uint64_t p = off / 4096; p <= (off + len - 1) / 4096; p++)
		atomic_fetch_or_explicit(&t[p / 64], 1ull << (p % 64), memory_order_relaxed);
}

/* host pointer for [gpa, gpa+len) if it lies wholly in RAM, else NULL;
   while migrating, the range counts as written */
static inline void *
gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	uint64_t high = m->size - m->low, off;

	if (len > m->size)
		return NULL;
	if (gpa < m->low && len <= m->low - gpa)
		off = gpa;
	else if (gpa >= MMIO_HOLE_END && gpa - MMIO_HOLE_END < high &&
		 len <= high - (gpa - MMIO_HOLE_END))
		off = m->low + (gpa - MMIO_HOLE_END);
	else
		return NULL;
	gmem_mark(m, off, len);
	return m->host + off;
}

/* little-endian fields in guest memory and images */
static inline void
put_le16(uint8_t *p, uint16_t v) { p[0] = v; p[1] = v >> 8; }
static inline void
put_le32(uint8_t *p, uint32_t v) { put_le16(p, v); put_le16(p + 2, v >> 16); }
static inline void
put_le64(uint8_t *p, uint64_t v) { put_le32(p, v); put_le32(p + 4, v >> 32); }
static inline uint16_t
get_le16(const uint8_t *p) { return p[0] | (uint16_t)p[1] << 8; }
static inline uint32_t
get_le32(const uint8_t *p) { return get_le16(p) | (uint32_t)get_le16(p + 2) << 16; }
static inline uint64_t
get_le64(const uint8_t *p) { return get_le32(p) | (uint64_t)get_le32(p + 4) << 32; }


/* one I/O port or MMIO range and who serves it */
typedef void (*bus_fn)(void *opaque, uint64_t off, void *data, int len,
		       bool write);

struct bus_range {
	uint64_t base, len;
	bus_fn fn;
	void *opaque;
};

#define BUS_MAX	64

struct bus {
	pthread_mutex_t lock;	/* ranges move when a guest sets a BAR */
	int n;
	struct bus_range r[BUS_MAX];
};

int bus_add(struct bus *b, uint64_t base, uint64_t len, bus_fn fn,
	    void *opaque);
void bus_move(struct bus *b, void *opaque, uint64_t old, uint64_t base);
/* false: nobody serves addr (reads then give all ones) */
bool bus_access(struct bus *b, uint64_t addr, void *data, int len,
		bool write);

struct vcpu {
	struct vmm *vm;
	int id, fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool started;
	uint64_t exits[VMM_NR_EXIT_KINDS];	/* written by its thread only */
};

enum vm_state { VM_CREATED, VM_RUNNING, VM_PAUSED, VM_STOPPING };

struct serial;
struct pci_bus;
struct fw_cfg;
struct virtio_blk;
struct virtio_net;
struct virtio_balloon;
struct virtio_scsi;
struct acpi_pm;
struct acpi_config;
struct snap_w;		/* a device's saved state (state/snap-io.h) */
struct snap_r;

#define VMM_MAX_GSI	256
#define VMM_MAX_WATCH	(VMM_MAX_DISKS * 8 + VMM_MAX_NICS * 4 + 16)
#define GSI_MSI_BASE	24	/* 0..23: the in-kernel PIC/IOAPIC pins */

struct vmm {
	struct vmm_config cfg;
	int kvm_fd, vm_fd;
	struct gmem mem;
	int nvcpus;
	struct vcpu vcpus[VMM_MAX_VCPUS];
	struct bus pio, mmio;

	/* lifecycle: state changes under lock, vCPUs wait on cond */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vm_state state;
	int parked;		/* vCPUs sitting in the pause wait */
	struct vmm_exit exit;
	int wait_fd;		/* eventfd: stopped */
	int console_rd, console_wr;
	atomic_ullong console_dropped;
	atomic_ullong pio_unhandled, mmio_unhandled, needs_reset;

	/* devices */
	struct serial *serial;
	void *legacy;
	struct pci_bus *pci;
	struct fw_cfg *fw_cfg;	/* Gen1 */
	uint8_t *fw_image;	/* Gen1: the BIOS, mapped read-only at 4G - len */
	size_t fw_len;
	uint8_t *nic_rom;	/* cfg.nic_rom's image, on every NIC */
	size_t nic_rom_len;
	int nblk;
	struct virtio_blk *blk[VMM_MAX_DISKS];
	int nnet;
	struct virtio_net *net[VMM_MAX_NICS];
	struct virtio_balloon *balloon;
	struct virtio_scsi *scsi;	/* with DVD drives */
	struct acpi_pm *pm;
	struct pflash *flash;		/* Gen2 UEFI: the variable store */

	/* MSI routing: the whole table is sent on every change */
	pthread_mutex_t gsi_lock;
	int ngsi;
	struct kvm_irq_routing_entry gsi[VMM_MAX_GSI];
	bool gsi_used[VMM_MAX_GSI];

	/* ioeventfds served by one I/O thread */
	int epoll_fd, io_stop_fd;
	int nwatch;
	struct io_watch {
		int fd;
		void (*fn)(void *opaque);
		void *opaque;
		bool raw;	/* not an eventfd: fn reads the fd itself */
	} watch[VMM_MAX_WATCH];
	pthread_t io_thread;
	bool io_started;
	bool ioeventfd_any_len;
};

/* kvm.c */
/* a read-only memslot (writes become MMIO exits nobody serves) */
int kvm_map_rom(struct vmm *vm, uint64_t gpa, void *host, uint64_t size,
		struct hv_err *err);
/* the flash's read-only memslot (writes become MMIO exits pflash.c
   serves); size 0 takes it away, so reads exit too */
int kvm_map_flash(struct vmm *vm, uint64_t gpa, void *host, uint64_t size,
		  struct hv_err *err);
int kvm_vm_setup(struct vmm *vm, struct hv_err *err);
int kvm_dirty_log(struct vmm *vm, bool on, struct hv_err *err);
int kvm_dirty_take(struct vmm *vm, uint64_t *bm, uint64_t *tmp, struct hv_err *err);
int kvm_vcpu_setup(struct vmm *vm, struct vcpu *v, struct hv_err *err);
void kvm_vm_teardown(struct vmm *vm);
void vmm_irq_line(struct vmm *vm, int gsi, int level);
int vmm_msi_route(struct vmm *vm, int gsi, uint64_t addr, uint32_t data);
int vmm_gsi_alloc(struct vmm *vm);
void vmm_gsi_free(struct vmm *vm, int gsi);

/* vcpu.c */
int vcpu_start_all(struct vmm *vm, struct hv_err *err);
void vcpu_kick_all(struct vmm *vm);
void vcpu_join_all(struct vmm *vm);
/* a device or exit says the VM is over: first reason wins */
void vmm_request_stop(struct vmm *vm, enum vmm_exit_reason r, int code,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void vmm_log(struct vmm *vm, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* boot/boot.c: CPU state the loaders ask for */
enum boot_mode { BOOT_PVH32, BOOT_LINUX64 };

struct boot_cpu {
	enum boot_mode mode;
	uint64_t rip, rsp, rbx, rsi;
	uint64_t cr3;		/* BOOT_LINUX64: page tables */
	uint64_t gdt_base;
	uint16_t gdt_limit;
};

int vmm_load_kernel(struct vmm *vm, struct boot_cpu *cpu, struct hv_err *err);
/* boot/boot-bios.c: Gen1 firmware, fw_cfg and the firmware debug port */
int vmm_load_firmware(struct vmm *vm, struct hv_err *err);
/* a whole regular file (under 2 GiB) into malloc'd memory (boot.c) */
int vmm_read_file(const char *path, uint8_t **out, size_t *len, struct hv_err *err);
/* cfg.nic_rom into nic_rom, before the NICs are made */
int vmm_load_nic_rom(struct vmm *vm, struct hv_err *err);
int kvm_vcpu_boot_regs(struct vcpu *v, const struct boot_cpu *cpu,
		       struct hv_err *err);

/* devices */
int serial_init(struct vmm *vm, struct hv_err *err);
void serial_free(struct vmm *vm);
int serial_input(struct serial *s, const void *buf, size_t len);
int legacy_init(struct vmm *vm, struct hv_err *err);
void legacy_free(struct vmm *vm);
int pci_init(struct vmm *vm, struct hv_err *err);
void pci_free(struct vmm *vm);
int acpi_pm_init(struct vmm *vm, struct hv_err *err);
void acpi_pm_free(struct vmm *vm);
/* their state (state/snapshot.c saves it, with snap-io.h): load returns
   0, or -1 when the payload does not fit */
void serial_save(struct serial *s, struct snap_w *w);
int serial_load(struct serial *s, struct snap_r *r);
void legacy_save(void *l, struct snap_w *w);
int legacy_load(void *l, struct snap_r *r);
void acpi_pm_save(struct acpi_pm *pm, struct snap_w *w);
int acpi_pm_load(struct acpi_pm *pm, struct snap_r *r);
/* boot/boot-tables.c: what the ACPI and MP tables say about this VM */
void vmm_acpi_config(const struct vmm *vm, struct acpi_config *c);
/* io-thread.c: fn(opaque) runs on the I/O thread when fd is readable */
int io_init(struct vmm *vm, struct hv_err *err);
int io_watch(struct vmm *vm, int fd, void (*fn)(void *), void *opaque);
/* an fd (a TAP) whose reader drains it: edge-triggered, nothing read here */
int io_watch_raw(struct vmm *vm, int fd, void (*fn)(void *), void *opaque);
int io_thread_start(struct vmm *vm, struct hv_err *err);
void io_thread_stop(struct vmm *vm);

#endif
