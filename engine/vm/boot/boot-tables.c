/*
 * boot-tables.c - firmware tables for direct kernel boot: with no BIOS
 * to build them, the VMM puts the ACPI tables (acpi.c) and the MP table
 * (mptable.c) in the reserved area below 1 MiB, where the kernel is told
 * to look (hvm_start_info.rsdp_paddr, boot_params.acpi_rsdp_addr) and
 * where a legacy scan of 0xE0000-0xFFFFF finds them anyway.
 */
#include <string.h>

#include "engine/vm/boot/acpi.h"
#include "engine/vm/boot/boot.h"

void
vmm_acpi_config(const struct vmm *vm, struct acpi_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ncpus = vm->nvcpus;
	c->iapc_boot_arch = 0x0001;	/* legacy devices; no 8042 keyboard */
	c->pci_mmio32_base = PCI_MMIO_BASE;
	c->pci_mmio32_end = PCI_MMIO_END;
}

int
boot_tables(struct vmm *vm, uint64_t *rsdp, struct hv_err *err)
{
	const uint64_t base[ACPI_NBLOBS] = {
		[ACPI_BLOB_TABLES] = BOOT_ACPI,
		[ACPI_BLOB_RSDP] = BOOT_RSDP,
	};
	uint8_t fp[MPTABLE_FLOAT_LEN];
	struct acpi_tables t;
	struct acpi_config c;
	uint8_t *mp;
	int n, rc = -1;

	*rsdp = 0;
	vmm_acpi_config(vm, &c);
	mp = gmem_ptr(&vm->mem, BOOT_MP_TABLE, BOOT_ACPI - BOOT_MP_TABLE);
	if (!mp)
		return hv_fail(err, HV_EINVAL, "no RAM for the firmware tables");
	n = mptable_build(fp, mp, BOOT_ACPI - BOOT_MP_TABLE, BOOT_MP_TABLE, &c);
	if (n < 0)
		return hv_fail(err, HV_EINTERNAL, "the MP table does not fit");
	if (boot_put(&vm->mem, BOOT_MP_FLOAT, fp, sizeof fp, err) != 0)
		return -1;
	if (acpi_build(&t, &c, err) != 0)
		return -1;
	if (t.blob[ACPI_BLOB_TABLES].len > 0x100000 - BOOT_ACPI ||
	    acpi_link(&t, base) != 0) {
		hv_fail(err, HV_EINTERNAL, "the ACPI tables do not fit");
		goto out;
	}
	if (boot_put(&vm->mem, BOOT_ACPI, t.blob[ACPI_BLOB_TABLES].data,
		     t.blob[ACPI_BLOB_TABLES].len, err) != 0 ||
	    boot_put(&vm->mem, BOOT_RSDP, t.blob[ACPI_BLOB_RSDP].data,
		     t.blob[ACPI_BLOB_RSDP].len, err) != 0)
		goto out;
	*rsdp = BOOT_RSDP;
	rc = 0;
out:
	acpi_free(&t);
	return rc;
}
