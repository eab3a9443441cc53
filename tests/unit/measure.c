/* measure.c - Measure-VM's arithmetic (engine/measure.c): a run counted
 * from its worker's start, a window that starts inside a run, counters
 * that restart with the next worker (by start time or by going down),
 * memory averaged by time, demand only where the guest said. */
#include <math.h>

#include "engine/hv.h"
#include "tests/tap.h"

#define M	HV_MIB
#define T0	1700000000000ll		/* unix ms */

static struct hv_vm_sample
at(int64_t started, int64_t ms, double cpu_s, uint64_t mem, uint64_t ios)
{
	struct hv_vm_sample s = {
		.time = T0 + ms, .started = started ? T0 + started : 0,
		.cpu_ns = (uint64_t)(cpu_s * 1e9), .mem_assigned = mem,
		.disk_read_bytes = ios * 4096, .disk_ios = ios, .disk_normalized_ios = ios,
		.net_rx_bytes = ios * 100, .net_tx_bytes = ios * 10,
	};

	return s;
}

static bool
near(double got, double want)
{
	return fabs(got - want) <= fabs(want) * 1e-9 + 1e-9;
}

/* averages are rounded to whole bytes */
static bool
near_bytes(uint64_t got, double want)
{
	return fabs((double)got - want) <= 1;
}

int
main(void)
{
	struct hv_vm_measure m;
	struct hv_vm_sample s[8];
	int n;

	hv_measure_compute(NULL, 0, 0, &m);
	ok(m.samples == 0 && m.seconds == 0 && m.mem_min == 0 && m.cpu_pct == 0,
	   "no samples: all zero");

	/* a worker started at 1 s, sampled at 6, 11, 16 s: 15 s of running,
	   the first 5 s counted from zero */
	n = 0;
	s[n++] = at(1000, 6000, 0.5, 64 * M, 500);
	s[n++] = at(1000, 11000, 1.0, 64 * M, 1000);
	s[n++] = at(1000, 16000, 1.5, 64 * M, 1500);
	hv_measure_compute(s, (size_t)n, 0, &m);
	is_int((int)m.samples, 3, "three samples");
	ok(near(m.seconds, 15), "ran 15 s, from the worker's start (%.3f)", m.seconds);
	ok(near(m.cpu_pct, 10), "1.5 s of CPU in 15 s: 10%% (%.3f)", m.cpu_pct);
	ok(m.disk_ios == 1500 && near(m.iops, 100), "1500 IOs, 100 IOPS (%.3f)", m.iops);
	ok(near(m.normalized_iops, 100), "normalized the same for 4 KiB requests");
	ok(m.disk_read_bytes == 1500 * 4096 && m.disk_write_bytes == 0, "bytes read and written");
	ok(m.net_rx_bytes == 150000 && m.net_tx_bytes == 15000, "network bytes");
	ok(m.mem_avg == 64 * M && m.mem_min == 64 * M && m.mem_max == 64 * M,
	   "constant memory: average = min = max = 64M");
	is_int((int)m.demand_avg, 0, "no demand reported: 0");
	ok(m.first == T0 + 1000 && m.last == T0 + 16000,
	   "the window runs from the worker's start to the last sample");

	/* a window from 8 s: the run began before it, so its first sample in
	   the window is the baseline */
	hv_measure_compute(s, (size_t)n, T0 + 8000, &m);
	ok(m.samples == 2 && m.first == T0 + 11000, "--since 8 s: two samples, from the first");
	ok(near(m.seconds, 5) && m.disk_ios == 500 && near(m.cpu_pct, 10),
	   "5 s between them, 500 IOs, 10%% CPU (%.3f s, %llu, %.3f)", m.seconds,
	   (unsigned long long)m.disk_ios, m.cpu_pct);
	hv_measure_compute(s, (size_t)n, T0 + 20000, &m);
	is_int((int)m.samples, 0, "a window after the last sample is empty");

	/* the VM stops at 16 s; a new worker starts at 100 s, sampled at 105
	   and 110 s; its counters begin at zero again. The gap is not time the
	   VM ran, and the two runs add up. */
	s[n++] = at(100000, 105000, 0.2, 128 * M, 100);
	s[n++] = at(100000, 110000, 0.4, 128 * M, 300);
	hv_measure_compute(s, (size_t)n, 0, &m);
	ok(near(m.seconds, 25), "two runs: 15 s + 10 s (%.3f)", m.seconds);
	ok(m.disk_ios == 1800, "IOs of both runs: 1500 + 300 (%llu)", (unsigned long long)m.disk_ios);
	ok(near(m.iops, 72), "IOPS over the time it ran: 1800 / 25 (%.3f)", m.iops);
	ok(near(m.cpu_pct, 1.9 / 25 * 100), "CPU: 1.9 s in 25 s (%.3f)", m.cpu_pct);
	ok(m.mem_min == 64 * M && m.mem_max == 128 * M, "memory 64M..128M over the runs");
	ok(near_bytes(m.mem_avg, (15.0 * 64 + 10.0 * 128) / 25 * M),
	   "memory averaged by the time each ran (%llu M)", (unsigned long long)(m.mem_avg / M));

	/* the same, but an older inventory without start times: a counter
	   going down is what tells the runs apart */
	for (int i = 0; i < n; i++)
		s[i].started = 0;
	hv_measure_compute(s, (size_t)n, 0, &m);
	ok(m.disk_ios == 1000 + 200, "without start times: runs split where counters fell (%llu)",
	   (unsigned long long)m.disk_ios);
	ok(near(m.seconds, 15), "and each counts from its first sample: 10 s + 5 s (%.3f)", m.seconds);

	/* only the CPU counter goes down (a new worker with the same start
	   time cannot happen, but one counter is enough) */
	n = 0;
	s[n++] = at(0, 0, 2.0, 64 * M, 0);
	s[n++] = at(0, 10000, 3.0, 64 * M, 0);
	s[n++] = at(0, 20000, 0.5, 64 * M, 0);
	s[n++] = at(0, 30000, 1.5, 64 * M, 0);
	hv_measure_compute(s, (size_t)n, 0, &m);
	ok(near(m.seconds, 20) && near(m.cpu_pct, 10), "CPU going down starts a run: 2 s in 20 s (%.3f)",
	   m.cpu_pct);

	/* memory that changes: weighted by time between samples (trapezoids),
	   a sample asked for 1 s after another counts for its 1 s */
	n = 0;
	s[n++] = at(0, 0, 0, 100 * M, 0);
	s[n++] = at(0, 10000, 0, 100 * M, 0);
	s[n++] = at(0, 20000, 0, 300 * M, 0);
	s[n++] = at(0, 21000, 0, 300 * M, 0);
	hv_measure_compute(s, (size_t)n, 0, &m);
	ok(near_bytes(m.mem_avg, (10.0 * 100 + 10 * 200 + 1 * 300) / 21 * M),
	   "memory average by time (%llu M)", (unsigned long long)(m.mem_avg / M));
	ok(m.mem_min == 100 * M && m.mem_max == 300 * M, "min 100M, max 300M");

	/* demand: samples without it (no balloon statistics yet) are left out */
	s[0].mem_demand = 0;
	s[1].mem_demand = 50 * M;
	s[2].mem_demand = 150 * M;
	s[3].mem_demand = 150 * M;
	hv_measure_compute(s, (size_t)n, 0, &m);
	ok(near_bytes(m.demand_avg, (10.0 * 50 + 10 * 100 + 1 * 150) / 21 * M),
	   "demand averaged where the guest said (%llu M)", (unsigned long long)(m.demand_avg / M));

	/* one sample, its worker's start unknown: no time, plain values */
	hv_measure_compute(s + 3, 1, 0, &m);
	ok(m.samples == 1 && m.seconds == 0 && m.cpu_pct == 0 && m.iops == 0 &&
	   m.mem_avg == 300 * M && m.demand_avg == 150 * M, "a lone sample: its memory, no rates");
	return done_testing();
}
