/*
 * term.c - giving the terminal back when a signal ends the TUI. curses'
 * endwin() is not safe in a signal handler, so the handler writes the
 * terminfo strings that leave the alternate screen, show the cursor and
 * reset attributes, restores the termios modes saved before curses
 * started, and dies of the same signal (the shell sees why).
 *
 * Its own file because <term.h> defines macros (lines, columns, tab)
 * that collide with ordinary names.
 */
#include <curses.h>
#include <signal.h>
#include <string.h>
#include <term.h>
#include <termios.h>
#include <unistd.h>

/* not tui/tui.h: the engine header has a parameter named lines */
void term_save(void);
void term_arm(void);

/*
 * Written once before the handlers are installed and only read by them:
 * a handler cannot be passed its state, so this is the TUI's one global.
 */
static struct termios saved_tio;
static bool saved_tio_ok;
static char restore_seq[256];
static size_t restore_len;

static void
restore_add(const char *cap)
{
	char *s = tigetstr(cap);
	size_t n;

	if (s == NULL || s == (char *)-1)
		return;
	n = strlen(s);
	if (restore_len + n < sizeof restore_seq) {
		memcpy(restore_seq + restore_len, s, n);
		restore_len += n;
	}
}

static void
on_signal(int sig)
{
	if (restore_len > 0 && write(STDOUT_FILENO, restore_seq, restore_len) < 0)
		restore_len = 0;
	if (saved_tio_ok)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
	signal(sig, SIG_DFL);
	raise(sig);
}

void
term_save(void)
{
	saved_tio_ok = tcgetattr(STDIN_FILENO, &saved_tio) == 0;
}

void
term_arm(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGQUIT };
	struct sigaction sa;

	restore_add("rmcup");
	restore_add("cnorm");
	restore_add("sgr0");
	restore_add("rmkx");
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
}
