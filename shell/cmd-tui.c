/* cmd-tui.c - `hv tui`: the ncurses console (tui/). */
#include "shell/shell.h"

static enum cmd_ret
tui_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	return tui_main(ctx, argc, argv);
}

const struct cmd_noun cmd_tui_noun = {
	.name = "tui",
	.help = "the full-screen console: VMs, disks, switches, hosts, events, wizards",
	.exec = tui_exec,
	.usage = "",
};
