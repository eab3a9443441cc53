/*
 * disk-test.h - what the disk unit tests share: a temp directory, paths
 * in it, and a shell command whose exit status they can test (qemu-img
 * is their oracle).
 */
#ifndef HV_DISK_TEST_H
#define HV_DISK_TEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

/* the test's temp directory, set up by the test (mkdtemp) */
static char dir[64];

/* dir/name, in one of 8 rotating buffers */
static inline const char *
tpath(const char *name)
{
	static char bufs[8][256];
	static int i;
	char *p = bufs[i++ % 8];

	snprintf(p, 256, "%s/%s", dir, name);
	return p;
}

/* run a shell command; its exit status (128 + signal if killed) */
static inline int __attribute__((format(printf, 1, 2)))
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

#endif
