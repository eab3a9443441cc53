/*
 * boot.h - direct kernel boot: where things go in low guest memory and
 * the two loaders (PVH ELF, Linux bzImage). They work on a struct gmem
 * and a file already in memory, so unit tests run them without KVM.
 */
#ifndef HV_VM_BOOT_H
#define HV_VM_BOOT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/vm/vmm-int.h"

/* low memory layout (Firecracker's, which Linux is happy with) */
#define BOOT_GDT	0x500ull	/* null, code32 0x08, code64 0x10, data 0x18 */
#define BOOT_START_INFO	0x6000ull	/* PVH hvm_start_info */
#define BOOT_MEMMAP	0x6100ull	/* PVH memory map entries */
#define BOOT_MODLIST	0x6800ull	/* PVH modules (the initrd) */
#define BOOT_ZERO_PAGE	0x7000ull	/* Linux struct boot_params */
#define BOOT_STACK	0x8FF0ull
#define BOOT_PML4	0x9000ull	/* then PDPT, then 4 PDs: 4 GiB of 2 MiB */
#define BOOT_CMDLINE	0x20000ull
#define BOOT_CMDLINE_MAX 0x10000ull
#define BOOT_TABLES	0xE0000ull	/* reserved to 1 MiB: firmware tables */
#define BOOT_RSDP	0xE0000ull	/* ACPI RSDP, where a legacy scan looks */
#define BOOT_MP_FLOAT	0xE0040ull	/* MP floating pointer */
#define BOOT_MP_TABLE	0xE0100ull	/* MP configuration table */
#define BOOT_ACPI	0xE2000ull	/* the other ACPI tables, to 1 MiB */
#define BOOT_KERNEL	0x100000ull	/* bzImage protected-mode part */

#define E820_RAM	1
#define E820_RESERVED	2
#define BOOT_MAX_MAP	16

struct boot_map {
	uint64_t addr, size;
	uint32_t type;
};

struct boot_image {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd;	/* NULL: none */
	size_t initrd_len;
	const char *cmdline;
	uint64_t rsdp;		/* ACPI RSDP address for the kernel; 0: none */
};

#define PVH_MAGIC	0x336EC578u
#define XEN_ELFNOTE_PHYS32_ENTRY 18

int boot_memmap(const struct gmem *m, struct boot_map *map, int max);
bool boot_is_bzimage(const uint8_t *img, size_t len);
int boot_pvh(struct gmem *m, const struct boot_image *im,
	     struct boot_cpu *cpu, struct hv_err *err);
int boot_linux(struct gmem *m, const struct boot_image *im,
	       struct boot_cpu *cpu, struct hv_err *err);

/* shared by the loaders */
int boot_put(struct gmem *m, uint64_t gpa, const void *src, size_t len,
	     struct hv_err *err);
int boot_cmdline(struct gmem *m, const char *cmdline, size_t max,
		 struct hv_err *err);
int boot_initrd(struct gmem *m, const struct boot_image *im, uint64_t min,
		uint64_t max, uint64_t *gpa, struct hv_err *err);
void boot_gdt(struct gmem *m, struct boot_cpu *cpu);
/* boot-tables.c: ACPI and MP tables at BOOT_TABLES; *rsdp = their root */
int boot_tables(struct vmm *vm, uint64_t *rsdp, struct hv_err *err);

#endif
