/*
 * acpi-dsdt.c - the DSDT's AML, encoded by hand (ACPI 6.4, chapter 20):
 *
 *	Name (\_S5_, Package () { ACPI_S5_TYP, ACPI_S5_TYP, 0, 0 })
 *	Scope (\_SB_) {
 *		Device (PCI0) {
 *			Name (_HID, EisaId ("PNP0A03"))
 *			Name (_ADR, 0)  Name (_UID, 0)  Name (_BBN, 0)
 *			Name (_CRS, ResourceTemplate () { bus 0-255, config
 *				ports, I/O windows, VGA hole, MMIO windows })
 *			Name (_PRT, Package () { slot s pin p -> GSI 16 +
 *				((s + p) & 3), for every slot and pin })
 *		}
 *	}
 *
 * The power button is the FADT's fixed-feature one, so it needs no AML.
 * Objects with a PkgLength are written body first and the length is
 * inserted in front afterwards (aml_open / aml_close).
 */
#include <string.h>

#include "engine/vm/boot/acpi.h"
#include "engine/vm/vmm-int.h"

#define AML_ZERO	0x00
#define AML_ONE		0x01
#define AML_NAME	0x08
#define AML_BYTE	0x0A
#define AML_WORD	0x0B
#define AML_DWORD	0x0C
#define AML_QWORD	0x0E
#define AML_SCOPE	0x10
#define AML_BUFFER	0x11
#define AML_PACKAGE	0x12
#define AML_EXT		0x5B
#define AML_DEVICE	0x82	/* after AML_EXT */
#define AML_ROOT	0x5C	/* '\' */

struct aml {
	uint8_t *p;
	size_t len, cap;
	bool full;
};

static void
aml_bytes(struct aml *a, const void *s, size_t n)
{
	if (a->full || n > a->cap - a->len) {
		a->full = true;
		return;
	}
	memcpy(a->p + a->len, s, n);
	a->len += n;
}

static void
aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

static void
aml_le(struct aml *a, uint64_t v, int n)
{
	uint8_t b[8];
	int i;

	for (i = 0; i < n; i++)
		b[i] = v >> (8 * i);
	aml_bytes(a, b, n);
}

/* the shortest integer encoding */
static void
aml_int(struct aml *a, uint64_t v)
{
	if (v == 0 || v == 1)
		aml_byte(a, v ? AML_ONE : AML_ZERO);
	else if (v <= 0xFF)
		aml_byte(a, AML_BYTE), aml_le(a, v, 1);
	else if (v <= 0xFFFF)
		aml_byte(a, AML_WORD), aml_le(a, v, 2);
	else if (v <= 0xFFFFFFFF)
		aml_byte(a, AML_DWORD), aml_le(a, v, 4);
	else
		aml_byte(a, AML_QWORD), aml_le(a, v, 8);
}

/* a PkgLength-prefixed object starts here: returns where its body starts */
static size_t
aml_open(struct aml *a)
{
	return a->len;
}

/* insert the PkgLength of the body [start, len) in front of it */
static void
aml_close(struct aml *a, size_t start)
{
	size_t body = a->len - start, n, total, i;
	uint8_t enc[4];

	if (a->full)
		return;
	n = body + 1 < 0x40 ? 1 : body + 2 < 0x1000 ? 2 :
	    body + 3 < 0x100000 ? 3 : 4;
	total = body + n;
	if (n == 1) {
		enc[0] = total;
	} else {
		enc[0] = (uint8_t)((n - 1) << 6 | (total & 0xF));
		for (i = 1; i < n; i++)
			enc[i] = total >> (4 + 8 * (i - 1));
	}
	if (n > a->cap - a->len) {
		a->full = true;
		return;
	}
	memmove(a->p + start + n, a->p + start, body);
	memcpy(a->p + start, enc, n);
	a->len += n;
}

/* Name (seg, ...): the caller writes the value next */
static void
aml_name(struct aml *a, const char seg[4])
{
	aml_byte(a, AML_NAME);
	aml_bytes(a, seg, 4);
}

/* "PNP0A03" -> the 32-bit compressed EISA id */
static uint32_t
eisa_id(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	uint32_t d = 0;
	int i;

	for (i = 3; i < 7; i++)
		d = d << 4 | (uint32_t)(strchr(hex, s[i]) - hex);
	return (uint32_t)((s[0] - 0x40) << 2 | (s[1] - 0x40) >> 3) |
	       (uint32_t)(((s[1] - 0x40) & 7) << 5 | (s[2] - 0x40)) << 8 |
	       (d >> 8 & 0xFF) << 16 | (d & 0xFF) << 24;
}

/* ---- resource descriptors (ACPI 6.4, 6.4.2 and 6.4.3) ---- */

#define RES_MEM		0
#define RES_IO		1
#define RES_BUS		2
#define RES_FIXED	0x0C	/* MinFixed | MaxFixed, producer, positive */

static void
res_word(struct aml *a, uint8_t type, uint8_t tflags, uint16_t min,
	 uint16_t max)
{
	aml_byte(a, 0x88);
	aml_le(a, 13, 2);
	aml_byte(a, type);
	aml_byte(a, RES_FIXED);
	aml_byte(a, tflags);
	aml_le(a, 0, 2);			/* granularity */
	aml_le(a, min, 2);
	aml_le(a, max, 2);
	aml_le(a, 0, 2);			/* translation */
	aml_le(a, (uint32_t)max - min + 1, 2);
}

/* tflags: bit 0 read/write, bits 2:1 cacheability */
static void
res_mem(struct aml *a, uint8_t tflags, uint64_t base, uint64_t end)
{
	bool q = end > 0x100000000ull;
	int w = q ? 8 : 4;

	aml_byte(a, q ? 0x8A : 0x87);
	aml_le(a, 3 + 5 * w, 2);
	aml_byte(a, RES_MEM);
	aml_byte(a, RES_FIXED);
	aml_byte(a, tflags);
	aml_le(a, 0, w);			/* granularity */
	aml_le(a, base, w);
	aml_le(a, end - 1, w);
	aml_le(a, 0, w);			/* translation */
	aml_le(a, end - base, w);
}

static void
res_io_fixed(struct aml *a, uint16_t port, uint8_t len)
{
	aml_byte(a, 0x47);			/* I/O port, 8 bytes */
	aml_byte(a, 1);				/* 16-bit decode */
	aml_le(a, port, 2);
	aml_le(a, port, 2);
	aml_byte(a, 1);
	aml_byte(a, len);
}

static void
pci0_crs(struct aml *a, const struct acpi_config *c)
{
	size_t pkg, body;

	aml_name(a, "_CRS");
	aml_byte(a, AML_BUFFER);
	pkg = aml_open(a);
	aml_byte(a, AML_WORD);			/* BufferSize, patched below */
	aml_le(a, 0, 2);
	body = a->len;
	res_word(a, RES_BUS, 0, 0, 0xFF);
	res_io_fixed(a, 0xCF8, 8);
	res_word(a, RES_IO, 3, 0x0000, 0x0CF7);	/* EntireRange */
	res_word(a, RES_IO, 3, 0x0D00, 0xFFFF);
	res_mem(a, 0x03, 0xA0000, 0xC0000);	/* VGA, cacheable */
	if (c->pci_mmio32_end > c->pci_mmio32_base)
		res_mem(a, 0x01, c->pci_mmio32_base, c->pci_mmio32_end);
	if (c->pci_mmio64_end > c->pci_mmio64_base)
		res_mem(a, 0x03, c->pci_mmio64_base, c->pci_mmio64_end);
	aml_byte(a, 0x79);			/* end tag, no checksum */
	aml_byte(a, 0);
	if (!a->full)
		put_le16(a->p + body - 2, (uint16_t)(a->len - body));
	aml_close(a, pkg);
}

static void
pci0_prt(struct aml *a)
{
	size_t pkg, ent;
	int slot, pin;

	aml_name(a, "_PRT");
	aml_byte(a, AML_PACKAGE);
	pkg = aml_open(a);
	aml_byte(a, 128);			/* NumElements */
	for (slot = 0; slot < 32; slot++) {
		for (pin = 0; pin < 4; pin++) {
			aml_byte(a, AML_PACKAGE);
			ent = aml_open(a);
			aml_byte(a, 4);
			aml_int(a, (uint32_t)slot << 16 | 0xFFFF);
			aml_int(a, pin);
			aml_int(a, 0);		/* Source: the GSI itself */
			aml_int(a, 16 + ((slot + pin) & 3));
			aml_close(a, ent);
		}
	}
	aml_close(a, pkg);
}

int
acpi_dsdt_aml(uint8_t *buf, size_t len, const struct acpi_config *c)
{
	struct aml a = { .p = buf, .cap = len };
	size_t pkg, scope, dev;

	aml_byte(&a, AML_NAME);
	aml_byte(&a, AML_ROOT);
	aml_bytes(&a, "_S5_", 4);
	aml_byte(&a, AML_PACKAGE);
	pkg = aml_open(&a);
	aml_byte(&a, 4);
	aml_int(&a, ACPI_S5_TYP);		/* PM1a_CNT.SLP_TYP */
	aml_int(&a, ACPI_S5_TYP);		/* PM1b: none, same value */
	aml_int(&a, 0);
	aml_int(&a, 0);
	aml_close(&a, pkg);

	aml_byte(&a, AML_SCOPE);
	scope = aml_open(&a);
	aml_byte(&a, AML_ROOT);
	aml_bytes(&a, "_SB_", 4);
	aml_byte(&a, AML_EXT);
	aml_byte(&a, AML_DEVICE);
	dev = aml_open(&a);
	aml_bytes(&a, "PCI0", 4);
	aml_name(&a, "_HID");
	aml_byte(&a, AML_DWORD);
	aml_le(&a, eisa_id("PNP0A03"), 4);
	aml_name(&a, "_ADR");
	aml_int(&a, 0);
	aml_name(&a, "_UID");
	aml_int(&a, 0);
	aml_name(&a, "_BBN");
	aml_int(&a, 0);
	pci0_crs(&a, c);
	pci0_prt(&a);
	aml_close(&a, dev);
	aml_close(&a, scope);
	return a.full ? -1 : (int)a.len;
}
