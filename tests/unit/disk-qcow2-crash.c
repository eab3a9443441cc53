/*
 * disk-qcow2-crash.c - qcow2 writes killed with SIGKILL (HV_DISK_FAULT
 * pwrite:N:kill) at 20 points, over a backing file and standalone: the
 * image must pass hv's check and `qemu-img check` (leaks allowed, exit
 * 3), and every write acknowledged before the kill must read back.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/disk/disk-int.h"
#include "tests/tap.h"
#include "tests/unit/disk-test.h"
#include "tests/unit/qcow2-pattern.h"

/* crash safety: the ops a crash child performs, from a seed */
#define CRASH_OPS	40

struct op {
	int kind;		/* 0 write, 1 write_zeroes, 2 discard */
	uint64_t off, len;
};

static void
crash_ops(struct op *ops)
{
	unsigned s = 12345;

	for (int i = 0; i < CRASH_OPS; i++) {
		s = s * 1103515245 + 12345;
		ops[i].kind = (s >> 8) % 10 < 7 ? 0 : (s >> 8) % 10 < 9 ? 1 : 2;
		s = s * 1103515245 + 12345;
		ops[i].off = (uint64_t)((s >> 4) % (SIZE / 512)) * 512;
		s = s * 1103515245 + 12345;
		ops[i].len = (uint64_t)(1 + (s >> 4) % 300) * 512;
		if (ops[i].len > SIZE - ops[i].off)
			ops[i].len = SIZE - ops[i].off;
	}
}

static void
apply_op(uint8_t *want, const struct op *o, int i)
{
	uint64_t a, b;

	switch (o->kind) {
	case 0:
		fill(want + o->off, o->len, 1000 + (unsigned)i);
		break;
	case 1:
		memset(want + o->off, 0, o->len);
		break;
	default:	/* whole 64K clusters inside the range read as zero */
		a = (o->off + 65535) & ~65535ull;
		b = (o->off + o->len) & ~65535ull;
		if (b > a)
			memset(want + a, 0, b - a);
	}
}

static int
crash_child(const char *img)
{
	static uint8_t buf[300 * 512];
	struct op ops[CRASH_OPS];
	struct hv_err err;
	struct disk *d;
	int rc = 0;

	crash_ops(ops);
	if (disk_open(&d, img, 0, &err) < 0)
		return 2;
	for (int i = 0; i < CRASH_OPS && rc == 0; i++) {
		if (ops[i].kind == 0) {
			fill(buf, ops[i].len, 1000 + (unsigned)i);
			rc = disk_write(d, ops[i].off, buf, ops[i].len, &err);
		} else if (ops[i].kind == 1) {
			rc = disk_write_zeroes(d, ops[i].off, ops[i].len, &err);
		} else {
			rc = disk_discard(d, ops[i].off, ops[i].len, &err);
		}
		if (rc == 0 && write(1, "+", 1) != 1)
			return 3;
	}
	disk_close(d);
	return rc ? 1 : 0;
}

/* run the child killed at pwrite n; returns how many ops it acknowledged */
static int
run_killed(const char *img, int n)
{
	char rule[64], c;
	int p[2], acked = 0, st;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		snprintf(rule, sizeof rule, "pwrite:%d:kill", n);
		setenv("HV_DISK_FAULT", rule, 1);
		dup2(p[1], 1);
		close(p[0]);
		execl("/proc/self/exe", "disk-qcow2.t", "crash", img, NULL);
		_exit(127);
	}
	close(p[1]);
	while (read(p[0], &c, 1) == 1)
		acked++;
	close(p[0]);
	waitpid(pid, &st, 0);
	return acked;
}

/* bytes outside the op in flight must be as acknowledged */
static int
crash_content_ok(const char *img, const uint8_t *want, const struct op *inflight)
{
	struct hv_err err = { 0 };
	uint8_t *got = malloc(SIZE);
	struct disk *d;
	int good = 1;

	if (disk_open(&d, img, DISK_RDONLY, &err) < 0) {
		diag("reopen: %s", err.msg);
		free(got);
		return 0;
	}
	if (disk_read(d, 0, got, SIZE, &err) < 0)
		good = 0;
	for (uint64_t i = 0; good && i < SIZE; i++) {
		if (inflight && i >= inflight->off &&
		    i < inflight->off + inflight->len)
			continue;
		if (got[i] != want[i]) {
			diag("byte %llu differs", (unsigned long long)i);
			good = 0;
		}
	}
	disk_close(d);
	free(got);
	return good;
}

static void
test_crash(void)
{
	struct op ops[CRASH_OPS];
	uint8_t *want = malloc(SIZE);
	int bad = 0;

	crash_ops(ops);
	sh("qemu-img convert -f raw -O qcow2 %s %s", tpath("pattern.raw"),
	   tpath("cbase.qcow2"));
	for (int t = 0; t < 20; t++) {
		struct disk_create_opts o = { .fmt = DISK_FMT_QCOW2 };
		struct disk_check_result r = { 0 };
		struct hv_err err = { 0 };
		struct disk *d;
		int acked, q;

		/* even trials: a child over a base (COW); odd: standalone */
		o.parent = t % 2 ? NULL : tpath("cbase.qcow2");
		o.size = SIZE;
		unlink(tpath("crash.qcow2"));
		if (t % 2)
			sh("cp %s %s", tpath("cbase.qcow2"), tpath("crash.qcow2"));
		else if (disk_create(tpath("crash.qcow2"), &o, &err) < 0)
			diag("create: %s", err.msg);
		acked = run_killed(tpath("crash.qcow2"), 1 + (t * 37) % 150);
		memcpy(want, pattern, SIZE);
		for (int i = 0; i < acked; i++)
			apply_op(want, &ops[i], i);
		q = sh("qemu-img check -q %s >/dev/null 2>&1", tpath("crash.qcow2"));
		if (disk_open(&d, tpath("crash.qcow2"), DISK_RDONLY, &err) < 0 ||
		    disk_check(d, false, &r, &err) < 0) {
			diag("trial %d: %s", t, err.msg);
			bad++;
			continue;
		}
		disk_close(d);
		if ((q != 0 && q != 3) || r.errors ||
		    !crash_content_ok(tpath("crash.qcow2"), want,
				      acked < CRASH_OPS ? &ops[acked] : NULL)) {
			diag("trial %d (kill at pwrite %d, %d acked): qemu-img "
			     "check %d, hv errors %llu %s", t, 1 + (t * 37) % 150, acked, q,
			     (unsigned long long)r.errors, r.first);
			bad++;
		}
	}
	ok(bad == 0, "20 SIGKILLs during writes: no corruption, acknowledged "
	   "writes read back");
	free(want);
}

int
main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "crash") == 0)
		return crash_child(argv[2]);
	snprintf(dir, sizeof dir, "/tmp/hv-qcow2c-XXXXXX");
	if (!mkdtemp(dir))
		skip_all("no temp dir");
	if (sh("qemu-img --version >/dev/null 2>&1") != 0)
		skip_all("qemu-img not installed");
	pattern = calloc(1, SIZE);
	for (size_t i = 0; i < NRUNS; i++)
		fill(pattern + runs[i].off, runs[i].len, (unsigned)i + 1);
	write_raw(tpath("pattern.raw"), pattern);
	test_crash();
	sh("rm -rf %s", dir);
	free(pattern);
	return done_testing();
}
