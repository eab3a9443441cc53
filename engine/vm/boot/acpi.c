/*
 * acpi.c - the ACPI tables as relocatable blobs plus fixups (acpi.h says
 * how a loader uses them): FACS, DSDT (acpi-dsdt.c), FADT (revision 6,
 * full hardware model: PM1a event/control, PM timer, SCI, fixed-feature
 * power button, reset register), MADT, RSDT and XSDT in one blob, the
 * RSDP in another.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/vm/boot/acpi.h"
#include "engine/vm/vmm-int.h"

#define HDR_LEN		36
#define FACS_LEN	64
#define FADT_LEN	276	/* ACPI 6.0 */
#define RSDP_LEN	36
#define DSDT_AML_MAX	16384

/* FADT fields */
#define FADT_FIRMWARE_CTRL	36
#define FADT_DSDT		40
#define FADT_X_FIRMWARE_CTRL	132
#define FADT_X_DSDT		140

/* FADT flags */
#define FADT_WBINVD		(1u << 0)
#define FADT_PROC_C1		(1u << 2)
#define FADT_SLP_BUTTON		(1u << 5)	/* no sleep button */
#define FADT_FIX_RTC		(1u << 6)
#define FADT_TMR_VAL_EXT	(1u << 8)	/* 32-bit PM timer */
#define FADT_RESET_REG_SUP	(1u << 10)

#define GAS_IO			1

static const char *const blob_names[ACPI_NBLOBS] = {
	[ACPI_BLOB_TABLES] = "etc/acpi/tables",
	[ACPI_BLOB_RSDP] = "etc/acpi/rsdp",
};

const char *
acpi_blob_name(enum acpi_blob_id id)
{
	return id < ACPI_NBLOBS ? blob_names[id] : NULL;
}

uint32_t
acpi_blob_align(enum acpi_blob_id id)
{
	return id == ACPI_BLOB_TABLES ? 64 : 16;	/* FACS: 64 */
}

static void
header(uint8_t *p, const char sig[4], uint32_t len, uint8_t rev)
{
	memcpy(p, sig, 4);
	put_le32(p + 4, len);
	p[8] = rev;
	p[9] = 0;				/* checksum: a fixup */
	memcpy(p + 10, "HVVMM ", 6);		/* OEM id */
	memcpy(p + 16, "HVVM", 4);		/* OEM table id */
	memcpy(p + 20, sig, 4);
	put_le32(p + 24, 1);			/* OEM revision */
	memcpy(p + 28, "HV  ", 4);		/* creator */
	put_le32(p + 32, 1);
}

/* a generic address structure for an I/O port block */
static void
gas_io(uint8_t *p, uint16_t port, uint8_t bits)
{
	p[0] = GAS_IO;
	p[1] = bits;
	p[2] = 0;				/* bit offset */
	p[3] = 0;				/* access size: as the bit width */
	put_le64(p + 4, port);
}

static void
add_pointer(struct acpi_tables *t, int blob, uint32_t off, int size,
	    int target, uint32_t target_off)
{
	struct acpi_pointer *p = &t->pointer[t->npointers++];
	uint8_t *f = t->blob[blob].data + off;

	p->blob = blob;
	p->offset = off;
	p->size = size;
	p->target = target;
	if (size == 8)
		put_le64(f, target_off);
	else
		put_le32(f, target_off);
}

static void
add_checksum(struct acpi_tables *t, int blob, uint32_t off, uint32_t start,
	     uint32_t len)
{
	t->checksum[t->nchecksums++] = (struct acpi_checksum){
		.blob = blob, .offset = off, .start = start, .length = len };
}

static void
build_facs(uint8_t *p)
{
	memcpy(p, "FACS", 4);
	put_le32(p + 4, FACS_LEN);
	p[32] = 2;				/* version */
}

static void
build_fadt(struct acpi_tables *t, const struct acpi_config *c)
{
	uint8_t *p = t->blob[ACPI_BLOB_TABLES].data + t->fadt;
	uint32_t off = t->fadt;

	header(p, "FACP", FADT_LEN, 6);
	p[45] = 0;				/* PM profile: unspecified */
	put_le16(p + 46, ACPI_SCI_IRQ);
	put_le32(p + 48, 0);			/* no SMI_CMD: always in ACPI mode */
	put_le32(p + 56, ACPI_PM_BASE);		/* PM1a_EVT_BLK */
	put_le32(p + 64, ACPI_PM1_CNT);		/* PM1a_CNT_BLK */
	put_le32(p + 76, ACPI_PM_TMR);		/* PM_TMR_BLK */
	p[88] = ACPI_PM1_EVT_LEN;
	p[89] = ACPI_PM1_CNT_LEN;
	p[91] = ACPI_PM_TMR_LEN;
	put_le16(p + 96, 0x0FFF);		/* no C2 */
	put_le16(p + 98, 0x0FFF);		/* no C3 */
	p[108] = 0x32;				/* CMOS century register */
	put_le16(p + 109, c->iapc_boot_arch);
	put_le32(p + 112, FADT_WBINVD | FADT_PROC_C1 | FADT_SLP_BUTTON |
		 FADT_FIX_RTC | FADT_TMR_VAL_EXT | FADT_RESET_REG_SUP);
	gas_io(p + 116, ACPI_RESET_PORT, 8);
	p[119] = 1;				/* byte access */
	p[128] = ACPI_RESET_VALUE;
	gas_io(p + 148, ACPI_PM_BASE, ACPI_PM1_EVT_LEN * 8);
	gas_io(p + 172, ACPI_PM1_CNT, ACPI_PM1_CNT_LEN * 8);
	gas_io(p + 208, ACPI_PM_TMR, ACPI_PM_TMR_LEN * 8);
	add_pointer(t, ACPI_BLOB_TABLES, off + FADT_FIRMWARE_CTRL, 4,
		    ACPI_BLOB_TABLES, t->facs);
	add_pointer(t, ACPI_BLOB_TABLES, off + FADT_DSDT, 4,
		    ACPI_BLOB_TABLES, t->dsdt);
	add_pointer(t, ACPI_BLOB_TABLES, off + FADT_X_FIRMWARE_CTRL, 8,
		    ACPI_BLOB_TABLES, t->facs);
	add_pointer(t, ACPI_BLOB_TABLES, off + FADT_X_DSDT, 8,
		    ACPI_BLOB_TABLES, t->dsdt);
}

static uint32_t
madt_len(int ncpus)
{
	return HDR_LEN + 8 + 8 * ncpus + 12 + 2 * 10 + 6;
}

static void
iso(uint8_t *e, uint8_t irq, uint32_t gsi, uint16_t flags)
{
	e[0] = 2;				/* interrupt source override */
	e[1] = 10;
	e[2] = 0;				/* ISA */
	e[3] = irq;
	put_le32(e + 4, gsi);
	put_le16(e + 8, flags);
}

static void
build_madt(struct acpi_tables *t, const struct acpi_config *c)
{
	uint8_t *p = t->blob[ACPI_BLOB_TABLES].data + t->madt, *e;
	int i;

	header(p, "APIC", madt_len(c->ncpus), 4);
	put_le32(p + 36, ACPI_LAPIC_ADDR);
	put_le32(p + 40, 1);			/* PCAT_COMPAT: 8259s present */
	e = p + 44;
	for (i = 0; i < c->ncpus; i++, e += 8) {
		e[0] = 0;			/* processor local APIC */
		e[1] = 8;
		e[2] = i;			/* ACPI processor UID */
		e[3] = i;			/* APIC id */
		put_le32(e + 4, 1);		/* enabled */
	}
	e[0] = 1;				/* I/O APIC */
	e[1] = 12;
	e[2] = c->ncpus;			/* its id, after the CPUs' */
	e[3] = 0;
	put_le32(e + 4, ACPI_IOAPIC_ADDR);
	put_le32(e + 8, 0);			/* GSI base */
	e += 12;
	iso(e, 0, 2, 0);			/* the PIT on pin 2 */
	iso(e + 10, ACPI_SCI_IRQ, ACPI_SCI_IRQ, 0x000D); /* level, high */
	e += 20;
	e[0] = 4;				/* local APIC NMI */
	e[1] = 6;
	e[2] = 0xFF;				/* every processor */
	put_le16(e + 3, 0);
	e[5] = 1;				/* LINT1 */
}

/* RSDT (4-byte entries) or XSDT (8-byte), pointing at the FADT and MADT */
static void
build_sdt(struct acpi_tables *t, uint32_t off, int width)
{
	uint8_t *p = t->blob[ACPI_BLOB_TABLES].data + off;

	header(p, width == 4 ? "RSDT" : "XSDT", HDR_LEN + 2 * width, 1);
	add_pointer(t, ACPI_BLOB_TABLES, off + HDR_LEN, width,
		    ACPI_BLOB_TABLES, t->fadt);
	add_pointer(t, ACPI_BLOB_TABLES, off + HDR_LEN + width, width,
		    ACPI_BLOB_TABLES, t->madt);
}

static void
build_rsdp(struct acpi_tables *t)
{
	uint8_t *p = t->blob[ACPI_BLOB_RSDP].data;

	memcpy(p, "RSD PTR ", 8);
	memcpy(p + 9, "HVVMM ", 6);
	p[15] = 2;				/* revision: ACPI 2.0+ */
	put_le32(p + 20, RSDP_LEN);
	add_pointer(t, ACPI_BLOB_RSDP, 16, 4, ACPI_BLOB_TABLES, t->rsdt);
	add_pointer(t, ACPI_BLOB_RSDP, 24, 8, ACPI_BLOB_TABLES, t->xsdt);
}

static uint32_t
align16(uint32_t v)
{
	return (v + 15) & ~15u;
}

int
acpi_build(struct acpi_tables *t, const struct acpi_config *c,
	   struct hv_err *err)
{
	uint8_t *aml;
	uint32_t len, dsdt_len, off;
	int n;

	memset(t, 0, sizeof(*t));
	if (c->ncpus < 1 || c->ncpus > ACPI_MAX_CPUS)
		return hv_fail(err, HV_EINVAL, "ACPI: %d CPUs (1..%d)", c->ncpus,
			       ACPI_MAX_CPUS);
	aml = malloc(DSDT_AML_MAX);
	if (!aml)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	n = acpi_dsdt_aml(aml, DSDT_AML_MAX, c);
	if (n < 0) {
		free(aml);
		return hv_fail(err, HV_EINTERNAL, "ACPI: the DSDT is too big");
	}
	dsdt_len = HDR_LEN + n;
	t->facs = 0;
	t->dsdt = off = FACS_LEN;
	t->fadt = off = align16(off + dsdt_len);
	t->madt = off = align16(off + FADT_LEN);
	t->rsdt = off = align16(off + madt_len(c->ncpus));
	t->xsdt = off = align16(off + HDR_LEN + 2 * 4);
	len = off + HDR_LEN + 2 * 8;
	t->blob[ACPI_BLOB_TABLES].data = calloc(1, len);
	t->blob[ACPI_BLOB_RSDP].data = calloc(1, RSDP_LEN);
	if (!t->blob[ACPI_BLOB_TABLES].data || !t->blob[ACPI_BLOB_RSDP].data) {
		free(aml);
		acpi_free(t);
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	}
	t->blob[ACPI_BLOB_TABLES].len = len;
	t->blob[ACPI_BLOB_RSDP].len = RSDP_LEN;

	build_facs(t->blob[ACPI_BLOB_TABLES].data + t->facs);
	header(t->blob[ACPI_BLOB_TABLES].data + t->dsdt, "DSDT", dsdt_len, 2);
	memcpy(t->blob[ACPI_BLOB_TABLES].data + t->dsdt + HDR_LEN, aml, n);
	free(aml);
	build_fadt(t, c);
	build_madt(t, c);
	build_sdt(t, t->rsdt, 4);
	build_sdt(t, t->xsdt, 8);
	build_rsdp(t);

	add_checksum(t, ACPI_BLOB_TABLES, t->dsdt + 9, t->dsdt, dsdt_len);
	add_checksum(t, ACPI_BLOB_TABLES, t->fadt + 9, t->fadt, FADT_LEN);
	add_checksum(t, ACPI_BLOB_TABLES, t->madt + 9, t->madt,
		     madt_len(c->ncpus));
	add_checksum(t, ACPI_BLOB_TABLES, t->rsdt + 9, t->rsdt, HDR_LEN + 8);
	add_checksum(t, ACPI_BLOB_TABLES, t->xsdt + 9, t->xsdt, HDR_LEN + 16);
	add_checksum(t, ACPI_BLOB_RSDP, 8, 0, 20);
	add_checksum(t, ACPI_BLOB_RSDP, 32, 0, RSDP_LEN);
	return 0;
}

void
acpi_free(struct acpi_tables *t)
{
	int i;

	for (i = 0; i < ACPI_NBLOBS; i++) {
		free(t->blob[i].data);
		t->blob[i].data = NULL;
		t->blob[i].len = 0;
	}
}

int
acpi_link(struct acpi_tables *t, const uint64_t base[ACPI_NBLOBS])
{
	int i;

	for (i = 0; i < t->npointers; i++) {
		const struct acpi_pointer *p = &t->pointer[i];
		uint8_t *f;
		uint64_t v;

		if (p->blob >= ACPI_NBLOBS || p->target >= ACPI_NBLOBS ||
		    (p->size != 4 && p->size != 8) ||
		    p->offset > t->blob[p->blob].len - p->size)
			return -1;
		f = t->blob[p->blob].data + p->offset;
		v = (p->size == 8 ? get_le64(f) : get_le32(f)) + base[p->target];
		if (p->size == 4 && v > 0xFFFFFFFFull)
			return -1;
		if (p->size == 8)
			put_le64(f, v);
		else
			put_le32(f, (uint32_t)v);
	}
	for (i = 0; i < t->nchecksums; i++) {
		const struct acpi_checksum *k = &t->checksum[i];
		const struct acpi_blob *b;
		uint8_t sum = 0;
		uint32_t j;

		if (k->blob >= ACPI_NBLOBS)
			return -1;
		b = &t->blob[k->blob];
		if (k->offset >= b->len || k->start > b->len ||
		    k->length > b->len - k->start)
			return -1;
		for (j = 0; j < k->length; j++)
			sum += b->data[k->start + j];
		b->data[k->offset] -= sum;
	}
	return 0;
}
