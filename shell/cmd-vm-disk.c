/*
 * cmd-vm-disk.c - `hv vm disk set|list`: a VM's virtual disks' storage
 * QoS, as Hyper-V has it: maximum and minimum IOPS in normalized IOs of
 * 8 KiB, and (hv's own) a maximum bandwidth in bytes/s.
 *
 * One verb of the vm noun whose first word says what to do (as `vm nic`);
 * a disk is named by its slot or its path. Disks are attached and detached
 * with `vm set --add-disk/--remove-disk`.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "shell/shell.h"

const struct cmd_opt cmd_vm_disk_opts[] = {
	{ "max-iops", OPT_NUM, "N", "set: at most N normalized (8 KiB) IOs a second; 0: no limit" },
	{ "min-iops", OPT_NUM, "N", "set: N IOPS reserved when the host's storage is contended; 0: none" },
	{ "max-bandwidth", OPT_STR, "SIZE/s", "set: at most this many bytes a second: 100M, 1G/s; 0: no limit" },
	{ "json", OPT_FLAG, NULL, "set, list: print the disks as JSON" },
	{ NULL, 0, NULL, NULL },
};

/* --- output ---------------------------------------------------------------- */

cJSON *
cmd_disk_json(const struct hv_vm *vm, int slot)
{
	const struct hv_disk_qos *q = &vm->disk_qos[slot];
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "slot", slot);
	cJSON_AddStringToObject(o, "path", vm->disks[slot]);
	cJSON_AddNumberToObject(o, "max_iops", q->max_iops);
	cJSON_AddNumberToObject(o, "min_iops", q->min_iops);
	cJSON_AddNumberToObject(o, "max_bandwidth", (double)q->max_bw);
	return o;
}

/* "max 500 IOPS, min 100 IOPS, max 100M/s", or "" without QoS */
void
cmd_disk_qos_text(const struct hv_disk_qos *q, char *buf, size_t len)
{
	char bw[32];
	size_t n = 0;

	buf[0] = '\0';
	if (q->max_iops)
		n += (size_t)snprintf(buf + n, len - n, "max %u IOPS", q->max_iops);
	if (q->min_iops && n < len)
		n += (size_t)snprintf(buf + n, len - n, "%smin %u IOPS", n ? ", " : "", q->min_iops);
	if (q->max_bw && n < len) {
		hv_format_size(q->max_bw, bw, sizeof bw);
		snprintf(buf + n, len - n, "%smax %s/s", n ? ", " : "", bw);
	}
}

static void
disk_list_table(struct cmd_ctx *ctx, const struct hv_vm *vm)
{
	fprintf(ctx->out, "%-4s %9s %9s %10s  %s\n", "SLOT", "MAX-IOPS", "MIN-IOPS", "MAX-BW", "PATH");
	for (int i = 0; i < vm->ndisks; i++) {
		const struct hv_disk_qos *q = &vm->disk_qos[i];
		char mx[16] = "-", mn[16] = "-", sz[32], bw[40] = "-";

		if (q->max_iops)
			snprintf(mx, sizeof mx, "%u", q->max_iops);
		if (q->min_iops)
			snprintf(mn, sizeof mn, "%u", q->min_iops);
		if (q->max_bw) {
			hv_format_size(q->max_bw, sz, sizeof sz);
			snprintf(bw, sizeof bw, "%s/s", sz);
		}
		fprintf(ctx->out, "%-4d %9s %9s %10s  %s\n", i, mx, mn, bw, vm->disks[i]);
	}
}

/* --- settings ------------------------------------------------------------- */

/* a slot number or the path of an attached disk; -1 after an error */
static int
find_disk(struct cmd_ctx *ctx, const struct hv_vm *vm, const char *s)
{
	char abs[PATH_MAX], *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] != '\0' && *end == '\0' && errno == 0) {
		if (v >= 0 && v < vm->ndisks)
			return (int)v;
		cmd_usage_error(ctx, "vm disk: VM '%s' has no disk %s (see hv vm disk list %s)",
				vm->name, s, vm->name);
		return -1;
	}
	if (realpath(s, abs) == NULL)
		snprintf(abs, sizeof abs, "%s", s);
	for (int i = 0; i < vm->ndisks; i++)
		if (strcmp(vm->disks[i], abs) == 0 || strcmp(vm->disks[i], s) == 0)
			return i;
	cmd_usage_error(ctx, "vm disk: %s is not attached to VM '%s' (see hv vm disk list %s)",
			s, vm->name, vm->name);
	return -1;
}

static int
iops_opt(struct cmd_ctx *ctx, const struct cmd_args *a, const char *name,
	 uint32_t *out)
{
	long long n;
	int r = cmd_num(ctx, a, name, &n);

	if (r < 0)
		return -1;
	if (r > 0 && (n < 0 || n > UINT32_MAX)) {
		cmd_usage_error(ctx, "--%s %lld: must be 0 (none) or 1..%u", name, n, UINT32_MAX);
		return -1;
	}
	if (r > 0)
		*out = (uint32_t)n;
	return 0;
}

/* "100M", "100M/s", "1G/s", "0" */
static int
bandwidth_opt(struct cmd_ctx *ctx, const struct cmd_args *a, uint64_t *out)
{
	const char *s = cmd_str(a, "max-bandwidth");
	char buf[64];
	size_t n;

	if (s == NULL)
		return 0;
	snprintf(buf, sizeof buf, "%s", s);
	n = strlen(buf);
	if (n > 2 && strcmp(buf + n - 2, "/s") == 0)
		buf[n - 2] = '\0';
	if (strlen(s) >= sizeof buf || hv_parse_size(buf, out) != 0) {
		cmd_usage_error(ctx, "--max-bandwidth: '%s' is not bytes a second (like 100M/s, 1G/s; 0: no limit)",
				s);
		return -1;
	}
	return 0;
}

/* --- sub-commands ------------------------------------------------------- */

static enum cmd_ret
disk_set(struct cmd_ctx *ctx, struct hv_ctx *hv, struct hv_vm *vm,
	 const struct cmd_args *a)
{
	struct hv_disk_qos q;
	struct hv_err err;
	char name[HV_NAME_MAX];
	int slot;

	if ((slot = find_disk(ctx, vm, a->pos[2])) < 0)
		return CMD_USAGE;
	q = vm->disk_qos[slot];
	if (iops_opt(ctx, a, "max-iops", &q.max_iops) != 0 ||
	    iops_opt(ctx, a, "min-iops", &q.min_iops) != 0 ||
	    bandwidth_opt(ctx, a, &q.max_bw) != 0)
		return CMD_USAGE;
	vm->disk_qos[slot] = q;
	snprintf(name, sizeof name, "%s", vm->name);
	if (hv_vm_update(hv, name, vm, &err) != 0 || hv_vm_get(hv, name, vm, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json"))
		cmd_print_json(ctx, cmd_disk_json(vm, slot));
	else
		fprintf(ctx->out, "updated disk %d of VM %s\n", slot, vm->name);
	return CMD_OK;
}

static enum cmd_ret
disk_list(struct cmd_ctx *ctx, const struct hv_vm *vm, const struct cmd_args *a)
{
	if (cmd_flag(a, "json")) {
		cJSON *l = cJSON_CreateArray();

		for (int i = 0; i < vm->ndisks; i++)
			cJSON_AddItemToArray(l, cmd_disk_json(vm, i));
		cmd_print_json(ctx, l);
	} else {
		disk_list_table(ctx, vm);
	}
	return CMD_OK;
}

enum cmd_ret
cmd_vm_disk(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	const char *sub = a->pos[0];
	bool set = strcmp(sub, "set") == 0;
	struct hv_ctx *hv;
	struct hv_vm *vm;
	struct hv_err err;
	enum cmd_ret rc;

	if (!set && strcmp(sub, "list") != 0)
		return cmd_usage_error(ctx, "vm disk: '%s': use set or list (see hv vm disk --help)", sub);
	if (a->npos != (set ? 3 : 2))
		return cmd_usage_error(ctx, "vm disk %s: usage: hv vm disk %s VM%s", sub, sub,
				       set ? " DISK" : "");
	for (int i = 0; i < a->nset; i++)
		if (!set && strcmp(a->set[i].opt->name, "json") != 0)
			return cmd_usage_error(ctx, "vm disk list: --%s does not apply (see hv vm disk --help)",
					       a->set[i].opt->name);
	if (set && a->nset == (cmd_flag(a, "json") ? 1 : 0))
		return cmd_usage_error(ctx, "vm disk set: nothing to change (see hv vm disk --help)");
	if ((hv = cmd_hv(ctx)) == NULL)
		return CMD_FAIL;
	if ((vm = malloc(sizeof *vm)) == NULL)
		return CMD_FAIL;
	if (hv_vm_get(hv, a->pos[1], vm, &err) != 0)
		rc = cmd_error(ctx, &err);
	else if (set)
		rc = disk_set(ctx, hv, vm, a);
	else
		rc = disk_list(ctx, vm, a);
	free(vm);
	return rc;
}
