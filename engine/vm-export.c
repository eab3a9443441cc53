/*
 * vm-export.c - a whole VM exported into a folder (Hyper-V's Export-VM):
 *
 *	DIR/NAME/NAME.hvvm	its definition, the disks pointing at the copies
 *				(disks/FILE: relative to the definition)
 *	DIR/NAME/disks/FILE	a copy of each disk (a differencing chain
 *				flattened, VMDK as qcow2)
 *	DIR/NAME/state.hvs	its memory: a Saved VM's state, or with
 *				--memory a running VM's
 *
 * An Off or Saved VM is copied here with disk_convert. A running one is
 * copied by its own worker (engine/vm/state/live-export.c), which reads
 * the disks through the VM's handles while the guest writes on and stops
 * it only for the last blocks and the state, so both are of one instant;
 * it runs on in the same worker. hv vm import NAME.hvvm registers the copy,
 * Saved when state.hvs lies beside it. On any failure DIR/NAME goes:
 * nothing half-written is left.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
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

#define EXPORT_PATH	(HV_PATH_MAX + 256)

struct plan {
	const struct hv_vm *vm;
	char dir[HV_PATH_MAX];			/* DIR/NAME */
	char disks[HV_MAX_DISKS][HV_PATH_MAX];	/* the copies */
	enum disk_format fmt[HV_MAX_DISKS];
	uint64_t size[HV_MAX_DISKS];
	char state[EXPORT_PATH];
	/* progress over all the disks */
	const struct hv_export_opts *o;
	uint64_t base, total;
};

static uint64_t
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/*
 * disks/<the disk's file name>: a VMDK becomes .qcow2, a flattened
 * .avhdx/.avhd a .vhdx/.vhd; a name an earlier disk took gets -SLOT.
 */
static int
copy_name(struct plan *p, int i, bool vmdk, struct hv_err *err)
{
	char path[HV_PATH_MAX], base[HV_PATH_MAX], *dot;
	const char *ext;
	int n;

	snprintf(path, sizeof path, "%s", p->vm->disks[i]);
	snprintf(base, sizeof base, "%s", basename(path));
	dot = strrchr(base, '.');
	ext = dot != NULL && dot != base ? dot + 1 : "";
	if (vmdk)
		ext = "qcow2";
	else if (strcasecmp(ext, "avhdx") == 0)
		ext = "vhdx";
	else if (strcasecmp(ext, "avhd") == 0)
		ext = "vhd";
	if (dot != NULL && dot != base)
		*dot = '\0';
	n = snprintf(p->disks[i], sizeof p->disks[i], "%s/disks/%s%s%s", p->dir, base,
		     ext[0] ? "." : "", ext);
	for (int k = 0; k < i && n < (int)sizeof p->disks[i]; k++)
		if (strcmp(p->disks[k], p->disks[i]) == 0) {
			n = snprintf(p->disks[i], sizeof p->disks[i], "%s/disks/%s-%d%s%s", p->dir,
				     base, i, ext[0] ? "." : "", ext);
			break;
		}
	if (n < 0 || n >= (int)sizeof p->disks[i])
		return hv_fail(err, HV_EINVAL, "%s: path too long", p->dir);
	return 0;
}

/* what each disk becomes: its copy's path and format */
static int
plan_disks(struct plan *p, struct hv_err *err)
{
	for (int i = 0; i < p->vm->ndisks; i++) {
		enum disk_format f = disk_probe(p->vm->disks[i], err);

		if (f == DISK_FMT_NONE)
			return -1;
		/* written as what qemu-img and hv read best */
		p->fmt[i] = f == DISK_FMT_VMDK ? DISK_FMT_QCOW2 : f;
		if (copy_name(p, i, f == DISK_FMT_VMDK, err) != 0)
			return -1;
	}
	return 0;
}

/* DIR/NAME was made here: its files, disks/ and itself go */
static void
remove_export(const char *dir)
{
	char sub[EXPORT_PATH], path[EXPORT_PATH + 256];
	const char *where[] = { sub, dir };
	struct dirent *e;
	DIR *d;

	snprintf(sub, sizeof sub, "%s/disks", dir);
	for (int k = 0; k < 2; k++) {
		if ((d = opendir(where[k])) == NULL)
			continue;
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
			    (k == 1 && strcmp(e->d_name, "disks") == 0))
				continue;
			snprintf(path, sizeof path, "%s/%s", where[k], e->d_name);
			unlink(path);
		}
		closedir(d);
		rmdir(where[k]);
	}
}

/* DIR itself: made when the argument ends in '/'; DIR/NAME must be new */
static int
make_dir(struct plan *p, const char *dir, struct hv_err *err)
{
	char abs[HV_PATH_MAX], sub[EXPORT_PATH];
	size_t len = strlen(dir);
	struct stat st;

	if (len > 0 && dir[len - 1] == '/' && mkdir(dir, 0755) != 0 && errno != EEXIST)
		return hv_fail(err, HV_EIO, "%s: %s", dir, strerror(errno));
	if (realpath(dir, abs) == NULL)
		return hv_fail(err, HV_ENOENT, "%s: %s", dir, strerror(errno));
	if (stat(abs, &st) != 0 || !S_ISDIR(st.st_mode))
		return hv_fail(err, HV_EINVAL, "%s: not a directory", dir);
	if (snprintf(p->dir, sizeof p->dir, "%s/%s", abs, p->vm->name) >= (int)sizeof p->dir)
		return hv_fail(err, HV_EINVAL, "%s: path too long", dir);
	if (lstat(p->dir, &st) == 0)
		return hv_fail(err, HV_EEXIST, "%s already exists; not overwriting it", p->dir);
	/* 0700: the copies hold the guest's disks and memory */
	if (mkdir(p->dir, 0700) != 0)
		return hv_fail(err, HV_EIO, "%s: %s", p->dir, strerror(errno));
	snprintf(sub, sizeof sub, "%s/disks", p->dir);
	if (mkdir(sub, 0700) != 0) {
		hv_fail(err, HV_EIO, "%s: %s", sub, strerror(errno));
		rmdir(p->dir);
		return -1;
	}
	return 0;
}

/* --- an Off or Saved VM: the files, here ---------------------------------- */

static void
offline_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct plan *p = ctx;

	(void)total;
	p->o->progress(p->o->ctx, p->base + done, p->total);
}

static int
copy_offline(struct hv_ctx *hv, struct plan *p, bool saved, struct hv_err *err)
{
	struct disk_convert_opts co = { .fixed = -1, .progress_ctx = p };
	char state[EXPORT_PATH];

	for (int i = 0; i < p->vm->ndisks; i++) {
		struct disk *d;

		if (disk_open(&d, p->vm->disks[i], DISK_RDONLY, err) != 0)
			return -1;
		p->size[i] = disk_size(d);
		p->total += p->size[i];
		disk_close(d);
	}
	co.progress = p->o->progress ? offline_progress : NULL;
	for (int i = 0; i < p->vm->ndisks; i++) {
		co.fmt = p->fmt[i];
		if (disk_convert(p->vm->disks[i], p->disks[i], &co, err) != 0)
			return -1;
		p->base += p->size[i];
	}
	if (!saved)
		return 0;
	if (vmm_state_path(hv_config(hv)->home, p->vm->name, state, sizeof state) != 0)
		return hv_fail(err, HV_EINVAL, "state file path too long");
	return file_copy(state, p->state, err);
}

/* --- a running VM: its worker copies while it runs -------------------------- */

static uint64_t
num(const cJSON *j, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(j, name);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static int
copy_live(struct hv_ctx *hv, struct plan *p, bool memory, struct hv_export_result *r,
	  struct hv_err *err)
{
	cJSON *req = cJSON_CreateObject(), *l = cJSON_AddArrayToObject(req, "disks"), *reply = NULL;
	char *text;
	int rc;

	cJSON_AddStringToObject(req, "cmd", "export");
	cJSON_AddStringToObject(req, "dir", p->dir);
	for (int i = 0; i < p->vm->ndisks; i++) {
		cJSON *d = cJSON_CreateObject();

		cJSON_AddStringToObject(d, "path", p->disks[i]);
		cJSON_AddStringToObject(d, "format", disk_format_name(p->fmt[i]));
		cJSON_AddItemToArray(l, d);
	}
	if (memory)
		cJSON_AddStringToObject(req, "state", p->state);
	text = cJSON_PrintUnformatted(req);
	cJSON_Delete(req);
	if (text == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	rc = lifecycle_job(hv, p->vm->name, text, p->o->progress, p->o->ctx, &reply, err);
	free(text);
	if (rc != 0) {
		struct hv_vm now;
		struct hv_err e2;

		/* its worker ended it: say why rather than how */
		if (hv_vm_get(hv, p->vm->name, &now, &e2) == 0 &&
		    strcmp(now.state, "Running") != 0 && strcmp(now.state, "Paused") != 0)
			hv_fail(err, HV_EIO, "VM '%s' stopped during the export (%s)",
				p->vm->name, now.state);
		return -1;
	}
	r->rounds = (int)num(reply, "rounds");
	r->pause_us = num(reply, "pause_us");
	cJSON_Delete(reply);
	return 0;
}

/* the copies' bytes on the host */
static uint64_t
allocated(const struct plan *p)
{
	uint64_t n = 0;
	struct stat st;

	for (int i = 0; i < p->vm->ndisks; i++)
		if (stat(p->disks[i], &st) == 0)
			n += (uint64_t)st.st_blocks * 512;
	return n;
}

int
hv_vm_export_dir(struct hv_ctx *hv, const char *name, const char *dir,
		 const struct hv_export_opts *o, struct hv_export_result *r, struct hv_err *err)
{
	struct plan *p = calloc(1, sizeof *p);
	struct hv_vm vm, *def = malloc(sizeof *def), now;
	char file[EXPORT_PATH];
	uint64_t t0 = now_ms();
	bool saved, off;
	struct stat st;
	int rc = -1;

	memset(r, 0, sizeof *r);
	if (p == NULL || def == NULL) {
		hv_fail(err, HV_EINTERNAL, "out of memory");
		goto out_free;
	}
	if (hv_vm_get(hv, name, &vm, err) != 0)
		goto out_free;
	off = strcmp(vm.state, "Off") == 0;
	saved = strcmp(vm.state, "Saved") == 0;
	r->live = strcmp(vm.state, "Running") == 0 || strcmp(vm.state, "Paused") == 0;
	if (!off && !saved && !r->live) {
		hv_fail(err, HV_EBUSY, "VM '%s' is %s: it exports when Off, Saved or running",
			vm.name, vm.state);
		goto out_free;
	}
	if (o->memory && off) {
		hv_fail(err, HV_EINVAL, "VM '%s' is Off: it has no memory to export "
			"(--memory is for a running VM)", vm.name);
		goto out_free;
	}
	p->vm = &vm;
	p->o = o;
	if (make_dir(p, dir, err) != 0)
		goto out_free;
	snprintf(r->path, sizeof r->path, "%s", p->dir);
	snprintf(p->state, sizeof p->state, "%s/state.hvs", p->dir);
	if (plan_disks(p, err) != 0)
		goto out;
	if (r->live ? copy_live(hv, p, o->memory, r, err) : copy_offline(hv, p, saved, err))
		goto out;
	/* started while its files were read: the copy may be torn */
	if (!r->live) {
		if (hv_vm_get(hv, vm.name, &now, err) != 0)
			goto out;
		if (strcmp(now.state, vm.state) != 0) {
			hv_fail(err, HV_EBUSY, "VM '%s' went from %s to %s during the export",
				vm.name, vm.state, now.state);
			goto out;
		}
	}
	*def = vm;
	/* disks/FILE, relative: the folder can move, and import finds them */
	for (int i = 0; i < vm.ndisks; i++)
		snprintf(def->disks[i], sizeof def->disks[i], "%s", p->disks[i] + strlen(p->dir) + 1);
	if (snprintf(file, sizeof file, "%s/%s.hvvm", p->dir, vm.name) >= (int)sizeof file) {
		hv_fail(err, HV_EINVAL, "%s: path too long", p->dir);
		goto out;
	}
	if (vm_file_write(def, file, err) != 0)
		goto out;
	r->state = stat(p->state, &st) == 0;
	r->state_bytes = r->state ? (uint64_t)st.st_size : 0;
	r->disk_bytes = allocated(p);
	r->total_ms = now_ms() - t0;
	hv_event_add(hv, vm.name, "exported%s to %s%s", r->live ? " while running" : "", p->dir,
		     r->state ? " with its memory" : "");
	rc = 0;
out:
	if (rc != 0)
		remove_export(p->dir);
out_free:
	free(p);
	free(def);
	return rc;
}
