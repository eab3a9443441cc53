/*
 * acpi-pm.c - the ACPI fixed hardware the FADT points at (acpi.h gives
 * the ports): PM1a status/enable (write 1 to clear status), PM1a control
 * (SLP_TYP = S5 with SLP_EN turns the VM off), the 32-bit PM timer, and
 * the fixed-feature power button behind vmm_power_button(). The SCI is
 * GSI 9, level-triggered: high while an enabled status bit is set.
 *
 * The timer's status bit never sets (no overflow events); nothing else
 * here raises an event but the power button.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/vm/boot/acpi.h"
#include "engine/vm/state/snap-io.h"
#include "engine/vm/vmm-int.h"

#define PM_TIMER_HZ	3579545ull
/* enable bits that exist; their status bits raise the SCI */
#define PM1_EN_MASK	(ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | \
			 ACPI_PM1_SLPBTN | ACPI_PM1_RTC)
/* control bits the guest may set and read back (SLP_TYP, BM_RLD) */
#define PM1_CNT_RW	(7u << ACPI_CNT_SLP_TYP_SHIFT | 0x0002)

struct acpi_pm {
	struct vmm *vm;
	pthread_mutex_t lock;
	uint16_t sts, en, cnt;
	bool sci;		/* the level we last put on the line */
	uint64_t t0_ns;
};

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* with pm->lock held: the SCI follows (status & enable) */
static void
sci_update(struct acpi_pm *pm)
{
	bool level = (pm->sts & pm->en & PM1_EN_MASK) != 0;

	if (level != pm->sci) {
		pm->sci = level;
		vmm_irq_line(pm->vm, ACPI_SCI_IRQ, level);
	}
}

static uint32_t
timer_now(struct acpi_pm *pm)
{
	unsigned __int128 t = (unsigned __int128)(mono_ns() - pm->t0_ns) *
			      PM_TIMER_HZ / 1000000000u;

	return (uint32_t)t;
}

/* byte i of the register file at ACPI_PM_BASE, as the guest reads it */
static uint8_t
reg_read(struct acpi_pm *pm, unsigned i, uint32_t timer)
{
	switch (i) {
	case 0: case 1:
		return pm->sts >> (8 * i);
	case 2: case 3:
		return pm->en >> (8 * (i - 2));
	case 4: case 5:		/* SCI_EN always set: no SMI_CMD, ACPI mode */
		return (pm->cnt | ACPI_CNT_SCI_EN) >> (8 * (i - 4));
	case 8: case 9: case 10: case 11:
		return timer >> (8 * (i - 8));
	}
	return 0xFF;
}

/* true: the guest asked for S5 */
static bool
reg_write(struct acpi_pm *pm, unsigned i, uint8_t v, uint16_t *cnt_written)
{
	switch (i) {
	case 0: case 1:		/* write 1 to clear */
		pm->sts &= ~((uint16_t)v << (8 * i));
		break;
	case 2: case 3:
		pm->en = (pm->en & ~(0xFF << (8 * (i - 2)))) |
			 (uint16_t)v << (8 * (i - 2));
		pm->en &= PM1_EN_MASK;
		break;
	case 4: case 5:
		*cnt_written = (*cnt_written & ~(0xFF << (8 * (i - 4)))) |
			       (uint16_t)v << (8 * (i - 4));
		return true;
	}
	return false;
}

static void
pm_io(void *opaque, uint64_t off, void *data, int len, bool write)
{
	struct acpi_pm *pm = opaque;
	uint8_t *b = data;
	uint16_t cnt;
	bool cnt_hit = false, off_now = false;
	uint32_t timer = timer_now(pm);
	int i;

	pthread_mutex_lock(&pm->lock);
	cnt = pm->cnt;
	for (i = 0; i < len; i++) {
		if (!write)
			b[i] = off + i < ACPI_PM_LEN ?
			       reg_read(pm, off + i, timer) : 0xFF;
		else if (off + i < ACPI_PM_LEN &&
			 reg_write(pm, off + i, b[i], &cnt))
			cnt_hit = true;
	}
	if (cnt_hit) {
		pm->cnt = cnt & PM1_CNT_RW;
		off_now = (cnt & ACPI_CNT_SLP_EN) &&
			  ((cnt >> ACPI_CNT_SLP_TYP_SHIFT) & 7) == ACPI_S5_TYP;
	}
	if (write)
		sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	if (off_now)
		vmm_request_stop(pm->vm, VMM_EXIT_POWEROFF, 0,
				 "the guest powered off (ACPI S5)");
	else if (cnt_hit && (cnt & ACPI_CNT_SLP_EN))
		vmm_log(pm->vm, "guest asked for sleep type %u: not supported",
			(cnt >> ACPI_CNT_SLP_TYP_SHIFT) & 7);
}

int
acpi_pm_init(struct vmm *vm, struct hv_err *err)
{
	struct acpi_pm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	pm->vm = vm;
	pthread_mutex_init(&pm->lock, NULL);
	pm->t0_ns = mono_ns();
	vm->pm = pm;
	if (bus_add(&vm->pio, ACPI_PM_BASE, ACPI_PM_LEN, pm_io, pm) != 0)
		return hv_fail(err, HV_EINTERNAL, "I/O bus full");
	return 0;
}

void
acpi_pm_free(struct vmm *vm)
{
	struct acpi_pm *pm = vm->pm;

	if (pm)
		pthread_mutex_destroy(&pm->lock);
	free(pm);
	vm->pm = NULL;
}

int
vmm_power_button(struct vmm *vm)
{
	struct acpi_pm *pm = vm->pm;

	if (!pm || !vmm_running(vm))
		return -1;
	pthread_mutex_lock(&pm->lock);
	pm->sts |= ACPI_PM1_PWRBTN;
	sci_update(pm);
	pthread_mutex_unlock(&pm->lock);
	return 0;
}

/* --- state (snapshot.c): the PM timer goes on from where it was -------- */

void
acpi_pm_save(struct acpi_pm *pm, struct snap_w *w)
{
	pthread_mutex_lock(&pm->lock);
	snap_u16(w, pm->sts);
	snap_u16(w, pm->en);
	snap_u16(w, pm->cnt);
	snap_u8(w, pm->sci);
	snap_u64(w, mono_ns() - pm->t0_ns);
	pthread_mutex_unlock(&pm->lock);
}

int
acpi_pm_load(struct acpi_pm *pm, struct snap_r *r)
{
	uint64_t elapsed;

	pthread_mutex_lock(&pm->lock);
	pm->sts = snap_g16(r);
	pm->en = snap_g16(r);
	pm->cnt = snap_g16(r);
	pm->sci = snap_g8(r) != 0;
	elapsed = snap_g64(r);
	pm->t0_ns = mono_ns() - (elapsed % (1ull << 62));
	pthread_mutex_unlock(&pm->lock);
	return r->bad ? -1 : 0;
}
