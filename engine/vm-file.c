/*
 * vm-file.c - a VM definition as a libconfig file (vm export / import).
 *
 *	vm: {
 *	  name = "web1"; uuid = "..."; generation = 2; vcpus = 2;
 *	  memory = "1G";
 *	  dynamic_memory = { enabled = true; minimum = "512M"; ... };
 *	  boot = { kernel = "..."; initrd = ""; cmdline = ""; firmware = ""; order = ""; };
 *	  disks = ( "/var/lib/hv/disks/web1.vhdx",
 *		    { path = "/var/lib/hv/disks/db.vhdx"; max_iops = 500;
 *		      min_iops = 100; max_bandwidth = "100M"; } );
 *	  nics = ( { switch = "lan"; mac = "52:54:00:12:34:56"; vlan = 0;
 *		     max_bandwidth = "100M"; min_bandwidth = "0";
 *		     dhcp_guard = true; router_guard = false; mac_guard = false;
 *		     acls = ( "deny,in,remote=10.0.0.0/24" ); } );
 *	  dvds = ( "/srv/iso/debian-12.iso", "" );
 *	};
 *
 * A disk with storage QoS is a group (max_bandwidth in bytes/s, a size);
 * one without stays a plain path. A DVD drive is the ISO it holds, as
 * is (not copied: on another host it must be there too), "" when empty.
 *
 * Sizes (and bandwidths, in bits/s) are written as exact strings ("1536M",
 * "100M") so the file is pleasant
 * to read and edit; import takes strings or plain byte counts. The file
 * is hostile input: every setting is type- and range-checked, and
 * errors name file:line.
 */
#include <errno.h>
#include <libgen.h>
#include <stdint.h>
#include <libconfig.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/hv-int.h"
#include "engine/vm/vmm.h"

static void
add_str(config_setting_t *g, const char *name, const char *v)
{
	config_setting_set_string(config_setting_add(g, name, CONFIG_TYPE_STRING), v);
}

static void
add_int(config_setting_t *g, const char *name, long long v)
{
	if (v >= INT32_MIN && v <= INT32_MAX)
		config_setting_set_int(config_setting_add(g, name, CONFIG_TYPE_INT), (int)v);
	else
		config_setting_set_int64(config_setting_add(g, name, CONFIG_TYPE_INT64), v);
}

static void
add_size(config_setting_t *g, const char *name, uint64_t v)
{
	char s[32];

	hv_format_size(v, s, sizeof s);
	add_str(g, name, s);
}

static void
add_bool(config_setting_t *g, const char *name, bool v)
{
	config_setting_set_bool(config_setting_add(g, name, CONFIG_TYPE_BOOL), v);
}

static void
add_disk(config_setting_t *l, const char *path, const struct hv_disk_qos *q)
{
	config_setting_t *s;

	if (q->max_iops == 0 && q->min_iops == 0 && q->max_bw == 0) {
		config_setting_set_string(config_setting_add(l, NULL, CONFIG_TYPE_STRING), path);
		return;
	}
	s = config_setting_add(l, NULL, CONFIG_TYPE_GROUP);
	add_str(s, "path", path);
	add_int(s, "max_iops", q->max_iops);
	add_int(s, "min_iops", q->min_iops);
	add_size(s, "max_bandwidth", q->max_bw);
}

static void
add_nic(config_setting_t *l, const struct hv_nic *n)
{
	config_setting_t *s = config_setting_add(l, NULL, CONFIG_TYPE_GROUP), *a;
	char bw[32], rule[160];

	add_str(s, "switch", n->switch_name);
	add_str(s, "mac", n->mac);
	add_int(s, "vlan", n->vlan);
	hv_format_bandwidth(n->max_bw, bw, sizeof bw);
	add_str(s, "max_bandwidth", bw);
	hv_format_bandwidth(n->min_bw, bw, sizeof bw);
	add_str(s, "min_bandwidth", bw);
	add_bool(s, "dhcp_guard", n->dhcp_guard);
	add_bool(s, "router_guard", n->router_guard);
	add_bool(s, "mac_guard", n->mac_guard);
	a = config_setting_add(s, "acls", CONFIG_TYPE_LIST);
	for (int i = 0; i < n->nacls; i++) {
		hv_acl_format(&n->acls[i], rule, sizeof rule);
		config_setting_set_string(config_setting_add(a, NULL, CONFIG_TYPE_STRING), rule);
	}
}

/* a definition (hv-int.h) */
int
vm_file_write(const struct hv_vm *vm, const char *path, struct hv_err *err)
{
	config_t c;
	config_setting_t *g, *s, *l;
	char tmp[HV_PATH_MAX + 32];
	int rc = -1;

	config_init(&c);
	g = config_setting_add(config_root_setting(&c), "vm", CONFIG_TYPE_GROUP);
	add_str(g, "name", vm->name);
	add_str(g, "uuid", vm->uuid);
	add_int(g, "generation", vm->generation);
	add_int(g, "vcpus", vm->vcpus);
	add_size(g, "memory", vm->memory);
	s = config_setting_add(g, "dynamic_memory", CONFIG_TYPE_GROUP);
	config_setting_set_bool(config_setting_add(s, "enabled", CONFIG_TYPE_BOOL), vm->dm.enabled);
	add_size(s, "minimum", vm->dm.minimum);
	add_size(s, "maximum", vm->dm.maximum);
	add_int(s, "buffer", vm->dm.buffer);
	add_int(s, "priority", vm->dm.priority);
	s = config_setting_add(g, "boot", CONFIG_TYPE_GROUP);
	add_str(s, "kernel", vm->kernel);
	add_str(s, "initrd", vm->initrd);
	add_str(s, "cmdline", vm->cmdline);
	add_str(s, "firmware", vm->firmware);
	add_str(s, "order", vm->boot_order);
	add_str(g, "notes", vm->notes);
	add_int(g, "created", vm->created);
	l = config_setting_add(g, "disks", CONFIG_TYPE_LIST);
	for (int i = 0; i < vm->ndisks; i++)
		add_disk(l, vm->disks[i], &vm->disk_qos[i]);
	l = config_setting_add(g, "nics", CONFIG_TYPE_LIST);
	for (int i = 0; i < vm->nnics; i++)
		add_nic(l, &vm->nics[i]);
	l = config_setting_add(g, "dvds", CONFIG_TYPE_LIST);
	for (int i = 0; i < vm->ndvds; i++)
		config_setting_set_string(config_setting_add(l, NULL, CONFIG_TYPE_STRING), vm->dvds[i]);
	/* write beside, then rename: a crash never leaves half a file */
	snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
	if (config_write_file(&c, tmp) != CONFIG_TRUE) {
		hv_fail(err, HV_EIO, "%s: cannot write: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (rename(tmp, path) != 0) {
		hv_fail(err, HV_EIO, "%s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	config_destroy(&c);
	return rc;
}

int
hv_vm_export(struct hv_ctx *hv, const char *key, const char *path,
	     struct hv_err *err)
{
	struct hv_vm vm;

	if (hv_vm_get(hv, key, &vm, err) != 0)
		return -1;
	return vm_file_write(&vm, path, err);
}

/* --- import ------------------------------------------------------------ */

struct reader {
	const char *file;
	struct hv_err *err;
};

static int
bad(struct reader *r, config_setting_t *s, const char *what)
{
	return hv_fail(r->err, HV_EINVAL, "%s:%d: %s: %s", r->file,
		       s ? config_setting_source_line(s) : 0,
		       s && config_setting_name(s) ? config_setting_name(s) : "vm", what);
}

static int
rd_str(struct reader *r, config_setting_t *g, const char *name, char *out,
       size_t len, bool required)
{
	config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return required ? hv_fail(r->err, HV_EINVAL, "%s:%d: missing '%s'",
					  r->file, config_setting_source_line(g), name) : 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING)
		return bad(r, s, "must be a string");
	if (strlen(config_setting_get_string(s)) >= len)
		return bad(r, s, "too long");
	snprintf(out, len, "%s", config_setting_get_string(s));
	return 0;
}

static int
rd_int(struct reader *r, config_setting_t *g, const char *name, long long *out,
       bool required)
{
	config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return required ? hv_fail(r->err, HV_EINVAL, "%s:%d: missing '%s'",
					  r->file, config_setting_source_line(g), name) : 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64)
		return bad(r, s, "must be a number");
	*out = config_setting_get_int64(s);
	return 0;
}

static int
rd_size(struct reader *r, config_setting_t *g, const char *name, uint64_t *out,
	bool required)
{
	config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return required ? hv_fail(r->err, HV_EINVAL, "%s:%d: missing '%s'",
					  r->file, config_setting_source_line(g), name) : 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		if (hv_parse_size(config_setting_get_string(s), out) != 0)
			return bad(r, s, "not a size (like \"512M\")");
		return 0;
	}
	if ((config_setting_type(s) == CONFIG_TYPE_INT ||
	     config_setting_type(s) == CONFIG_TYPE_INT64) &&
	    config_setting_get_int64(s) >= 0) {
		*out = (uint64_t)config_setting_get_int64(s);
		return 0;
	}
	return bad(r, s, "not a size (like \"512M\")");
}

static int
rd_bw(struct reader *r, config_setting_t *g, const char *name, uint64_t *out)
{
	config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) == CONFIG_TYPE_STRING &&
	    hv_parse_bandwidth(config_setting_get_string(s), out) == 0)
		return 0;
	if ((config_setting_type(s) == CONFIG_TYPE_INT ||
	     config_setting_type(s) == CONFIG_TYPE_INT64) &&
	    config_setting_get_int64(s) >= 0) {
		*out = (uint64_t)config_setting_get_int64(s);
		return 0;
	}
	return bad(r, s, "not a bandwidth in bits/s (like \"100M\")");
}

static int
rd_bool(struct reader *r, config_setting_t *g, const char *name, bool *out)
{
	config_setting_t *s = config_setting_get_member(g, name);

	if (s == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		return bad(r, s, "must be true or false");
	*out = config_setting_get_bool(s);
	return 0;
}

static int
rd_acls(struct reader *r, config_setting_t *g, struct hv_nic *n)
{
	config_setting_t *s = config_setting_get_member(g, "acls");
	struct hv_err e;

	if (s == NULL)
		return 0;
	if (!config_setting_is_list(s) && !config_setting_is_array(s))
		return bad(r, s, "must be a list ( \"allow,in,remote=...\", ... )");
	if (config_setting_length(s) > HV_MAX_ACLS)
		return bad(r, s, "too many ACL rules");
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e1 = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e1) != CONFIG_TYPE_STRING)
			return bad(r, s, "each ACL rule must be a string");
		if (hv_acl_parse(config_setting_get_string(e1), &n->acls[n->nacls], &e) != 0)
			return bad(r, s, e.msg);
		n->nacls++;
	}
	return 0;
}

static int
rd_nic(struct reader *r, config_setting_t *e, struct hv_nic *n)
{
	long long v = 0;

	if (rd_str(r, e, "switch", n->switch_name, sizeof n->switch_name, true) ||
	    rd_str(r, e, "mac", n->mac, sizeof n->mac, true) ||
	    rd_int(r, e, "vlan", &v, false))
		return -1;
	if (v < 0 || v > 4094)
		return bad(r, e, "vlan must be 0..4094");
	n->vlan = (int)v;
	if (rd_bw(r, e, "max_bandwidth", &n->max_bw) || rd_bw(r, e, "min_bandwidth", &n->min_bw) ||
	    rd_bool(r, e, "dhcp_guard", &n->dhcp_guard) ||
	    rd_bool(r, e, "router_guard", &n->router_guard) ||
	    rd_bool(r, e, "mac_guard", &n->mac_guard))
		return -1;
	return rd_acls(r, e, n);
}

/* a count of IOPS: 0..UINT32_MAX */
static int
rd_iops(struct reader *r, config_setting_t *g, const char *name, uint32_t *out)
{
	long long v = 0;

	if (rd_int(r, g, name, &v, false))
		return -1;
	if (v < 0 || v > UINT32_MAX)
		return bad(r, config_setting_get_member(g, name), "must be 0..4294967295");
	*out = (uint32_t)v;
	return 0;
}

/* one of `disks`: a path, or { path; max_iops; min_iops; max_bandwidth } */
static int
rd_disk(struct reader *r, config_setting_t *l, config_setting_t *e, char *path,
	struct hv_disk_qos *q)
{
	if (config_setting_type(e) == CONFIG_TYPE_STRING) {
		if (strlen(config_setting_get_string(e)) >= HV_PATH_MAX)
			return bad(r, l, "disk path too long");
		snprintf(path, HV_PATH_MAX, "%s", config_setting_get_string(e));
		return 0;
	}
	if (!config_setting_is_group(e))
		return bad(r, l, "each disk must be a path string or a group { path = ...; }");
	if (rd_str(r, e, "path", path, HV_PATH_MAX, true) ||
	    rd_iops(r, e, "max_iops", &q->max_iops) || rd_iops(r, e, "min_iops", &q->min_iops))
		return -1;
	return rd_size(r, e, "max_bandwidth", &q->max_bw, false);
}

/* `dvds`: ( "ISO", "" (an empty drive), ... ) */
static int
rd_dvds(struct reader *r, config_setting_t *g, struct hv_vm *vm)
{
	config_setting_t *s = config_setting_get_member(g, "dvds");

	if (s == NULL)
		return 0;
	if (!config_setting_is_list(s) && !config_setting_is_array(s))
		return bad(r, s, "must be a list ( \"ISO path\", \"\" (empty), ... )");
	if (config_setting_length(s) > HV_MAX_DVDS)
		return bad(r, s, "too many DVD drives");
	for (int i = 0; i < config_setting_length(s); i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return bad(r, s, "each DVD drive must be an ISO path string (\"\": empty)");
		if (strlen(config_setting_get_string(e)) >= HV_PATH_MAX)
			return bad(r, s, "ISO path too long");
		snprintf(vm->dvds[vm->ndvds++], HV_PATH_MAX, "%s", config_setting_get_string(e));
	}
	return 0;
}

static int
rd_group(struct reader *r, config_setting_t *g, const char *name,
	 config_setting_t **out)
{
	*out = config_setting_get_member(g, name);
	if (*out != NULL && config_setting_type(*out) != CONFIG_TYPE_GROUP)
		return bad(r, *out, "must be a group { ... }");
	return 0;
}

static int
rd_vm(struct reader *r, config_setting_t *g, struct hv_vm *vm)
{
	config_setting_t *s;
	long long v;

	if (rd_str(r, g, "name", vm->name, sizeof vm->name, true) ||
	    rd_str(r, g, "uuid", vm->uuid, sizeof vm->uuid, false))
		return -1;
	v = vm->generation;
	if (rd_int(r, g, "generation", &v, false))
		return -1;
	vm->generation = v < 0 || v > 9 ? -1 : (int)v;
	v = vm->vcpus;
	if (rd_int(r, g, "vcpus", &v, false))
		return -1;
	vm->vcpus = v < 0 || v > 100000 ? -1 : (int)v;
	if (rd_size(r, g, "memory", &vm->memory, false) ||
	    rd_str(r, g, "notes", vm->notes, sizeof vm->notes, false))
		return -1;
	v = vm->created;
	if (rd_int(r, g, "created", &v, false))
		return -1;
	vm->created = v;

	if (rd_group(r, g, "dynamic_memory", &s))
		return -1;
	if (s != NULL) {
		config_setting_t *e = config_setting_get_member(s, "enabled");

		if (e != NULL && config_setting_type(e) != CONFIG_TYPE_BOOL)
			return bad(r, e, "must be true or false");
		if (e != NULL)
			vm->dm.enabled = config_setting_get_bool(e);
		if (rd_size(r, s, "minimum", &vm->dm.minimum, false) ||
		    rd_size(r, s, "maximum", &vm->dm.maximum, false))
			return -1;
		v = vm->dm.buffer;
		if (rd_int(r, s, "buffer", &v, false))
			return -1;
		vm->dm.buffer = v < -1 || v > 100000 ? -1 : (int)v;
		v = vm->dm.priority;
		if (rd_int(r, s, "priority", &v, false))
			return -1;
		vm->dm.priority = v < -1 || v > 100000 ? -1 : (int)v;
	}
	if (rd_group(r, g, "boot", &s))
		return -1;
	if (s != NULL &&
	    (rd_str(r, s, "kernel", vm->kernel, sizeof vm->kernel, false) ||
	     rd_str(r, s, "initrd", vm->initrd, sizeof vm->initrd, false) ||
	     rd_str(r, s, "cmdline", vm->cmdline, sizeof vm->cmdline, false) ||
	     rd_str(r, s, "firmware", vm->firmware, sizeof vm->firmware, false) ||
	     rd_str(r, s, "order", vm->boot_order, sizeof vm->boot_order, false)))
		return -1;

	s = config_setting_get_member(g, "disks");
	if (s != NULL) {
		if (!config_setting_is_aggregate(s) || config_setting_is_group(s))
			return bad(r, s, "must be a list ( \"path\", ... )");
		if (config_setting_length(s) > HV_MAX_DISKS)
			return bad(r, s, "too many disks");
		for (int i = 0; i < config_setting_length(s); i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);

			if (rd_disk(r, s, e, vm->disks[vm->ndisks], &vm->disk_qos[vm->ndisks]) != 0)
				return -1;
			vm->ndisks++;
		}
	}
	s = config_setting_get_member(g, "nics");
	if (s != NULL) {
		if (!config_setting_is_list(s))
			return bad(r, s, "must be a list ( { ... }, ... )");
		if (config_setting_length(s) > HV_MAX_NICS)
			return bad(r, s, "too many network adapters");
		for (int i = 0; i < config_setting_length(s); i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			struct hv_nic *n = &vm->nics[vm->nnics++];

			if (!config_setting_is_group(e))
				return bad(r, s, "each network adapter must be a group");
			if (rd_nic(r, e, n) != 0)
				return -1;
		}
	}
	return rd_dvds(r, g, vm);
}

/* a relative path in a definition names a file beside it (an exported
   VM's folder moves, and its disks/ with it), not one in the cwd */
static int
rel_to(const char *dir, char *p, size_t len, struct hv_err *err)
{
	char tmp[HV_PATH_MAX];

	if (p[0] == '\0' || p[0] == '/' || strcmp(dir, ".") == 0)
		return 0;
	if (snprintf(tmp, sizeof tmp, "%s/%s", dir, p) >= (int)sizeof tmp || strlen(tmp) >= len)
		return hv_fail(err, HV_EINVAL, "%s/%s: path too long", dir, p);
	memcpy(p, tmp, strlen(tmp) + 1);
	return 0;
}

static int
beside(const char *file, struct hv_vm *vm, struct hv_err *err)
{
	char copy[HV_PATH_MAX], *dir;

	snprintf(copy, sizeof copy, "%s", file);
	dir = dirname(copy);
	for (int i = 0; i < vm->ndisks; i++)
		if (rel_to(dir, vm->disks[i], sizeof vm->disks[i], err) != 0)
			return -1;
	for (int i = 0; i < vm->ndvds; i++)
		if (rel_to(dir, vm->dvds[i], sizeof vm->dvds[i], err) != 0)
			return -1;
	return rel_to(dir, vm->kernel, sizeof vm->kernel, err) ||
	       rel_to(dir, vm->initrd, sizeof vm->initrd, err) ||
	       rel_to(dir, vm->firmware, sizeof vm->firmware, err) ? -1 : 0;
}

/* a definition file into vm, nothing registered (hv-int.h) */
int
vm_file_read(struct hv_ctx *hv, const char *path, struct hv_vm *vm, struct hv_err *err)
{
	struct reader r = { .file = path, .err = err };
	config_setting_t *g;
	config_t c;
	int rc = -1;

	hv_vm_init(hv, vm);
	if (access(path, R_OK) != 0)
		return hv_fail(err, HV_ENOENT, "%s: %s", path, strerror(errno));
	config_init(&c);
	if (config_read_file(&c, path) != CONFIG_TRUE) {
		if (config_error_type(&c) == CONFIG_ERR_FILE_IO)
			hv_fail(err, HV_EIO, "%s: cannot read", path);
		else
			hv_fail(err, HV_EINVAL, "%s:%d: %s", path,
				config_error_line(&c), config_error_text(&c));
		goto out;
	}
	g = config_lookup(&c, "vm");
	if (g == NULL || !config_setting_is_group(g)) {
		hv_fail(err, HV_EINVAL, "%s: no 'vm' group: not an hv VM definition", path);
		goto out;
	}
	rc = rd_vm(&r, g, vm);
	if (rc == 0)
		rc = beside(path, vm, err);
out:
	config_destroy(&c);
	return rc;
}

/* a whole export's state.hvs beside the definition: the VM comes in
   Saved with it (0 with none there) */
static int
import_state(struct hv_ctx *hv, const char *path, struct hv_vm *vm, struct hv_err *err)
{
	char dir[HV_PATH_MAX], src[HV_PATH_MAX + 16], dst[HV_PATH_MAX + 256], tmp[HV_PATH_MAX + 260];

	snprintf(dir, sizeof dir, "%s", path);
	snprintf(src, sizeof src, "%s/state.hvs", dirname(dir));
	if (access(src, F_OK) != 0)
		return 0;
	if (vmm_state_path(hv_config(hv)->home, vm->name, dst, sizeof dst) != 0)
		return hv_fail(err, HV_EINVAL, "state file path too long");
	snprintf(tmp, sizeof tmp, "%s.tmp", dst);
	if (file_copy(src, tmp, err) != 0)
		return -1;
	if (rename(tmp, dst) != 0) {
		hv_fail(err, HV_EIO, "%s: %s", dst, strerror(errno));
		unlink(tmp);
		return -1;
	}
	if (hv_vm_set_runtime(hv, vm->name, "Saved", 0, "imported with its saved state", err) != 0) {
		unlink(dst);
		return -1;
	}
	snprintf(vm->state, sizeof vm->state, "Saved");
	return 1;
}

int
hv_vm_import(struct hv_ctx *hv, const char *path, const char *new_name,
	     bool new_uuid, struct hv_vm *vm, struct hv_err *err)
{
	struct hv_err e2;
	int rc, st;

	if (vm_file_read(hv, path, vm, err) != 0)
		return -1;
	if (new_name != NULL)
		snprintf(vm->name, sizeof vm->name, "%s", new_name);
	if (new_uuid) {
		/* a copy is another machine: its adapters get their own MACs */
		vm->uuid[0] = '\0';
		for (int i = 0; i < vm->nnics; i++)
			hv_mac_random(vm->nics[i].mac);
	}
	rc = hv_vm_create(hv, vm, err);
	if (rc != 0)
		return rc;
	st = import_state(hv, path, vm, err);
	if (st < 0) {
		hv_vm_delete(hv, vm->name, &e2);	/* all of it or nothing */
		return -1;
	}
	hv_event_add(hv, vm->name, "imported from %s%s", path, st ? " with its saved state" : "");
	return 0;
}
