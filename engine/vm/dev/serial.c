/*
 * serial.c - an 8250/16550A UART at 0x3F8 (COM1, IRQ 4). What the guest
 * transmits goes straight to the console pipe; what the host types
 * waits in a receive FIFO. Transmission is instant, so THR is always
 * empty; the THRE interrupt is raised once per write, as on hardware.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/vm/state/snap-io.h"
#include "engine/vm/vmm-int.h"

#define COM1_BASE	0x3F8
#define COM1_IRQ	4
#define RX_FIFO		256

#define IER_RDI		0x01	/* receive data interrupt */
#define IER_THRI	0x02	/* THR empty interrupt */
#define IIR_NONE	0x01
#define IIR_THRI	0x02
#define IIR_RDI		0x04
#define IIR_FIFO	0xC0
#define LCR_DLAB	0x80
#define MCR_OUT2	0x08
#define MCR_LOOP	0x10
#define LSR_DR		0x01
#define LSR_THRE	0x20
#define LSR_TEMT	0x40

struct serial {
	struct vmm *vm;
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, fcr, dll, dlm;
	bool thr_pending;	/* THRE interrupt owed */
	int irq_level;
	uint8_t rx[RX_FIFO];
	unsigned rx_head, rx_count;
};

static uint8_t
iir(struct serial *s)
{
	uint8_t fifo = (s->fcr & 1) ? IIR_FIFO : 0;

	if ((s->ier & IER_RDI) && s->rx_count)
		return IIR_RDI | fifo;
	if ((s->ier & IER_THRI) && s->thr_pending)
		return IIR_THRI | fifo;
	return IIR_NONE | fifo;
}

/* with s->lock held */
static void
update_irq(struct serial *s)
{
	int level = !(iir(s) & IIR_NONE) && (s->mcr & MCR_OUT2);

	if (level != s->irq_level) {
		s->irq_level = level;
		vmm_irq_line(s->vm, COM1_IRQ, level);
	}
}

static void
transmit(struct serial *s, uint8_t c)
{
	struct vmm *vm = s->vm;

	if (s->mcr & MCR_LOOP) {
		if (s->rx_count < RX_FIFO)
			s->rx[(s->rx_head + s->rx_count++) % RX_FIFO] = c;
		return;
	}
	if (write(vm->console_wr, &c, 1) != 1)
		atomic_fetch_add(&vm->console_dropped, 1);
}

static uint8_t
reg_read(struct serial *s, unsigned reg)
{
	uint8_t v = 0, id;

	switch (reg) {
	case 0:
		if (s->lcr & LCR_DLAB)
			return s->dll;
		if (s->rx_count) {
			v = s->rx[s->rx_head];
			s->rx_head = (s->rx_head + 1) % RX_FIFO;
			s->rx_count--;
		}
		return v;
	case 1:
		return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
	case 2:
		id = iir(s);
		if ((id & 0x0F) == IIR_THRI)
			s->thr_pending = false;	/* reading IIR acknowledges it */
		return id;
	case 3:
		return s->lcr;
	case 4:
		return s->mcr;
	case 5:
		return LSR_THRE | LSR_TEMT | (s->rx_count ? LSR_DR : 0);
	case 6:	/* CTS, DSR, DCD asserted; loopback mirrors MCR */
		if (s->mcr & MCR_LOOP)
			return (s->mcr & 0x0F) << 4;
		return 0xB0;
	default:
		return s->scr;
	}
}

static void
reg_write(struct serial *s, unsigned reg, uint8_t v)
{
	switch (reg) {
	case 0:
		if (s->lcr & LCR_DLAB) {
			s->dll = v;
			return;
		}
		transmit(s, v);
		s->thr_pending = true;
		return;
	case 1:
		if (s->lcr & LCR_DLAB) {
			s->dlm = v;
			return;
		}
		if ((v & IER_THRI) && !(s->ier & IER_THRI))
			s->thr_pending = true;
		s->ier = v & 0x0F;
		return;
	case 2:
		s->fcr = v & 0xC9;
		if (v & 0x02) {	/* clear the receive FIFO */
			s->rx_head = 0;
			s->rx_count = 0;
		}
		return;
	case 3:
		s->lcr = v;
		return;
	case 4:
		s->mcr = v & 0x1F;
		return;
	case 7:
		s->scr = v;
		return;
	}
}

static void
serial_io(void *opaque, uint64_t off, void *data, int len, bool write)
{
	struct serial *s = opaque;
	uint8_t *b = data;

	pthread_mutex_lock(&s->lock);
	if (write)
		reg_write(s, off, b[0]);
	else
		b[0] = reg_read(s, off);
	if (!write && len > 1)
		memset(b + 1, 0, len - 1);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

int
serial_input(struct serial *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && s->rx_count < RX_FIFO)
		s->rx[(s->rx_head + s->rx_count++) % RX_FIFO] = p[n++];
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

int
serial_init(struct vmm *vm, struct hv_err *err)
{
	struct serial *s = calloc(1, sizeof(*s));

	if (!s)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	s->vm = vm;
	pthread_mutex_init(&s->lock, NULL);
	s->dll = 12;	/* 9600 baud, like a PC after POST */
	vm->serial = s;
	if (bus_add(&vm->pio, COM1_BASE, 8, serial_io, s) != 0)
		return hv_fail(err, HV_EINTERNAL, "I/O bus full");
	return 0;
}

void
serial_free(struct vmm *vm)
{
	if (vm->serial)
		pthread_mutex_destroy(&vm->serial->lock);
	free(vm->serial);
	vm->serial = NULL;
}

/* --- state (snapshot.c) ------------------------------------------------ */

void
serial_save(struct serial *s, struct snap_w *w)
{
	pthread_mutex_lock(&s->lock);
	snap_u8(w, s->ier); snap_u8(w, s->lcr); snap_u8(w, s->mcr);
	snap_u8(w, s->scr); snap_u8(w, s->fcr); snap_u8(w, s->dll);
	snap_u8(w, s->dlm); snap_u8(w, s->thr_pending);
	snap_u8(w, s->irq_level);
	snap_u32(w, s->rx_count);
	for (unsigned i = 0; i < s->rx_count; i++)
		snap_u8(w, s->rx[(s->rx_head + i) % RX_FIFO]);
	pthread_mutex_unlock(&s->lock);
}

int
serial_load(struct serial *s, struct snap_r *r)
{
	uint32_t n;

	pthread_mutex_lock(&s->lock);
	s->ier = snap_g8(r); s->lcr = snap_g8(r); s->mcr = snap_g8(r);
	s->scr = snap_g8(r); s->fcr = snap_g8(r); s->dll = snap_g8(r);
	s->dlm = snap_g8(r); s->thr_pending = snap_g8(r) != 0;
	s->irq_level = snap_g8(r) != 0;
	n = snap_g32(r);
	if (n > RX_FIFO)
		r->bad = true;
	s->rx_head = 0;
	s->rx_count = r->bad ? 0 : n;
	snap_get(r, s->rx, s->rx_count);
	pthread_mutex_unlock(&s->lock);
	return r->bad ? -1 : 0;
}
