/* cmd-disk.c - `hv disk`: virtual disk images (create, info, check, convert, ...). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "engine/disk/disk.h"
#include "shell/cmd.h"

static const struct cmd_opt create_opts[] = {
	{ "format", OPT_STR, "FMT", "raw, vhd, vhdx, qcow2 or vmdk (default: from the file name)" },
	{ "size", OPT_SIZE, "SIZE", "virtual size (default with --parent: the parent's)" },
	{ "fixed", OPT_FLAG, NULL, "allocate it all now (VHD/VHDX fixed, raw full)" },
	{ "parent", OPT_PATH, "FILE", "make a differencing disk over FILE" },
	{ "block-size", OPT_SIZE, "SIZE", "allocation unit (default: the format's)" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt json_opts[] = {
	{ "json", OPT_FLAG, NULL, "machine-readable output" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt check_opts[] = {
	{ "repair", OPT_FLAG, NULL, "fix what can be fixed" },
	{ "json", OPT_FLAG, NULL, "machine-readable output" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt convert_opts[] = {
	{ "format", OPT_STR, "FMT", "format of the new image (default: from the file name)" },
	{ "fixed", OPT_FLAG, NULL, "make it fixed (preallocated)" },
	{ "dynamic", OPT_FLAG, NULL, "make it dynamic (default: like the source)" },
	{ "block-size", OPT_SIZE, "SIZE", "allocation unit (default: the format's)" },
	{ "progress", OPT_FLAG, NULL, "show a progress bar" },
	{ "json", OPT_FLAG, NULL, "progress as JSON events" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt resize_opts[] = {
	{ "shrink", OPT_FLAG, NULL, "allow making it smaller (data past SIZE is lost)" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt progress_opts[] = {
	{ "progress", OPT_FLAG, NULL, "show a progress bar" },
	{ "json", OPT_FLAG, NULL, "progress as JSON events" },
	{ NULL, 0, NULL, NULL },
};

/* --format, else the file's extension */
static enum disk_format
format_arg(struct cmd_ctx *ctx, const struct cmd_args *a, const char *path)
{
	const char *s = cmd_str(a, "format"), *dot;
	enum disk_format f;

	if (s != NULL) {
		f = disk_format_parse(s);
		if (f == DISK_FMT_NONE)
			cmd_usage_error(ctx, "--format: unknown format '%s' (raw, vhd, vhdx, qcow2, vmdk)", s);
		return f;
	}
	dot = strrchr(path, '.');
	f = dot ? disk_format_parse(dot + 1) : DISK_FMT_NONE;
	if (f == DISK_FMT_NONE && dot && (strcmp(dot, ".img") == 0 || strcmp(dot, ".avhdx") == 0))
		f = strcmp(dot, ".img") == 0 ? DISK_FMT_RAW : DISK_FMT_VHDX;
	if (f == DISK_FMT_NONE)
		cmd_usage_error(ctx, "%s: say which format with --format", path);
	return f;
}

static int
block_size_arg(struct cmd_ctx *ctx, const struct cmd_args *a, uint32_t *out)
{
	uint64_t bs = 0;

	if (cmd_size(ctx, a, "block-size", &bs) < 0)
		return -1;
	if (bs > UINT32_MAX) {
		cmd_usage_error(ctx, "--block-size: too large");
		return -1;
	}
	*out = (uint32_t)bs;
	return 0;
}

static enum cmd_ret
disk_create_cmd(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct disk_create_opts o = { .fixed = cmd_flag(a, "fixed") };
	struct hv_err err;
	char sz[32];
	int r;

	o.fmt = format_arg(ctx, a, a->pos[0]);
	if (o.fmt == DISK_FMT_NONE)
		return CMD_USAGE;
	if ((r = cmd_size(ctx, a, "size", &o.size)) < 0 || block_size_arg(ctx, a, &o.block_size) < 0)
		return CMD_USAGE;
	o.parent = cmd_str(a, "parent");
	if (r == 0 && o.parent == NULL)
		return cmd_usage_error(ctx, "disk create: --size is needed (or --parent)");
	if (o.parent != NULL && o.fixed)
		return cmd_usage_error(ctx, "disk create: a differencing disk cannot be --fixed");
	if (disk_create(a->pos[0], &o, &err) != 0)
		return cmd_error(ctx, &err);
	hv_format_size(o.size, sz, sizeof sz);
	fprintf(ctx->out, "created %s (%s, %s%s%s)\n", a->pos[0], disk_format_name(o.fmt),
		o.parent ? "differencing" : o.fixed ? "fixed" : "dynamic",
		o.size ? ", " : "", o.size ? sz : "");
	return CMD_OK;
}

/* --- info ---------------------------------------------------------------- */

static cJSON *
info_json(struct disk *d, const struct disk_info *in)
{
	cJSON *j = cJSON_CreateObject(), *chain;

	cJSON_AddStringToObject(j, "path", disk_path(d));
	cJSON_AddStringToObject(j, "format", disk_format_name(in->fmt));
	cJSON_AddStringToObject(j, "subformat", in->subformat);
	cJSON_AddNumberToObject(j, "virtual_size", (double)in->size);
	cJSON_AddNumberToObject(j, "file_size", (double)in->file_size);
	cJSON_AddNumberToObject(j, "allocated", (double)in->allocated);
	cJSON_AddNumberToObject(j, "block_size", in->block_size);
	cJSON_AddStringToObject(j, "parent", in->parent);
	chain = cJSON_AddArrayToObject(j, "chain");
	for (struct disk *p = disk_parent(d); p != NULL; p = disk_parent(p)) {
		cJSON *e = cJSON_CreateObject();

		cJSON_AddStringToObject(e, "path", disk_path(p));
		cJSON_AddStringToObject(e, "format", disk_format_name(disk_format_of(p)));
		cJSON_AddItemToArray(chain, e);
	}
	if (in->fmt == DISK_FMT_VHD) {
		cJSON *v = cJSON_AddObjectToObject(j, "vhd");
		char ver[16];

		snprintf(ver, sizeof ver, "%u.%u", in->creator_version >> 16,
			 in->creator_version & 0xffff);
		cJSON_AddStringToObject(v, "creator", in->creator_app);
		cJSON_AddStringToObject(v, "creator_version", ver);
		cJSON_AddNumberToObject(v, "cylinders", in->cyls);
		cJSON_AddNumberToObject(v, "heads", in->heads);
		cJSON_AddNumberToObject(v, "sectors_per_track", in->spt);
	}
	return j;
}

static void
info_line(struct cmd_ctx *ctx, const char *key, uint64_t bytes)
{
	char s[32];

	hv_format_size(bytes, s, sizeof s);
	fprintf(ctx->out, "%-14s %s (%llu bytes)\n", key, s, (unsigned long long)bytes);
}

static void
info_text(struct cmd_ctx *ctx, struct disk *d, const struct disk_info *in)
{
	fprintf(ctx->out, "%-14s %s\n", "Image:", disk_path(d));
	fprintf(ctx->out, "%-14s %s%s%s%s\n", "Format:", disk_format_name(in->fmt),
		in->subformat[0] ? " (" : "", in->subformat, in->subformat[0] ? ")" : "");
	info_line(ctx, "Virtual size:", in->size);
	info_line(ctx, "File size:", in->file_size);
	info_line(ctx, "Allocated:", in->allocated);
	if (in->block_size)
		info_line(ctx, "Block size:", in->block_size);
	if (in->parent[0])
		fprintf(ctx->out, "%-14s %s\n", "Parent:", in->parent);
	for (struct disk *p = disk_parent(d); p != NULL; p = disk_parent(p))
		fprintf(ctx->out, "%-14s %s (%s)\n", p == disk_parent(d) ? "Chain:" : "",
			disk_path(p), disk_format_name(disk_format_of(p)));
	if (in->fmt == DISK_FMT_VHD) {
		fprintf(ctx->out, "%-14s '%s' %u.%u\n", "Creator:", in->creator_app,
			in->creator_version >> 16, in->creator_version & 0xffff);
		fprintf(ctx->out, "%-14s %u/%u/%u (C/H/S)\n", "Geometry:", in->cyls,
			in->heads, in->spt);
	}
}

static enum cmd_ret
disk_info_cmd(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct disk_info in;
	struct hv_err err;
	struct disk *d;

	if (disk_open(&d, a->pos[0], DISK_RDONLY, &err) != 0)
		return cmd_error(ctx, &err);
	if (disk_get_info(d, &in, &err) != 0) {
		disk_close(d);
		return cmd_error(ctx, &err);
	}
	if (cmd_flag(a, "json"))
		cmd_print_json(ctx, info_json(d, &in));
	else
		info_text(ctx, d, &in);
	disk_close(d);
	return CMD_OK;
}

/* --- check --------------------------------------------------------------- */

static enum cmd_ret
disk_check_cmd(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	bool repair = cmd_flag(a, "repair");
	struct disk_check_result r;
	struct hv_err err;
	struct disk *d;
	int rc;

	if (disk_open(&d, a->pos[0], repair ? 0 : DISK_RDONLY, &err) != 0)
		return cmd_error(ctx, &err);
	rc = disk_check(d, repair, &r, &err);
	disk_close(d);
	if (rc != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json")) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "path", a->pos[0]);
		cJSON_AddNumberToObject(j, "errors", (double)r.errors);
		cJSON_AddNumberToObject(j, "leaks", (double)r.leaks);
		cJSON_AddNumberToObject(j, "repaired", (double)r.repaired);
		cJSON_AddStringToObject(j, "first", r.first);
		cmd_print_json(ctx, j);
	} else if (r.errors == 0 && r.leaks == 0) {
		fprintf(ctx->out, "%s: no errors found%s\n", a->pos[0],
			r.repaired ? " after repair" : "");
	} else {
		fprintf(ctx->out, "%s: %llu errors, %llu leaked blocks%s%s\n", a->pos[0],
			(unsigned long long)r.errors, (unsigned long long)r.leaks,
			r.first[0] ? "; first: " : "", r.first);
	}
	if (r.repaired && !cmd_flag(a, "json"))
		fprintf(ctx->out, "%s: repaired %llu problems\n", a->pos[0],
			(unsigned long long)r.repaired);
	if (r.errors != 0) {
		fprintf(ctx->errf, "hv: %s: image is corrupt (%llu errors)\n", a->pos[0],
			(unsigned long long)r.errors);
		return CMD_FAIL;
	}
	return CMD_OK;
}

/* --- convert, resize, compact, merge ------------------------------------- */

static void
progress_init(struct cmd_progress *p, struct cmd_ctx *ctx, const struct cmd_args *a,
	      const char *what)
{
	p->ctx = ctx;
	p->what = what;
	p->json = cmd_flag(a, "json");
	p->last_pct = -1;
}

/* the callback, only when asked for and there is somewhere to show it */
static disk_progress_fn
progress_fn(const struct cmd_progress *p, const struct cmd_args *a)
{
	if (p->json || (cmd_flag(a, "progress") && (p->ctx->tty || p->ctx->on_progress)))
		return cmd_progress_cb;
	return NULL;
}

static enum cmd_ret
disk_convert_cmd(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct disk_convert_opts o = { .fixed = -1 };
	struct cmd_progress p;
	struct hv_err err;
	int rc;

	o.fmt = format_arg(ctx, a, a->pos[1]);
	if (o.fmt == DISK_FMT_NONE || block_size_arg(ctx, a, &o.block_size) < 0)
		return CMD_USAGE;
	if (cmd_flag(a, "fixed") && cmd_flag(a, "dynamic"))
		return cmd_usage_error(ctx, "disk convert: --fixed or --dynamic, not both");
	if (cmd_flag(a, "fixed"))
		o.fixed = 1;
	else if (cmd_flag(a, "dynamic"))
		o.fixed = 0;
	progress_init(&p, ctx, a, "convert");
	o.progress = progress_fn(&p, a);
	o.progress_ctx = &p;
	rc = disk_convert(a->pos[0], a->pos[1], &o, &err);
	cmd_progress_end(&p);
	if (rc != 0)
		return cmd_error(ctx, &err);
	if (!p.json)
		fprintf(ctx->out, "converted %s to %s (%s)\n", a->pos[0], a->pos[1],
			disk_format_name(o.fmt));
	return CMD_OK;
}

static enum cmd_ret
disk_resize_cmd(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_err err;
	uint64_t size;
	char s[32];

	if (hv_parse_size(a->pos[1], &size) != 0)
		return cmd_usage_error(ctx, "disk resize: '%s' is not a size (use bytes or 512M, 2G, 1T)",
				       a->pos[1]);
	if (disk_resize(a->pos[0], size, cmd_flag(a, "shrink"), &err) != 0)
		return cmd_error(ctx, &err);
	hv_format_size(size, s, sizeof s);
	fprintf(ctx->out, "resized %s to %s\n", a->pos[0], s);
	return CMD_OK;
}

static enum cmd_ret
disk_compact_cmd(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct cmd_progress p;
	struct hv_err err;
	int rc;

	progress_init(&p, ctx, a, "compact");
	rc = disk_compact(a->pos[0], progress_fn(&p, a), &p, &err);
	cmd_progress_end(&p);
	if (rc != 0)
		return cmd_error(ctx, &err);
	if (!p.json)
		fprintf(ctx->out, "compacted %s\n", a->pos[0]);
	return CMD_OK;
}

static enum cmd_ret
disk_merge_cmd(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct cmd_progress p;
	struct hv_err err;
	int rc;

	progress_init(&p, ctx, a, "merge");
	rc = disk_merge(a->pos[0], progress_fn(&p, a), &p, &err);
	cmd_progress_end(&p);
	if (rc != 0)
		return cmd_error(ctx, &err);
	if (!p.json)
		fprintf(ctx->out, "merged %s into its parent\n", a->pos[0]);
	return CMD_OK;
}

static const struct cmd_verb disk_verbs[] = {
	{ "create", "PATH", 1, 1, ARG_PATH, create_opts, "create a virtual disk image", disk_create_cmd },
	{ "info", "PATH", 1, 1, ARG_PATH, json_opts, "show an image's format, sizes and parent chain", disk_info_cmd },
	{ "check", "PATH", 1, 1, ARG_PATH, check_opts, "check an image's structure for corruption", disk_check_cmd },
	{ "convert", "SRC DST", 2, 2, ARG_PATH, convert_opts, "copy an image (and its parents) into a new image", disk_convert_cmd },
	{ "resize", "PATH SIZE", 2, 2, ARG_PATH, resize_opts, "change an image's virtual size", disk_resize_cmd },
	{ "compact", "PATH", 1, 1, ARG_PATH, progress_opts, "give back the all-zero blocks of a dynamic image", disk_compact_cmd },
	{ "merge", "CHILD", 1, 1, ARG_PATH, progress_opts, "merge a differencing image into its parent", disk_merge_cmd },
	{ NULL, NULL, 0, 0, ARG_NONE, NULL, NULL, NULL },
};

const struct cmd_noun cmd_disk_noun = {
	.name = "disk",
	.help = "virtual disk images",
	.verbs = disk_verbs,
};
