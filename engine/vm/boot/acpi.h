/*
 * acpi.h - the firmware tables a guest reads to find its CPUs, interrupt
 * controllers and power management: ACPI (RSDP, RSDT, XSDT, FADT, FACS,
 * MADT, DSDT) and the Intel MP table. Pure byte building, no KVM, so unit
 * tests and both generations use the same code.
 *
 * ACPI comes out as two relocatable blobs and a list of fixups, the shape
 * of QEMU's fw_cfg "etc/table-loader" that SeaBIOS executes:
 *
 *   blob ACPI_BLOB_TABLES  every table but the RSDP (FACS first, at 0)
 *   blob ACPI_BLOB_RSDP    the 36-byte RSDP
 *
 *   pointer fixup {blob, offset, size, target}: the little-endian field of
 *     `size` bytes (4 or 8) at `offset` in `blob` holds an offset into blob
 *     `target`; linking adds the guest address where `target` was placed
 *     (table-loader ADD_POINTER: pointer file = blob, pointee file =
 *     target, offset, size).
 *   checksum fixup {blob, offset, start, length}: the byte at `offset`
 *     becomes (byte - sum of [start, start + length)) mod 256, so that
 *     range sums to 0 (table-loader ADD_CHECKSUM, same fields).
 *
 * Order: every pointer fixup, then the checksum fixups in list order (the
 * RSDP's 20-byte checksum comes before its extended one, which covers it).
 * Checksum bytes are 0 in the unlinked blobs.
 *
 * Gen1 through fw_cfg: ALLOCATE each blob under acpi_blob_name() with
 * acpi_blob_align() (the RSDP in the F segment so a legacy scan finds it,
 * the tables anywhere high), then one ADD_POINTER per pointer fixup and one
 * ADD_CHECKSUM per checksum fixup, in list order. Gen2 direct boot:
 * boot-tables.c copies the blobs to fixed addresses and calls acpi_link().
 *
 * Interrupt model both tables describe: LAPIC ids 0..ncpus-1 (the vCPU
 * index), one IOAPIC (id = ncpus) at 0xFEC00000 with GSI base 0, ISA IRQ0
 * on GSI2, the SCI on ISA IRQ sci_irq = GSI sci_irq, level, active high;
 * PCI slot s pin p (0 = INTA) on GSI 16 + ((s + p) & 3), level, active low.
 */
#ifndef HV_VM_ACPI_H
#define HV_VM_ACPI_H

#include <stddef.h>
#include <stdint.h>

#include "engine/err.h"

/* the PM register block (acpi-pm.c serves it), fixed for both generations */
/* where PIIX4's PMBA has it on QEMU's i440FX, which OVMF's shutdown
   path assumes (engine/vm/dev/pci.c shows it there as PMBA) */
#define ACPI_PM_BASE		0xB000	/* PM1a_EVT_BLK: status, enable */
#define ACPI_PM1_EVT_LEN	4
#define ACPI_PM1_CNT		0xB004	/* PM1a_CNT_BLK, 16 bits */
#define ACPI_PM1_CNT_LEN	2
#define ACPI_PM_TMR		0xB008	/* PM_TMR_BLK, 32 bits, 3.579545 MHz */
#define ACPI_PM_TMR_LEN		4
#define ACPI_PM_LEN		12	/* 0xB000..0xB00B */
#define ACPI_SCI_IRQ		9
#define ACPI_S5_TYP		5	/* SLP_TYP of \_S5_ in the DSDT */
#define ACPI_RESET_PORT		0xCF9	/* FADT RESET_REG (pci.c serves it) */
#define ACPI_RESET_VALUE	0x06

/* PM1 status/enable and control bits */
#define ACPI_PM1_TMR		0x0001
#define ACPI_PM1_GBL		0x0020
#define ACPI_PM1_PWRBTN		0x0100
#define ACPI_PM1_SLPBTN		0x0200
#define ACPI_PM1_RTC		0x0400
#define ACPI_PM1_WAK		0x8000
#define ACPI_CNT_SCI_EN		0x0001
#define ACPI_CNT_SLP_TYP_SHIFT	10
#define ACPI_CNT_SLP_EN		0x2000

#define ACPI_IOAPIC_ADDR	0xFEC00000u
#define ACPI_LAPIC_ADDR		0xFEE00000u
#define ACPI_MAX_CPUS		254	/* 8-bit APIC ids; 254 is the IOAPIC's */

struct acpi_config {
	int ncpus;			/* 1..ACPI_MAX_CPUS */
	uint16_t iapc_boot_arch;	/* FADT IAPC_BOOT_ARCH flags */
	/* PCI root bridge windows, [base, end); end == base: none */
	uint64_t pci_mmio32_base, pci_mmio32_end;
	uint64_t pci_mmio64_base, pci_mmio64_end;
};

enum acpi_blob_id { ACPI_BLOB_TABLES, ACPI_BLOB_RSDP, ACPI_NBLOBS };

struct acpi_blob {
	uint8_t *data;
	size_t len;
};

struct acpi_pointer {
	uint8_t blob, target;		/* enum acpi_blob_id */
	uint8_t size;			/* 4 or 8 */
	uint32_t offset;
};

struct acpi_checksum {
	uint8_t blob;
	uint32_t offset, start, length;
};

#define ACPI_MAX_POINTERS	32
#define ACPI_MAX_CHECKSUMS	16

struct acpi_tables {
	struct acpi_blob blob[ACPI_NBLOBS];
	int npointers, nchecksums;
	struct acpi_pointer pointer[ACPI_MAX_POINTERS];
	struct acpi_checksum checksum[ACPI_MAX_CHECKSUMS];
	/* where each table starts in ACPI_BLOB_TABLES (tests, debugging) */
	uint32_t facs, dsdt, fadt, madt, rsdt, xsdt;
};

/* 0, or -1 with err set (bad config, out of memory); free with acpi_free */
int acpi_build(struct acpi_tables *t, const struct acpi_config *c,
	       struct hv_err *err);
void acpi_free(struct acpi_tables *t);
/* fw_cfg file name and alignment of a blob (see above) */
const char *acpi_blob_name(enum acpi_blob_id id);
uint32_t acpi_blob_align(enum acpi_blob_id id);
/* apply every fixup with blob i placed at guest address base[i]; -1 if a
 * fixup lies outside its blob or a pointer does not fit its field */
int acpi_link(struct acpi_tables *t, const uint64_t base[ACPI_NBLOBS]);

/*
 * The MP specification 1.4 tables: a 16-byte floating pointer and the
 * configuration table it points to (processors, PCI bus 0 and ISA bus 1,
 * the IOAPIC, I/O and local interrupt entries), linked for guest address
 * cfg_gpa. Returns the configuration table's length, or -1 if it does not
 * fit in len bytes.
 */
#define MPTABLE_FLOAT_LEN	16
int mptable_build(uint8_t fp[MPTABLE_FLOAT_LEN], uint8_t *cfg, size_t len,
		  uint32_t cfg_gpa, const struct acpi_config *c);

/* dsdt.c: the DSDT's AML body (after the 36-byte header) into buf;
 * returns its length, or -1 if it does not fit */
int acpi_dsdt_aml(uint8_t *buf, size_t len, const struct acpi_config *c);

#endif
