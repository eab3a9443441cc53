/*
 * disk-arbiter.c - the worker's side of the host's storage QoS (see
 * disk-arbiter.h). Each disk is one participant of the "disk" domain,
 * keyed "VMUUID:diskN", claiming its minimum IOPS as reserve, its
 * maximum as limit, and as demand what blk_qos_demand() makes of the
 * normalized IOs it did and the time QoS held its queue back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "engine/qos.h"
#include "engine/vm/host/blk-qos.h"
#include "engine/vm/host/disk-arbiter.h"

struct arb_disk {
	struct qos *q;
	struct qos_claim claim;
	uint64_t ios, held_ns;	/* the counters at the last tick */
};

struct disk_arbiter {
	struct vmm *vmm;
	uint64_t capacity;
	int timer_fd;
	int ndisks;
	uint64_t last_ns;
	struct arb_disk d[VMM_MAX_DISKS];
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int
disk_arbiter_open(struct disk_arbiter **out, const char *home,
		  const struct hv_vm *vm, uint64_t capacity, struct vmm *vmm,
		  struct hv_err *err)
{
	struct itimerspec its = {
		{ 0, DISK_ARBITER_MS * 1000000L },
		{ 0, 1000000L },	/* the first grant at once */
	};
	struct disk_arbiter *a;
	char key[QOS_KEY_MAX];

	*out = NULL;
	if (capacity == 0 || vm->ndisks == 0)
		return 0;
	if ((a = calloc(1, sizeof *a)) == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	a->vmm = vmm;
	a->capacity = capacity;
	a->timer_fd = -1;
	for (int i = 0; i < vm->ndisks && i < VMM_MAX_DISKS; i++) {
		struct arb_disk *d = &a->d[i];

		snprintf(key, sizeof key, "%s:disk%d", vm->uuid, i);
		if (qos_join(&d->q, home, DISK_ARBITER_DOMAIN, key, err) != 0)
			goto fail;
		a->ndisks++;
		d->claim.reserve = vm->disk_qos[i].min_iops;
		d->claim.limit = vm->disk_qos[i].max_iops;
		d->claim.weight = 1;
	}
	a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->timer_fd < 0 || timerfd_settime(a->timer_fd, 0, &its, NULL) != 0) {
		hv_fail(err, HV_EIO, "storage QoS timer: %s", strerror(errno));
		goto fail;
	}
	a->last_ns = now_ns();
	*out = a;
	return 0;
fail:
	disk_arbiter_close(a);
	return -1;
}

int
disk_arbiter_fd(const struct disk_arbiter *a)
{
	return a->timer_fd;
}

/* the rate a grant allows: a disk that got all it asked may still go up
   to its reserve at once (that much is its own), and any disk may do a
   little, so one that was idle shows its demand by the next tick */
static uint64_t
rate_of(const struct disk_arbiter *a, const struct qos_claim *c, uint64_t grant)
{
	uint64_t floor = a->capacity / 100 ? a->capacity / 100 : 1;

	if (grant >= c->demand && grant < c->reserve)
		grant = c->reserve;
	return grant > floor ? grant : floor;
}

void
disk_arbiter_tick(struct disk_arbiter *a)
{
	struct vmm_stats s;
	uint64_t expired, now = now_ns(), window = now - a->last_ns;

	if (read(a->timer_fd, &expired, sizeof expired) != sizeof expired)
		return;
	vmm_stats(a->vmm, &s);
	for (int i = 0; i < a->ndisks && i < s.ndisks; i++) {
		struct arb_disk *d = &a->d[i];
		const struct vmm_disk_stats *ds = &s.disks[i];
		uint64_t grant;

		d->claim.demand = blk_qos_demand(ds->normalized_ios - d->ios, window,
						 ds->throttled_ns - d->held_ns);
		d->ios = ds->normalized_ios;
		d->held_ns = ds->throttled_ns;
		grant = qos_update(d->q, a->capacity, &d->claim);
		vmm_disk_set_iops(a->vmm, i, rate_of(a, &d->claim, grant));
	}
	a->last_ns = now;
}

void
disk_arbiter_close(struct disk_arbiter *a)
{
	if (a == NULL)
		return;
	for (int i = 0; i < a->ndisks; i++)
		qos_leave(a->d[i].q);
	if (a->timer_fd >= 0)
		close(a->timer_fd);
	free(a);
}
