/* cmd-help.c - `hv help [NOUN [VERB]]` and `hv version`. */
#include <cjson/cJSON.h>
#include <sqlite3.h>
#include <string.h>

#include "shell/cmd.h"

static enum cmd_ret
help_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	const struct cmd_noun *n;
	const struct cmd_verb *v = NULL;

	if (argc == 0) {
		cmd_print_help(ctx->out, NULL, NULL);
		return CMD_OK;
	}
	if (argc > 2)
		return cmd_usage_error(ctx, "help: too many arguments (usage: hv help [NOUN [VERB]])");
	n = cmd_find_noun(argv[0]);
	if (n == NULL)
		return cmd_usage_error(ctx, "help: no command '%s' (try: hv help)", argv[0]);
	if (argc == 2 && (n->verbs == NULL || (v = cmd_find_verb(n, argv[1])) == NULL))
		return cmd_usage_error(ctx, "help: %s has no verb '%s' (try: hv help %s)",
				       n->name, argv[1], n->name);
	cmd_print_help(ctx->out, n, v);
	return CMD_OK;
}

static enum cmd_ret
version_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "--json") == 0) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "version", HV_VERSION);
		cJSON_AddStringToObject(j, "sqlite", sqlite3_libversion());
		cmd_print_json(ctx, j);
		return CMD_OK;
	}
	if (argc > 0)
		return cmd_usage_error(ctx, "version: unexpected argument '%s' (usage: hv version [--json])", argv[0]);
	fprintf(ctx->out, "hv %s (sqlite %s)\n", HV_VERSION, sqlite3_libversion());
	return CMD_OK;
}

const struct cmd_noun cmd_help_noun = {
	.name = "help",
	.help = "show commands, or one noun's or verb's help",
	.exec = help_exec,
	.usage = "[NOUN [VERB]]",
};

const struct cmd_noun cmd_version_noun = {
	.name = "version",
	.help = "print hv's version",
	.exec = version_exec,
	.usage = "[--json]",
};
