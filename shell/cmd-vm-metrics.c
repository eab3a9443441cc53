/* cmd-vm-metrics.c - `hv vm metrics VM`: Hyper-V's Measure-VM from the
   inventory: average CPU, memory, disk and network over the worker's
   samples (engine/measure.c), and what each network adapter carried and
   dropped. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shell/shell.h"

const struct cmd_opt cmd_vm_metrics_opts[] = {
	{ "since", OPT_STR, "WHEN", "only samples since then: 30s, 10m, 1h, 2d ago, or a unix time" },
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

/* --since: "30s", "10m", "1h", "2d" ago (a bare number: seconds ago), or
   a unix time in seconds (from 10^9) or milliseconds (from 10^12) */
static int
parse_since(const char *s, int64_t now_ms, int64_t *out)
{
	static const struct { char unit; int64_t ms; } units[] = {
		{ 's', 1000 }, { 'm', 60000 }, { 'h', 3600000 }, { 'd', 86400000 }, { 0, 1000 },
	};
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s || errno != 0 || v < 0)
		return -1;
	if (*end == '\0' && v >= 1000000000000ll) {
		*out = v;
		return 0;
	}
	if (*end == '\0' && v >= 1000000000ll) {
		*out = v * 1000;
		return 0;
	}
	for (int i = 0; i < (int)(sizeof units / sizeof units[0]); i++) {
		if (*end == units[i].unit && (*end == '\0' || end[1] == '\0')) {
			if (v > now_ms / units[i].ms)
				return -1;
			*out = now_ms - v * units[i].ms;
			return 0;
		}
	}
	return -1;
}

static void
measure_json(cJSON *j, const struct hv_vm_measure *m)
{
	cJSON *o;

	cJSON_AddNumberToObject(j, "samples", (double)m->samples);
	cJSON_AddNumberToObject(j, "first", (double)m->first);
	cJSON_AddNumberToObject(j, "last", (double)m->last);
	cJSON_AddNumberToObject(j, "seconds", m->seconds);
	cJSON_AddNumberToObject(j, "cpu_pct", m->cpu_pct);
	o = cJSON_AddObjectToObject(j, "memory");
	cJSON_AddNumberToObject(o, "assigned_average", (double)m->mem_avg);
	cJSON_AddNumberToObject(o, "assigned_minimum", (double)m->mem_min);
	cJSON_AddNumberToObject(o, "assigned_maximum", (double)m->mem_max);
	cJSON_AddNumberToObject(o, "demand_average", (double)m->demand_avg);
	o = cJSON_AddObjectToObject(j, "disk");
	cJSON_AddNumberToObject(o, "read_bytes", (double)m->disk_read_bytes);
	cJSON_AddNumberToObject(o, "write_bytes", (double)m->disk_write_bytes);
	cJSON_AddNumberToObject(o, "ios", (double)m->disk_ios);
	cJSON_AddNumberToObject(o, "normalized_ios", (double)m->disk_normalized_ios);
	cJSON_AddNumberToObject(o, "iops", m->iops);
	cJSON_AddNumberToObject(o, "normalized_iops", m->normalized_iops);
	o = cJSON_AddObjectToObject(j, "traffic");
	cJSON_AddNumberToObject(o, "rx_bytes", (double)m->net_rx_bytes);
	cJSON_AddNumberToObject(o, "tx_bytes", (double)m->net_tx_bytes);
}

/* 1536 -> "1.5 KiB": averages are rarely whole sizes */
static const char *
human(uint64_t b, char *buf, size_t len)
{
	static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
	return buf;
}

static void
measure_print(struct cmd_ctx *ctx, const struct hv_vm *vm, const struct hv_vm_measure *m)
{
	char a[32], b[32], c[32], d[32];
	time_t t0 = (time_t)(m->first / 1000), t1 = (time_t)(m->last / 1000);

	if (m->samples == 0) {
		fprintf(ctx->out, "VM %s: no resource samples%s\n", vm->name,
			strcmp(vm->state, "Off") == 0 ? " (they are taken while it runs)" : "");
		return;
	}
	strftime(a, sizeof a, "%Y-%m-%d %H:%M:%S", localtime(&t0));
	strftime(b, sizeof b, "%Y-%m-%d %H:%M:%S", localtime(&t1));
	fprintf(ctx->out, "VM %s: %s to %s, running %.0f s of it (%zu samples)\n", vm->name,
		a, b, m->seconds, m->samples);
	fprintf(ctx->out, "  CPU       %.1f %% average (100 %% is one host CPU)\n", m->cpu_pct);
	fprintf(ctx->out, "  memory    assigned %s average, %s minimum, %s maximum; demand %s\n",
		human(m->mem_avg, a, sizeof a), human(m->mem_min, b, sizeof b),
		human(m->mem_max, c, sizeof c),
		m->demand_avg ? human(m->demand_avg, d, sizeof d) : "- (no dynamic memory)");
	fprintf(ctx->out, "  disk      read %s, written %s; %.1f IOPS (%.1f normalized)\n",
		human(m->disk_read_bytes, a, sizeof a), human(m->disk_write_bytes, b, sizeof b),
		m->iops, m->normalized_iops);
	fprintf(ctx->out, "  network   received %s, sent %s\n", human(m->net_rx_bytes, a, sizeof a),
		human(m->net_tx_bytes, b, sizeof b));
}

static enum cmd_ret
metrics_reset(struct cmd_ctx *ctx, struct hv_ctx *hv, const struct hv_vm *vm)
{
	struct hv_err err;

	if (hv_port_counters_reset(hv, vm->name, &err) != 0 ||
	    hv_vm_samples_reset(hv, vm->name, &err) != 0)
		return cmd_error(ctx, &err);
	fprintf(ctx->out, "metering of VM %s starts again\n", vm->name);
	return CMD_OK;
}

enum cmd_ret
cmd_vm_metrics(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_port_counters c;
	struct hv_vm_measure m;
	struct hv_err err;
	struct hv_vm vm;
	struct timespec now;
	int64_t since = 0;
	char *reply = NULL;
	cJSON *l = NULL;

	if (hv == NULL)
		return CMD_FAIL;
	clock_gettime(CLOCK_REALTIME, &now);
	if (cmd_str(a, "since") != NULL &&
	    parse_since(cmd_str(a, "since"), (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000,
			&since) != 0)
		return cmd_usage_error(ctx, "--since %s: want 30s, 10m, 1h, 2d (ago) or a unix time",
				       cmd_str(a, "since"));
	if (hv_vm_get(hv, a->pos[0], &vm, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "reset"))
		return metrics_reset(ctx, hv, &vm);
	/* a running VM's worker adds what it counted since its last flush,
	   and takes a fresh sample */
	if (strcmp(vm.state, "Running") == 0 || strcmp(vm.state, "Paused") == 0) {
		if (hv_vm_request(hv, vm.name, "{\"cmd\": \"flush\"}", &reply, &err) == 0)
			free(reply);
		if (hv_vm_request(hv, vm.name, "{\"cmd\": \"sample\"}", &reply, &err) == 0)
			free(reply);
	}
	if (hv_vm_measure(hv, vm.name, since, &m, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json")) {
		l = cJSON_CreateArray();
	} else {
		measure_print(ctx, &vm, &m);
		if (vm.nnics == 0)
			fprintf(ctx->out, "VM %s has no network adapters\n", vm.name);
	}
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
		cJSON_AddNumberToObject(j, "since", (double)since);
		measure_json(j, &m);
		cJSON_AddItemToObject(j, "network", l);
		cmd_print_json(ctx, j);
	}
	return CMD_OK;
}
