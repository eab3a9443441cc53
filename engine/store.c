/*
 * store.c - the inventory: sqlite3 at $HV_HOME/hv.db.
 *
 * WAL so readers never block the writer, a busy timeout so two admins
 * writing at once wait for each other instead of failing, and writes in
 * BEGIN IMMEDIATE transactions so a reader never has to upgrade to a
 * writer mid-transaction (the classic source of "database is locked").
 * The schema is versioned with PRAGMA user_version; migrations[i] moves
 * a database from version i to i+1 and only ever runs forward.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/hv-int.h"

static const char *const migrations[] = {
	/* 0 -> 1: the first inventory */
	"CREATE TABLE vms ("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  name TEXT NOT NULL UNIQUE,"
	"  generation INTEGER NOT NULL CHECK (generation IN (1, 2)),"
	"  vcpus INTEGER NOT NULL,"
	"  memory INTEGER NOT NULL,"
	"  dm_enabled INTEGER NOT NULL DEFAULT 0,"
	"  dm_minimum INTEGER NOT NULL,"
	"  dm_maximum INTEGER NOT NULL,"
	"  dm_buffer INTEGER NOT NULL,"
	"  dm_priority INTEGER NOT NULL,"
	"  kernel TEXT NOT NULL DEFAULT '',"
	"  initrd TEXT NOT NULL DEFAULT '',"
	"  cmdline TEXT NOT NULL DEFAULT '',"
	"  firmware TEXT NOT NULL DEFAULT '',"
	"  notes TEXT NOT NULL DEFAULT '',"
	"  state TEXT NOT NULL DEFAULT 'Off',"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE switches ("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  name TEXT NOT NULL UNIQUE,"
	"  type TEXT NOT NULL CHECK (type IN ('external', 'internal', 'private')),"
	"  nic TEXT NOT NULL DEFAULT '',"
	"  host_ip TEXT NOT NULL DEFAULT '',"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE disks ("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  path TEXT NOT NULL UNIQUE,"
	"  format TEXT NOT NULL DEFAULT '',"
	"  vm_id INTEGER REFERENCES vms(id) ON DELETE SET NULL,"
	"  slot INTEGER,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE INDEX disks_vm ON disks(vm_id);"
	"CREATE TABLE nics ("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,"
	"  slot INTEGER NOT NULL,"
	"  switch_id INTEGER REFERENCES switches(id),"
	"  mac TEXT NOT NULL UNIQUE,"
	"  vlan INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX nics_vm ON nics(vm_id);"
	"CREATE TABLE checkpoints ("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,"
	"  parent_id INTEGER REFERENCES checkpoints(id),"
	"  name TEXT NOT NULL,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE hosts ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  address TEXT NOT NULL DEFAULT '',"
	"  port INTEGER NOT NULL DEFAULT 0,"
	"  created INTEGER NOT NULL"
	");"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  object TEXT NOT NULL DEFAULT '',"
	"  message TEXT NOT NULL"
	");",
	/* 1 -> 2: what the worker of a running VM reports */
	"ALTER TABLE vms ADD COLUMN pid INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vms ADD COLUMN started INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE vms ADD COLUMN last_exit TEXT NOT NULL DEFAULT '';",
	/* 2 -> 3: network adapter QoS, guards and ACLs; switches' bridges */
	"ALTER TABLE nics ADD COLUMN max_bw INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE nics ADD COLUMN min_bw INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE nics ADD COLUMN dhcp_guard INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE nics ADD COLUMN router_guard INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE nics ADD COLUMN mac_guard INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE nics ADD COLUMN acls TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE switches ADD COLUMN bridge TEXT NOT NULL DEFAULT '';",
	/* 3 -> 4: traffic metering per adapter, kept across runs */
	"CREATE TABLE port_counters ("
	"  vm_uuid TEXT NOT NULL,"
	"  slot INTEGER NOT NULL,"
	"  rx_packets INTEGER NOT NULL DEFAULT 0, rx_bytes INTEGER NOT NULL DEFAULT 0,"
	"  tx_packets INTEGER NOT NULL DEFAULT 0, tx_bytes INTEGER NOT NULL DEFAULT 0,"
	"  drop_mac INTEGER NOT NULL DEFAULT 0, drop_dhcp INTEGER NOT NULL DEFAULT 0,"
	"  drop_router INTEGER NOT NULL DEFAULT 0, drop_acl INTEGER NOT NULL DEFAULT 0,"
	"  drop_vlan INTEGER NOT NULL DEFAULT 0, drop_malformed INTEGER NOT NULL DEFAULT 0,"
	"  since INTEGER NOT NULL, updated INTEGER NOT NULL,"
	"  PRIMARY KEY (vm_uuid, slot)"
	");",
	/* 4 -> 5: a switch's bandwidth, what minimum bandwidth is reserved
	   out of (0: unknown) */
	"ALTER TABLE switches ADD COLUMN bandwidth INTEGER NOT NULL DEFAULT 0;",
	/* 5 -> 6: storage QoS per virtual disk (normalized IOPS, bytes/s) */
	"ALTER TABLE disks ADD COLUMN max_iops INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE disks ADD COLUMN min_iops INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE disks ADD COLUMN max_bw INTEGER NOT NULL DEFAULT 0;",
	/* 6 -> 7: resource metering, a running VM's samples (Measure-VM):
	   time and started in unix ms, counters cumulative since started */
	"CREATE TABLE vm_samples ("
	"  vm_uuid TEXT NOT NULL,"
	"  time INTEGER NOT NULL,"
	"  started INTEGER NOT NULL DEFAULT 0,"
	"  cpu_ns INTEGER NOT NULL DEFAULT 0,"
	"  mem_assigned INTEGER NOT NULL DEFAULT 0, mem_demand INTEGER NOT NULL DEFAULT 0,"
	"  disk_read_bytes INTEGER NOT NULL DEFAULT 0, disk_write_bytes INTEGER NOT NULL DEFAULT 0,"
	"  disk_ios INTEGER NOT NULL DEFAULT 0, disk_normalized_ios INTEGER NOT NULL DEFAULT 0,"
	"  net_rx_bytes INTEGER NOT NULL DEFAULT 0, net_tx_bytes INTEGER NOT NULL DEFAULT 0"
	");"
	"CREATE INDEX vm_samples_time ON vm_samples(vm_uuid, time);",
	/* 7 -> 8: checkpoints: whether one holds a saved state, the disks it
	   froze, the differencing children hv made for them (the only disk
	   files hv ever deletes), and where each VM's "Now" hangs */
	"ALTER TABLE checkpoints ADD COLUMN saved INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE checkpoint_disks ("
	"  checkpoint_id INTEGER NOT NULL REFERENCES checkpoints(id) ON DELETE CASCADE,"
	"  slot INTEGER NOT NULL,"
	"  path TEXT NOT NULL,"
	"  PRIMARY KEY (checkpoint_id, slot)"
	");"
	"CREATE TABLE checkpoint_children ("
	"  path TEXT PRIMARY KEY,"
	"  vm_uuid TEXT NOT NULL"
	");"
	"ALTER TABLE vms ADD COLUMN checkpoint_id INTEGER "
	"REFERENCES checkpoints(id) ON DELETE SET NULL;",
	/* 8 -> 9: DVD drives on a VM's SCSI controller, each empty ('') or
	   holding an ISO image (its absolute path) */
	"CREATE TABLE dvd_drives ("
	"  vm_id INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,"
	"  slot INTEGER NOT NULL,"
	"  iso TEXT NOT NULL DEFAULT '',"
	"  PRIMARY KEY (vm_id, slot)"
	");"
	/* and the firmware's boot order: "dvd,disk,net"; '': its own */
	"ALTER TABLE vms ADD COLUMN boot_order TEXT NOT NULL DEFAULT '';",
};
#define SCHEMA_VERSION ((int)(sizeof migrations / sizeof migrations[0]))

int
store_fail(struct hv_ctx *hv, struct hv_err *err, const char *what)
{
	int rc = sqlite3_errcode(hv->db);

	return hv_fail(err, rc == SQLITE_BUSY || rc == SQLITE_LOCKED ?
		       HV_EBUSY : HV_EIO, "%s/hv.db: %s: %s", hv->cfg.home,
		       what, sqlite3_errmsg(hv->db));
}

sqlite3_stmt *
store_prepare(struct hv_ctx *hv, const char *sql, struct hv_err *err)
{
	sqlite3_stmt *st;

	if (sqlite3_prepare_v2(hv->db, sql, -1, &st, NULL) != SQLITE_OK) {
		store_fail(hv, err, "prepare");
		return NULL;
	}
	return st;
}

static int
exec(struct hv_ctx *hv, const char *sql, struct hv_err *err)
{
	if (sqlite3_exec(hv->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(hv, err, sql);
	return 0;
}

int
store_begin(struct hv_ctx *hv, struct hv_err *err)
{
	return exec(hv, "BEGIN IMMEDIATE", err);
}

int
store_commit(struct hv_ctx *hv, struct hv_err *err)
{
	if (exec(hv, "COMMIT", err) != 0) {
		store_rollback(hv);
		return -1;
	}
	return 0;
}

void
store_rollback(struct hv_ctx *hv)
{
	if (!sqlite3_get_autocommit(hv->db))
		sqlite3_exec(hv->db, "ROLLBACK", NULL, NULL, NULL);
}

static int
user_version(struct hv_ctx *hv, int *v, struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, "PRAGMA user_version", err);

	if (st == NULL)
		return -1;
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return store_fail(hv, err, "reading the schema version");
	}
	*v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int
migrate(struct hv_ctx *hv, struct hv_err *err)
{
	char sql[64];
	int v;

	if (user_version(hv, &v, err) != 0)
		return -1;
	if (v == SCHEMA_VERSION)
		return 0;
	if (store_begin(hv, err) != 0)
		return -1;
	/* another process may have migrated while we waited for the lock */
	if (user_version(hv, &v, err) != 0)
		goto fail;
	if (v > SCHEMA_VERSION) {
		hv_fail(err, HV_ENOTSUP, "%s/hv.db: schema version %d is newer than this hv understands (%d); upgrade hv",
			hv->cfg.home, v, SCHEMA_VERSION);
		goto fail;
	}
	for (; v < SCHEMA_VERSION; v++) {
		if (exec(hv, migrations[v], err) != 0)
			goto fail;
		snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v + 1);
		if (exec(hv, sql, err) != 0)
			goto fail;
	}
	return store_commit(hv, err);
fail:
	store_rollback(hv);
	return -1;
}

int
store_open(struct hv_ctx *hv, struct hv_err *err)
{
	char path[HV_PATH_MAX + 16];
	int tries;

	snprintf(path, sizeof path, "%s/hv.db", hv->cfg.home);
	if (sqlite3_open_v2(path, &hv->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		hv_fail(err, HV_EIO, "%s: %s", path, hv->db ?
			sqlite3_errmsg(hv->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(hv->db, hv->cfg.busy_timeout_ms);
	/*
	 * Switching to WAL needs a moment alone with the file; when many
	 * first runs race, the busy handler is not always consulted, so
	 * wait and retry here.
	 */
	for (tries = 0;; tries++) {
		if (sqlite3_exec(hv->db, "PRAGMA journal_mode=WAL", NULL, NULL,
				 NULL) == SQLITE_OK)
			break;
		if (sqlite3_errcode(hv->db) != SQLITE_BUSY ||
		    tries * 10 > hv->cfg.busy_timeout_ms) {
			store_fail(hv, err, "enabling WAL");
			goto fail;
		}
		usleep(10000);
	}
	if (exec(hv, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL", err) != 0)
		goto fail;
	if (migrate(hv, err) != 0)
		goto fail;
	return 0;
fail:
	store_close(hv);
	return -1;
}

void
store_close(struct hv_ctx *hv)
{
	if (hv->db != NULL)
		sqlite3_close(hv->db);
	hv->db = NULL;
}

int
hv_event_add(struct hv_ctx *hv, const char *object, const char *fmt, ...)
{
	sqlite3_stmt *st;
	char msg[256];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	st = store_prepare(hv, "INSERT INTO events (time, object, message) VALUES (?, ?, ?)", NULL);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)time(NULL));
	sqlite3_bind_text(st, 2, object, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, msg, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
	sqlite3_finalize(st);
	return rc;
}

void *
store_grow(void *v, size_t *cap, size_t n, size_t elem)
{
	size_t ncap = *cap ? *cap * 2 : 16;
	void *nv;

	if (n < *cap)
		return v;
	if ((nv = realloc(v, ncap * elem)) == NULL) {
		free(v);
		return NULL;
	}
	*cap = ncap;
	return nv;
}

int
hv_event_list(struct hv_ctx *hv, int limit, struct hv_event **out, size_t *n,
	      struct hv_err *err)
{
	sqlite3_stmt *st;
	struct hv_event *ev = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	st = store_prepare(hv, "SELECT time, object, message FROM "
			   "(SELECT * FROM events ORDER BY id DESC LIMIT ?) ORDER BY id", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int(st, 1, limit);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((ev = store_grow(ev, &cap, *n, sizeof *ev)) == NULL) {
			sqlite3_finalize(st);
			*n = 0;
			return hv_fail(err, HV_EINTERNAL, "out of memory");
		}
		ev[*n].time = sqlite3_column_int64(st, 0);
		snprintf(ev[*n].object, sizeof ev[*n].object, "%s",
			 (const char *)sqlite3_column_text(st, 1));
		snprintf(ev[*n].message, sizeof ev[*n].message, "%s",
			 (const char *)sqlite3_column_text(st, 2));
		(*n)++;
	}
	sqlite3_finalize(st);
	*out = ev;
	return 0;
}
