/*
 * lib.c - what libc and the kernel would give the probe: port I/O serial,
 * a printf subset, strings, command arguments, the TSC clock, a physical
 * page allocator and the exit port.  Everything here runs in ring 3
 * (fault_report also calls pr() from ring 0, which is slow but rare).
 */
#include "tests/guest/probe.h"

#define COM1		0x3F8
#define COM1_LSR	(COM1 + 5)
#define LSR_DR		0x01	/* data ready */
#define LSR_THRE	0x20	/* transmit holding register empty */
#define DEBUG_EXIT_PORT	0xF4

/* ---- serial ---- */

#define COM1_FCR	(COM1 + 2)	/* write: FIFO control; read: IIR */
#define FCR_ENABLE	0x07		/* enable and clear both FIFOs */
#define IIR_FIFO	0xC0		/* a 16550A with working FIFOs */
#define TX_FIFO		16

/*
 * Like Linux's 8250 driver: once THRE says the transmitter is empty, a
 * 16550A takes a whole FIFO load, so LSR is read once per 16 bytes and
 * not before every byte (each read is a VM exit).
 */
static int tx_load = 1, tx_room;

void
serial_init(void)
{
	outb(COM1_FCR, FCR_ENABLE);
	if ((inb(COM1_FCR) & IIR_FIFO) == IIR_FIFO)
		tx_load = TX_FIFO;
	tx_room = 0;
}

void
serial_putc(char c)
{
	int spins = 100000;

	/* a missing UART reads 0xFF: THRE set, so this never hangs */
	if (tx_room == 0) {
		while (!(inb(COM1_LSR) & LSR_THRE) && --spins)
			cpu_relax();
		tx_room = tx_load;
	}
	tx_room--;
	outb(COM1, (uint8_t)c);
}

int
serial_getc(void)
{
	uint8_t lsr = inb(COM1_LSR);

	if (lsr == 0xFF || !(lsr & LSR_DR))
		return -1;
	return inb(COM1);
}

static void
put_str(const char *s)
{
	while (*s) {
		if (*s == '\n')
			serial_putc('\r');
		serial_putc(*s++);
	}
}

/* ---- pr(): %[0][width][l|ll]{d,i,u,x,s,c,p,%} ---- */

static void
put_num(uint64_t v, bool neg, unsigned int base, int width, char pad)
{
	char buf[24];
	int n = 0;

	do {
		buf[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	if (neg)
		buf[n++] = '-';
	while (n < width--)
		serial_putc(pad);
	while (n)
		serial_putc(buf[--n]);
}

static uint64_t
next_arg(va_list *ap, int longs, bool sign)
{
	if (longs)
		return sign ? (uint64_t)va_arg(*ap, long) : va_arg(*ap, unsigned long);
	return sign ? (uint64_t)(int64_t)va_arg(*ap, int) : va_arg(*ap, unsigned int);
}

/*
 * One CPU prints at a time.  The spin is bounded so that a CPU faulting
 * while it holds the lock (fault_report prints too) still gets its report out.
 */
static volatile int console_lock;

static void
console_acquire(void)
{
	uint64_t spins = 0;

	while (__atomic_exchange_n(&console_lock, 1, __ATOMIC_ACQUIRE))
		if (++spins > (1ull << 26))
			return;
		else
			cpu_relax();
}

static void
console_release(void)
{
	__atomic_store_n(&console_lock, 0, __ATOMIC_RELEASE);
}

void
vpr(const char *fmt, va_list ap)
{
	va_list aq;

	console_acquire();
	va_copy(aq, ap);
	for (; *fmt; fmt++) {
		int width = 0, longs = 0;
		char pad = ' ';
		uint64_t v;

		if (*fmt != '%') {
			if (*fmt == '\n')
				serial_putc('\r');
			serial_putc(*fmt);
			continue;
		}
		fmt++;
		if (*fmt == '0')
			pad = '0';
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l') {
			longs++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			v = next_arg(&aq, longs, true);
			if ((int64_t)v < 0)
				put_num(-v, true, 10, width, pad);
			else
				put_num(v, false, 10, width, pad);
			break;
		case 'u':
			put_num(next_arg(&aq, longs, false), false, 10, width, pad);
			break;
		case 'x':
			put_num(next_arg(&aq, longs, false), false, 16, width, pad);
			break;
		case 'p':
			put_str("0x");
			put_num((uintptr_t)va_arg(aq, void *), false, 16, 0, ' ');
			break;
		case 's': {
			const char *s = va_arg(aq, const char *);

			put_str(s ? s : "(null)");
			break;
		}
		case 'c':
			serial_putc((char)va_arg(aq, int));
			break;
		case '\0':
			fmt--;
			break;
		default:
			serial_putc(*fmt);
		}
	}
	va_end(aq);
	console_release();
}

void
pr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vpr(fmt, ap);
	va_end(ap);
}

void
probe_exit(int code)
{
	pr("probe: exit code=%d\n", code);
	outb(DEBUG_EXIT_PORT, (uint8_t)code);
	/* no debug-exit device: nothing more to do but wait to be killed */
	for (;;)
		cpu_relax();
}

/* ---- strings (gcc may call these even with -ffreestanding) ---- */

void *
memset(void *d, int c, size_t n)
{
	void *r = d;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return r;
}

void *
memcpy(void *d, const void *s, size_t n)
{
	void *r = d;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return r;
}

void *
memmove(void *d, const void *s, size_t n)
{
	unsigned char *dp = d;
	const unsigned char *sp = s;

	if (dp <= sp || dp >= sp + n)
		return memcpy(d, s, n);
	while (n--)
		dp[n] = sp[n];
	return d;
}

int
memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;

	for (; n; n--, x++, y++)
		if (*x != *y)
			return *x - *y;
	return 0;
}

size_t
strlen(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

int
strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			return 0;
	}
	return 0;
}

/* ---- arguments: space-separated key=value ---- */

static const char *
arg_find(const char *args, const char *key)
{
	size_t klen = strlen(key);
	const char *p = args;

	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, klen) && p[klen] == '=')
			return p + klen + 1;
		while (*p && *p != ' ')
			p++;
	}
	return NULL;
}

static bool
parse_u64(const char *p, uint64_t *v)
{
	unsigned int base = 10;
	uint64_t n = 0;
	int digits = 0;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	}
	for (; *p && *p != ' '; p++, digits++) {
		unsigned int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			return false;
		if (n > (UINT64_MAX - d) / base)
			return false;
		n = n * base + d;
	}
	*v = n;
	return digits > 0;
}

bool
arg_u64(const char *args, const char *key, uint64_t *v)
{
	const char *p = arg_find(args, key);

	return p && parse_u64(p, v);
}

uint64_t
arg_u64_or(const char *args, const char *key, uint64_t def)
{
	uint64_t v;

	return arg_u64(args, key, &v) ? v : def;
}

bool
arg_has_unknown(const char *args, const char *const *known)
{
	const char *p = args;

	while (*p) {
		const char *const *k;
		bool found = false;

		while (*p == ' ')
			p++;
		if (!*p)
			break;
		for (k = known; *k && !found; k++) {
			size_t kl = strlen(*k);

			found = !strncmp(p, *k, kl) && p[kl] == '=';
		}
		if (!found)
			return true;
		while (*p && *p != ' ')
			p++;
	}
	return false;
}

/* ---- the TSC clock ---- */

static uint64_t tsc_khz_val;
static const char *tsc_src = "none";

#define PIT_HZ		1193182u
#define PIT_TICKS	11932u		/* 10 ms */

/* PIT channel 2, mode 0, gate through port 0x61; OUT2 is bit 5 of 0x61 */
static uint64_t
calibrate_pit(void)
{
	uint64_t t0, t1;
	uint8_t p61 = inb(0x61);

	if (p61 == 0xFF)
		return 0;
	outb(0x61, (p61 & ~0x02) | 0x01);
	outb(0x43, 0xB0);
	outb(0x42, PIT_TICKS & 0xFF);
	outb(0x42, PIT_TICKS >> 8);
	t0 = rdtsc();
	while (!(inb(0x61) & 0x20))
		if (rdtsc() - t0 > 50000000000ull)
			return 0;
	t1 = rdtsc();
	outb(0x61, p61);
	return (t1 - t0) * PIT_HZ / PIT_TICKS / 1000;
}

static uint64_t
calibrate_cpuid(void)
{
	uint32_t r[4];

	cpuid(0, 0, r);
	if (r[0] >= 0x15) {
		cpuid(0x15, 0, r);
		if (r[0] && r[1] && r[2])
			return (uint64_t)r[2] * r[1] / r[0] / 1000;
	}
	cpuid(0, 0, r);
	if (r[0] >= 0x16) {
		cpuid(0x16, 0, r);
		if (r[0])
			return (uint64_t)r[0] * 1000;
	}
	return 0;
}

static uint8_t
cmos_read(uint8_t reg)
{
	outb(0x70, reg);
	return inb(0x71);
}

/* one RTC second, edge to edge: slow (up to 2 s), the last resort */
static uint64_t
calibrate_rtc(void)
{
	uint64_t t0, start = rdtsc();
	uint8_t s;

	s = cmos_read(0);
	while (cmos_read(0) == s)
		if (rdtsc() - start > 20000000000ull)
			return 0;
	t0 = rdtsc();
	s = cmos_read(0);
	while (cmos_read(0) == s)
		if (rdtsc() - start > 40000000000ull)
			return 0;
	return (rdtsc() - t0) / 1000;
}

static bool
sane_khz(uint64_t khz)
{
	return khz >= 100000 && khz <= 20000000;
}

uint64_t
tsc_khz(void)
{
	uint64_t khz;

	if (tsc_khz_val)
		return tsc_khz_val;
	if (sane_khz(khz = calibrate_pit()))
		tsc_src = "pit";
	else if (sane_khz(khz = calibrate_cpuid()))
		tsc_src = "cpuid";
	else if (sane_khz(khz = calibrate_rtc()))
		tsc_src = "rtc";
	else {
		khz = 2000000;
		tsc_src = "guess";
	}
	tsc_khz_val = khz;
	return khz;
}

const char *
tsc_source(void)
{
	tsc_khz();
	return tsc_src;
}

uint64_t
now_us(void)
{
	uint64_t khz = tsc_khz(), t = rdtsc();

	return t / khz * 1000 + (t % khz) * 1000 / khz;
}

void
delay_us(uint64_t us)
{
	uint64_t end = now_us() + us;

	while (now_us() < end)
		cpu_relax();
}

/*
 * ---- physical memory: a bump allocator with marks ----
 * Allocations grow up from mem_start; the balloon takes whole pages off
 * the top (mem_end) and gives them back there, so what it holds is always
 * [mem_end, mem_max).
 */

static uint64_t mem_start, mem_cur, mem_end, mem_max;

void
mem_init(uint64_t start, uint64_t end)
{
	mem_start = mem_cur = (start + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	mem_end = end & ~(PAGE_SIZE - 1);
	if (mem_end < mem_start)
		mem_end = mem_start;
	mem_max = mem_end;
}

void *
mem_alloc(uint64_t bytes, uint64_t align)
{
	uint64_t p;

	if (align < 16)
		align = 16;
	p = (mem_cur + align - 1) & ~(align - 1);
	if (p < mem_cur || bytes > mem_end - p || p > mem_end)
		return NULL;
	mem_cur = p + bytes;
	memset((void *)p, 0, bytes);
	return (void *)p;
}

uint64_t
mem_mark(void)
{
	return mem_cur;
}

void
mem_release(uint64_t mark)
{
	if (mark >= mem_start && mark <= mem_cur)
		mem_cur = mark;
}

uint64_t
mem_free_bytes(void)
{
	return mem_end - mem_cur;
}

uint64_t
mem_top(void)
{
	return mem_end;
}

/* up to pages whole free pages off the top; returns how many it took */
uint64_t
mem_shrink(uint64_t pages)
{
	uint64_t low = (mem_cur + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
	uint64_t avail = mem_end > low ? (mem_end - low) / PAGE_SIZE : 0;

	if (pages > avail)
		pages = avail;
	mem_end -= pages * PAGE_SIZE;
	return pages;
}

/* the lowest pages taken by mem_shrink() come back */
void
mem_grow(uint64_t pages)
{
	uint64_t room = (mem_max - mem_end) / PAGE_SIZE;

	mem_end += (pages < room ? pages : room) * PAGE_SIZE;
}
