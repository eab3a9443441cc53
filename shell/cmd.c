/*
 * cmd.c - the command table, argument parsing, help and errors.
 *
 * Everything the user can type is in cmd_nouns[] (one cmd-<noun>.c
 * each); parsing, `help`, `--help` and completion (repl.c) read the same
 * tables.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "shell/cmd.h"

extern const struct cmd_noun cmd_vm_noun;
extern const struct cmd_noun cmd_disk_noun;
extern const struct cmd_noun cmd_switch_noun;
extern const struct cmd_noun cmd_checkpoint_noun;
extern const struct cmd_noun cmd_migrate_noun;
extern const struct cmd_noun cmd_host_noun;
extern const struct cmd_noun cmd_tui_noun;
extern const struct cmd_noun cmd_help_noun;
extern const struct cmd_noun cmd_version_noun;

const struct cmd_noun *const cmd_nouns[] = {
	&cmd_vm_noun,
	&cmd_disk_noun,
	&cmd_switch_noun,
	&cmd_checkpoint_noun,
	&cmd_migrate_noun,
	&cmd_host_noun,
	&cmd_tui_noun,
	&cmd_help_noun,
	&cmd_version_noun,
	NULL,
};

const struct cmd_noun *
cmd_find_noun(const char *name)
{
	for (int i = 0; cmd_nouns[i] != NULL; i++)
		if (strcmp(cmd_nouns[i]->name, name) == 0)
			return cmd_nouns[i];
	return NULL;
}

const struct cmd_verb *
cmd_find_verb(const struct cmd_noun *n, const char *name)
{
	for (const struct cmd_verb *v = n->verbs; v && v->name; v++)
		if (strcmp(v->name, name) == 0)
			return v;
	return NULL;
}

const struct cmd_opt *
cmd_find_opt(const struct cmd_verb *v, const char *name)
{
	for (const struct cmd_opt *o = v->opts; o && o->name; o++)
		if (strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

/* --- errors ------------------------------------------------------------ */

static void
print_err(struct cmd_ctx *ctx, const char *msg)
{
	if (ctx->where != NULL)
		fprintf(ctx->errf, "hv: %s: %s\n", ctx->where, msg);
	else
		fprintf(ctx->errf, "hv: %s\n", msg);
	fflush(ctx->errf);
}

enum cmd_ret
cmd_error(struct cmd_ctx *ctx, const struct hv_err *err)
{
	print_err(ctx, err->msg[0] ? err->msg : "failed");
	return err->code == HV_EUSAGE ? CMD_USAGE : CMD_FAIL;
}

enum cmd_ret
cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...)
{
	char msg[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	print_err(ctx, msg);
	return CMD_USAGE;
}

struct hv_ctx *
cmd_hv(struct cmd_ctx *ctx)
{
	struct hv_err err;

	if (ctx->hv == NULL && hv_open(&ctx->hv, NULL, &err) != 0) {
		cmd_error(ctx, &err);
		ctx->hv = NULL;
	}
	return ctx->hv;
}

/* --- options ----------------------------------------------------------- */

static const char *
find_val(const struct cmd_args *a, const char *name)
{
	for (int i = a->nset - 1; i >= 0; i--)
		if (strcmp(a->set[i].opt->name, name) == 0)
			return a->set[i].val ? a->set[i].val : "";
	return NULL;
}

bool
cmd_flag(const struct cmd_args *a, const char *name)
{
	return find_val(a, name) != NULL;
}

const char *
cmd_str(const struct cmd_args *a, const char *name)
{
	return find_val(a, name);
}

int
cmd_list(const struct cmd_args *a, const char *name, const char **out, int max)
{
	int n = 0;

	for (int i = 0; i < a->nset && n < max; i++)
		if (strcmp(a->set[i].opt->name, name) == 0)
			out[n++] = a->set[i].val;
	return n;
}

int
cmd_size(struct cmd_ctx *ctx, const struct cmd_args *a, const char *name,
	 uint64_t *out)
{
	const char *s = find_val(a, name);

	if (s == NULL)
		return 0;
	if (hv_parse_size(s, out) != 0) {
		cmd_usage_error(ctx, "--%s: '%s' is not a size (use bytes or 512M, 2G, 1T)", name, s);
		return -1;
	}
	return 1;
}

int
cmd_slot(struct cmd_ctx *ctx, const char *s, int max, const char *verb, const char *what,
	 int *slot)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0 || v < 0 || v >= max) {
		cmd_usage_error(ctx, "%s: slot '%s': use the %s's number, 0..%d (see hv %s list VM)",
				verb, s, what, max - 1, verb);
		return -1;
	}
	*slot = (int)v;
	return 0;
}

int
cmd_num(struct cmd_ctx *ctx, const struct cmd_args *a, const char *name,
	long long *out)
{
	const char *s = find_val(a, name);
	char *end;

	if (s == NULL)
		return 0;
	errno = 0;
	*out = strtoll(s, &end, 10);
	if (s[0] == '\0' || *end != '\0' || errno != 0) {
		cmd_usage_error(ctx, "--%s: '%s' is not a whole number", name, s);
		return -1;
	}
	return 1;
}

int
cmd_onoff(struct cmd_ctx *ctx, const struct cmd_args *a, const char *name,
	  bool *out)
{
	const char *s = find_val(a, name);

	if (s == NULL)
		return 0;
	if (s[0] == '\0' || strcmp(s, "on") == 0) {
		*out = true;
	} else if (strcmp(s, "off") == 0) {
		*out = false;
	} else {
		cmd_usage_error(ctx, "--%s: '%s': use on or off", name, s);
		return -1;
	}
	return 1;
}

/* --- help -------------------------------------------------------------- */

static void
print_verb_line(FILE *f, const struct cmd_noun *n, const struct cmd_verb *v)
{
	char head[128];

	snprintf(head, sizeof head, "%s %s %s", n->name, v->name, v->usage ? v->usage : "");
	fprintf(f, "  %-34s %s\n", head, v->help);
}

void
cmd_print_help(FILE *f, const struct cmd_noun *n, const struct cmd_verb *v)
{
	if (n == NULL) {
		fprintf(f, "usage: hv [-f SCRIPT | NOUN VERB [ARGS] [OPTIONS]]\n\n"
			"hv manages virtual machines on this host. With no arguments on a\n"
			"terminal it starts an interactive shell; `hv -f FILE` runs a script.\n\n"
			"Commands:\n");
		for (int i = 0; cmd_nouns[i] != NULL; i++) {
			const struct cmd_noun *m = cmd_nouns[i];

			if (m->verbs == NULL) {
				char head[128];

				snprintf(head, sizeof head, "%s %s", m->name, m->usage ? m->usage : "");
				fprintf(f, "  %-34s %s\n", head, m->help);
				continue;
			}
			for (const struct cmd_verb *w = m->verbs; w->name; w++)
				print_verb_line(f, m, w);
		}
		fprintf(f, "\nSizes: bytes, or 512M, 2G, 1T. `hv NOUN VERB --help` for options.\n"
			"Exit status: 0 ok, 1 the operation failed, 2 usage error.\n"
			"State lives in $HV_HOME (now %s).\n", hv_default_home());
		return;
	}
	if (v == NULL) {
		fprintf(f, "%s: %s\n\n", n->name, n->help);
		if (n->verbs == NULL) {
			fprintf(f, "usage: hv %s %s\n", n->name, n->usage ? n->usage : "");
			return;
		}
		for (const struct cmd_verb *w = n->verbs; w->name; w++)
			print_verb_line(f, n, w);
		return;
	}
	fprintf(f, "usage: hv %s %s %s%s\n\n%s\n", n->name, v->name,
		v->usage ? v->usage : "", v->opts && v->opts->name ? " [OPTIONS]" : "", v->help);
	if (v->opts == NULL || v->opts->name == NULL)
		return;
	fprintf(f, "\nOptions:\n");
	for (const struct cmd_opt *o = v->opts; o->name; o++) {
		char head[96];

		snprintf(head, sizeof head, "--%s%s%s", o->name,
			 o->metavar ? " " : "", o->metavar ? o->metavar : "");
		fprintf(f, "  %-26s %s%s\n", head, o->help,
			o->type == OPT_LIST ? " (repeatable)" : "");
	}
}

/* --- parsing ----------------------------------------------------------- */

static enum cmd_ret
parse_args(struct cmd_ctx *ctx, const struct cmd_noun *n,
	   const struct cmd_verb *v, int argc, char **argv, struct cmd_args *a)
{
	bool dashdash = false;

	memset(a, 0, sizeof *a);
	for (int i = 0; i < argc; i++) {
		char *w = argv[i], *eq, name[64];
		const struct cmd_opt *o;

		if (dashdash || w[0] != '-' || w[1] == '\0') {
			if (a->npos == CMD_MAX_POS || a->npos >= v->max_pos)
				return cmd_usage_error(ctx, "%s %s: unexpected argument '%s' (usage: hv %s %s %s)",
						       n->name, v->name, w, n->name, v->name, v->usage ? v->usage : "");
			a->pos[a->npos++] = w;
			continue;
		}
		if (strcmp(w, "--") == 0) {
			dashdash = true;
			continue;
		}
		if (w[1] != '-')
			return cmd_usage_error(ctx, "%s %s: unknown option '%s' (see hv %s %s --help)",
					       n->name, v->name, w, n->name, v->name);
		eq = strchr(w, '=');
		snprintf(name, sizeof name, "%.*s", eq ? (int)(eq - w - 2) : (int)strlen(w + 2), w + 2);
		o = cmd_find_opt(v, name);
		if (o == NULL)
			return cmd_usage_error(ctx, "%s %s: unknown option '--%s' (see hv %s %s --help)",
					       n->name, v->name, name, n->name, v->name);
		if (o->type != OPT_LIST && find_val(a, o->name) != NULL)
			return cmd_usage_error(ctx, "%s %s: --%s given twice", n->name, v->name, name);
		if (a->nset == CMD_MAX_OPTS)
			return cmd_usage_error(ctx, "%s %s: too many options", n->name, v->name);
		a->set[a->nset].opt = o;
		if (o->type == OPT_FLAG) {
			if (eq != NULL)
				return cmd_usage_error(ctx, "%s %s: --%s takes no value", n->name, v->name, name);
			a->set[a->nset++].val = NULL;
			continue;
		}
		/* a switch: alone it means on; "on" or "off" may follow */
		if (o->type == OPT_ONOFF && eq == NULL) {
			if (i + 1 < argc && (strcmp(argv[i + 1], "on") == 0 ||
					     strcmp(argv[i + 1], "off") == 0))
				a->set[a->nset++].val = argv[++i];
			else
				a->set[a->nset++].val = "";
			continue;
		}
		if (eq != NULL) {
			a->set[a->nset++].val = eq + 1;
		} else if (i + 1 < argc) {
			a->set[a->nset++].val = argv[++i];
		} else {
			return cmd_usage_error(ctx, "%s %s: --%s needs a value (%s)", n->name, v->name,
					       name, o->metavar ? o->metavar : "VALUE");
		}
	}
	if (a->npos < v->min_pos)
		return cmd_usage_error(ctx, "%s %s: missing %s (usage: hv %s %s %s)", n->name, v->name,
				       v->usage ? v->usage : "arguments", n->name, v->name,
				       v->usage ? v->usage : "");
	return CMD_OK;
}

static bool
wants_help(int argc, char **argv)
{
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return true;
	}
	return false;
}

enum cmd_ret
cmd_run(struct cmd_ctx *ctx, int argc, char **argv)
{
	const struct cmd_noun *n;
	const struct cmd_verb *v;
	struct cmd_args a;
	enum cmd_ret rc;

	if (argc == 0)
		return CMD_OK;
	n = cmd_find_noun(argv[0]);
	if (n == NULL)
		return cmd_usage_error(ctx, "unknown command '%s' (try: hv help)", argv[0]);
	if (n->verbs == NULL)
		return n->exec(ctx, argc - 1, argv + 1);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		cmd_print_help(ctx->out, n, NULL);
		return argc < 2 ? CMD_USAGE : CMD_OK;
	}
	v = cmd_find_verb(n, argv[1]);
	if (v == NULL)
		return cmd_usage_error(ctx, "%s: unknown verb '%s' (try: hv help %s)",
				       n->name, argv[1], n->name);
	if (wants_help(argc - 2, argv + 2)) {
		cmd_print_help(ctx->out, n, v);
		return CMD_OK;
	}
	rc = parse_args(ctx, n, v, argc - 2, argv + 2, &a);
	if (rc != CMD_OK)
		return rc;
	rc = v->exec(ctx, &a);
	fflush(ctx->out);
	return rc;
}

void
cmd_print_json(struct cmd_ctx *ctx, cJSON *j)
{
	char *s = cJSON_Print(j);

	if (s != NULL) {
		fprintf(ctx->out, "%s\n", s);
		free(s);
	}
	cJSON_Delete(j);
}

/* --- progress ---------------------------------------------------------- */

void
cmd_progress_cb(void *arg, uint64_t done, uint64_t total)
{
	struct cmd_progress *p = arg;
	int pct = total ? (int)(done * 100 / total) : 100;

	if (pct == p->last_pct)
		return;
	p->last_pct = pct;
	if (p->ctx->on_progress != NULL) {
		p->ctx->on_progress(p->ctx->hook_arg, p->what, pct);
	} else if (p->json) {
		fprintf(p->ctx->out, "{\"event\": \"progress\", \"what\": \"%s\", \"done\": %llu, \"total\": %llu, \"percent\": %d}\n",
			p->what, (unsigned long long)done, (unsigned long long)total, pct);
		fflush(p->ctx->out);
	} else if (p->ctx->tty) {
		char bar[41];
		int fill = pct * 40 / 100;

		memset(bar, '#', (size_t)fill);
		memset(bar + fill, '-', (size_t)(40 - fill));
		bar[40] = '\0';
		fprintf(p->ctx->errf, "\r%s [%s] %3d%%", p->what, bar, pct);
		fflush(p->ctx->errf);
	}
}

void
cmd_progress_end(struct cmd_progress *p)
{
	if (!p->json && p->ctx->tty && p->last_pct >= 0 && p->ctx->on_progress == NULL)
		fprintf(p->ctx->errf, "\n");
}
