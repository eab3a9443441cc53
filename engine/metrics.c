/*
 * metrics.c - metering kept in the inventory: each network adapter's
 * traffic and drops, added up across runs of the VM (Hyper-V's
 * Measure-VM network part). The worker adds deltas; front ends read
 * totals. Rows are keyed by the VM's UUID, so a rename keeps them.
 */
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
