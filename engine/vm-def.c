/*
 * vm-def.c - virtual machine definitions in the inventory.
 *
 * A definition is validated as a whole (hv_vm_validate) before any
 * write, and every write is one BEGIN IMMEDIATE transaction, so a failed
 * command never leaves half a VM behind.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/hv-int.h"

void
hv_vm_init(const struct hv_ctx *hv, struct hv_vm *vm)
{
	const struct hv_config *c = &hv->cfg;

	memset(vm, 0, sizeof *vm);
	vm->generation = c->def_generation;
	vm->vcpus = c->def_vcpus;
	vm->memory = c->def_memory;
	vm->dm.enabled = c->def_dynamic_memory;
	vm->dm.minimum = c->def_min_memory;
	vm->dm.maximum = c->def_max_memory;
	vm->dm.buffer = c->def_buffer;
	vm->dm.priority = c->def_priority;
	snprintf(vm->state, sizeof vm->state, "Off");
}

static int
check_mem(const char *what, uint64_t v, struct hv_err *err)
{
	char s[32];

	hv_format_size(v, s, sizeof s);
	if (v % HV_MEM_ALIGN != 0)
		return hv_fail(err, HV_EUSAGE, "%s %s is not a multiple of 2M", what, s);
	if (v < HV_MEM_MIN)
		return hv_fail(err, HV_EUSAGE, "%s %s is below the 32M minimum", what, s);
	if (v > HV_MEM_MAX)
		return hv_fail(err, HV_EUSAGE, "%s %s is above the 12T maximum", what, s);
	return 0;
}

int
hv_boot_order_check(const char *s, struct hv_err *err)
{
	static const char *const kinds[] = { "dvd", "disk", "net" };
	bool seen[3] = { false };
	const char *p = s;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		int k;

		for (k = 0; k < 3; k++)
			if (n == strlen(kinds[k]) && strncmp(p, kinds[k], n) == 0)
				break;
		if (k == 3)
			return hv_fail(err, HV_EUSAGE, "boot order '%s': '%.*s' is none of dvd, disk, net",
				       s, (int)n, p);
		if (seen[k])
			return hv_fail(err, HV_EUSAGE, "boot order '%s': %s is there twice", s, kinds[k]);
		seen[k] = true;
		p += n;
		if (*p == ',' && *++p == '\0')
			return hv_fail(err, HV_EUSAGE, "boot order '%s' ends with a comma", s);
	}
	return 0;
}

int
hv_vm_validate(const struct hv_vm *vm, struct hv_err *err)
{
	char a[32], b[32];

	if (!hv_name_valid(vm->name, err))
		return -1;
	if (vm->generation != 1 && vm->generation != 2)
		return hv_fail(err, HV_EUSAGE, "generation %d: must be 1 or 2", vm->generation);
	if (vm->vcpus < 1 || vm->vcpus > HV_VCPUS_MAX)
		return hv_fail(err, HV_EUSAGE, "vcpus %d: must be 1..%d", vm->vcpus, HV_VCPUS_MAX);
	if (check_mem("startup memory", vm->memory, err) != 0)
		return -1;
	if (vm->dm.buffer < 5 || vm->dm.buffer > 2000)
		return hv_fail(err, HV_EUSAGE, "memory buffer %d%%: must be 5..2000", vm->dm.buffer);
	if (vm->dm.priority < 0 || vm->dm.priority > 100)
		return hv_fail(err, HV_EUSAGE, "memory priority %d: must be 0..100", vm->dm.priority);
	if (vm->dm.enabled) {
		if (check_mem("minimum memory", vm->dm.minimum, err) != 0 ||
		    check_mem("maximum memory", vm->dm.maximum, err) != 0)
			return -1;
		if (vm->dm.minimum > vm->memory) {
			hv_format_size(vm->dm.minimum, a, sizeof a);
			hv_format_size(vm->memory, b, sizeof b);
			return hv_fail(err, HV_EUSAGE, "minimum memory %s is above startup memory %s", a, b);
		}
		if (vm->memory > vm->dm.maximum) {
			hv_format_size(vm->memory, a, sizeof a);
			hv_format_size(vm->dm.maximum, b, sizeof b);
			return hv_fail(err, HV_EUSAGE, "startup memory %s is above maximum memory %s", a, b);
		}
	}
	if (vm->generation == 1 && (vm->kernel[0] || vm->initrd[0] || vm->cmdline[0]))
		return hv_fail(err, HV_EUSAGE, "kernel, initrd and cmdline are for generation 2; generation 1 boots its firmware from the first disk");
	if (hv_boot_order_check(vm->boot_order, err) != 0)
		return -1;
	if (vm->generation == 2 && vm->boot_order[0])
		return hv_fail(err, HV_EUSAGE, "a boot order is for generation 1 (SeaBIOS); generation 2 boots its kernel directly");
	if (vm->generation == 2 && vm->firmware[0])
		return hv_fail(err, HV_EUSAGE, "firmware is for generation 1; generation 2 boots a kernel directly");
	if (vm->initrd[0] && !vm->kernel[0])
		return hv_fail(err, HV_EUSAGE, "an initrd needs a kernel");
	if (vm->ndisks < 0 || vm->ndisks > HV_MAX_DISKS)
		return hv_fail(err, HV_EUSAGE, "at most %d disks", HV_MAX_DISKS);
	if (vm->nnics < 0 || vm->nnics > HV_MAX_NICS)
		return hv_fail(err, HV_EUSAGE, "at most %d network adapters", HV_MAX_NICS);
	if (vm->ndvds < 0 || vm->ndvds > HV_MAX_DVDS)
		return hv_fail(err, HV_EUSAGE, "at most %d DVD drives", HV_MAX_DVDS);
	for (int i = 0; i < vm->ndisks; i++)
		for (int j = 0; j < i; j++)
			if (strcmp(vm->disks[i], vm->disks[j]) == 0)
				return hv_fail(err, HV_EUSAGE, "disk %s is listed twice", vm->disks[i]);
	for (int i = 0; i < vm->ndisks; i++) {
		const struct hv_disk_qos *q = &vm->disk_qos[i];

		if (q->max_iops && q->min_iops > q->max_iops)
			return hv_fail(err, HV_EUSAGE, "disk %s: minimum IOPS %u is above maximum IOPS %u",
				       vm->disks[i], q->min_iops, q->max_iops);
	}
	for (int i = 0; i < vm->nnics; i++) {
		if (hv_nic_validate(&vm->nics[i], err) != 0) {
			char why[sizeof err->msg];

			if (err == NULL)
				return -1;
			snprintf(why, sizeof why, "%s", err->msg);
			return hv_fail(err, err->code, "network adapter %d: %.400s", i, why);
		}
		for (int j = 0; j < i; j++)
			if (strcasecmp(vm->nics[i].mac, vm->nics[j].mac) == 0)
				return hv_fail(err, HV_EUSAGE, "network adapters %d and %d have the same MAC address %s",
					       j, i, vm->nics[i].mac);
	}
	return 0;
}

/* --- reading ----------------------------------------------------------- */

#define VM_COLS "id, uuid, name, generation, vcpus, memory, dm_enabled, " \
	"dm_minimum, dm_maximum, dm_buffer, dm_priority, kernel, initrd, " \
	"cmdline, firmware, notes, state, created, pid, started, last_exit, boot_order"

static void
col_text(sqlite3_stmt *st, int i, char *out, size_t len)
{
	const unsigned char *s = sqlite3_column_text(st, i);

	snprintf(out, len, "%s", s ? (const char *)s : "");
}

static void
row_to_vm(sqlite3_stmt *st, struct hv_vm *vm)
{
	memset(vm, 0, sizeof *vm);
	col_text(st, 1, vm->uuid, sizeof vm->uuid);
	col_text(st, 2, vm->name, sizeof vm->name);
	vm->generation = sqlite3_column_int(st, 3);
	vm->vcpus = sqlite3_column_int(st, 4);
	vm->memory = (uint64_t)sqlite3_column_int64(st, 5);
	vm->dm.enabled = sqlite3_column_int(st, 6) != 0;
	vm->dm.minimum = (uint64_t)sqlite3_column_int64(st, 7);
	vm->dm.maximum = (uint64_t)sqlite3_column_int64(st, 8);
	vm->dm.buffer = sqlite3_column_int(st, 9);
	vm->dm.priority = sqlite3_column_int(st, 10);
	col_text(st, 11, vm->kernel, sizeof vm->kernel);
	col_text(st, 12, vm->initrd, sizeof vm->initrd);
	col_text(st, 13, vm->cmdline, sizeof vm->cmdline);
	col_text(st, 14, vm->firmware, sizeof vm->firmware);
	col_text(st, 15, vm->notes, sizeof vm->notes);
	col_text(st, 16, vm->state, sizeof vm->state);
	vm->created = sqlite3_column_int64(st, 17);
	vm->pid = sqlite3_column_int(st, 18);
	vm->started = sqlite3_column_int64(st, 19);
	col_text(st, 20, vm->last_exit, sizeof vm->last_exit);
	col_text(st, 21, vm->boot_order, sizeof vm->boot_order);
}

/* a NIC's ACL rules in one column: "deny,in,remote=10.0.0.0/24;allow,..." */
#define ACLS_TEXT	(HV_MAX_ACLS * 160)

static void
acls_to_text(const struct hv_nic *n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; i < n->nacls && used < len; i++) {
		char rule[160];

		hv_acl_format(&n->acls[i], rule, sizeof rule);
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ";" : "", rule);
	}
}

/* the inventory was checked on the way in: a rule that no longer parses
   (written by a newer hv) is left out rather than failing the VM */
static void
text_to_acls(const char *text, struct hv_nic *n)
{
	char buf[ACLS_TEXT], *tok, *save = NULL;

	snprintf(buf, sizeof buf, "%s", text);
	n->nacls = 0;
	for (tok = strtok_r(buf, ";", &save); tok && n->nacls < HV_MAX_ACLS;
	     tok = strtok_r(NULL, ";", &save))
		if (hv_acl_parse(tok, &n->acls[n->nacls], NULL) == 0)
			n->nacls++;
}

/* the DVD drives of VM row `id`, by slot */
static int
load_dvds(struct hv_ctx *hv, sqlite3_int64 id, struct hv_vm *vm,
	  struct hv_err *err)
{
	sqlite3_stmt *st;

	st = store_prepare(hv, "SELECT iso FROM dvd_drives WHERE vm_id = ? ORDER BY slot", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW && vm->ndvds < HV_MAX_DVDS)
		col_text(st, 0, vm->dvds[vm->ndvds++], HV_PATH_MAX);
	sqlite3_finalize(st);
	return 0;
}

/* disks, NICs and DVD drives of VM row `id` */
static int
load_refs(struct hv_ctx *hv, sqlite3_int64 id, struct hv_vm *vm,
	  struct hv_err *err)
{
	sqlite3_stmt *st;

	st = store_prepare(hv, "SELECT path, max_iops, min_iops, max_bw FROM disks "
			   "WHERE vm_id = ? ORDER BY slot", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW && vm->ndisks < HV_MAX_DISKS) {
		struct hv_disk_qos *q = &vm->disk_qos[vm->ndisks];

		col_text(st, 0, vm->disks[vm->ndisks++], HV_PATH_MAX);
		q->max_iops = (uint32_t)sqlite3_column_int64(st, 1);
		q->min_iops = (uint32_t)sqlite3_column_int64(st, 2);
		q->max_bw = (uint64_t)sqlite3_column_int64(st, 3);
	}
	sqlite3_finalize(st);

	st = store_prepare(hv, "SELECT s.name, n.mac, n.vlan, n.max_bw, n.min_bw, "
			   "n.dhcp_guard, n.router_guard, n.mac_guard, n.acls FROM nics n "
			   "LEFT JOIN switches s ON s.id = n.switch_id "
			   "WHERE n.vm_id = ? ORDER BY n.slot", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	while (sqlite3_step(st) == SQLITE_ROW && vm->nnics < HV_MAX_NICS) {
		struct hv_nic *n = &vm->nics[vm->nnics++];
		char acls[ACLS_TEXT];

		col_text(st, 0, n->switch_name, sizeof n->switch_name);
		col_text(st, 1, n->mac, sizeof n->mac);
		n->vlan = sqlite3_column_int(st, 2);
		n->max_bw = (uint64_t)sqlite3_column_int64(st, 3);
		n->min_bw = (uint64_t)sqlite3_column_int64(st, 4);
		n->dhcp_guard = sqlite3_column_int(st, 5) != 0;
		n->router_guard = sqlite3_column_int(st, 6) != 0;
		n->mac_guard = sqlite3_column_int(st, 7) != 0;
		col_text(st, 8, acls, sizeof acls);
		text_to_acls(acls, n);
	}
	sqlite3_finalize(st);
	return load_dvds(hv, id, vm, err);
}

/* find a VM by name or UUID; returns its row id, 0 if absent, -1 on error */
static sqlite3_int64
find_vm(struct hv_ctx *hv, const char *key, struct hv_vm *vm,
	struct hv_err *err)
{
	sqlite3_stmt *st;
	sqlite3_int64 id = 0;

	st = store_prepare(hv, "SELECT " VM_COLS " FROM vms WHERE name = ?1 OR uuid = lower(?1)", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	switch (sqlite3_step(st)) {
	case SQLITE_ROW:
		id = sqlite3_column_int64(st, 0);
		if (vm != NULL)
			row_to_vm(st, vm);
		break;
	case SQLITE_DONE:
		break;
	default:
		store_fail(hv, err, "looking up a VM");
		id = -1;
	}
	sqlite3_finalize(st);
	if (id > 0 && vm != NULL && load_refs(hv, id, vm, err) != 0)
		return -1;
	if (id > 0 && vm != NULL)
		lifecycle_refresh(hv, vm);
	return id;
}

int
hv_vm_get(struct hv_ctx *hv, const char *key, struct hv_vm *vm,
	  struct hv_err *err)
{
	sqlite3_int64 id = find_vm(hv, key, vm, err);

	if (id < 0)
		return -1;
	if (id == 0)
		return hv_fail(err, HV_ENOENT, "no VM named '%s'", key);
	return 0;
}

int
hv_vm_list(struct hv_ctx *hv, struct hv_vm **out, size_t *n,
	   struct hv_err *err)
{
	sqlite3_stmt *st;
	struct hv_vm *vms = NULL;
	sqlite3_int64 *ids = NULL;
	size_t cap = 0, cnt = 0;
	int rc = -1;

	*out = NULL;
	*n = 0;
	/* one read transaction: the list is a consistent snapshot */
	if (sqlite3_exec(hv->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK)
		return store_fail(hv, err, "BEGIN");
	st = store_prepare(hv, "SELECT " VM_COLS " FROM vms ORDER BY name", err);
	if (st == NULL)
		goto out;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			void *a = realloc(vms, ncap * sizeof *vms);

			if (a == NULL)
				goto oom;
			vms = a;
			a = realloc(ids, ncap * sizeof *ids);
			if (a == NULL)
				goto oom;
			ids = a;
			cap = ncap;
		}
		ids[cnt] = sqlite3_column_int64(st, 0);
		row_to_vm(st, &vms[cnt++]);
	}
	sqlite3_finalize(st);
	st = NULL;
	for (size_t i = 0; i < cnt; i++) {
		if (load_refs(hv, ids[i], &vms[i], err) != 0)
			goto out;
		lifecycle_refresh(hv, &vms[i]);
	}
	/* a long-lived front end lists often: collect its ended workers */
	lifecycle_reap(hv);
	*out = vms;
	*n = cnt;
	vms = NULL;
	rc = 0;
	goto out;
oom:
	hv_fail(err, HV_EINTERNAL, "out of memory");
out:
	sqlite3_finalize(st);
	sqlite3_exec(hv->db, "COMMIT", NULL, NULL, NULL);
	free(vms);
	free(ids);
	return rc;
}

int
hv_vm_names(struct hv_ctx *hv, char ***names, size_t *n, struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, "SELECT name FROM vms ORDER BY name", err);
	char **v = NULL;
	size_t cap = 0;

	*names = NULL;
	*n = 0;
	if (st == NULL)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (*n == cap) {
			char **nv;

			cap = cap ? cap * 2 : 16;
			nv = realloc(v, cap * sizeof *v);
			if (nv == NULL)
				break;
			v = nv;
		}
		v[*n] = strdup((const char *)sqlite3_column_text(st, 0));
		if (v[*n] != NULL)
			(*n)++;
	}
	sqlite3_finalize(st);
	*names = v;
	return 0;
}

/* --- writing ----------------------------------------------------------- */

static int
bind_vm(sqlite3_stmt *st, const struct hv_vm *vm)
{
	sqlite3_bind_text(st, 1, vm->uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, vm->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int(st, 3, vm->generation);
	sqlite3_bind_int(st, 4, vm->vcpus);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)vm->memory);
	sqlite3_bind_int(st, 6, vm->dm.enabled);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)vm->dm.minimum);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)vm->dm.maximum);
	sqlite3_bind_int(st, 9, vm->dm.buffer);
	sqlite3_bind_int(st, 10, vm->dm.priority);
	sqlite3_bind_text(st, 11, vm->kernel, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 12, vm->initrd, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 13, vm->cmdline, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 14, vm->firmware, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 15, vm->notes, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 16, vm->created);
	sqlite3_bind_text(st, 17, vm->boot_order, -1, SQLITE_TRANSIENT);
	return 0;
}

/* vm->dvds as VM row `id`'s drives, replacing what it had */
static int
store_dvds(struct hv_ctx *hv, sqlite3_int64 id, const struct hv_vm *vm,
	   struct hv_err *err)
{
	sqlite3_stmt *st;
	int rc;

	st = store_prepare(hv, "DELETE FROM dvd_drives WHERE vm_id = ?", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return store_fail(hv, err, "removing DVD drives");
	for (int i = 0; i < vm->ndvds; i++) {
		st = store_prepare(hv, "INSERT INTO dvd_drives (vm_id, slot, iso) VALUES (?, ?, ?)", err);
		if (st == NULL)
			return -1;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int(st, 2, i);
		sqlite3_bind_text(st, 3, vm->dvds[i], -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return store_fail(hv, err, "adding a DVD drive");
	}
	return 0;
}

/* attach vm->disks, vm->nics and vm->dvds to VM row `id`, replacing what
   it had */
static int
store_refs(struct hv_ctx *hv, sqlite3_int64 id, const struct hv_vm *vm,
	   struct hv_err *err)
{
	sqlite3_stmt *st;
	char uuid[HV_UUID_LEN];
	int rc = -1;

	st = store_prepare(hv, "UPDATE disks SET vm_id = NULL, slot = NULL WHERE vm_id = ?", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_step(st);
	sqlite3_finalize(st);

	for (int i = 0; i < vm->ndisks; i++) {
		sqlite3_int64 owner = 0;

		st = store_prepare(hv, "SELECT d.vm_id, v.name FROM disks d LEFT JOIN vms v "
				   "ON v.id = d.vm_id WHERE d.path = ?", err);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, vm->disks[i], -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW &&
		    (owner = sqlite3_column_int64(st, 0)) != 0) {
			hv_fail(err, HV_EBUSY, "disk %s is attached to VM '%s'",
				vm->disks[i], sqlite3_column_text(st, 1));
			sqlite3_finalize(st);
			return -1;
		}
		sqlite3_finalize(st);
		hv_uuid_new(uuid);
		st = store_prepare(hv, "INSERT INTO disks (uuid, path, vm_id, slot, created, "
				   "max_iops, min_iops, max_bw) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
				   "ON CONFLICT(path) DO UPDATE SET vm_id = excluded.vm_id, "
				   "slot = excluded.slot, max_iops = excluded.max_iops, "
				   "min_iops = excluded.min_iops, max_bw = excluded.max_bw", err);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, vm->disks[i], -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 3, id);
		sqlite3_bind_int(st, 4, i);
		sqlite3_bind_int64(st, 5, (sqlite3_int64)time(NULL));
		sqlite3_bind_int64(st, 6, vm->disk_qos[i].max_iops);
		sqlite3_bind_int64(st, 7, vm->disk_qos[i].min_iops);
		sqlite3_bind_int64(st, 8, (sqlite3_int64)vm->disk_qos[i].max_bw);
		rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_fail(hv, err, "attaching a disk");
		sqlite3_finalize(st);
		if (rc != 0)
			return -1;
	}

	st = store_prepare(hv, "DELETE FROM nics WHERE vm_id = ?", err);
	if (st == NULL)
		return -1;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_step(st);
	sqlite3_finalize(st);
	for (int i = 0; i < vm->nnics; i++) {
		const struct hv_nic *n = &vm->nics[i];
		char acls[ACLS_TEXT], mac[sizeof n->mac];

		hv_uuid_new(uuid);
		acls_to_text(n, acls, sizeof acls);
		/* one spelling, so UNIQUE(mac) sees the same address */
		for (size_t k = 0; k < sizeof mac; k++)
			mac[k] = (char)tolower((unsigned char)n->mac[k]);
		st = store_prepare(hv, "INSERT INTO nics (uuid, vm_id, slot, switch_id, mac, vlan, "
				   "max_bw, min_bw, dhcp_guard, router_guard, mac_guard, acls) "
				   "VALUES (?, ?, ?, (SELECT id FROM switches WHERE name = ?), ?, ?, "
				   "?, ?, ?, ?, ?, ?)", err);
		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, uuid, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 2, id);
		sqlite3_bind_int(st, 3, i);
		sqlite3_bind_text(st, 4, n->switch_name, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 5, mac, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int(st, 6, n->vlan);
		sqlite3_bind_int64(st, 7, (sqlite3_int64)n->max_bw);
		sqlite3_bind_int64(st, 8, (sqlite3_int64)n->min_bw);
		sqlite3_bind_int(st, 9, n->dhcp_guard);
		sqlite3_bind_int(st, 10, n->router_guard);
		sqlite3_bind_int(st, 11, n->mac_guard);
		sqlite3_bind_text(st, 12, acls, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		sqlite3_finalize(st);
		if (rc != SQLITE_DONE)
			return hv_fail(err, HV_EEXIST, "network adapter MAC %s is already in use", n->mac);
	}
	return store_dvds(hv, id, vm, err);
}

static int
resolve_file(const char *what, char *path, struct hv_err *err)
{
	char abs[PATH_MAX];

	if (path[0] == '\0')
		return 0;
	if (realpath(path, abs) == NULL)
		return hv_fail(err, HV_ENOENT, "%s %s: %s", what, path, strerror(errno));
	if (strlen(abs) >= HV_PATH_MAX)
		return hv_fail(err, HV_EINVAL, "%s %s: path too long", what, path);
	memcpy(path, abs, strlen(abs) + 1);
	return 0;
}

/* every file must exist; store them as absolute paths */
static int
resolve_paths(struct hv_vm *vm, struct hv_err *err)
{
	char abs[PATH_MAX];
	struct stat sb;

	if (resolve_file("kernel", vm->kernel, err) != 0 ||
	    resolve_file("initrd", vm->initrd, err) != 0 ||
	    resolve_file("firmware", vm->firmware, err) != 0)
		return -1;

	for (int i = 0; i < vm->ndisks; i++) {
		if (realpath(vm->disks[i], abs) == NULL)
			return hv_fail(err, HV_ENOENT, "disk %s: %s", vm->disks[i], strerror(errno));
		if (stat(abs, &sb) != 0 || !(S_ISREG(sb.st_mode) || S_ISBLK(sb.st_mode)))
			return hv_fail(err, HV_EINVAL, "disk %s: not a file or block device", vm->disks[i]);
		if (strlen(abs) >= HV_PATH_MAX)
			return hv_fail(err, HV_EINVAL, "disk %s: path too long", vm->disks[i]);
		memcpy(vm->disks[i], abs, strlen(abs) + 1);
	}
	return 0;
}

/* every ISO in a DVD drive must be one; stored as absolute paths. old:
   the definition being replaced, whose ISOs are not checked again (one
   deleted since must not block other changes; starting will tell) */
static int
resolve_dvds(struct hv_vm *vm, const struct hv_vm *old, struct hv_err *err)
{
	char abs[HV_PATH_MAX];
	struct hv_err e;

	for (int i = 0; i < vm->ndvds; i++) {
		bool known = false;

		for (int k = 0; old != NULL && k < old->ndvds; k++)
			known |= strcmp(vm->dvds[i], old->dvds[k]) == 0;
		if (vm->dvds[i][0] == '\0' || known)
			continue;
		if (hv_iso_check(vm->dvds[i], abs, &e) != 0)
			return hv_fail(err, e.code, "DVD drive %d: %.480s", i, e.msg);
		memcpy(vm->dvds[i], abs, strlen(abs) + 1);
	}
	return 0;
}

/* switches named by NICs must exist */
static int
check_switches(struct hv_ctx *hv, const struct hv_vm *vm, struct hv_err *err)
{
	for (int i = 0; i < vm->nnics; i++) {
		sqlite3_stmt *st = store_prepare(hv, "SELECT 1 FROM switches WHERE name = ?", err);
		int found;

		if (st == NULL)
			return -1;
		sqlite3_bind_text(st, 1, vm->nics[i].switch_name, -1, SQLITE_TRANSIENT);
		found = sqlite3_step(st) == SQLITE_ROW;
		sqlite3_finalize(st);
		if (!found)
			return hv_fail(err, HV_ENOENT, "no virtual switch named '%s' (create it first)",
				       vm->nics[i].switch_name);
	}
	return 0;
}

/* a name or UUID already taken? */
static int
check_unique(struct hv_ctx *hv, const struct hv_vm *vm, sqlite3_int64 self,
	     struct hv_err *err)
{
	sqlite3_stmt *st = store_prepare(hv, "SELECT id, name, uuid FROM vms WHERE "
					 "(name = ? OR uuid = ?) AND id != ?", err);
	int rc = 0;

	if (st == NULL)
		return -1;
	sqlite3_bind_text(st, 1, vm->name, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, vm->uuid, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(st, 3, self);
	if (sqlite3_step(st) == SQLITE_ROW) {
		if (strcmp((const char *)sqlite3_column_text(st, 1), vm->name) == 0)
			rc = hv_fail(err, HV_EEXIST, "a VM named '%s' already exists", vm->name);
		else
			rc = hv_fail(err, HV_EEXIST, "VM '%s' already has UUID %s",
				     sqlite3_column_text(st, 1), vm->uuid);
	}
	sqlite3_finalize(st);
	return rc;
}

int
hv_vm_create(struct hv_ctx *hv, struct hv_vm *vm, struct hv_err *err)
{
	sqlite3_stmt *st;
	sqlite3_int64 id;

	if (vm->uuid[0] == '\0')
		hv_uuid_new(vm->uuid);
	else if (!hv_uuid_like(vm->uuid))
		return hv_fail(err, HV_EUSAGE, "'%s' is not a UUID", vm->uuid);
	if (vm->created == 0)
		vm->created = (int64_t)time(NULL);
	snprintf(vm->state, sizeof vm->state, "Off");
	if (hv_vm_validate(vm, err) != 0 || resolve_paths(vm, err) != 0 ||
	    resolve_dvds(vm, NULL, err) != 0)
		return -1;
	if (store_begin(hv, err) != 0)
		return -1;
	if (check_unique(hv, vm, 0, err) != 0 || check_switches(hv, vm, err) != 0)
		goto fail;
	st = store_prepare(hv, "INSERT INTO vms (uuid, name, generation, vcpus, memory, "
			   "dm_enabled, dm_minimum, dm_maximum, dm_buffer, dm_priority, kernel, "
			   "initrd, cmdline, firmware, notes, created, boot_order) VALUES "
			   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", err);
	if (st == NULL)
		goto fail;
	bind_vm(st, vm);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(hv, err, "creating the VM");
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	id = sqlite3_last_insert_rowid(hv->db);
	if (store_refs(hv, id, vm, err) != 0)
		goto fail;
	hv_event_add(hv, vm->name, "created (generation %d)", vm->generation);
	return store_commit(hv, err);
fail:
	store_rollback(hv);
	return -1;
}

int
hv_vm_update(struct hv_ctx *hv, const char *key, const struct hv_vm *in,
	     struct hv_err *err)
{
	struct hv_vm old, vm = *in;
	sqlite3_stmt *st;
	sqlite3_int64 id;

	if (hv_vm_validate(&vm, err) != 0 || resolve_paths(&vm, err) != 0)
		return -1;
	if (store_begin(hv, err) != 0)
		return -1;
	id = find_vm(hv, key, &old, err);
	if (id == 0)
		hv_fail(err, HV_ENOENT, "no VM named '%s'", key);
	if (id <= 0)
		goto fail;
	if (strcmp(old.state, "Off") != 0) {
		hv_fail(err, HV_EBUSY, "VM '%s' is %s; turn it off first", old.name, old.state);
		goto fail;
	}
	if (vm.generation != old.generation) {
		hv_fail(err, HV_EUSAGE, "the generation of a VM cannot change after creation");
		goto fail;
	}
	snprintf(vm.uuid, sizeof vm.uuid, "%s", old.uuid);
	vm.created = old.created;
	if (resolve_dvds(&vm, &old, err) != 0 || check_unique(hv, &vm, id, err) != 0 ||
	    check_switches(hv, &vm, err) != 0)
		goto fail;
	st = store_prepare(hv, "UPDATE vms SET uuid = ?1, name = ?2, generation = ?3, vcpus = ?4, "
			   "memory = ?5, dm_enabled = ?6, dm_minimum = ?7, dm_maximum = ?8, "
			   "dm_buffer = ?9, dm_priority = ?10, kernel = ?11, initrd = ?12, "
			   "cmdline = ?13, firmware = ?14, notes = ?15, created = ?16, boot_order = ?17 "
			   "WHERE id = ?18", err);
	if (st == NULL)
		goto fail;
	bind_vm(st, &vm);
	sqlite3_bind_int64(st, 18, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(hv, err, "updating the VM");
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	if (store_refs(hv, id, &vm, err) != 0)
		goto fail;
	if (strcmp(old.name, vm.name) != 0)
		hv_event_add(hv, vm.name, "renamed from '%s'", old.name);
	else
		hv_event_add(hv, vm.name, "settings changed");
	return store_commit(hv, err);
fail:
	store_rollback(hv);
	return -1;
}

int
hv_vm_delete(struct hv_ctx *hv, const char *key, struct hv_err *err)
{
	struct hv_vm vm;
	sqlite3_stmt *st;
	sqlite3_int64 id;

	if (store_begin(hv, err) != 0)
		return -1;
	id = find_vm(hv, key, &vm, err);
	if (id == 0)
		hv_fail(err, HV_ENOENT, "no VM named '%s'", key);
	if (id <= 0)
		goto fail;
	if (strcmp(vm.state, "Off") != 0) {
		hv_fail(err, HV_EBUSY, "VM '%s' is %s; turn it off first", vm.name, vm.state);
		goto fail;
	}
	/* disks stay on disk and in the inventory, detached (as Hyper-V does) */
	st = store_prepare(hv, "DELETE FROM vms WHERE id = ?", err);
	if (st == NULL)
		goto fail;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) != SQLITE_DONE) {
		store_fail(hv, err, "deleting the VM");
		sqlite3_finalize(st);
		goto fail;
	}
	sqlite3_finalize(st);
	hv_event_add(hv, vm.name, "deleted");
	return store_commit(hv, err);
fail:
	store_rollback(hv);
	return -1;
}
