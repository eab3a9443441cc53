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
 * virtio.c brings up queue 0 only, and the balloon's queues must be live
 * before DRIVER_OK, so the bring-up steps (3.1.1) are repeated here as in
 * net.c.  Ring and PFN memory is static: mem-free releases the pool to a
 * mark and must never take it back.
 *
 *   balloon-up             find the device, start it, reach the target
 */
#include "tests/guest/probe.h"

/* common configuration (virtio 1.x 4.1.4.3) */
#define CC_DFSELECT		0x00
#define CC_DF			0x04
#define CC_GFSELECT		0x08
#define CC_GF			0x0C
#define CC_MSIX			0x10
#define CC_STATUS		0x14
#define CC_Q_SELECT		0x16
#define CC_Q_SIZE		0x18
#define CC_Q_MSIX		0x1A
#define CC_Q_ENABLE		0x1C
#define CC_Q_NOFF		0x1E
#define CC_Q_DESC		0x20
#define CC_Q_AVAIL		0x28
#define CC_Q_USED		0x30

#define S_ACK			0x01
#define S_DRIVER		0x02
#define S_DRIVER_OK		0x04
#define S_FEATURES_OK		0x08
#define S_FAILED		0x80
#define NO_VECTOR		0xFFFF
#define VRING_AVAIL_F_NO_INTERRUPT	1

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

static void
w64(volatile uint8_t *p, uint64_t v)
{
	mmio_w32(p, (uint32_t)v);
	mmio_w32(p + 4, (uint32_t)(v >> 32));
}

static int
q_setup(uint16_t index)
{
	volatile uint8_t *c = bal.vd.common;
	struct virtq *vq = &bal.q[index];
	uint8_t *mem = rings[index];
	uint16_t max, size = 1;

	mmio_w16(c + CC_Q_SELECT, index);
	max = mmio_r16(c + CC_Q_SIZE);
	if (!max)
		return -1;
	while (size * 2 <= BAL_QMAX && size * 2 <= max)
		size *= 2;
	memset(mem, 0, PAGE_SIZE);
	vq->desc = (struct virtq_desc *)mem;
	vq->avail = (volatile struct virtq_avail *)(mem + RING_AVAIL);
	vq->used = (volatile struct virtq_used *)(mem + RING_USED);
	vq->size = size;
	vq->index = index;
	vq->avail_idx = vq->used_seen = 0;
	vq->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	mmio_w16(c + CC_Q_SIZE, size);
	mmio_w16(c + CC_Q_MSIX, NO_VECTOR);
	w64(c + CC_Q_DESC, (uintptr_t)vq->desc);
	w64(c + CC_Q_AVAIL, (uintptr_t)vq->avail);
	w64(c + CC_Q_USED, (uintptr_t)vq->used);
	vq->notify = (volatile uint16_t *)(bal.vd.notify_base +
		(uint64_t)mmio_r16(c + CC_Q_NOFF) * bal.vd.notify_mult);
	mmio_w16(c + CC_Q_ENABLE, 1);
	return 0;
}

static int
negotiate(void)
{
	volatile uint8_t *c = bal.vd.common;
	uint64_t dev;

	mmio_w32(c + CC_DFSELECT, 0);
	dev = mmio_r32(c + CC_DF);
	mmio_w32(c + CC_DFSELECT, 1);
	dev |= (uint64_t)mmio_r32(c + CC_DF) << 32;
	bal.vd.features = dev & BAL_FEATURES;
	if (!(bal.vd.features & VIRTIO_F_VERSION_1))
		return -1;
	mmio_w32(c + CC_GFSELECT, 0);
	mmio_w32(c + CC_GF, (uint32_t)bal.vd.features);
	mmio_w32(c + CC_GFSELECT, 1);
	mmio_w32(c + CC_GF, (uint32_t)(bal.vd.features >> 32));
	mmio_w8(c + CC_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	return virtio_status(&bal.vd) & S_FEATURES_OK ? 0 : -1;
}

/* reset, negotiate, inflateq + deflateq (+ statsq), DRIVER_OK (3.1.1) */
static int
bal_start(void)
{
	volatile uint8_t *c = bal.vd.common;
	uint16_t q, nq;

	virtio_reset(&bal.vd);
	mmio_w8(c + CC_STATUS, S_ACK);
	mmio_w8(c + CC_STATUS, S_ACK | S_DRIVER);
	mmio_w16(c + CC_MSIX, NO_VECTOR);
	if (negotiate())
		goto fail;
	nq = bal.vd.features & F_STATS_VQ ? 3 : 2;
	for (q = 0; q < nq; q++)
		if (q_setup(q))
			goto fail;
	mmio_w8(c + CC_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return 0;
fail:
	mmio_w8(c + CC_STATUS, S_FAILED);
	return -1;
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
