/*
 * script.c - running hv scripts: `hv -f FILE`, `#!/usr/bin/env hv`
 * files, and commands piped to stdin.
 *
 * One command a line, `#` comments, blank lines ignored, and set -e
 * semantics: the first failing line stops the script, which exits 1
 * with "hv: FILE:LINE: what went wrong".
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shell/shell.h"

enum cmd_ret
script_run(struct cmd_ctx *ctx, const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	enum cmd_ret rc;

	if (f == NULL) {
		fprintf(ctx->errf, "hv: %s: %s\n", path, strerror(errno));
		return CMD_FAIL;
	}
	rc = script_run_stream(ctx, f, f == stdin ? "<stdin>" : path);
	if (f != stdin)
		fclose(f);
	return rc;
}

enum cmd_ret
script_run_stream(struct cmd_ctx *ctx, FILE *f, const char *name)
{
	char *line = NULL, where[HV_PATH_MAX + 32];
	size_t cap = 0;
	long lineno = 0;
	enum cmd_ret rc = CMD_OK;

	while (getline(&line, &cap, f) >= 0) {
		char **argv;
		const char *why;
		int argc;

		lineno++;
		snprintf(where, sizeof where, "%s:%ld", name ? name : "", lineno);
		argc = words_split(line, &argv, &why);
		if (argc < 0) {
			fprintf(ctx->errf, "hv: %s: %s\n", where, why);
			rc = CMD_FAIL;
			break;
		}
		ctx->where = name != NULL ? where : NULL;
		if (argc > 0 && ctx->on_command != NULL)
			ctx->on_command(ctx->hook_arg, where, line);
		/* a leading "hv" is allowed, so lines can be pasted from docs */
		if (argc > 0 && strcmp(argv[0], "hv") == 0)
			rc = cmd_run(ctx, argc - 1, argv + 1);
		else
			rc = cmd_run(ctx, argc, argv);
		ctx->where = NULL;
		words_free(argv);
		if (rc != CMD_OK) {
			/* whatever failed, the script as a whole failed: 1 */
			rc = CMD_FAIL;
			break;
		}
	}
	free(line);
	return rc;
}
