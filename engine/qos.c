/*
 * qos.c - the QoS arbiter (engine/qos.h): max-min fair shares with
 * reserves, and the table in $HV_HOME/run/qos/DOMAIN that participants in
 * different processes share it through.
 *
 * Why a mapped file and flock rather than a daemon or messages: every
 * running VM is its own process and hv has no daemon, yet the ports of one
 * switch must agree on one division of its capacity. A small table they
 * all map is the cheapest common ground: an update is a lock, a look at
 * 64 slots and an unlock, ten times a second per participant; a process
 * that dies holds nothing (the kernel drops its flock) and its slot is
 * reaped by the next update, by its pid or by its heartbeat.
 *
 * What the table holds matters only while its participants run, and only
 * to the build that wrote it, so it holds native structs; a header with a
 * magic, version and sizes makes a table from another build be started
 * over rather than misread.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/qos.h"

typedef unsigned __int128 u128;

/* --- allocation -------------------------------------------------------- */

/* what c can use at most: its demand, under its limit and the capacity */
static uint64_t
want_of(const struct qos_claim *c, uint64_t capacity)
{
	uint64_t w = c->demand;

	if (c->limit != 0 && w > c->limit)
		w = c->limit;
	if (capacity != 0 && w > capacity)
		w = capacity;
	return w;
}

static uint64_t
weight_of(const struct qos_claim *c)
{
	return c->weight ? c->weight : 1;
}

/* water-filling: left shared by weight among those below their want,
   none given past it; a pass that fills nobody up ends it */
static void
share(int n, const struct qos_claim *in, uint64_t capacity, uint64_t left,
      uint64_t *out)
{
	for (;;) {
		u128 wsum = 0;
		uint64_t level_left = left;
		bool filled = false;

		for (int i = 0; i < n; i++)
			if (out[i] < want_of(&in[i], capacity))
				wsum += weight_of(&in[i]);
		if (wsum == 0 || left == 0)
			return;
		/* everyone whose need fits its share at this level gets it all;
		   that only raises the level for the others */
		for (int i = 0; i < n; i++) {
			uint64_t w = want_of(&in[i], capacity), need;

			if (out[i] >= w)
				continue;
			need = w - out[i];
			if ((u128)need * wsum <= (u128)level_left * weight_of(&in[i])) {
				out[i] += need;
				left -= need;
				filled = true;
			}
		}
		if (filled)
			continue;
		for (int i = 0; i < n; i++)
			if (out[i] < want_of(&in[i], capacity))
				out[i] += (uint64_t)((u128)left * weight_of(&in[i]) / wsum);
		return;
	}
}

void
qos_allocate(int n, const struct qos_claim *in, uint64_t capacity,
	     uint64_t *out)
{
	u128 total = 0, reserved = 0;

	if (capacity == 0) {
		for (int i = 0; i < n; i++)
			out[i] = in[i].limit;
		return;
	}
	for (int i = 0; i < n; i++)
		total += want_of(&in[i], capacity);
	if (total <= capacity) {
		for (int i = 0; i < n; i++)
			out[i] = want_of(&in[i], capacity);
		return;
	}
	/* contention: reserves first */
	for (int i = 0; i < n; i++) {
		uint64_t w = want_of(&in[i], capacity);

		out[i] = in[i].reserve < w ? in[i].reserve : w;
		reserved += out[i];
	}
	if (reserved > capacity) {
		for (int i = 0; i < n; i++)
			out[i] = (uint64_t)((u128)out[i] * capacity / reserved);
		return;
	}
	share(n, in, capacity, capacity - (uint64_t)reserved, out);
}

/* --- the shared table -------------------------------------------------- */

#define QOS_MAGIC	0x53517668u	/* "hvQS" */
#define QOS_VERSION	1

struct qos_slot {
	int32_t pid;		/* 0: free */
	uint32_t weight;
	uint64_t reserve, limit;
	uint64_t demand;	/* as claimed, capped at the capacity */
	uint64_t granted;	/* its share at its last update */
	uint64_t heartbeat_ms;	/* CLOCK_MONOTONIC of its last update */
	char key[QOS_KEY_MAX];
};

struct qos_table {
	uint32_t magic, version, nslots, slot_size;
	uint64_t capacity;	/* as the last updater gave it */
	uint64_t updated_ms;
	struct qos_slot slot[QOS_SLOTS];
};

struct qos {
	int fd;
	struct qos_table *t;
	int slot;		/* -1: none (the table was full) */
	int32_t pid;
	int peers;
	uint64_t granted;
	char key[QOS_KEY_MAX];
};

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* wait: false never waits for another participant, it fails instead */
static bool
lock_table(struct qos *q, bool wait)
{
	while (flock(q->fd, LOCK_EX | (wait ? 0 : LOCK_NB)) != 0)
		if (errno != EINTR)
			return false;
	return true;
}

static void
unlock_table(struct qos *q)
{
	flock(q->fd, LOCK_UN);
}

static bool
header_ok(const struct qos_table *t)
{
	return t->magic == QOS_MAGIC && t->version == QOS_VERSION &&
	       t->nslots == QOS_SLOTS && t->slot_size == sizeof t->slot[0];
}

/* a slot whose process is gone or has not updated for QOS_STALE_MS (a
   heartbeat from the future is from before a reboot) */
static bool
stale(const struct qos_slot *s, uint64_t now)
{
	if (s->pid < 0 || s->heartbeat_ms > now || now - s->heartbeat_ms > QOS_STALE_MS)
		return true;
	return kill(s->pid, 0) != 0 && errno == ESRCH;
}

static void
reap(struct qos_table *t, uint64_t now)
{
	for (int i = 0; i < QOS_SLOTS; i++)
		if (t->slot[i].pid != 0 && stale(&t->slot[i], now))
			memset(&t->slot[i], 0, sizeof t->slot[i]);
}

static bool
mine(const struct qos *q)
{
	const struct qos_slot *s;

	if (q->slot < 0)
		return false;
	s = &q->t->slot[q->slot];
	return s->pid == q->pid && strcmp(s->key, q->key) == 0;
}

/* a free slot for q, with the table locked; q->slot -1 if it is full */
static void
claim_slot(struct qos *q, uint64_t now)
{
	q->slot = -1;
	for (int i = 0; i < QOS_SLOTS; i++) {
		struct qos_slot *s = &q->t->slot[i];

		if (s->pid != 0)
			continue;
		memset(s, 0, sizeof *s);
		s->pid = q->pid;
		s->weight = 1;
		s->heartbeat_ms = now;
		snprintf(s->key, sizeof s->key, "%s", q->key);
		q->slot = i;
		return;
	}
}

static bool
domain_valid(const char *d)
{
	if (d[0] == '\0' || d[0] == '.' || strlen(d) > 64)
		return false;
	for (const char *p = d; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", *p))
			return false;
	return true;
}

/* $home/run/qos/domain, opened (made if missing) */
static int
open_table(const char *home, const char *domain, struct hv_err *err)
{
	static const char *const dirs[] = { "run", "run/qos" };
	char path[4096];
	int fd;

	for (int i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", home, dirs[i]);
		if (mkdir(path, 0700) != 0 && errno != EEXIST)
			return hv_fail(err, HV_EIO, "QoS table: %s: %s", path, strerror(errno));
	}
	if (snprintf(path, sizeof path, "%s/run/qos/%s", home, domain) >= (int)sizeof path)
		return hv_fail(err, HV_EINVAL, "QoS table: %s: path too long", home);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return hv_fail(err, HV_EIO, "QoS table: %s: %s", path, strerror(errno));
	return fd;
}

/* map the table, with it locked; a new file, or one of another kind or
   build, starts over (never shorter: whoever maps it keeps its pages) */
static int
map_table(struct qos *q, struct hv_err *err)
{
	struct stat st;
	void *p;

	if (fstat(q->fd, &st) != 0)
		return hv_fail(err, HV_EIO, "QoS table: %s", strerror(errno));
	if (st.st_size < (off_t)sizeof *q->t && ftruncate(q->fd, sizeof *q->t) != 0)
		return hv_fail(err, HV_EIO, "QoS table: %s", strerror(errno));
	p = mmap(NULL, sizeof *q->t, PROT_READ | PROT_WRITE, MAP_SHARED, q->fd, 0);
	if (p == MAP_FAILED)
		return hv_fail(err, HV_EIO, "QoS table: mmap: %s", strerror(errno));
	q->t = p;
	if (!header_ok(q->t)) {
		memset(q->t, 0, sizeof *q->t);
		q->t->magic = QOS_MAGIC;
		q->t->version = QOS_VERSION;
		q->t->nslots = QOS_SLOTS;
		q->t->slot_size = sizeof q->t->slot[0];
	}
	return 0;
}

int
qos_join(struct qos **out, const char *home, const char *domain,
	 const char *key, struct hv_err *err)
{
	struct qos *q;
	int rc;

	*out = NULL;
	if (!domain_valid(domain))
		return hv_fail(err, HV_EINVAL, "QoS domain '%s': use letters, digits, '_', '.' and '-'", domain);
	if (strlen(key) >= QOS_KEY_MAX)
		return hv_fail(err, HV_EINVAL, "QoS key '%s': longer than %d bytes", key, QOS_KEY_MAX - 1);
	if ((q = calloc(1, sizeof *q)) == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	snprintf(q->key, sizeof q->key, "%s", key);
	q->pid = (int32_t)getpid();
	q->slot = -1;
	if ((q->fd = open_table(home, domain, err)) < 0) {
		free(q);
		return -1;
	}
	if (!lock_table(q, true)) {
		hv_fail(err, HV_EIO, "QoS table %s: flock: %s", domain, strerror(errno));
		close(q->fd);
		free(q);
		return -1;
	}
	rc = map_table(q, err);
	if (rc == 0) {
		reap(q->t, now_ms());
		claim_slot(q, now_ms());
	}
	unlock_table(q);
	if (rc != 0) {
		close(q->fd);
		free(q);
		return -1;
	}
	*out = q;
	return 0;
}

/* the live claims, q's own at *self (appended when it has no slot) */
static int
gather(const struct qos *q, const struct qos_claim *own,
       struct qos_claim *c, int *self)
{
	int n = 0;

	*self = -1;
	for (int i = 0; i < QOS_SLOTS; i++) {
		const struct qos_slot *s = &q->t->slot[i];

		if (s->pid == 0)
			continue;
		if (i == q->slot)
			*self = n;
		c[n++] = (struct qos_claim){ s->reserve, s->limit, s->weight, s->demand };
	}
	if (*self < 0) {
		*self = n;
		c[n++] = *own;
	}
	return n;
}

uint64_t
qos_update(struct qos *q, uint64_t capacity, const struct qos_claim *claim)
{
	struct qos_claim c[QOS_SLOTS + 1], own = *claim;
	uint64_t grant[QOS_SLOTS + 1], now = now_ms();
	int n, self;

	if (capacity != 0 && own.demand > capacity)
		own.demand = capacity;
	if (own.weight == 0)
		own.weight = 1;
	/* the caller may be a packet path: rather than wait for a participant
	   that was preempted holding the lock, keep the grant until next time */
	if (!lock_table(q, false))
		return q->granted;
	reap(q->t, now);
	if (!mine(q))
		claim_slot(q, now);
	if (q->slot >= 0) {
		struct qos_slot *s = &q->t->slot[q->slot];

		s->reserve = own.reserve;
		s->limit = own.limit;
		s->weight = own.weight;
		s->demand = own.demand;
		s->heartbeat_ms = now;
	}
	n = gather(q, &own, c, &self);
	qos_allocate(n, c, capacity, grant);
	if (q->slot >= 0)
		q->t->slot[q->slot].granted = grant[self];
	q->t->capacity = capacity;
	q->t->updated_ms = now;
	unlock_table(q);
	q->peers = n;
	q->granted = grant[self];
	return q->granted;
}

int
qos_peers(const struct qos *q)
{
	return q->peers;
}

void
qos_leave(struct qos *q)
{
	if (q == NULL)
		return;
	if (lock_table(q, true)) {
		if (mine(q))
			memset(&q->t->slot[q->slot], 0, sizeof q->t->slot[0]);
		unlock_table(q);
	}
	munmap(q->t, sizeof *q->t);
	close(q->fd);
	free(q);
}
