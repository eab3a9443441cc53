/*
 * balloon.c - virtio-balloon (virtio 1.2 section 5.5), polled, for hv's
 * dynamic memory: the VM's RAM is its maximum memory and the host's target
 * (num_pages) says how many 4 KiB pages the guest must hand back.  The
 * balloon takes whole pages off the top of lib.c's pool and gives them
 * back there, so what it holds is one run of frames above mem_top().
 *
 * balloon_poll() runs from idle() and inside long commands (mem-touch):
 * it answers a stats request (the device hands the stats buffer back
 * through the used ring; the driver refills it and adds it again), then
 * moves pages toward the target: up to BAL_QMAX buffers of 256 PFNs per
 * kick, `actual` written after each batch the device has used.  Inflating
 * takes the pages off the pool before the device hears of them; deflating
 * returns them only after the device has used the deflateq buffer.
 *
 * The bring-up is virtio.c's (virtio_begin, virtio_queue for each queue,
 * virtio_ready).  Ring and PFN memory is static: mem-free releases the
 * pool to a mark and must never take it back.
 *
 *   balloon-up             find the device, start it, reach the target
 */
#include "tests/guest/probe.h"

#define F_STATS_VQ		(1ull << 1)
#define F_DEFLATE_ON_OOM	(1ull << 2)
#define BAL_FEATURES		(VIRTIO_F_VERSION_1 | F_STATS_VQ | \
				 F_DEFLATE_ON_OOM)

#define CFG_NUM_PAGES		0	/* le32, the host's target */
#define CFG_ACTUAL		4	/* le32, what the driver has given */

#define INFLATEQ		0
#define DEFLATEQ		1
#define STATSQ			2
#define BAL_NQ			3
#define BAL_QMAX		64	/* buffers per kick */
#define PFNS_PER_BUF		256
#define PAGE_SHIFT		12
#define RING_AVAIL		1024	/* offsets in a queue's page */
#define RING_USED		2048
#define BAL_WAIT_US		2000000	/* longest the device may keep a batch */
#define CFG_POLL_US		1000	/* num_pages is reread at most this often */

_Static_assert(16 * BAL_QMAX <= RING_AVAIL &&
	       RING_AVAIL + 6 + 2 * BAL_QMAX <= RING_USED &&
	       RING_USED + 6 + 8 * BAL_QMAX <= PAGE_SIZE,
	       "a queue's rings fit in its page");

enum {
	ST_SWAP_IN, ST_SWAP_OUT, ST_MAJFLT, ST_MINFLT, ST_MEMFREE, ST_MEMTOT,
	ST_AVAIL, ST_CACHES, ST_NR
};

struct bal_stat {			/* 5.5.6.3: 10 bytes, little-endian */
	uint16_t tag;
	uint64_t val;
} __attribute__((packed));

struct balloon {
	bool up;
	bool stuck;		/* the device kept a batch: no more moves */
	struct virtio_dev vd;	/* transport; vd.vq is unused */
	struct virtq q[BAL_NQ];
	uint32_t target;	/* num_pages as last read */
	uint32_t actual;	/* pages the device has taken */
	uint64_t taken;		/* pages off the pool (actual + a stuck batch) */
	uint64_t cfg_read_us;
};

static uint8_t rings[BAL_NQ][PAGE_SIZE] __attribute__((aligned(4096)));
static uint32_t pfns[BAL_QMAX][PFNS_PER_BUF];
static struct bal_stat stats[ST_NR];
static struct pci_dev pci_devs[PCI_MAX_DEVS];
static int pci_ndevs = -1;
static struct balloon bal;

/* ---- bring-up ---- */

/* reset, negotiate, inflateq + deflateq (+ statsq), DRIVER_OK (3.1.1) */
static int
bal_start(void)
{
	uint16_t q, nq;

	if (virtio_begin(&bal.vd, BAL_FEATURES))
		return -1;
	nq = bal.vd.features & F_STATS_VQ ? 3 : 2;
	for (q = 0; q < nq; q++) {
		/* static ring memory: mem-free must never take it back */
		bal.q[q].desc = (struct virtq_desc *)rings[q];
		bal.q[q].avail = (volatile struct virtq_avail *)(rings[q] + RING_AVAIL);
		bal.q[q].used = (volatile struct virtq_used *)(rings[q] + RING_USED);
		if (virtio_queue(&bal.vd, &bal.q[q], q, BAL_QMAX)) {
			virtio_fail(&bal.vd);
			return -1;
		}
	}
	virtio_ready(&bal.vd);
	return 0;
}

/* ---- stats: the device asks by using the buffer, we answer by re-adding ---- */

static void
stats_give(void)
{
	struct virtq *vq = &bal.q[STATSQ];
	uint64_t free = mem_free_bytes();
	/* as Linux counts: ballooned pages are not in the total */
	const uint64_t val[ST_NR] = {
		[ST_MEMFREE] = free, [ST_MEMTOT] = ram_bytes() - (uint64_t)bal.taken * 4096, [ST_AVAIL] = free,
	};
	uint16_t i;

	for (i = 0; i < ST_NR; i++) {
		stats[i].tag = i;
		stats[i].val = val[i];
	}
	vq->desc[0] = (struct virtq_desc){ (uintptr_t)stats, sizeof(stats), 0, 0 };
	virtq_push(vq, 0);
	virtq_kick(vq);
}

static void
stats_poll(void)
{
	uint32_t id, len;
	bool asked = false;

	if (!(bal.vd.features & F_STATS_VQ))
		return;
	while (virtq_pop(&bal.q[STATSQ], &id, &len))
		asked = true;
	if (asked)
		stats_give();
}

/* ---- moving pages ---- */

/* the device's answer to buffers 0..n-1; false: it kept one too long */
static bool
q_wait(struct virtq *vq, uint16_t n)
{
	bool done[BAL_QMAX] = { false };
	uint64_t start = now_us();
	uint32_t id, len;

	while (n) {
		if (virtq_pop(vq, &id, &len)) {
			if (id < BAL_QMAX && !done[id]) {
				done[id] = true;
				n--;
			}
			continue;
		}
		if (now_us() - start > BAL_WAIT_US)
			return false;
		cpu_relax();
	}
	return true;
}

/* buffer i: pfns[i] holds k frames from pfn up */
static void
q_put(struct virtq *vq, uint16_t i, uint64_t pfn, uint32_t k)
{
	uint32_t j;

	for (j = 0; j < k; j++)
		pfns[i][j] = (uint32_t)(pfn + j);
	vq->desc[i] = (struct virtq_desc){ (uintptr_t)pfns[i], 4 * k, 0, 0 };
	virtq_push(vq, i);
}

/* one kick's worth of pages into the balloon; how many, -1: stuck */
static int64_t
inflate(uint64_t want)
{
	struct virtq *vq = &bal.q[INFLATEQ];
	uint64_t moved = 0;
	uint16_t n = 0;

	while (n < vq->size && want) {
		uint64_t k = mem_shrink(want < PFNS_PER_BUF ? want : PFNS_PER_BUF);

		if (!k)
			break;		/* the pool is empty: try again later */
		bal.taken += k;
		q_put(vq, n++, mem_top() >> PAGE_SHIFT, (uint32_t)k);
		moved += k;
		want -= k;
	}
	if (!n)
		return 0;
	virtq_kick(vq);
	if (!q_wait(vq, n))
		return -1;
	bal.actual += (uint32_t)moved;
	mmio_w32(bal.vd.devcfg + CFG_ACTUAL, bal.actual);
	return (int64_t)moved;
}

/* the lowest pages of the balloon back to the pool; how many, -1: stuck */
static int64_t
deflate(uint64_t want)
{
	struct virtq *vq = &bal.q[DEFLATEQ];
	uint64_t pfn = mem_top() >> PAGE_SHIFT, moved = 0;
	uint16_t n = 0;

	while (n < vq->size && want) {
		uint32_t k = want < PFNS_PER_BUF ? (uint32_t)want : PFNS_PER_BUF;

		q_put(vq, n++, pfn + moved, k);
		moved += k;
		want -= k;
	}
	if (!n)
		return 0;
	virtq_kick(vq);
	if (!q_wait(vq, n))
		return -1;
	mem_grow(moved);
	bal.taken -= moved;
	bal.actual -= (uint32_t)moved;
	mmio_w32(bal.vd.devcfg + CFG_ACTUAL, bal.actual);
	return (int64_t)moved;
}

/* toward target until there or the pool has nothing more to give */
static void
bal_move(uint32_t target, bool oom)
{
	uint32_t before = bal.actual;
	uint64_t t0 = now_us();
	bool up = target > bal.actual;
	int64_t r;

	do {
		if (target > bal.actual)
			r = inflate(target - bal.actual);
		else if (target < bal.actual)
			r = deflate(bal.actual - target);
		else
			r = 0;
	} while (r > 0);
	if (r < 0) {
		bal.stuck = true;
		pr("balloon: FAIL the device kept %s buffers over %u ms "
		   "(status=0x%x actual=%u)\n", up ? "inflateq" : "deflateq",
		   BAL_WAIT_US / 1000, virtio_status(&bal.vd), bal.actual);
	}
	if (bal.actual != before)
		pr("balloon: %s pages=%u actual=%u target=%u us=%lu%s\n",
		   up ? "inflated" : "deflated",
		   up ? bal.actual - before : before - bal.actual, bal.actual,
		   bal.target, (unsigned long)(now_us() - t0),
		   oom ? " oom=1" : "");
}

static void
bal_adjust(void)
{
	bal.cfg_read_us = now_us();
	bal.target = mmio_r32(bal.vd.devcfg + CFG_NUM_PAGES);
	if (bal.target != bal.actual)
		bal_move(bal.target, false);
}

void
balloon_poll(void)
{
	if (!bal.up || bal.stuck)
		return;
	stats_poll();
	if (now_us() - bal.cfg_read_us >= CFG_POLL_US)
		bal_adjust();
}

uint64_t
balloon_pages(void)
{
	return bal.taken;
}

/*
 * VIRTIO_BALLOON_F_DEFLATE_ON_OOM: a command that cannot get memory any
 * other way takes pages back without the host lowering its target (5.5.6.1);
 * the next poll inflates again only from what is free then.
 */
uint64_t
balloon_reclaim(uint64_t pages)
{
	uint32_t before = bal.actual;

	if (!bal.up || bal.stuck || !(bal.vd.features & F_DEFLATE_ON_OOM))
		return 0;
	if (pages > bal.actual)
		pages = bal.actual;
	bal_move(bal.actual - (uint32_t)pages, true);
	return before - bal.actual;
}

/* ---- balloon-up ---- */

static int
bal_open(void)
{
	if (bal.vd.pci)
		return 0;
	if (pci_ndevs < 0)
		pci_ndevs = pci_scan(pci_devs, PCI_MAX_DEVS);
	if (virtio_find(pci_devs, pci_ndevs, VIRTIO_ID_BALLOON, 0, &bal.vd) ||
	    !bal.vd.devcfg) {
		memset(&bal.vd, 0, sizeof(bal.vd));
		return -1;
	}
	return 0;
}

int
cmd_balloon_up(const char *args)
{
	static const char *const known[] = { NULL };

	if (arg_has_unknown(args, known)) {
		pr("balloon-up: FAIL usage: balloon-up\n");
		return -1;
	}
	bal.up = false;
	if (bal_open()) {
		pr("balloon-up: FAIL no virtio-balloon\n");
		return -1;
	}
	/* bal_start() resets the device: what it held is the pool's again */
	mem_grow(bal.taken);
	bal.taken = bal.actual = 0;
	bal.stuck = false;
	if (bal_start()) {
		pr("balloon-up: FAIL negotiation failed (status=0x%x)\n",
		   virtio_status(&bal.vd));
		return -1;
	}
	mmio_w32(bal.vd.devcfg + CFG_ACTUAL, 0);
	if (bal.vd.features & F_STATS_VQ)
		stats_give();
	bal.up = true;
	bal_adjust();
	pr("balloon-up: ok pages=%u actual=%u features=0x%lx qsize=%u\n",
	   bal.target, bal.actual, (unsigned long)bal.vd.features,
	   bal.q[INFLATEQ].size);
	return bal.stuck ? -1 : 0;
}
