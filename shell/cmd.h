/*
 * cmd.h - the shell's command tables (tmux's cmd_entry idea).
 *
 * Each noun is one shell/cmd-<noun>.c exporting one struct cmd_noun: a
 * table of verbs, each with its positional arguments, options, help and
 * exec function. Parsing, `help`, `--help` and tab completion are all
 * generated from these tables; nothing is listed twice.
 */
#ifndef HV_CMD_H
#define HV_CMD_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/hv.h"

enum cmd_ret { CMD_OK = 0, CMD_FAIL = 1, CMD_USAGE = 2 };

enum cmd_opt_type {
	OPT_FLAG,	/* --json */
	OPT_STR,	/* --cmdline "..." */
	OPT_PATH,	/* --kernel FILE (completes file names) */
	OPT_SIZE,	/* --memory 2G */
	OPT_NUM,	/* --vcpus 4 */
	OPT_LIST,	/* --disk A --disk B: may repeat */
	OPT_ONOFF,	/* --dhcp-guard (on), --dhcp-guard on|off, --dhcp-guard=off */
};

struct cmd_opt {
	const char *name;	/* without the leading "--" */
	enum cmd_opt_type type;
	const char *metavar;	/* "SIZE"; NULL for flags */
	const char *help;
};

/* what the positional arguments complete to */
enum cmd_arg_kind { ARG_NONE, ARG_VM, ARG_PATH, ARG_WORD };

#define CMD_MAX_POS	8
#define CMD_MAX_OPTS	32
#define CMD_MAX_LIST	16

struct cmd_args {
	int npos;
	const char *pos[CMD_MAX_POS];
	struct {
		const struct cmd_opt *opt;
		const char *val;	/* NULL for flags */
	} set[CMD_MAX_OPTS];
	int nset;
};

struct cmd_ctx {
	struct hv_ctx *hv;	/* opened on first use: cmd_hv() */
	FILE *out;
	FILE *errf;
	bool tty;		/* stdout is a terminal (progress bars) */
	const char *where;	/* "script.hv:3" while running a script */
	/* a front end that is not a plain terminal (the TUI) follows a
	   script here: each command before it runs, and long work */
	void (*on_command)(void *arg, const char *where, const char *line);
	void (*on_progress)(void *arg, const char *what, int pct);
	void *hook_arg;
};

struct cmd_verb {
	const char *name;
	const char *usage;	/* positional part, "NAME [FILE]" */
	int min_pos, max_pos;
	enum cmd_arg_kind arg_kind;
	const struct cmd_opt *opts;	/* terminated by {NULL} */
	const char *help;
	enum cmd_ret (*exec)(struct cmd_ctx *ctx, const struct cmd_args *a);
};

struct cmd_noun {
	const char *name;
	const char *help;
	const struct cmd_verb *verbs;	/* terminated by {NULL} */
	/* nouns without verbs (help, version) run this with their words */
	enum cmd_ret (*exec)(struct cmd_ctx *ctx, int argc, char **argv);
	const char *usage;		/* for those: "[NOUN [VERB]]" */
};

/* the nouns, in help order (cmd.c) */
extern const struct cmd_noun *const cmd_nouns[];

/* option access */
bool cmd_flag(const struct cmd_args *a, const char *name);
const char *cmd_str(const struct cmd_args *a, const char *name);
int cmd_list(const struct cmd_args *a, const char *name, const char **out,
	     int max);
/* parse --NAME as a size/number; 1 if set, 0 if absent, -1 (and an
   error printed) if malformed */
int cmd_size(struct cmd_ctx *ctx, const struct cmd_args *a, const char *name,
	     uint64_t *out);
/* a slot number 0..max-1 in s; -1 after a usage error naming verb ("vm
   nic") and what its slots hold ("adapter") */
int cmd_slot(struct cmd_ctx *ctx, const char *s, int max, const char *verb, const char *what,
	     int *slot);
int cmd_num(struct cmd_ctx *ctx, const struct cmd_args *a, const char *name,
	    long long *out);
/* an OPT_ONOFF option: 1 (and *out) if given, 0 if absent, -1 (and an
   error printed) if its value is not on or off */
int cmd_onoff(struct cmd_ctx *ctx, const struct cmd_args *a, const char *name,
	      bool *out);

/* open the inventory on first use; NULL after printing the error */
struct hv_ctx *cmd_hv(struct cmd_ctx *ctx);
/* print "hv: msg" and map the engine error code to an exit status */
enum cmd_ret cmd_error(struct cmd_ctx *ctx, const struct hv_err *err);
enum cmd_ret cmd_usage_error(struct cmd_ctx *ctx, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* run one command line given as words; argv[0] is the noun */
enum cmd_ret cmd_run(struct cmd_ctx *ctx, int argc, char **argv);
const struct cmd_noun *cmd_find_noun(const char *name);
const struct cmd_verb *cmd_find_verb(const struct cmd_noun *n, const char *name);
const struct cmd_opt *cmd_find_opt(const struct cmd_verb *v, const char *name);
void cmd_print_help(FILE *f, const struct cmd_noun *n, const struct cmd_verb *v);

/* words.c: split a line like a shell does (quotes, backslashes, # comments);
   returns the word count, -1 with *why set on an unterminated quote */
int words_split(const char *line, char ***argv, const char **why);
void words_free(char **argv);

/* json output (cJSON), printed and freed */
struct cJSON;
void cmd_print_json(struct cmd_ctx *ctx, struct cJSON *j);

/* a progress bar on a terminal, JSON events with --json */
struct cmd_progress {
	struct cmd_ctx *ctx;
	const char *what;
	bool json;
	int last_pct;
};
void cmd_progress_cb(void *p, uint64_t done, uint64_t total);
void cmd_progress_end(struct cmd_progress *p);

#endif
