/*
 * blk.c - the virtio-blk commands: blk-write / blk-read (the pattern of
 * pattern.h, up to 64 KiB a request, several in flight), blk-flush,
 * blk-bench (random reads, 4 KiB or sectors=N) and hostile (malformed
 * chains).
 *
 * Each request slot k owns descriptors 3k (header), 3k+1 (data) and 3k+2
 * (status), so the used id says which slot finished: no free list.
 * blk_slot_*() hand the slots to other workloads (churn.c); a command
 * that uses them waits for all of its requests before it returns, so the
 * commands never find each other's requests in flight.
 */
#include "tests/guest/probe.h"
#include "tests/guest/pattern.h"

#define BLK_T_IN		0
#define BLK_T_OUT		1
#define BLK_T_FLUSH		4
#define BLK_S_OK		0

#define VIRTIO_BLK_F_RO		(1ull << 5)
#define VIRTIO_BLK_F_FLUSH	(1ull << 9)
#define BLK_FEATURES		(VIRTIO_BLK_F_RO | VIRTIO_BLK_F_FLUSH | \
				 VIRTIO_F_INDIRECT_DESC)

#define QSIZE			128
#define MAX_SLOTS		BLK_MAX_SLOTS
#define REQ_SECTORS		BLK_REQ_SECTORS	/* 64 KiB */
#define REQ_BYTES		(REQ_SECTORS * PATTERN_SECTOR)
#define MAX_BLK			8
#define WAIT_US			10000000ull	/* a request slower than this hangs */

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct blk_slot {
	struct blk_hdr *hdr;
	volatile uint8_t *status;
	uint8_t *buf;
	uint64_t sector;
	uint32_t count;
	uint32_t type;
	bool busy;
};

struct blk {
	bool open;
	struct virtio_dev vd;
	uint64_t capacity;	/* sectors */
	int nslots;
	struct blk_slot slot[MAX_SLOTS];
};

static struct pci_dev pci_devs[PCI_MAX_DEVS];
static int pci_ndevs = -1;
static struct blk blks[MAX_BLK];

static int
blk_slots_alloc(struct blk *b)
{
	int k;

	b->nslots = b->vd.vq.size / 3;
	if (b->nslots > MAX_SLOTS)
		b->nslots = MAX_SLOTS;
	for (k = 0; k < b->nslots; k++) {
		struct blk_slot *s = &b->slot[k];
		uint8_t *small = mem_alloc(64, 64);

		s->buf = mem_alloc(REQ_BYTES, PAGE_SIZE);
		if (!small || !s->buf)
			return -1;
		s->hdr = (struct blk_hdr *)small;
		s->status = small + sizeof(struct blk_hdr);
	}
	return 0;
}

/* dev=N from the arguments: the Nth virtio-blk in scan order, set up once */
struct blk *
blk_get(const char *cmd, const char *args)
{
	uint64_t n = arg_u64_or(args, "dev", 0);
	struct blk *b;

	if (n >= MAX_BLK) {
		pr("%s: error dev=%lu out of range\n", cmd, (unsigned long)n);
		return NULL;
	}
	b = &blks[n];
	if (b->open) {
		churn_drain();	/* its requests finish before ours start */
		return b;
	}
	if (pci_ndevs < 0)
		pci_ndevs = pci_scan(pci_devs, PCI_MAX_DEVS);
	if (virtio_find(pci_devs, pci_ndevs, VIRTIO_ID_BLOCK, (int)n, &b->vd) ||
	    virtio_init(&b->vd, BLK_FEATURES, QSIZE) || blk_slots_alloc(b)) {
		pr("%s: error no virtio-blk dev=%lu\n", cmd, (unsigned long)n);
		return NULL;
	}
	b->capacity = virtio_cfg_r64(&b->vd, 0);
	b->open = true;
	pr("blk: dev=%lu pci=%02x.%x id=%04x capacity=%lu queue=%u "
	   "features=0x%lx\n", (unsigned long)n, b->vd.pci->dev, b->vd.pci->fn,
	   b->vd.pci->device, (unsigned long)b->capacity, b->vd.vq.size,
	   (unsigned long)b->vd.features);
	return b;
}

static void
slot_submit(struct blk *b, int k, uint32_t type, uint64_t sector,
	    uint32_t count)
{
	struct blk_slot *s = &b->slot[k];
	struct virtq_desc *d = &b->vd.vq.desc[3 * k];
	uint16_t head = 3 * k;

	s->hdr->type = type;
	s->hdr->reserved = 0;
	s->hdr->sector = sector;
	*s->status = 0xFF;
	s->sector = sector;
	s->count = count;
	s->type = type;
	s->busy = true;
	d[0] = (struct virtq_desc){ (uintptr_t)s->hdr, 16, VIRTQ_DESC_F_NEXT, head + 1 };
	d[1] = (struct virtq_desc){ (uintptr_t)s->buf, count * PATTERN_SECTOR,
		VIRTQ_DESC_F_NEXT | (type == BLK_T_IN ? VIRTQ_DESC_F_WRITE : 0),
		head + 2 };
	d[2] = (struct virtq_desc){ (uintptr_t)s->status, 1, VIRTQ_DESC_F_WRITE, 0 };
	if (type == BLK_T_FLUSH)
		d[0].next = head + 2;
	virtq_push(&b->vd.vq, head);
}

/* the next finished slot, or -1 after WAIT_US without one */
static int
slot_wait(struct blk *b)
{
	uint64_t deadline = now_us() + WAIT_US;
	uint32_t id, len;

	for (;;) {
		if (virtq_pop(&b->vd.vq, &id, &len)) {
			if (id % 3 || id / 3 >= (uint32_t)b->nslots ||
			    !b->slot[id / 3].busy) {
				pr("blk: device returned bogus id %u\n", id);
				return -1;
			}
			b->slot[id / 3].busy = false;
			return (int)(id / 3);
		}
		if (virtio_status(&b->vd) & VIRTIO_STATUS_NEEDS_RESET) {
			pr("blk: device needs reset\n");
			return -1;
		}
		if (now_us() > deadline) {
			pr("blk: request timed out\n");
			return -1;
		}
		cpu_relax();
	}
}

static int
free_slot(struct blk *b, int depth)
{
	int k;

	for (k = 0; k < depth; k++)
		if (!b->slot[k].busy)
			return k;
	return -1;
}

uint64_t
blk_capacity(const struct blk *b)
{
	return b->capacity;
}

bool
blk_read_only(const struct blk *b)
{
	return b->vd.features & VIRTIO_BLK_F_RO;
}

int
blk_slot_free(struct blk *b)
{
	return free_slot(b, b->nslots);
}

uint8_t *
blk_slot_buf(struct blk *b, int k)
{
	return b->slot[k].buf;
}

void
blk_slot_submit(struct blk *b, int k, bool write, uint64_t sector,
		uint32_t count)
{
	slot_submit(b, k, write ? BLK_T_OUT : BLK_T_IN, sector, count);
}

void
blk_kick(struct blk *b)
{
	virtq_kick(&b->vd.vq);
}

int
blk_slot_done(struct blk *b, uint8_t *status)
{
	uint32_t id, len;

	if (!virtq_pop(&b->vd.vq, &id, &len))
		return -1;
	if (id % 3 || id / 3 >= (uint32_t)b->nslots || !b->slot[id / 3].busy) {
		pr("blk: device returned bogus id %u\n", id);
		return -2;
	}
	b->slot[id / 3].busy = false;
	*status = *b->slot[id / 3].status;
	return (int)(id / 3);
}

bool
blk_needs_reset(struct blk *b)
{
	return virtio_status(&b->vd) & VIRTIO_STATUS_NEEDS_RESET;
}

int
blk_slot_wait(struct blk *b, uint8_t *status)
{
	int k = slot_wait(b);

	if (k >= 0)
		*status = *b->slot[k].status;
	return k;
}

struct xfer {
	bool write;
	uint64_t start, count, seed;
	uint64_t mismatches, first_bad;
	int first_word;
	int errors;
};

static void
xfer_done(struct blk_slot *s, struct xfer *x)
{
	uint32_t i;

	if (*s->status != BLK_S_OK) {
		if (!x->errors++)
			pr("blk: sector=%lu status=%u\n",
			   (unsigned long)s->sector, *s->status);
		return;
	}
	for (i = 0; !x->write && i < s->count; i++) {
		int w = pattern_check(s->buf + i * PATTERN_SECTOR, x->seed,
				      s->sector + i);

		if (w < 0)
			continue;
		if (!x->mismatches++) {
			x->first_bad = s->sector + i;
			x->first_word = w;
		}
	}
}

static int
xfer_run(struct blk *b, struct xfer *x)
{
	uint64_t next = x->start, end = x->start + x->count;
	int inflight = 0, k;

	while (next < end || inflight) {
		bool pushed = false;

		while (next < end && (k = free_slot(b, b->nslots)) >= 0) {
			uint32_t n = end - next > REQ_SECTORS ? REQ_SECTORS : end - next;
			uint32_t i;

			for (i = 0; x->write && i < n; i++)
				pattern_fill(b->slot[k].buf + i * PATTERN_SECTOR,
					     x->seed, next + i);
			slot_submit(b, k, x->write ? BLK_T_OUT : BLK_T_IN, next, n);
			next += n;
			inflight++;
			pushed = true;
		}
		if (pushed)
			virtq_kick(&b->vd.vq);
		if ((k = slot_wait(b)) < 0)
			return -1;
		inflight--;
		xfer_done(&b->slot[k], x);
	}
	return x->errors ? -1 : 0;
}

static bool
xfer_args(const char *cmd, const char *args, struct blk *b, struct xfer *x)
{
	static const char *const known[] = { "dev", "start", "count", "seed", NULL };

	if (arg_has_unknown(args, known) || !arg_u64(args, "start", &x->start) ||
	    !arg_u64(args, "count", &x->count)) {
		pr("%s: error usage: dev=N start=SECTOR count=SECTORS seed=S\n", cmd);
		return false;
	}
	x->seed = arg_u64_or(args, "seed", 1);
	if (x->start + x->count < x->start || x->start + x->count > b->capacity) {
		pr("%s: error range beyond capacity=%lu\n", cmd,
		   (unsigned long)b->capacity);
		return false;
	}
	return true;
}

int
cmd_blk_write(const char *args)
{
	struct blk *b = blk_get("blk-write", args);
	struct xfer x = { .write = true };

	if (!b || !xfer_args("blk-write", args, b, &x))
		return -1;
	if (b->vd.features & VIRTIO_BLK_F_RO) {
		pr("blk-write: error read-only device\n");
		return -1;
	}
	if (xfer_run(b, &x)) {
		pr("blk-write: error errors=%d\n", x.errors);
		return -1;
	}
	pr("blk-write: ok sectors=%lu\n", (unsigned long)x.count);
	return 0;
}

int
cmd_blk_read(const char *args)
{
	struct blk *b = blk_get("blk-read", args);
	struct xfer x = { .write = false };

	if (!b || !xfer_args("blk-read", args, b, &x))
		return -1;
	if (xfer_run(b, &x)) {
		pr("blk-read: error errors=%d\n", x.errors);
		return -1;
	}
	if (x.mismatches) {
		pr("blk-read: bad sectors=%lu mismatches=%lu first=%lu word=%d\n",
		   (unsigned long)x.count, (unsigned long)x.mismatches,
		   (unsigned long)x.first_bad, x.first_word);
		return -1;
	}
	pr("blk-read: ok sectors=%lu mismatches=0\n", (unsigned long)x.count);
	return 0;
}

int
cmd_blk_flush(const char *args)
{
	struct blk *b = blk_get("blk-flush", args);
	int k;

	if (!b)
		return -1;
	if (!(b->vd.features & VIRTIO_BLK_F_FLUSH)) {
		pr("blk-flush: ok supported=0\n");
		return 0;
	}
	slot_submit(b, 0, BLK_T_FLUSH, 0, 0);
	virtq_kick(&b->vd.vq);
	if ((k = slot_wait(b)) < 0 || *b->slot[k].status != BLK_S_OK) {
		pr("blk-flush: error\n");
		return -1;
	}
	pr("blk-flush: ok supported=1\n");
	return 0;
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int
cmd_blk_bench(const char *args)
{
	struct blk *b = blk_get("blk-bench", args);
	uint64_t secs = arg_u64_or(args, "seconds", 5);
	uint64_t depth = arg_u64_or(args, "depth", 1), rng = 0x2545F4914F6CDD1Dull;
	uint64_t sectors = arg_u64_or(args, "sectors", 8);	/* a request */
	uint64_t blocks, done = 0, t0, end, t1;
	int k, inflight = 0;

	if (!b)
		return -1;
	blocks = sectors && sectors <= REQ_SECTORS ? b->capacity / sectors : 0;
	if (!blocks || !secs || !depth) {
		pr("blk-bench: error disk too small or bad arguments\n");
		return -1;
	}
	if (depth > (uint64_t)b->nslots)
		depth = b->nslots;
	t0 = now_us();
	end = t0 + secs * 1000000;
	for (;;) {
		bool more = now_us() < end, pushed = false;

		while (more && (k = free_slot(b, (int)depth)) >= 0) {
			slot_submit(b, k, BLK_T_IN, xorshift(&rng) % blocks * sectors,
				    (uint32_t)sectors);
			inflight++;
			pushed = true;
		}
		if (pushed)
			virtq_kick(&b->vd.vq);
		if (!inflight)
			break;
		if ((k = slot_wait(b)) < 0 || *b->slot[k].status != BLK_S_OK) {
			pr("blk-bench: error\n");
			return -1;
		}
		inflight--;
		done++;
	}
	t1 = now_us();
	pr("blk-bench: iops=%lu reads=%lu depth=%lu us=%lu clock=%s tsc_khz=%lu\n",
	   (unsigned long)(done * 1000000 / (t1 - t0 ? t1 - t0 : 1)),
	   (unsigned long)done, (unsigned long)depth, (unsigned long)(t1 - t0),
	   tsc_source(), (unsigned long)tsc_khz());
	return 0;
}

/* ---- hostile: malformed chains, one per fresh device ---- */

#define HOSTILE_WAIT_US		2000000	/* 2 s: a loaded lab QEMU took over 0.2 */

struct hostile_case {
	const char *name;
	bool (*build)(struct blk *b);	/* false: not possible here */
};

static void
hdr_read0(struct blk *b)
{
	b->slot[0].hdr->type = BLK_T_IN;
	b->slot[0].hdr->sector = 0;
	*b->slot[0].status = 0xFF;
}

static bool
h_loop(struct blk *b)
{
	struct virtq_desc *d = b->vd.vq.desc;

	hdr_read0(b);
	d[0] = (struct virtq_desc){ (uintptr_t)b->slot[0].hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	d[1] = (struct virtq_desc){ (uintptr_t)b->slot[0].buf, 512,
		VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0 };
	virtq_push(&b->vd.vq, 0);
	return true;
}

/* header, then the given data descriptors, then the status byte */
static void
chain3(struct blk *b, uint64_t addr, uint32_t len, int ndata)
{
	struct virtq_desc *d = b->vd.vq.desc;
	int i;

	hdr_read0(b);
	d[0] = (struct virtq_desc){ (uintptr_t)b->slot[0].hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	for (i = 1; i <= ndata; i++)
		d[i] = (struct virtq_desc){ addr, len,
			VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, i + 1 };
	d[i] = (struct virtq_desc){ (uintptr_t)b->slot[0].status, 1,
		VIRTQ_DESC_F_WRITE, 0 };
	virtq_push(&b->vd.vq, 0);
}

static bool
h_oob_addr(struct blk *b)
{
	chain3(b, 1ull << 40, 512, 1);
	return true;
}

static bool
h_len_overflow(struct blk *b)
{
	chain3(b, (uintptr_t)b->slot[0].buf, 0xFFFFFE00u, 2);
	return true;
}

static bool
h_addr_wrap(struct blk *b)
{
	chain3(b, 0xFFFFFFFFFFFFF000ull, 0x2000, 1);
	return true;
}

static bool
h_next_oob(struct blk *b)
{
	chain3(b, (uintptr_t)b->slot[0].buf, 512, 1);
	b->vd.vq.desc[1].next = b->vd.vq.size + 3;
	return true;
}

/* an indirect table of 2 * queue size + 2 entries, all chained */
static bool
h_too_long(struct blk *b)
{
	uint32_t n = 2u * b->vd.vq.size + 2, i;
	struct virtq_desc *t;

	if (!(b->vd.features & VIRTIO_F_INDIRECT_DESC) ||
	    !(t = mem_alloc(16ull * n, PAGE_SIZE)))
		return false;
	hdr_read0(b);
	t[0] = (struct virtq_desc){ (uintptr_t)b->slot[0].hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	for (i = 1; i < n - 1; i++)
		t[i] = (struct virtq_desc){ (uintptr_t)b->slot[0].buf, 512,
			VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, i + 1 };
	t[n - 1] = (struct virtq_desc){ (uintptr_t)b->slot[0].status, 1,
		VIRTQ_DESC_F_WRITE, 0 };
	b->vd.vq.desc[0] = (struct virtq_desc){ (uintptr_t)t, 16 * n,
		VIRTQ_DESC_F_INDIRECT, 0 };
	virtq_push(&b->vd.vq, 0);
	return true;
}

static bool
h_nested_indirect(struct blk *b)
{
	struct virtq_desc *t;

	if (!(b->vd.features & VIRTIO_F_INDIRECT_DESC) ||
	    !(t = mem_alloc(16 * 4, 64)))
		return false;
	hdr_read0(b);
	t[1] = (struct virtq_desc){ (uintptr_t)b->slot[0].hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	t[2] = (struct virtq_desc){ (uintptr_t)b->slot[0].buf, 512,
		VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 };
	t[3] = (struct virtq_desc){ (uintptr_t)b->slot[0].status, 1,
		VIRTQ_DESC_F_WRITE, 0 };
	t[0] = (struct virtq_desc){ (uintptr_t)&t[1], 48, VIRTQ_DESC_F_INDIRECT, 0 };
	b->vd.vq.desc[0] = (struct virtq_desc){ (uintptr_t)t, 16,
		VIRTQ_DESC_F_INDIRECT, 0 };
	virtq_push(&b->vd.vq, 0);
	return true;
}

static bool
h_avail_jump(struct blk *b)
{
	struct virtq *vq = &b->vd.vq;

	slot_submit(b, 0, BLK_T_IN, 0, 1);
	vq->avail_idx += vq->size + 5;
	vq->avail->idx = vq->avail_idx;
	return true;
}

static const struct hostile_case hostile_cases[] = {
	{ "loop", h_loop },
	{ "oob-addr", h_oob_addr },
	{ "len-overflow", h_len_overflow },
	{ "addr-wrap", h_addr_wrap },
	{ "next-oob", h_next_oob },
	{ "too-long", h_too_long },
	{ "nested-indirect", h_nested_indirect },
	{ "avail-jump", h_avail_jump },
};

/* did the device flag NEEDS_RESET (or answer) within HOSTILE_WAIT_US? */
static bool
hostile_wait(struct blk *b)
{
	uint64_t deadline = now_us() + HOSTILE_WAIT_US;

	while (now_us() < deadline) {
		if (virtio_status(&b->vd) & VIRTIO_STATUS_NEEDS_RESET)
			return true;
		if (b->vd.vq.used->idx != b->vd.vq.used_seen)
			break;
		cpu_relax();
	}
	return virtio_status(&b->vd) & VIRTIO_STATUS_NEEDS_RESET;
}

static int
blk_reinit(struct blk *b)
{
	int k;

	for (k = 0; k < b->nslots; k++)
		b->slot[k].busy = false;
	return virtio_init(&b->vd, BLK_FEATURES, QSIZE);
}

int
cmd_hostile(const char *args)
{
	struct blk *b = blk_get("hostile", args);
	uint64_t mark;
	size_t i;
	int k;

	if (!b)
		return -1;
	mark = mem_mark();
	for (i = 0; i < sizeof(hostile_cases) / sizeof(hostile_cases[0]); i++) {
		const struct hostile_case *c = &hostile_cases[i];

		if (blk_reinit(b))
			break;
		if (!c->build(b)) {
			pr("hostile: case=%s skipped=no-indirect\n", c->name);
			continue;
		}
		virtq_kick(&b->vd.vq);
		pr("hostile: case=%s needs_reset=%d\n", c->name, hostile_wait(b));
		mem_release(mark);
	}
	if (blk_reinit(b)) {
		pr("hostile: done good_read=fail (re-init failed)\n");
		return -1;
	}
	slot_submit(b, 0, BLK_T_IN, 0, 1);
	virtq_kick(&b->vd.vq);
	k = slot_wait(b);
	if (k < 0 || *b->slot[k].status != BLK_S_OK) {
		pr("hostile: done good_read=fail\n");
		return -1;
	}
	pr("hostile: done good_read=ok\n");
	return 0;
}
