/*
 * vmm-acpi.c - the ACPI and MP tables (engine/vm/boot/acpi.c, acpi-dsdt.c,
 * mptable.c) without KVM: for several CPU counts, link the blobs at two
 * sets of addresses and walk them the way a guest does, from the RSDP
 * through the XSDT and RSDT to every table: signatures, lengths,
 * checksums, MADT entries, FADT registers, \_S5_. Fixups that do not fit
 * are refused. When iasl (acpica-tools) is installed it is the outside
 * oracle: it disassembles every table and recompiles the result, and
 * neither step may report an error.
 *
 * With root, /dev/kvm and the probe guest: the power button through
 * vmm_power_button() (status, SCI at the guest's LAPIC, the line low
 * again once the guest clears the status, a press while paused), and
 * the guest's S5 write turning the VM off. And the CPUID table each vCPU
 * gets agrees with the MADT: APIC id = vCPU index, one package of N
 * (read back with KVM_GET_CPUID2: under kvm_pvm the guest's own CPUID
 * instruction reaches the outer hypervisor, so the probe cannot see it).
 */
#include <libgen.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/vm/boot/acpi.h"
#include "engine/vm/vmm-int.h"
#include "tests/tap.h"
#include "tests/unit/vmm-mini.h"

/* guest memory for the walk: the two blobs at their bases */
struct mem {
	struct acpi_tables *t;
	uint64_t base[ACPI_NBLOBS];
};

static const uint8_t *
at(const struct mem *m, uint64_t gpa, uint64_t len)
{
	int i;

	for (i = 0; i < ACPI_NBLOBS; i++) {
		uint64_t off = gpa - m->base[i];

		if (gpa >= m->base[i] && off <= m->t->blob[i].len &&
		    len <= m->t->blob[i].len - off)
			return m->t->blob[i].data + off;
	}
	return NULL;
}

static uint8_t
sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* a table at gpa with this signature, a sane length and checksum 0 */
static const uint8_t *
table(const struct mem *m, uint64_t gpa, const char *sig, int n)
{
	const uint8_t *p = at(m, gpa, 36);
	uint32_t len;

	if (!p || memcmp(p, sig, 4) != 0) {
		ok(0, "n=%d: %s at %#llx", n, sig, (unsigned long long)gpa);
		return NULL;
	}
	len = get_le32(p + 4);
	p = at(m, gpa, len);
	ok(p && sum(p, len) == 0, "n=%d: %s at %#llx, %u bytes, checksum ok",
	   n, sig, (unsigned long long)gpa, len);
	return p;
}

static void
check_madt(const uint8_t *p, int n)
{
	uint32_t len = get_le32(p + 4), off = 44;
	int cpus = 0, ioapics = 0, bad = 0;
	bool irq0 = false, sci = false, nmi = false;

	is_int(get_le32(p + 36), 0xFEE00000, "n=%d: MADT: LAPIC address", n);
	while (off + 2 <= len && p[off + 1] >= 2 && off + p[off + 1] <= len) {
		const uint8_t *e = p + off;

		if (e[0] == 0) {
			if (e[3] != cpus || get_le32(e + 4) != 1 || e[1] != 8)
				bad++;
			cpus++;
		} else if (e[0] == 1) {
			ioapics++;
			if (get_le32(e + 4) != 0xFEC00000 || get_le32(e + 8) != 0 ||
			    e[2] != n)
				bad++;
		} else if (e[0] == 2) {
			irq0 |= e[3] == 0 && get_le32(e + 4) == 2;
			sci |= e[3] == 9 && get_le32(e + 4) == 9 &&
			       get_le16(e + 8) == 0x000D;
		} else if (e[0] == 4) {
			nmi = e[2] == 0xFF && e[5] == 1;
		}
		off += e[1];
	}
	is_int(off, len, "n=%d: MADT entries fill the table exactly", n);
	is_int(cpus, n, "n=%d: MADT: one enabled local APIC per CPU, ids 0..n-1", n);
	ok(ioapics == 1 && !bad, "n=%d: MADT: one IOAPIC at 0xFEC00000, GSI base 0", n);
	ok(irq0 && sci && nmi, "n=%d: MADT: IRQ0->GSI2, SCI level/high, LINT1 NMI", n);
}

/* the \_S5_ package in the DSDT's AML: Name, '\', _S5_, Package */
static int
s5_type(const uint8_t *dsdt)
{
	uint32_t len = get_le32(dsdt + 4), i;

	for (i = 36; i + 10 < len; i++)
		if (!memcmp(dsdt + i, "\x08\x5C_S5_\x12", 7))
			return dsdt[i + 9] == 0x0A ? dsdt[i + 10] : -1;
	return -1;
}

static void
check_fadt(const struct mem *m, const uint8_t *f, int n)
{
	const uint8_t *dsdt;

	is_int(f[8], 6, "n=%d: FADT revision 6", n);
	ok(get_le16(f + 46) == 9 && get_le32(f + 56) == ACPI_PM_BASE &&
	   get_le32(f + 64) == ACPI_PM1_CNT && get_le32(f + 76) == ACPI_PM_TMR &&
	   f[88] == 4 && f[89] == 2 && f[91] == 4,
	   "n=%d: FADT: SCI 9, PM1a event/control and timer blocks", n);
	ok(!(get_le32(f + 112) & (1u << 4)) && !(get_le32(f + 112) & (1u << 20)),
	   "n=%d: FADT: fixed-feature power button, not hardware-reduced", n);
	ok(get_le64(f + 140) == get_le32(f + 40) &&
	   get_le64(f + 132) == get_le32(f + 36) &&
	   get_le64(f + 152) == ACPI_PM_BASE && get_le64(f + 176) == ACPI_PM1_CNT,
	   "n=%d: FADT: X_ fields agree with the 32-bit ones", n);
	ok(at(m, get_le32(f + 36), 64) &&
	   !memcmp(at(m, get_le32(f + 36), 64), "FACS", 4) &&
	   get_le32(f + 36) % 64 == 0, "n=%d: FACS, 64-byte aligned", n);
	dsdt = table(m, get_le64(f + 140), "DSDT", n);
	if (dsdt)
		is_int(s5_type(dsdt), ACPI_S5_TYP, "n=%d: DSDT: \\_S5_ SLP_TYP", n);
}

static void
walk(struct mem *m, int n)
{
	const uint8_t *rsdp = at(m, m->base[ACPI_BLOB_RSDP], 36), *x, *r, *p;
	int i;

	ok(rsdp && !memcmp(rsdp, "RSD PTR ", 8) && rsdp[15] == 2 &&
	   sum(rsdp, 20) == 0 && sum(rsdp, 36) == 0,
	   "n=%d: RSDP revision 2, both checksums", n);
	if (!rsdp)
		return;
	is_int(get_le32(rsdp + 16), m->base[0] + m->t->rsdt,
	       "n=%d: RSDP -> RSDT lands on the table", n);
	x = table(m, get_le64(rsdp + 24), "XSDT", n);
	r = table(m, get_le32(rsdp + 16), "RSDT", n);
	if (!x || !r)
		return;
	is_int(get_le32(x + 4), 36 + 16, "n=%d: XSDT has two entries", n);
	for (i = 0; i < 2; i++)
		is_int(get_le64(x + 36 + 8 * i), get_le32(r + 36 + 4 * i),
		       "n=%d: XSDT and RSDT entry %d agree", n, i);
	p = table(m, get_le64(x + 36), "FACP", n);
	if (p)
		check_fadt(m, p, n);
	p = table(m, get_le64(x + 44), "APIC", n);
	if (p)
		check_madt(p, n);
}

static void
check_mptable(int n)
{
	struct acpi_config c = { .ncpus = n };
	uint8_t fp[16], cfg[8192];
	int len = mptable_build(fp, cfg, sizeof cfg, 0xE0100, &c);
	int procs = 0, bsp = 0, ioapic = -1, bad = 0, cnt = 0;
	int off = 44;

	if (!ok(len > 44, "n=%d: MP table built (%d bytes)", n, len))
		return;
	ok(!memcmp(fp, "_MP_", 4) && get_le32(fp + 4) == 0xE0100 && fp[8] == 1 &&
	   fp[9] == 4 && sum(fp, 16) == 0, "n=%d: MP floating pointer", n);
	ok(!memcmp(cfg, "PCMP", 4) && get_le16(cfg + 4) == len &&
	   sum(cfg, len) == 0 && get_le32(cfg + 36) == 0xFEE00000,
	   "n=%d: MP config header, checksum", n);
	while (off < len) {
		int type = cfg[off], elen = type == 0 ? 20 : 8;

		if (type > 4) {
			bad++;
			break;
		}
		if (type == 0) {
			bad += cfg[off + 1] != procs || !(cfg[off + 3] & 1);
			bsp += (cfg[off + 3] & 2) != 0;
			procs++;
		}
		if (type == 2)
			ioapic = cfg[off + 1];
		if (type == 3 && cfg[off + 6] != n)
			bad++;
		off += elen;
		cnt++;
	}
	ok(off == len && cnt == get_le16(cfg + 34) && !bad,
	   "n=%d: MP entries: %d, as the header says", n, cnt);
	ok(procs == n && bsp == 1 && ioapic == n,
	   "n=%d: MP: %d processors, one BSP, IOAPIC id %d", n, procs, n);
	ok(mptable_build(fp, cfg, 100, 0xE0100, &c) < 0,
	   "n=%d: MP table refuses a short buffer", n);
}

static char tmpdir[64];

/* iasl: disassemble each table and compile the result; no errors */
static void
iasl_oracle(struct acpi_tables *t, int n)
{
	static const struct { const char *name; } tabs[] = {
		{ "dsdt" }, { "facp" }, { "apic" }, { "rsdt" }, { "xsdt" }, { "facs" },
	};
	uint32_t offs[6] = { t->dsdt, t->fadt, t->madt, t->rsdt, t->xsdt, t->facs };
	char cmd[1024], path[256];
	size_t i;

	for (i = 0; i < sizeof tabs / sizeof tabs[0]; i++) {
		const uint8_t *p = t->blob[ACPI_BLOB_TABLES].data + offs[i];
		FILE *f;
		int rc;

		snprintf(path, sizeof path, "%s/%s%d.dat", tmpdir, tabs[i].name, n);
		f = fopen(path, "w");
		if (!f || fwrite(p, 1, get_le32(p + 4), f) != get_le32(p + 4)) {
			ok(0, "write %s", path);
			if (f)
				fclose(f);
			continue;
		}
		fclose(f);
		snprintf(cmd, sizeof cmd,
			 "cd %s && iasl -d %s%d.dat >%s%d.log 2>&1 && "
			 "! grep -qiE 'error|warning|terminates in the middle' %s%d.dsl "
			 "&& iasl -p %s%d.re %s%d.dsl >>%s%d.log 2>&1 && "
			 "grep -q 'Compilation successful. 0 Errors' %s%d.log",
			 tmpdir, tabs[i].name, n, tabs[i].name, n, tabs[i].name, n,
			 tabs[i].name, n, tabs[i].name, n, tabs[i].name, n,
			 tabs[i].name, n);
		rc = system(cmd);
		if (!ok(rc == 0, "n=%d: iasl disassembles and recompiles %s", n,
			tabs[i].name)) {
			snprintf(cmd, sizeof cmd, "sed 's/^/#   /' %s/%s%d.log | tail -20",
				 tmpdir, tabs[i].name, n);
			if (system(cmd) != 0)
				diag("no log");
		}
	}
	/* the DSDT says what it should, in iasl's words */
	snprintf(cmd, sizeof cmd,
		 "cd %s && grep -q '_S5, Package (0x04)' dsdt%d.dsl && "
		 "grep -q 'EisaId (\"PNP0A03\")' dsdt%d.dsl && "
		 "grep -q 'WordBusNumber' dsdt%d.dsl && "
		 "grep -q 'Name (_PRT, Package (0x80)' dsdt%d.dsl && "
		 "grep -q 'Processor Local APIC' apic%d.dsl && "
		 "[ $(grep -c 'Subtable Type : 00 \\[Processor Local APIC\\]' apic%d.dsl) = %d ] && "
		 "grep -q 'Control Method Power Button (V1) : 0' facp%d.dsl",
		 tmpdir, n, n, n, n, n, n, n, n);
	ok(system(cmd) == 0, "n=%d: iasl reads \\_S5, PCI0, _PRT, %d local APICs, "
	   "fixed power button", n, n);
}

static void
one(int n, bool have_iasl)
{
	struct acpi_config c = { .ncpus = n, .pci_mmio32_base = 0xC0000000,
				 .pci_mmio32_end = 0xFEC00000 };
	struct acpi_tables t;
	struct hv_err err;
	struct mem m = { .t = &t, .base = { 0xE2000, 0xE0000 } };

	if (n > 8)	/* a 64-bit window too */
		c.pci_mmio64_base = 0x8000000000ull, c.pci_mmio64_end = 0x10000000000ull;
	if (!ok(acpi_build(&t, &c, &err) == 0, "n=%d: tables built", n))
		return;
	ok(acpi_link(&t, m.base) == 0, "n=%d: linked for direct boot", n);
	walk(&m, n);
	if (have_iasl)
		iasl_oracle(&t, n);
	acpi_free(&t);

	/* somewhere else, as SeaBIOS might place them */
	acpi_build(&t, &c, &err);
	m.base[0] = 0x7FFE0040;
	m.base[1] = 0xF5A30;
	ok(acpi_link(&t, m.base) == 0, "n=%d: linked at other addresses", n);
	walk(&m, n);
	acpi_free(&t);
	check_mptable(n);
}

/* ---- on KVM, with the probe ---- */

#define WAIT_MS		30000

static char probe[4096], out[16384];

static struct vmm *
probe_vm(const char *cmdline)
{
	struct vmm_config c = { .mem_bytes = 64ull << 20, .vcpus = 1,
				.generation = 2, .kernel = probe,
				.cmdline = cmdline };
	struct hv_err err;
	struct vmm *vm;

	out[0] = 0;
	if (vmm_create(&vm, &c, &err) != 0) {
		diag("vmm_create: %s", err.msg);
		return NULL;
	}
	return vm;
}

/* wait until the console shows s (or the VM stops) */
static bool
wait_for(struct vmm *vm, const char *s)
{
	return mini_wait_for(vm, out, sizeof out, s, WAIT_MS);
}

/* the in-kernel IOAPIC's view of the SCI pin: 1 while the line is high */
static int
sci_line(struct vmm *vm)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };

	if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip) < 0)
		return -1;
	return (chip.chip.ioapic.irr >> ACPI_SCI_IRQ) & 1;
}

static void
test_power_button(void)
{
	struct vmm *vm = probe_vm("pwrbtn seconds=20; ready");
	struct hv_err err;
	struct vmm_exit e;

	if (!ok(vm != NULL, "probe VM created"))
		return;
	is_int(vmm_power_button(vm), -1, "power button before start: refused");
	if (vmm_start(vm, &err) != 0) {
		ok(0, "vmm_start: %s", err.msg);
		vmm_destroy(vm);
		return;
	}
	ok(wait_for(vm, "probe: pwrbtn armed"), "the guest enabled PWRBTN_EN");
	is_int(sci_line(vm), 0, "SCI low before the press");
	is_int(vmm_power_button(vm), 0, "vmm_power_button on a running VM");
	ok(wait_for(vm, "probe: pwrbtn sts=1 sci=1 cleared=1"),
	   "guest: PWRBTN_STS set, SCI pending at its LAPIC, status clears");
	ok(wait_for(vm, "probe: ready"), "the probe goes idle");
	is_int(sci_line(vm), 0, "SCI low again once the guest cleared the status");
	ok(vmm_pause(vm) == 0 && vmm_power_button(vm) == 0 && vmm_resume(vm) == 0,
	   "a press while paused is taken");
	ok(mini_wait(vm, out, sizeof out, WAIT_MS), "and the idle probe powers off");
	ok(strstr(out, "probe: power button") != NULL, "after seeing the button");
	vmm_exit_info(vm, &e);
	ok(e.reason == VMM_EXIT_POWEROFF && strstr(e.msg, "S5"),
	   "exit: poweroff through ACPI S5 (%s: %s)",
	   vmm_exit_reason_name(e.reason), e.msg);
	is_int(vmm_power_button(vm), -1, "power button after the VM is off: refused");
	vmm_destroy(vm);
	if (!ok(strstr(out, "pwrbtn armed") != NULL, "console collected"))
		diag("console: %s", out);
}

static void
test_s5(void)
{
	struct vmm *vm = probe_vm("acpi; acpi-off");
	struct hv_err err;
	struct vmm_exit e;

	if (!ok(vm && vmm_start(vm, &err) == 0, "probe VM for acpi-off starts")) {
		vmm_destroy(vm);
		return;
	}
	ok(mini_wait(vm, out, sizeof out, WAIT_MS), "acpi-off ends the VM");
	ok(strstr(out, "probe: acpi rsdp=0xe0000 madt_cpus=1 ioapic=0xfec00000 "
		   "fadt=ok dsdt=ok s5=5 pm1a_evt=0xb000 pm1a_cnt=0xb004 sci=9") != NULL,
	   "the probe finds the tables where boot-tables.c put them");
	vmm_exit_info(vm, &e);
	is_int(e.reason, VMM_EXIT_POWEROFF, "exit reason: poweroff (%s)", e.msg);
	ok(!strstr(out, "still running"), "no line after the S5 write");
	vmm_destroy(vm);
}

static struct kvm_cpuid_entry2 *
leaf(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	uint32_t i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

static void
test_cpuid(int n)
{
	struct vmm *vm;
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + 512 * sizeof(c->entries[0]));
	struct vmm_config cfg = { .mem_bytes = 64ull << 20, .vcpus = n,
				  .generation = 2, .kernel = probe };
	struct hv_err err;
	int i, bad = 0, bits = 0;

	while ((1 << bits) < n)
		bits++;
	if (!c || vmm_create(&vm, &cfg, &err) != 0) {
		ok(0, "VM with %d vCPUs: %s", n, c ? err.msg : "out of memory");
		free(c);
		return;
	}
	for (i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 *l0, *l1, *b0, *b1, *b2;

		c->nent = 512;
		if (ioctl(vm->vcpus[i].fd, KVM_GET_CPUID2, c) < 0) {
			bad++;
			continue;
		}
		l0 = leaf(c, 0, 0);
		l1 = leaf(c, 1, 0);
		b0 = leaf(c, 0xB, 0);
		b1 = leaf(c, 0xB, 1);
		b2 = leaf(c, 0xB, 2);
		if (!l0 || !l1 || l1->ebx >> 24 != (uint32_t)i ||
		    ((l1->ebx >> 16) & 0xFF) != 1u << bits ||
		    (n > 1 && !(l1->edx & (1u << 28)))) {
			diag("vcpu %d leaf 1: ebx=%#x edx=%#x", i, l1 ? l1->ebx : 0,
			     l1 ? l1->edx : 0);
			bad++;
		}
		if (l0 && l0->eax >= 0xB &&
		    (!b0 || !b1 || !b2 || b0->edx != (uint32_t)i ||
		     b0->ebx != 1 || ((b0->ecx >> 8) & 0xFF) != 1 ||
		     b1->ebx != (uint32_t)n || b1->eax != (uint32_t)bits ||
		     ((b1->ecx >> 8) & 0xFF) != 2 || b1->edx != (uint32_t)i ||
		     ((b2->ecx >> 8) & 0xFF) != 0))
			bad++;
	}
	is_int(bad, 0, "CPUID of %d vCPUs: leaf 1 and 0xB give APIC id = index, "
	       "one package of %d", n, n);
	vmm_destroy(vm);
	free(c);
}

static void
kvm_tests(const char *argv0)
{
	const char *why, *env = getenv("HV_PROBE");
	char self[4096];

	if (!kvm_usable(&why)) {
		ok(1, "# SKIP power button and S5 on KVM: %s", why);
		return;
	}
	snprintf(self, sizeof self, "%s", argv0);
	if (env)
		snprintf(probe, sizeof probe, "%s", env);
	else	/* $(B)/asan/tests/unit/vmm-acpi.t -> $(B)/guest/probe.elf */
		snprintf(probe, sizeof probe, "%s/../../../guest/probe.elf",
			 dirname(self));
	if (access(probe, R_OK) != 0) {
		ok(1, "# SKIP power button and S5 on KVM: no probe guest");
		return;
	}
	test_power_button();
	test_s5();
	test_cpuid(1);
	test_cpuid(4);
	test_cpuid(64);
}

int
main(int argc, char **argv)
{
	static const int counts[] = { 1, 2, 4, 64, 254 };
	struct acpi_config c = { .ncpus = 4 };
	uint64_t high[ACPI_NBLOBS] = { 0x100000000ull, 0xE0000 };
	bool have_iasl = system("command -v iasl >/dev/null 2>&1") == 0;
	struct acpi_tables t;
	struct hv_err err;
	char cmd[128];
	size_t i;

	snprintf(tmpdir, sizeof tmpdir, "/tmp/vmm-acpi.XXXXXX");
	if (!mkdtemp(tmpdir))
		return 1;
	if (!have_iasl)
		diag("iasl not installed (acpica-tools): no outside oracle");
	for (i = 0; i < sizeof counts / sizeof counts[0]; i++)
		one(counts[i], have_iasl);

	c.ncpus = 0;
	ok(acpi_build(&t, &c, &err) < 0, "0 CPUs are refused");
	c.ncpus = 255;
	ok(acpi_build(&t, &c, &err) < 0,
	   "255 CPUs are refused (8-bit APIC ids, 0xFF is broadcast, the IOAPIC needs one)");
	c.ncpus = 4;
	acpi_build(&t, &c, &err);
	ok(acpi_link(&t, high) < 0, "tables above 4 GiB: the 32-bit pointers refuse");
	acpi_free(&t);
	acpi_build(&t, &c, &err);
	t.pointer[0].offset = t.blob[t.pointer[0].blob].len - 2;
	ok(acpi_link(&t, (uint64_t[]){ 0xE2000, 0xE0000 }) < 0,
	   "a pointer fixup past its blob is refused");
	acpi_free(&t);
	is_str(acpi_blob_name(ACPI_BLOB_RSDP), "etc/acpi/rsdp", "fw_cfg name of the RSDP");
	is_int(acpi_blob_align(ACPI_BLOB_TABLES), 64, "the tables blob is 64-byte aligned (FACS)");
	kvm_tests(argv[0]);
	(void)argc;
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		diag("cannot remove %s", tmpdir);
	return done_testing();
}
