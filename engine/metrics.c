/*
 * metrics.c - metering kept in the inventory: each network adapter's
 * traffic and drops, added up across runs of the VM (Hyper-V's
 * Measure-VM network part). The worker adds deltas; front ends read
 * totals. And the worker's resource samples, which measure.c averages.
 * Rows are keyed by the VM's UUID, so a rename keeps them.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/hv-int.h"

#define COUNTER_COLS "rx_packets, rx_bytes, tx_packets, tx_bytes, drop_mac, " \
	"drop_dhcp, drop_router, drop_acl, drop_vlan, drop_malformed"
#define NCOUNTERS 10

static void
counters_out(const struct hv_port_counters *c, uint64_t v[NCOUNTERS])
{
	const uint64_t a[NCOUNTERS] = {
		c->rx_packets, c->rx_bytes, c->tx_packets, c->tx_bytes, c->drop_mac,
		c->drop_dhcp, c->drop_router, c->drop_acl, c->drop_vlan, c->drop_malformed,
	};

	memcpy(v, a, sizeof a);
}

static void
counters_in(struct hv_port_counters *c, const uint64_t v[NCOUNTERS])
{
	uint64_t *f[NCOUNTERS] = {
		&c->rx_packets, &c->rx_bytes, &c->tx_packets, &c->tx_bytes, &c->drop_mac,
		&c->drop_dhcp, &c->drop_router, &c->drop_acl, &c->drop_vlan, &c->drop_malformed,
	};

	for (int i = 0; i < NCOUNTERS; i++)
		*f[i] = v[i];
}

int
hv_port_counters_add(struct hv_ctx *hv, const char *vm_uuid, int slot,
		     const struct hv_port_counters *d, struct hv_err *err)
{
	sqlite3_stmt *st;
	uint64_t v[NCOUNTERS];
	int64_t now = (int64_t)time(NULL);
	int rc;

	counters_out(d, v);
	st = store_prepare(hv, "INSERT INTO port_counters (vm_uuid, slot, " COUNTER_COLS
			   ", since, updated) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13) "
			   "ON CONFLICT (vm_uuid, slot) DO UPDATE SET "
			   "rx_packets = rx_packets + ?3, rx_bytes = rx_bytes + ?4, "
			   "tx_packets = tx_packets + ?5, tx_bytes = tx_bytes + ?6, "
			   "drop_mac = drop_mac + ?7, drop_dhcp = drop_dhcp + ?8, "
			   "drop_router = drop_router + ?9, drop_acl = drop_acl + ?10, "
			   "drop_vlan = drop_vlan + ?11, drop_malformed = drop_malformed + ?12, "
			   "updated = ?13", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, slot);
	for (int i = 0; i < NCOUNTERS; i++)
		sqlite3_bind_int64(st, 3 + i, (sqlite3_int64)v[i]);
	sqlite3_bind_int64(st, 13, now);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(hv, err, "metering");
	sqlite3_finalize(st);
	return rc;
}

int
hv_port_counters_get(struct hv_ctx *hv, const char *vm, int slot,
		     struct hv_port_counters *out, struct hv_err *err)
{
	struct hv_vm def;
	sqlite3_stmt *st;
	uint64_t v[NCOUNTERS];

	memset(out, 0, sizeof *out);
	if (hv_vm_get(hv, vm, &def, err) != 0)
		return -1;
	st = store_prepare(hv, "SELECT " COUNTER_COLS ", since, updated FROM port_counters "
			   "WHERE vm_uuid = ? AND slot = ?", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, def.uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 2, slot);
	if (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < NCOUNTERS; i++)
			v[i] = (uint64_t)sqlite3_column_int64(st, i);
		counters_in(out, v);
		out->since = sqlite3_column_int64(st, NCOUNTERS);
		out->updated = sqlite3_column_int64(st, NCOUNTERS + 1);
	}
	sqlite3_finalize(st);
	return 0;
}

int
hv_port_counters_reset(struct hv_ctx *hv, const char *vm, struct hv_err *err)
{
	struct hv_vm def;
	sqlite3_stmt *st;
	int rc;

	if (hv_vm_get(hv, vm, &def, err) != 0)
		return -1;
	st = store_prepare(hv, "DELETE FROM port_counters WHERE vm_uuid = ?", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, def.uuid, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(hv, err, "metering");
	sqlite3_finalize(st);
	if (rc == 0)
		hv_event_add(hv, def.name, "metering reset");
	return rc;
}

/* --- resource metering: samples and Measure-VM's averages --------------- */

#define SAMPLE_COLS "time, started, cpu_ns, mem_assigned, mem_demand, disk_read_bytes, " \
	"disk_write_bytes, disk_ios, disk_normalized_ios, net_rx_bytes, net_tx_bytes"
#define NSAMPLE_U64 9	/* the columns after time and started */

static void
sample_out(const struct hv_vm_sample *s, uint64_t v[NSAMPLE_U64])
{
	const uint64_t a[NSAMPLE_U64] = {
		s->cpu_ns, s->mem_assigned, s->mem_demand, s->disk_read_bytes,
		s->disk_write_bytes, s->disk_ios, s->disk_normalized_ios,
		s->net_rx_bytes, s->net_tx_bytes,
	};

	memcpy(v, a, sizeof a);
}

static void
sample_in(struct hv_vm_sample *s, const uint64_t v[NSAMPLE_U64])
{
	uint64_t *f[NSAMPLE_U64] = {
		&s->cpu_ns, &s->mem_assigned, &s->mem_demand, &s->disk_read_bytes,
		&s->disk_write_bytes, &s->disk_ios, &s->disk_normalized_ios,
		&s->net_rx_bytes, &s->net_tx_bytes,
	};

	for (int i = 0; i < NSAMPLE_U64; i++)
		*f[i] = v[i];
}

static int
sample_step(struct hv_ctx *hv, sqlite3_stmt *st, struct hv_err *err)
{
	int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(hv, err, "metering samples");

	sqlite3_finalize(st);
	return rc;
}

int
hv_vm_sample_add(struct hv_ctx *hv, const char *vm_uuid,
		 const struct hv_vm_sample *s, struct hv_err *err)
{
	sqlite3_stmt *st;
	uint64_t v[NSAMPLE_U64];

	sample_out(s, v);
	if (store_begin(hv, err) != 0)
		return -1;
	st = store_prepare(hv, "INSERT INTO vm_samples (vm_uuid, " SAMPLE_COLS ") VALUES "
			   "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, s->time);
	sqlite3_bind_int64(st, 3, s->started);
	for (int i = 0; i < NSAMPLE_U64; i++)
		sqlite3_bind_int64(st, 4 + i, (sqlite3_int64)v[i]);
	if (sample_step(hv, st, err) != 0)
		goto fail;
	/* a day is kept: deleting as we go keeps the table a VM's day long */
	st = store_prepare(hv, "DELETE FROM vm_samples WHERE vm_uuid = ? AND time < ?", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_text(st, 1, vm_uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, s->time - HV_SAMPLES_KEEP_MS);
	if (sample_step(hv, st, err) != 0)
		goto fail;
	return store_commit(hv, err);
fail:
	store_rollback(hv);
	return -1;
}

int
hv_vm_samples(struct hv_ctx *hv, const char *vm, int64_t since_ms,
	      struct hv_vm_sample **out, size_t *n, struct hv_err *err)
{
	struct hv_vm_sample *v = NULL;
	struct hv_vm def;
	sqlite3_stmt *st;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (hv_vm_get(hv, vm, &def, err) != 0)
		return -1;
	st = store_prepare(hv, "SELECT " SAMPLE_COLS " FROM vm_samples "
			   "WHERE vm_uuid = ? AND time >= ? ORDER BY time, rowid", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, def.uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 2, since_ms);
	while (sqlite3_step(st) == SQLITE_ROW) {
		uint64_t u[NSAMPLE_U64];

		if ((v = store_grow(v, &cap, *n, sizeof *v)) == NULL) {
			sqlite3_finalize(st);
			*n = 0;
			return hv_fail(err, HV_EINTERNAL, "out of memory");
		}
		v[*n].time = sqlite3_column_int64(st, 0);
		v[*n].started = sqlite3_column_int64(st, 1);
		for (int i = 0; i < NSAMPLE_U64; i++)
			u[i] = (uint64_t)sqlite3_column_int64(st, 2 + i);
		sample_in(&v[*n], u);
		(*n)++;
	}
	sqlite3_finalize(st);
	*out = v;
	return 0;
}

int
hv_vm_samples_reset(struct hv_ctx *hv, const char *vm, struct hv_err *err)
{
	struct hv_vm def;
	sqlite3_stmt *st;

	if (hv_vm_get(hv, vm, &def, err) != 0)
		return -1;
	st = store_prepare(hv, "DELETE FROM vm_samples WHERE vm_uuid = ?", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, def.uuid, -1, SQLITE_TRANSIENT);
	return sample_step(hv, st, err);
}

int
hv_vm_measure(struct hv_ctx *hv, const char *vm, int64_t since_ms,
	      struct hv_vm_measure *out, struct hv_err *err)
{
	struct hv_vm_sample *s;
	size_t n;

	memset(out, 0, sizeof *out);
	if (hv_vm_samples(hv, vm, since_ms, &s, &n, err) != 0)
		return -1;
	hv_measure_compute(s, n, since_ms, out);
	free(s);
	return 0;
}
