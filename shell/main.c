/*
 * main.c - the `hv` entry point.
 *
 *	hv                      interactive shell on a terminal
 *	hv NOUN VERB ...        one command, then exit
 *	hv -f FILE | hv FILE    a script (also #!/usr/bin/env hv)
 *	... | hv                commands from stdin, like a script
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shell/shell.h"

int
main(int argc, char **argv)
{
	struct cmd_ctx ctx = {
		.out = stdout,
		.errf = stderr,
		.tty = isatty(STDERR_FILENO) && isatty(STDOUT_FILENO),
	};
	enum cmd_ret rc;

	signal(SIGPIPE, SIG_IGN);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		cmd_print_help(stdout, NULL, NULL);
		return CMD_OK;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		char *v[] = { "version", NULL };

		return cmd_run(&ctx, 1, v);
	}
	if (argc >= 2 && strcmp(argv[1], "-f") == 0) {
		if (argc != 3) {
			fprintf(stderr, "hv: -f needs exactly one FILE (usage: hv -f SCRIPT)\n");
			return CMD_USAGE;
		}
		rc = script_run(&ctx, argv[2]);
	} else if (argc == 2 && cmd_find_noun(argv[1]) == NULL &&
		   access(argv[1], F_OK) == 0) {
		/* `#!/usr/bin/env hv` runs as `hv FILE` */
		rc = script_run(&ctx, argv[1]);
	} else if (argc >= 2) {
		if (argv[1][0] == '-') {
			fprintf(stderr, "hv: unknown option '%s' (usage: hv [-f SCRIPT | NOUN VERB ...]; hv help)\n",
				argv[1]);
			return CMD_USAGE;
		}
		rc = cmd_run(&ctx, argc - 1, argv + 1);
	} else if (isatty(STDIN_FILENO)) {
		rc = repl_run(&ctx);
	} else {
		rc = script_run(&ctx, "-");
	}
	hv_close(ctx.hv);
	return rc;
}
