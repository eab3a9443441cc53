/*
 * checkpoint.c - Hyper-V's checkpoints (a running VM is saved for them).
 *
 * A checkpoint freezes the images the VM uses: each gets a differencing
 * child next to it and the VM writes to the children from then on. A
 * Saved VM's state file is copied into vms/NAME/checkpoints/UUID.hvs, so
 * the checkpoint holds its memory too. Checkpoints form a tree (parent:
 * the one the VM hung below when it was taken); vms.checkpoint_id is
 * "Now". Only children listed in checkpoint_children were made here, and
 * only those are ever deleted; the images a checkpoint froze never are
 * while it exists.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "engine/hv-int.h"
#include "engine/vm/vmm.h"

#define CK_PATH	(HV_PATH_MAX + 256)

struct ck {
	sqlite3_int64 id, parent_id;
	struct hv_checkpoint c;
};

/* --- the inventory ------------------------------------------------------ */

/* the VM's row id and the checkpoint it hangs below (0: none) */
static int
vm_row(struct hv_ctx *hv, const char *name, sqlite3_int64 *id,
       sqlite3_int64 *now, struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, "SELECT id, coalesce(checkpoint_id, 0) "
					 "FROM vms WHERE name = ?", err);
	int rc = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		*now = sqlite3_column_int64(st, 1);
	} else {
		rc = hv_fail(err, HV_ENOENT, "no VM named '%s'", name);
	}
	sqlite3_finalize(st);
	return rc;
}

static void
col_text(sqlite3_stmt *st, int i, char *out, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(out, len, "%s", s ? (const char *)s : "");
}

static int
load_disks(struct hv_ctx *hv, struct ck *k, struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, "SELECT path FROM checkpoint_disks "
					 "WHERE checkpoint_id = ? ORDER BY slot", err);

	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, k->id);
	while (sqlite3_step(st) == SQLITE_ROW && k->c.ndisks < HV_MAX_DISKS)
		col_text(st, 0, k->c.disks[k->c.ndisks++], HV_PATH_MAX);
	sqlite3_finalize(st);
	return 0;
}

/* all of VM vmid's checkpoints, oldest (so parents) first */
static int
load_all(struct hv_ctx *hv, sqlite3_int64 vmid, sqlite3_int64 now,
	 struct ck **out, size_t *n, struct hv_err *err)
{
	sqlite3_stmt *st;
	struct ck *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	st = store_prepare(hv, "SELECT c.id, coalesce(c.parent_id, 0), c.uuid, c.name, "
			   "c.created, c.saved, coalesce(p.uuid, '') FROM checkpoints c "
			   "LEFT JOIN checkpoints p ON p.id = c.parent_id "
			   "WHERE c.vm_id = ? ORDER BY c.id", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, vmid);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct ck *k;

		if ((v = store_grow(v, &cap, *n, sizeof *v)) == NULL) {
			sqlite3_finalize(st);
			*n = 0;
			return hv_fail(err, HV_EINTERNAL, "out of memory");
		}
		k = &v[(*n)++];
		memset(k, 0, sizeof *k);
		k->id = sqlite3_column_int64(st, 0);
		k->parent_id = sqlite3_column_int64(st, 1);
		col_text(st, 2, k->c.uuid, sizeof k->c.uuid);
		col_text(st, 3, k->c.name, sizeof k->c.name);
		k->c.created = sqlite3_column_int64(st, 4);
		k->c.saved = sqlite3_column_int(st, 5) != 0;
		col_text(st, 6, k->c.parent, sizeof k->c.parent);
		k->c.now = k->id == now;
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < *n; i++)
		if (load_disks(hv, &v[i], err) != 0) {
			free(v);
			return -1;
		}
	*out = v;
	return 0;
}

static struct ck *
find_ck(struct ck *v, size_t n, const char *vm, const char *key,
	struct hv_err *err)
{
	struct ck *hit = NULL;

	for (size_t i = 0; i < n; i++)
		if (strcasecmp(v[i].c.uuid, key) == 0)
			return &v[i];
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].c.name, key) != 0)
			continue;
		if (hit != NULL) {
			hv_fail(err, HV_EINVAL, "VM '%s' has more than one checkpoint named '%s'; "
				"give its UUID", vm, key);
			return NULL;
		}
		hit = &v[i];
	}
	if (hit == NULL)
		hv_fail(err, HV_ENOENT, "VM '%s' has no checkpoint named '%s'", vm, key);
	return hit;
}

/* 1 if `sql` (one ? for path) finds a row */
static int
path_in(struct hv_ctx *hv, const char *sql, const char *path)
{
	sqlite3_stmt *st = store_prepare(hv, sql, NULL);
	int found;

	if (st == NULL)
		return 1;	/* unknown: treat as in use, never delete */
	sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
	found = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* a child hv made and no checkpoint froze: the VM's own changes */
static bool
disposable(struct hv_ctx *hv, const char *path)
{
	return path_in(hv, "SELECT 1 FROM checkpoint_children WHERE path = ?", path) &&
	       !path_in(hv, "SELECT 1 FROM checkpoint_disks WHERE path = ?", path);
}

static int
exec_path(struct hv_ctx *hv, const char *sql, const char *path,
	  const char *arg2, struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, sql, err);
	int rc;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_TRANSIENT);
	if (arg2 != NULL)
		sqlite3_bind_text(st, 2, arg2, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(hv, err, "recording checkpoint disks");
	sqlite3_finalize(st);
	return rc;
}

/* forget images about to be deleted */
static int
forget_paths(struct hv_ctx *hv, char (*paths)[HV_PATH_MAX], int n,
	     struct hv_err *err)
{
	for (int i = 0; i < n; i++)
		if (exec_path(hv, "DELETE FROM checkpoint_children WHERE path = ?", paths[i], NULL, err) ||
		    exec_path(hv, "DELETE FROM disks WHERE path = ?", paths[i], NULL, err))
			return -1;
	return 0;
}

/* the VM's disks become paths[0..n), keeping each slot's storage QoS */
static int
set_vm_disks(struct hv_ctx *hv, sqlite3_int64 vmid, const struct hv_vm *vm,
	     char (*paths)[HV_PATH_MAX], int n, struct hv_err *err)
{
	sqlite3_stmt *st;
	char uuid[HV_UUID_LEN];
	int rc;

	st = store_prepare(hv, "UPDATE disks SET vm_id = NULL, slot = NULL WHERE vm_id = ?", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, vmid);
	sqlite3_step(st);
	sqlite3_finalize(st);
	for (int i = 0; i < n; i++) {
		const struct hv_disk_qos *q = &vm->disk_qos[i < vm->ndisks ? i : 0];

		hv_uuid_new(uuid);
		st = store_prepare(hv, "INSERT INTO disks (uuid, path, vm_id, slot, created, "
				   "max_iops, min_iops, max_bw) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
				   "ON CONFLICT(path) DO UPDATE SET vm_id = excluded.vm_id, "
				   "slot = excluded.slot", err);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, paths[i], -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, vmid);
		sqlite3_bind_int(st, 4, i);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
		sqlite3_bind_int64(st, 6, i < vm->ndisks ? q->max_iops : 0);
		sqlite3_bind_int64(st, 7, i < vm->ndisks ? q->min_iops : 0);
		sqlite3_bind_int64(st, 8, i < vm->ndisks ? (sqlite3_int64)q->max_bw : 0);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(hv, err, "attaching a disk");
		sqlite3_finalize(st);
		if (rc != 0)
			return -1;
	}
	return 0;
}

/* Now, and the VM's state: "Saved" or "Off" */
static int
set_now(struct hv_ctx *hv, sqlite3_int64 vmid, sqlite3_int64 ckid,
	const char *state, struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, "UPDATE vms SET checkpoint_id = ?, "
					 "state = coalesce(?2, state), "
					 "pid = CASE WHEN ?2 IS NULL THEN pid ELSE 0 END WHERE id = ?3", err);
	int rc;

	if (st == NULL)
		return -1;
	if (ckid > 0)
		sqlite3_bind_int64(st, 1, ckid);
	else
		sqlite3_bind_null(st, 1);
	if (state != NULL)
		sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, 2);
	sqlite3_bind_int64(st, 3, vmid);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(hv, err, "recording the VM's checkpoint");
	sqlite3_finalize(st);
	return rc;
}

/* --- files -------------------------------------------------------------- */

static int
ck_state_path(const struct hv_ctx *hv, const char *vm, const char *uuid,
	      char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/vms/%s/checkpoints/%s.hvs", hv->cfg.home, vm, uuid);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* the formats that have differencing children, and their children's names */
static const char *
child_ext(enum disk_format fmt)
{
	switch (fmt) {
	case DISK_FMT_VHDX: return ".avhdx";
	case DISK_FMT_VHD: return ".avhd";
	case DISK_FMT_QCOW2: return ".qcow2";
	default: return NULL;
	}
}

/* every image must take a differencing child */
static int
check_formats(char (*disks)[HV_PATH_MAX], int n, enum disk_format *fmts,
	      struct hv_err *err)
{
	for (int i = 0; i < n; i++) {
		fmts[i] = disk_probe(disks[i], err);
		if (fmts[i] == DISK_FMT_NONE)
			return -1;
		if (child_ext(fmts[i]) == NULL)
			return hv_fail(err, HV_ENOTSUP, "disk %s is %s: checkpoints need VHDX, VHD "
				       "or qcow2 disks (hv disk convert it first)", disks[i],
				       disk_format_name(fmts[i]));
	}
	return 0;
}

/* DIR/STEM-XXXXXXXX.EXT, STEM without an earlier child's suffix */
static int
child_name(const char *parent, enum disk_format fmt, char *out, size_t len)
{
	char stem[HV_PATH_MAX], uuid[HV_UUID_LEN], *dot, *dash, *slash;
	int n;

	snprintf(stem, sizeof stem, "%s", parent);
	slash = strrchr(stem, '/');
	dot = strrchr(stem, '.');
	if (dot != NULL && (slash == NULL || dot > slash))
		*dot = '\0';
	dash = strrchr(stem, '-');
	if (dash != NULL && (slash == NULL || dash > slash) && strlen(dash + 1) == 8 &&
	    strspn(dash + 1, "0123456789abcdef") == 8)
		*dash = '\0';
	hv_uuid_new(uuid);
	n = snprintf(out, len, "%s-%.8s%s", stem, uuid, child_ext(fmt));
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void
unlink_all(char (*paths)[HV_PATH_MAX], int n)
{
	for (int i = 0; i < n; i++)
		if (paths[i][0] != '\0')
			unlink(paths[i]);
}

/* a differencing child of each of parents[0..n) into children[];
   on failure none is left */
static int
make_children(struct hv_ctx *hv, const char *vm_uuid,
	      char (*parents)[HV_PATH_MAX], int n,
	      char (*children)[HV_PATH_MAX], struct hv_err *err)
{
	enum disk_format fmts[HV_MAX_DISKS];
	int i;

	memset(children, 0, (size_t)HV_MAX_DISKS * HV_PATH_MAX);
	if (check_formats(parents, n, fmts, err) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		struct disk_create_opts o = { .fmt = fmts[i], .parent = parents[i] };

		if (child_name(parents[i], fmts[i], children[i], HV_PATH_MAX) != 0) {
			hv_fail(err, HV_EINVAL, "disk %s: path too long for a child", parents[i]);
			goto fail;
		}
		if (disk_create(children[i], &o, err) != 0) {
			children[i][0] = '\0';
			goto fail;
		}
		if (exec_path(hv, "INSERT INTO checkpoint_children (path, vm_uuid) VALUES (?, ?)",
			      children[i], vm_uuid, err) != 0)
			goto fail;
	}
	return 0;
fail:
	unlink_all(children, n);
	return -1;
}

/* --- the API ------------------------------------------------------------ */

static int
need_stopped(const struct hv_vm *vm, const char *what, struct hv_err *err)
{
	if (strcmp(vm->state, "Off") == 0 || strcmp(vm->state, "Saved") == 0)
		return 0;
	return hv_fail(err, HV_EBUSY, "VM '%s' is %s; %s needs it Off or Saved "
		       "(hv vm save %s, or hv vm stop %s)", vm->name, vm->state, what,
		       vm->name, vm->name);
}

static int
check_name(const char *name, struct hv_err *err)
{
	size_t len = strlen(name);

	if (len == 0 || len >= HV_CHECKPOINT_NAME_MAX)
		return hv_fail(err, HV_EUSAGE, "checkpoint name: 1..%d bytes", HV_CHECKPOINT_NAME_MAX - 1);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return hv_fail(err, HV_EUSAGE, "checkpoint name: no control characters");
	return 0;
}

static int
create_stopped(struct hv_ctx *hv, const char *vmname, const char *name,
	       struct hv_checkpoint *out, struct hv_err *err)
{
	char children[HV_MAX_DISKS][HV_PATH_MAX], state[CK_PATH], copy[CK_PATH];
	struct hv_checkpoint c;
	struct hv_vm vm;
	sqlite3_int64 vmid, now, ckid;
	sqlite3_stmt *st;
	struct ck *all = NULL;
	size_t n = 0;

	if (hv_vm_get(hv, vmname, &vm, err) != 0 || need_stopped(&vm, "a checkpoint", err) != 0)
		return -1;
	memset(&c, 0, sizeof c);
	if (name != NULL && name[0] != '\0') {
		snprintf(c.name, sizeof c.name, "%s", name);
	} else {
		time_t t = time(NULL);
		struct tm tm;
		char when[32];

		localtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(c.name, sizeof c.name, "%s - %s", vm.name, when);
	}
	if (check_name(c.name, err) != 0)
		return -1;
	hv_uuid_new(c.uuid);
	c.created = (int64_t)time(NULL);
	c.saved = strcmp(vm.state, "Saved") == 0;
	c.now = true;
	c.ndisks = vm.ndisks;
	memcpy(c.disks, vm.disks, sizeof c.disks);
	copy[0] = '\0';
	if (c.saved && (vmm_state_path(hv->cfg.home, vm.name, state, sizeof state) != 0 ||
			ck_state_path(hv, vm.name, c.uuid, copy, sizeof copy) != 0))
		return hv_fail(err, HV_EINVAL, "VM '%s': state path too long", vm.name);

	if (store_begin(hv, err) != 0)
		return -1;
	memset(children, 0, sizeof children);
	if (vm_row(hv, vm.name, &vmid, &now, err) != 0 ||
	    load_all(hv, vmid, now, &all, &n, err) != 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(all[i].c.name, c.name) == 0) {
			hv_fail(err, HV_EEXIST, "VM '%s' already has a checkpoint named '%s'",
				vm.name, c.name);
			goto fail;
		}
		if (all[i].id == now)
			snprintf(c.parent, sizeof c.parent, "%s", all[i].c.uuid);
	}
	if (make_children(hv, vm.uuid, vm.disks, vm.ndisks, children, err) != 0)
		goto fail;
	st = store_prepare(hv, "INSERT INTO checkpoints (uuid, vm_id, parent_id, name, created, saved) "
			   "VALUES (?, ?, ?, ?, ?, ?)", err);
	if (st == NULL)
		goto fail_files;
	sqlite3_bind_text(st, 1, c.uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, vmid);
	if (now > 0)
		sqlite3_bind_int64(st, 3, now);
	else
		sqlite3_bind_null(st, 3);
	sqlite3_bind_text(st, 4, c.name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 5, c.created);
	sqlite3_bind_int(st, 6, c.saved);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(hv, err, "recording the checkpoint");
		sqlite3_finalize(st);
		goto fail_files;
	}
	sqlite3_finalize(st);
	ckid = sqlite3_last_insert_rowid(hv->db);
	for (int i = 0; i < vm.ndisks; i++) {
		char slot[16];

		snprintf(slot, sizeof slot, "%d", i);
		st = store_prepare(hv, "INSERT INTO checkpoint_disks (checkpoint_id, slot, path) "
				   "VALUES (?, ?, ?)", err);
		if (st == NULL)
			goto fail_files;
		sqlite3_bind_int64(st, 1, ckid);
		sqlite3_bind_int(st, 2, i);
		sqlite3_bind_text(st, 3, vm.disks[i], -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE) {
			store_fail(hv, err, "recording the checkpoint's disks");
			sqlite3_finalize(st);
			goto fail_files;
		}
		sqlite3_finalize(st);
	}
	if (set_vm_disks(hv, vmid, &vm, children, vm.ndisks, err) != 0 ||
	    set_now(hv, vmid, ckid, NULL, err) != 0)
		goto fail_files;
	if (c.saved && file_copy(state, copy, err) != 0)
		goto fail_files;
	hv_event_add(hv, vm.name, "checkpoint '%s' created%s", c.name,
		     c.saved ? " (with the saved state)" : "");
	if (store_commit(hv, err) != 0)
		goto fail_copy;
	free(all);
	if (out != NULL)
		*out = c;
	return 0;
fail_copy:
	if (copy[0] != '\0')
		unlink(copy);
fail_files:
	unlink_all(children, vm.ndisks);
fail:
	store_rollback(hv);
	free(all);
	return -1;
}

int
hv_checkpoint_list(struct hv_ctx *hv, const char *vmname,
		   struct hv_checkpoint **out, size_t *n, struct hv_err *err)
{
	sqlite3_int64 vmid, now;
	struct hv_vm vm;
	struct ck *all;

	*out = NULL;
	*n = 0;
	if (hv_vm_get(hv, vmname, &vm, err) != 0 ||
	    vm_row(hv, vm.name, &vmid, &now, err) != 0 ||
	    load_all(hv, vmid, now, &all, n, err) != 0)
		return -1;
	if (*n == 0) {
		free(all);
		return 0;
	}
	*out = malloc(*n * sizeof **out);
	if (*out == NULL) {
		free(all);
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	}
	for (size_t i = 0; i < *n; i++)
		(*out)[i] = all[i].c;
	free(all);
	return 0;
}

int
hv_checkpoint_apply(struct hv_ctx *hv, const char *vmname, const char *key,
		    struct hv_err *err)
{
	char children[HV_MAX_DISKS][HV_PATH_MAX], drop[HV_MAX_DISKS][HV_PATH_MAX];
	char state[CK_PATH], tmp[CK_PATH + 8], copy[CK_PATH];
	sqlite3_int64 vmid, now;
	struct hv_vm vm;
	struct ck *all = NULL, *k;
	size_t n = 0;
	int ndrop = 0;

	if (hv_vm_get(hv, vmname, &vm, err) != 0 || need_stopped(&vm, "applying a checkpoint", err) != 0)
		return -1;
	if (vmm_state_path(hv->cfg.home, vm.name, state, sizeof state) != 0)
		return hv_fail(err, HV_EINVAL, "VM '%s': state path too long", vm.name);
	snprintf(tmp, sizeof tmp, "%s.ck", state);
	memset(children, 0, sizeof children);
	if (store_begin(hv, err) != 0)
		return -1;
	if (vm_row(hv, vm.name, &vmid, &now, err) != 0 ||
	    load_all(hv, vmid, now, &all, &n, err) != 0 ||
	    (k = find_ck(all, n, vm.name, key, err)) == NULL)
		goto fail;
	if (k->c.saved && (ck_state_path(hv, vm.name, k->c.uuid, copy, sizeof copy) != 0 ||
			   access(copy, R_OK) != 0)) {
		hv_fail(err, HV_EIO, "checkpoint '%s': its saved state %s is gone", k->c.name, copy);
		goto fail;
	}
	/* what the VM wrote since: children no checkpoint froze */
	for (int i = 0; i < vm.ndisks; i++)
		if (disposable(hv, vm.disks[i]))
			snprintf(drop[ndrop++], HV_PATH_MAX, "%s", vm.disks[i]);
	if (make_children(hv, vm.uuid, k->c.disks, k->c.ndisks, children, err) != 0)
		goto fail;
	if (set_vm_disks(hv, vmid, &vm, children, k->c.ndisks, err) != 0 ||
	    forget_paths(hv, drop, ndrop, err) != 0 ||
	    set_now(hv, vmid, k->id, k->c.saved ? "Saved" : "Off", err) != 0)
		goto fail_files;
	if (k->c.saved && file_copy(copy, tmp, err) != 0)
		goto fail_files;
	hv_event_add(hv, vm.name, "checkpoint '%s' applied", k->c.name);
	if (store_commit(hv, err) != 0) {
		unlink(tmp);
		goto fail_files;
	}
	if (k->c.saved)
		rename(tmp, state);
	else
		unlink(state);
	unlink_all(drop, ndrop);
	free(all);
	return 0;
fail_files:
	unlink_all(children, k->c.ndisks);
fail:
	store_rollback(hv);
	free(all);
	return -1;
}

/* Now hangs below k and nothing else does: merge the VM's children into
   the images k froze, and the VM writes to those again */
static int
merge_now(struct hv_ctx *hv, const struct hv_vm *vm, sqlite3_int64 vmid,
	  const struct ck *k, char (*drop)[HV_PATH_MAX], int *ndrop,
	  struct hv_err *err)
{
	char frozen[HV_MAX_DISKS][HV_PATH_MAX];
	bool online = strcmp(vm->state, "Running") == 0 || strcmp(vm->state, "Paused") == 0;

	if (!online && need_stopped(vm, "deleting the checkpoint it runs on", err) != 0)
		return -1;
	if (k->c.ndisks != vm->ndisks)
		return hv_fail(err, HV_ENOTSUP, "VM '%s' has %d disks, checkpoint '%s' froze %d: "
			       "apply it or change the disks back first", vm->name, vm->ndisks,
			       k->c.name, k->c.ndisks);
	for (int i = 0; i < vm->ndisks; i++)
		if (!disposable(hv, vm->disks[i]))
			return hv_fail(err, HV_ENOTSUP, "disk %s of VM '%s' is not a checkpoint's "
				       "child; not merging it", vm->disks[i], vm->name);
	for (int i = 0; i < vm->ndisks; i++) {
		/* online: the worker merges while the guest runs on, then
		   writes to the frozen image itself */
		if (online) {
			cJSON *j = cJSON_CreateObject();
			char *req;
			int rc;

			cJSON_AddStringToObject(j, "cmd", "merge");
			cJSON_AddNumberToObject(j, "disk", i);
			cJSON_AddStringToObject(j, "parent", k->c.disks[i]);
			req = cJSON_PrintUnformatted(j);
			cJSON_Delete(j);
			if (req == NULL)
				return hv_fail(err, HV_EINTERNAL, "out of memory");
			rc = lifecycle_job(hv, vm->name, req, NULL, NULL, NULL, err);
			free(req);
			if (rc != 0)
				return -1;
		} else if (disk_merge(vm->disks[i], NULL, NULL, err) != 0) {
			return -1;
		}
		snprintf(drop[(*ndrop)++], HV_PATH_MAX, "%s", vm->disks[i]);
	}
	memcpy(frozen, k->c.disks, sizeof frozen);
	return set_vm_disks(hv, vmid, vm, frozen, k->c.ndisks, err);
}

int
hv_checkpoint_delete(struct hv_ctx *hv, const char *vmname, const char *key,
		     struct hv_err *err)
{
	char drop[HV_MAX_DISKS][HV_PATH_MAX], copy[CK_PATH], name[HV_CHECKPOINT_NAME_MAX];
	sqlite3_int64 vmid, now;
	sqlite3_stmt *st;
	struct hv_vm vm;
	struct ck *all = NULL, *k;
	size_t n = 0;
	int ndrop = 0;

	if (hv_vm_get(hv, vmname, &vm, err) != 0)
		return -1;
	if (store_begin(hv, err) != 0)
		return -1;
	if (vm_row(hv, vm.name, &vmid, &now, err) != 0 ||
	    load_all(hv, vmid, now, &all, &n, err) != 0 ||
	    (k = find_ck(all, n, vm.name, key, err)) == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++)
		if (all[i].parent_id == k->id) {
			hv_fail(err, HV_EBUSY, "checkpoint '%s' has checkpoint '%s' below it; "
				"delete that first", k->c.name, all[i].c.name);
			goto fail;
		}
	if (k->id == now) {
		if (merge_now(hv, &vm, vmid, k, drop, &ndrop, err) != 0 ||
		    set_now(hv, vmid, k->parent_id, NULL, err) != 0)
			goto fail;
	} else {
		/* a leaf Now does not hang below: nothing reads its images */
		for (int i = 0; i < k->c.ndisks; i++) {
			bool other = false;

			for (size_t j = 0; j < n; j++)
				for (int d = 0; &all[j] != k && d < all[j].c.ndisks; d++)
					other |= strcmp(all[j].c.disks[d], k->c.disks[i]) == 0;
			for (int d = 0; d < vm.ndisks; d++)
				other |= strcmp(vm.disks[d], k->c.disks[i]) == 0;
			if (!other && path_in(hv, "SELECT 1 FROM checkpoint_children WHERE path = ?",
					      k->c.disks[i]))
				snprintf(drop[ndrop++], HV_PATH_MAX, "%s", k->c.disks[i]);
		}
	}
	st = store_prepare(hv, "DELETE FROM checkpoints WHERE id = ?", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, k->id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(hv, err, "deleting the checkpoint");
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	if (forget_paths(hv, drop, ndrop, err) != 0)
		goto fail;
	snprintf(name, sizeof name, "%s", k->c.name);
	hv_event_add(hv, vm.name, "checkpoint '%s' deleted", name);
	if (store_commit(hv, err) != 0)
		goto fail;
	unlink_all(drop, ndrop);
	if (k->c.saved && ck_state_path(hv, vm.name, k->c.uuid, copy, sizeof copy) == 0)
		unlink(copy);
	free(all);
	return 0;
fail:
	store_rollback(hv);
	free(all);
	return -1;
}

/*
 * A running VM is saved, checkpointed with its memory and started again
 * from that state (a pause of a second or so, not a reboot); a paused one
 * comes back running.
 */
int
hv_checkpoint_create(struct hv_ctx *hv, const char *vmname, const char *name,
		     struct hv_checkpoint *out, struct hv_err *err)
{
	struct hv_err e2;
	struct hv_vm vm;
	int rc;

	if (hv_vm_get(hv, vmname, &vm, err) != 0)
		return -1;
	if (strcmp(vm.state, "Running") != 0 && strcmp(vm.state, "Paused") != 0)
		return create_stopped(hv, vm.name, name, out, err);
	if (hv_vm_save(hv, vm.name, err) != 0)
		return -1;
	rc = create_stopped(hv, vm.name, name, out, err);
	/* with or without the checkpoint, the VM goes on from its state */
	if (hv_vm_start(hv, vm.name, &e2) != 0 && rc == 0)
		return hv_fail(err, e2.code, "checkpoint made, but %s", e2.msg);
	return rc;
}
