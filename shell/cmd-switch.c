/* cmd-switch.c - `hv switch`: virtual switches (Linux bridges on this host). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shell/cmd.h"

static const struct cmd_opt create_opts[] = {
	{ "type", OPT_STR, "TYPE", "external (shares a host NIC), internal (VMs and the host), private (VMs only)" },
	{ "nic", OPT_STR, "IF", "external: the host network adapter to share (its addresses and routes move to the switch)" },
	{ "host-ip", OPT_STR, "CIDR", "internal: the host's address on the switch, like 192.168.100.1/24" },
	{ "bandwidth", OPT_STR, "BITS", "what the switch carries in bit/s, decimal: 1G, 100M; adapters' minimum bandwidth is reserved out of it (default: an external switch's NIC speed)" },
	{ "json", OPT_FLAG, NULL, "print the new switch as JSON" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt json_opts[] = {
	{ "json", OPT_FLAG, NULL, "machine-readable output" },
	{ NULL, 0, NULL, NULL },
};

/* --- output ---------------------------------------------------------------- */

/* "100M", "10G (uplink speed)", "-" */
static void
capacity(const struct hv_switch *sw, char *buf, size_t len)
{
	char b[32];

	if (sw->capacity == 0) {
		snprintf(buf, len, "-");
		return;
	}
	hv_format_bandwidth(sw->capacity, b, sizeof b);
	snprintf(buf, len, "%s%s", b, sw->bandwidth ? "" : " (uplink speed)");
}

static void
connection(const struct hv_switch *sw, char *buf, size_t len)
{
	if (sw->nic[0])
		snprintf(buf, len, "uplink %s", sw->nic);
	else if (sw->host_ip[0])
		snprintf(buf, len, "host %s", sw->host_ip);
	else if (strcmp(sw->type, "internal") == 0)
		snprintf(buf, len, "host (no address)");
	else
		snprintf(buf, len, "-");
}

static cJSON *
switch_json(const struct hv_switch *sw)
{
	cJSON *j = cJSON_CreateObject();

	cJSON_AddStringToObject(j, "name", sw->name);
	cJSON_AddStringToObject(j, "type", sw->type);
	cJSON_AddStringToObject(j, "nic", sw->nic);
	cJSON_AddStringToObject(j, "host_ip", sw->host_ip);
	cJSON_AddStringToObject(j, "bridge", sw->bridge);
	cJSON_AddStringToObject(j, "state", sw->state);
	cJSON_AddBoolToObject(j, "vlans", sw->vlans);
	cJSON_AddNumberToObject(j, "bandwidth", (double)sw->bandwidth);
	cJSON_AddNumberToObject(j, "capacity", (double)sw->capacity);
	cJSON_AddNumberToObject(j, "created", (double)sw->created);
	return j;
}

/* the adapters of every VM on switch sw: JSON into arr, or lines */
static void
adapters(struct cmd_ctx *ctx, const struct hv_switch *sw, cJSON *arr)
{
	struct hv_vm *vms;
	struct hv_err err;
	size_t n;
	int shown = 0;

	if (hv_vm_list(ctx->hv, &vms, &n, &err) != 0)
		return;
	for (size_t i = 0; i < n; i++) {
		for (int k = 0; k < vms[i].nnics; k++) {
			const struct hv_nic *nic = &vms[i].nics[k];

			if (strcmp(nic->switch_name, sw->name) != 0)
				continue;
			if (arr != NULL) {
				cJSON *o = cJSON_CreateObject();

				cJSON_AddStringToObject(o, "vm", vms[i].name);
				cJSON_AddNumberToObject(o, "slot", k);
				cJSON_AddStringToObject(o, "mac", nic->mac);
				cJSON_AddNumberToObject(o, "vlan", nic->vlan);
				cJSON_AddNumberToObject(o, "min_bandwidth", (double)nic->min_bw);
				cJSON_AddNumberToObject(o, "max_bandwidth", (double)nic->max_bw);
				cJSON_AddStringToObject(o, "state", vms[i].state);
				cJSON_AddItemToArray(arr, o);
				continue;
			}
			char vlan[16] = "", min[48] = "", b[32];

			if (nic->vlan)
				snprintf(vlan, sizeof vlan, ", VLAN %d", nic->vlan);
			if (nic->min_bw) {
				hv_format_bandwidth(nic->min_bw, b, sizeof b);
				snprintf(min, sizeof min, ", minimum %s", b);
			}
			fprintf(ctx->out, "%-16s %s slot %d, %s%s%s (%s)\n", shown++ ? "" : "Adapters:",
				vms[i].name, k, nic->mac, vlan, min, vms[i].state);
		}
	}
	if (arr == NULL && shown == 0)
		fprintf(ctx->out, "%-16s (none)\n", "Adapters:");
	free(vms);
}

static void
switch_print(struct cmd_ctx *ctx, const struct hv_switch *sw)
{
	char c[96], t[64], bw[64];
	time_t ct = (time_t)sw->created;

	connection(sw, c, sizeof c);
	capacity(sw, bw, sizeof bw);
	fprintf(ctx->out, "%-16s %s\n", "Name:", sw->name);
	fprintf(ctx->out, "%-16s %s\n", "Type:", sw->type);
	fprintf(ctx->out, "%-16s %s (%s)\n", "Bridge:", sw->bridge, sw->state);
	fprintf(ctx->out, "%-16s %s\n", "Connection:", c);
	if (sw->capacity)
		fprintf(ctx->out, "%-16s %s, minimum bandwidth reserved out of it\n", "Bandwidth:", bw);
	else
		fprintf(ctx->out, "%-16s unknown (minimum bandwidth is not enforced; hv switch create --bandwidth)\n",
			"Bandwidth:");
	if (strcmp(sw->state, "missing") != 0)
		fprintf(ctx->out, "%-16s %s\n", "VLANs:", sw->vlans ? "yes (per adapter, 1..4094)" :
			"no (this kernel's bridges filter no VLANs)");
	strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S", localtime(&ct));
	fprintf(ctx->out, "%-16s %s\n", "Created:", t);
	adapters(ctx, sw, NULL);
}

/* --- verbs ------------------------------------------------------------------- */

static int
copy_opt(struct cmd_ctx *ctx, const struct cmd_args *a, const char *name,
	 char *out, size_t len)
{
	const char *s = cmd_str(a, name);

	if (s == NULL)
		return 0;
	if (strlen(s) >= len) {
		cmd_usage_error(ctx, "--%s: '%.20s...' is too long", name, s);
		return -1;
	}
	snprintf(out, len, "%s", s);
	return 0;
}

static enum cmd_ret
switch_create(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_switch sw;
	struct hv_err err;
	struct hv_ctx *hv;

	memset(&sw, 0, sizeof sw);
	if (!hv_name_valid(a->pos[0], &err))
		return cmd_error(ctx, &err);
	snprintf(sw.name, sizeof sw.name, "%s", a->pos[0]);
	if (cmd_str(a, "type") == NULL)
		return cmd_usage_error(ctx, "switch create: --type is needed (external, internal or private)");
	if (copy_opt(ctx, a, "type", sw.type, sizeof sw.type) != 0 ||
	    copy_opt(ctx, a, "nic", sw.nic, sizeof sw.nic) != 0 ||
	    copy_opt(ctx, a, "host-ip", sw.host_ip, sizeof sw.host_ip) != 0)
		return CMD_USAGE;
	if (cmd_str(a, "bandwidth") != NULL &&
	    hv_parse_bandwidth(cmd_str(a, "bandwidth"), &sw.bandwidth) != 0)
		return cmd_usage_error(ctx, "--bandwidth: '%s' is not a bandwidth (bit/s, decimal: 100M, 1G, 1.5G)",
				       cmd_str(a, "bandwidth"));
	if ((hv = cmd_hv(ctx)) == NULL)
		return CMD_FAIL;
	if (hv_switch_create(hv, &sw, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json"))
		cmd_print_json(ctx, switch_json(&sw));
	else if (sw.capacity) {
		char b[32];

		hv_format_bandwidth(sw.capacity, b, sizeof b);
		fprintf(ctx->out, "created %s switch %s (bridge %s, bandwidth %s)\n", sw.type, sw.name,
			sw.bridge, b);
	} else {
		fprintf(ctx->out, "created %s switch %s (bridge %s)\n", sw.type, sw.name, sw.bridge);
	}
	return CMD_OK;
}

static enum cmd_ret
switch_list(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_switch *sw;
	struct hv_err err;
	size_t n;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_switch_list(hv, &sw, &n, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json")) {
		cJSON *l = cJSON_CreateArray();

		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(l, switch_json(&sw[i]));
		cmd_print_json(ctx, l);
	} else {
		fprintf(ctx->out, "%-20s %-9s %-16s %-8s %-9s %s\n", "NAME", "TYPE", "BRIDGE", "STATE",
			"BANDWIDTH", "CONNECTION");
		for (size_t i = 0; i < n; i++) {
			char c[96], b[32] = "-";

			connection(&sw[i], c, sizeof c);
			if (sw[i].capacity)
				hv_format_bandwidth(sw[i].capacity, b, sizeof b);
			fprintf(ctx->out, "%-20s %-9s %-16s %-8s %-9s %s\n", sw[i].name, sw[i].type,
				sw[i].bridge, sw[i].state, b, c);
		}
	}
	free(sw);
	return CMD_OK;
}

static enum cmd_ret
switch_show(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_switch sw;
	struct hv_err err;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_switch_get(hv, a->pos[0], &sw, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json")) {
		cJSON *j = switch_json(&sw);

		adapters(ctx, &sw, cJSON_AddArrayToObject(j, "adapters"));
		cmd_print_json(ctx, j);
	} else {
		switch_print(ctx, &sw);
	}
	return CMD_OK;
}

static enum cmd_ret
switch_delete(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_switch sw;
	struct hv_err err;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_switch_get(hv, a->pos[0], &sw, &err) != 0 ||
	    hv_switch_delete(hv, a->pos[0], &err) != 0)
		return cmd_error(ctx, &err);
	if (sw.nic[0])
		fprintf(ctx->out, "deleted switch %s (%s has its addresses back)\n", sw.name, sw.nic);
	else
		fprintf(ctx->out, "deleted switch %s\n", sw.name);
	return CMD_OK;
}

static const struct cmd_verb switch_verbs[] = {
	{ "list", "", 0, 0, ARG_NONE, json_opts, "list virtual switches", switch_list },
	{ "show", "NAME", 1, 1, ARG_WORD, json_opts, "show a switch and the adapters on it", switch_show },
	{ "create", "NAME", 1, 1, ARG_NONE, create_opts, "create a virtual switch (a bridge on this host)", switch_create },
	{ "delete", "NAME", 1, 1, ARG_WORD, NULL, "delete a switch no VM uses", switch_delete },
	{ NULL, NULL, 0, 0, ARG_NONE, NULL, NULL, NULL },
};

const struct cmd_noun cmd_switch_noun = {
	.name = "switch",
	.help = "virtual switches",
	.verbs = switch_verbs,
};
