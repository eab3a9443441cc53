/* blk-qos.c - storage QoS arithmetic on a fake clock: normalized IOs,
 * the IOPS and bandwidth buckets (burst, debt, rate changes) as a
 * closed-loop guest sees them, and the demand a disk tells the host
 * arbiter. */
#include <stdint.h>

#include "engine/vm/host/blk-qos.h"
#include "tests/tap.h"

#define SEC	1000000000ull

/* a guest that always has one more request: how many it completes in
   `secs` seconds of fake time */
static uint64_t
closed_loop(struct blk_qos *q, uint64_t bytes, uint64_t secs)
{
	uint64_t now = 0, done = 0, wait;

	while (now < secs * SEC) {
		if (blk_qos_take(q, blk_qos_cost(bytes), bytes, now, &wait))
			done++;
		else
			now += wait;
	}
	return done;
}

static void
cost(void)
{
	is_int(blk_qos_cost(0), 1, "flush / discard: one normalized IO");
	is_int(blk_qos_cost(512), 1, "512 bytes: 1");
	is_int(blk_qos_cost(4096), 1, "4 KiB: 1");
	is_int(blk_qos_cost(8192), 1, "8 KiB: 1");
	is_int(blk_qos_cost(8193), 2, "8 KiB + 1: 2");
	is_int(blk_qos_cost(65536), 8, "64 KiB: 8");
	is_int(blk_qos_cost(4u << 20), 512, "4 MiB: 512");
}

static void
buckets(void)
{
	struct blk_qos q;
	uint64_t wait = 0, n;
	bool held;
	int i;

	blk_qos_init(&q, 0, 0, 0);
	ok(!blk_qos_limited(&q), "no limits: not limited");
	ok(blk_qos_take(&q, 512, 4u << 20, 0, &wait), "no limits: anything goes");

	blk_qos_init(&q, 500, 0, 0);
	for (i = 0; i < 1000 && blk_qos_take(&q, 1, 4096, 0, &wait); i++)
		;
	is_int(i, 50, "500 IOPS: a full bucket is 100 ms of it (50 IOs)");
	ok(wait > 1900000 && wait <= 2000001, "then one IO waits 2 ms (%llu ns)",
	   (unsigned long long)wait);
	ok(!blk_qos_take(&q, 1, 4096, wait - 1000, &wait) && blk_qos_take(&q, 1, 4096, 2000001, &wait),
	   "not a microsecond early, and at 2 ms it goes");

	blk_qos_init(&q, 500, 0, 0);
	n = closed_loop(&q, 4096, 10);
	ok(n >= 5049 && n <= 5051, "4 KiB reads at 500 IOPS for 10 s: %llu (5000 + the burst)",
	   (unsigned long long)n);
	blk_qos_init(&q, 500, 0, 0);
	n = closed_loop(&q, 65536, 10);
	ok(n >= 630 && n <= 632, "64 KiB reads at 500 IOPS for 10 s: %llu (62.5/s + the burst)",
	   (unsigned long long)n);

	blk_qos_init(&q, 0, 1u << 20, 0);
	n = closed_loop(&q, 65536, 10);
	ok(n >= 161 && n <= 162, "64 KiB reads at 1 MiB/s for 10 s: %llu (16/s + the burst)",
	   (unsigned long long)n);
	blk_qos_init(&q, 500, 1u << 20, 0);
	n = closed_loop(&q, 65536, 10);
	ok(n >= 161 && n <= 162, "both limits: the stricter (bandwidth) wins: %llu",
	   (unsigned long long)n);
	blk_qos_init(&q, 50, 100u << 20, 0);
	n = closed_loop(&q, 4096, 10);
	ok(n >= 504 && n <= 506, "both limits: the stricter (IOPS) wins: %llu", (unsigned long long)n);

	/* a request bigger than the bucket: waits for a full one, leaves debt */
	blk_qos_init(&q, 10, 0, 0);
	ok(blk_qos_take(&q, 8, 65536, 0, &wait), "10 IOPS (burst 1): a 64 KiB request goes on a full bucket");
	held = !blk_qos_take(&q, 8, 65536, 0, &wait);
	ok(held && wait > 790000000 && wait <= 800000001, "the next waits out the debt: 0.8 s (%llu ns)",
	   (unsigned long long)wait);
	blk_qos_init(&q, 10, 0, 0);
	n = closed_loop(&q, 65536, 80);
	ok(n >= 100 && n <= 101, "64 KiB at 10 IOPS for 80 s: %llu (1.25/s)", (unsigned long long)n);
	blk_qos_init(&q, 0, 1000, 0);
	n = closed_loop(&q, 4u << 20, 8192);
	ok(n >= 2 && n <= 3, "4 MiB requests at 1000 B/s for 8192 s: %llu", (unsigned long long)n);
}

static void
rate_changes(void)
{
	struct blk_qos q;
	uint64_t wait = 0;
	bool held;
	int i;

	blk_qos_init(&q, 500, 0, 0);
	blk_qos_set_iops(&q, 100, 0);
	for (i = 0; i < 1000 && blk_qos_take(&q, 1, 4096, 0, &wait); i++)
		;
	is_int(i, 10, "500 -> 100 IOPS: the tokens shrink to the new burst");
	ok(wait > 9900000 && wait <= 10000001, "and one IO waits 10 ms");
	blk_qos_set_iops(&q, 1000, 0);
	held = !blk_qos_take(&q, 1, 4096, 0, &wait);
	ok(held && wait <= 1000001, "-> 1000 IOPS: the wait shrinks (%llu ns)", (unsigned long long)wait);
	blk_qos_init(&q, 0, 0, 0);
	blk_qos_set_iops(&q, 200, 5 * SEC);
	ok(blk_qos_limited(&q), "unlimited -> 200 IOPS: limited");
	for (i = 0; i < 1000 && blk_qos_take(&q, 1, 4096, 5 * SEC, &wait); i++)
		;
	is_int(i, 20, "with a full bucket of 100 ms");
	blk_qos_set_iops(&q, 0, 5 * SEC);
	ok(!blk_qos_limited(&q) && blk_qos_take(&q, 512, 0, 5 * SEC, &wait), "-> 0: unlimited again");
}

static void
demand(void)
{
	uint64_t w = 100000000;	/* a 100 ms window */

	is_int(blk_qos_demand(30, w, 0), 376, "30 IOs in 100 ms, never held: 300 IOPS + 25%% + 1");
	is_int(blk_qos_demand(30, w, w / 2), 751, "held half the window: it could have done twice as many");
	ok(blk_qos_demand(30, w, w * 9 / 10) == UINT64_MAX, "held 90%%: all it can get");
	ok(blk_qos_demand(30, w, 2 * w) == UINT64_MAX, "held more than the window (clock skew): all it can get");
	is_int(blk_qos_demand(0, w, 0), 1, "idle: 1");
	is_int(blk_qos_demand(5, 0, 0), 0, "an empty window: 0");
}

int
main(void)
{
	plan(33);
	cost();
	buckets();
	rate_changes();
	demand();
	return done_testing();
}
