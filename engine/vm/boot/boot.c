/*
 * boot.c - direct kernel boot, the common part: read the kernel and
 * initrd, pick the loader (bzImage or PVH ELF), the memory map, the GDT,
 * command line and initrd placement both loaders use.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/vm/boot/boot.h"

#define FILE_MAX	(1ull << 31)	/* 2 GiB: no kernel or initrd is bigger */

int
boot_memmap(const struct gmem *m, struct boot_map *map, int max)
{
	int n = 0;

	if (max < 5)
		return 0;
	map[n++] = (struct boot_map){ 0, 0x9FC00, E820_RAM };
	map[n++] = (struct boot_map){ 0x9FC00, 0x400, E820_RESERVED };
	map[n++] = (struct boot_map){ BOOT_TABLES, 0x100000 - BOOT_TABLES,
				      E820_RESERVED };
	map[n++] = (struct boot_map){ 0x100000, m->low - 0x100000, E820_RAM };
	if (m->size > m->low)
		map[n++] = (struct boot_map){ MMIO_HOLE_END, m->size - m->low,
					      E820_RAM };
	return n;
}

int
boot_put(struct gmem *m, uint64_t gpa, const void *src, size_t len,
	 struct hv_err *err)
{
	void *p = gmem_ptr(m, gpa, len);

	if (!p)
		return hv_fail(err, HV_EINVAL,
			       "boot: %zu bytes at %#llx do not fit in guest RAM",
			       len, (unsigned long long)gpa);
	memcpy(p, src, len);
	return 0;
}

int
boot_cmdline(struct gmem *m, const char *cmdline, size_t max,
	     struct hv_err *err)
{
	size_t len = strlen(cmdline ? cmdline : "");

	if (len + 1 > max || len + 1 > BOOT_CMDLINE_MAX)
		return hv_fail(err, HV_EINVAL,
			       "kernel command line too long (%zu bytes, at most %zu)",
			       len, max - 1);
	return boot_put(m, BOOT_CMDLINE, cmdline ? cmdline : "", len + 1, err);
}

/* the initrd at the top of [min, max) in low RAM, page aligned */
int
boot_initrd(struct gmem *m, const struct boot_image *im, uint64_t min,
	    uint64_t max, uint64_t *gpa, struct hv_err *err)
{
	uint64_t top = m->low < max ? m->low : max;
	uint64_t at;

	*gpa = 0;
	if (!im->initrd)
		return 0;
	if (im->initrd_len > top || top - im->initrd_len < min)
		return hv_fail(err, HV_EINVAL,
			       "initrd (%zu bytes) does not fit in guest RAM",
			       im->initrd_len);
	at = (top - im->initrd_len) & ~0xFFFull;
	if (at < min)
		return hv_fail(err, HV_EINVAL, "initrd does not fit below the kernel");
	*gpa = at;
	return boot_put(m, at, im->initrd, im->initrd_len, err);
}

void
boot_gdt(struct gmem *m, struct boot_cpu *cpu)
{
	static const uint64_t gdt[] = {
		0,
		0x00CF9B000000FFFFull,	/* 0x08: code, 32-bit flat */
		0x00AF9B000000FFFFull,	/* 0x10: code, 64-bit */
		0x00CF93000000FFFFull,	/* 0x18: data, flat */
	};
	uint8_t *p = gmem_ptr(m, BOOT_GDT, sizeof gdt);
	size_t i;

	for (i = 0; i < sizeof gdt / sizeof gdt[0]; i++)
		put_le64(p + 8 * i, gdt[i]);
	cpu->gdt_base = BOOT_GDT;
	cpu->gdt_limit = sizeof gdt - 1;
}

int
vmm_read_file(const char *path, uint8_t **out, size_t *len, struct hv_err *err)
{
	struct stat st;
	size_t done = 0;
	uint8_t *buf;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return hv_fail(err, HV_ENOENT, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > FILE_MAX) {
		close(fd);
		return hv_fail(err, HV_EINVAL, "%s: not a regular file under 2 GiB",
			       path);
	}
	buf = malloc(st.st_size ? st.st_size : 1);
	while (buf && done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, st.st_size - done);

		if (n <= 0)
			break;
		done += n;
	}
	close(fd);
	if (!buf || done != (size_t)st.st_size) {
		free(buf);
		return hv_fail(err, HV_EIO, "%s: cannot read it", path);
	}
	*out = buf;
	*len = done;
	return 0;
}

int
vmm_load_kernel(struct vmm *vm, struct boot_cpu *cpu, struct hv_err *err)
{
	struct boot_image im = { .cmdline = vm->cfg.cmdline };
	uint8_t *k = NULL, *i = NULL;
	int rc = -1;

	if (!vm->cfg.kernel)
		return hv_fail(err, HV_EUSAGE, "a Gen2 VM needs a kernel");
	if (vmm_read_file(vm->cfg.kernel, &k, &im.kernel_len, err) != 0)
		return -1;
	if (vm->cfg.initrd &&
	    vmm_read_file(vm->cfg.initrd, &i, &im.initrd_len, err) != 0)
		goto out;
	im.kernel = k;
	im.initrd = i;
	if (boot_tables(vm, &im.rsdp, err) != 0)
		goto out;
	if (boot_is_bzimage(k, im.kernel_len))
		rc = boot_linux(&vm->mem, &im, cpu, err);
	else
		rc = boot_pvh(&vm->mem, &im, cpu, err);
	if (rc != 0 && err) {
		char why[sizeof err->msg];

		memcpy(why, err->msg, sizeof why);
		hv_fail(err, err->code, "%s: %s", vm->cfg.kernel, why);
	}
out:
	free(k);
	free(i);
	return rc;
}
