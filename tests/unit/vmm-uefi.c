/*
 * vmm-uefi.c - what a Gen2 UEFI VM shows its firmware before any code
 * runs: the i440FX host bridge and the PIIX functions OVMF's PlatformPei
 * reads (the PM function's PMBA already enabled at the FADT's block, and
 * read-only), the ACPI PM timer there, the firmware ROM ending at 4 GiB,
 * and the variable store right below it: a CFI flash on the VM's NVRAM
 * file, driven here as OVMF's QemuFlash.c drives it, whose programmed
 * bytes and erased blocks land in the file.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "engine/vm/dev/pflash.h"
#include "engine/vm/vmm-int.h"
#include "tests/tap.h"
#include "tests/unit/vmm-mini.h"

#define FW_LEN		(128u << 10)
#define NV_LEN		(16 * PFLASH_BLOCK)
#define NV_BASE		(0x100000000ull - FW_LEN - NV_LEN)

static struct vmm *vm;
static char dir[64], fw[128], nv[128];

static uint32_t
cfg_rd(int slot, int fn, unsigned off)
{
	uint32_t a = 0x80000000u | slot << 11 | fn << 8 | (off & 0xFC), v;

	bus_access(&vm->pio, 0xCF8, &a, 4, true);
	bus_access(&vm->pio, 0xCFC, &v, 4, false);
	return v >> (8 * (off & 3));
}

static void
cfg_wr(int slot, int fn, unsigned off, uint32_t v)
{
	uint32_t a = 0x80000000u | slot << 11 | fn << 8 | (off & 0xFC);

	bus_access(&vm->pio, 0xCF8, &a, 4, true);
	bus_access(&vm->pio, 0xCFC, &v, 4, true);
}

static uint8_t
fl_rd(uint64_t off)
{
	uint8_t v = 0;

	bus_access(&vm->mmio, NV_BASE + off, &v, 1, false);
	return v;
}

static void
fl_wr(uint64_t off, uint8_t v)
{
	bus_access(&vm->mmio, NV_BASE + off, &v, 1, true);
}

static uint8_t
file_byte(uint64_t off)
{
	uint8_t v = 0;
	int fd = open(nv, O_RDONLY);

	if (fd >= 0 && pread(fd, &v, 1, (off_t)off) != 1)
		v = 0;
	if (fd >= 0)
		close(fd);
	return v;
}

static int
make_file(const char *path, size_t len, uint8_t fill)
{
	uint8_t *b = malloc(len);
	FILE *f = fopen(path, "w");
	size_t n = 0;

	if (b != NULL && f != NULL) {
		memset(b, fill, len);
		n = fwrite(b, 1, len, f);
	}
	free(b);
	if (f != NULL && fclose(f) != 0)
		n = 0;
	return n == len ? 0 : -1;
}

static void
test_chipset(void)
{
	uint32_t t0, t1;

	is_int(cfg_rd(0, 0, 0), 0x12378086, "00:00.0 is an i440FX host bridge (8086:1237)");
	is_int(cfg_rd(1, 0, 0), 0x70008086, "00:01.0 is a PIIX3 ISA bridge (8086:7000)");
	is_int(cfg_rd(1, 0, 0x08) >> 8, 0x060100, "... class 06/01: what OVMF's console finds COM1 behind");
	ok(cfg_rd(1, 0, 0x0C) >> 16 & 0x80, "... a multi-function device");
	is_int(cfg_rd(1, 3, 0), 0x71138086, "00:01.3 is the PIIX4 power management function (8086:7113)");
	is_int(cfg_rd(1, 3, 0x40), 0xB001, "PMBA: the ACPI block at 0xB000, I/O space");
	ok(cfg_rd(1, 3, 0x80) & 1, "PMREGMISC.PMIOSE set: PlatformPei leaves it where it is");
	cfg_wr(1, 3, 0x40, 0xC001);
	is_int(cfg_rd(1, 3, 0x40), 0xB001, "a write to PMBA changes nothing");
	is_int(cfg_rd(1, 1, 0), 0xFFFFFFFF, "00:01.1 is absent");
	bus_access(&vm->pio, 0xB008, &t0, 4, false);
	usleep(2000);
	bus_access(&vm->pio, 0xB008, &t1, 4, false);
	ok(t1 != t0, "the ACPI PM timer at PMBA + 8 runs (%u -> %u)", t0, t1);
}

static void
test_flash(void)
{
	uint8_t b;

	is_int(fl_rd(7), 0x5A, "the variable store reads as the NVRAM file");
	/* QemuFlashDetected */
	fl_wr(7, 0x50);
	fl_wr(7, 0x70);
	is_int(fl_rd(7), 0x00, "clear status, read status: 0, so OVMF calls it flash");
	fl_wr(7, 0xFF);
	is_int(fl_rd(7), 0x5A, "read array again");
	/* QemuFlashWrite of two bytes */
	fl_wr(100, 0x10);
	fl_wr(100, 0xAB);
	is_int(fl_rd(100), 0x80, "after a byte program, reads give status ready");
	fl_wr(101, 0x10);
	fl_wr(101, 0xCD);
	fl_wr(101, 0xFF);
	ok(fl_rd(100) == 0xAB && fl_rd(101) == 0xCD, "read array: the programmed bytes");
	ok(file_byte(100) == 0xAB && file_byte(101) == 0xCD, "... and they are in the NVRAM file");
	/* QemuFlashEraseBlock */
	fl_wr(2 * PFLASH_BLOCK, 0x20);
	fl_wr(2 * PFLASH_BLOCK, 0xD0);
	fl_wr(0, 0xFF);
	b = file_byte(2 * PFLASH_BLOCK + 17);
	ok(b == 0xFF && file_byte(3 * PFLASH_BLOCK) == 0x5A, "a block erase reaches the file, that block only");
	fl_wr(NV_LEN - 1, 0x10);
	fl_wr(NV_LEN - 1, 0x11);
	fl_wr(NV_LEN - 1, 0xFF);
	is_int(file_byte(NV_LEN - 1), 0x11, "the store's last byte");
}

int
main(void)
{
	struct vmm_config c = { .mem_bytes = 64ull << 20, .vcpus = 1, .generation = 2 };
	struct hv_err err;
	const char *why;

	if (!kvm_usable(&why))
		skip_all(why);
	snprintf(dir, sizeof dir, "/tmp/vmm-uefi.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(fw, sizeof fw, "%s/code.fd", dir);
	snprintf(nv, sizeof nv, "%s/nvram.fd", dir);
	if (make_file(fw, FW_LEN, 0xF4) != 0 || make_file(nv, NV_LEN, 0x5A) != 0)
		return 1;
	c.firmware = fw;
	c.nvram = nv;
	ok(vmm_uefi(&c), "a Gen2 VM without a kernel is a UEFI VM");
	if (!ok(vmm_create(&vm, &c, &err) == 0, "created (firmware and variable store mapped)")) {
		diag("vmm_create: %s", err.msg);
		return done_testing();
	}
	test_chipset();
	test_flash();
	vmm_destroy(vm);
	c.nvram = NULL;
	ok(vmm_create(&vm, &c, &err) != 0 && strstr(err.msg, "variable store") != NULL,
	   "without its variable store: refused (%s)", err.msg);
	unlink(fw);
	unlink(nv);
	rmdir(dir);
	return done_testing();
}
