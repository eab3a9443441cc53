/*
 * blk-qos.h - storage QoS arithmetic for one virtual disk, as Hyper-V
 * counts it: an I/O costs ceil(bytes / 8 KiB) normalized IOs (at least
 * one; flush and discard cost one), and two token buckets, one in
 * normalized IOs per second, one in bytes per second. Pure: the caller
 * passes the time, so tests drive it with a fake clock.
 */
#ifndef HV_VM_BLK_QOS_H
#define HV_VM_BLK_QOS_H

#include <stdbool.h>
#include <stdint.h>

#define BLK_QOS_UNIT		8192	/* bytes in one normalized IO */
#define BLK_QOS_BURST_MS	100	/* a bucket holds this much of its rate */

/* one rate: tokens per second; rate 0 means unlimited */
struct blk_bucket {
	uint64_t rate;
	double burst;		/* tokens the bucket holds when full */
	double tokens;		/* may go below 0 after a request bigger than burst */
	uint64_t last_ns;
};

struct blk_qos {
	struct blk_bucket iops;		/* normalized IOs */
	struct blk_bucket bw;		/* bytes */
};

/* normalized IOs of a request moving `bytes` (0: flush, discard, ...) */
uint64_t blk_qos_cost(uint64_t bytes);

/* limits: normalized IOs/s and bytes/s, 0 = none; buckets start full */
void blk_qos_init(struct blk_qos *q, uint64_t iops, uint64_t bw,
		  uint64_t now_ns);
/* a new IOPS rate (the host arbiter's grant); the tokens earned at the
   old rate are kept, up to the new burst */
void blk_qos_set_iops(struct blk_qos *q, uint64_t iops, uint64_t now_ns);
bool blk_qos_limited(const struct blk_qos *q);

/*
 * May a request of `ios` normalized IOs and `bytes` bytes go now? If so
 * its tokens are taken and true comes back; else *wait_ns says how long
 * until it may, and nothing is taken. A request bigger than a bucket
 * waits for a full bucket and leaves it in debt, so the long-run rate
 * holds whatever the request sizes.
 */
bool blk_qos_take(struct blk_qos *q, uint64_t ios, uint64_t bytes,
		  uint64_t now_ns, uint64_t *wait_ns);

/*
 * The demand a disk tells the host's arbiter (engine/qos.h), in
 * normalized IOPS: in a window of window_ns it did `done` normalized IOs
 * while QoS held its queue back for held_ns. What it did, scaled up to
 * the time it was free to go, and a quarter on top so a steady load is
 * not held back by a grant of exactly its own rate; UINT64_MAX (all it
 * can get) when it was held nine tenths of the window or more.
 */
uint64_t blk_qos_demand(uint64_t done, uint64_t window_ns, uint64_t held_ns);

#endif
