/*
 * vmm-pvh.c - the PVH ELF loader on good and hostile images (no KVM):
 * segments land at their physical addresses with .bss zeroed, the
 * PHYS32 entry note is found, and truncated or lying headers are
 * refused with a message instead of reading past the file.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "engine/vm/boot/boot.h"
#include "tests/tap.h"
#include "tests/unit/vmm-mini.h"

#define MEM	(32ull << 20)

static uint8_t f[0x1000 + 64];
static struct gmem m = { .size = MEM, .low = MEM };

static void
good(void)
{
	static const uint8_t code[] = { 0xF4, 0xEB, 0xFD };
	char path[] = "/tmp/vmm-pvh.XXXXXX";
	int fd = mkstemp(path);
	FILE *fp;

	close(fd);
	mini_elf(path, code, sizeof code);
	fp = fopen(path, "r");
	memset(f, 0, sizeof f);
	if (!fp || fread(f, 1, sizeof f, fp) == 0)
		abort();
	fclose(fp);
	unlink(path);
}

static int
load(size_t len, const char *cmdline, struct boot_cpu *cpu, struct hv_err *err)
{
	struct boot_image im = { .kernel = f, .kernel_len = len,
				 .cmdline = cmdline };

	return boot_pvh(&m, &im, cpu, err);
}

static void
refuse(const char *what, size_t len)
{
	struct boot_cpu cpu;
	struct hv_err err = { 0 };

	ok(load(len, "", &cpu, &err) != 0 && err.msg[0], "%s: refused (%s)",
	   what, err.msg);
	good();
}

int
main(void)
{
	static uint8_t initrd[5000];
	struct boot_image im = { 0 };
	struct boot_cpu cpu;
	struct hv_err err;
	const uint8_t *si;
	size_t len = 0x1000 + 3;

	m.host = mmap(NULL, MEM, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m.host == MAP_FAILED)
		return 1;
	good();
	memset(m.host + 0x100000, 0xAA, 4096);
	ok(load(len, "a b c", &cpu, &err) == 0, "a PVH ELF64 loads");
	ok(m.host[0x100000] == 0xF4 && m.host[0x100003] == 0 &&
	   m.host[0x100000 + 66] == 0, "PT_LOAD copied, memsz beyond filesz zeroed");
	is_int(cpu.mode, BOOT_PVH32, "32-bit PVH entry");
	is_int(cpu.rip, 0x100000, "entry from XEN_ELFNOTE_PHYS32_ENTRY");
	is_int(cpu.rbx, BOOT_START_INFO, "EBX = hvm_start_info");
	is_int(get_le64(m.host + BOOT_GDT + 8), 0x00CF9B000000FFFFull,
	       "GDT 0x08: flat 32-bit code");
	im = (struct boot_image){ .kernel = f, .kernel_len = len, .cmdline = "",
				  .initrd = initrd, .initrd_len = sizeof initrd };
	ok(boot_pvh(&m, &im, &cpu, &err) == 0, "with an initrd");
	si = m.host + BOOT_START_INFO;
	is_int(get_le32(si + 12), 1, "nr_modules = 1");
	is_int(get_le64(m.host + get_le64(si + 16) + 8), sizeof initrd,
	       "module size");
	ok(get_le64(m.host + get_le64(si + 16)) % 4096 == 0, "module page aligned");

	f[0] = 0;
	refuse("no ELF magic", len);
	refuse("truncated header", 40);
	put_le64(f + 32, 0xFFFFFFFFFFFFFF00ull);
	refuse("e_phoff far past the file", len);
	put_le16(f + 56, 60000);
	refuse("e_phnum past the file", len);
	put_le64(f + 64 + 8, 0x7FFFFFFFFFFFFFFFull);
	refuse("p_offset past the file", len);
	put_le64(f + 64 + 32, 0xFFFFFFFFFFFFFFF0ull);
	refuse("p_filesz wraps", len);
	put_le64(f + 64 + 24, 0x10000);
	refuse("segment below 1 MiB", len);
	put_le64(f + 64 + 24, MEM - 16);
	refuse("segment past the end of RAM", len);
	put_le64(f + 64 + 40, 1);
	refuse("filesz > memsz", len);
	put_le32(f + 64 + 112 + 8, 17);
	refuse("no PHYS32 entry note", len);
	put_le32(f + 64 + 112, 0xFFFFFFF0u);
	refuse("note namesz runs off", len);
	memset(f + 0x1000, 0, 3);
	ok(load(len, NULL, &cpu, &err) == 0, "NULL command line is empty");
	munmap(m.host, MEM);
	return done_testing();
}
