/*
 * cmd-vm-dvd.c - `hv vm dvd add|set|remove|list`: a VM's DVD drives, on
 * its SCSI controller, and the ISO images in them.
 *
 * One verb of the vm noun whose first word says what to do (as `vm nic`):
 * one options table, each sub-command takes the ones that apply to it
 * (dvd_allowed) and refuses the rest. Drives come and go while the VM is
 * off; media change also while it runs.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shell/shell.h"

const struct cmd_opt cmd_vm_dvd_opts[] = {
	{ "iso", OPT_PATH, "PATH", "add, set: the ISO image the drive holds (add without it: an empty drive)" },
	{ "eject", OPT_FLAG, NULL, "set: take the medium out; the drive stays, empty" },
	{ "json", OPT_FLAG, NULL, "add, set, list: print the drives as JSON (an empty drive's iso is null)" },
	{ NULL, 0, NULL, NULL },
};

/* --- output ---------------------------------------------------------------- */

cJSON *
cmd_dvd_json(const struct hv_vm *vm, int slot)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "slot", slot);
	if (vm->dvds[slot][0] != '\0')
		cJSON_AddStringToObject(o, "iso", vm->dvds[slot]);
	else
		cJSON_AddNullToObject(o, "iso");
	return o;
}

void
cmd_dvd_print(FILE *f, const struct hv_vm *vm)
{
	if (vm->ndvds == 0)
		fprintf(f, "%-16s (none)\n", "DVD drives:");
	for (int i = 0; i < vm->ndvds; i++)
		fprintf(f, "%-16s %d: %s\n", i == 0 ? "DVD drives:" : "", i,
			vm->dvds[i][0] ? vm->dvds[i] : "(empty)");
}

/* --- arguments ------------------------------------------------------------- */

/* the options sub-command `sub` takes */
static bool
dvd_allowed(const char *sub, const char *opt)
{
	if (strcmp(sub, "list") == 0)
		return strcmp(opt, "json") == 0;
	if (strcmp(sub, "remove") == 0)
		return false;
	if (strcmp(sub, "add") == 0)
		return strcmp(opt, "iso") == 0 || strcmp(opt, "json") == 0;
	return true;
}

static int
slot_arg(struct cmd_ctx *ctx, const char *s, int *slot)
{
	return cmd_slot(ctx, s, HV_MAX_DVDS, "vm dvd", "drive", slot);
}

/* --iso PATH or --eject, exactly one; -1 after printing an error */
static int
set_media(struct cmd_ctx *ctx, const struct cmd_args *a, const char **iso)
{
	*iso = cmd_str(a, "iso");
	if (*iso != NULL && cmd_flag(a, "eject"))
		return cmd_usage_error(ctx, "vm dvd set: --iso and --eject contradict each other (give one)"), -1;
	if (*iso == NULL && !cmd_flag(a, "eject"))
		return cmd_usage_error(ctx, "vm dvd set: say what to do: --iso PATH inserts an ISO, "
				       "--eject takes the medium out"), -1;
	if (*iso != NULL && (*iso)[0] == '\0')
		return cmd_usage_error(ctx, "vm dvd set: --iso needs a path (--eject empties the drive)"), -1;
	return 0;
}

/* --- sub-commands ------------------------------------------------------- */

static enum cmd_ret
dvd_list(struct cmd_ctx *ctx, const struct hv_vm *vm, bool json)
{
	if (json) {
		cJSON *l = cJSON_CreateArray();

		for (int i = 0; i < vm->ndvds; i++)
			cJSON_AddItemToArray(l, cmd_dvd_json(vm, i));
		cmd_print_json(ctx, l);
		return CMD_OK;
	}
	fprintf(ctx->out, "%-4s  %s\n", "SLOT", "MEDIA");
	for (int i = 0; i < vm->ndvds; i++)
		fprintf(ctx->out, "%-4d  %s\n", i, vm->dvds[i][0] ? vm->dvds[i] : "(empty)");
	return CMD_OK;
}

/* after add (added) and set: drive `slot` as it is now, in words or JSON */
static enum cmd_ret
dvd_done(struct cmd_ctx *ctx, struct hv_ctx *hv, const struct cmd_args *a, int slot,
	 bool added)
{
	struct hv_vm *vm = malloc(sizeof *vm);
	struct hv_err err;
	enum cmd_ret rc = CMD_OK;
	const char *iso;

	if (vm == NULL)
		return CMD_FAIL;
	if (hv_vm_get(hv, a->pos[1], vm, &err) != 0) {
		rc = cmd_error(ctx, &err);
		goto out;
	}
	if (slot >= vm->ndvds) {	/* removed meanwhile */
		rc = dvd_list(ctx, vm, cmd_flag(a, "json"));
		goto out;
	}
	iso = vm->dvds[slot];
	if (cmd_flag(a, "json"))
		cmd_print_json(ctx, cmd_dvd_json(vm, slot));
	else if (added)
		fprintf(ctx->out, "added DVD drive %d to VM %s (%s%s)\n", slot, vm->name,
			iso[0] ? "ISO " : "empty", iso);
	else
		fprintf(ctx->out, "DVD drive %d of VM %s: %s%s\n", slot, vm->name,
			iso[0] ? "inserted " : "ejected", iso);
out:
	free(vm);
	return rc;
}

static enum cmd_ret
dvd_add(struct cmd_ctx *ctx, struct hv_ctx *hv, const struct cmd_args *a, const char *iso)
{
	struct hv_err err;
	int slot;

	if (hv_vm_dvd_add(hv, a->pos[1], iso, &slot, &err) != 0)
		return cmd_error(ctx, &err);
	return dvd_done(ctx, hv, a, slot, true);
}

static enum cmd_ret
dvd_set(struct cmd_ctx *ctx, struct hv_ctx *hv, const struct cmd_args *a, int slot,
	const char *iso)
{
	struct hv_err err;

	if (hv_vm_dvd_set(hv, a->pos[1], slot, iso, &err) != 0)
		return cmd_error(ctx, &err);
	return dvd_done(ctx, hv, a, slot, false);
}

static enum cmd_ret
dvd_remove(struct cmd_ctx *ctx, struct hv_ctx *hv, const struct cmd_args *a, int slot)
{
	struct hv_err err;

	if (hv_vm_dvd_remove(hv, a->pos[1], slot, &err) != 0)
		return cmd_error(ctx, &err);
	fprintf(ctx->out, "removed DVD drive %d from VM %s\n", slot, a->pos[1]);
	return CMD_OK;
}

/* `list`: the VM's drives */
static enum cmd_ret
dvd_list_vm(struct cmd_ctx *ctx, struct hv_ctx *hv, const struct cmd_args *a)
{
	struct hv_vm *vm = malloc(sizeof *vm);
	struct hv_err err;
	enum cmd_ret rc;

	if (vm == NULL)
		return CMD_FAIL;
	if (hv_vm_get(hv, a->pos[1], vm, &err) != 0)
		rc = cmd_error(ctx, &err);
	else
		rc = dvd_list(ctx, vm, cmd_flag(a, "json"));
	free(vm);
	return rc;
}

/* the words and options of sub-command a->pos[0], checked before the
   inventory is opened; -1 after printing an error */
static int
dvd_args(struct cmd_ctx *ctx, const struct cmd_args *a, int *slot, const char **iso)
{
	static const char *const subs[] = { "add", "set", "remove", "list" };
	const char *sub = a->pos[0];
	int want = 0;

	for (int i = 0; i < 4; i++)
		if (strcmp(sub, subs[i]) == 0)
			want = i == 1 || i == 2 ? 3 : 2;
	if (want == 0)
		return cmd_usage_error(ctx, "vm dvd: '%s': use add, set, remove or list (see hv vm dvd --help)",
				       sub), -1;
	if (a->npos != want)
		return cmd_usage_error(ctx, "vm dvd %s: usage: hv vm dvd %s VM%s", sub, sub,
				       strcmp(sub, "set") == 0 ? " SLOT --iso PATH|--eject" :
				       strcmp(sub, "add") == 0 ? " [--iso PATH]" :
				       want == 3 ? " SLOT" : ""), -1;
	for (int i = 0; i < a->nset; i++)
		if (!dvd_allowed(sub, a->set[i].opt->name))
			return cmd_usage_error(ctx, "vm dvd %s: --%s does not apply (see hv vm dvd --help)",
					       sub, a->set[i].opt->name), -1;
	if (want == 3 && slot_arg(ctx, a->pos[2], slot) != 0)
		return -1;
	if (strcmp(sub, "set") == 0)
		return set_media(ctx, a, iso);
	*iso = cmd_str(a, "iso");
	if (*iso != NULL && (*iso)[0] == '\0')
		return cmd_usage_error(ctx, "vm dvd add: --iso needs a path (without --iso the drive is empty)"),
		       -1;
	return 0;
}

enum cmd_ret
cmd_vm_dvd(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	const char *sub = a->pos[0], *iso = NULL;
	struct hv_ctx *hv;
	int slot = 0;

	if (dvd_args(ctx, a, &slot, &iso) != 0)
		return CMD_USAGE;
	if ((hv = cmd_hv(ctx)) == NULL)
		return CMD_FAIL;
	if (strcmp(sub, "add") == 0)
		return dvd_add(ctx, hv, a, iso);
	if (strcmp(sub, "set") == 0)
		return dvd_set(ctx, hv, a, slot, iso);
	if (strcmp(sub, "remove") == 0)
		return dvd_remove(ctx, hv, a, slot);
	return dvd_list_vm(ctx, hv, a);
}
