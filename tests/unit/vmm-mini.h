/*
 * vmm-mini.h - tiny hand-assembled PVH guests for the VMM tests: a few
 * 32-bit instructions wrapped in an ELF64 with a PT_LOAD at 1 MiB and a
 * XEN_ELFNOTE_PHYS32_ENTRY note, and a helper that runs one to its end.
 */
#ifndef HV_TEST_VMM_MINI_H
#define HV_TEST_VMM_MINI_H

#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/vm/vmm.h"

#define MINI_LOAD	0x100000u

static inline void
le(uint8_t *p, uint64_t v, int n)
{
	int i;

	for (i = 0; i < n; i++)
		p[i] = v >> (8 * i);
}

/* write an ELF64 PVH image of code to path; 0 on success */
static inline int
mini_elf(const char *path, const uint8_t *code, size_t len)
{
	uint8_t f[0x1000 + 4096] = { 0 };
	uint8_t *ph = f + 64, *note = f + 64 + 2 * 56;
	FILE *fp;
	size_t n;

	if (len > 4096)
		return -1;
	memcpy(f, "\x7f" "ELF", 4);
	f[4] = 2; f[5] = 1; f[6] = 1;
	le(f + 16, 2, 2);		/* ET_EXEC */
	le(f + 18, 62, 2);		/* x86-64 */
	le(f + 20, 1, 4);
	le(f + 24, MINI_LOAD, 8);	/* e_entry (unused by PVH) */
	le(f + 32, 64, 8);		/* e_phoff */
	le(f + 52, 64, 2);
	le(f + 54, 56, 2);
	le(f + 56, 2, 2);		/* e_phnum */
	le(ph, 1, 4);			/* PT_LOAD */
	le(ph + 4, 7, 4);
	le(ph + 8, 0x1000, 8);
	le(ph + 16, MINI_LOAD, 8);
	le(ph + 24, MINI_LOAD, 8);
	le(ph + 32, len, 8);
	le(ph + 40, len + 64, 8);	/* some .bss too */
	ph += 56;
	le(ph, 4, 4);			/* PT_NOTE */
	le(ph + 8, note - f, 8);
	le(ph + 32, 20, 8);
	le(ph + 40, 20, 8);
	le(note, 4, 4);
	le(note + 4, 4, 4);
	le(note + 8, 18, 4);		/* XEN_ELFNOTE_PHYS32_ENTRY */
	memcpy(note + 12, "Xen", 4);
	le(note + 16, MINI_LOAD, 4);
	memcpy(f + 0x1000, code, len);
	fp = fopen(path, "w");
	if (!fp)
		return -1;
	n = fwrite(f, 1, 0x1000 + len, fp);
	return fclose(fp) == 0 && n == 0x1000 + len ? 0 : -1;
}

static inline bool
kvm_usable(const char **why)
{
	int fd;

	if (geteuid() != 0) {
		*why = "needs root (/dev/kvm is 0600 here)";
		return false;
	}
	fd = open("/dev/kvm", O_RDWR);
	if (fd < 0) {
		*why = "no /dev/kvm";
		return false;
	}
	close(fd);
	return true;
}

/* wait up to ms for the VM to stop by itself, collecting the console */
static inline bool
mini_wait(struct vmm *vm, char *out, size_t outlen, int ms)
{
	size_t got = strlen(out);
	bool stopped = false;
	int waited = 0;

	while (waited < ms) {
		struct pollfd p[2] = {
			{ vmm_console_fd(vm), POLLIN, 0 },
			{ vmm_wait_fd(vm), POLLIN, 0 },
		};
		ssize_t n;

		poll(p, 2, 20);
		waited += 20;
		while (got + 1 < outlen &&
		       (n = read(p[0].fd, out + got, outlen - 1 - got)) > 0)
			got += n;
		out[got] = 0;
		if (stopped)
			break;
		stopped = p[1].revents & POLLIN;	/* one more drain */
	}
	return stopped;
}

/* wait up to ms until the console shows s (or the VM stops) */
static inline bool
mini_wait_for(struct vmm *vm, char *out, size_t outlen, const char *s, int ms)
{
	for (int i = 0; i < ms / 100 && !strstr(out, s); i++)
		if (mini_wait(vm, out, outlen, 100))
			break;
	return strstr(out, s) != NULL;
}

#endif
