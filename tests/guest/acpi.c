/*
 * acpi.c - what the probe reads from the ACPI tables, treating them as
 * untrusted input: the RSDP (from hvm_start_info, else a scan of
 * 0xE0000-0xFFFFF), the XSDT or RSDT, the MADT (local APICs, IOAPIC),
 * the FADT (PM1a blocks, SCI) and the DSDT's \_S5_ package. Every table
 * must lie in the cacheable identity map, have a sane length and sum to
 * zero; every loop is bounded by the table it walks.
 *
 * Commands: acpi (report), acpi-off (S5 through PM1a_CNT), pwrbtn (wait
 * for the fixed-feature power button, check its SCI reached the LAPIC).
 */
#include "tests/guest/probe.h"

#define TABLE_MAX	(1u << 20)
#define SDT_MAX_ENTRIES	64
#define PM1_PWRBTN	0x0100
#define CNT_SLP_EN	0x2000
#define SCI_VECTOR	0x59
#define IOAPIC_REDIR(pin) (0x10 + 2 * (pin))

struct acpi_info acpi = { .s5_typ = -1 };
static bool button_armed;

static uint8_t
sum8(const uint8_t *p, uint32_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static uint32_t
rd32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t
rd64(const uint8_t *p)
{
	return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

/* a checksummed table with this signature at pa, or NULL */
static const uint8_t *
table_at(uint64_t pa, const char *sig)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)pa;
	uint32_t len;

	if (!low_range_ok(pa, 36))
		return NULL;
	len = rd32(p + 4);
	if (len < 36 || len > TABLE_MAX || !low_range_ok(pa, len) ||
	    (sig && memcmp(p, sig, 4)) || sum8(p, len))
		return NULL;
	return p;
}

static bool
rsdp_ok(uint64_t pa)
{
	const uint8_t *p = (const uint8_t *)(uintptr_t)pa;

	if (!low_range_ok(pa, 36) || memcmp(p, "RSD PTR ", 8) || sum8(p, 20))
		return false;
	return p[15] < 2 || (rd32(p + 20) >= 36 && !sum8(p, 36));
}

static uint64_t
rsdp_scan(void)
{
	uint64_t pa;

	for (pa = 0xE0000; pa < 0x100000; pa += 16)
		if (rsdp_ok(pa))
			return pa;
	return 0;
}

static void
parse_madt(const uint8_t *m)
{
	uint32_t len = rd32(m + 4), off = 44;

	while (off + 2 <= len && m[off + 1] >= 2 && m[off + 1] <= len - off) {
		const uint8_t *e = m + off;

		if (e[0] == 0 && e[1] >= 8 && (rd32(e + 4) & 1) &&
		    acpi.ncpus < ACPI_MAX_CPUS)
			acpi.apic_id[acpi.ncpus++] = e[3];
		if (e[0] == 1 && e[1] >= 12 && !acpi.ioapic)
			acpi.ioapic = rd32(e + 4);
		off += e[1];
	}
}

/* a PkgLength at p (at most end - p bytes): its value, and its size in *n */
static uint32_t
pkg_length(const uint8_t *p, const uint8_t *end, int *n)
{
	uint32_t v;
	int i;

	*n = 1 + (p[0] >> 6);
	if (end - p < *n)
		return 0;
	if (*n == 1)
		return p[0] & 0x3F;
	v = p[0] & 0x0F;
	for (i = 1; i < *n; i++)
		v |= (uint32_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

/* Name (\_S5_ or _S5_, Package () { SLP_TYPa, ... }) in the AML */
static int
find_s5(const uint8_t *d)
{
	uint32_t len = rd32(d + 4), i;
	const uint8_t *end = d + len;

	for (i = 36; i + 4 <= len; i++) {
		const uint8_t *p = d + i + 4;
		int n;

		if (memcmp(d + i, "_S5_", 4) || p + 3 > end || p[0] != 0x12)
			continue;
		pkg_length(p + 1, end, &n);
		p += 1 + n + 1;			/* PackageOp, PkgLength, count */
		if (p >= end)
			return -1;
		if (p[0] == 0x00 || p[0] == 0x01)
			return p[0];
		if (p[0] == 0x0A && p + 1 < end)
			return p[1];
		return -1;
	}
	return -1;
}

static void
parse_fadt(const uint8_t *f)
{
	uint32_t len = rd32(f + 4);
	uint64_t dsdt = 0;
	const uint8_t *d;

	if (len < 116)
		return;
	acpi.fadt_ok = true;
	acpi.sci = f[46] | f[47] << 8;
	acpi.pm1a_evt = rd32(f + 56) <= 0xFFFF ? rd32(f + 56) : 0;
	acpi.pm1a_cnt = rd32(f + 64) <= 0xFFFF ? rd32(f + 64) : 0;
	if (len >= 148)
		dsdt = rd64(f + 140);
	if (!dsdt)
		dsdt = rd32(f + 40);
	d = table_at(dsdt, "DSDT");
	if (d) {
		acpi.dsdt_ok = true;
		acpi.s5_typ = find_s5(d);
	}
}

void
acpi_init(uint64_t rsdp_paddr)
{
	uint64_t pa = rsdp_paddr;
	const uint8_t *r, *sdt;
	uint32_t i, n, w;

	if (!pa || !rsdp_ok(pa))
		pa = rsdp_scan();
	if (!pa)
		return;
	acpi.rsdp = pa;
	r = (const uint8_t *)(uintptr_t)pa;
	sdt = NULL;
	w = 8;
	if (r[15] >= 2)
		sdt = table_at(rd64(r + 24), "XSDT");
	if (!sdt) {
		sdt = table_at(rd32(r + 16), "RSDT");
		w = 4;
	}
	if (!sdt)
		return;
	n = (rd32(sdt + 4) - 36) / w;
	if (n > SDT_MAX_ENTRIES)
		n = SDT_MAX_ENTRIES;
	for (i = 0; i < n; i++) {
		const uint8_t *e = sdt + 36 + w * i;
		const uint8_t *t = table_at(w == 8 ? rd64(e) : rd32(e), NULL);

		if (t && !memcmp(t, "APIC", 4) && !acpi.ncpus)
			parse_madt(t);
		if (t && !memcmp(t, "FACP", 4) && !acpi.fadt_ok)
			parse_fadt(t);
	}
}

int
cmd_acpi(const char *args)
{
	if (!acpi.rsdp) {
		pr("probe: acpi rsdp=none\n");
		return -1;
	}
	pr("probe: acpi rsdp=0x%lx madt_cpus=%d ioapic=0x%lx fadt=%s dsdt=%s "
	   "s5=%d pm1a_evt=0x%x pm1a_cnt=0x%x sci=%u\n", (unsigned long)acpi.rsdp,
	   acpi.ncpus, (unsigned long)acpi.ioapic, acpi.fadt_ok ? "ok" : "none",
	   acpi.dsdt_ok ? "ok" : "none", acpi.s5_typ, acpi.pm1a_evt,
	   acpi.pm1a_cnt, acpi.sci);
	return acpi.ncpus && acpi.fadt_ok && acpi.dsdt_ok ? 0 : -1;
}

int
acpi_poweroff(void)
{
	if (!acpi.pm1a_cnt || acpi.s5_typ < 0 || acpi.s5_typ > 7) {
		pr("probe: acpi-off impossible (pm1a_cnt=0x%x s5=%d)\n",
		   acpi.pm1a_cnt, acpi.s5_typ);
		return -1;
	}
	outw(acpi.pm1a_cnt, (uint16_t)(acpi.s5_typ << 10 | CNT_SLP_EN));
	delay_us(1000000);
	pr("probe: still running 1 s after S5\n");
	return -1;
}

int
cmd_acpi_off(const char *args)
{
	return acpi_poweroff();
}

void
acpi_power_button_arm(void)
{
	if (!acpi.pm1a_evt)
		return;
	outw(acpi.pm1a_evt + 2, inw(acpi.pm1a_evt + 2) | PM1_PWRBTN);
	button_armed = true;
}

bool
acpi_power_button(void)
{
	if (!button_armed || !(inw(acpi.pm1a_evt) & PM1_PWRBTN))
		return false;
	outw(acpi.pm1a_evt, PM1_PWRBTN);	/* write 1 to clear */
	return true;
}

static uint32_t
ioapic_read(uint32_t reg)
{
	volatile uint8_t *io = (volatile uint8_t *)(uintptr_t)acpi.ioapic;

	mmio_w32(io, reg);
	return mmio_r32(io + 0x10);
}

static void
ioapic_write(uint32_t reg, uint32_t v)
{
	volatile uint8_t *io = (volatile uint8_t *)(uintptr_t)acpi.ioapic;

	mmio_w32(io, reg);
	mmio_w32(io + 0x10, v);
}

static bool
lapic_irr(int vec)
{
	return mmio_r32(LAPIC + LAPIC_IRR + 0x10 * (vec / 32)) & (1u << (vec % 32));
}

/*
 * pwrbtn [seconds=N]: route the SCI (level, active high) to this CPU's
 * LAPIC with interrupts off, enable PWRBTN_EN, wait for the button; then
 * the vector must be pending in the IRR, and the status must clear.
 */
int
cmd_pwrbtn(const char *args)
{
	uint64_t secs = arg_u64_or(args, "seconds", 10), end;
	bool sts = false, sci, cleared;
	uint32_t pin = acpi.sci;

	if (!acpi.pm1a_evt || !acpi.ioapic || acpi.ioapic < 0xC0000000ull ||
	    pin >= 24) {
		pr("probe: pwrbtn needs the FADT's PM1a block and an IOAPIC\n");
		return -1;
	}
	mmio_w32(LAPIC + LAPIC_SVR, 0x1FF);
	ioapic_write(IOAPIC_REDIR(pin) + 1, (uint32_t)lapic_id() << 24);
	ioapic_write(IOAPIC_REDIR(pin), SCI_VECTOR | 1u << 15);	/* level */
	outw(acpi.pm1a_evt, PM1_PWRBTN);
	outw(acpi.pm1a_evt + 2, inw(acpi.pm1a_evt + 2) | PM1_PWRBTN);
	pr("probe: pwrbtn armed\n");
	end = now_us() + secs * 1000000;
	while (!sts && now_us() < end) {
		sts = inw(acpi.pm1a_evt) & PM1_PWRBTN;
		if (!sts)
			delay_us(1000);
	}
	delay_us(1000);		/* the SCI follows the status bit */
	sci = lapic_irr(SCI_VECTOR) || (ioapic_read(IOAPIC_REDIR(pin)) & (1u << 14));
	outw(acpi.pm1a_evt, PM1_PWRBTN);
	cleared = !(inw(acpi.pm1a_evt) & PM1_PWRBTN);
	ioapic_write(IOAPIC_REDIR(pin), SCI_VECTOR | 1u << 15 | 1u << 16);
	outw(acpi.pm1a_evt + 2, inw(acpi.pm1a_evt + 2) & ~PM1_PWRBTN);
	pr("probe: pwrbtn sts=%d sci=%d cleared=%d\n", sts, sci, cleared);
	return sts && sci && cleared ? 0 : -1;
}
