/* shell.h - the parts of the hv shell main() ties together. */
#ifndef HV_SHELL_H
#define HV_SHELL_H

#include "shell/cmd.h"

/* script.c */
enum cmd_ret script_run(struct cmd_ctx *ctx, const char *path);
/* console.c */
enum cmd_ret console_attach(struct cmd_ctx *ctx, const char *name);
/* repl.c */
enum cmd_ret repl_run(struct cmd_ctx *ctx);

#endif
