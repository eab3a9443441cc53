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
	const char *name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	char *line = NULL, where[HV_PATH_MAX + 32];
	size_t cap = 0;
	long lineno = 0;
	enum cmd_ret rc = CMD_OK;

	if (f == NULL) {
		fprintf(ctx->errf, "hv: %s: %s\n", path, strerror(errno));
		return CMD_FAIL;
	}
	while (getline(&line, &cap, f) >= 0) {
		char **argv;
		const char *why;
		int argc;

		lineno++;
		snprintf(where, sizeof where, "%s:%ld", name, lineno);
		argc = words_split(line, &argv, &why);
		if (argc < 0) {
			fprintf(ctx->errf, "hv: %s: %s\n", where, why);
			rc = CMD_FAIL;
			break;
		}
		ctx->where = where;
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
	if (f != stdin)
		fclose(f);
	return rc;
}
