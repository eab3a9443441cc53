/*
 * vm-dvd.c - a VM's DVD drives (hv vm dvd): drives on its SCSI controller
 * (virtio-scsi, engine/vm/dev/virtio-scsi.c), each empty or holding an
 * ISO image.
 *
 * A drive is hardware: drives are added and removed only while the VM is
 * Off (a Saved VM's state holds its drives). A medium changes in any
 * state: while the VM runs its worker changes it first, and the guest
 * sees a media change (also where it locked the drive: udev locks every
 * loaded one, and Hyper-V changes media regardless);
 * the inventory follows only what the worker did. A Saved VM's guest
 * finds the new medium when it is restored.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/hv-int.h"

#define ISO_SECTOR	2048

int
hv_iso_check(const char *path, char *abs, struct hv_err *err)
{
	char real[PATH_MAX];
	struct stat sb;
	int fd;

	if (realpath(path, real) == NULL)
		return hv_fail(err, HV_ENOENT, "%s: %s", path, strerror(errno));
	if (strlen(real) >= HV_PATH_MAX)
		return hv_fail(err, HV_EINVAL, "%s: path too long", path);
	if (stat(real, &sb) != 0)
		return hv_fail(err, HV_EIO, "%s: %s", path, strerror(errno));
	if (S_ISDIR(sb.st_mode))
		return hv_fail(err, HV_EINVAL, "%s: a directory, not an ISO image", path);
	if (!S_ISREG(sb.st_mode))
		return hv_fail(err, HV_EINVAL, "%s: not a regular file, so not an ISO image", path);
	if (sb.st_size == 0)
		return hv_fail(err, HV_EINVAL, "%s: not an ISO image (it is empty)", path);
	if (sb.st_size % ISO_SECTOR != 0)
		return hv_fail(err, HV_EINVAL, "%s: not an ISO image (its size, %lld bytes, is not a multiple of %d)",
			       path, (long long)sb.st_size, ISO_SECTOR);
	/* the worker opens it read-only: so must we */
	if ((fd = open(real, O_RDONLY | O_CLOEXEC)) < 0)
		return hv_fail(err, HV_EINVAL, "%s: %s", path, strerror(errno));
	close(fd);
	memcpy(abs, real, strlen(real) + 1);
	return 0;
}

/* --- helpers -------------------------------------------------------------- */

/* the VM, which must be off to gain or lose a drive */
static int
dvd_vm_off(struct hv_ctx *hv, const char *name, struct hv_vm *vm, struct hv_err *err)
{
	if (hv_vm_get(hv, name, vm, err) != 0)
		return -1;
	if (strcmp(vm->state, "Saved") == 0)
		return hv_fail(err, HV_EBUSY, "VM '%s' is Saved, and its saved state holds its drives; "
			       "turn it off to add or remove DVD drives (hv vm stop %s discards the state)",
			       vm->name, vm->name);
	if (strcmp(vm->state, "Off") != 0)
		return hv_fail(err, HV_EBUSY, "VM '%s' is %s; turn it off to add or remove DVD drives",
			       vm->name, vm->state);
	return 0;
}

static int
dvd_slot(const struct hv_vm *vm, int slot, struct hv_err *err)
{
	if (slot >= 0 && slot < vm->ndvds)
		return 0;
	if (vm->ndvds == 0)
		return hv_fail(err, HV_ENOENT, "VM '%s' has no DVD drives (hv vm dvd add %s adds one)",
			       vm->name, vm->name);
	return hv_fail(err, HV_ENOENT, "VM '%s' has no DVD drive %d (slots 0..%d)", vm->name, slot,
		       vm->ndvds - 1);
}

/* a running VM's worker changes the medium: {"cmd":"dvd","slot":N,
   "iso":"/abs.iso" or "" to eject}, answered {"ok":true}
   or {"ok":false,"error":why} */
static int
dvd_tell_worker(struct hv_ctx *hv, const struct hv_vm *vm, int slot, const char *iso,
		struct hv_err *err)
{
	cJSON *j = cJSON_CreateObject();
	struct hv_err e;
	char *line;
	int rc;

	cJSON_AddStringToObject(j, "cmd", "dvd");
	cJSON_AddNumberToObject(j, "slot", slot);
	cJSON_AddStringToObject(j, "iso", iso);
	line = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	if (line == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	rc = hv_vm_request(hv, vm->name, line, NULL, &e);
	free(line);
	if (rc != 0)
		return hv_fail(err, e.code, "VM '%s': %s", vm->name, e.msg);
	return 0;
}

/* drive slot of the VM now holds iso ("": empty). off: only while the VM
   is still Off or Saved (its worker has not been told) */
static int
dvd_store(struct hv_ctx *hv, const struct hv_vm *vm, int slot, const char *iso, bool off,
	  struct hv_err *err)
{
	sqlite3_stmt *st;
	int rc;

	if (store_begin(hv, err) != 0)
		return -1;
	st = store_prepare(hv, "UPDATE dvd_drives SET iso = ?1 WHERE slot = ?2 AND vm_id = "
			   "(SELECT id FROM vms WHERE uuid = ?3 AND (?4 = 0 OR state IN ('Off', 'Saved')))",
			   err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, iso, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, slot);
	sqlite3_bind_text(st, 3, vm->uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 4, off);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		store_fail(hv, err, "changing a DVD drive's medium");
		goto fail;
	}
	if (sqlite3_changes(hv->db) != 1) {
		hv_fail(err, HV_EBUSY, "VM '%s' changed meanwhile (started, or lost DVD drive %d); try again",
			vm->name, slot);
		goto fail;
	}
	if (iso[0] != '\0')
		hv_event_add(hv, vm->name, "DVD drive %d: ISO %s inserted", slot, iso);
	else
		hv_event_add(hv, vm->name, "DVD drive %d: ejected", slot);
	return store_commit(hv, err);
fail:
	store_rollback(hv);
	return -1;
}

/* --- the API -------------------------------------------------------------- */

int
hv_vm_dvd_guest_ejected(struct hv_ctx *hv, const struct hv_vm *vm, int slot, struct hv_err *err)
{
	return dvd_store(hv, vm, slot, "", false, err);
}

int
hv_vm_dvd_add(struct hv_ctx *hv, const char *name, const char *iso, int *slot,
	      struct hv_err *err)
{
	struct hv_vm *vm = malloc(sizeof *vm);
	char abs[HV_PATH_MAX] = "";
	int rc = -1;

	if (vm == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (dvd_vm_off(hv, name, vm, err) != 0)
		goto out;
	if (vm->ndvds == HV_MAX_DVDS) {
		hv_fail(err, HV_EINVAL, "VM '%s' already has %d DVD drives, the most it can have",
			vm->name, HV_MAX_DVDS);
		goto out;
	}
	if (iso != NULL && hv_iso_check(iso, abs, err) != 0)
		goto out;
	memcpy(vm->dvds[vm->ndvds++], abs, sizeof abs);
	if (hv_vm_update(hv, vm->name, vm, err) != 0)
		goto out;
	*slot = vm->ndvds - 1;
	hv_event_add(hv, vm->name, "DVD drive %d added (%s%s)", *slot, abs[0] ? "ISO " : "empty", abs);
	rc = 0;
out:
	free(vm);
	return rc;
}

int
hv_vm_dvd_set(struct hv_ctx *hv, const char *name, int slot, const char *iso,
	      struct hv_err *err)
{
	struct hv_vm *vm = malloc(sizeof *vm);
	char abs[HV_PATH_MAX] = "";
	struct hv_err e;
	bool off;
	int rc = -1;

	if (vm == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (hv_vm_get(hv, name, vm, err) != 0 || dvd_slot(vm, slot, err) != 0)
		goto out;
	if (strcmp(vm->state, "Failed") == 0) {
		hv_fail(err, HV_EINVAL, "VM '%s' has failed (its worker died); `hv vm stop %s` clears it",
			vm->name, vm->name);
		goto out;
	}
	if (iso != NULL && hv_iso_check(iso, abs, err) != 0)
		goto out;
	off = strcmp(vm->state, "Off") == 0 || strcmp(vm->state, "Saved") == 0;
	if (!off && dvd_tell_worker(hv, vm, slot, abs, err) != 0)
		goto out;
	if (dvd_store(hv, vm, slot, abs, off, &e) != 0) {
		if (off)
			hv_fail(err, e.code, "%s", e.msg);
		else
			hv_fail(err, e.code, "VM '%s': DVD drive %d holds %s now, but the inventory "
				"could not record it: %.300s", vm->name, slot, abs[0] ? abs : "no medium",
				e.msg);
		goto out;
	}
	rc = 0;
out:
	free(vm);
	return rc;
}

int
hv_vm_dvd_remove(struct hv_ctx *hv, const char *name, int slot, struct hv_err *err)
{
	struct hv_vm *vm = malloc(sizeof *vm);
	int rc = -1;

	if (vm == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (dvd_vm_off(hv, name, vm, err) != 0 || dvd_slot(vm, slot, err) != 0)
		goto out;
	memmove(vm->dvds[slot], vm->dvds[slot + 1],
		(size_t)(vm->ndvds - slot - 1) * sizeof vm->dvds[0]);
	vm->ndvds--;
	if (hv_vm_update(hv, vm->name, vm, err) != 0)
		goto out;
	hv_event_add(hv, vm->name, "DVD drive %d removed", slot);
	rc = 0;
out:
	free(vm);
	return rc;
}
