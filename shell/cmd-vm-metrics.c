/* cmd-vm-metrics.c - `hv vm metrics VM`: what the VM's network adapters
   carried and dropped, from the inventory (Measure-VM's network part). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shell/shell.h"

const struct cmd_opt cmd_vm_metrics_opts[] = {
	{ "reset", OPT_FLAG, NULL, "start counting again from zero" },
	{ "json", OPT_FLAG, NULL, "machine-readable output" },
	{ NULL, 0, NULL, NULL },
};

static cJSON *
counters_json(const struct hv_nic *nic, int slot, const struct hv_port_counters *c)
{
	cJSON *o = cJSON_CreateObject(), *d;

	cJSON_AddNumberToObject(o, "slot", slot);
	cJSON_AddStringToObject(o, "switch", nic->switch_name);
	cJSON_AddStringToObject(o, "mac", nic->mac);
	cJSON_AddNumberToObject(o, "rx_packets", (double)c->rx_packets);
	cJSON_AddNumberToObject(o, "rx_bytes", (double)c->rx_bytes);
	cJSON_AddNumberToObject(o, "tx_packets", (double)c->tx_packets);
	cJSON_AddNumberToObject(o, "tx_bytes", (double)c->tx_bytes);
	d = cJSON_AddObjectToObject(o, "drops");
	cJSON_AddNumberToObject(d, "mac_guard", (double)c->drop_mac);
	cJSON_AddNumberToObject(d, "dhcp_guard", (double)c->drop_dhcp);
	cJSON_AddNumberToObject(d, "router_guard", (double)c->drop_router);
	cJSON_AddNumberToObject(d, "acl", (double)c->drop_acl);
	cJSON_AddNumberToObject(d, "vlan", (double)c->drop_vlan);
	cJSON_AddNumberToObject(d, "malformed", (double)c->drop_malformed);
	cJSON_AddNumberToObject(o, "since", (double)c->since);
	return o;
}

static void
counters_print(struct cmd_ctx *ctx, const struct hv_nic *nic, int slot,
	       const struct hv_port_counters *c)
{
	char since[32] = "-";
	time_t t = (time_t)c->since;

	if (c->since)
		strftime(since, sizeof since, "%Y-%m-%d %H:%M:%S", localtime(&t));
	fprintf(ctx->out, "adapter %d (%s on %s), counting since %s\n", slot, nic->mac,
		nic->switch_name, since);
	fprintf(ctx->out, "  received  %12llu packets %16llu bytes\n",
		(unsigned long long)c->rx_packets, (unsigned long long)c->rx_bytes);
	fprintf(ctx->out, "  sent      %12llu packets %16llu bytes\n",
		(unsigned long long)c->tx_packets, (unsigned long long)c->tx_bytes);
	fprintf(ctx->out, "  dropped   mac guard %llu, dhcp guard %llu, router guard %llu, "
		"acl %llu, vlan %llu, malformed %llu\n",
		(unsigned long long)c->drop_mac, (unsigned long long)c->drop_dhcp,
		(unsigned long long)c->drop_router, (unsigned long long)c->drop_acl,
		(unsigned long long)c->drop_vlan, (unsigned long long)c->drop_malformed);
}

enum cmd_ret
cmd_vm_metrics(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_port_counters c;
	struct hv_err err;
	struct hv_vm vm;
	char *reply = NULL;
	cJSON *l = NULL;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_vm_get(hv, a->pos[0], &vm, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "reset")) {
		if (hv_port_counters_reset(hv, vm.name, &err) != 0)
			return cmd_error(ctx, &err);
		fprintf(ctx->out, "metering of VM %s starts again\n", vm.name);
		return CMD_OK;
	}
	/* a running VM's worker adds what it counted since its last flush */
	if (strcmp(vm.state, "Running") == 0 || strcmp(vm.state, "Paused") == 0) {
		if (hv_vm_request(hv, vm.name, "{\"cmd\": \"flush\"}", &reply, &err) == 0)
			free(reply);
	}
	if (cmd_flag(a, "json"))
		l = cJSON_CreateArray();
	else if (vm.nnics == 0)
		fprintf(ctx->out, "VM %s has no network adapters\n", vm.name);
	for (int i = 0; i < vm.nnics; i++) {
		if (hv_port_counters_get(hv, vm.name, i, &c, &err) != 0) {
			cJSON_Delete(l);
			return cmd_error(ctx, &err);
		}
		if (l != NULL)
			cJSON_AddItemToArray(l, counters_json(&vm.nics[i], i, &c));
		else
			counters_print(ctx, &vm.nics[i], i, &c);
	}
	if (l != NULL) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "name", vm.name);
		cJSON_AddItemToObject(j, "network", l);
		cmd_print_json(ctx, j);
	}
	return CMD_OK;
}
