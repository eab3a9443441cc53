/* qos.c - the QoS arbiter: qos_allocate's shares (demand when it fits,
 * reserves first under contention, max-min fair by weight after), and
 * the shared table: two handles in one process, a forked child, the dead
 * and the silent reaped, a full table, a table from elsewhere. */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/qos.h"
#include "tests/tap.h"

#define M		1000000ull
#define ALL		QOS_UNBOUNDED

static struct qos_claim
cl(uint64_t reserve, uint64_t limit, unsigned weight, uint64_t demand)
{
	return (struct qos_claim){ reserve, limit, weight, demand };
}

/* out as "a b c" in Mbit/s, for is_str */
static const char *
mbits(int n, const uint64_t *out)
{
	static char buf[256];
	size_t len = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%llu", i ? " " : "",
					(unsigned long long)(out[i] / M));
	return buf;
}

static const char *
alloc(int n, const struct qos_claim *c, uint64_t capacity)
{
	uint64_t out[8];

	qos_allocate(n, c, capacity * M, out);
	return mbits(n, out);
}

static void
allocation(void)
{
	struct qos_claim c[4];

	c[0] = cl(70 * M, 0, 1, ALL);
	c[1] = cl(10 * M, 0, 1, ALL);
	is_str(alloc(2, c, 100), "80 20",
	       "both flat out: reserves 70 and 10, the 20 left shared evenly");
	c[1] = cl(10 * M, 0, 1, 0);
	is_str(alloc(2, c, 100), "100 0", "one idle: the busy one gets it all");
	c[0] = cl(70 * M, 0, 1, 30 * M);
	c[1] = cl(10 * M, 0, 1, 50 * M);
	is_str(alloc(2, c, 100), "30 50", "demands that fit are met as they are");
	c[0] = cl(70 * M, 0, 1, 5 * M);
	c[1] = cl(0, 0, 1, ALL);
	is_str(alloc(2, c, 100), "5 95", "an unused reserve is not held back");

	c[0] = cl(0, 0, 1, 10 * M);
	c[1] = cl(0, 0, 1, ALL);
	c[2] = cl(0, 0, 1, ALL);
	is_str(alloc(3, c, 100), "10 45 45", "max-min: the small demand is met, the rest split");
	c[0] = cl(0, 0, 3, ALL);
	c[1] = cl(0, 0, 1, ALL);
	is_str(alloc(2, c, 100), "75 25", "weights 3:1");
	c[0] = cl(0, 0, 0, ALL);
	c[1] = cl(0, 0, 1, ALL);
	is_str(alloc(2, c, 100), "50 50", "weight 0 counts as 1");
	c[0] = cl(0, 30 * M, 1, ALL);
	c[1] = cl(0, 0, 1, ALL);
	is_str(alloc(2, c, 100), "30 70", "a limit caps a share; the rest goes to the other");
	c[0] = cl(50 * M, 20 * M, 1, ALL);
	c[1] = cl(0, 0, 1, ALL);
	is_str(alloc(2, c, 100), "20 80", "a limit below the reserve wins");
	c[0] = cl(80 * M, 0, 1, ALL);
	c[1] = cl(40 * M, 0, 1, ALL);
	c[2] = cl(0, 0, 1, ALL);
	is_str(alloc(3, c, 120), "80 40 0", "reserves that fill the capacity exactly");
	is_str(alloc(3, c, 90), "60 30 0", "oversubscribed reserves are scaled down in proportion");
	c[0] = cl(20 * M, 0, 1, ALL);
	c[1] = cl(0, 0, 1, 10 * M);
	c[2] = cl(0, 0, 2, ALL);
	is_str(alloc(3, c, 100), "43 10 46",
	       "a reserve of 20, then water-filling: 10 is met, the 70 left goes 1:2");
	c[0] = cl(10 * M, 50 * M, 1, 20 * M);
	is_str(alloc(1, c, 0), "50", "capacity 0: the limit");
	c[0] = cl(10 * M, 0, 1, 20 * M);
	is_str(alloc(1, c, 0), "0", "capacity 0 and no limit: 0, unlimited");
}

/* the properties for any claims: within capacity, demand and limit;
   reserves honoured when they fit; nothing idle while someone wants */
static void
properties(void)
{
	uint64_t out[QOS_SLOTS], want[QOS_SLOTS], cap;
	struct qos_claim c[QOS_SLOTS];
	int bad = 0;

	srand(7);
	for (int round = 0; round < 2000; round++) {
		int n = 1 + rand() % QOS_SLOTS;
		uint64_t sum = 0, rsum = 0, wsum = 0;
		bool hungry = false;

		cap = (uint64_t)(1 + rand() % 10000) * M;
		for (int i = 0; i < n; i++) {
			c[i] = cl(rand() % 3 ? 0 : (uint64_t)(rand() % 300) * M,
				  rand() % 4 ? 0 : (uint64_t)(1 + rand() % 2000) * M,
				  (unsigned)(rand() % 5),
				  rand() % 3 ? ALL : (uint64_t)(rand() % 3000) * M);
		}
		qos_allocate(n, c, cap, out);
		for (int i = 0; i < n; i++) {
			want[i] = c[i].demand < cap ? c[i].demand : cap;
			if (c[i].limit && want[i] > c[i].limit)
				want[i] = c[i].limit;
			sum += out[i];
			wsum += want[i];
			rsum += c[i].reserve < want[i] ? c[i].reserve : want[i];
			if (out[i] > want[i])
				bad++;
			hungry |= out[i] < want[i];
		}
		if (sum > cap)
			bad++;
		if (rsum <= cap)
			for (int i = 0; i < n; i++)
				if (out[i] < (c[i].reserve < want[i] ? c[i].reserve : want[i]))
					bad++;
		/* work-conserving, up to a unit of rounding per claim */
		if (hungry && wsum > cap && rsum <= cap && sum + (uint64_t)n < cap)
			bad++;
	}
	is_int(bad, 0, "2000 random claim sets: within capacity, demand, limit and reserve, none left idle");

	for (int i = 0; i < QOS_SLOTS; i++)
		c[i] = cl(UINT64_MAX / 2, 0, UINT32_MAX, ALL);
	qos_allocate(QOS_SLOTS, c, UINT64_MAX, out);
	ok(out[0] == UINT64_MAX / QOS_SLOTS && out[63] == out[0], "64 huge claims on a huge capacity do not overflow");
}

static char home[64];

static void
table_two_handles(struct qos **qa, struct qos **qb)
{
	struct qos_claim a = cl(70 * M, 0, 1, ALL), b = cl(10 * M, 0, 1, ALL);
	struct hv_err err;
	struct stat st;
	char path[128];

	ok(qos_join(qa, home, "net-hv-lan", "vm-a:nic0", &err) == 0, "join: a");
	ok(qos_join(qb, home, "net-hv-lan", "vm-b:nic0", &err) == 0, "join: b, another handle in this process");
	snprintf(path, sizeof path, "%s/run/qos/net-hv-lan", home);
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "the table is run/qos/net-hv-lan, 0600");
	is_int(qos_update(*qa, 100 * M, &a) / M, 100, "a alone wants it all and gets it (b wants nothing yet)");
	is_int(qos_peers(*qa), 2, "two in the table");
	is_int(qos_update(*qb, 100 * M, &b) / M, 20, "b flat out too: 10 reserved + 10");
	is_int(qos_update(*qa, 100 * M, &a) / M, 80, "a: 70 reserved + 10");
	b.demand = 4 * M;
	qos_update(*qb, 100 * M, &b);
	is_int(qos_update(*qa, 100 * M, &a) / M, 96, "b slows to 4: a gets the rest");
	is_int(qos_update(*qa, 0, &a), 0, "capacity 0: no limit");
	b.demand = ALL;
	qos_update(*qb, 100 * M, &b);
}

/* a child joins, claims, reports its grant and ends without leaving */
static void
table_child(struct qos *qa)
{
	struct qos_claim a = cl(70 * M, 0, 1, ALL);
	uint64_t got = 0;
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return;
	if ((pid = fork()) == 0) {
		struct qos_claim c = cl(0, 0, 1, ALL);
		struct qos *q;
		struct hv_err err;

		close(p[0]);
		if (qos_join(&q, home, "net-hv-lan", "vm-c:nic0", &err) == 0)
			got = qos_update(q, 100 * M, &c);
		if (write(p[1], &got, sizeof got) != sizeof got)
			_exit(1);
		_exit(0);	/* no qos_leave: as if it crashed */
	}
	close(p[1]);
	if (read(p[0], &got, sizeof got) != sizeof got)
		got = 0;
	close(p[0]);
	is_int(got / M, 6, "a forked child with no reserve shares the 20 left with a and b");
	is_int(qos_update(qa, 100 * M, &a) / M, 76, "a sees it: 70 + a third of 20");
	is_int(qos_peers(qa), 3, "three in the table");
	waitpid(pid, NULL, 0);
	is_int(qos_update(qa, 100 * M, &a) / M, 80, "the child died without leaving: its slot is reaped");
	is_int(qos_peers(qa), 2, "two again");
}

/* a live process that stops updating loses its slot after QOS_STALE_MS */
static void
table_silent(struct qos *qa, struct qos *qb)
{
	struct qos_claim a = cl(70 * M, 0, 1, ALL), b = cl(10 * M, 0, 1, ALL);
	char c = 0;
	int p[2];
	pid_t pid;

	if (pipe(p) != 0)
		return;
	if ((pid = fork()) == 0) {
		struct qos_claim d = cl(30 * M, 0, 1, ALL);
		struct qos *q;
		struct hv_err err;

		close(p[0]);
		if (qos_join(&q, home, "net-hv-lan", "vm-d:nic0", &err) == 0)
			qos_update(q, 100 * M, &d);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		c = 0;
	close(p[0]);
	ok(qos_update(qa, 100 * M, &a) / M < 70 && qos_peers(qa) == 3,
	   "a silent child's reserve counts while its heartbeat is fresh (reserves oversubscribed: a gets %llu)",
	   (unsigned long long)(qos_update(qa, 100 * M, &a) / M));
	usleep((QOS_STALE_MS + 300) * 1000);
	qos_update(qb, 100 * M, &b);	/* as silent as the child, so b claims again */
	is_int(qos_update(qa, 100 * M, &a) / M, 80, "after 2 s without an update it is reaped though alive");
	is_int(qos_peers(qa), 2, "and a and b, silent as long, are back in on their next update");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* 64 slots taken: one more still gets an answer, and a slot when one frees */
static void
table_full(struct qos *qa, struct qos *qb)
{
	struct qos *q[QOS_SLOTS];
	struct qos_claim c = cl(0, 0, 1, ALL);
	struct hv_err err;
	char key[32];
	int joined = 0;
	uint64_t g;

	for (int i = 0; i < QOS_SLOTS - 1; i++) {
		snprintf(key, sizeof key, "vm-%d:nic0", i);
		joined += qos_join(&q[i], home, "net-hv-lan", key, &err) == 0;
	}
	is_int(joined, QOS_SLOTS - 1, "63 more join (the 63rd has no slot left)");
	c.demand = 10 * M;
	g = qos_update(q[QOS_SLOTS - 2], 1000 * M, &c);
	ok(g == 10 * M && qos_peers(q[QOS_SLOTS - 2]) == QOS_SLOTS + 1,
	   "with the table full it still gets an answer, counted with the 64 (%d)",
	   qos_peers(q[QOS_SLOTS - 2]));
	qos_leave(q[0]);
	qos_update(q[QOS_SLOTS - 2], 1000 * M, &c);
	is_int(qos_peers(q[QOS_SLOTS - 2]), QOS_SLOTS, "a slot freed by qos_leave is taken on the next update");
	for (int i = 1; i < QOS_SLOTS - 1; i++)
		qos_leave(q[i]);
	qos_leave(qb);
	c = cl(70 * M, 0, 1, ALL);
	qos_update(qa, 100 * M, &c);
	is_int(qos_peers(qa), 1, "everyone else left");
}

static void
table_misc(void)
{
	struct qos_claim c = cl(0, 0, 1, 10 * M);
	struct hv_err err;
	struct qos *q;
	char path[128];
	int fd;

	ok(qos_join(&q, home, "../etc", "k", &err) != 0 && q == NULL, "a domain that is a path is refused: %s", err.msg);
	ok(qos_join(&q, home, "net-x", "0123456789012345678901234567890123456789012345678901234567890123456789",
		    &err) != 0, "a key of 70 bytes is refused");
	snprintf(path, sizeof path, "%s/run/qos/net-junk", home);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ok(fd >= 0 && write(fd, "not a table at all", 18) == 18, "a file of another kind sits where a table goes");
	close(fd);
	ok(qos_join(&q, home, "net-junk", "k", &err) == 0, "joining it starts the table over");
	is_int(qos_update(q, 100 * M, &c) / M, 10, "and it works");
	is_int(qos_peers(q), 1, "with this one alone");
	qos_leave(q);
	qos_leave(NULL);
	ok(1, "qos_leave(NULL) is fine");
}

int
main(void)
{
	struct qos *qa, *qb;
	char cmd[96];

	allocation();
	properties();
	snprintf(home, sizeof home, "/tmp/hv-qos-XXXXXX");
	if (mkdtemp(home) == NULL)
		skip_all("no temporary directory");
	table_two_handles(&qa, &qb);
	table_child(qa);
	table_silent(qa, qb);
	table_full(qa, qb);
	qos_leave(qa);
	table_misc();
	snprintf(cmd, sizeof cmd, "rm -rf %s", home);
	if (system(cmd) != 0)
		diag("could not remove %s", home);
	return done_testing();
}
