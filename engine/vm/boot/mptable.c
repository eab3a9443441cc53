/*
 * mptable.c - the Intel MultiProcessor Specification 1.4 tables, for
 * guests (or boot options like acpi=off) that look for CPUs there: the
 * floating pointer structure and a configuration table with one entry per
 * processor, PCI bus 0 and ISA bus 1, the IOAPIC, the ISA and PCI
 * interrupt assignments and the local interrupts (acpi.h gives the
 * interrupt model the ACPI tables describe too).
 */
#include <string.h>

#include "engine/vm/boot/acpi.h"
#include "engine/vm/vmm-int.h"

#define MP_HDR_LEN	44
#define MP_PROC		0	/* 20 bytes */
#define MP_BUS		1	/* the others: 8 bytes */
#define MP_IOAPIC	2
#define MP_IOINT	3
#define MP_LINT		4

#define INT_INT		0
#define INT_NMI		1
#define INT_EXTINT	3

#define BUS_PCI		0
#define BUS_ISA		1

/* polarity (bits 1:0) and trigger (bits 3:2) */
#define FL_CONFORM	0x00
#define FL_HIGH_LEVEL	0x0D
#define FL_LOW_LEVEL	0x0F

struct mpw {
	uint8_t *p;
	size_t len, at;
	int count;
	bool full;
};

static uint8_t *
entry(struct mpw *w, size_t n)
{
	uint8_t *e;

	if (w->full || n > w->len - w->at) {
		w->full = true;
		return NULL;
	}
	e = w->p + w->at;
	memset(e, 0, n);
	w->at += n;
	w->count++;
	return e;
}

static void
ioint(struct mpw *w, uint8_t type, uint16_t flags, uint8_t bus, uint8_t irq,
      uint8_t apic, uint8_t pin)
{
	uint8_t *e = entry(w, 8);

	if (!e)
		return;
	e[0] = MP_IOINT;
	e[1] = type;
	put_le16(e + 2, flags);
	e[4] = bus;
	e[5] = irq;
	e[6] = apic;
	e[7] = pin;
}

static void
lint(struct mpw *w, uint8_t type, uint8_t pin)
{
	uint8_t *e = entry(w, 8);

	if (!e)
		return;
	e[0] = MP_LINT;
	e[1] = type;
	e[4] = BUS_ISA;
	e[6] = 0xFF;				/* every local APIC */
	e[7] = pin;
}

static void
bus(struct mpw *w, uint8_t id, const char type[6])
{
	uint8_t *e = entry(w, 8);

	if (!e)
		return;
	e[0] = MP_BUS;
	e[1] = id;
	memcpy(e + 2, type, 6);
}

static uint8_t
sum8(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

static void
entries(struct mpw *w, const struct acpi_config *c)
{
	uint8_t ioapic = c->ncpus, *e;
	int i, slot, pin;

	for (i = 0; i < c->ncpus; i++) {
		e = entry(w, 20);
		if (!e)
			return;
		e[0] = MP_PROC;
		e[1] = i;			/* local APIC id */
		e[2] = 0x14;			/* local APIC version */
		e[3] = 1 | (i == 0 ? 2 : 0);	/* enabled, BSP */
		put_le32(e + 4, 0x600);		/* signature: family 6 */
		put_le32(e + 8, 0x201);		/* features: FPU, APIC */
	}
	bus(w, BUS_PCI, "PCI   ");
	bus(w, BUS_ISA, "ISA   ");
	e = entry(w, 8);
	if (!e)
		return;
	e[0] = MP_IOAPIC;
	e[1] = ioapic;
	e[2] = 0x11;				/* version */
	e[3] = 1;				/* usable */
	put_le32(e + 4, ACPI_IOAPIC_ADDR);
	ioint(w, INT_EXTINT, FL_CONFORM, BUS_ISA, 0, ioapic, 0);
	for (i = 0; i < 16; i++) {
		if (i == 2)			/* the cascade */
			continue;
		ioint(w, INT_INT, i == ACPI_SCI_IRQ ? FL_HIGH_LEVEL : FL_CONFORM,
		      BUS_ISA, i, ioapic, i == 0 ? 2 : i);
	}
	for (slot = 1; slot < 32; slot++)
		for (pin = 0; pin < 4; pin++)
			ioint(w, INT_INT, FL_LOW_LEVEL, BUS_PCI, slot << 2 | pin,
			      ioapic, 16 + ((slot + pin) & 3));
	lint(w, INT_EXTINT, 0);
	lint(w, INT_NMI, 1);
}

int
mptable_build(uint8_t fp[MPTABLE_FLOAT_LEN], uint8_t *cfg, size_t len,
	      uint32_t cfg_gpa, const struct acpi_config *c)
{
	struct mpw w = { .p = cfg, .len = len, .at = MP_HDR_LEN };

	if (len < MP_HDR_LEN || c->ncpus < 1 || c->ncpus > ACPI_MAX_CPUS)
		return -1;
	memset(cfg, 0, MP_HDR_LEN);
	entries(&w, c);
	if (w.full || w.at > 0xFFFF)
		return -1;
	memcpy(cfg, "PCMP", 4);
	put_le16(cfg + 4, w.at);		/* base table length */
	cfg[6] = 4;				/* spec 1.4 */
	memcpy(cfg + 8, "HVVMM   ", 8);		/* OEM id */
	memcpy(cfg + 16, "HV VM       ", 12);	/* product id */
	put_le16(cfg + 34, w.count);
	put_le32(cfg + 36, ACPI_LAPIC_ADDR);
	cfg[7] = -sum8(cfg, w.at);

	memset(fp, 0, MPTABLE_FLOAT_LEN);
	memcpy(fp, "_MP_", 4);
	put_le32(fp + 4, cfg_gpa);
	fp[8] = 1;				/* length in 16-byte units */
	fp[9] = 4;				/* spec 1.4 */
	fp[10] = -sum8(fp, MPTABLE_FLOAT_LEN);	/* features: 0, virtual wire */
	return (int)w.at;
}
