/*
 * dynmem.c - the dynamic memory policy, one step a second: from the
 * guest's demand (its balloon statistics) to the memory assigned to it.
 *
 *	target = demand x (1 + buffer), within [minimum, maximum]
 *
 * Growing happens at once (a starving guest is the expensive mistake),
 * and faster when the guest is nearly out of free memory; shrinking waits
 * until demand has stayed low for a few seconds and then gives back at
 * most a step a second, so memory released too eagerly is not asked for
 * again a moment later (the thrash Hyper-V's notes warn about). Under
 * host pressure the caller lowers the result to what the host grants.
 */
#include "engine/hv.h"

#define STEP_DOWN	(128 * HV_MIB)	/* at most this much back a second */
#define CALM_SAMPLES	3		/* seconds of low demand before that */

static uint64_t
align_up(uint64_t v)
{
	return (v + HV_MEM_ALIGN - 1) / HV_MEM_ALIGN * HV_MEM_ALIGN;
}

static uint64_t
clamp(uint64_t v, const struct hv_dynmem *dm)
{
	return v < dm->minimum ? dm->minimum : v > dm->maximum ? dm->maximum : v;
}

uint64_t
hv_dynmem_step(const struct hv_dynmem *dm, struct hv_dynmem_state *s,
	       uint64_t demand, uint64_t guest_free)
{
	uint64_t want = clamp(align_up(demand + demand / 100 * (uint64_t)dm->buffer), dm);

	if (s->assigned == 0)
		s->assigned = clamp(s->assigned, dm);
	/* nearly out of memory: grow by a quarter at least */
	if (guest_free < s->assigned / 20 || guest_free < 16 * HV_MIB) {
		uint64_t more = s->assigned / 4 > 64 * HV_MIB ? s->assigned / 4 : 64 * HV_MIB;

		if (want < s->assigned + more)
			want = clamp(align_up(s->assigned + more), dm);
	}
	if (want >= s->assigned) {
		s->calm = 0;
		s->assigned = want;
		return s->assigned;
	}
	if (++s->calm < CALM_SAMPLES)
		return s->assigned;
	s->assigned = s->assigned - want > STEP_DOWN ? s->assigned - STEP_DOWN : want;
	return s->assigned;
}
