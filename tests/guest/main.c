/*
 * main.c - the probe guest's ring-3 main: read hvm_start_info (command
 * line, memory map; every address and count bounds-checked), fill the IDT,
 * run the commands of the command line in order, then idle on the serial
 * console if `ready` was among them.
 *
 * Command line: commands separated by ';', each "NAME key=value ...":
 *   ready                          print "probe: ready", idle at the end
 *   blk-write dev= start= count= seed=   blk-read (same)   blk-flush dev=
 *   blk-bench dev= seconds= depth= [sectors=]   hostile dev=
 *   mem-touch mb=N [wait=MS]       take and touch N MiB; short because the
 *                                  balloon holds pages: poll it up to MS ms
 *                                  (30000), then DEFLATE_ON_OOM if offered
 *   mem-free                       give back what mem-touch took
 *   mem-report                     total, free, ballooned and used MiB
 *   balloon-up                     virtio-balloon (balloon.c), polled in idle
 *   fault kind=pf|ud|gp            take that exception (tests the report)
 *   acpi                           what the ACPI tables say
 *   acpi-off                       power off through PM1a_CNT (S5)
 *   pwrbtn [seconds=N]             wait for the ACPI power button and its SCI
 *   smp [timeout_ms=N]             start every AP in the MADT
 *   net-up net-stats udp-send udp-stream udp-sink icmp-ping forge-dhcp-offer
 *   forge-ra forge-mac             virtio-net and IPv4 (net.c, net-ip.c)
 *   counter [step_ms=N]            while idle, "counter: N" every N ms (100),
 *                                  N from 1 up: proves a saved VM goes on
 *   dirty [mb=N] [rate=R] [step_ms=S]  while idle, rewrite N MiB (64) at R
 *                                  MiB/s (10), "dirty: n= us= sum=" every
 *                                  S ms (10), "dirty: stall us= at n=" when
 *                                  the guest lost over 20 ms (dirty.c)
 *   dirty-check                    the region against its sum: ok or BAD
 *   blk-churn dev=D start=S blocks=N [block_kb=K] [seconds=T] [rate=R]
 *                                  write N blocks of K KiB (64) from sector
 *                                  S once, then while idle rewrite random
 *                                  ones for T s (1; 0: until stopped) at up
 *                                  to R blocks/s (0: flat out) (churn.c);
 *                                  without `ready` it runs to its end
 *   churn-stop                     end a running blk-churn now
 *   blk-verify-churn               every block against its generation: ok
 *                                  or BAD (refused while blk-churn runs)
 * Console lines while idle: shutdown, ping, or any command above; the
 * ACPI power button while idle powers off (S5), as an OS would.
 */
#include "tests/guest/probe.h"

#define HVM_START_MAGIC		0x336ec578
#define E820_RAM		1
#define MAX_MEMMAP		64
#define CMDLINE_MAX		4096
#define LOW_MAPPED_END		0xC0000000ull	/* cacheable identity map */

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;	/* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

extern uint64_t pdpt[512];
extern uint8_t pt_spare[8][4096];
extern uint8_t idt[4096];
extern uint8_t isr_stub_base[];
extern uint8_t isr_ignore[], isr_ud[];

#define TIMER_VECTOR		0x40
#define IDLE_TICK_NS		10000000u	/* console poll: 100 Hz */
extern uint8_t __image_end[];

uint64_t ram_top;
static struct hvm_memmap_entry memmap[MAX_MEMMAP];
static uint32_t memmap_n;
static char cmdline[CMDLINE_MAX];
static int spare_used;
static bool want_idle;
static uint64_t mem_touch_mark;
static bool mem_touched;

/* ---- page tables above 4 GiB (ring 3 writes them: all pages are U) ---- */

static int
map_2m(uint64_t addr, uint64_t flags)
{
	uint64_t i = addr >> 30, *pd;

	if (i >= 512)
		return -1;
	if (!pdpt[i]) {
		if (spare_used >= 8)
			return -1;
		pdpt[i] = (uintptr_t)pt_spare[spare_used++] | 0x7;
	}
	pd = (uint64_t *)(uintptr_t)(pdpt[i] & ~0xFFFull);
	if (!pd[(addr >> 21) & 511])
		pd[(addr >> 21) & 511] = addr | flags;
	return 0;
}

static int
map_range(uint64_t phys, uint64_t len, uint64_t flags)
{
	uint64_t a, end = phys + len;

	for (a = phys & ~(2 * MB - 1); a < end; a += 2 * MB)
		if (a >= 0x100000000ull && map_2m(a, flags)) {
			pr("probe: cannot map 0x%lx (past 512 GiB or out of "
			   "page directories)\n", (unsigned long)a);
			return -1;
		}
	return 0;
}

int
pt_map_high(uint64_t phys, uint64_t len)
{
	return map_range(phys, len, 0x9F);	/* P RW U PWT PCD PS */
}

/* ---- exceptions ---- */

static void
idt_gate(int v, void *handler, int dpl)
{
	uint64_t *g = (uint64_t *)idt, off = (uintptr_t)handler;

	g[2 * v] = (off & 0xFFFF) | (0x08ull << 16) |
		   (uint64_t)(0x8E | dpl << 5) << 40 | ((off >> 16) & 0xFFFF) << 48;
	g[2 * v + 1] = off >> 32;
}

static void
idt_init(void)
{
	int v;

	for (v = 0; v < 32; v++)
		idt_gate(v, isr_stub_base + 16 * v, 0);
	idt_gate(6, isr_ud, 0);		/* #UD, and idle_halt() */
	for (v = 32; v < 256; v++)
		idt_gate(v, isr_ignore, 0);
}

/*
 * The 8259s: moved off the exception vectors (SeaBIOS leaves them at 8)
 * and masked, so only the LAPIC timer wakes idle_halt().
 */
static void
pic_quiet(void)
{
	static const uint8_t icw[2][4] = { { 0x11, 0x20, 0x04, 0x01 },
					   { 0x11, 0x28, 0x02, 0x01 } };
	int i;

	for (i = 0; i < 2; i++) {
		uint16_t base = i ? 0xA0 : 0x20;

		outb(base, icw[i][0]);
		outb(base + 1, icw[i][1]);
		outb(base + 1, icw[i][2]);
		outb(base + 1, icw[i][3]);
		outb(base + 1, 0xFF);
	}
}

/*
 * The LAPIC timer wakes idle() (KVM's LAPIC counts 1 GHz). Periodic, not
 * one-shot: a one-shot tick delivered between the sti and the hlt of
 * idle_halt() leaves the CPU halted for ever. The sti shadow forbids that,
 * but the emulated AMD-V lab (scripts/lab) loses the shadow when an exit
 * falls between the two (QEMU's monitor then shows the probe halted with
 * IF=1, the one-shot count at 0, nothing in IRR or ISR). With a period the
 * next tick wakes it; a tick that comes while the probe works waits in IRR.
 */
static bool
lapic_timer_init(void)
{
	uint32_t r[4];

	cpuid(1, 0, r);
	if (!(r[3] & (1u << 9)))
		return false;
	pic_quiet();
	mmio_w32(LAPIC + 0xF0, 0x1FF);		/* enabled, spurious 0xFF */
	mmio_w32(LAPIC + 0x3E0, 0xB);		/* divide by 1 */
	mmio_w32(LAPIC + 0x320, TIMER_VECTOR | (1u << 17));	/* periodic */
	return true;
}

/* called from isr_common in ring 0; frame: r15..rax, vector, err, iret */
void
fault_report(uint64_t *f, uint64_t cr2)
{
	pr("probe: fault vector=%lu rip=0x%lx err=0x%lx cr2=0x%lx rsp=0x%lx "
	   "cs=0x%lx\n", (unsigned long)f[15], (unsigned long)f[17],
	   (unsigned long)f[16], (unsigned long)cr2, (unsigned long)f[20],
	   (unsigned long)f[18]);
	probe_exit(EXIT_FAULT);
}

/* ---- boot information ---- */

bool
low_range_ok(uint64_t addr, uint64_t len)
{
	return addr >= PAGE_SIZE && len <= LOW_MAPPED_END &&
	       addr <= LOW_MAPPED_END - len;
}

static void
read_memmap(const struct hvm_start_info *si)
{
	uint32_t i, n = si->memmap_entries;

	if (si->version < 1 || !n)
		return;
	if (n > MAX_MEMMAP)
		n = MAX_MEMMAP;
	if (!low_range_ok(si->memmap_paddr, n * sizeof(memmap[0])))
		return;
	memcpy(memmap, (void *)(uintptr_t)si->memmap_paddr, n * sizeof(memmap[0]));
	memmap_n = n;
	for (i = 0; i < n; i++) {
		uint64_t end = memmap[i].addr + memmap[i].size;

		if (memmap[i].type == E820_RAM && end > memmap[i].addr &&
		    end > ram_top)
			ram_top = end;
	}
}

static uint8_t
cmos(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

/* no memory map: QEMU's CMOS fields (64 KiB units above 16 MiB / 4 GiB) */
static void
memmap_from_cmos(void)
{
	uint64_t low = ((uint64_t)cmos(0x35) << 8 | cmos(0x34)) * 65536;
	uint64_t high = ((uint64_t)cmos(0x5d) << 16 | (uint64_t)cmos(0x5c) << 8 |
			 cmos(0x5b)) * 65536;

	if (low == 0xFFFF * 65536ull || !low)
		low = 16 * MB;	/* the smallest guest we expect */
	else
		low += 16 * MB;
	memmap[0] = (struct hvm_memmap_entry){ MB, low - MB, E820_RAM, 0 };
	memmap_n = 1;
	ram_top = low;
	if (high && high != 0xFFFFFF * 65536ull) {
		memmap[1] = (struct hvm_memmap_entry){ 1ull << 32, high, E820_RAM, 0 };
		memmap_n = 2;
		ram_top = (1ull << 32) + high;
	}
}

static void
read_cmdline(uint64_t pa)
{
	const char *s = (const char *)(uintptr_t)pa;
	size_t i;

	if (!pa || !low_range_ok(pa, 1))
		return;
	for (i = 0; i < CMDLINE_MAX - 1 && pa + i < LOW_MAPPED_END && s[i]; i++)
		cmdline[i] = s[i] == '"' ? '\'' : s[i];
	cmdline[i] = 0;
}

static uint64_t
boot_info(uint32_t si_pa)
{
	const struct hvm_start_info *si = (const void *)(uintptr_t)si_pa;
	uint64_t rsdp = 0;

	if (low_range_ok(si_pa, sizeof(*si)) && si->magic == HVM_START_MAGIC) {
		read_memmap(si);
		read_cmdline(si->cmdline_paddr);
		rsdp = si->rsdp_paddr;
	} else {
		pr("probe: no hvm_start_info at 0x%x\n", si_pa);
	}
	if (!memmap_n)
		memmap_from_cmos();
	return rsdp;
}

/* the allocator gets the RAM after the image, in the entry holding it */
static void
pool_init(void)
{
	uint64_t img = (uintptr_t)__image_end;
	uint32_t i;

	for (i = 0; i < memmap_n; i++) {
		uint64_t a = memmap[i].addr, end = a + memmap[i].size;

		if (memmap[i].type != E820_RAM || img < a || img >= end)
			continue;
		mem_init(img, end < LOW_MAPPED_END ? end : LOW_MAPPED_END);
	}
	/* RAM above 4 GiB: cacheable identity map for the mem-* commands */
	for (i = 0; i < memmap_n; i++)
		if (memmap[i].type == E820_RAM &&
		    memmap[i].addr + memmap[i].size > 0x100000000ull)
			map_range(memmap[i].addr, memmap[i].size, 0x87);
}

uint64_t
ram_bytes(void)
{
	uint64_t sum = 0;
	uint32_t i;

	for (i = 0; i < memmap_n; i++)
		if (memmap[i].type == E820_RAM)
			sum += memmap[i].size;
	return sum;
}

/* ---- commands ---- */

/* counter: TSC cycles between lines (0: off), when the next is due */
static uint64_t counter_step, counter_due, counter_n;

static int
cmd_counter(const char *args)
{
	uint64_t ms = arg_u64_or(args, "step_ms", 100);

	if (ms == 0 || ms > 3600000) {
		pr("counter: bad step_ms\n");
		return -1;
	}
	counter_step = ms * tsc_khz();
	counter_due = rdtsc() + counter_step;
	want_idle = true;
	return 0;
}

static void
counter_tick(void)
{
	if (counter_step && (int64_t)(rdtsc() - counter_due) >= 0) {
		counter_due += counter_step;
		pr("counter: %lu\n", (unsigned long)++counter_n);
	}
}

static int
cmd_ready(const char *args)
{
	want_idle = true;
	pr("probe: ready\n");
	return 0;
}

/*
 * Take one chunk of up to 16 MiB, as an OS does: what is free first; when
 * nothing is, wait for the host to shrink the balloon (the guest's stats
 * show the pressure), and after wait_ms take pages back from the balloon
 * (deflate on OOM). NULL when even that cannot give any.
 */
static void *
mem_chunk(uint64_t *bytes, uint64_t wait_ms, uint64_t *waited_us)
{
	uint64_t t0 = now_us(), free;
	void *m;

	for (;;) {
		free = mem_free_bytes() & ~(uint64_t)(PAGE_SIZE - 1);
		if (free >= PAGE_SIZE) {
			if (*bytes > free)
				*bytes = free;
			if ((m = mem_alloc(*bytes, PAGE_SIZE)) != NULL)
				break;
		}
		if (balloon_pages() == 0)
			return NULL;
		if (*waited_us + (now_us() - t0) >= wait_ms * 1000) {
			if (!balloon_reclaim(*bytes / PAGE_SIZE + 1))
				return NULL;
			continue;
		}
		balloon_poll();
		cpu_relax();
	}
	*waited_us += now_us() - t0;
	return m;
}

static int
cmd_mem_touch(const char *args)
{
	uint64_t mb, mark = mem_mark(), wait_ms, waited_us = 0, done = 0;

	if (!arg_u64(args, "mb", &mb) || mb > (1ull << 20)) {
		pr("mem: error usage: mem-touch mb=N [wait=MS]\n");
		return -1;
	}
	wait_ms = arg_u64_or(args, "wait", 30000);
	if (mb * MB > mem_free_bytes() + balloon_pages() * PAGE_SIZE) {
		pr("mem: error only %lu MiB free waited_ms=0\n",
		   (unsigned long)((mem_free_bytes() + balloon_pages() * PAGE_SIZE) / MB));
		return -1;
	}
	while (done < mb * MB) {
		uint64_t chunk = mb * MB - done < 16 * MB ? mb * MB - done : 16 * MB;
		uint8_t *m = mem_chunk(&chunk, wait_ms, &waited_us);

		if (m == NULL) {
			mem_release(mark);
			pr("mem: error only %lu MiB free waited_ms=%lu\n",
			   (unsigned long)(done / MB), (unsigned long)(waited_us / 1000));
			return -1;
		}
		for (uint64_t p = 0; p < chunk; p += PAGE_SIZE)
			m[p] = (uint8_t)((done + p) >> 12) | 1;
		done += chunk;
		balloon_poll();
	}
	if (!mem_touched) {
		mem_touch_mark = mark;
		mem_touched = true;
	}
	pr("mem: used_mb=%lu free_mb=%lu waited_ms=%lu\n",
	   (unsigned long)((mem_mark() - mem_touch_mark) / MB),
	   (unsigned long)(mem_free_bytes() / MB), (unsigned long)(waited_us / 1000));
	return 0;
}

static int
cmd_mem_free(const char *args)
{
	if (mem_touched)
		mem_release(mem_touch_mark);
	mem_touched = false;
	pr("mem: used_mb=0 free_mb=%lu\n", (unsigned long)(mem_free_bytes() / MB));
	return 0;
}

static int
cmd_mem_report(const char *args)
{
	uint64_t total = ram_bytes(), free, held, used;

	balloon_poll();
	free = mem_free_bytes();
	held = balloon_pages() * PAGE_SIZE;
	used = total > free + held ? total - free - held : 0;
	pr("mem-report: ok total_mb=%lu free_mb=%lu ballooned_mb=%lu "
	   "used_mb=%lu\n", (unsigned long)(total / MB),
	   (unsigned long)(free / MB), (unsigned long)(held / MB),
	   (unsigned long)(used / MB));
	return 0;
}

static int
cmd_ping(const char *args)
{
	pr("pong\n");
	return 0;
}

/* fault kind=pf|ud|gp: check that exceptions are reported, not hidden */
static int
cmd_fault(const char *args)
{
	uintptr_t null_page = 8;

	if (!strncmp(args, " kind=ud", 8))
		__asm__ volatile("ud2");
	if (!strncmp(args, " kind=gp", 8))
		__asm__ volatile("hlt");	/* privileged: #GP in ring 3 */
	/* page 0 is not mapped */
	__asm__ volatile("" : "+r"(null_page));	/* hide it from -Warray-bounds */
	pr("probe: read 0x%lx\n", (unsigned long)*(volatile uint64_t *)null_page);
	return -1;
}

static const struct {
	const char *name;
	int (*run)(const char *args);
} commands[] = {
	{ "ready", cmd_ready },
	{ "counter", cmd_counter },
	{ "dirty", cmd_dirty },
	{ "dirty-check", cmd_dirty_check },
	{ "blk-churn", cmd_blk_churn },
	{ "churn-stop", cmd_churn_stop },
	{ "blk-verify-churn", cmd_blk_verify_churn },
	{ "ping", cmd_ping },
	{ "blk-write", cmd_blk_write },
	{ "blk-read", cmd_blk_read },
	{ "blk-flush", cmd_blk_flush },
	{ "blk-bench", cmd_blk_bench },
	{ "hostile", cmd_hostile },
	{ "mem-touch", cmd_mem_touch },
	{ "mem-free", cmd_mem_free },
	{ "mem-report", cmd_mem_report },
	{ "balloon-up", cmd_balloon_up },
	{ "fault", cmd_fault },
	{ "acpi", cmd_acpi },
	{ "acpi-off", cmd_acpi_off },
	{ "pwrbtn", cmd_pwrbtn },
	{ "smp", cmd_smp },
	{ "net-up", cmd_net_up },
	{ "net-stats", cmd_net_stats },
	{ "udp-send", cmd_udp_send },
	{ "udp-stream", cmd_udp_stream },
	{ "udp-sink", cmd_udp_sink },
	{ "icmp-ping", cmd_icmp_ping },
	{ "forge-dhcp-offer", cmd_forge_dhcp_offer },
	{ "forge-ra", cmd_forge_ra },
	{ "forge-mac", cmd_forge_mac },
};

/* one command, NUL-terminated, may have blanks around it; 0 ok, -1 failed */
static int
run_command(char *c)
{
	size_t i, n;
	char *end;

	while (*c == ' ' || *c == '\t')
		c++;
	end = c + strlen(c);
	while (end > c && (end[-1] == ' ' || end[-1] == '\t' ||
			   end[-1] == '\r' || end[-1] == '\n'))
		*--end = 0;
	if (!*c)
		return 0;
	for (n = 0; c[n] && c[n] != ' '; n++)
		;
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strlen(commands[i].name) == n && !strncmp(c, commands[i].name, n))
			return commands[i].run(c + n);
	pr("probe: unknown command \"%s\"\n", c);
	return -2;
}

/*
 * serial console: a line at a time, polled every 10 ms from a halted CPU
 * (LAPIC timer), or about every millisecond by spinning without a LAPIC
 * or while dirty or blk-churn runs (their pace and stall clock need the
 * CPU; a churn tick takes up to about a millisecond); with a NIC up see
 * net_idle(): every millisecond, spinning under traffic
 */
static void
idle(int status)
{
	char line[256];
	size_t n = 0;
	uint64_t last = 0;
	uint32_t period = 0;
	bool halt = lapic_timer_init();

	acpi_power_button_arm();
	for (;;) {
		int ch;

		balloon_poll();
		counter_tick();
		dirty_tick();
		churn_tick();
		if (acpi_power_button()) {	/* what an OS does: shut down */
			pr("probe: power button\n");
			pr("probe: shutdown\n");
			acpi_poweroff();
			probe_exit(status);
		}

		if (net_idle(halt)) {
			/* recent traffic: it spun 1 ms on the NICs' rings */
		} else if (halt && !dirty_active() && !churn_active()) {
			uint32_t want = net_active() ? NET_TICK_NS : IDLE_TICK_NS;

			if (want != period) {	/* restarts the timer */
				mmio_w32(LAPIC + 0x380, want);
				period = want;
			}
			idle_halt();
		} else {
			while (rdtsc() - last < (1u << 21)) {
				dirty_tick();
				churn_tick();
				cpu_relax();
			}
			last = rdtsc();
		}
		while ((ch = serial_getc()) >= 0) {
			if (ch != '\r' && ch != '\n') {
				if (n < sizeof(line) - 1)
					line[n++] = (char)ch;
				continue;
			}
			line[n] = 0;
			n = 0;
			if (!strncmp(line, "shutdown", 9)) {
				pr("probe: shutdown\n");
				probe_exit(status);
			}
			if (run_command(line))
				status = EXIT_FAIL;
		}
	}
}

int
probe_main(uint32_t start_info)
{
	int status = EXIT_OK;
	uint64_t rsdp;
	char *c, *semi;

	serial_init();
	idt_init();
	rsdp = boot_info(start_info);
	pool_init();
	acpi_init(rsdp);
	pr("probe: cpus=%d mem_mb=%lu cmdline=\"%s\"\n",
	   acpi.ncpus ? acpi.ncpus : 1, (unsigned long)(ram_bytes() / MB),
	   cmdline);
	for (c = cmdline; c; c = semi) {
		int rc;

		semi = c;
		while (*semi && *semi != ';')
			semi++;
		if (*semi)
			*semi++ = 0;
		else
			semi = NULL;
		rc = run_command(c);
		if (rc == -2 && status == EXIT_OK)
			status = EXIT_BADCMD;
		else if (rc && status != EXIT_BADCMD)
			status = EXIT_FAIL;
	}
	if (want_idle)
		idle(status);
	while (churn_active())	/* blk-churn without ready: to its end */
		churn_tick();
	return status;
}
