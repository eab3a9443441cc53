/*
 * churn.c - a disk-rewriting workload for storage live-migration tests.
 *
 * `blk-churn` takes N blocks of K KiB from sector S of virtio-blk dev=D.
 * Block b with generation g holds the pattern of pattern.h with seed
 * b * 65536 + g at its own (absolute) sectors, so the host tool can check
 * a block too: `pattern check FILE S+b*K*2 K*2 b*65536+g`.  gen[] (u32 a
 * block, in guest memory: it migrates with the VM) says what each block
 * should hold.  First every block is written once with generation 0, then,
 * for T seconds, blocks picked at random are rewritten with ++gen[b], at
 * most R a second, up to 16 requests of 64 KiB in flight but never two
 * writes of one block at once.  gen[b] goes up when the write is sent.
 *
 * It runs from idle(): churn_tick() takes the finished requests and sends
 * new ones, never waiting, so the console and `dirty` go on while the host
 * takes its time; idle() spins instead of halting while it runs.  Another
 * blk command (blk_get) first lets the churn's requests finish, then the
 * churn goes on after it.  A command line without `ready` runs the churn
 * to its end before it exits.  `blk-verify-churn` refuses while a churn
 * runs: `churn-stop` ends it first.
 *
 *   blk-churn dev=D start=S blocks=N [block_kb=K] [seconds=T] [rate=R]
 *	K KiB a block (64; 1 to 4096), T seconds after the initial pass
 *	(1; 0: until churn-stop), R blocks/s (0: as fast as the disk goes).
 *	"churn: started dev= start= blocks= block_kb= seconds= rate="
 *	"churn: initialised"	every block holds generation 0; T starts
 *	"churn: stats us= blocks_per_s= kib_per_s= errors="	(timed part)
 *	"churn: done writes=<n> blocks_touched=<k>"	rewrites, blocks with g>0
 *	"churn: error ..."	a failed write (status), a hung or broken
 *				device: the churn ends (stats, done) and
 *				cannot be verified
 *   churn-stop		ends it now, once its requests are done: the stats
 *			and done lines ("churn-stop: not running" when none
 *			runs; both succeed)
 *   blk-verify-churn	reads every block back against gen[]:
 *	"blk-verify-churn: ok blocks=<N>", or
 *	"blk-verify-churn: bad_sectors= first_sector= word= holds_gen=G|none"
 *	"blk-verify-churn: BAD block=<b> gen=<gen[b]>"	(lowest bad block;
 *	holds_gen: the newest generation up to gen[b] + 16 that its first
 *	bad sector holds), or "blk-verify-churn: error ..."
 */
#include "tests/guest/pattern.h"
#include "tests/guest/probe.h"

#define CHURN_BACKLOG_MS	100	/* most pacing a stall may make up for */
#define CHURN_SLOW_MS		100	/* a request this old: is the device ok? */
#define CHURN_HANG_MS		10000	/* a request this old: hung */
#define CHURN_MAX_KB		4096
#define CHURN_MAX_BLOCKS	(1ull << 28)
#define CHURN_HOLDS_AHEAD	16	/* holds_gen looks this far past gen[b] */

enum churn_phase { CHURN_OFF, CHURN_INIT, CHURN_RUN };

static struct blk *dev;
static uint64_t dev_no, first, nblocks, spb;	/* spb: sectors a block */
static uint64_t seconds, rate;
static uint32_t *gen;
static uint64_t gen_room;		/* entries gen[] has room for */
static enum churn_phase phase;
static bool valid;			/* every block holds gen[b] */
static uint64_t errors, init_next, writes, touched, rng;
static uint64_t hz, t_run, t_end, t_pace, credit, t_checked;

/* the block being sent a request at a time, and the requests in flight */
static bool cur_on;
static uint64_t cur_b, cur_off, cur_seed;
static bool slot_on[BLK_MAX_SLOTS];
static uint64_t slot_b[BLK_MAX_SLOTS], slot_off[BLK_MAX_SLOTS];
static uint64_t slot_t0[BLK_MAX_SLOTS];
static uint32_t slot_n[BLK_MAX_SLOTS];
static int inflight;

static uint64_t
seed_of(uint64_t b, uint32_t g)
{
	return b * 65536 + g;
}

static uint64_t
tsc_us(uint64_t cycles)
{
	uint64_t khz = tsc_khz();

	return cycles / khz * 1000 + cycles % khz * 1000 / khz;
}

static uint64_t
xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

bool
churn_active(void)
{
	return phase != CHURN_OFF;
}

static bool
block_busy(uint64_t b)
{
	int k;

	if (cur_on && cur_b == b)
		return true;
	for (k = 0; k < BLK_MAX_SLOTS; k++)
		if (slot_on[k] && slot_b[k] == b)
			return true;
	return false;
}

/*
 * Send requests while slots are free: the rest of the current block, then
 * the blocks pick() chooses (false: none now). True when it sent any.
 */
static bool
pump(bool write, bool (*pick)(void))
{
	bool sent = false;
	int k;

	while ((cur_on || pick()) && (k = blk_slot_free(dev)) >= 0 &&
	       k < BLK_MAX_SLOTS) {
		uint64_t n = spb - cur_off, s = first + cur_b * spb + cur_off, i;
		uint8_t *buf = blk_slot_buf(dev, k);

		if (n > BLK_REQ_SECTORS)
			n = BLK_REQ_SECTORS;
		for (i = 0; write && i < n; i++)
			pattern_fill(buf + i * PATTERN_SECTOR, cur_seed, s + i);
		blk_slot_submit(dev, k, write, s, (uint32_t)n);
		slot_on[k] = true;
		slot_b[k] = cur_b;
		slot_off[k] = cur_off;
		slot_n[k] = (uint32_t)n;
		slot_t0[k] = rdtsc();
		inflight++;
		sent = true;
		if ((cur_off += n) == spb)
			cur_on = false;
	}
	return sent;
}

/* slot k finished (from blk_slot_wait or blk_slot_done); -1: not ours */
static int
reaped(int k, uint8_t status, void (*done)(int k, uint8_t status))
{
	if (k < 0 || k >= BLK_MAX_SLOTS || !slot_on[k])
		return -1;
	slot_on[k] = false;
	inflight--;
	done(k, status);
	return 0;
}

static bool
pick_none(void)
{
	return false;
}

/* blk-churn's next block: the initial pass in order, then at random */
static bool
pick_write(void)
{
	uint64_t now = rdtsc(), b, gap, cap;
	int i;

	if (errors)
		return false;
	if (phase == CHURN_INIT) {
		if (init_next == nblocks)
			return false;
		b = init_next++;
		gen[b] = 0;
	} else {
		if (seconds && (int64_t)(now - t_end) >= 0)
			return false;
		if (rate) {
			/* blocks due by now; after a stall, CHURN_BACKLOG_MS */
			gap = now - t_pace;
			t_pace = now;
			if (gap > CHURN_BACKLOG_MS * tsc_khz())
				gap = CHURN_BACKLOG_MS * tsc_khz();
			credit += gap * rate;
			cap = rate * (hz / 1000) * CHURN_BACKLOG_MS + hz;
			if (credit > cap)
				credit = cap;
			if (credit < hz)
				return false;
		}
		b = xorshift(&rng) % nblocks;
		for (i = 0; block_busy(b); i++) {
			if (i > BLK_MAX_SLOTS)
				return false;
			if (++b == nblocks)
				b = 0;
		}
		if (rate)
			credit -= hz;
		if (gen[b]++ == 0)
			touched++;
		writes++;
	}
	cur_on = true;
	cur_b = b;
	cur_off = 0;
	cur_seed = seed_of(b, gen[b]);
	return true;
}

static void
write_done(int k, uint8_t status)
{
	if (status && !errors++)
		pr("churn: error block=%lu gen=%u status=%u\n",
		   (unsigned long)slot_b[k], gen[slot_b[k]], status);
}

static void
finish(void)
{
	uint64_t us = phase == CHURN_RUN ? tsc_us(rdtsc() - t_run) : 0;
	uint64_t div = us ? us : 1;

	phase = CHURN_OFF;
	if (errors)
		valid = false;
	pr("churn: stats us=%lu blocks_per_s=%lu kib_per_s=%lu errors=%lu\n",
	   (unsigned long)us, (unsigned long)(writes * 1000000 / div),
	   (unsigned long)(writes * (spb / 2) * 1000000 / div),
	   (unsigned long)errors);
	pr("churn: done writes=%lu blocks_touched=%lu\n",
	   (unsigned long)writes, (unsigned long)touched);
}

/* the device is gone: its requests stay where they are */
static void
fail(const char *why)
{
	pr("churn: error %s inflight=%d\n", why, inflight);
	errors++;
	finish();
}

/* true when a request is overdue and the device is broken or hung */
static bool
overdue(uint64_t now)
{
	uint64_t oldest = now;
	int k;

	for (k = 0; k < BLK_MAX_SLOTS; k++)
		if (slot_on[k] && (int64_t)(slot_t0[k] - oldest) < 0)
			oldest = slot_t0[k];
	if (now - oldest < CHURN_SLOW_MS * tsc_khz() ||
	    now - t_checked < CHURN_SLOW_MS * tsc_khz())
		return false;
	t_checked = now;	/* an MMIO read: every CHURN_SLOW_MS at most */
	if (blk_needs_reset(dev)) {
		fail("device needs reset");
		return true;
	}
	if (now - oldest >= CHURN_HANG_MS * tsc_khz()) {
		fail("device hung");
		return true;
	}
	return false;
}

void
churn_tick(void)
{
	uint64_t now;
	uint8_t status;
	int k;

	if (phase == CHURN_OFF)
		return;
	while ((k = blk_slot_done(dev, &status)) >= 0)
		if (reaped(k, status, write_done)) {
			fail("device finished a request it was not given");
			return;
		}
	if (k == -2) {
		fail("device returned a bogus id");
		return;
	}
	if (pump(true, pick_write))
		blk_kick(dev);
	now = rdtsc();
	if (inflight) {
		overdue(now);
		return;
	}
	/* nothing in flight, nothing more to send now */
	if (errors) {
		finish();
	} else if (phase == CHURN_INIT && init_next == nblocks) {
		valid = true;
		phase = CHURN_RUN;
		t_run = t_pace = now;
		t_end = now + seconds * hz;
		credit = 0;
		pr("churn: initialised\n");
	} else if (phase == CHURN_RUN && seconds &&
		   (int64_t)(now - t_end) >= 0) {
		finish();
	}
}

/* the current block's last requests and every one in flight, finished */
void
churn_drain(void)
{
	uint8_t status;
	int k;

	if (phase == CHURN_OFF)
		return;
	for (;;) {
		if (pump(true, pick_none))
			blk_kick(dev);
		if (!inflight)
			break;
		k = blk_slot_wait(dev, &status);
		if (k < 0) {
			fail("device hung");
			return;
		}
		if (reaped(k, status, write_done)) {
			fail("device finished a request it was not given");
			return;
		}
	}
}

int
cmd_blk_churn(const char *args)
{
	static const char *const known[] = { "dev", "start", "blocks",
		"block_kb", "seconds", "rate", NULL };
	uint64_t kb = arg_u64_or(args, "block_kb", 64);
	uint64_t s, n, cap, secs = arg_u64_or(args, "seconds", 1);
	uint64_t r = arg_u64_or(args, "rate", 0);
	struct blk *b;

	if (arg_has_unknown(args, known) || !arg_u64(args, "start", &s) ||
	    !arg_u64(args, "blocks", &n) || !n || n > CHURN_MAX_BLOCKS ||
	    !kb || kb > CHURN_MAX_KB || secs > 1000000 || r > 10000000) {
		pr("churn: error usage: blk-churn dev=D start=S blocks=N "
		   "[block_kb=K] [seconds=T] [rate=R]\n");
		return -1;
	}
	if (phase != CHURN_OFF) {
		pr("churn: error already running\n");
		return -1;
	}
	if (!(b = blk_get("churn", args)))
		return -1;
	if (blk_read_only(b)) {
		pr("churn: error read-only device\n");
		return -1;
	}
	cap = blk_capacity(b);
	if (s > cap || n * kb * 2 > cap - s) {
		pr("churn: error range beyond capacity=%lu\n",
		   (unsigned long)cap);
		return -1;
	}
	if (!gen || gen_room < n) {
		uint32_t *g = mem_alloc(n * sizeof(*gen), PAGE_SIZE);

		if (!g) {
			pr("churn: error only %lu MiB free\n",
			   (unsigned long)(mem_free_bytes() / MB));
			return -1;
		}
		gen = g;
		gen_room = n;
	}
	memset(gen, 0, n * sizeof(*gen));
	dev = b;
	dev_no = arg_u64_or(args, "dev", 0);
	first = s;
	nblocks = n;
	spb = kb * 2;
	seconds = secs;
	rate = r;
	valid = false;
	errors = init_next = writes = touched = 0;
	rng = 0x2545F4914F6CDD1Dull;
	hz = tsc_khz() * 1000;
	t_checked = 0;
	cur_on = false;
	memset(slot_on, 0, sizeof(slot_on));	/* after a hung device */
	inflight = 0;
	phase = CHURN_INIT;
	pr("churn: started dev=%lu start=%lu blocks=%lu block_kb=%lu "
	   "seconds=%lu rate=%lu\n", (unsigned long)dev_no,
	   (unsigned long)first, (unsigned long)nblocks, (unsigned long)kb,
	   (unsigned long)seconds, (unsigned long)rate);
	return 0;
}

int
cmd_churn_stop(const char *args)
{
	if (phase == CHURN_OFF) {
		pr("churn-stop: not running\n");
		return 0;
	}
	churn_drain();
	if (phase != CHURN_OFF)		/* else the drain failed: it said so */
		finish();
	return 0;
}

/* ---- blk-verify-churn ---- */

static uint64_t verify_next, bad_sectors, bad_first, io_errors;
static int bad_word;

static bool
pick_verify(void)
{
	if (verify_next == nblocks)
		return false;
	cur_on = true;
	cur_b = verify_next++;
	cur_off = 0;
	return true;
}

/* slot k read slot_n[k] sectors of block slot_b[k]: are they its pattern? */
static void
verify_done(int k, uint8_t status)
{
	const uint8_t *buf = blk_slot_buf(dev, k);
	uint64_t b = slot_b[k], s = first + b * spb + slot_off[k], i;
	int w;

	if (status) {
		if (!io_errors++)
			pr("blk-verify-churn: read error sector=%lu status=%u\n",
			   (unsigned long)s, status);
		return;
	}
	for (i = 0; i < slot_n[k]; i++) {
		w = pattern_check(buf + i * PATTERN_SECTOR, seed_of(b, gen[b]),
				  s + i);
		if (w < 0)
			continue;
		if (!bad_sectors++ || s + i < bad_first) {
			bad_first = s + i;
			bad_word = w;
		}
	}
}

/* the generation sector s of block b holds, or -1: none near gen[b] */
static int64_t
holds_gen(uint64_t b, uint64_t s)
{
	uint64_t g, last = (uint64_t)gen[b] + CHURN_HOLDS_AHEAD, n;
	uint8_t status, *buf;
	int k;

	if ((k = blk_slot_free(dev)) < 0)
		return -1;
	blk_slot_submit(dev, k, false, s, 1);
	blk_kick(dev);
	if (blk_slot_wait(dev, &status) != k || status)
		return -1;
	buf = blk_slot_buf(dev, k);
	/* newest first, and not for ever: gen[b] itself may be what broke */
	for (g = last, n = 0; n < (1u << 20); g--, n++) {
		if (g <= 0xFFFFFFFFull &&
		    pattern_check(buf, seed_of(b, (uint32_t)g), s) < 0)
			return (int64_t)g;
		if (!g)
			break;
	}
	return -1;
}

int
cmd_blk_verify_churn(const char *args)
{
	static const char *const known[] = { NULL };
	uint64_t b;
	int64_t held;
	uint8_t status;
	int k;

	if (arg_has_unknown(args, known)) {
		pr("blk-verify-churn: error usage: blk-verify-churn\n");
		return -1;
	}
	if (phase != CHURN_OFF) {
		pr("blk-verify-churn: error churn is running (churn-stop "
		   "ends it)\n");
		return -1;
	}
	if (!gen || !dev) {
		pr("blk-verify-churn: error no blk-churn ran\n");
		return -1;
	}
	if (errors) {
		pr("blk-verify-churn: error the churn failed errors=%lu\n",
		   (unsigned long)errors);
		return -1;
	}
	if (!valid) {
		pr("blk-verify-churn: error the churn stopped before "
		   "initialised\n");
		return -1;
	}
	verify_next = bad_sectors = io_errors = 0;
	bad_word = -1;
	cur_on = false;
	for (;;) {
		if (pump(false, pick_verify))
			blk_kick(dev);
		if (!inflight)
			break;
		k = blk_slot_wait(dev, &status);
		if (k < 0 || reaped(k, status, verify_done)) {
			pr("blk-verify-churn: error device hung\n");
			return -1;
		}
	}
	if (io_errors) {
		pr("blk-verify-churn: error read errors=%lu\n",
		   (unsigned long)io_errors);
		return -1;
	}
	if (!bad_sectors) {
		pr("blk-verify-churn: ok blocks=%lu\n", (unsigned long)nblocks);
		return 0;
	}
	b = (bad_first - first) / spb;
	held = holds_gen(b, bad_first);
	if (held < 0)
		pr("blk-verify-churn: bad_sectors=%lu first_sector=%lu word=%d "
		   "holds_gen=none\n", (unsigned long)bad_sectors,
		   (unsigned long)bad_first, bad_word);
	else
		pr("blk-verify-churn: bad_sectors=%lu first_sector=%lu word=%d "
		   "holds_gen=%lu\n", (unsigned long)bad_sectors,
		   (unsigned long)bad_first, bad_word, (unsigned long)held);
	pr("blk-verify-churn: BAD block=%lu gen=%u\n", (unsigned long)b, gen[b]);
	return -1;
}
