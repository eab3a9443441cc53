/*
 * disk-io.c - the one door every disk driver uses to reach its file, so
 * tests can make the Nth call fail (SQLite's fault-injection idea).
 *
 * HV_DISK_FAULT holds comma-separated rules "OP:N:WHAT":
 *	OP	pread, pwrite, fsync or ftruncate
 *	N	the call (1-based, counted per OP) that fails; "N+" fails
 *		that call and every later one
 *	WHAT	an errno name (EIO, ENOSPC, EDQUOT, EROFS, EFBIG, ENOMEM),
 *		"short" (pwrite only: half the data lands, then ENOSPC),
 *		or "kill" (SIGKILL before the call: a crash at that point)
 * e.g. HV_DISK_FAULT=pwrite:7:kill. The variable is read once.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/disk-int.h"

enum dio_op { DIO_PREAD, DIO_PWRITE, DIO_FSYNC, DIO_FTRUNCATE, DIO_NOPS };

#define DIO_MAX_RULES	8
#define DIO_SHORT	(-10000)	/* rule action: a short write */
#define DIO_KILL	(-10001)	/* rule action: SIGKILL */
#define DIO_RESERVE_MIN	(256u << 10)	/* see dio_reserve() */

struct dio_rule {
	enum dio_op op;
	unsigned long n;
	bool and_later;
	int action;		/* an errno value, DIO_SHORT or DIO_KILL */
};

/*
 * Test-only state: the parsed rules are written once under
 * pthread_once, and the call counters are atomics, so concurrent
 * readers and writers (convert's pipeline) count correctly.
 */
static struct dio_rule dio_rules[DIO_MAX_RULES];
static int dio_nrules;
static atomic_ulong dio_calls[DIO_NOPS];
static pthread_once_t dio_once = PTHREAD_ONCE_INIT;

/*
 * Set by convert on its writer thread: the destination is a new file
 * nobody else has seen and is removed if convert fails, so ordering
 * flushes buy nothing there (qemu-img convert's cache=unsafe); its big
 * writes also reserve their blocks first (dio_reserve).
 */
static _Thread_local bool dio_nosync;

void
dio_set_nosync(bool on)
{
	dio_nosync = on;
}

static const char *const dio_op_names[DIO_NOPS] = {
	[DIO_PREAD] = "pread", [DIO_PWRITE] = "pwrite",
	[DIO_FSYNC] = "fsync", [DIO_FTRUNCATE] = "ftruncate",
};

static const struct {
	const char *name;
	int value;
} dio_errnos[] = {
	{ "EIO", EIO }, { "ENOSPC", ENOSPC }, { "EDQUOT", EDQUOT },
	{ "EROFS", EROFS }, { "EFBIG", EFBIG }, { "ENOMEM", ENOMEM },
	{ "short", DIO_SHORT }, { "kill", DIO_KILL },
};

static bool
dio_parse_rule(char *s, struct dio_rule *r)
{
	char *op = strtok_r(s, ":", &s), *n = strtok_r(NULL, ":", &s);
	char *what = strtok_r(NULL, ":", &s), *end;
	size_t i;

	if (op == NULL || n == NULL || what == NULL)
		return false;
	for (i = 0; i < DIO_NOPS; i++)
		if (strcmp(op, dio_op_names[i]) == 0)
			break;
	if (i == DIO_NOPS)
		return false;
	r->op = (enum dio_op)i;
	r->n = strtoul(n, &end, 10);
	r->and_later = *end == '+';
	if (r->n == 0 || (*end != '\0' && strcmp(end, "+") != 0))
		return false;
	for (i = 0; i < sizeof dio_errnos / sizeof dio_errnos[0]; i++) {
		if (strcmp(what, dio_errnos[i].name) == 0) {
			r->action = dio_errnos[i].value;
			return true;
		}
	}
	return false;
}

static void
dio_parse(void)
{
	const char *env = getenv("HV_DISK_FAULT");
	char *copy, *rule, *save;

	if (env == NULL || *env == '\0')
		return;
	copy = strdup(env);
	if (copy == NULL)
		return;
	for (rule = strtok_r(copy, ",", &save); rule != NULL;
	     rule = strtok_r(NULL, ",", &save)) {
		if (dio_nrules == DIO_MAX_RULES)
			break;
		if (dio_parse_rule(rule, &dio_rules[dio_nrules]))
			dio_nrules++;
	}
	free(copy);
}

/* 0 to go ahead, else the action of the rule that fires for this call */
static int
dio_fault(enum dio_op op)
{
	unsigned long call;

	pthread_once(&dio_once, dio_parse);
	if (dio_nrules == 0)
		return 0;
	call = atomic_fetch_add(&dio_calls[op], 1) + 1;
	for (int i = 0; i < dio_nrules; i++) {
		const struct dio_rule *r = &dio_rules[i];

		if (r->op != op)
			continue;
		if (call == r->n || (r->and_later && call > r->n)) {
			if (r->action == DIO_KILL)
				raise(SIGKILL);
			return r->action;
		}
	}
	return 0;
}

/*
 * Read len bytes at off. Partial reads are retried; at end of file the
 * rest of buf is zeroed and the bytes really read are returned, so a
 * driver that forgets to check still never sees stale memory.
 */
ssize_t
dio_pread(int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;
	int f = dio_fault(DIO_PREAD);

	if (f > 0)
		return -f;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done,
				  off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		done += (size_t)n;
	}
	memset((char *)buf + done, 0, len - done);
	return (ssize_t)done;
}

/*
 * Convert's big writes go to space nobody has written yet (or rewrite
 * its own). Reserving the blocks in one call first spares the file
 * system its page-by-page delayed-allocation bookkeeping during the
 * copy (about a third of ext4's buffered-write time); the write then
 * fills blocks that already exist. Only a hint: errors are ignored,
 * the write itself reports a full disk.
 */
static void
dio_reserve(int fd, size_t len, off_t off)
{
	(void)fallocate(fd, 0, off, (off_t)len);
}

/* Write all of buf at off, or return -errno. */
ssize_t
dio_pwrite(int fd, const void *buf, size_t len, off_t off)
{
	size_t done = 0;
	int f = dio_fault(DIO_PWRITE);

	if (f > 0)
		return -f;
	if (f == DIO_SHORT) {
		/* half lands, then the disk "fills up" */
		len /= 2;
	}
	if (dio_nosync && len >= DIO_RESERVE_MIN)
		dio_reserve(fd, len, off);
	while (done < len) {
		ssize_t n = pwrite(fd, (const char *)buf + done, len - done,
				   off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	if (f == DIO_SHORT)
		return -ENOSPC;
	return (ssize_t)done;
}

int
dio_fsync(int fd)
{
	int f = dio_fault(DIO_FSYNC);

	if (f > 0)
		return -f;
	if (dio_nosync)
		return 0;
	/* fdatasync is enough: sizes are metadata it still syncs */
	if (fdatasync(fd) < 0)
		return -errno;
	return 0;
}

int
dio_ftruncate(int fd, off_t len)
{
	int f = dio_fault(DIO_FTRUNCATE);

	if (f > 0)
		return -f;
	if (ftruncate(fd, len) < 0)
		return -errno;
	return 0;
}
