/*
 * switch.c - virtual switches and the network adapters on them.
 *
 * A switch is a row in the inventory and a Linux bridge on the host
 * (engine/net/). Creating one makes the bridge first and records it
 * last, inside one write transaction, undoing the bridge if anything
 * fails; deleting one is refused while any VM still has an adapter on it.
 * Bridges do not survive a reboot: hv_switch_ensure() makes one again
 * from the inventory when a VM needs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <net/if.h>
#include <sys/socket.h>

#include "engine/hv-int.h"
#include "engine/net/net.h"

static void
text(sqlite3_stmt *st, int col, char *out, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, col);

	snprintf(out, len, "%s", s ? (const char *)s : "");
}

/* what the bridge looks like right now */
static void
switch_state(struct hv_switch *sw)
{
	struct net_link l;

	if (net_link_get(sw->bridge, &l, NULL) != 0 || strcmp(l.kind, "bridge") != 0)
		snprintf(sw->state, sizeof sw->state, "missing");
	else
		snprintf(sw->state, sizeof sw->state, "%s", l.flags & IFF_UP ? "up" : "down");
	sw->vlans = strcmp(sw->state, "missing") != 0 && l.vlan_filtering;
}

/* an external switch's uplink speed from sysfs, bits/s; 0 if it has
   none to give (down, virtual, or not a number) */
static uint64_t
uplink_speed(const char *nic)
{
	char path[128], buf[32];
	long long mbit = 0;
	FILE *f;

	if (nic[0] == '\0' || strchr(nic, '/') != NULL)
		return 0;
	snprintf(path, sizeof path, "/sys/class/net/%s/speed", nic);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(buf, sizeof buf, f) != NULL)
		mbit = strtoll(buf, NULL, 10);
	fclose(f);
	return mbit > 0 && mbit < 100000000 ? (uint64_t)mbit * 1000000 : 0;
}

/* what minimum bandwidth is reserved out of: what the admin said, else
   what an external switch's uplink says */
static uint64_t
capacity_of(const char *type, const char *nic, uint64_t bandwidth)
{
	if (bandwidth != 0)
		return bandwidth;
	return strcmp(type, "external") == 0 ? uplink_speed(nic) : 0;
}

#define SW_COLS "id, name, type, nic, host_ip, bridge, created, bandwidth"

static sqlite3_int64
row_to_switch(sqlite3_stmt *st, struct hv_switch *sw)
{
	memset(sw, 0, sizeof *sw);
	text(st, 1, sw->name, sizeof sw->name);
	text(st, 2, sw->type, sizeof sw->type);
	text(st, 3, sw->nic, sizeof sw->nic);
	text(st, 4, sw->host_ip, sizeof sw->host_ip);
	text(st, 5, sw->bridge, sizeof sw->bridge);
	if (sw->bridge[0] == '\0')	/* recorded before bridges were */
		net_bridge_name(sw->name, sw->bridge);
	sw->created = sqlite3_column_int64(st, 6);
	sw->bandwidth = (uint64_t)sqlite3_column_int64(st, 7);
	sw->capacity = capacity_of(sw->type, sw->nic, sw->bandwidth);
	switch_state(sw);
	return sqlite3_column_int64(st, 0);
}

int
hv_switch_list(struct hv_ctx *hv, struct hv_switch **out, size_t *n,
	       struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, "SELECT " SW_COLS " FROM switches ORDER BY name", err);
	struct hv_switch *v = NULL;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if ((v = store_grow(v, &cap, *n, sizeof *v)) == NULL) {
			sqlite3_finalize(st);
			*n = 0;
			return hv_fail(err, HV_EINTERNAL, "out of memory");
		}
		row_to_switch(st, &v[(*n)++]);
	}
	sqlite3_finalize(st);
	*out = v;
	return 0;
}

/* row id of switch `name` (0: none, -1: error) */
static sqlite3_int64
find_switch(struct hv_ctx *hv, const char *name, struct hv_switch *sw,
	    struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, "SELECT " SW_COLS " FROM switches WHERE name = ?", err);
	sqlite3_int64 id = 0;
	struct hv_switch tmp;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		id = row_to_switch(st, sw ? sw : &tmp);
	sqlite3_finalize(st);
	return id;
}

int
hv_switch_get(struct hv_ctx *hv, const char *name, struct hv_switch *sw,
	      struct hv_err *err)
{
	sqlite3_int64 id = find_switch(hv, name, sw, err);

	if (id < 0)
		return -1;
	if (id == 0)
		return hv_fail(err, HV_ENOENT, "no virtual switch named '%s'", name);
	return 0;
}

/* --- create -------------------------------------------------------------- */

/* an address a host interface can have: not unspecified, loopback,
   multicast or broadcast */
static bool
unicast(const struct net_addr *a)
{
	static const unsigned char zero[16], one[16] = { [15] = 1 };

	if (a->family == AF_INET)
		return a->a[0] != 0 && a->a[0] != 127 && a->a[0] < 224;
	return memcmp(a->a, zero, 16) != 0 && memcmp(a->a, one, 16) != 0 && a->a[0] != 0xff;
}

static int
check_type(const struct hv_switch *sw, struct hv_err *err)
{
	struct net_addr a;

	if (strcmp(sw->type, "external") == 0) {
		if (sw->nic[0] == '\0')
			return hv_fail(err, HV_EUSAGE, "an external switch needs the host network adapter it shares (--nic IF)");
		if (sw->host_ip[0])
			return hv_fail(err, HV_EUSAGE, "an external switch keeps the addresses of its NIC; --host-ip is for internal switches");
	} else if (strcmp(sw->type, "internal") == 0) {
		if (sw->nic[0])
			return hv_fail(err, HV_EUSAGE, "an internal switch has no physical NIC; --nic is for external switches");
	} else if (strcmp(sw->type, "private") == 0) {
		if (sw->nic[0] || sw->host_ip[0])
			return hv_fail(err, HV_EUSAGE, "a private switch connects VMs only: no --nic, no --host-ip");
	} else {
		return hv_fail(err, HV_EUSAGE, "switch type '%s': use external, internal or private",
			       sw->type);
	}
	if (sw->host_ip[0] && (net_addr_parse(sw->host_ip, &a) != 0 || a.prefix < 0))
		return hv_fail(err, HV_EUSAGE, "host IP '%s': use an address with a prefix length, like 192.168.100.1/24 or fd00::1/64",
			       sw->host_ip);
	if (sw->host_ip[0] && (!unicast(&a) || a.prefix == 0))
		return hv_fail(err, HV_EUSAGE, "host IP '%s': not a unicast host address on a network",
			       sw->host_ip);
	return 0;
}

/* the NIC an external switch would take: there, physical-like, free */
static int
check_uplink(struct hv_ctx *hv, const char *nic, struct hv_err *err)
{
	struct net_link l;
	sqlite3_stmt *st;
	int rc = 0;

	if (strlen(nic) >= NET_IFNAMSIZ || net_link_get(nic, &l, NULL) != 0)
		return hv_fail(err, HV_ENOENT, "no network interface '%s' on this host", nic);
	if (l.flags & IFF_LOOPBACK)
		return hv_fail(err, HV_EUSAGE, "%s is the loopback interface; an external switch needs a network adapter", nic);
	if (strcmp(l.kind, "bridge") == 0)
		return hv_fail(err, HV_EINVAL, "%s is itself a bridge; give the network adapter it bridges", nic);
	if (l.master != 0) {
		char m[IF_NAMESIZE] = "";

		if_indextoname((unsigned)l.master, m);
		return hv_fail(err, HV_EBUSY, "%s is already a port of %s", nic, m[0] ? m : "another bridge or bond");
	}
	st = store_prepare(hv, "SELECT name FROM switches WHERE nic = ? AND type = 'external'", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, nic, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW)
		rc = hv_fail(err, HV_EBUSY, "%s is already the uplink of switch '%s'", nic,
			     sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return rc;
}

static int
check_unique(struct hv_ctx *hv, const struct hv_switch *sw, struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, "SELECT name FROM switches WHERE name = ? OR bridge = ?", err);
	int rc = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, sw->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, sw->bridge, -1, SQLITE_TRANSIENT);
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (strcmp((const char *)sqlite3_column_text(st, 0), sw->name) == 0)
			rc = hv_fail(err, HV_EEXIST, "a virtual switch named '%s' already exists", sw->name);
		else
			rc = hv_fail(err, HV_EEXIST, "switch '%s' already has bridge %s (the names hash alike); choose another name",
				     sqlite3_column_text(st, 0), sw->bridge);
	}
	sqlite3_finalize(st);
	return rc;
}

/* make the bridge of sw as its type wants; undone on failure (a failed
   uplink attach puts the NIC back by itself) */
static int
bridge_up(const struct hv_switch *sw, struct hv_err *err)
{
	struct hv_err e2;

	if (net_bridge_create(sw->bridge, err) != 0)
		return -1;
	if ((strcmp(sw->type, "private") == 0 && net_link_no_linklocal(sw->bridge, err) != 0) ||
	    (strcmp(sw->type, "external") == 0 && net_uplink_attach(sw->nic, sw->bridge, err) != 0) ||
	    (sw->host_ip[0] && net_addr_add(sw->bridge, sw->host_ip, err) != 0)) {
		net_link_delete(sw->bridge, &e2);
		return -1;
	}
	return 0;
}

static void
bridge_down(const struct hv_switch *sw)
{
	struct hv_err e2;

	if (strcmp(sw->type, "external") == 0)
		net_uplink_detach(sw->nic, sw->bridge, &e2);
	net_link_delete(sw->bridge, &e2);
}

int
hv_switch_create(struct hv_ctx *hv, struct hv_switch *sw, struct hv_err *err)
{
	sqlite3_stmt *st;
	char uuid[HV_UUID_LEN];
	struct net_addr a;

	if (!hv_name_valid(sw->name, err) || check_type(sw, err) != 0)
		return -1;
	if (sw->host_ip[0]) {	/* one spelling of it */
		net_addr_parse(sw->host_ip, &a);
		net_addr_format(&a, sw->host_ip, sizeof sw->host_ip);
	}
	net_bridge_name(sw->name, sw->bridge);
	sw->created = (int64_t)time(NULL);
	if (store_begin(hv, err) != 0)
		return -1;
	if (check_unique(hv, sw, err) != 0 ||
	    (strcmp(sw->type, "external") == 0 && check_uplink(hv, sw->nic, err) != 0))
		goto fail;
	if (bridge_up(sw, err) != 0)
		goto fail;
	hv_uuid_new(uuid);
	st = store_prepare(hv, "INSERT INTO switches (uuid, name, type, nic, host_ip, bridge, created, bandwidth) "
			   "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", err);
	if (st == NULL)
		goto undo;
	sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, sw->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, sw->type, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 4, sw->nic, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 5, sw->host_ip, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 6, sw->bridge, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 7, sw->created);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)sw->bandwidth);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(hv, err, "recording the switch");
		sqlite3_finalize(st);
		goto undo;
	}
	sqlite3_finalize(st);
	hv_event_add(hv, sw->name, "switch created (%s, bridge %s%s%s)", sw->type, sw->bridge,
		     sw->nic[0] ? ", uplink " : sw->host_ip[0] ? ", host " : "",
		     sw->nic[0] ? sw->nic : sw->host_ip);
	if (store_commit(hv, err) != 0) {
		bridge_down(sw);
		return -1;
	}
	sw->capacity = capacity_of(sw->type, sw->nic, sw->bandwidth);
	switch_state(sw);
	return 0;
undo:
	bridge_down(sw);
fail:
	store_rollback(hv);
	return -1;
}

/* --- delete -------------------------------------------------------------- */

static bool
is_running(const char *state)
{
	return strcmp(state, "Running") == 0 || strcmp(state, "Paused") == 0 ||
	       strcmp(state, "Starting") == 0;
}

/* the VMs with an adapter on switch row id: "a, b" (running ones in run) */
static int
switch_users(struct hv_ctx *hv, sqlite3_int64 id, char *all, size_t alen,
	     char *run, size_t rlen, struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, "SELECT DISTINCT v.name FROM nics n JOIN vms v ON v.id = n.vm_id "
					 "WHERE n.switch_id = ? ORDER BY v.name", err);
	struct hv_vm *vm;

	all[0] = run[0] = '\0';
	if (st == NULL)
		return -1;
	if ((vm = malloc(sizeof *vm)) == NULL) {
		sqlite3_finalize(st);
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	}
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		size_t n = strlen(all);

		snprintf(all + n, alen - n, "%s%s", n ? ", " : "", name);
		if (hv_vm_get(hv, name, vm, NULL) == 0 && is_running(vm->state)) {
			n = strlen(run);
			snprintf(run + n, rlen - n, "%s%s", n ? ", " : "", name);
		}
	}
	sqlite3_finalize(st);
	free(vm);
	return 0;
}

int
hv_switch_delete(struct hv_ctx *hv, const char *name, struct hv_err *err)
{
	struct hv_switch sw;
	struct net_link l;
	sqlite3_stmt *st;
	sqlite3_int64 id;
	char all[256], run[256];

	if (store_begin(hv, err) != 0)
		return -1;
	id = find_switch(hv, name, &sw, err);
	if (id == 0)
		hv_fail(err, HV_ENOENT, "no virtual switch named '%s'", name);
	if (id <= 0)
		goto fail;
	if (switch_users(hv, id, all, sizeof all, run, sizeof run, err) != 0)
		goto fail;
	if (run[0]) {
		hv_fail(err, HV_EBUSY, "switch '%s' is in use by running VM %s; shut it down and remove its network adapter first (hv vm nic remove VM SLOT)",
			sw.name, run);
		goto fail;
	}
	if (all[0]) {
		hv_fail(err, HV_EBUSY, "switch '%s' is used by VM %s; remove their network adapters first (hv vm nic remove VM SLOT)",
			sw.name, all);
		goto fail;
	}
	st = store_prepare(hv, "DELETE FROM switches WHERE id = ?", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(hv, err, "deleting the switch");
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	/* the host's network first: the NIC gets its addresses back */
	if (net_link_get(sw.bridge, &l, NULL) == 0 && strcmp(l.kind, "bridge") == 0) {
		if (strcmp(sw.type, "external") == 0 && net_uplink_detach(sw.nic, sw.bridge, err) != 0)
			goto fail;
		if (net_link_delete(sw.bridge, err) != 0)
			goto fail;
	}
	hv_event_add(hv, sw.name, "switch deleted");
	return store_commit(hv, err);
fail:
	store_rollback(hv);
	return -1;
}

int
hv_switch_ensure(struct hv_ctx *hv, const char *name, struct hv_err *err)
{
	struct hv_switch sw;

	if (hv_switch_get(hv, name, &sw, err) != 0)
		return -1;
	if (strcmp(sw.state, "up") == 0)
		return 0;
	if (strcmp(sw.state, "down") == 0)
		return net_link_up(sw.bridge, err);
	if (net_link_exists(sw.bridge))
		return hv_fail(err, HV_EEXIST, "switch '%s': %s exists but is not a bridge", sw.name, sw.bridge);
	if (bridge_up(&sw, err) != 0)
		return -1;
	hv_event_add(hv, sw.name, "bridge %s made again", sw.bridge);
	return 0;
}

int
hv_switch_capacity(const char *home, const char *name, uint64_t *bits,
		   struct hv_err *err)
{
	char path[HV_PATH_MAX + 16];
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int rc;

	*bits = 0;
	snprintf(path, sizeof path, "%s/hv.db", home);
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
	    sqlite3_busy_timeout(db, 5000) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "SELECT type, nic, bandwidth FROM switches WHERE name = ?", -1, &st,
			       NULL) != SQLITE_OK) {
		rc = hv_fail(err, HV_EIO, "%s: reading switch %s: %s", path, name,
			     db ? sqlite3_errmsg(db) : "out of memory");
		goto out;
	}
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*bits = capacity_of((const char *)sqlite3_column_text(st, 0),
				    (const char *)sqlite3_column_text(st, 1),
				    (uint64_t)sqlite3_column_int64(st, 2));
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = hv_fail(err, HV_ENOENT, "no virtual switch named '%s'", name);
	} else {
		rc = hv_fail(err, HV_EIO, "%s: reading switch %s: %s", path, name, sqlite3_errmsg(db));
	}
out:
	sqlite3_finalize(st);
	sqlite3_close(db);
	return rc;
}

/* --- network adapters ------------------------------------------------------ */

/* the VM, which must be off */
static int
nic_vm(struct hv_ctx *hv, const char *name, struct hv_vm *vm, struct hv_err *err)
{
	if (hv_vm_get(hv, name, vm, err) != 0)
		return -1;
	if (strcmp(vm->state, "Off") != 0)
		return hv_fail(err, HV_EBUSY, "VM '%s' is %s; turn it off to change its network adapters",
			       vm->name, vm->state);
	return 0;
}

static int
nic_slot(const struct hv_vm *vm, int slot, struct hv_err *err)
{
	if (slot < 0 || slot >= vm->nnics) {
		if (vm->nnics == 0)
			return hv_fail(err, HV_ENOENT, "VM '%s' has no network adapters", vm->name);
		return hv_fail(err, HV_ENOENT, "VM '%s' has no network adapter %d (slots 0..%d)",
			       vm->name, slot, vm->nnics - 1);
	}
	return 0;
}

static bool
mac_taken(struct hv_ctx *hv, const struct hv_vm *vm, const char *mac)
{
	sqlite3_stmt *st;
	bool taken;

	for (int i = 0; i < vm->nnics; i++)
		if (strcasecmp(vm->nics[i].mac, mac) == 0)
			return true;
	st = store_prepare(hv, "SELECT 1 FROM nics WHERE mac = ?", NULL);
	if (st == NULL)
		return false;
	sqlite3_bind_text(st, 1, mac, -1, SQLITE_TRANSIENT);
	taken = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return taken;
}

/* a MAC for the adapter: a new random one, or the one given, lower case */
static int
nic_mac(struct hv_ctx *hv, const struct hv_vm *vm, char mac[18], struct hv_err *err)
{
	if (mac[0] != '\0') {
		for (char *p = mac; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		return hv_mac_valid(mac, err) ? 0 : -1;
	}
	for (int tries = 0; tries < 64; tries++) {
		hv_mac_random(mac);
		if (!mac_taken(hv, vm, mac))
			return 0;
	}
	return hv_fail(err, HV_EINTERNAL, "could not find an unused MAC address");
}

static int
nic_switch(struct hv_ctx *hv, const struct hv_nic *nic, struct hv_err *err)
{
	if (nic->switch_name[0] == '\0')
		return hv_fail(err, HV_EUSAGE, "a network adapter connects to a virtual switch (--switch NAME)");
	if (find_switch(hv, nic->switch_name, NULL, err) <= 0)
		return hv_fail(err, HV_ENOENT, "no virtual switch named '%s' (create it first: hv switch create)",
			       nic->switch_name);
	return 0;
}

int
hv_vm_nic_add(struct hv_ctx *hv, const char *name, struct hv_nic *nic,
	      struct hv_err *err)
{
	struct hv_vm *vm = malloc(sizeof *vm);
	int slot = -1;

	if (vm == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (nic_vm(hv, name, vm, err) != 0 || nic_switch(hv, nic, err) != 0)
		goto out;
	if (vm->nnics == HV_MAX_NICS) {
		hv_fail(err, HV_EINVAL, "VM '%s' already has %d network adapters, the most it can have",
			vm->name, HV_MAX_NICS);
		goto out;
	}
	if (nic_mac(hv, vm, nic->mac, err) != 0)
		goto out;
	vm->nics[vm->nnics++] = *nic;
	if (hv_vm_update(hv, vm->name, vm, err) != 0)
		goto out;
	slot = vm->nnics - 1;
	hv_event_add(hv, vm->name, "network adapter %d added (switch %s, MAC %s)", slot,
		     nic->switch_name, nic->mac);
out:
	free(vm);
	return slot;
}

int
hv_vm_nic_set(struct hv_ctx *hv, const char *name, int slot,
	      const struct hv_nic *nic, struct hv_err *err)
{
	struct hv_vm *vm = malloc(sizeof *vm);
	struct hv_nic n = *nic;
	int rc = -1;

	if (vm == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (nic_vm(hv, name, vm, err) != 0 || nic_slot(vm, slot, err) != 0 ||
	    nic_switch(hv, &n, err) != 0)
		goto out;
	if (n.mac[0] == '\0')
		memcpy(n.mac, vm->nics[slot].mac, sizeof n.mac);
	else if (nic_mac(hv, vm, n.mac, err) != 0)
		goto out;
	vm->nics[slot] = n;
	if (hv_vm_update(hv, vm->name, vm, err) != 0)
		goto out;
	hv_event_add(hv, vm->name, "network adapter %d changed (switch %s, MAC %s, VLAN %d)",
		     slot, n.switch_name, n.mac, n.vlan);
	rc = 0;
out:
	free(vm);
	return rc;
}

int
hv_vm_nic_remove(struct hv_ctx *hv, const char *name, int slot,
		 struct hv_err *err)
{
	struct hv_vm *vm = malloc(sizeof *vm);
	struct hv_nic was;
	int rc = -1;

	if (vm == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (nic_vm(hv, name, vm, err) != 0 || nic_slot(vm, slot, err) != 0)
		goto out;
	was = vm->nics[slot];
	memmove(&vm->nics[slot], &vm->nics[slot + 1],
		(size_t)(vm->nnics - slot - 1) * sizeof vm->nics[0]);
	vm->nnics--;
	if (hv_vm_update(hv, vm->name, vm, err) != 0)
		goto out;
	hv_event_add(hv, vm->name, "network adapter %d removed (was on switch %s, MAC %s)",
		     slot, was.switch_name, was.mac);
	rc = 0;
out:
	free(vm);
	return rc;
}
