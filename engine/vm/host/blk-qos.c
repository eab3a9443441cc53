/*
 * blk-qos.c - normalized IOs and the token buckets of a virtual disk's
 * storage QoS (see blk-qos.h).
 */
#include "engine/vm/host/blk-qos.h"

uint64_t
blk_qos_cost(uint64_t bytes)
{
	if (bytes == 0)
		return 1;
	return (bytes + BLK_QOS_UNIT - 1) / BLK_QOS_UNIT;
}

/* ~100 ms of the rate, and at least one token */
static double
burst_of(uint64_t rate)
{
	double b = (double)rate * BLK_QOS_BURST_MS / 1000.0;

	return b < 1.0 ? 1.0 : b;
}

static void
bucket_init(struct blk_bucket *b, uint64_t rate, uint64_t now_ns)
{
	b->rate = rate;
	b->burst = burst_of(rate);
	b->tokens = b->burst;
	b->last_ns = now_ns;
}

static void
bucket_refill(struct blk_bucket *b, uint64_t now_ns)
{
	if (now_ns <= b->last_ns)
		return;
	b->tokens += (double)(now_ns - b->last_ns) * (double)b->rate / 1e9;
	if (b->tokens > b->burst)
		b->tokens = b->burst;
	b->last_ns = now_ns;
}

/* 0 if `need` tokens may be taken now, else the ns until they may */
static uint64_t
bucket_wait(const struct blk_bucket *b, uint64_t need)
{
	double want = (double)need < b->burst ? (double)need : b->burst;

	if (b->rate == 0 || b->tokens >= want)
		return 0;
	return (uint64_t)((want - b->tokens) * 1e9 / (double)b->rate) + 1;
}

void
blk_qos_init(struct blk_qos *q, uint64_t iops, uint64_t bw, uint64_t now_ns)
{
	bucket_init(&q->iops, iops, now_ns);
	bucket_init(&q->bw, bw, now_ns);
}

void
blk_qos_set_iops(struct blk_qos *q, uint64_t iops, uint64_t now_ns)
{
	struct blk_bucket *b = &q->iops;

	if (iops == b->rate)
		return;
	if (b->rate == 0) {
		bucket_init(b, iops, now_ns);
		return;
	}
	bucket_refill(b, now_ns);
	b->rate = iops;
	b->burst = burst_of(iops);
	if (b->tokens > b->burst)
		b->tokens = b->burst;
}

bool
blk_qos_limited(const struct blk_qos *q)
{
	return q->iops.rate != 0 || q->bw.rate != 0;
}

bool
blk_qos_take(struct blk_qos *q, uint64_t ios, uint64_t bytes, uint64_t now_ns,
	     uint64_t *wait_ns)
{
	uint64_t w1, w2;

	if (q->iops.rate != 0)
		bucket_refill(&q->iops, now_ns);
	if (q->bw.rate != 0)
		bucket_refill(&q->bw, now_ns);
	w1 = bucket_wait(&q->iops, ios);
	w2 = bucket_wait(&q->bw, bytes);
	if (w1 != 0 || w2 != 0) {
		*wait_ns = w1 > w2 ? w1 : w2;
		return false;
	}
	if (q->iops.rate != 0)
		q->iops.tokens -= (double)ios;
	if (q->bw.rate != 0)
		q->bw.tokens -= (double)bytes;
	return true;
}

uint64_t
blk_qos_demand(uint64_t done, uint64_t window_ns, uint64_t held_ns)
{
	double free_ns, iops;

	if (window_ns == 0)
		return 0;
	if (held_ns > window_ns)
		held_ns = window_ns;
	if (held_ns * 10 >= window_ns * 9)
		return UINT64_MAX;
	free_ns = (double)(window_ns - held_ns);
	iops = (double)done * 1e9 / free_ns;
	iops += iops / 4 + 1;
	return iops >= 1.8e19 ? UINT64_MAX : (uint64_t)iops;
}
