/*
 * cmd-vm-nic.c - `hv vm nic add|set|remove|list`: a VM's network adapters.
 *
 * One verb of the vm noun whose first word says what to do, so the
 * options are one table: each sub-command takes the ones that apply to
 * it (nic_allowed) and refuses the rest.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shell/shell.h"

const struct cmd_opt cmd_vm_nic_opts[] = {
	{ "switch", OPT_STR, "NAME", "add, set: the virtual switch to connect to" },
	{ "mac", OPT_STR, "MAC", "add, set: a static MAC address (default: a new 52:54:00:xx:xx:xx)" },
	{ "vlan", OPT_NUM, "N", "add, set: VLAN 1..4094 (an access port); 0: none" },
	{ "max-bandwidth", OPT_STR, "BITS", "add, set: limit in bit/s, decimal: 100M, 1G (0: none)" },
	{ "min-bandwidth", OPT_STR, "BITS", "add, set: reserve in bit/s, decimal: 10M (0: none)" },
	{ "dhcp-guard", OPT_ONOFF, "[on|off]", "add, set: drop DHCP server messages from the VM" },
	{ "router-guard", OPT_ONOFF, "[on|off]", "add, set: drop router advertisements and redirects from the VM" },
	{ "mac-guard", OPT_ONOFF, "[on|off]", "add, set: drop frames not sent from the adapter's MAC" },
	{ "acl", OPT_LIST, "RULE", "add, set: a port ACL rule, allow|deny,in|out|both,remote=ADDR[,local=ADDR]" },
	{ "remove-acl", OPT_LIST, "RULE", "set: take an ACL rule away" },
	{ "clear-acls", OPT_FLAG, NULL, "set: take every ACL rule away" },
	{ "json", OPT_FLAG, NULL, "add, set, list: print the adapters as JSON" },
	{ NULL, 0, NULL, NULL },
};

/* --- output ---------------------------------------------------------------- */

cJSON *
cmd_nic_json(const struct hv_nic *n, int slot)
{
	cJSON *o = cJSON_CreateObject(), *l;
	char rule[160];

	cJSON_AddNumberToObject(o, "slot", slot);
	cJSON_AddStringToObject(o, "switch", n->switch_name);
	cJSON_AddStringToObject(o, "mac", n->mac);
	cJSON_AddNumberToObject(o, "vlan", n->vlan);
	cJSON_AddNumberToObject(o, "max_bandwidth", (double)n->max_bw);
	cJSON_AddNumberToObject(o, "min_bandwidth", (double)n->min_bw);
	cJSON_AddBoolToObject(o, "dhcp_guard", n->dhcp_guard);
	cJSON_AddBoolToObject(o, "router_guard", n->router_guard);
	cJSON_AddBoolToObject(o, "mac_guard", n->mac_guard);
	l = cJSON_AddArrayToObject(o, "acls");
	for (int i = 0; i < n->nacls; i++) {
		hv_acl_format(&n->acls[i], rule, sizeof rule);
		cJSON_AddItemToArray(l, cJSON_CreateString(rule));
	}
	return o;
}

static void
guards(const struct hv_nic *n, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s%s", n->dhcp_guard ? "dhcp," : "", n->router_guard ? "router," : "",
		 n->mac_guard ? "mac," : "");
	if (buf[0])
		buf[strlen(buf) - 1] = '\0';
	else
		snprintf(buf, len, "-");
}

void
cmd_nic_print(FILE *f, const struct hv_vm *vm)
{
	char a[32], b[32], g[32], rule[160];

	if (vm->nnics == 0)
		fprintf(f, "%-16s (none)\n", "Network:");
	for (int i = 0; i < vm->nnics; i++) {
		const struct hv_nic *n = &vm->nics[i];

		fprintf(f, "%-16s %d: %s on switch %s", i == 0 ? "Network:" : "", i, n->mac,
			n->switch_name);
		if (n->vlan)
			fprintf(f, ", VLAN %d", n->vlan);
		if (n->max_bw || n->min_bw) {
			hv_format_bandwidth(n->max_bw, a, sizeof a);
			hv_format_bandwidth(n->min_bw, b, sizeof b);
			fprintf(f, ", bandwidth max %s min %s", n->max_bw ? a : "-", n->min_bw ? b : "-");
		}
		guards(n, g, sizeof g);
		if (strcmp(g, "-") != 0)
			fprintf(f, ", guards %s", g);
		fputc('\n', f);
		for (int k = 0; k < n->nacls; k++) {
			hv_acl_format(&n->acls[k], rule, sizeof rule);
			fprintf(f, "%-16s    acl %s\n", "", rule);
		}
	}
}

/* --- settings ------------------------------------------------------------- */

/* the options sub-command `sub` takes */
static bool
nic_allowed(const char *sub, const char *opt)
{
	if (strcmp(sub, "list") == 0)
		return strcmp(opt, "json") == 0;
	if (strcmp(sub, "remove") == 0)
		return false;
	if (strcmp(sub, "add") == 0)
		return strcmp(opt, "remove-acl") != 0 && strcmp(opt, "clear-acls") != 0;
	return true;
}

static int
find_acl(const struct hv_nic *n, const struct hv_acl *r)
{
	for (int i = 0; i < n->nacls; i++)
		if (n->acls[i].allow == r->allow && strcmp(n->acls[i].dir, r->dir) == 0 &&
		    strcmp(n->acls[i].local, r->local) == 0 &&
		    strcmp(n->acls[i].remote, r->remote) == 0)
			return i;
	return -1;
}

static int
apply_acls(struct cmd_ctx *ctx, const struct cmd_args *a, struct hv_nic *n)
{
	const char *rules[CMD_MAX_LIST];
	struct hv_acl r;
	struct hv_err err;
	int cnt, k;

	cnt = cmd_list(a, "remove-acl", rules, CMD_MAX_LIST);
	for (int i = 0; i < cnt; i++) {
		if (hv_acl_parse(rules[i], &r, &err) != 0)
			return cmd_error(ctx, &err), -1;
		if ((k = find_acl(n, &r)) < 0) {
			cmd_usage_error(ctx, "--remove-acl: '%s' is not one of the adapter's rules", rules[i]);
			return -1;
		}
		memmove(&n->acls[k], &n->acls[k + 1], (size_t)(n->nacls - k - 1) * sizeof n->acls[0]);
		n->nacls--;
	}
	if (cmd_flag(a, "clear-acls"))
		n->nacls = 0;
	cnt = cmd_list(a, "acl", rules, CMD_MAX_LIST);
	for (int i = 0; i < cnt; i++) {
		if (hv_acl_parse(rules[i], &r, &err) != 0)
			return cmd_error(ctx, &err), -1;
		if (find_acl(n, &r) >= 0)
			continue;	/* already there */
		if (n->nacls == HV_MAX_ACLS) {
			cmd_usage_error(ctx, "--acl: at most %d ACL rules per adapter", HV_MAX_ACLS);
			return -1;
		}
		n->acls[n->nacls++] = r;
	}
	return 0;
}

static int
bandwidth(struct cmd_ctx *ctx, const struct cmd_args *a, const char *name,
	  uint64_t *out)
{
	const char *s = cmd_str(a, name);

	if (s != NULL && hv_parse_bandwidth(s, out) != 0) {
		cmd_usage_error(ctx, "--%s: '%s' is not a bandwidth (bit/s, decimal: 100M, 1G, 1.5G)",
				name, s);
		return -1;
	}
	return 0;
}

/* the options onto n; -1 after printing an error */
static int
apply_nic(struct cmd_ctx *ctx, const struct cmd_args *a, struct hv_nic *n)
{
	const char *s;
	long long vlan;
	int r;

	if ((s = cmd_str(a, "switch")) != NULL) {
		if (strlen(s) >= sizeof n->switch_name)
			return cmd_usage_error(ctx, "--switch: name too long"), -1;
		snprintf(n->switch_name, sizeof n->switch_name, "%s", s);
	}
	if ((s = cmd_str(a, "mac")) != NULL) {
		struct hv_err err;

		if (!hv_mac_valid(s, &err))
			return cmd_error(ctx, &err), -1;
		snprintf(n->mac, sizeof n->mac, "%s", s);
	}
	if ((r = cmd_num(ctx, a, "vlan", &vlan)) < 0)
		return -1;
	if (r > 0 && (vlan < 0 || vlan > 4094))
		return cmd_usage_error(ctx, "--vlan %lld: must be 0 (none) or 1..4094", vlan), -1;
	if (r > 0)
		n->vlan = (int)vlan;
	if (bandwidth(ctx, a, "max-bandwidth", &n->max_bw) != 0 ||
	    bandwidth(ctx, a, "min-bandwidth", &n->min_bw) != 0 ||
	    cmd_onoff(ctx, a, "dhcp-guard", &n->dhcp_guard) < 0 ||
	    cmd_onoff(ctx, a, "router-guard", &n->router_guard) < 0 ||
	    cmd_onoff(ctx, a, "mac-guard", &n->mac_guard) < 0)
		return -1;
	return apply_acls(ctx, a, n);
}

static int
slot_arg(struct cmd_ctx *ctx, const char *s, int *slot)
{
	return cmd_slot(ctx, s, HV_MAX_NICS, "vm nic", "adapter", slot);
}

/* --- sub-commands ------------------------------------------------------- */

/* a reserve on a switch of unknown capacity is only recorded: say so,
   without failing the command */
static void
warn_min_bw(struct cmd_ctx *ctx, struct hv_ctx *hv, const struct hv_nic *n)
{
	struct hv_switch sw;
	struct hv_err err;

	if (n->min_bw == 0 || hv_switch_get(hv, n->switch_name, &sw, &err) != 0 || sw.capacity != 0)
		return;
	fprintf(ctx->errf, "hv: %s%swarning: switch %s has no known bandwidth, so minimum bandwidth is "
		"recorded but not enforced (give the switch one: hv switch create --bandwidth BITS)\n",
		ctx->where ? ctx->where : "", ctx->where ? ": " : "", sw.name);
}

static enum cmd_ret
nic_add(struct cmd_ctx *ctx, struct hv_ctx *hv, const struct cmd_args *a)
{
	struct hv_nic nic;
	struct hv_err err;
	int slot;

	memset(&nic, 0, sizeof nic);
	if (cmd_str(a, "switch") == NULL)
		return cmd_usage_error(ctx, "vm nic add: --switch is needed (see hv switch list)");
	if (apply_nic(ctx, a, &nic) != 0)
		return CMD_USAGE;
	if ((slot = hv_vm_nic_add(hv, a->pos[1], &nic, &err)) < 0)
		return cmd_error(ctx, &err);
	warn_min_bw(ctx, hv, &nic);
	if (cmd_flag(a, "json"))
		cmd_print_json(ctx, cmd_nic_json(&nic, slot));
	else
		fprintf(ctx->out, "added network adapter %d to VM %s (switch %s, MAC %s)\n", slot,
			a->pos[1], nic.switch_name, nic.mac);
	return CMD_OK;
}

static enum cmd_ret
nic_set(struct cmd_ctx *ctx, struct hv_ctx *hv, const struct cmd_args *a, int slot)
{
	struct hv_vm *vm = malloc(sizeof *vm);
	struct hv_err err;
	struct hv_nic nic;
	enum cmd_ret rc = CMD_FAIL;

	if (vm == NULL)
		return CMD_FAIL;
	if (hv_vm_get(hv, a->pos[1], vm, &err) != 0) {
		rc = cmd_error(ctx, &err);
		goto out;
	}
	if (slot >= vm->nnics) {
		hv_fail(&err, HV_ENOENT, "VM '%s' has no network adapter %d (see hv vm nic list %s)",
			vm->name, slot, vm->name);
		rc = cmd_error(ctx, &err);
		goto out;
	}
	nic = vm->nics[slot];
	if (apply_nic(ctx, a, &nic) != 0) {
		rc = CMD_USAGE;
		goto out;
	}
	if (hv_vm_nic_set(hv, vm->name, slot, &nic, &err) != 0 ||
	    hv_vm_get(hv, vm->name, vm, &err) != 0) {
		rc = cmd_error(ctx, &err);
		goto out;
	}
	warn_min_bw(ctx, hv, &vm->nics[slot]);
	if (cmd_flag(a, "json"))
		cmd_print_json(ctx, cmd_nic_json(&vm->nics[slot], slot));
	else
		fprintf(ctx->out, "updated network adapter %d of VM %s\n", slot, vm->name);
	rc = CMD_OK;
out:
	free(vm);
	return rc;
}

static enum cmd_ret
nic_list(struct cmd_ctx *ctx, struct hv_ctx *hv, const struct cmd_args *a)
{
	struct hv_vm *vm = malloc(sizeof *vm);
	struct hv_err err;
	enum cmd_ret rc = CMD_OK;

	if (vm == NULL)
		return CMD_FAIL;
	if (hv_vm_get(hv, a->pos[1], vm, &err) != 0) {
		rc = cmd_error(ctx, &err);
	} else if (cmd_flag(a, "json")) {
		cJSON *l = cJSON_CreateArray();

		for (int i = 0; i < vm->nnics; i++)
			cJSON_AddItemToArray(l, cmd_nic_json(&vm->nics[i], i));
		cmd_print_json(ctx, l);
	} else {
		fprintf(ctx->out, "%-4s %-16s %-17s %4s %8s %8s %-15s %4s\n", "SLOT", "SWITCH", "MAC",
			"VLAN", "MAX-BW", "MIN-BW", "GUARDS", "ACLS");
		for (int i = 0; i < vm->nnics; i++) {
			const struct hv_nic *n = &vm->nics[i];
			char mx[32] = "-", mn[32] = "-", g[32];

			if (n->max_bw)
				hv_format_bandwidth(n->max_bw, mx, sizeof mx);
			if (n->min_bw)
				hv_format_bandwidth(n->min_bw, mn, sizeof mn);
			guards(n, g, sizeof g);
			fprintf(ctx->out, "%-4d %-16s %-17s %4d %8s %8s %-15s %4d\n", i, n->switch_name,
				n->mac, n->vlan, mx, mn, g, n->nacls);
		}
	}
	free(vm);
	return rc;
}

enum cmd_ret
cmd_vm_nic(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	static const char *const subs[] = { "add", "set", "remove", "list" };
	const char *sub = a->pos[0];
	struct hv_ctx *hv;
	struct hv_err err;
	int want = 0, slot = 0;

	for (int i = 0; i < 4; i++)
		if (strcmp(sub, subs[i]) == 0)
			want = i == 1 || i == 2 ? 3 : 2;
	if (want == 0)
		return cmd_usage_error(ctx, "vm nic: '%s': use add, set, remove or list (see hv vm nic --help)", sub);
	if (a->npos != want)
		return cmd_usage_error(ctx, "vm nic %s: usage: hv vm nic %s VM%s", sub, sub,
				       want == 3 ? " SLOT" : "");
	for (int i = 0; i < a->nset; i++)
		if (!nic_allowed(sub, a->set[i].opt->name))
			return cmd_usage_error(ctx, "vm nic %s: --%s does not apply (see hv vm nic --help)",
					       sub, a->set[i].opt->name);
	if (want == 3 && slot_arg(ctx, a->pos[2], &slot) != 0)
		return CMD_USAGE;
	if (strcmp(sub, "set") == 0 && a->nset == (cmd_flag(a, "json") ? 1 : 0))
		return cmd_usage_error(ctx, "vm nic set: nothing to change (see hv vm nic --help)");
	if ((hv = cmd_hv(ctx)) == NULL)
		return CMD_FAIL;
	if (strcmp(sub, "add") == 0)
		return nic_add(ctx, hv, a);
	if (strcmp(sub, "set") == 0)
		return nic_set(ctx, hv, a, slot);
	if (strcmp(sub, "list") == 0)
		return nic_list(ctx, hv, a);
	if (hv_vm_nic_remove(hv, a->pos[1], slot, &err) != 0)
		return cmd_error(ctx, &err);
	fprintf(ctx->out, "removed network adapter %d from VM %s\n", slot, a->pos[1]);
	return CMD_OK;
}
