/* cmd-checkpoint.c - `hv checkpoint`: Hyper-V's checkpoints of a VM. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shell/shell.h"

static const struct cmd_opt json_opts[] = {
	{ "json", OPT_FLAG, NULL, "machine-readable output" },
	{ NULL, 0, NULL, NULL },
};

static void
format_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* the subtree below parent ("" for the roots), indented by depth */
static void
print_tree(struct cmd_ctx *ctx, const struct hv_checkpoint *v, size_t n,
	   const char *parent, int depth, bool now_at_root)
{
	char when[32];

	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].parent, parent) != 0)
			continue;
		format_time(v[i].created, when, sizeof when);
		fprintf(ctx->out, "%*s%s  (%s%s)\n", depth * 2, "", v[i].name, when,
			v[i].saved ? ", saved state" : "");
		print_tree(ctx, v, n, v[i].uuid, depth + 1, false);
		if (v[i].now)
			fprintf(ctx->out, "%*sNow\n", (depth + 1) * 2, "");
	}
	if (now_at_root)
		fprintf(ctx->out, "Now\n");
}

static cJSON *
to_json(const struct hv_checkpoint *c)
{
	cJSON *j = cJSON_CreateObject(), *d = cJSON_AddArrayToObject(j, "disks");

	cJSON_AddStringToObject(j, "name", c->name);
	cJSON_AddStringToObject(j, "uuid", c->uuid);
	if (c->parent[0] != '\0')
		cJSON_AddStringToObject(j, "parent", c->parent);
	else
		cJSON_AddNullToObject(j, "parent");
	cJSON_AddNumberToObject(j, "created", (double)c->created);
	cJSON_AddBoolToObject(j, "saved_state", c->saved);
	cJSON_AddBoolToObject(j, "now", c->now);
	for (int i = 0; i < c->ndisks; i++)
		cJSON_AddItemToArray(d, cJSON_CreateString(c->disks[i]));
	return j;
}

static enum cmd_ret
ck_list(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_checkpoint *v;
	struct hv_err err;
	bool now_at_root = true;
	size_t n;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_checkpoint_list(hv, a->pos[0], &v, &n, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json")) {
		cJSON *arr = cJSON_CreateArray();

		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, to_json(&v[i]));
		cmd_print_json(ctx, arr);
		free(v);
		return CMD_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (v[i].now)
			now_at_root = false;
	if (n == 0)
		fprintf(ctx->out, "VM %s has no checkpoints\n", a->pos[0]);
	else
		print_tree(ctx, v, n, "", 0, now_at_root);
	free(v);
	return CMD_OK;
}

static enum cmd_ret
ck_create(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_checkpoint c;
	struct hv_err err;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_checkpoint_create(hv, a->pos[0], a->npos > 1 ? a->pos[1] : NULL, &c, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json")) {
		cmd_print_json(ctx, to_json(&c));
		return CMD_OK;
	}
	fprintf(ctx->out, "created checkpoint '%s' of VM %s%s\n", c.name, a->pos[0],
		c.saved ? " (with its saved state)" : "");
	return CMD_OK;
}

static enum cmd_ret
ck_apply(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_err err;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_checkpoint_apply(hv, a->pos[0], a->pos[1], &err) != 0)
		return cmd_error(ctx, &err);
	fprintf(ctx->out, "applied checkpoint '%s' to VM %s\n", a->pos[1], a->pos[0]);
	return CMD_OK;
}

static enum cmd_ret
ck_delete(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_err err;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_checkpoint_delete(hv, a->pos[0], a->pos[1], &err) != 0)
		return cmd_error(ctx, &err);
	fprintf(ctx->out, "deleted checkpoint '%s' of VM %s\n", a->pos[1], a->pos[0]);
	return CMD_OK;
}

static const struct cmd_verb ck_verbs[] = {
	{ "create", "VM [NAME]", 1, 2, ARG_VM, json_opts,
	  "checkpoint a VM: its disks, and its memory when it runs or is Saved", ck_create },
	{ "list", "VM", 1, 1, ARG_VM, json_opts, "a VM's checkpoints as a tree; Now marks where it is", ck_list },
	{ "apply", "VM NAME", 2, 2, ARG_VM, NULL,
	  "go back to a checkpoint (what the VM wrote since is discarded)", ck_apply },
	{ "delete", "VM NAME", 2, 2, ARG_VM, NULL,
	  "delete a checkpoint (its disks are merged when the VM depends on them)", ck_delete },
	{ NULL, NULL, 0, 0, ARG_NONE, NULL, NULL, NULL },
};

const struct cmd_noun cmd_checkpoint_noun = {
	.name = "checkpoint",
	.help = "checkpoints of virtual machines",
	.verbs = ck_verbs,
};
