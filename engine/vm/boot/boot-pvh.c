/*
 * boot-pvh.c - the PVH boot ABI, as `qemu -kernel` does it: load an
 * ELF's PT_LOAD segments at their physical addresses, find the
 * XEN_ELFNOTE_PHYS32_ENTRY note, and hand the entry an hvm_start_info
 * (in EBX) with the command line, memory map and initrd module. The CPU
 * starts in 32-bit protected mode with paging off and flat segments.
 *
 * The ELF is outside input: every offset and size is checked against
 * the file before it is read.
 */
#include <string.h>

#include "engine/vm/boot/boot.h"

struct elf {
	const uint8_t *p;
	size_t len;
	bool is64;
	uint64_t phoff;
	uint16_t phentsize, phnum;
};

struct phdr {
	uint32_t type;
	uint64_t offset, paddr, filesz, memsz;
};

#define PT_LOAD	1
#define PT_NOTE	4

static int
elf_parse(struct elf *e, const uint8_t *p, size_t len, struct hv_err *err)
{
	e->p = p;
	e->len = len;
	if (len < 52 || memcmp(p, "\x7f" "ELF", 4) != 0)
		return hv_fail(err, HV_EINVAL, "neither an ELF nor a bzImage");
	if (p[5] != 1 || (p[4] != 1 && p[4] != 2))
		return hv_fail(err, HV_EINVAL, "ELF: not little-endian ELF32/64");
	e->is64 = p[4] == 2;
	if (e->is64 && len < 64)
		return hv_fail(err, HV_EINVAL, "ELF: truncated header");
	e->phoff = e->is64 ? get_le64(p + 32) : get_le32(p + 28);
	e->phentsize = get_le16(p + (e->is64 ? 54 : 42));
	e->phnum = get_le16(p + (e->is64 ? 56 : 44));
	if (e->phentsize < (e->is64 ? 56 : 32) || e->phoff > len ||
	    (uint64_t)e->phentsize * e->phnum > len - e->phoff)
		return hv_fail(err, HV_EINVAL, "ELF: program headers out of the file");
	return 0;
}

static int
elf_phdr(const struct elf *e, int i, struct phdr *ph, struct hv_err *err)
{
	const uint8_t *q = e->p + e->phoff + (uint64_t)i * e->phentsize;

	ph->type = get_le32(q);
	if (e->is64) {
		ph->offset = get_le64(q + 8);
		ph->paddr = get_le64(q + 24);
		ph->filesz = get_le64(q + 32);
		ph->memsz = get_le64(q + 40);
	} else {
		ph->offset = get_le32(q + 4);
		ph->paddr = get_le32(q + 12);
		ph->filesz = get_le32(q + 16);
		ph->memsz = get_le32(q + 20);
	}
	if (ph->offset > e->len || ph->filesz > e->len - ph->offset)
		return hv_fail(err, HV_EINVAL, "ELF: segment %d out of the file", i);
	if (ph->type == PT_LOAD && ph->filesz > ph->memsz)
		return hv_fail(err, HV_EINVAL, "ELF: segment %d filesz > memsz", i);
	return 0;
}

/* the PHYS32 entry from one PT_NOTE segment, or 0 */
static uint64_t
note_entry(const uint8_t *p, uint64_t len)
{
	uint64_t off = 0;

	while (len - off >= 12) {
		uint32_t namesz = get_le32(p + off), descsz = get_le32(p + off + 4);
		uint32_t type = get_le32(p + off + 8);
		uint64_t name = off + 12;
		uint64_t desc = name + (((uint64_t)namesz + 3) & ~3ull);
		uint64_t next = desc + (((uint64_t)descsz + 3) & ~3ull);

		if (desc > len || next > len)
			return 0;
		if (type == XEN_ELFNOTE_PHYS32_ENTRY && namesz == 4 &&
		    memcmp(p + name, "Xen", 4) == 0 && (descsz == 4 || descsz == 8))
			return get_le32(p + desc);
		off = next;
	}
	return 0;
}

static int
load_segments(struct gmem *m, const struct elf *e, uint64_t *entry,
	      uint64_t *end, struct hv_err *err)
{
	struct phdr ph;
	int i;

	*entry = 0;
	*end = BOOT_KERNEL;
	for (i = 0; i < e->phnum; i++) {
		uint8_t *dst;

		if (elf_phdr(e, i, &ph, err) != 0)
			return -1;
		if (ph.type == PT_NOTE && !*entry)
			*entry = note_entry(e->p + ph.offset, ph.filesz);
		if (ph.type != PT_LOAD || ph.memsz == 0)
			continue;
		dst = gmem_ptr(m, ph.paddr, ph.memsz);
		if (!dst || ph.paddr < BOOT_KERNEL)
			return hv_fail(err, HV_EINVAL,
				       "ELF: segment %d (%#llx+%#llx) is not in RAM above 1 MiB",
				       i, (unsigned long long)ph.paddr,
				       (unsigned long long)ph.memsz);
		memcpy(dst, e->p + ph.offset, ph.filesz);
		memset(dst + ph.filesz, 0, ph.memsz - ph.filesz);
		if (ph.paddr + ph.memsz > *end)
			*end = ph.paddr + ph.memsz;
	}
	if (!*entry)
		return hv_fail(err, HV_EINVAL,
			       "ELF: no XEN_ELFNOTE_PHYS32_ENTRY note (not a PVH kernel)");
	return 0;
}

static int
start_info(struct gmem *m, uint64_t initrd, size_t initrd_len,
	   uint64_t rsdp, struct hv_err *err)
{
	struct boot_map map[BOOT_MAX_MAP];
	uint8_t si[56] = { 0 }, ent[24], mod[32] = { 0 };
	int n = boot_memmap(m, map, BOOT_MAX_MAP), i;

	for (i = 0; i < n; i++) {
		put_le64(ent, map[i].addr);
		put_le64(ent + 8, map[i].size);
		put_le32(ent + 16, map[i].type);
		put_le32(ent + 20, 0);
		if (boot_put(m, BOOT_MEMMAP + 24 * i, ent, sizeof ent, err) != 0)
			return -1;
	}
	put_le32(si, PVH_MAGIC);
	put_le32(si + 4, 1);			/* version */
	put_le32(si + 8, 0);			/* flags */
	put_le32(si + 12, initrd ? 1 : 0);	/* nr_modules */
	put_le64(si + 16, initrd ? BOOT_MODLIST : 0);
	put_le64(si + 24, BOOT_CMDLINE);
	put_le64(si + 32, rsdp);
	put_le64(si + 40, BOOT_MEMMAP);
	put_le32(si + 48, n);
	if (initrd) {
		put_le64(mod, initrd);
		put_le64(mod + 8, initrd_len);
		if (boot_put(m, BOOT_MODLIST, mod, sizeof mod, err) != 0)
			return -1;
	}
	return boot_put(m, BOOT_START_INFO, si, sizeof si, err);
}

int
boot_pvh(struct gmem *m, const struct boot_image *im, struct boot_cpu *cpu,
	 struct hv_err *err)
{
	uint64_t entry, end, initrd;
	struct elf e = { 0 };

	if (elf_parse(&e, im->kernel, im->kernel_len, err) != 0 ||
	    load_segments(m, &e, &entry, &end, err) != 0 ||
	    boot_cmdline(m, im->cmdline, BOOT_CMDLINE_MAX, err) != 0 ||
	    boot_initrd(m, im, end, m->low, &initrd, err) != 0 ||
	    start_info(m, initrd, im->initrd_len, im->rsdp, err) != 0)
		return -1;
	memset(cpu, 0, sizeof(*cpu));
	boot_gdt(m, cpu);
	cpu->mode = BOOT_PVH32;
	cpu->rip = entry;
	cpu->rbx = BOOT_START_INFO;
	return 0;
}
