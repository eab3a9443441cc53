/*
 * vmm-boot.c - the VMM end to end with hand-assembled PVH guests: serial
 * output, debug-exit codes, the hvm_start_info in EBX, serial input,
 * PCI config space, CMOS, i8042 reset, triple fault, pause/resume/stop.
 * Needs root and /dev/kvm; skips otherwise.
 */
#include <stdlib.h>

#include "engine/vm/vmm-int.h"
#include "engine/vm/boot/boot.h"
#include "tests/tap.h"
#include "tests/unit/vmm-mini.h"

static char dir[64], elf[128];

static struct vmm *
boot(const uint8_t *code, size_t len, const char *cmdline, int vcpus)
{
	struct vmm_config c = { .mem_bytes = 64ull << 20, .vcpus = vcpus,
				.generation = 2, .kernel = elf,
				.cmdline = cmdline };
	struct hv_err err;
	struct vmm *vm;

	if (mini_elf(elf, code, len) != 0)
		return NULL;
	if (vmm_create(&vm, &c, &err) != 0) {
		diag("vmm_create: %s", err.msg);
		return NULL;
	}
	if (vmm_start(vm, &err) != 0) {
		diag("vmm_start: %s", err.msg);
		vmm_destroy(vm);
		return NULL;
	}
	return vm;
}

static void
test_hello(void)
{
	static const uint8_t code[] = {
		0xBE, 22, 0x00, 0x10, 0x00,	/* mov esi, msg */
		0x66, 0xBA, 0xF8, 0x03,		/* mov dx, 0x3f8 */
		0xAC,				/* 1: lodsb */
		0x84, 0xC0,			/* test al, al */
		0x74, 0x03,			/* jz 2f */
		0xEE,				/* out dx, al */
		0xEB, 0xF8,			/* jmp 1b */
		0xB0, 0x2A,			/* 2: mov al, 42 */
		0xE6, 0xF4,			/* out 0xf4, al */
		0xF4,				/* hlt */
		'h', 'e', 'l', 'l', 'o', ' ', 'm', 'i', 'n', 'i', '\n', 0,
	};
	struct vmm *vm = boot(code, sizeof code, "console=ttyS0 x=1", 1);
	char out[256] = "";
	struct vmm_stats st;
	struct vmm_exit e;

	if (!ok(vm != NULL, "mini guest: VM created and started"))
		return;
	ok(mini_wait(vm, out, sizeof out, 20000), "mini guest: stopped by itself");
	vmm_exit_info(vm, &e);
	is_str(out, "hello mini\n", "mini guest: serial output");
	is_int(e.reason, VMM_EXIT_DEBUG, "mini guest: stopped through debug-exit");
	is_int(e.code, (42 << 1) | 1, "mini guest: exit code (42 << 1) | 1");
	vmm_stats(vm, &st);
	ok(st.exits[KVM_EXIT_IO] >= 11, "mini guest: I/O exits counted (%llu)",
	   (unsigned long long)st.exits[KVM_EXIT_IO]);
	vmm_destroy(vm);
}

/* EBX points at hvm_start_info: magic, version, cmdline, memmap */
static void
test_start_info(void)
{
	static const uint8_t code[] = {
		0x89, 0xD8,		/* mov eax, ebx */
		0xE7, 0xF4,		/* out 0xf4, eax */
		0xF4,
	};
	struct vmm *vm = boot(code, sizeof code, "probe ready", 1);
	char out[64] = "";
	struct vmm_exit e;
	const uint8_t *si, *map;

	if (!ok(vm != NULL, "start_info guest runs"))
		return;
	mini_wait(vm, out, sizeof out, 20000);
	vmm_exit_info(vm, &e);
	is_int(e.code, (int)((BOOT_START_INFO << 1) | 1), "EBX = start_info address");
	si = vm->mem.host + BOOT_START_INFO;
	is_int(get_le32(si), 0x336EC578, "start_info magic");
	is_int(get_le32(si + 4), 1, "start_info version 1");
	is_str((char *)vm->mem.host + get_le64(si + 24), "probe ready",
	       "start_info cmdline");
	is_int(get_le32(si + 48), 4, "memmap: 4 entries for 64 MiB");
	map = vm->mem.host + get_le64(si + 40);
	is_int(get_le64(map + 3 * 24), 0x100000, "memmap: RAM from 1 MiB");
	is_int(get_le64(map + 3 * 24 + 8), (64 << 20) - 0x100000,
	       "memmap: ... to the end of RAM");
	is_int(get_le32(map + 3 * 24 + 16), 1, "memmap: type RAM");
	is_int(get_le32(si + 12), 0, "no modules without an initrd");
	is_int(get_le64(si + 32), 0xE0000, "rsdp_paddr: the ACPI RSDP");
	vmm_destroy(vm);
}

static void
test_serial_input(void)
{
	static const uint8_t code[] = {
		0x66, 0xBA, 0xFD, 0x03,	/* mov dx, 0x3fd (LSR) */
		0xEC,			/* 1: in al, dx */
		0xA8, 0x01,		/* test al, 1 (data ready) */
		0x74, 0xFB,		/* jz 1b */
		0x66, 0xBA, 0xF8, 0x03,	/* mov dx, 0x3f8 */
		0xEC,			/* in al, dx */
		0xE6, 0xF4,		/* out 0xf4, al */
		0xF4,
	};
	struct vmm *vm = boot(code, sizeof code, "", 1);
	char out[64] = "";
	struct vmm_exit e;

	if (!ok(vm != NULL, "serial input guest runs"))
		return;
	usleep(20000);
	is_int(vmm_console_input(vm, "A", 1), 1, "console input taken");
	ok(mini_wait(vm, out, sizeof out, 20000), "guest read it and stopped");
	vmm_exit_info(vm, &e);
	is_int(e.code, ('A' << 1) | 1, "guest received 'A' through the RX FIFO");
	vmm_destroy(vm);
}

static void
test_pci_cmos(void)
{
	static const uint8_t pci[] = {
		0xB8, 0x00, 0x00, 0x00, 0x80,	/* mov eax, 0x80000000 */
		0x66, 0xBA, 0xF8, 0x0C,		/* mov dx, 0xcf8 */
		0xEF,				/* out dx, eax */
		0x66, 0xBA, 0xFC, 0x0C,		/* mov dx, 0xcfc */
		0xED,				/* in eax, dx */
		0xE7, 0xF4,			/* out 0xf4, eax */
		0xF4,
	};
	static const uint8_t cmos[] = {
		0xB0, 0x15,		/* mov al, 0x15 (base memory, low) */
		0xE6, 0x70,		/* out 0x70, al */
		0xE4, 0x71,		/* in al, 0x71 */
		0xE6, 0xF4, 0xF4,
	};
	char out[64] = "";
	struct vmm_exit e;
	struct vmm *vm;

	vm = boot(pci, sizeof pci, "", 1);
	if (vm) {
		mini_wait(vm, out, sizeof out, 20000);
		vmm_exit_info(vm, &e);
		vmm_destroy(vm);
	}
	is_int(vm ? (uint32_t)e.code : 0, (uint32_t)((0x0D578086u << 1) | 1),
	       "PCI 00:00.0 reads as the host bridge 8086:0d57");
	vm = boot(cmos, sizeof cmos, "", 1);
	if (vm) {
		mini_wait(vm, out, sizeof out, 20000);
		vmm_exit_info(vm, &e);
		vmm_destroy(vm);
	}
	is_int(vm ? e.code : 0, ((640 & 0xFF) << 1) | 1,
	       "CMOS 0x15: base memory 640 KiB");
}

static void
test_reset_and_fault(void)
{
	static const uint8_t reset[] = {
		0xB0, 0xFE, 0xE6, 0x64,	/* i8042: pulse reset */
		0xF4, 0xEB, 0xFD,
	};
	static const uint8_t fault[] = {
		0x0F, 0x01, 0x1D, 0x10, 0x00, 0x10, 0x00, /* lidt [0x100010] */
		0xCC,					  /* int3 */
		0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90, 0x90,
		0, 0, 0, 0, 0, 0, 0, 0,		/* empty IDT descriptor */
	};
	char out[64] = "";
	struct vmm_exit e = { 0 };
	struct vmm *vm;

	vm = boot(reset, sizeof reset, "", 1);
	if (vm) {
		mini_wait(vm, out, sizeof out, 20000);
		vmm_exit_info(vm, &e);
		vmm_destroy(vm);
	}
	is_int(e.reason, VMM_EXIT_RESET, "0xFE to port 0x64 resets the VM");
	vm = boot(fault, sizeof fault, "", 1);
	if (vm) {
		mini_wait(vm, out, sizeof out, 20000);
		vmm_exit_info(vm, &e);
		vmm_destroy(vm);
	}
	/* kvm_pvm emulates ring 0 and gives up before the triple fault */
	ok(e.reason == VMM_EXIT_TRIPLE_FAULT || e.reason == VMM_EXIT_INTERNAL,
	   "an empty IDT + int3 stops the VM as %s", vmm_exit_reason_name(e.reason));
	ok(strstr(e.msg, "rip=") != NULL, "... reported with registers: %s", e.msg);
}

/* a bzImage-shaped file whose startup_64 reports RSI through 0xF4 */
static void
test_linux64(void)
{
	static const uint8_t code[] = {
		0x48, 0x89, 0xF0,	/* mov rax, rsi */
		0xE7, 0xF4,		/* out 0xf4, eax */
		0xF4,
	};
	struct vmm_config c = { .mem_bytes = 64ull << 20, .vcpus = 1,
				.generation = 2, .kernel = elf,
				.cmdline = "console=ttyS0" };
	static uint8_t img[5 * 512 + 0x1000];
	char out[64] = "";
	struct vmm_exit e = { 0 };
	struct hv_err err;
	struct vmm *vm;
	FILE *f;

	img[0x1F1] = 4;
	put_le16(img + 0x1FE, 0xAA55);
	img[0x201] = 0x6A;
	memcpy(img + 0x202, "HdrS", 4);
	put_le16(img + 0x206, 0x020F);
	img[0x211] = 1;
	img[0x236] = 1;
	put_le32(img + 0x238, 255);
	put_le32(img + 0x22C, 0x7FFFFFFF);
	memcpy(img + 5 * 512 + 0x200, code, sizeof code);
	f = fopen(elf, "w");
	if (!f || fwrite(img, 1, sizeof img, f) != sizeof img || fclose(f) != 0)
		return;
	if (vmm_create(&vm, &c, &err) != 0 || vmm_start(vm, &err) != 0) {
		ok(0, "bzImage VM starts: %s", err.msg);
		return;
	}
	mini_wait(vm, out, sizeof out, 20000);
	vmm_exit_info(vm, &e);
	vmm_destroy(vm);
	is_int(e.code, (int)((BOOT_ZERO_PAGE << 1) | 1),
	       "bzImage: startup_64 runs in long mode with RSI = zero page (%s)",
	       e.msg);
}

/* 4 GiB of RAM: two memslots around the PCI hole */
static void
test_big(void)
{
	static const uint8_t code[] = { 0xB0, 0x07, 0xE6, 0xF4, 0xF4 };
	struct vmm_config c = { .mem_bytes = 4ull << 30, .vcpus = 1,
				.generation = 2, .kernel = elf };
	char out[64] = "";
	struct vmm_exit e = { 0 };
	struct hv_err err;
	struct vmm *vm;

	if (mini_elf(elf, code, sizeof code) != 0)
		return;
	if (vmm_create(&vm, &c, &err) != 0 || vmm_start(vm, &err) != 0) {
		ok(0, "4 GiB VM starts: %s", err.msg);
		return;
	}
	is_int(vm->mem.low, 3ull << 30, "4 GiB: 3 GiB below the hole");
	mini_wait(vm, out, sizeof out, 20000);
	vmm_exit_info(vm, &e);
	vmm_destroy(vm);
	is_int(e.code, 15, "4 GiB guest runs");
}

static void
test_bad_config(void)
{
	struct vmm_config good = { .mem_bytes = 64ull << 20, .vcpus = 1,
				   .generation = 2, .kernel = elf };
	struct vmm_config c;
	struct hv_err err;
	struct vmm *vm;

	c = good;
	c.mem_bytes = 3 << 20;
	ok(vmm_create(&vm, &c, &err) != 0 && !vm, "3 MiB refused: %s", err.msg);
	c = good;
	c.vcpus = 0;
	ok(vmm_create(&vm, &c, &err) != 0, "0 vCPUs refused: %s", err.msg);
	c = good;
	c.generation = 1;
	c.firmware = "/nonexistent/bios.bin";
	ok(vmm_create(&vm, &c, &err) != 0, "Gen1 with missing firmware: %s", err.msg);
	c.firmware = "/dev/null";
	ok(vmm_create(&vm, &c, &err) != 0, "Gen1 with a non-file firmware: %s", err.msg);
	c = good;
	c.generation = 3;
	ok(vmm_create(&vm, &c, &err) != 0, "generation 3 refused: %s", err.msg);
	c = good;
	c.kernel = "/nonexistent/kernel";
	ok(vmm_create(&vm, &c, &err) != 0, "missing kernel: %s", err.msg);
	c = good;
	c.ndisks = 1;
	c.disks[0].path = "/nonexistent/disk.vhdx";
	ok(vmm_create(&vm, &c, &err) != 0, "missing disk: %s", err.msg);
	ok(fcntl(0, F_GETFD) >= 0 && fcntl(1, F_GETFD) >= 0,
	   "failed creates closed nothing of ours");
}

static void
test_lifecycle(void)
{
	static const uint8_t spin[] = { 0xEB, 0xFE };	/* jmp . */
	struct vmm *vm = boot(spin, sizeof spin, "", 2);
	struct vmm_exit e;

	if (!ok(vm != NULL, "2-vCPU spinning guest runs"))
		return;
	usleep(50000);
	ok(vmm_running(vm), "running");
	is_int(vmm_pause(vm), 0, "pause");
	ok(vmm_paused(vm), "paused");
	is_int(vmm_resume(vm), 0, "resume");
	ok(!vmm_paused(vm), "not paused after resume");
	vmm_stop(vm);
	vmm_exit_info(vm, &e);
	is_int(e.reason, VMM_EXIT_POWEROFF, "stop: powered off");
	ok(!vmm_running(vm), "not running after stop");
	vmm_destroy(vm);
}

int
main(void)
{
	const char *why;

	if (!kvm_usable(&why))
		skip_all(why);
	snprintf(dir, sizeof dir, "/tmp/vmm-boot.XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(elf, sizeof elf, "%s/mini.elf", dir);
	test_hello();
	test_start_info();
	test_serial_input();
	test_pci_cmos();
	test_reset_and_fault();
	test_linux64();
	test_bad_config();
	test_big();
	test_lifecycle();
	unlink(elf);
	rmdir(dir);
	return done_testing();
}
