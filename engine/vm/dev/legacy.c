/*
 * legacy.c - the small PC ports a guest expects: the i8042 keyboard
 * controller (only for its reset line), CMOS/RTC (host time, memory
 * size fields for SeaBIOS), POST code port 0x80, and a debug-exit port
 * at 0xF4 that behaves like QEMU's isa-debug-exit.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/vm/state/snap-io.h"
#include "engine/vm/vmm-int.h"

#define I8042_DATA	0x60
#define I8042_CMD	0x64
#define CMOS_INDEX	0x70
#define DEBUG_EXIT	0xF4
#define POST_PORT	0x80

struct legacy {
	struct vmm *vm;
	pthread_mutex_t lock;
	uint8_t cmos_index;
	uint8_t cmos[128];
	uint8_t kbd_cmd;	/* pending i8042 command waiting for data */
};

static uint8_t
bcd(int v)
{
	return (uint8_t)(((v / 10) << 4) | (v % 10));
}

/* the clock registers, read from the host when the guest asks */
static void
rtc_now(struct legacy *l)
{
	bool binary = l->cmos[0x0B] & 0x04;
	time_t t = time(NULL);
	struct tm tm;
	int v[7], i;
	static const int reg[7] = { 0x00, 0x02, 0x04, 0x07, 0x08, 0x09, 0x32 };

	gmtime_r(&t, &tm);
	v[0] = tm.tm_sec;
	v[1] = tm.tm_min;
	v[2] = tm.tm_hour;
	v[3] = tm.tm_mday;
	v[4] = tm.tm_mon + 1;
	v[5] = tm.tm_year % 100;
	v[6] = (tm.tm_year + 1900) / 100;
	for (i = 0; i < 7; i++)
		l->cmos[reg[i]] = binary ? v[i] : bcd(v[i]);
	l->cmos[0x06] = binary ? tm.tm_wday + 1 : bcd(tm.tm_wday + 1);
}

static void
cmos_init(struct legacy *l, const struct vmm *vm)
{
	uint64_t mem = vm->mem.size, low = vm->mem.low, kb;

	l->cmos[0x0A] = 0x26;		/* 32.768 kHz, 1024 Hz rate */
	l->cmos[0x0B] = 0x02;		/* 24 hour, BCD */
	l->cmos[0x0D] = 0x80;		/* RTC power good */
	l->cmos[0x14] = 0x06;		/* equipment: FPU, VGA/none */
	l->cmos[0x15] = 640 & 0xFF;	/* base memory: 640 KiB */
	l->cmos[0x16] = 640 >> 8;
	kb = (low - 0x100000) / 1024;	/* extended memory above 1 MiB, KiB */
	if (kb > 0xFFFF)
		kb = 0xFFFF;
	l->cmos[0x17] = l->cmos[0x30] = kb & 0xFF;
	l->cmos[0x18] = l->cmos[0x31] = kb >> 8;
	kb = low > 0x1000000 ? (low - 0x1000000) >> 16 : 0; /* above 16 MiB, 64 KiB */
	if (kb > 0xFFFF)
		kb = 0xFFFF;
	l->cmos[0x34] = kb & 0xFF;
	l->cmos[0x35] = kb >> 8;
	kb = (mem - low) >> 16;		/* above 4 GiB, 64 KiB units */
	l->cmos[0x5B] = kb & 0xFF;
	l->cmos[0x5C] = (kb >> 8) & 0xFF;
	l->cmos[0x5D] = (kb >> 16) & 0xFF;
	l->cmos[0x5F] = vm->nvcpus - 1;
}

static void
cmos_io(void *opaque, uint64_t off, void *data, int len, bool write)
{
	struct legacy *l = opaque;
	uint8_t *b = data, idx;

	pthread_mutex_lock(&l->lock);
	if (off == 0) {
		if (write)
			l->cmos_index = b[0] & 0x7F;	/* bit 7 masks NMI */
		else
			b[0] = 0xFF;
		goto out;
	}
	idx = l->cmos_index;
	if (write) {
		if (idx != 0x0C && idx != 0x0D)
			l->cmos[idx] = b[0];
		goto out;
	}
	if (idx <= 0x09 || idx == 0x32)
		rtc_now(l);
	b[0] = l->cmos[idx];
	if (idx == 0x0C)
		l->cmos[0x0C] = 0;	/* flags clear on read */
out:
	pthread_mutex_unlock(&l->lock);
	(void)len;
}

/* i8042: a status port that says "nothing to read", and the reset line */
static void
i8042_io(void *opaque, uint64_t off, void *data, int len, bool write)
{
	struct legacy *l = opaque;
	uint8_t *b = data;
	bool reset = false;

	if (off != 0 && off != 4) {	/* 0x61-0x63: not ours */
		if (!write)
			memset(data, 0xFF, len);
		return;
	}
	pthread_mutex_lock(&l->lock);
	if (!write) {
		b[0] = off == 4 ? 0x1C : 0x00;	/* system flag, cmd/data, unlocked */
	} else if (off == 4) {
		l->kbd_cmd = b[0] == 0xD1 ? 0xD1 : 0;
		reset = b[0] == 0xFE;
	} else if (l->kbd_cmd == 0xD1) {	/* write output port */
		l->kbd_cmd = 0;
		reset = !(b[0] & 1);
	}
	pthread_mutex_unlock(&l->lock);
	if (reset)
		vmm_request_stop(l->vm, VMM_EXIT_RESET, 0,
				 "guest reset through the i8042");
}

static void
debug_exit_io(void *opaque, uint64_t off, void *data, int len, bool write)
{
	struct legacy *l = opaque;
	uint32_t v = 0;

	if (!write) {
		memset(data, 0xFF, len);
		return;
	}
	memcpy(&v, data, len > 4 ? 4 : len);
	vmm_request_stop(l->vm, VMM_EXIT_DEBUG, (int)((v << 1) | 1),
			 "debug exit %u", v);
}

static void
post_io(void *opaque, uint64_t off, void *data, int len, bool write)
{
	if (!write)
		memset(data, 0xFF, len);
}

int
legacy_init(struct vmm *vm, struct hv_err *err)
{
	struct legacy *l = calloc(1, sizeof(*l));

	if (!l)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	l->vm = vm;
	pthread_mutex_init(&l->lock, NULL);
	cmos_init(l, vm);
	vm->legacy = l;
	if (bus_add(&vm->pio, CMOS_INDEX, 2, cmos_io, l) != 0 ||
	    bus_add(&vm->pio, I8042_DATA, I8042_CMD - I8042_DATA + 1,
		    i8042_io, l) != 0 ||
	    bus_add(&vm->pio, DEBUG_EXIT, 1, debug_exit_io, l) != 0 ||
	    bus_add(&vm->pio, POST_PORT, 1, post_io, l) != 0)
		return hv_fail(err, HV_EINTERNAL, "I/O bus full");
	return 0;
}

void
legacy_free(struct vmm *vm)
{
	struct legacy *l = vm->legacy;

	if (l)
		pthread_mutex_destroy(&l->lock);
	free(l);
	vm->legacy = NULL;
}

/* --- state (snapshot.c): the RTC itself follows the host's clock ------- */

void
legacy_save(void *opaque, struct snap_w *w)
{
	struct legacy *l = opaque;

	pthread_mutex_lock(&l->lock);
	snap_u8(w, l->cmos_index);
	snap_u8(w, l->kbd_cmd);
	snap_put(w, l->cmos, sizeof l->cmos);
	pthread_mutex_unlock(&l->lock);
}

int
legacy_load(void *opaque, struct snap_r *r)
{
	struct legacy *l = opaque;

	pthread_mutex_lock(&l->lock);
	l->cmos_index = snap_g8(r) & 0x7F;
	l->kbd_cmd = snap_g8(r);
	snap_get(r, l->cmos, sizeof l->cmos);
	pthread_mutex_unlock(&l->lock);
	return r->bad ? -1 : 0;
}
