/*
 * console.c - `hv vm console NAME`: the VM's serial console on this
 * terminal. Raw mode while attached; Ctrl-] detaches (telnet's and
 * virsh's habit); the terminal is restored however we leave.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "shell/shell.h"

#define DETACH_KEY	0x1d	/* Ctrl-] */

enum cmd_ret
console_attach(struct cmd_ctx *ctx, const char *name)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct termios saved, raw;
	struct hv_err err;
	bool tty = isatty(STDIN_FILENO), stdin_open = true;
	char buf[4096];
	int fd;
	enum cmd_ret rc = CMD_OK;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_vm_console(hv, name, &fd, &err) != 0)
		return cmd_error(ctx, &err);
	if (tty) {
		fprintf(stderr, "Connected to %s's console. Ctrl-] detaches.\r\n", name);
		tcgetattr(STDIN_FILENO, &saved);
		raw = saved;
		cfmakeraw(&raw);
		tcsetattr(STDIN_FILENO, TCSANOW, &raw);
	}
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = stdin_open ? STDIN_FILENO : -1, .events = POLLIN },
		};
		ssize_t n;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			n = read(fd, buf, sizeof buf);
			if (n <= 0) {
				if (tty)
					tcsetattr(STDIN_FILENO, TCSANOW, &saved);
				fprintf(stderr, "\r\nhv: %s: the VM stopped\n", name);
				tty = false;
				break;
			}
			if (write(STDOUT_FILENO, buf, (size_t)n) != n)
				break;
		}
		if (p[1].revents) {
			char *k;

			n = read(STDIN_FILENO, buf, sizeof buf);
			if (n <= 0) {
				/* input ended (a pipe): keep showing output */
				stdin_open = false;
				continue;
			}
			k = memchr(buf, DETACH_KEY, (size_t)n);
			if (k != NULL)
				n = k - buf;
			if (n > 0 && write(fd, buf, (size_t)n) != n)
				break;
			if (k != NULL)
				break;
		}
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
		fprintf(stderr, "\r\nDetached from %s.\n", name);
	}
	close(fd);
	return rc;
}
