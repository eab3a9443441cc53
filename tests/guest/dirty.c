/*
 * dirty.c - a memory-dirtying workload for live-migration tests, and the
 * guest's own view of the VM's downtime.
 *
 * `dirty` takes N MiB of the pool and fills each 4 KiB page i with one
 * 64-bit word v = mix(i, gen[i]) repeated 512 times; gen[] (u32, also in
 * the pool) counts the rewrites of each page.  `sum` is the 64-bit sum of
 * every word of the region, kept up to date as pages are rewritten, so
 * `dirty-check` can prove after a migration that no page was lost or torn
 * (and says which page was, from mix(i, gen[i])).
 *
 * From idle(), dirty_tick() rewrites pages round-robin at R MiB/s paced by
 * the TSC, prints a line every S ms, and measures the time between its own
 * calls: the host moves the guest TSC on by the time the VM did not run,
 * so a gap over DIRTY_STALL_MS is the downtime as the guest saw it.  idle()
 * spins instead of halting while dirty_active(), so the gaps stay small.
 *
 *   dirty [mb=N] [rate=R] [step_ms=S]   N MiB (64), R MiB/s (10), S ms (10)
 *   dirty-check                         every word against sum and gen[]
 */
#include "tests/guest/pattern.h"
#include "tests/guest/probe.h"

#define DIRTY_STALL_MS		20	/* a longer gap between ticks: a stall */
#define DIRTY_BACKLOG_MS	100	/* most pacing a stall may make up for */
#define DIRTY_BURST		64	/* pages per tick: lines stay on time */
#define PAGE_WORDS		(PAGE_SIZE / 8)

static uint64_t *region;		/* NULL: not started */
static uint32_t *gen;
static uint64_t npages, next_page;
static uint64_t sum;			/* of every word of the region */
static uint64_t hz, pages_per_s, credit;	/* credit: pages * hz */
static uint64_t t_start, t_pace, t_tick, t_due, step;
static uint64_t lines, rewritten, stalls, max_gap;

/* distinct for every (page, generation) while pages < 2^32 */
static inline uint64_t
mix(uint64_t i, uint32_t g)
{
	return pattern_splitmix64(i << 32 ^ g);
}

/* what the 512 words of a page filled with v add up to (wrapping) */
static inline uint64_t
page_sum(uint64_t v)
{
	return v * PAGE_WORDS;
}

static uint64_t
tsc_us(uint64_t cycles)
{
	uint64_t khz = tsc_khz();

	return cycles / khz * 1000 + cycles % khz * 1000 / khz;
}

static void
page_fill(uint64_t i)
{
	uint64_t v = mix(i, gen[i]), *p = region + i * PAGE_WORDS;
	unsigned int w;

	for (w = 0; w < PAGE_WORDS; w++)
		p[w] = v;
}

static void
page_rewrite(uint64_t i)
{
	sum -= page_sum(mix(i, gen[i]));
	gen[i]++;
	page_fill(i);
	sum += page_sum(mix(i, gen[i]));
}

bool
dirty_active(void)
{
	return region != NULL;
}

int
cmd_dirty(const char *args)
{
	static const char *const known[] = { "mb", "rate", "step_ms", NULL };
	uint64_t mb = arg_u64_or(args, "mb", 64);
	uint64_t rate = arg_u64_or(args, "rate", 10);
	uint64_t ms = arg_u64_or(args, "step_ms", 10);
	uint64_t i, mark = mem_mark();

	if (arg_has_unknown(args, known) || mb == 0 || mb > (1ull << 20) ||
	    rate > (1ull << 20) || ms == 0 || ms > 3600000) {
		pr("dirty: error usage: dirty [mb=N] [rate=MiB/s] [step_ms=S]\n");
		return -1;
	}
	if (region) {
		pr("dirty: error already running\n");
		return -1;
	}
	/* the region, then gen[]: mem_alloc zeroes, so every page is RAM */
	if (!(region = mem_alloc(mb * MB, PAGE_SIZE)) ||
	    !(gen = mem_alloc(mb * 256 * sizeof(*gen), PAGE_SIZE))) {
		mem_release(mark);
		region = NULL;
		pr("dirty: error only %lu MiB free\n",
		   (unsigned long)(mem_free_bytes() / MB));
		return -1;
	}
	npages = mb * MB / PAGE_SIZE;
	sum = 0;
	for (i = 0; i < npages; i++) {
		page_fill(i);
		sum += page_sum(mix(i, 0));
	}
	hz = tsc_khz() * 1000;
	pages_per_s = rate * (MB / PAGE_SIZE);
	step = ms * tsc_khz();
	t_start = rdtsc();
	t_due = t_start + step;
	t_pace = t_tick = 0;	/* the first tick starts the clocks */
	pr("dirty: started mb=%lu rate=%lu step_ms=%lu sum=%016lx\n",
	   (unsigned long)mb, (unsigned long)rate, (unsigned long)ms,
	   (unsigned long)sum);
	return 0;
}

void
dirty_tick(void)
{
	uint64_t now, gap, n;

	if (!region)
		return;
	now = rdtsc();
	if (!t_tick)
		t_tick = t_pace = now;
	gap = now - t_tick;
	t_tick = now;
	if (gap > DIRTY_STALL_MS * tsc_khz()) {
		stalls++;
		pr("dirty: stall us=%lu at n=%lu\n", (unsigned long)tsc_us(gap),
		   (unsigned long)lines);
	}
	if (gap > max_gap)
		max_gap = gap;

	/* pages due by now; after a stall at most DIRTY_BACKLOG_MS of them */
	gap = now - t_pace;
	t_pace = now;
	if (gap > DIRTY_BACKLOG_MS * tsc_khz())
		gap = DIRTY_BACKLOG_MS * tsc_khz();
	credit += gap * pages_per_s;
	if (credit > DIRTY_BACKLOG_MS * tsc_khz() * pages_per_s)
		credit = DIRTY_BACKLOG_MS * tsc_khz() * pages_per_s;
	for (n = 0; n < DIRTY_BURST && credit >= hz; n++) {
		credit -= hz;
		page_rewrite(next_page);
		if (++next_page == npages)
			next_page = 0;
		rewritten++;
	}

	if ((int64_t)(now - t_due) >= 0) {
		/* late by a whole step (a stall): one line, not a burst */
		t_due = now - t_due >= step ? now + step : t_due + step;
		pr("dirty: n=%lu us=%lu sum=%016lx\n", (unsigned long)++lines,
		   (unsigned long)tsc_us(now - t_start), (unsigned long)sum);
	}
}

int
cmd_dirty_check(const char *args)
{
	uint64_t s = 0, i, bad = npages, el;
	unsigned int w;

	if (!region) {
		pr("dirty-check: error dirty is not running\n");
		return -1;
	}
	for (i = 0; i < npages; i++) {
		const uint64_t *p = region + i * PAGE_WORDS;
		uint64_t v = mix(i, gen[i]), diff = 0;

		for (w = 0; w < PAGE_WORDS; w++) {
			s += p[w];
			diff |= p[w] ^ v;
		}
		if (diff && bad == npages)
			bad = i;
	}
	if (s == sum && bad == npages)
		pr("dirty-check: sum=%016lx expect=%016lx ok\n",
		   (unsigned long)s, (unsigned long)sum);
	else if (bad < npages)
		pr("dirty-check: sum=%016lx expect=%016lx BAD page=%lu\n",
		   (unsigned long)s, (unsigned long)sum, (unsigned long)bad);
	else	/* every page matches gen[]: the running sum was lost */
		pr("dirty-check: sum=%016lx expect=%016lx BAD page=none\n",
		   (unsigned long)s, (unsigned long)sum);
	el = tsc_us(rdtsc() - t_start);
	pr("dirty-check: max_stall_us=%lu\n", (unsigned long)tsc_us(max_gap));
	pr("dirty-check: stalls=%lu lines=%lu rewritten_pages=%lu "
	   "elapsed_us=%lu\n", (unsigned long)stalls, (unsigned long)lines,
	   (unsigned long)rewritten, (unsigned long)el);
	/* time the guest spent on purpose: neither a stall nor owed pages */
	t_pace = t_tick = rdtsc();
	return s == sum && bad == npages ? 0 : -1;
}
