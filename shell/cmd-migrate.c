/*
 * cmd-migrate.c - live migration: hv vm migrate (the source), and the
 * destination's side, hv migrate receive (one) and hv host serve (all).
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shell/cmd.h"
#include "shell/shell.h"

const struct cmd_opt cmd_vm_migrate_opts[] = {
	{ "to", OPT_STR, "HOST[:PORT]", "the destination host (port: migration.port, 6790)" },
	{ "max-downtime", OPT_NUM, "MS", "the longest the VM may stand still (300)" },
	{ "storage", OPT_FLAG, NULL, "copy the VM's disks too (no shared storage)" },
	{ "json", OPT_FLAG, NULL, "progress and result as JSON lines" },
	{ NULL, 0, NULL, NULL },
};

struct mig_view {
	struct cmd_ctx *ctx;
	bool json;
	bool line_open;		/* a tty line to overwrite */
};

static void
mib(uint64_t bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f MiB", (double)bytes / (1 << 20));
}

static void
on_progress(void *arg, const struct hv_migrate_progress *p)
{
	struct mig_view *v = arg;
	char left[32], sent[32];

	if (v->json) {
		fprintf(v->ctx->out, "{\"event\":\"progress\",\"phase\":\"%s\",\"pass\":%d,"
			"\"sent_bytes\":%llu,\"remaining_bytes\":%llu,\"rate\":%llu,\"elapsed_ms\":%llu}\n",
			p->phase, p->pass, (unsigned long long)p->sent_bytes,
			(unsigned long long)p->remaining_bytes, (unsigned long long)p->rate,
			(unsigned long long)p->elapsed_ms);
		fflush(v->ctx->out);
		return;
	}
	mib(p->remaining_bytes, left, sizeof left);
	mib(p->sent_bytes, sent, sizeof sent);
	fprintf(v->ctx->out, "%s%s pass %d: %s to send, %s sent, %.0f MiB/s, %.1f s%s",
		v->ctx->tty ? "\r" : "", p->phase, p->pass, left, sent,
		(double)p->rate / (1 << 20), (double)p->elapsed_ms / 1000,
		v->ctx->tty ? "\033[K" : "\n");
	v->line_open = v->ctx->tty;
	fflush(v->ctx->out);
	if (v->ctx->on_progress) {	/* the TUI's bar: what went of what is known */
		uint64_t all = p->sent_bytes + p->remaining_bytes;
		int pct = all ? (int)(p->sent_bytes * 100 / all) : 0;

		v->ctx->on_progress(v->ctx->hook_arg, "migrate", pct > 99 ? 99 : pct);
	}
}

enum cmd_ret
cmd_vm_migrate(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_migrate_opts o = { .to = cmd_str(a, "to"), .max_downtime_ms = 300,
				     .storage = cmd_flag(a, "storage") };
	struct mig_view v = { .ctx = ctx, .json = cmd_flag(a, "json") };
	struct hv_migrate_result r;
	struct hv_err err;
	long long md;
	int rc;

	if (hv == NULL)
		return CMD_FAIL;
	if (o.to == NULL || o.to[0] == '\0')
		return cmd_usage_error(ctx, "vm migrate: --to HOST[:PORT] is required");
	rc = cmd_num(ctx, a, "max-downtime", &md);
	if (rc < 0)
		return CMD_USAGE;
	if (rc == 1) {
		if (md < 1 || md > 600000)
			return cmd_usage_error(ctx, "vm migrate: --max-downtime is 1..600000 ms");
		o.max_downtime_ms = (uint64_t)md;
	}
	rc = hv_vm_migrate(hv, a->pos[0], &o, on_progress, &v, &r, &err);
	if (v.line_open)
		fputc('\n', ctx->out);
	if (rc != 0) {
		if (v.json) {
			cJSON *j = cJSON_CreateObject();
			char *t;

			cJSON_AddStringToObject(j, "event", "failed");
			cJSON_AddStringToObject(j, "error", err.msg);
			t = cJSON_PrintUnformatted(j);
			if (t)
				fprintf(ctx->out, "%s\n", t);
			free(t);
			cJSON_Delete(j);
		}
		return cmd_error(ctx, &err);
	}
	if (v.json) {
		fprintf(ctx->out, "{\"event\":\"done\",\"vm\":\"%s\",\"to\":\"%s\",\"passes\":%d,"
			"\"total_ms\":%llu,\"downtime_ms\":%llu,\"bytes\":%llu,\"pages\":%llu,"
			"\"zero_pages\":%llu,\"disk_bytes\":%llu,\"unconfirmed\":%s}\n",
			a->pos[0], o.to, r.passes, (unsigned long long)r.total_ms,
			(unsigned long long)r.downtime_ms, (unsigned long long)r.bytes,
			(unsigned long long)r.pages, (unsigned long long)r.zero_pages,
			(unsigned long long)r.disk_bytes, r.unconfirmed ? "true" : "false");
	} else {
		char sent[32];

		mib(r.bytes, sent, sizeof sent);
		fprintf(ctx->out, "VM %s live-migrated to %s: %d passes, %llu ms in all, "
			"downtime %llu ms, %s sent (%llu pages, %llu zero pages%s)\n",
			a->pos[0], o.to, r.passes, (unsigned long long)r.total_ms,
			(unsigned long long)r.downtime_ms, sent, (unsigned long long)r.pages,
			(unsigned long long)r.zero_pages, o.storage ? ", and its disks" : "");
		if (r.unconfirmed)
			fprintf(ctx->errf, "hv: warning: the destination never confirmed that the VM runs; "
				"check it there\n");
	}
	return CMD_OK;
}

/* --- the destination ---------------------------------------------------------- */

static void
log_line(void *arg, const char *line)
{
	struct cmd_ctx *ctx = arg;

	fprintf(ctx->out, "%s\n", line);
	fflush(ctx->out);
}

static enum cmd_ret
serve(struct cmd_ctx *ctx, const struct cmd_args *a, bool once)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_err err;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_migrate_serve(hv, cmd_str(a, "listen"), once, log_line, ctx, &err) != 0)
		return cmd_error(ctx, &err);
	return CMD_OK;
}

static enum cmd_ret
migrate_receive(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	return serve(ctx, a, !cmd_flag(a, "loop"));
}

static enum cmd_ret
host_serve(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	return serve(ctx, a, false);
}

static const struct cmd_opt receive_opts[] = {
	{ "listen", OPT_STR, "[IP][:PORT]", "where to listen (0.0.0.0, port migration.port)" },
	{ "loop", OPT_FLAG, NULL, "take one migration after another" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt serve_opts[] = {
	{ "listen", OPT_STR, "[IP][:PORT]", "where to listen (0.0.0.0, port migration.port)" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_verb migrate_verbs[] = {
	{ "receive", "", 0, 0, ARG_NONE, receive_opts,
	  "take one live migration from another host (both need migration.secret in hv.conf)",
	  migrate_receive },
	{ NULL, NULL, 0, 0, ARG_NONE, NULL, NULL, NULL },
};

const struct cmd_noun cmd_migrate_noun = {
	.name = "migrate",
	.help = "live migration between hosts (the source side is hv vm migrate)",
	.verbs = migrate_verbs,
};

static const struct cmd_verb host_verbs[] = {
	{ "serve", "", 0, 0, ARG_NONE, serve_opts,
	  "serve other hosts: take live migrations until stopped", host_serve },
	{ NULL, NULL, 0, 0, ARG_NONE, NULL, NULL, NULL },
};

const struct cmd_noun cmd_host_noun = {
	.name = "host",
	.help = "this host's services for other hosts",
	.verbs = host_verbs,
};
