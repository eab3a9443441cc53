/*
 * kvm.c - the KVM side of a VM: the VM fd, guest RAM in memslots, the
 * in-kernel irqchip and PIT, interrupt routing, and each vCPU's CPUID,
 * MSRs, LAPIC and boot registers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "engine/vm/vmm-int.h"

#define TSS_ADDR	0xFFFBD000ull	/* 3 pages KVM needs below 4 GiB */
#define IDENTITY_ADDR	0xFFFBC000ull	/* 1 page, just below the TSS */

static int
set_slot(struct vmm *vm, int slot, uint64_t gpa, uint64_t size, void *host,
	 struct hv_err *err)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.flags = vm->mem.logging ? KVM_MEM_LOG_DIRTY_PAGES : 0,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return hv_fail(err, HV_EIO, "KVM_SET_USER_MEMORY_REGION: %s",
			       strerror(errno));
	return 0;
}

#define ROM_SLOT	2
#define FLASH_SLOT	3

static int
map_ro(struct vmm *vm, int slot, uint64_t gpa, void *host, uint64_t size,
       const char *what, struct hv_err *err)
{
	struct kvm_userspace_memory_region r = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uint64_t)(uintptr_t)host,
	};

	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0)
		r.flags = KVM_MEM_READONLY;
	else if (slot == FLASH_SLOT)
		return hv_fail(err, HV_ENOTSUP, "this host's KVM has no read-only memory "
			       "(KVM_CAP_READONLY_MEM), which the UEFI variable store needs");
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
		return hv_fail(err, HV_EIO, "KVM_SET_USER_MEMORY_REGION (%s): %s",
			       what, strerror(errno));
	return 0;
}

int
kvm_map_rom(struct vmm *vm, uint64_t gpa, void *host, uint64_t size,
	    struct hv_err *err)
{
	return map_ro(vm, ROM_SLOT, gpa, host, size, "firmware", err);
}

int
kvm_map_flash(struct vmm *vm, uint64_t gpa, void *host, uint64_t size,
	      struct hv_err *err)
{
	return map_ro(vm, FLASH_SLOT, gpa, host, size, "UEFI variable store", err);
}

/* smart paging: part of RAM is a shared mapping of a file on disk */
static int
page_setup(struct vmm *vm, struct hv_err *err)
{
	struct gmem *m = &vm->mem;
	uint64_t off = vm->cfg.page_offset, len = vm->cfg.page_bytes;

	if (off % 4096 || len % 4096 || len == 0 || off > m->size ||
	    len > m->size - off)
		return hv_fail(err, HV_EINVAL, "smart paging: %s: range outside RAM", vm->cfg.page_file);
	m->page_fd = open(vm->cfg.page_file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (m->page_fd < 0 || ftruncate(m->page_fd, (off_t)len) != 0 ||
	    mmap(m->host + off, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 m->page_fd, 0) == MAP_FAILED)
		return hv_fail(err, HV_EIO, "smart paging: %s: %s", vm->cfg.page_file, strerror(errno));
	return 0;
}

static int
mem_setup(struct vmm *vm, struct hv_err *err)
{
	struct gmem *m = &vm->mem;
	void *p;

	m->size = vm->cfg.mem_bytes;
	m->low = m->size < MMIO_HOLE_START ? m->size : MMIO_HOLE_START;
	/* NORESERVE: RAM the guest never touches costs nothing */
	p = mmap(NULL, m->size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return hv_fail(err, HV_EIO, "guest RAM (%llu MiB): %s",
			       (unsigned long long)(m->size >> 20),
			       strerror(errno));
	m->host = p;
	madvise(p, m->size, MADV_HUGEPAGE);
	if (vm->cfg.page_file != NULL && page_setup(vm, err) != 0)
		return -1;
	if (set_slot(vm, 0, 0, m->low, m->host, err) != 0)
		return -1;
	if (m->size > m->low &&
	    set_slot(vm, 1, MMIO_HOLE_END, m->size - m->low, m->host + m->low,
		     err) != 0)
		return -1;
	return 0;
}

/* live migration: KVM logs the pages the vCPUs write in slots 0 and 1 */
int
kvm_dirty_log(struct vmm *vm, bool on, struct hv_err *err)
{
	struct gmem *m = &vm->mem;

	m->logging = on;
	if (set_slot(vm, 0, 0, m->low, m->host, err) != 0)
		return -1;
	if (m->size > m->low &&
	    set_slot(vm, 1, MMIO_HOLE_END, m->size - m->low, m->host + m->low, err) != 0)
		return -1;
	return 0;
}

/*
 * OR the pages written since the last call (or since logging began) into
 * bm, a bit per page by offset in RAM (slot 1 starts at low, a multiple
 * of 2 MiB, so on a word boundary); tmp holds size/4096/64 + 1 words
 */
int
kvm_dirty_take(struct vmm *vm, uint64_t *bm, uint64_t *tmp, struct hv_err *err)
{
	struct gmem *m = &vm->mem;
	uint64_t base[2] = { 0, m->low / 4096 }, pages[2] = { m->low / 4096, (m->size - m->low) / 4096 };

	for (int slot = 0; slot < 2; slot++) {
		struct kvm_dirty_log d = { .slot = slot, .dirty_bitmap = tmp };

		if (pages[slot] == 0)
			continue;
		memset(tmp, 0, (pages[slot] + 63) / 64 * 8);
		if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &d) < 0)
			return hv_fail(err, HV_EIO, "KVM_GET_DIRTY_LOG: %s", strerror(errno));
		for (uint64_t w = 0; w < (pages[slot] + 63) / 64; w++)
			bm[base[slot] / 64 + w] |= tmp[w];
	}
	return 0;
}

/* GSI 0..23 keep going to the PIC and IOAPIC once we own the table */
static void
gsi_defaults(struct vmm *vm)
{
	int i;

	for (i = 0; i < 16; i++) {
		struct kvm_irq_routing_entry *e;

		if (i == 2)	/* the cascade */
			continue;
		e = &vm->gsi[vm->ngsi++];
		memset(e, 0, sizeof(*e));
		e->gsi = i;
		e->type = KVM_IRQ_ROUTING_IRQCHIP;
		e->u.irqchip.irqchip = i < 8 ? KVM_IRQCHIP_PIC_MASTER :
					       KVM_IRQCHIP_PIC_SLAVE;
		e->u.irqchip.pin = i % 8;
	}
	for (i = 0; i < 24; i++) {
		struct kvm_irq_routing_entry *e = &vm->gsi[vm->ngsi++];

		memset(e, 0, sizeof(*e));
		e->gsi = i;
		e->type = KVM_IRQ_ROUTING_IRQCHIP;
		e->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e->u.irqchip.pin = i;
	}
	for (i = 0; i < GSI_MSI_BASE; i++)
		vm->gsi_used[i] = true;
}

int
kvm_vm_setup(struct vmm *vm, struct hv_err *err)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t ident = IDENTITY_ADDR;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return hv_fail(err, HV_ENOTSUP, "/dev/kvm: %s", strerror(errno));
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION)
		return hv_fail(err, HV_ENOTSUP, "/dev/kvm: API version is not %d",
			       KVM_API_VERSION);
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return hv_fail(err, HV_EIO, "KVM_CREATE_VM: %s", strerror(errno));
	if (mem_setup(vm, err) != 0)
		return -1;
	/* both only matter on VMX hosts; PVM may refuse them harmlessly */
	ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)TSS_ADDR);
	ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &ident);
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		return hv_fail(err, HV_EIO, "KVM_CREATE_IRQCHIP: %s",
			       strerror(errno));
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0)
		return hv_fail(err, HV_EIO, "KVM_CREATE_PIT2: %s", strerror(errno));
	vm->ioeventfd_any_len = ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
				      KVM_CAP_IOEVENTFD_ANY_LENGTH) > 0;
	gsi_defaults(vm);
	return 0;
}

void
kvm_vm_teardown(struct vmm *vm)
{
	if (vm->mem.page_fd >= 0) {
		close(vm->mem.page_fd);
		unlink(vm->cfg.page_file);
		vm->mem.page_fd = -1;
	}
	if (vm->mem.host)
		munmap(vm->mem.host, vm->mem.size);
	free((void *)vm->mem.track_buf);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}

void
vmm_irq_line(struct vmm *vm, int gsi, int level)
{
	struct kvm_irq_level l = { .irq = gsi, .level = level };

	ioctl(vm->vm_fd, KVM_IRQ_LINE, &l);
}

static int
gsi_commit(struct vmm *vm)
{
	size_t sz = sizeof(struct kvm_irq_routing) +
		    vm->ngsi * sizeof(struct kvm_irq_routing_entry);
	struct kvm_irq_routing *r = calloc(1, sz);
	int rc;

	if (!r)
		return -1;
	r->nr = vm->ngsi;
	memcpy(r->entries, vm->gsi, vm->ngsi * sizeof(vm->gsi[0]));
	rc = ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r);
	free(r);
	return rc < 0 ? -1 : 0;
}

int
vmm_gsi_alloc(struct vmm *vm)
{
	int gsi = -1, i;

	pthread_mutex_lock(&vm->gsi_lock);
	for (i = GSI_MSI_BASE; i < VMM_MAX_GSI && gsi < 0; i++)
		if (!vm->gsi_used[i])
			gsi = i;
	if (gsi >= 0)
		vm->gsi_used[gsi] = true;
	pthread_mutex_unlock(&vm->gsi_lock);
	return gsi;
}

static int
gsi_find(struct vmm *vm, int gsi)
{
	int i;

	for (i = 0; i < vm->ngsi; i++)
		if ((int)vm->gsi[i].gsi == gsi &&
		    vm->gsi[i].type == KVM_IRQ_ROUTING_MSI)
			return i;
	return -1;
}

void
vmm_gsi_free(struct vmm *vm, int gsi)
{
	int i;

	pthread_mutex_lock(&vm->gsi_lock);
	i = gsi_find(vm, gsi);
	if (i >= 0) {
		vm->gsi[i] = vm->gsi[--vm->ngsi];
		gsi_commit(vm);
	}
	vm->gsi_used[gsi] = false;
	pthread_mutex_unlock(&vm->gsi_lock);
}

/* point an MSI GSI at (addr, data); irqfds bound to it follow */
int
vmm_msi_route(struct vmm *vm, int gsi, uint64_t addr, uint32_t data)
{
	struct kvm_irq_routing_entry *e;
	int i, rc;

	pthread_mutex_lock(&vm->gsi_lock);
	i = gsi_find(vm, gsi);
	if (i < 0) {
		if (vm->ngsi >= VMM_MAX_GSI) {
			pthread_mutex_unlock(&vm->gsi_lock);
			return -1;
		}
		i = vm->ngsi++;
	}
	e = &vm->gsi[i];
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = (uint32_t)addr;
	e->u.msi.address_hi = (uint32_t)(addr >> 32);
	e->u.msi.data = data;
	rc = gsi_commit(vm);
	pthread_mutex_unlock(&vm->gsi_lock);
	return rc;
}

/* --- vCPUs ------------------------------------------------------------- */

#define CPUID_SPARE	16	/* room for the topology leaves we add */

static struct kvm_cpuid2 *
supported_cpuid(int kvm_fd)
{
	int n = 256;	/* enough for today's CPUs: one ioctl, no retry */

	for (;;) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) +
					      (n + CPUID_SPARE) *
					      sizeof(c->entries[0]));

		if (!c)
			return NULL;
		c->nent = n;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			return c;
		free(c);
		if (errno != E2BIG || n > 4096)
			return NULL;
		n *= 2;
	}
}

/* bits of the APIC id that number the cores: ceil(log2(n)) */
static int
core_bits(int n)
{
	int b = 0;

	while ((1 << b) < n)
		b++;
	return b;
}

/*
 * Extended topology (leaves 0xB and 0x1F): one package of nvcpus cores,
 * one thread each, APIC id = vCPU index. KVM hands out the host's values;
 * they are replaced, not edited, so every vCPU count reads the same way.
 */
static void
cpuid_topology(struct vmm *vm, struct vcpu *v, struct kvm_cpuid2 *c,
	       uint32_t leaf)
{
	uint32_t i, j, sub;

	for (i = j = 0; i < c->nent; i++)
		if (c->entries[i].function != leaf)
			c->entries[j++] = c->entries[i];
	c->nent = j;
	for (sub = 0; sub < 3; sub++) {
		struct kvm_cpuid_entry2 *e = &c->entries[c->nent++];

		memset(e, 0, sizeof(*e));
		e->function = leaf;
		e->index = sub;
		e->flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
		e->edx = v->id;			/* x2APIC id */
		e->ecx = sub;
		if (sub == 0) {			/* SMT: one thread per core */
			e->ebx = 1;
			e->ecx |= 1 << 8;
		} else if (sub == 1) {		/* cores: the whole package */
			e->eax = core_bits(vm->nvcpus);
			e->ebx = vm->nvcpus;
			e->ecx |= 2 << 8;
		}
	}
}

static void
cpuid_fixup(struct vmm *vm, struct vcpu *v, struct kvm_cpuid2 *c)
{
	int bits = core_bits(vm->nvcpus);
	uint32_t i, max_basic = 0;
	bool amd = false;

	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 0:
			max_basic = e->eax;
			amd = e->ebx == 0x68747541;	/* "Auth"enticAMD */
			break;
		case 1:
			e->ebx = (e->ebx & 0x0000FFFF) | ((uint32_t)v->id << 24) |
				 ((uint32_t)1 << bits << 16);
			e->ecx |= 1u << 31;	/* running under a hypervisor */
			e->ecx &= ~(1u << 5);	/* no VMX: see below */
			e->edx &= ~(1u << 28);	/* HTT: the count is valid */
			if (vm->nvcpus > 1)
				e->edx |= 1u << 28;
			break;
		case 4:				/* cache i: cores, sharing */
			if (!(e->eax & 0x1F))
				break;
			e->eax = (e->eax & 0x3FFF) |
				 ((1u << bits) - 1) << 26 |
				 (((e->eax >> 5) & 7) == 3 ?
				  (1u << bits) - 1 : 0) << 14;
			break;
		}
		/*
		 * No nested virtualization, as Hyper-V's default (its
		 * ExposeVirtualizationExtensions is off): KVM offers SVM/VMX
		 * where the host allows nesting, and a Debian guest's udev
		 * then loads kvm_amd, whose start on every vCPU hung one of
		 * them for ever in the lab (soft lockup in modprobe).
		 */
		if (e->function == 0x80000001)
			e->ecx &= ~(1u << 2);	/* SVM */
		if (!amd)
			continue;
		if (e->function == 0x80000001 && vm->nvcpus > 1)
			e->ecx |= 1u << 1;	/* CmpLegacy */
		if (e->function == 0x80000008)
			e->ecx = (e->ecx & ~0xF0FFu) | (uint32_t)bits << 12 |
				 (uint32_t)(vm->nvcpus - 1);
		if (e->function == 0x8000001E) {
			e->eax = v->id;
			e->ebx = v->id & 0xFF;	/* core id, 1 thread */
			e->ecx = 0;		/* node 0 of 1 */
		}
	}
	if (max_basic >= 0xB)
		cpuid_topology(vm, v, c, 0xB);
	if (max_basic >= 0x1F)
		cpuid_topology(vm, v, c, 0x1F);
}

static int
set_msrs(struct vcpu *v)
{
	static const uint32_t idx[] = {
		0x174, 0x175, 0x176,		/* SYSENTER_CS/ESP/EIP */
		0xC0000081, 0xC0000082, 0xC0000083, 0xC0000084, /* STAR.. */
		0xC0000102,			/* KERNEL_GS_BASE */
		0x10,				/* TSC */
		0x1A0,				/* MISC_ENABLE */
	};
	struct {
		struct kvm_msrs h;
		struct kvm_msr_entry e[sizeof(idx) / sizeof(idx[0])];
	} m;
	size_t i;

	memset(&m, 0, sizeof(m));
	m.h.nmsrs = sizeof(idx) / sizeof(idx[0]);
	for (i = 0; i < m.h.nmsrs; i++) {
		m.e[i].index = idx[i];
		if (idx[i] == 0x1A0)
			m.e[i].data = 1;	/* fast strings */
	}
	/* some MSRs may be absent under PVM: what it takes is enough */
	return ioctl(v->fd, KVM_SET_MSRS, &m) < 0 ? -1 : 0;
}

/* LINT0 = ExtINT (the PIC), LINT1 = NMI, like a PC after BIOS */
static void
set_lapic(struct vcpu *v)
{
	struct kvm_lapic_state l;
	uint32_t *lvt0, *lvt1;

	if (ioctl(v->fd, KVM_GET_LAPIC, &l) < 0)
		return;
	lvt0 = (uint32_t *)&l.regs[0x350];
	lvt1 = (uint32_t *)&l.regs[0x360];
	*lvt0 = (*lvt0 & ~0x1F700u & ~0x10000u) | (7u << 8);
	*lvt1 = (*lvt1 & ~0x1F700u & ~0x10000u) | (4u << 8);
	ioctl(v->fd, KVM_SET_LAPIC, &l);
}

int
kvm_vcpu_setup(struct vmm *vm, struct vcpu *v, struct hv_err *err)
{
	struct kvm_fpu fpu = { .fcw = 0x37F, .mxcsr = 0x1F80 };
	struct kvm_cpuid2 *c;
	int sz;

	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, v->id);
	if (v->fd < 0)
		return hv_fail(err, HV_EIO, "KVM_CREATE_VCPU %d: %s", v->id,
			       strerror(errno));
	sz = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz <= 0)
		return hv_fail(err, HV_EIO, "KVM_GET_VCPU_MMAP_SIZE: %s",
			       strerror(errno));
	v->run = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return hv_fail(err, HV_EIO, "mmap kvm_run: %s", strerror(errno));
	}
	v->run_size = sz;
	c = supported_cpuid(vm->kvm_fd);
	if (!c)
		return hv_fail(err, HV_EIO, "KVM_GET_SUPPORTED_CPUID: %s",
			       strerror(errno));
	cpuid_fixup(vm, v, c);
	sz = ioctl(v->fd, KVM_SET_CPUID2, c);
	free(c);
	if (sz < 0)
		return hv_fail(err, HV_EIO, "KVM_SET_CPUID2: %s", strerror(errno));
	if (set_msrs(v) != 0)
		vmm_log(vm, "vcpu %d: some MSRs could not be set", v->id);
	if (v->id == 0)		/* APs start from INIT, which resets it */
		set_lapic(v);
	ioctl(v->fd, KVM_SET_FPU, &fpu);
	return 0;
}

static void
seg_flat(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
	memset(s, 0, sizeof(*s));
	s->selector = sel;
	s->limit = 0xFFFFFFFF;
	s->type = type;
	s->present = 1;
	s->s = 1;
	s->g = 1;
	s->l = code64;
	s->db = !code64;
}

/* The BSP's first registers: PVH (32-bit, paging off) or Linux 64-bit. */
int
kvm_vcpu_boot_regs(struct vcpu *v, const struct boot_cpu *cpu,
		   struct hv_err *err)
{
	bool lm = cpu->mode == BOOT_LINUX64;
	struct kvm_sregs sr;
	struct kvm_regs r;

	if (ioctl(v->fd, KVM_GET_SREGS, &sr) < 0)
		return hv_fail(err, HV_EIO, "KVM_GET_SREGS: %s", strerror(errno));
	seg_flat(&sr.cs, lm ? 0x10 : 0x08, 0xB, lm);
	seg_flat(&sr.ds, 0x18, 0x3, false);
	sr.es = sr.fs = sr.gs = sr.ss = sr.ds;
	memset(&sr.tr, 0, sizeof(sr.tr));
	sr.tr.limit = 0x67;
	sr.tr.type = 0xB;	/* busy 32/64-bit TSS: VMX insists on one */
	sr.tr.present = 1;
	sr.gdt.base = cpu->gdt_base;
	sr.gdt.limit = cpu->gdt_limit;
	sr.cr0 = 0x11;		/* PE | ET */
	sr.cr4 = 0;
	sr.efer = 0;
	if (lm) {
		sr.cr0 |= 0x80000000u;	/* PG */
		sr.cr3 = cpu->cr3;
		sr.cr4 = 0x20;		/* PAE */
		sr.efer = 0x500;	/* LME | LMA */
	}
	if (ioctl(v->fd, KVM_SET_SREGS, &sr) < 0)
		return hv_fail(err, HV_EIO, "KVM_SET_SREGS: %s", strerror(errno));
	memset(&r, 0, sizeof(r));
	r.rflags = 2;
	r.rip = cpu->rip;
	r.rsp = cpu->rsp;
	r.rbx = cpu->rbx;
	r.rsi = cpu->rsi;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return hv_fail(err, HV_EIO, "KVM_SET_REGS: %s", strerror(errno));
	return 0;
}

bool
vmm_paging(struct vmm *vm)
{
	return vm->mem.page_fd >= 0;
}

/*
 * The paging file's data extents go back into anonymous memory at the
 * same addresses (so the memslots stay), the rest of the range reads as
 * zeros, as ballooned pages may.
 */
int
vmm_unpage(struct vmm *vm, struct hv_err *err)
{
	struct gmem *m = &vm->mem;
	uint8_t *base = m->host + vm->cfg.page_offset;
	off_t len = (off_t)vm->cfg.page_bytes, data = 0, hole;
	bool paused;
	void *p;

	if (m->page_fd < 0)
		return 0;
	paused = !vmm_paused(vm) && vmm_pause(vm) == 0;	/* a user's pause stays */
	p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_SHARED, m->page_fd, 0);
	if (p == MAP_FAILED) {
		if (paused)
			vmm_resume(vm);
		return hv_fail(err, HV_EIO, "smart paging: %s: %s", vm->cfg.page_file, strerror(errno));
	}
	/* the old view stays readable at p while base becomes anonymous */
	if (mmap(base, (size_t)len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED) {
		munmap(p, (size_t)len);
		if (paused)
			vmm_resume(vm);
		return hv_fail(err, HV_EIO, "smart paging: remap: %s", strerror(errno));
	}
	while ((data = lseek(m->page_fd, data, SEEK_DATA)) >= 0 && data < len) {
		hole = lseek(m->page_fd, data, SEEK_HOLE);
		if (hole < 0 || hole > len)
			hole = len;
		memcpy(base + data, (uint8_t *)p + data, (size_t)(hole - data));
		data = hole;
	}
	munmap(p, (size_t)len);
	close(m->page_fd);
	m->page_fd = -1;
	unlink(vm->cfg.page_file);
	if (paused)
		vmm_resume(vm);
	return 0;
}
