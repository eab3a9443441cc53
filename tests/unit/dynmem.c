/* dynmem.c - the dynamic memory policy step by step: buffer above demand,
 * the [minimum, maximum] clamp, fast growth under pressure, shrinking only
 * after calm seconds and a step at a time. */
#include "engine/hv.h"
#include "tests/tap.h"

#define M HV_MIB

int
main(void)
{
	struct hv_dynmem dm = { .enabled = true, .minimum = 256 * M, .maximum = 1024 * M,
				.buffer = 20, .priority = 50 };
	struct hv_dynmem_state s = { .assigned = 512 * M };
	uint64_t a;
	int steps;

	/* an idle guest: demand 20M -> minimum, after the calm seconds, a step at a time */
	a = hv_dynmem_step(&dm, &s, 20 * M, 480 * M);
	is_int((int)(a / M), 512, "low demand: nothing given back at once");
	hv_dynmem_step(&dm, &s, 20 * M, 480 * M);
	a = hv_dynmem_step(&dm, &s, 20 * M, 480 * M);
	is_int((int)(a / M), 384, "after three calm seconds, 128M back");
	a = hv_dynmem_step(&dm, &s, 20 * M, 360 * M);
	is_int((int)(a / M), 256, "then down to the minimum, never below");
	a = hv_dynmem_step(&dm, &s, 20 * M, 230 * M);
	is_int((int)(a / M), 256, "and it stays there");

	/* a guest touching 700M: starved, it grows; demand x 1.2 = 840M */
	for (steps = 0; steps < 20 && s.assigned < 840 * M; steps++) {
		uint64_t used = s.assigned - 4 * M;	/* everything taken */

		hv_dynmem_step(&dm, &s, used, 4 * M);
	}
	ok(s.assigned >= 840 * M && steps <= 6, "a starved guest reaches %llu M in %d s",
	   (unsigned long long)(s.assigned / M), steps);
	a = hv_dynmem_step(&dm, &s, 700 * M, 140 * M);
	ok(a / M >= 840 && a <= dm.maximum, "demand 700M holds at least 840M (%llu M)",
	   (unsigned long long)(a / M));
	a = hv_dynmem_step(&dm, &s, 1000 * M, 4 * M);
	is_int((int)(a / M), 1024, "never above the maximum");
	a = hv_dynmem_step(&dm, &s, 1000 * M, 4 * M);
	is_int((int)(a % HV_MEM_ALIGN), 0, "always whole 2M");

	/* a brief dip does not shrink */
	s.assigned = 900 * M;
	s.calm = 0;
	hv_dynmem_step(&dm, &s, 100 * M, 800 * M);
	a = hv_dynmem_step(&dm, &s, 740 * M, 150 * M);
	is_int((int)(a / M), 900, "a one-second dip gives nothing back");
	return done_testing();
}
