/* shell.h - the parts of the hv shell main() ties together. */
#ifndef HV_SHELL_H
#define HV_SHELL_H

#include "shell/cmd.h"

/* script.c */
enum cmd_ret script_run(struct cmd_ctx *ctx, const char *path);
/* the same from an open stream; name is what errors call it (NULL:
   errors read as for one command) */
enum cmd_ret script_run_stream(struct cmd_ctx *ctx, FILE *f, const char *name);
/* console.c */
enum cmd_ret console_attach(struct cmd_ctx *ctx, const char *name);
/* repl.c */
enum cmd_ret repl_run(struct cmd_ctx *ctx);
/* tui/tui.c: `hv tui` */
enum cmd_ret tui_main(struct cmd_ctx *ctx, int argc, char **argv);

#endif
