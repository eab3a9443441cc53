/*
 * pflash.c - the UEFI variable store: a CFI flash with the Intel command
 * set, as much of it as OVMF uses (QemuFlashFvbServicesRuntimeDxe's
 * QemuFlash.c: probe, byte program, block erase, read status, read
 * array). Its bytes are the VM's NVRAM file, mapped shared: what the
 * firmware programs is in the file, and is there at the next start.
 *
 * Read-array mode ("romd", as QEMU says) maps the file into the guest
 * through a read-only memslot, so the firmware reads its variables at
 * memory speed and only writes exit. A command that makes reads return
 * status takes the memslot away until read array comes back; in between
 * reads exit here too. The command machine is pflash-cmd.c.
 *
 * A program stores the byte as written (QEMU's model does the same, not
 * a real flash's AND): OVMF erases before it programs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/vm/dev/pflash.h"
#include "engine/vm/state/snap-io.h"

struct pflash {
	struct vmm *vm;
	pthread_mutex_t lock;
	struct pflash_cmd c;
	uint8_t *mem;
	size_t len;
	uint64_t gpa;
	bool mapped;		/* the memslot is there */
};

/* with f->lock held: the memslot follows the mode */
static int
sync_map(struct pflash *f, struct hv_err *err)
{
	if (f->c.romd == f->mapped)
		return 0;
	if (kvm_map_flash(f->vm, f->gpa, f->mem, f->c.romd ? f->len : 0, err) != 0)
		return -1;
	f->mapped = f->c.romd;
	return 0;
}

static void
pflash_io(void *opaque, uint64_t off, void *data, int len, bool write)
{
	struct pflash *f = opaque;
	uint8_t *b = data;
	struct hv_err err;

	pthread_mutex_lock(&f->lock);
	if (write) {
		/* the firmware writes bytes; a wider write programs them all */
		pflash_cmd_write(&f->c, f->mem, f->len, off, b[0]);
		for (int i = 1; i < len && f->c.cmd == PFLASH_CMD_PROGRAM && !f->c.second &&
		     off + i < f->len; i++)
			f->mem[off + i] = b[i];
		if (sync_map(f, &err) != 0)
			vmm_request_stop(f->vm, VMM_EXIT_INTERNAL, 0, err.msg);
	} else {
		for (int i = 0; i < len; i++)
			b[i] = pflash_cmd_read(&f->c, f->mem, f->len, off + i);
	}
	pthread_mutex_unlock(&f->lock);
}

int
pflash_create(struct vmm *vm, const char *path, uint64_t gpa, struct hv_err *err)
{
	struct pflash *f;
	struct stat st;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		hv_fail(err, HV_EIO, "UEFI variable store %s: %s", path, strerror(errno));
		goto fail_fd;
	}
	if (st.st_size < PFLASH_BLOCK || st.st_size % PFLASH_BLOCK || st.st_size > (16 << 20)) {
		hv_fail(err, HV_ECORRUPT, "UEFI variable store %s: %lld bytes, not whole %u-byte "
			"blocks of at most 16 MiB", path, (long long)st.st_size, PFLASH_BLOCK);
		goto fail_fd;
	}
	if ((f = calloc(1, sizeof *f)) == NULL) {
		hv_fail(err, HV_EINTERNAL, "out of memory");
		goto fail_fd;
	}
	f->mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (f->mem == MAP_FAILED) {
		free(f);
		return hv_fail(err, HV_EIO, "UEFI variable store %s: mmap: %s", path, strerror(errno));
	}
	f->vm = vm;
	f->len = (size_t)st.st_size;
	f->gpa = gpa;
	f->c.status = PFLASH_STATUS_READY;
	pflash_read_array(&f->c);
	pthread_mutex_init(&f->lock, NULL);
	vm->flash = f;		/* vmm_destroy frees it from here */
	if (bus_add(&vm->mmio, gpa, f->len, pflash_io, f) != 0)
		return hv_fail(err, HV_EINTERNAL, "MMIO bus full");
	return sync_map(f, err);
fail_fd:
	if (fd >= 0)
		close(fd);
	return -1;
}

void
pflash_destroy(struct pflash *f)
{
	if (f == NULL)
		return;
	msync(f->mem, f->len, MS_SYNC);
	munmap(f->mem, f->len);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

void
pflash_save(struct pflash *f, struct snap_w *w)
{
	pthread_mutex_lock(&f->lock);
	snap_u8(w, f->c.cmd);
	snap_u8(w, f->c.status);
	snap_u8(w, (uint8_t)(f->c.second | f->c.romd << 1));
	pthread_mutex_unlock(&f->lock);
}

int
pflash_load(struct pflash *f, struct snap_r *r)
{
	struct hv_err err;
	uint8_t flags;
	int rc;

	pthread_mutex_lock(&f->lock);
	f->c.cmd = snap_g8(r);
	f->c.status = snap_g8(r);
	flags = snap_g8(r);
	f->c.second = flags & 1;
	f->c.romd = (flags & 2) != 0;
	rc = r->bad || sync_map(f, &err) != 0 ? -1 : 0;
	pthread_mutex_unlock(&f->lock);
	return rc;
}
