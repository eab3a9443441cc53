/*
 * vmm-bzimage.c - the Linux 64-bit boot protocol loader against
 * Documentation/arch/x86/boot.rst, on a synthetic bzImage-shaped file
 * (no real kernel needed, no KVM): where the kernel goes, and each
 * field of the zero page the loader must fill or copy.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "engine/vm/boot/boot.h"
#include "tests/tap.h"

#define MEM	(64ull << 20)
#define SETUP	4			/* setup_sects */
#define KOFF	((SETUP + 1) * 512)	/* protected-mode code in the file */
#define KLEN	8192
#define INIT_SIZE 0x800000u

static uint8_t img[KOFF + KLEN];
static uint8_t initrd[12345];

static void
make_image(uint16_t version, uint8_t xloadflags)
{
	size_t i;

	memset(img, 0, sizeof img);
	img[0x1F1] = SETUP;
	put_le16(img + 0x1FA, 0xFFFF);		/* vid_mode: normal */
	put_le16(img + 0x1FE, 0xAA55);
	img[0x200] = 0xEB;			/* jmp to end of header */
	img[0x201] = 0x6A;			/* header ends at 0x26C */
	memcpy(img + 0x202, "HdrS", 4);
	put_le16(img + 0x206, version);
	img[0x211] = 0x01;			/* LOADED_HIGH */
	put_le32(img + 0x22C, 0x7FFFFFFF);	/* initrd_addr_max */
	put_le32(img + 0x230, 0x200000);	/* kernel_alignment */
	img[0x234] = 1;				/* relocatable_kernel */
	img[0x236] = xloadflags;
	put_le32(img + 0x238, 255);		/* cmdline_size */
	put_le32(img + 0x260, INIT_SIZE);	/* init_size */
	img[0x270] = 0x77;			/* past the header: not copied */
	for (i = KOFF; i < sizeof img; i++)
		img[i] = (uint8_t)(i * 13 + 1);
}

static int
load(struct gmem *m, const char *cmdline, bool with_initrd,
     struct boot_cpu *cpu, struct hv_err *err)
{
	struct boot_image im = {
		.kernel = img, .kernel_len = sizeof img, .cmdline = cmdline,
		.initrd = with_initrd ? initrd : NULL,
		.initrd_len = with_initrd ? sizeof initrd : 0,
		.rsdp = 0xE0000,
	};

	memset(m->host, 0, 2 << 20);
	return boot_linux(m, &im, cpu, err);
}

static void
test_fields(struct gmem *m)
{
	const uint8_t *zp = m->host + BOOT_ZERO_PAGE, *e820 = zp + 0x2D0;
	struct boot_cpu cpu;
	struct hv_err err;
	uint32_t rd;

	make_image(0x020F, 0x03);
	ok(boot_is_bzimage(img, sizeof img), "recognised as a bzImage");
	if (!ok(load(m, "console=ttyS0 root=/dev/vda", true, &cpu, &err) == 0,
		"loads"))
		diag("%s", err.msg);
	ok(memcmp(m->host + 0x100000, img + KOFF, KLEN) == 0,
	   "protected-mode kernel ((setup_sects + 1) * 512 on) at 1 MiB");
	/* copied from the image: the setup header, 0x1F1 .. 0x202 + [0x201] */
	is_int(zp[0x1F1], SETUP, "setup_sects copied");
	is_int(get_le16(zp + 0x1FE), 0xAA55, "boot_flag copied");
	ok(memcmp(zp + 0x202, "HdrS", 4) == 0, "header magic copied");
	is_int(get_le16(zp + 0x206), 0x020F, "version copied");
	is_int(get_le32(zp + 0x260), INIT_SIZE, "init_size copied");
	is_int(get_le16(zp + 0x1FA), 0xFFFF, "vid_mode copied");
	is_int(zp[0x270], 0, "nothing past the header's end copied");
	/* written by the loader */
	is_int(zp[0x210], 0xFF, "type_of_loader = 0xFF (undefined loader)");
	is_int(zp[0x211] & 0x01, 0x01, "loadflags: LOADED_HIGH kept");
	is_int(zp[0x211] & 0x80, 0x80, "loadflags: CAN_USE_HEAP set");
	is_int(get_le16(zp + 0x224), 0xFE00, "heap_end_ptr = 0xFE00");
	is_int(get_le32(zp + 0x228), BOOT_CMDLINE, "cmd_line_ptr");
	is_int(get_le32(zp + 0x0C8), 0, "ext_cmd_line_ptr = 0 (below 4 GiB)");
	is_int(get_le64(zp + 0x070), 0xE0000, "acpi_rsdp_addr (protocol 2.14)");
	is_str((char *)m->host + BOOT_CMDLINE, "console=ttyS0 root=/dev/vda",
	       "command line NUL-terminated at cmd_line_ptr");
	rd = get_le32(zp + 0x218);
	ok(rd % 4096 == 0, "ramdisk_image page aligned (%#x)", rd);
	ok(rd >= 0x100000 + INIT_SIZE, "ramdisk above the kernel's init_size");
	ok(rd + sizeof initrd <= MEM && rd + sizeof initrd - 1 <= 0x7FFFFFFF,
	   "ramdisk below initrd_addr_max and the end of RAM");
	is_int(get_le32(zp + 0x21C), sizeof initrd, "ramdisk_size");
	is_int(get_le32(zp + 0x0C0) | get_le32(zp + 0x0C4), 0,
	       "ext_ramdisk_image/size = 0");
	ok(memcmp(m->host + rd, initrd, sizeof initrd) == 0, "initrd bytes in place");
	/* e820 */
	is_int(zp[0x1E8], 4, "e820_entries = 4");
	ok(get_le64(e820) == 0 && get_le64(e820 + 8) == 0x9FC00 &&
	   get_le32(e820 + 16) == 1, "e820[0]: RAM 0 .. 0x9FC00");
	is_int(get_le32(e820 + 20 + 16), 2, "e820[1]: EBDA reserved");
	ok(get_le64(e820 + 40) == 0xE0000 && get_le64(e820 + 48) == 0x20000 &&
	   get_le32(e820 + 56) == 2, "e820[2]: firmware tables 0xE0000 .. 1 MiB reserved");
	ok(get_le64(e820 + 60) == 0x100000 &&
	   get_le64(e820 + 68) == MEM - 0x100000 && get_le32(e820 + 76) == 1,
	   "e820[3]: RAM 1 MiB .. end");
	/* CPU state */
	is_int(cpu.mode, BOOT_LINUX64, "64-bit entry");
	is_int(cpu.rip, 0x100200, "RIP = load address + 0x200 (startup_64)");
	is_int(cpu.rsi, BOOT_ZERO_PAGE, "RSI = zero page");
	is_int(cpu.cr3, BOOT_PML4, "CR3 = identity page tables");
	is_int(get_le64(m->host + BOOT_GDT + 0x10), 0x00AF9B000000FFFFull,
	       "GDT 0x10 (__BOOT_CS): 64-bit code");
	is_int(get_le64(m->host + BOOT_GDT + 0x18), 0x00CF93000000FFFFull,
	       "GDT 0x18 (__BOOT_DS): flat data");
	is_int(get_le64(m->host + BOOT_PML4) & ~0xFFFull, BOOT_PML4 + 4096,
	       "PML4[0] -> PDPT");
	is_int(get_le64(m->host + BOOT_PML4 + 2 * 4096 + 8), 0x200083,
	       "PD: 2 MiB pages, identity");
	is_int(get_le64(m->host + BOOT_PML4 + 2 * 4096 + 8 * 2047),
	       0xFFE00083ull, "... up to 4 GiB");
}

static void
test_refusals(struct gmem *m)
{
	char longline[300];
	struct boot_cpu cpu;
	struct hv_err err;

	make_image(0x020B, 0x03);
	ok(load(m, "", false, &cpu, &err) != 0, "protocol 2.11 refused: %s",
	   err.msg);
	make_image(0x020F, 0x00);
	ok(load(m, "", false, &cpu, &err) != 0, "no XLF_KERNEL_64 refused: %s",
	   err.msg);
	make_image(0x020F, 0x03);
	memset(longline, 'x', sizeof longline - 1);
	longline[sizeof longline - 1] = 0;
	ok(load(m, longline, false, &cpu, &err) != 0,
	   "command line over cmdline_size refused: %s", err.msg);
	img[0x1F1] = 200;
	ok(load(m, "", false, &cpu, &err) != 0, "setup past the file refused");
	make_image(0x020F, 0x03);
	ok(load(m, "", false, &cpu, &err) == 0 &&
	   get_le32(m->host + BOOT_ZERO_PAGE + 0x218) == 0,
	   "no initrd: ramdisk_image 0");
}

/* RAM above 3 GiB moves above 4 GiB and e820 says so */
static void
test_hole(void)
{
	struct gmem m = { .size = 5ull << 30, .low = MMIO_HOLE_START };
	struct boot_map map[BOOT_MAX_MAP];
	int n;

	n = boot_memmap(&m, map, BOOT_MAX_MAP);
	is_int(n, 5, "5 GiB: 5 map entries");
	is_int(map[3].addr + map[3].size, MMIO_HOLE_START, "low RAM ends at 3 GiB");
	ok(map[4].addr == (1ull << 32) && map[4].size == (2ull << 30) &&
	   map[4].type == E820_RAM, "2 GiB of RAM at 4 GiB");
	m.host = (uint8_t *)0x1000;	/* only gmem_ptr arithmetic below */
	ok(gmem_ptr(&m, 0xC0000000ull - 8, 16) == NULL, "no pointer across the hole");
	ok(gmem_ptr(&m, 1ull << 32, 8) == m.host + MMIO_HOLE_START,
	   "4 GiB maps right after low RAM");
	ok(gmem_ptr(&m, (1ull << 32) + (2ull << 30) - 8, 16) == NULL,
	   "no pointer past the end");
}

int
main(void)
{
	struct gmem m = { .size = MEM, .low = MEM };
	size_t i;

	m.host = mmap(NULL, MEM, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m.host == MAP_FAILED)
		return 1;
	for (i = 0; i < sizeof initrd; i++)
		initrd[i] = (uint8_t)(i ^ 0x5A);
	test_fields(&m);
	test_refusals(&m);
	test_hole();
	munmap(m.host, MEM);
	return done_testing();
}
