/*
 * measure.c - Measure-VM's arithmetic over a VM's samples (metrics.c
 * reads them from the inventory). Pure: tests/unit/measure.c feeds it.
 *
 * Counters in a sample are cumulative since its worker started, so a
 * window is cut into runs (one per worker); each run adds its last sample
 * less its baseline: zero at the worker's start when that lies inside the
 * window (nothing it did is lost to the first 5 s), else its first sample.
 * Memory averages are weighted by time, so a sample asked for between two
 * periodic ones does not count more than its few seconds.
 */
#include <math.h>
#include <string.h>

#include "engine/hv.h"

/* a time-weighted average, with the plain mean when no time passed */
struct avg {
	double area, weight, sum;
	size_t n;
};

static void
avg_add(struct avg *a, double dt, bool prev_ok, double prev, bool cur_ok, double cur)
{
	if (!cur_ok)
		return;
	a->sum += cur;
	a->n++;
	a->area += dt * (prev_ok ? (prev + cur) / 2 : cur);
	a->weight += dt;
}

static uint64_t
avg_of(const struct avg *a)
{
	if (a->weight > 0)
		return (uint64_t)llround(a->area / a->weight);
	return a->n ? (uint64_t)llround(a->sum / (double)a->n) : 0;
}

/* b starts another worker's run: its start differs or a counter went down */
static bool
new_run(const struct hv_vm_sample *a, const struct hv_vm_sample *b)
{
	return a->started != b->started || b->cpu_ns < a->cpu_ns ||
	       b->disk_read_bytes < a->disk_read_bytes ||
	       b->disk_write_bytes < a->disk_write_bytes || b->disk_ios < a->disk_ios ||
	       b->disk_normalized_ios < a->disk_normalized_ios ||
	       b->net_rx_bytes < a->net_rx_bytes || b->net_tx_bytes < a->net_tx_bytes;
}

struct totals {
	struct avg mem, demand;
	double ms, cpu_ns;
};

/* one run of n samples, r[0] the first in the window */
static void
run_add(struct hv_vm_measure *m, struct totals *t, const struct hv_vm_sample *r,
	size_t n, int64_t since_ms)
{
	static const struct hv_vm_sample zero;
	const struct hv_vm_sample *b = &r[0], *e = &r[n - 1];
	int64_t prev_t = r[0].time;

	if (r[0].started > 0 && r[0].started >= since_ms && r[0].started <= r[0].time) {
		b = &zero;
		prev_t = r[0].started;
	}
	if (m->first == 0)
		m->first = prev_t;
	t->ms += (double)(e->time - prev_t);
	t->cpu_ns += (double)(e->cpu_ns - b->cpu_ns);
	m->disk_read_bytes += e->disk_read_bytes - b->disk_read_bytes;
	m->disk_write_bytes += e->disk_write_bytes - b->disk_write_bytes;
	m->disk_ios += e->disk_ios - b->disk_ios;
	m->disk_normalized_ios += e->disk_normalized_ios - b->disk_normalized_ios;
	m->net_rx_bytes += e->net_rx_bytes - b->net_rx_bytes;
	m->net_tx_bytes += e->net_tx_bytes - b->net_tx_bytes;
	for (size_t k = 0; k < n; k++) {
		double dt = (double)(r[k].time - prev_t);
		const struct hv_vm_sample *p = k ? &r[k - 1] : NULL;

		avg_add(&t->mem, dt, p != NULL, p ? (double)p->mem_assigned : 0,
			true, (double)r[k].mem_assigned);
		avg_add(&t->demand, dt, p != NULL && p->mem_demand > 0,
			p ? (double)p->mem_demand : 0, r[k].mem_demand > 0,
			(double)r[k].mem_demand);
		if (r[k].mem_assigned < m->mem_min)
			m->mem_min = r[k].mem_assigned;
		if (r[k].mem_assigned > m->mem_max)
			m->mem_max = r[k].mem_assigned;
		prev_t = r[k].time;
	}
}

void
hv_measure_compute(const struct hv_vm_sample *s, size_t n, int64_t since_ms,
		   struct hv_vm_measure *out)
{
	struct totals t;
	size_t i = 0;

	memset(out, 0, sizeof *out);
	memset(&t, 0, sizeof t);
	while (i < n && s[i].time < since_ms)
		i++;
	if (i == n)
		return;
	out->samples = n - i;
	out->last = s[n - 1].time;
	out->mem_min = UINT64_MAX;
	while (i < n) {
		size_t j = i;

		while (j + 1 < n && !new_run(&s[j], &s[j + 1]))
			j++;
		run_add(out, &t, &s[i], j - i + 1, since_ms);
		i = j + 1;
	}
	out->seconds = t.ms / 1000;
	out->mem_avg = avg_of(&t.mem);
	out->demand_avg = avg_of(&t.demand);
	if (t.ms > 0) {
		out->cpu_pct = t.cpu_ns / (t.ms * 1e6) * 100;
		out->iops = (double)out->disk_ios / out->seconds;
		out->normalized_iops = (double)out->disk_normalized_ios / out->seconds;
	}
}
