/*
 * boot-linux.c - the Linux x86 boot protocol, 64-bit entry
 * (Documentation/arch/x86/boot.rst): the protected-mode kernel at 1 MiB,
 * a zero page (struct boot_params) with the setup header copied from the
 * image and the loader's fields filled in, e820 map, command line,
 * initrd; identity page tables for 4 GiB and a GDT with __BOOT_CS 0x10
 * and __BOOT_DS 0x18; RSI = zero page, RIP = load address + 0x200.
 */
#include <string.h>

#include "engine/vm/boot/boot.h"

/* offsets in the zero page (struct boot_params) */
#define BP_ACPI_RSDP_ADDR	0x070
#define BP_EXT_RAMDISK_IMAGE	0x0C0
#define BP_EXT_RAMDISK_SIZE	0x0C4
#define BP_EXT_CMD_LINE_PTR	0x0C8
#define BP_E820_ENTRIES		0x1E8
#define BP_HDR			0x1F1	/* setup header starts here */
#define BP_SETUP_SECTS		0x1F1
#define BP_BOOT_FLAG		0x1FE
#define BP_JUMP			0x200
#define BP_HEADER		0x202
#define BP_VERSION		0x206
#define BP_TYPE_OF_LOADER	0x210
#define BP_LOADFLAGS		0x211
#define BP_CODE32_START		0x214
#define BP_RAMDISK_IMAGE	0x218
#define BP_RAMDISK_SIZE		0x21C
#define BP_HEAP_END_PTR		0x224
#define BP_CMD_LINE_PTR		0x228
#define BP_INITRD_ADDR_MAX	0x22C
#define BP_XLOADFLAGS		0x236
#define BP_CMDLINE_SIZE		0x238
#define BP_INIT_SIZE		0x260
#define BP_E820_TABLE		0x2D0
#define BP_E820_MAX		128

#define LOADED_HIGH		0x01
#define CAN_USE_HEAP		0x80
#define XLF_KERNEL_64		0x01

bool
boot_is_bzimage(const uint8_t *img, size_t len)
{
	return len >= 0x1000 && get_le16(img + BP_BOOT_FLAG) == 0xAA55 &&
	       memcmp(img + BP_HEADER, "HdrS", 4) == 0;
}

static int
check_header(const uint8_t *img, size_t len, size_t *koff, struct hv_err *err)
{
	unsigned sects = img[BP_SETUP_SECTS] ? img[BP_SETUP_SECTS] : 4;

	if (get_le16(img + BP_VERSION) < 0x020C)
		return hv_fail(err, HV_ENOTSUP,
			       "bzImage: boot protocol %#x, need 2.12+ (64-bit entry)",
			       get_le16(img + BP_VERSION));
	if (!(img[BP_XLOADFLAGS] & XLF_KERNEL_64))
		return hv_fail(err, HV_ENOTSUP, "bzImage: no 64-bit entry point");
	if (!(img[BP_LOADFLAGS] & LOADED_HIGH))
		return hv_fail(err, HV_ENOTSUP, "bzImage: not loadable at 1 MiB");
	*koff = (size_t)(sects + 1) * 512;
	if (*koff >= len)
		return hv_fail(err, HV_EINVAL, "bzImage: setup is the whole file");
	return 0;
}

static void
page_tables(struct gmem *m)
{
	uint8_t *pml4 = gmem_ptr(m, BOOT_PML4, 6 * 4096);
	uint8_t *pdpt = pml4 + 4096, *pd = pml4 + 2 * 4096;
	uint64_t i;

	memset(pml4, 0, 6 * 4096);
	put_le64(pml4, (BOOT_PML4 + 4096) | 0x3);	/* present, writable */
	for (i = 0; i < 4; i++)
		put_le64(pdpt + 8 * i, (BOOT_PML4 + (2 + i) * 4096) | 0x3);
	for (i = 0; i < 4 * 512; i++)	/* 2 MiB pages, identity */
		put_le64(pd + 8 * i, (i << 21) | 0x83);
}

static void
zero_page_e820(const struct gmem *m, uint8_t *zp)
{
	struct boot_map map[BOOT_MAX_MAP];
	int n = boot_memmap(m, map, BOOT_MAX_MAP), i;

	for (i = 0; i < n && i < BP_E820_MAX; i++) {
		uint8_t *e = zp + BP_E820_TABLE + 20 * i;

		put_le64(e, map[i].addr);
		put_le64(e + 8, map[i].size);
		put_le32(e + 16, map[i].type);
	}
	zp[BP_E820_ENTRIES] = n;
}

static int
zero_page(struct gmem *m, const struct boot_image *im, struct hv_err *err)
{
	const uint8_t *img = im->kernel;
	uint8_t *zp = gmem_ptr(m, BOOT_ZERO_PAGE, 4096);
	size_t hdr_end = BP_JUMP + 2 + img[BP_JUMP + 1];
	uint32_t cmax = get_le32(img + BP_CMDLINE_SIZE);
	uint32_t imax = get_le32(img + BP_INITRD_ADDR_MAX);
	uint64_t kend = BOOT_KERNEL + get_le32(img + BP_INIT_SIZE), initrd;

	memset(zp, 0, 4096);
	if (hdr_end > 0x280)
		hdr_end = 0x280;
	memcpy(zp + BP_HDR, img + BP_HDR, hdr_end - BP_HDR);
	zp[BP_TYPE_OF_LOADER] = 0xFF;		/* no assigned loader id */
	zp[BP_LOADFLAGS] |= CAN_USE_HEAP;
	put_le16(zp + BP_HEAP_END_PTR, 0xFE00);
	put_le32(zp + BP_CODE32_START, BOOT_KERNEL);
	put_le32(zp + BP_CMD_LINE_PTR, BOOT_CMDLINE);
	put_le32(zp + BP_EXT_CMD_LINE_PTR, 0);
	if (boot_cmdline(m, im->cmdline, (size_t)cmax + 1, err) != 0)
		return -1;
	if (kend < BOOT_KERNEL + im->kernel_len)
		kend = BOOT_KERNEL + im->kernel_len;
	if (boot_initrd(m, im, kend, (uint64_t)imax + 1, &initrd, err) != 0)
		return -1;
	put_le32(zp + BP_RAMDISK_IMAGE, (uint32_t)initrd);
	put_le32(zp + BP_RAMDISK_SIZE, (uint32_t)im->initrd_len);
	put_le32(zp + BP_EXT_RAMDISK_IMAGE, (uint32_t)(initrd >> 32));
	put_le32(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)im->initrd_len >> 32));
	put_le64(zp + BP_ACPI_RSDP_ADDR, im->rsdp);	/* protocol 2.14+ */
	zero_page_e820(m, zp);
	return 0;
}

int
boot_linux(struct gmem *m, const struct boot_image *im, struct boot_cpu *cpu,
	   struct hv_err *err)
{
	size_t koff = 0;

	if (!boot_is_bzimage(im->kernel, im->kernel_len))
		return hv_fail(err, HV_EINVAL, "not a bzImage");
	if (check_header(im->kernel, im->kernel_len, &koff, err) != 0)
		return -1;
	if (boot_put(m, BOOT_KERNEL, im->kernel + koff, im->kernel_len - koff,
		     err) != 0)
		return -1;
	if (zero_page(m, im, err) != 0)
		return -1;
	memset(cpu, 0, sizeof(*cpu));
	page_tables(m);
	boot_gdt(m, cpu);
	cpu->mode = BOOT_LINUX64;
	cpu->rip = BOOT_KERNEL + 0x200;
	cpu->rsi = BOOT_ZERO_PAGE;
	cpu->rsp = BOOT_STACK;
	cpu->cr3 = BOOT_PML4;
	return 0;
}
