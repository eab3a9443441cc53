/*
 * repl.c - the interactive shell: readline, history in $HV_HOME/history,
 * and tab completion generated from the command tables (nouns, verbs,
 * options) plus VM names from the inventory and file names for paths.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "shell/shell.h"

/*
 * readline's completion hooks take no user pointer, so the shell context
 * they need is kept here for the life of repl_run().
 */
static struct cmd_ctx *repl_ctx;

struct cands {
	char **v;
	size_t n, cap;
};

static void
cand_add(struct cands *c, const char *s, const char *prefix)
{
	if (strncmp(s, prefix, strlen(prefix)) != 0)
		return;
	if (c->n + 2 > c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 32;
		char **nv = realloc(c->v, ncap * sizeof *nv);

		if (nv == NULL)
			return;
		c->v = nv;
		c->cap = ncap;
	}
	c->v[c->n] = strdup(s);
	if (c->v[c->n] != NULL)
		c->n++;
	c->v[c->n] = NULL;
}

static void
cand_vms(struct cands *c, const char *prefix)
{
	struct hv_ctx *hv = cmd_hv(repl_ctx);
	char **names;
	size_t n;

	if (hv == NULL || hv_vm_names(hv, &names, &n, NULL) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		cand_add(c, names[i], prefix);
		free(names[i]);
	}
	free(names);
}

/* readline wants a generator: hand out the precomputed list one by one */
static struct cands gen_list;
static size_t gen_next;

static char *
list_generator(const char *text, int state)
{
	(void)text;
	if (state == 0)
		gen_next = 0;
	if (gen_next < gen_list.n)
		return strdup(gen_list.v[gen_next++]);
	return NULL;
}

static void
gen_reset(void)
{
	for (size_t i = 0; i < gen_list.n; i++)
		free(gen_list.v[i]);
	free(gen_list.v);
	memset(&gen_list, 0, sizeof gen_list);
}

/* what to complete for word number `idx` of `words`, given `text` */
static bool
complete_word(char **words, int idx, const char *text)
{
	const struct cmd_noun *n;
	const struct cmd_verb *v;
	const struct cmd_opt *prev = NULL;
	int npos = 0;

	if (idx == 0) {
		for (int i = 0; cmd_nouns[i] != NULL; i++)
			cand_add(&gen_list, cmd_nouns[i]->name, text);
		cand_add(&gen_list, "exit", text);
		cand_add(&gen_list, "quit", text);
		return true;
	}
	n = cmd_find_noun(words[0]);
	if (n == NULL)
		return true;
	if (n->verbs == NULL) {
		/* help NOUN VERB */
		if (strcmp(n->name, "help") == 0 && idx == 1)
			for (int i = 0; cmd_nouns[i] != NULL; i++)
				cand_add(&gen_list, cmd_nouns[i]->name, text);
		if (strcmp(n->name, "help") == 0 && idx == 2 &&
		    (n = cmd_find_noun(words[1])) != NULL)
			for (v = n->verbs; v && v->name; v++)
				cand_add(&gen_list, v->name, text);
		return true;
	}
	if (idx == 1) {
		for (v = n->verbs; v->name; v++)
			cand_add(&gen_list, v->name, text);
		return true;
	}
	v = cmd_find_verb(n, words[1]);
	if (v == NULL)
		return true;
	/* where are we: an option's value, an option, or a positional? */
	for (int i = 2; i < idx; i++) {
		if (prev != NULL) {
			prev = NULL;
			continue;
		}
		if (strncmp(words[i], "--", 2) == 0 && strchr(words[i], '=') == NULL) {
			prev = cmd_find_opt(v, words[i] + 2);
			if (prev != NULL && prev->type == OPT_FLAG)
				prev = NULL;
		} else if (words[i][0] != '-') {
			npos++;
		}
	}
	if (prev != NULL)
		return prev->type != OPT_PATH;	/* paths: readline's files */
	if (text[0] == '-') {
		char buf[80];

		for (const struct cmd_opt *o = v->opts; o && o->name; o++) {
			snprintf(buf, sizeof buf, "--%s", o->name);
			cand_add(&gen_list, buf, text);
		}
		cand_add(&gen_list, "--help", text);
		return true;
	}
	if (npos == 0 && v->arg_kind == ARG_VM) {
		cand_vms(&gen_list, text);
		return true;
	}
	if (v->arg_kind == ARG_PATH || (v->arg_kind == ARG_VM && npos > 0 &&
					v->max_pos > 1))
		return false;
	return true;
}

static char **
repl_complete(const char *text, int start, int end)
{
	char *head = strndup(rl_line_buffer, (size_t)start), **words = NULL;
	const char *why;
	int nw;
	char **matches = NULL;

	(void)end;
	rl_attempted_completion_over = 1;
	if (head == NULL)
		return NULL;
	nw = words_split(head, &words, &why);
	free(head);
	if (nw < 0)
		return NULL;
	gen_reset();
	if (complete_word(words, nw, text)) {
		if (gen_list.n > 0)
			matches = rl_completion_matches(text, list_generator);
	} else {
		rl_attempted_completion_over = 0;	/* file names */
	}
	words_free(words);
	return matches;
}

enum cmd_ret
repl_run(struct cmd_ctx *ctx)
{
	char hist[HV_PATH_MAX + 16];
	enum cmd_ret last = CMD_OK;
	char *line;

	repl_ctx = ctx;
	(void)cmd_hv(ctx);	/* creates HV_HOME, so history has a place */
	snprintf(hist, sizeof hist, "%s/history", hv_default_home());
	rl_readline_name = "hv";
	rl_attempted_completion_function = repl_complete;
	using_history();
	read_history(hist);
	stifle_history(2000);
	fprintf(ctx->out, "hv %s shell. `help` lists commands, Tab completes, Ctrl-D leaves.\n",
		HV_VERSION);
	while ((line = readline("hv> ")) != NULL) {
		char **argv;
		const char *why;
		int argc = words_split(line, &argv, &why);

		if (argc < 0) {
			fprintf(ctx->errf, "hv: %s\n", why);
		} else if (argc > 0) {
			add_history(line);
			if (append_history(1, hist) != 0)
				write_history(hist);
			if (strcmp(argv[0], "exit") == 0 || strcmp(argv[0], "quit") == 0) {
				words_free(argv);
				free(line);
				break;
			}
			/* "hv vm list" typed out of habit works too */
			if (strcmp(argv[0], "hv") == 0)
				last = cmd_run(ctx, argc - 1, argv + 1);
			else
				last = cmd_run(ctx, argc, argv);
		}
		words_free(argv);
		free(line);
	}
	gen_reset();
	if (line == NULL)
		fprintf(ctx->out, "\n");
	repl_ctx = NULL;
	return last;
}
