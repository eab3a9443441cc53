/*
 * until-line - start a command and time how long until a line appears in
 * a file, for bench scripts that compare two VMMs the same way.
 *
 *	until-line [-t TIMEOUT_MS] FILE TEXT -- COMMAND [ARG]...
 *
 * Starts COMMAND (stdout and stderr to /dev/null), then reads FILE every
 * 100 us from where it left off until TEXT shows up in it. Prints
 * "MS PID": milliseconds from just before the exec to the moment TEXT was
 * seen, and COMMAND's pid (left running; a command that exits is reaped).
 * Exit 0 when seen, 1 on timeout, 2 on usage errors. Measures both peers
 * with the same clock and the same poll, so neither pays for forks of
 * date(1) or grep(1) in the loop.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int
main(int argc, char **argv)
{
	static char buf[1 << 16];
	const char *file, *text;
	long timeout = 20000;
	size_t have = 0, tlen;
	off_t off = 0;
	double t0;
	pid_t pid;
	int i = 1, fd = -1, null;

	if (argc > 2 && strcmp(argv[1], "-t") == 0) {
		timeout = atol(argv[2]);
		i = 3;
	}
	if (argc - i < 4 || strcmp(argv[i + 2], "--") != 0) {
		fprintf(stderr, "usage: until-line [-t MS] FILE TEXT -- COMMAND [ARG]...\n");
		return 2;
	}
	file = argv[i];
	text = argv[i + 1];
	tlen = strlen(text);
	if (tlen == 0 || tlen >= sizeof buf / 2) {
		fprintf(stderr, "until-line: TEXT must be 1..%zu bytes\n", sizeof buf / 2);
		return 2;
	}
	t0 = now_ms();
	pid = fork();
	if (pid < 0) {
		perror("until-line: fork");
		return 2;
	}
	if (pid == 0) {
		null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execvp(argv[i + 3], argv + i + 3);
		_exit(127);
	}
	for (;;) {
		ssize_t n;

		waitpid(pid, NULL, WNOHANG);
		if (fd < 0)
			fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			while ((n = pread(fd, buf + have, sizeof buf - 1 - have, off)) > 0) {
				off += n;
				have += (size_t)n;
				buf[have] = '\0';
				if (memmem(buf, have, text, tlen) != NULL) {
					printf("%.1f %d\n", now_ms() - t0, (int)pid);
					return 0;
				}
				if (have > sizeof buf / 2) {	/* keep a tail for matches across reads */
					memmove(buf, buf + have - tlen, tlen);
					have = tlen;
				}
			}
		}
		if (now_ms() - t0 > timeout) {
			fprintf(stderr, "until-line: no '%s' in %s after %ld ms\n", text, file, timeout);
			return 1;
		}
		usleep(100);
	}
}
