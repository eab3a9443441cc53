/*
 * tui.c - `hv tui`: the session, the screen layout (title bar with the
 * views, the view, message and key-hint rows), prompts, and keeping the
 * terminal sane: however the TUI ends (q, an error, SIGINT, SIGTERM,
 * SIGHUP) the terminal is given back as it was. VMs are workers in
 * their own sessions, so they keep running.
 */
#include <locale.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tui/tui.h"

#define TICK_MS		250	/* key wait; the lists refresh every second */

double
tui_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- messages and prompts ---------------------------------------------- */

void
tui_message(struct tui *t, bool error, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->msg, sizeof t->msg, fmt, ap);
	va_end(ap);
	t->msg_error = error;
}

/* the line the shell would print for this error */
void
tui_error(struct tui *t, const struct hv_err *err)
{
	tui_message(t, true, "hv: %s", err->msg[0] ? err->msg : "failed");
}

bool
tui_prompt(struct tui *t, const char *label, char *buf, size_t len)
{
	size_t n = strlen(buf);
	int y = LINES - 2;

	curs_set(1);
	for (;;) {
		int ch;

		move(y, 0);
		clrtoeol();
		attron(A_BOLD);
		draw_text(y, 0, COLS, label, false);
		attroff(A_BOLD);
		draw_text(y, (int)strlen(label) + 1, COLS - (int)strlen(label) - 1, buf, false);
		refresh();
		ch = getch();
		if (ch == ERR)
			continue;
		if (ch == 27) {
			curs_set(0);
			return false;
		}
		if (ch == '\n' || ch == '\r' || ch == KEY_ENTER)
			break;
		if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) && n > 0)
			buf[--n] = '\0';
		else if (ch == 21)	/* Ctrl-U */
			buf[n = 0] = '\0';
		else if (ch >= 32 && ch < 127 && n + 1 < len) {
			buf[n++] = (char)ch;
			buf[n] = '\0';
		}
	}
	curs_set(0);
	return true;
}

bool
tui_confirm(struct tui *t, const char *fmt, ...)
{
	char q[TUI_MSG_MAX];
	va_list ap;
	int ch;

	va_start(ap, fmt);
	vsnprintf(q, sizeof q, fmt, ap);
	va_end(ap);
	move(LINES - 2, 0);
	clrtoeol();
	attron(draw_attr(t, PAIR_WARN, A_BOLD));
	draw_text(LINES - 2, 0, COLS, q, false);
	attroff(draw_attr(t, PAIR_WARN, A_BOLD));
	refresh();
	while ((ch = getch()) == ERR)
		;
	return ch == 'y' || ch == 'Y';
}

/* --- the screen -------------------------------------------------------- */

static const char *const view_names[VIEW_COUNT] = {
	"VMs", "Disks", "Switches", "Hosts", "Events",
};

static void
draw_title(struct tui *t)
{
	char host[64] = "localhost", head[128];
	int x;

	gethostname(host, sizeof host - 1);
	attron(draw_attr(t, PAIR_TITLE, A_REVERSE));
	move(0, 0);
	clrtoeol();
	for (int i = 0; i < COLS; i++)
		mvaddch(0, i, ' ');
	snprintf(head, sizeof head, " hv %s on %s ", HV_VERSION, host);
	draw_text(0, 0, COLS, head, false);
	x = (int)strlen(head) + 1;
	for (int v = 0; v < VIEW_COUNT && x < COLS; v++) {
		char tab[32];

		snprintf(tab, sizeof tab, " %d:%s ", v + 1, view_names[v]);
		if (v == (int)t->view)
			attron(A_BOLD | A_UNDERLINE);
		draw_text(0, x, COLS - x, tab, false);
		if (v == (int)t->view)
			attroff(A_BOLD | A_UNDERLINE);
		x += (int)strlen(tab);
	}
	attroff(draw_attr(t, PAIR_TITLE, A_REVERSE));
}

static void
draw_help(struct tui *t)
{
	static const char *const lines[] = {
		"Virtual machines (1)",
		"  n  New Virtual Machine wizard     e  Settings (memory, dynamic memory, boot)",
		"  s  Start                          d  Shut down (ACPI power button)",
		"  T  Turn off (at once)             p  Pause / resume",
		"  c  Console (Ctrl-] comes back)    x  Delete (asks first)",
		"  S  Save (state to disk; s restores it)",
		"  M  Move wizard (live migration of a running VM to another host)",
		"  /  Filter by name or state        o  Sort: name, state, CPU, memory, uptime",
		"Disks (2)",
		"  n  New Virtual Disk wizard        e  Edit Disk wizard (convert, resize, ...)",
		"Switches (3)",
		"  n  New Virtual Switch wizard      x  Delete (asks first; no VM may use it)",
		"Everywhere",
		"  Tab, 1-5, h/l  switch views       Up/Down, j/k, g/G  move",
		"  r  refresh now                    q  quit (VMs keep running)",
		"",
		"Press any key.",
		NULL,
	};

	erase();
	draw_box(t, 0, 0, LINES, COLS, "hv tui - keys");
	for (int i = 0; lines[i] != NULL && i + 2 < LINES - 1; i++)
		draw_text(i + 2, 2, COLS - 4, lines[i], false);
	refresh();
	timeout(-1);
	getch();
	timeout(TICK_MS);
}

static void
draw_screen(struct tui *t)
{
	int rows = LINES - 3;

	erase();
	if (COLS < 40 || LINES < 10) {
		mvprintw(0, 0, "terminal too small (%dx%d)", COLS, LINES);
		refresh();
		return;
	}
	draw_title(t);
	if (t->view == VIEW_VMS)
		vms_draw(t, 1, rows);
	else
		views_draw(t, 1, rows);
	if (t->msg[0]) {
		int a = t->msg_error ? draw_attr(t, PAIR_ERROR, A_BOLD) : (int)A_NORMAL;

		attron(a);
		draw_text(LINES - 2, 0, COLS, t->msg, true);
		attroff(a);
	}
	draw_hints(t, LINES - 1, t->view == VIEW_VMS ? vms_hints() : views_hints(t));
	refresh();
}

static void
set_view(struct tui *t, int v)
{
	t->view = (enum tui_view)((v + VIEW_COUNT) % VIEW_COUNT);
	t->msg[0] = '\0';
	if (t->view == VIEW_DISKS)
		t->disks_stale = true;
}

/* keys every view shares; true if taken */
static bool
global_key(struct tui *t, int ch)
{
	switch (ch) {
	case 'q':
		t->quit = true;
		return true;
	case '\t':
	case 'l':
		set_view(t, (int)t->view + 1);
		return true;
	case KEY_BTAB:
	case 'h':
		set_view(t, (int)t->view - 1);
		return true;
	case '1': case '2': case '3': case '4': case '5':
		set_view(t, ch - '1');
		return true;
	case '?':
		draw_help(t);
		return true;
	case 'r':
		t->disks_stale = true;
		vms_refresh(t);
		return true;
	case KEY_RESIZE:
		return true;
	}
	return false;
}

static int
tui_loop(struct tui *t)
{
	double last = 0;

	while (!t->quit) {
		int ch;

		if (tui_now() - last >= 1.0) {
			vms_refresh(t);
			last = tui_now();
		}
		draw_screen(t);
		ch = getch();
		if (ch == ERR)
			continue;
		if (t->view == VIEW_VMS ? vms_key(t, ch) : views_key(t, ch)) {
			last = 0;	/* an action: show its effect now */
			continue;
		}
		global_key(t, ch);
	}
	return 0;
}

enum cmd_ret
tui_main(struct cmd_ctx *ctx, int argc, char **argv)
{
	struct tui t;

	if (argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
		fprintf(ctx->out, "usage: hv tui\n\n"
			"The full-screen console: VMs with live state, CPU and memory,\n"
			"disks, switches, hosts and events, and the wizards (New Virtual\n"
			"Machine, New Virtual Disk, Edit Disk, New Virtual Switch, Settings,\n"
			"Move).\n"
			"Press ? inside for the keys. NO_COLOR=1 for monochrome, HV_ASCII=1\n"
			"for ASCII lines.\n");
		return CMD_OK;
	}
	if (argc > 0)
		return cmd_usage_error(ctx, "tui: unexpected argument '%s' (usage: hv tui)", argv[0]);
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))
		return cmd_usage_error(ctx, "tui: needs a terminal (use hv commands in scripts)");
	if (cmd_hv(ctx) == NULL)
		return CMD_FAIL;
	memset(&t, 0, sizeof t);
	t.ctx = ctx;
	t.hv = ctx->hv;
	t.disks_stale = true;

	setlocale(LC_ALL, "");
	term_save();
	if (getenv("ESCDELAY") == NULL)
		setenv("ESCDELAY", "25", 1);	/* Esc cancels at once */
	if (initscr() == NULL) {
		fprintf(ctx->errf, "hv: tui: cannot set up the terminal (TERM=%s)\n",
			getenv("TERM") ? getenv("TERM") : "");
		return CMD_FAIL;
	}
	term_arm();
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	timeout(TICK_MS);
	draw_init(&t);

	tui_loop(&t);

	endwin();
	vms_free(&t);
	views_free(&t);
	return CMD_OK;
}
