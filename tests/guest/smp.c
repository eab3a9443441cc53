/*
 * smp.c - start every application processor the MADT lists, one at a
 * time: give it a GDT, a TSS (with the all-open I/O bitmap kvm_pvm
 * checks) and two stacks, copy the real-mode trampoline (entry.S) to
 * AP_TRAMP_PA, send INIT, then SIPI (twice if it stays silent), and wait
 * until it reports from ring 3. Each AP prints its APIC id and halts.
 *
 *   smp [timeout_ms=N]   per-AP wait (default 2000)
 *   -> "probe: ap apic_id=N online" per AP, then "probe: cpus_online=N",
 *      then "probe: smp cpuid apic_ids=ok|bad package_cpus=N": every CPU's
 *      CPUID (leaf 1 initial APIC id, leaf 0xB x2APIC id) matches its
 *      LAPIC, and leaf 0xB's core level counts the package's CPUs
 *      and virt=none|svm|vmx: what CPUID offers for nested virtualization
 */
#include "tests/guest/probe.h"

#define AP_TRAMP_PA	0x8000ull	/* entry.S: the SIPI vector's page */
#define TSS_LEN		(104 + 8192 + 1)
#define RSP0_LEN	4096
#define RSP3_LEN	16384

#define ICR_INIT	0x00004500u	/* INIT, level assert */
#define ICR_SIPI	0x00004600u
#define ICR_BUSY	(1u << 12)

extern uint8_t ap_tramp[], ap_tramp_end[];
extern uint64_t gdt[];
struct ap_boot *volatile ap_boot_ptr;
static volatile int cpus_online = 1;
static volatile int cpuid_bad;

/* CPUID says this CPU's APIC id is the one its LAPIC has */
static bool
cpuid_id_ok(void)
{
	uint32_t r[4], id = lapic_id(), max;

	cpuid(0, 0, r);
	max = r[0];
	cpuid(1, 0, r);
	if (r[1] >> 24 != id)
		return false;
	if (max >= 0xB) {
		cpuid(0xB, 0, r);
		if (r[3] != id)
			return false;
	}
	return true;
}

void ap_main(struct ap_boot *b) __attribute__((noreturn));

void
ap_main(struct ap_boot *b)
{
	if (!cpuid_id_ok())
		__atomic_fetch_add(&cpuid_bad, 1, __ATOMIC_SEQ_CST);
	pr("probe: ap apic_id=%u online\n", lapic_id());
	__atomic_fetch_add(&cpus_online, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(&b->alive, 1, __ATOMIC_RELEASE);
	for (;;)
		idle_halt();	/* its LAPIC is off: nothing wakes it */
}

/* GDT: the BSP's code and data segments, and a TSS of the AP's own */
static struct ap_boot *
ap_alloc(uint8_t apic_id)
{
	struct ap_boot *b = mem_alloc(sizeof(*b), 64);
	uint64_t *g = mem_alloc(7 * 8, 16);
	uint8_t *tss = mem_alloc(TSS_LEN, 4096);
	uint8_t *rsp0 = mem_alloc(RSP0_LEN, 4096);
	uint8_t *rsp3 = mem_alloc(RSP3_LEN, 4096);
	uint64_t t;

	if (!b || !g || !tss || !rsp0 || !rsp3)
		return NULL;
	memcpy(g, gdt, 5 * 8);
	t = (uintptr_t)tss;
	g[5] = (TSS_LEN - 1) | (t & 0xFFFFFF) << 16 | 0x89ull << 40 |
	       ((t >> 24) & 0xFF) << 56;
	g[6] = t >> 32;
	*(uint64_t *)(tss + 4) = (uintptr_t)rsp0 + RSP0_LEN;	/* RSP0 */
	*(uint16_t *)(tss + 102) = 104;		/* I/O bitmap offset */
	tss[TSS_LEN - 1] = 0xFF;
	b->rsp0 = (uintptr_t)rsp0 + RSP0_LEN;
	b->rsp3 = (uintptr_t)rsp3 + RSP3_LEN;
	b->arg = (uintptr_t)b;
	b->gdt_limit = 7 * 8 - 1;
	b->gdt_base = (uintptr_t)g;
	b->apic_id = apic_id;
	return b;
}

static bool
icr_send(uint8_t apic_id, uint32_t lo)
{
	int spins = 1000000;

	mmio_w32(LAPIC + LAPIC_ICR_HI, (uint32_t)apic_id << 24);
	mmio_w32(LAPIC + LAPIC_ICR_LO, lo);
	while ((mmio_r32(LAPIC + LAPIC_ICR_LO) & ICR_BUSY) && --spins)
		cpu_relax();
	return spins > 0;
}

static bool
wait_alive(struct ap_boot *b, uint64_t us)
{
	uint64_t end = now_us() + us;

	while (!__atomic_load_n(&b->alive, __ATOMIC_ACQUIRE))
		if (now_us() > end)
			return false;
		else
			cpu_relax();
	return true;
}

static bool
ap_start(struct ap_boot *b, uint64_t timeout_us)
{
	uint8_t vec = AP_TRAMP_PA >> 12;

	ap_boot_ptr = b;
	mb();
	if (!icr_send(b->apic_id, ICR_INIT))
		return false;
	delay_us(10000);
	if (!icr_send(b->apic_id, ICR_SIPI | vec))
		return false;
	if (wait_alive(b, 200))
		return true;
	icr_send(b->apic_id, ICR_SIPI | vec);	/* ignored once it runs */
	return wait_alive(b, timeout_us);
}

int
cmd_smp(const char *args)
{
	uint64_t timeout_ms = arg_u64_or(args, "timeout_ms", 2000);
	size_t tlen = ap_tramp_end - ap_tramp;
	uint8_t self = lapic_id();
	uint32_t r[4], pkg;
	const char *virt;
	int i, failed = 0;

	if (!acpi.ncpus) {
		pr("probe: smp needs the ACPI MADT\n");
		return -1;
	}
	memcpy((void *)(uintptr_t)AP_TRAMP_PA, ap_tramp, tlen);
	mmio_w32(LAPIC + LAPIC_SVR, 0x1FF);	/* software-enabled */
	for (i = 0; i < acpi.ncpus; i++) {
		struct ap_boot *b;

		if (acpi.apic_id[i] == self)
			continue;
		b = ap_alloc(acpi.apic_id[i]);
		if (!b) {
			pr("probe: smp out of memory\n");
			return -1;
		}
		if (!ap_start(b, timeout_ms * 1000)) {
			pr("probe: ap apic_id=%u did not start\n", acpi.apic_id[i]);
			failed++;
		}
	}
	pr("probe: cpus_online=%d\n",
	   __atomic_load_n(&cpus_online, __ATOMIC_SEQ_CST));
	if (!cpuid_id_ok())
		cpuid_bad++;
	cpuid(0, 0, r);
	pkg = 0;
	if (r[0] >= 0xB) {
		cpuid(0xB, 1, r);
		pkg = r[1] & 0xFFFF;
	}
	virt = "none";			/* nested virtualization offered? */
	cpuid(1, 0, r);
	if (r[2] & (1u << 5))
		virt = "vmx";
	cpuid(0x80000000, 0, r);
	if (r[0] >= 0x80000001) {
		cpuid(0x80000001, 0, r);
		if (r[2] & (1u << 2))
			virt = "svm";
	}
	pr("probe: smp cpuid apic_ids=%s package_cpus=%u virt=%s\n",
	   __atomic_load_n(&cpuid_bad, __ATOMIC_SEQ_CST) ? "bad" : "ok", pkg, virt);
	return failed ? -1 : 0;
}
