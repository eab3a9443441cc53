/* cmd-vm.c - `hv vm`: virtual machine definitions. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "shell/shell.h"

/* options shared by create and set, in help order */
#define VM_SETTINGS_OPTS \
	{ "vcpus", OPT_NUM, "N", "virtual processors" }, \
	{ "memory", OPT_SIZE, "SIZE", "startup memory (multiple of 2M)" }, \
	{ "min-memory", OPT_SIZE, "SIZE", "dynamic memory: minimum" }, \
	{ "max-memory", OPT_SIZE, "SIZE", "dynamic memory: maximum" }, \
	{ "buffer", OPT_NUM, "PCT", "dynamic memory: buffer, percent above demand (5..2000)" }, \
	{ "priority", OPT_NUM, "N", "dynamic memory: priority under pressure (0..100)" }, \
	{ "kernel", OPT_PATH, "FILE", "Gen2: kernel to boot (PVH ELF or bzImage)" }, \
	{ "initrd", OPT_PATH, "FILE", "Gen2: initial ramdisk" }, \
	{ "cmdline", OPT_STR, "STR", "Gen2: kernel command line" }, \
	{ "firmware", OPT_PATH, "FILE", "Gen1: BIOS image (default from hv.conf)" }, \
	{ "boot-order", OPT_STR, "LIST", "Gen1: where to boot from first: dvd,disk,net in any order; net (PXE through iPXE) only when named (default: dvd,disk)" }, \
	{ "notes", OPT_STR, "TEXT", "free text for admins" }

static const struct cmd_opt create_opts[] = {
	{ "gen", OPT_NUM, "1|2", "generation: 1 legacy BIOS, 2 direct boot (default 2)" },
	VM_SETTINGS_OPTS,
	{ "dynamic-memory", OPT_FLAG, NULL, "enable dynamic memory" },
	{ "disk", OPT_LIST, "PATH", "attach a virtual disk" },
	{ "dvd", OPT_LIST, "ISO", "a DVD drive holding this ISO image" },
	{ "dvd-drive", OPT_FLAG, NULL, "an empty DVD drive (hv vm dvd adds more)" },
	{ "json", OPT_FLAG, NULL, "print the new VM as JSON" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt set_opts[] = {
	{ "name", OPT_STR, "NEW", "rename the VM" },
	{ "gen", OPT_NUM, "1|2", "(refused: the generation is fixed at creation)" },
	VM_SETTINGS_OPTS,
	{ "dynamic-memory", OPT_STR, "on|off", "turn dynamic memory on or off" },
	{ "add-disk", OPT_LIST, "PATH", "attach a virtual disk" },
	{ "remove-disk", OPT_LIST, "PATH", "detach a virtual disk (the file stays)" },
	{ "json", OPT_FLAG, NULL, "print the VM as JSON" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt json_opts[] = {
	{ "json", OPT_FLAG, NULL, "machine-readable output" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt shutdown_opts[] = {
	{ "timeout", OPT_NUM, "SECONDS", "wait this long for the guest (default 60; 0: don't wait)" },
	{ "force", OPT_FLAG, NULL, "turn the VM off when the time is up (the default)" },
	{ "keep-on", OPT_FLAG, NULL, "leave it running when the time is up, and fail" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt export_opts[] = {
	{ "memory", OPT_FLAG, NULL, "DIR: a running VM's memory too, from the same instant as its disks" },
	{ "progress", OPT_FLAG, NULL, "DIR: show a progress bar" },
	{ "json", OPT_FLAG, NULL, "DIR: progress and result as JSON lines" },
	{ NULL, 0, NULL, NULL },
};

static const struct cmd_opt import_opts[] = {
	{ "name", OPT_STR, "NEW", "register under a new name" },
	{ "new-uuid", OPT_FLAG, NULL, "give the VM a new UUID (import a copy)" },
	{ "json", OPT_FLAG, NULL, "print the imported VM as JSON" },
	{ NULL, 0, NULL, NULL },
};

/* --- output ------------------------------------------------------------ */

static bool
vm_running(const struct hv_vm *vm)
{
	return strcmp(vm->state, "Running") == 0 || strcmp(vm->state, "Paused") == 0 ||
	       strcmp(vm->state, "Starting") == 0;
}

static int64_t
vm_uptime(const struct hv_vm *vm)
{
	if (!vm_running(vm) || vm->started == 0)
		return 0;
	return (int64_t)time(NULL) - vm->started;
}

static void
format_uptime(int64_t s, char *buf, size_t len)
{
	if (s <= 0)
		snprintf(buf, len, "-");
	else if (s < 86400)
		snprintf(buf, len, "%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
	else
		snprintf(buf, len, "%dd%02dh", (int)(s / 86400), (int)(s / 3600 % 24));
}

static cJSON *
vm_json(const struct hv_vm *vm)
{
	cJSON *j = cJSON_CreateObject(), *o, *l;

	cJSON_AddStringToObject(j, "name", vm->name);
	cJSON_AddStringToObject(j, "uuid", vm->uuid);
	cJSON_AddStringToObject(j, "state", vm->state);
	cJSON_AddNumberToObject(j, "generation", vm->generation);
	cJSON_AddNumberToObject(j, "vcpus", vm->vcpus);
	cJSON_AddNumberToObject(j, "memory", (double)vm->memory);
	o = cJSON_AddObjectToObject(j, "dynamic_memory");
	cJSON_AddBoolToObject(o, "enabled", vm->dm.enabled);
	cJSON_AddNumberToObject(o, "minimum", (double)vm->dm.minimum);
	cJSON_AddNumberToObject(o, "maximum", (double)vm->dm.maximum);
	cJSON_AddNumberToObject(o, "buffer", vm->dm.buffer);
	cJSON_AddNumberToObject(o, "priority", vm->dm.priority);
	o = cJSON_AddObjectToObject(j, "boot");
	cJSON_AddStringToObject(o, "kernel", vm->kernel);
	cJSON_AddStringToObject(o, "initrd", vm->initrd);
	cJSON_AddStringToObject(o, "cmdline", vm->cmdline);
	cJSON_AddStringToObject(o, "firmware", vm->firmware);
	cJSON_AddStringToObject(o, "order", vm->boot_order);
	l = cJSON_AddArrayToObject(j, "disks");
	for (int i = 0; i < vm->ndisks; i++)
		cJSON_AddItemToArray(l, cJSON_CreateString(vm->disks[i]));
	l = cJSON_AddArrayToObject(j, "disk_qos");	/* disks[i]'s storage QoS */
	for (int i = 0; i < vm->ndisks; i++)
		cJSON_AddItemToArray(l, cmd_disk_json(vm, i));
	l = cJSON_AddArrayToObject(j, "nics");
	for (int i = 0; i < vm->nnics; i++)
		cJSON_AddItemToArray(l, cmd_nic_json(&vm->nics[i], i));
	l = cJSON_AddArrayToObject(j, "dvds");
	for (int i = 0; i < vm->ndvds; i++)
		cJSON_AddItemToArray(l, cmd_dvd_json(vm, i));
	cJSON_AddStringToObject(j, "notes", vm->notes);
	cJSON_AddNumberToObject(j, "created", (double)vm->created);
	cJSON_AddNumberToObject(j, "pid", vm_running(vm) ? vm->pid : 0);
	cJSON_AddNumberToObject(j, "uptime", (double)vm_uptime(vm));
	return j;
}

static void
memory_summary(const struct hv_vm *vm, char *buf, size_t len)
{
	char a[32], b[32];

	if (!vm->dm.enabled) {
		hv_format_size(vm->memory, buf, len);
		return;
	}
	hv_format_size(vm->dm.minimum, a, sizeof a);
	hv_format_size(vm->dm.maximum, b, sizeof b);
	snprintf(buf, len, "%s-%s", a, b);
}

static void
vm_print(struct cmd_ctx *ctx, const struct hv_vm *vm)
{
	FILE *f = ctx->out;
	char s[32], t[64], qos[96];
	time_t ct = (time_t)vm->created;

	fprintf(f, "%-16s %s\n", "Name:", vm->name);
	fprintf(f, "%-16s %s\n", "UUID:", vm->uuid);
	fprintf(f, "%-16s %s\n", "State:", vm->state);
	if (vm_running(vm)) {
		format_uptime(vm_uptime(vm), t, sizeof t);
		fprintf(f, "%-16s %s (worker pid %d)\n", "Uptime:", t, vm->pid);
	}
	if (vm->last_exit[0])
		fprintf(f, "%-16s %s\n", "Last stop:", vm->last_exit);
	fprintf(f, "%-16s %d\n", "Generation:", vm->generation);
	fprintf(f, "%-16s %d\n", "vCPUs:", vm->vcpus);
	hv_format_size(vm->memory, s, sizeof s);
	fprintf(f, "%-16s %s\n", "Startup memory:", s);
	if (vm->dm.enabled) {
		memory_summary(vm, t, sizeof t);
		fprintf(f, "%-16s on, %s, buffer %d%%, priority %d\n", "Dynamic memory:",
			t, vm->dm.buffer, vm->dm.priority);
	} else {
		fprintf(f, "%-16s off\n", "Dynamic memory:");
	}
	if (vm->generation == 2) {
		fprintf(f, "%-16s %s\n", "Kernel:", vm->kernel[0] ? vm->kernel : "(none)");
		if (vm->initrd[0])
			fprintf(f, "%-16s %s\n", "Initrd:", vm->initrd);
		if (vm->cmdline[0])
			fprintf(f, "%-16s %s\n", "Command line:", vm->cmdline);
	} else {
		fprintf(f, "%-16s %s\n", "Firmware:", vm->firmware[0] ? vm->firmware : "(host default)");
		fprintf(f, "%-16s %s\n", "Boot order:", vm->boot_order[0] ? vm->boot_order : "dvd,disk (default)");
	}
	for (int i = 0; i < vm->ndisks; i++) {
		cmd_disk_qos_text(&vm->disk_qos[i], qos, sizeof qos);
		fprintf(f, "%-16s %s%s%s%s\n", i == 0 ? "Disks:" : "", vm->disks[i],
			qos[0] ? " (QoS " : "", qos, qos[0] ? ")" : "");
	}
	if (vm->ndisks == 0)
		fprintf(f, "%-16s (none)\n", "Disks:");
	cmd_dvd_print(f, vm);
	cmd_nic_print(f, vm);
	if (vm->notes[0])
		fprintf(f, "%-16s %s\n", "Notes:", vm->notes);
	strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S", localtime(&ct));
	fprintf(f, "%-16s %s\n", "Created:", t);
}

/* --- settings ---------------------------------------------------------- */

static int
set_path(struct cmd_ctx *ctx, const struct cmd_args *a, const char *name,
	 char *out, size_t len)
{
	const char *s = cmd_str(a, name);

	if (s == NULL)
		return 0;
	if (strlen(s) >= len) {
		cmd_usage_error(ctx, "--%s: too long", name);
		return -1;
	}
	snprintf(out, len, "%s", s);
	return 0;
}

/* apply the options create and set share; -1 after printing an error */
static int
apply_settings(struct cmd_ctx *ctx, const struct cmd_args *a, struct hv_vm *vm)
{
	long long n;
	int r;

	if ((r = cmd_num(ctx, a, "vcpus", &n)) < 0)
		return -1;
	if (r > 0)
		vm->vcpus = n < 0 || n > 1000000 ? -1 : (int)n;
	if (cmd_size(ctx, a, "memory", &vm->memory) < 0 ||
	    cmd_size(ctx, a, "min-memory", &vm->dm.minimum) < 0 ||
	    cmd_size(ctx, a, "max-memory", &vm->dm.maximum) < 0)
		return -1;
	if ((r = cmd_num(ctx, a, "buffer", &n)) < 0)
		return -1;
	if (r > 0)
		vm->dm.buffer = n < -1 || n > 1000000 ? -1 : (int)n;
	if ((r = cmd_num(ctx, a, "priority", &n)) < 0)
		return -1;
	if (r > 0)
		vm->dm.priority = n < -1 || n > 1000000 ? -1 : (int)n;
	if (set_path(ctx, a, "kernel", vm->kernel, sizeof vm->kernel) ||
	    set_path(ctx, a, "initrd", vm->initrd, sizeof vm->initrd) ||
	    set_path(ctx, a, "cmdline", vm->cmdline, sizeof vm->cmdline) ||
	    set_path(ctx, a, "firmware", vm->firmware, sizeof vm->firmware) ||
	    set_path(ctx, a, "boot-order", vm->boot_order, sizeof vm->boot_order) ||
	    set_path(ctx, a, "notes", vm->notes, sizeof vm->notes))
		return -1;
	return 0;
}

static int
add_disks(struct cmd_ctx *ctx, const struct cmd_args *a, const char *opt,
	  struct hv_vm *vm)
{
	const char *paths[CMD_MAX_LIST];
	int n = cmd_list(a, opt, paths, CMD_MAX_LIST);

	for (int i = 0; i < n; i++) {
		if (vm->ndisks == HV_MAX_DISKS) {
			cmd_usage_error(ctx, "at most %d disks", HV_MAX_DISKS);
			return -1;
		}
		if (strlen(paths[i]) >= HV_PATH_MAX) {
			cmd_usage_error(ctx, "--%s: path too long", opt);
			return -1;
		}
		snprintf(vm->disks[vm->ndisks++], HV_PATH_MAX, "%s", paths[i]);
	}
	return 0;
}

/* create's --dvd ISO and --dvd-drive (empty), in the order given */
static int
add_dvds(struct cmd_ctx *ctx, const struct cmd_args *a, struct hv_vm *vm)
{
	for (int i = 0; i < a->nset; i++) {
		const char *name = a->set[i].opt->name, *iso = a->set[i].val;

		if (strcmp(name, "dvd") != 0 && strcmp(name, "dvd-drive") != 0)
			continue;
		if (vm->ndvds == HV_MAX_DVDS) {
			cmd_usage_error(ctx, "at most %d DVD drives", HV_MAX_DVDS);
			return -1;
		}
		if (iso != NULL && iso[0] == '\0') {
			cmd_usage_error(ctx, "--dvd: give an ISO image (--dvd-drive adds an empty drive)");
			return -1;
		}
		if (iso != NULL && strlen(iso) >= HV_PATH_MAX) {
			cmd_usage_error(ctx, "--dvd: path too long");
			return -1;
		}
		snprintf(vm->dvds[vm->ndvds++], HV_PATH_MAX, "%s", iso ? iso : "");
	}
	return 0;
}

/* --- verbs ------------------------------------------------------------- */

static enum cmd_ret
vm_create(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv;
	struct hv_vm vm;
	struct hv_err err;
	long long gen;
	int r;

	if (!hv_name_valid(a->pos[0], &err))
		return cmd_error(ctx, &err);
	if ((hv = cmd_hv(ctx)) == NULL)
		return CMD_FAIL;
	hv_vm_init(hv, &vm);
	snprintf(vm.name, sizeof vm.name, "%s", a->pos[0]);
	if ((r = cmd_num(ctx, a, "gen", &gen)) < 0)
		return CMD_USAGE;
	if (r > 0)
		vm.generation = gen < 0 || gen > 9 ? -1 : (int)gen;
	if (apply_settings(ctx, a, &vm) != 0 || add_disks(ctx, a, "disk", &vm) != 0 ||
	    add_dvds(ctx, a, &vm) != 0)
		return CMD_USAGE;
	if (cmd_flag(a, "dynamic-memory"))
		vm.dm.enabled = true;
	/* dynamic memory defaults fit around the startup memory given */
	if (vm.dm.enabled && !cmd_str(a, "min-memory") && vm.dm.minimum > vm.memory)
		vm.dm.minimum = vm.memory;
	if (vm.dm.enabled && !cmd_str(a, "max-memory") && vm.dm.maximum < vm.memory)
		vm.dm.maximum = vm.memory;
	if (hv_vm_create(hv, &vm, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json"))
		cmd_print_json(ctx, vm_json(&vm));
	else
		fprintf(ctx->out, "created VM %s (generation %d, %s)\n", vm.name, vm.generation, vm.uuid);
	return CMD_OK;
}

static enum cmd_ret
vm_list(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_vm *vms;
	struct hv_err err;
	size_t n;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_vm_list(hv, &vms, &n, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json")) {
		cJSON *l = cJSON_CreateArray();

		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(l, vm_json(&vms[i]));
		cmd_print_json(ctx, l);
	} else {
		fprintf(ctx->out, "%-20s %-9s %3s %5s %-14s %5s %-9s %7s\n", "NAME", "STATE", "GEN",
			"VCPUS", "MEMORY", "DISKS", "UPTIME", "PID");
		for (size_t i = 0; i < n; i++) {
			char mem[64], up[32], pid[16] = "-";

			memory_summary(&vms[i], mem, sizeof mem);
			format_uptime(vm_uptime(&vms[i]), up, sizeof up);
			if (vm_running(&vms[i]))
				snprintf(pid, sizeof pid, "%d", vms[i].pid);
			fprintf(ctx->out, "%-20s %-9s %3d %5d %-14s %5d %-9s %7s\n", vms[i].name,
				vms[i].state, vms[i].generation, vms[i].vcpus, mem, vms[i].ndisks,
				up, pid);
		}
	}
	free(vms);
	return CMD_OK;
}

static enum cmd_ret
vm_show(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_vm vm;
	struct hv_err err;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_vm_get(hv, a->pos[0], &vm, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json")) {
		cJSON *j = vm_json(&vm);
		char *reply = NULL, tail[2048];

		/* a running VM's worker adds its counters */
		if (vm_running(&vm) &&
		    hv_vm_request(hv, vm.name, "{\"cmd\": \"stats\"}", &reply, &err) == 0) {
			cJSON *r = cJSON_Parse(reply);
			cJSON *stats = cJSON_DetachItemFromObject(r, "stats");

			if (stats != NULL)
				cJSON_AddItemToObject(j, "runtime", stats);
			cJSON_Delete(r);
			free(reply);
		}
		if (strcmp(vm.state, "Failed") == 0 &&
		    hv_vm_log_tail(hv, vm.name, 5, tail, sizeof tail) == 0)
			cJSON_AddStringToObject(j, "log_tail", tail);
		cmd_print_json(ctx, j);
	} else {
		vm_print(ctx, &vm);
		if (strcmp(vm.state, "Failed") == 0) {
			char tail[2048];

			if (hv_vm_log_tail(hv, vm.name, 5, tail, sizeof tail) == 0 && tail[0])
				fprintf(ctx->out, "Last log lines (worker died):\n%s\n", tail);
		}
	}
	return CMD_OK;
}

static int
remove_disks(struct cmd_ctx *ctx, const struct cmd_args *a, struct hv_vm *vm)
{
	const char *paths[CMD_MAX_LIST];
	int n = cmd_list(a, "remove-disk", paths, CMD_MAX_LIST);

	for (int i = 0; i < n; i++) {
		char abs[HV_PATH_MAX];
		int k, found = -1;

		if (realpath(paths[i], abs) == NULL)
			snprintf(abs, sizeof abs, "%s", paths[i]);
		for (k = 0; k < vm->ndisks; k++)
			if (strcmp(vm->disks[k], abs) == 0 || strcmp(vm->disks[k], paths[i]) == 0)
				found = k;
		if (found < 0) {
			cmd_usage_error(ctx, "disk %s is not attached to VM '%s'", paths[i], vm->name);
			return -1;
		}
		memmove(vm->disks[found], vm->disks[found + 1],
			(size_t)(vm->ndisks - found - 1) * sizeof vm->disks[0]);
		/* its QoS goes with it; the others move up with their disks */
		memmove(&vm->disk_qos[found], &vm->disk_qos[found + 1],
			(size_t)(vm->ndisks - found - 1) * sizeof vm->disk_qos[0]);
		vm->ndisks--;
		memset(&vm->disk_qos[vm->ndisks], 0, sizeof vm->disk_qos[0]);
	}
	return 0;
}

static enum cmd_ret
vm_set(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_vm vm;
	struct hv_err err;
	const char *dm, *name;
	long long gen;
	int r;

	if (hv == NULL)
		return CMD_FAIL;
	if (a->nset == 0)
		return cmd_usage_error(ctx, "vm set: nothing to change (see hv vm set --help)");
	if (hv_vm_get(hv, a->pos[0], &vm, &err) != 0)
		return cmd_error(ctx, &err);
	if ((r = cmd_num(ctx, a, "gen", &gen)) < 0)
		return CMD_USAGE;
	if (r > 0 && gen != vm.generation)
		return cmd_usage_error(ctx, "the generation of a VM cannot change after creation (VM '%s' is generation %d)",
				       vm.name, vm.generation);
	if ((name = cmd_str(a, "name")) != NULL) {
		if (!hv_name_valid(name, &err))
			return cmd_error(ctx, &err);
		snprintf(vm.name, sizeof vm.name, "%s", name);
	}
	if (apply_settings(ctx, a, &vm) != 0 || remove_disks(ctx, a, &vm) != 0 ||
	    add_disks(ctx, a, "add-disk", &vm) != 0)
		return CMD_USAGE;
	if ((dm = cmd_str(a, "dynamic-memory")) != NULL) {
		if (strcmp(dm, "on") == 0)
			vm.dm.enabled = true;
		else if (strcmp(dm, "off") == 0)
			vm.dm.enabled = false;
		else
			return cmd_usage_error(ctx, "--dynamic-memory: '%s': use on or off", dm);
	}
	if (hv_vm_update(hv, a->pos[0], &vm, &err) != 0)
		return cmd_error(ctx, &err);
	if (hv_vm_get(hv, vm.name, &vm, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json"))
		cmd_print_json(ctx, vm_json(&vm));
	else
		fprintf(ctx->out, "updated VM %s\n", vm.name);
	return CMD_OK;
}

static enum cmd_ret
vm_delete(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_err err;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_vm_delete(hv, a->pos[0], &err) != 0)
		return cmd_error(ctx, &err);
	fprintf(ctx->out, "deleted VM %s (its disk files are kept)\n", a->pos[0]);
	return CMD_OK;
}

/* a folder (there, or named with a trailing '/'): the whole VM */
static bool
export_whole(const char *arg)
{
	size_t n = strlen(arg);
	struct stat st;

	return (n > 0 && arg[n - 1] == '/') || (stat(arg, &st) == 0 && S_ISDIR(st.st_mode));
}

static void
export_print(struct cmd_ctx *ctx, const char *vm, const struct hv_export_result *r, bool json)
{
	if (json) {
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "event", "done");
		cJSON_AddStringToObject(j, "vm", vm);
		cJSON_AddStringToObject(j, "path", r->path);
		cJSON_AddBoolToObject(j, "live", r->live);
		cJSON_AddBoolToObject(j, "memory", r->state);
		cJSON_AddNumberToObject(j, "total_ms", (double)r->total_ms);
		cJSON_AddNumberToObject(j, "pause_us", (double)r->pause_us);
		cJSON_AddNumberToObject(j, "rounds", r->rounds);
		cJSON_AddNumberToObject(j, "disk_bytes", (double)r->disk_bytes);
		cJSON_AddNumberToObject(j, "state_bytes", (double)r->state_bytes);
		cmd_print_json(ctx, j);
		return;
	}
	fprintf(ctx->out, "exported VM %s to %s in %.1f s (disks %.1f MiB%s)", vm, r->path,
		(double)r->total_ms / 1000, (double)r->disk_bytes / HV_MIB,
		r->state ? ", with its memory" : "");
	if (r->live)
		fprintf(ctx->out, ": copied while it ran, paused %.1f ms", (double)r->pause_us / 1000);
	fputc('\n', ctx->out);
}

static enum cmd_ret
vm_export(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct cmd_progress p = { .ctx = ctx, .what = "export", .json = cmd_flag(a, "json"),
				  .last_pct = -1 };
	struct hv_export_opts o = { .memory = cmd_flag(a, "memory"), .ctx = &p };
	struct hv_export_result r;
	struct hv_err err;
	int rc;

	if (hv == NULL)
		return CMD_FAIL;
	if (!export_whole(a->pos[1])) {	/* the definition only, as ever */
		if (o.memory)
			return cmd_usage_error(ctx, "vm export: --memory needs a folder (DIR) to export into");
		if (hv_vm_export(hv, a->pos[0], a->pos[1], &err) != 0)
			return cmd_error(ctx, &err);
		fprintf(ctx->out, "exported VM %s to %s\n", a->pos[0], a->pos[1]);
		return CMD_OK;
	}
	if (p.json || (cmd_flag(a, "progress") && (ctx->tty || ctx->on_progress)))
		o.progress = cmd_progress_cb;
	rc = hv_vm_export_dir(hv, a->pos[0], a->pos[1], &o, &r, &err);
	cmd_progress_end(&p);
	if (rc != 0)
		return cmd_error(ctx, &err);
	export_print(ctx, a->pos[0], &r, p.json);
	return CMD_OK;
}

static enum cmd_ret
vm_import(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_vm vm;
	struct hv_err err;
	const char *name = cmd_str(a, "name");

	if (hv == NULL)
		return CMD_FAIL;
	if (name != NULL && !hv_name_valid(name, &err))
		return cmd_error(ctx, &err);
	if (hv_vm_import(hv, a->pos[0], name, cmd_flag(a, "new-uuid"), &vm, &err) != 0)
		return cmd_error(ctx, &err);
	if (cmd_flag(a, "json"))
		cmd_print_json(ctx, vm_json(&vm));
	else
		fprintf(ctx->out, "imported VM %s (%s)\n", vm.name, vm.uuid);
	return CMD_OK;
}

static enum cmd_ret
vm_start(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_err err;
	struct hv_vm vm;

	if (hv == NULL)
		return CMD_FAIL;
	if (hv_vm_start(hv, a->pos[0], &err) != 0)
		return cmd_error(ctx, &err);
	if (hv_vm_get(hv, a->pos[0], &vm, &err) != 0)
		return cmd_error(ctx, &err);
	fprintf(ctx->out, "started VM %s (worker pid %d)\n", vm.name, vm.pid);
	return CMD_OK;
}

/* the verbs that are one request and one line of output */
static enum cmd_ret
simple_action(struct cmd_ctx *ctx, const struct cmd_args *a,
	      int (*fn)(struct hv_ctx *, const char *, struct hv_err *),
	      const char *done)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_err err;

	if (hv == NULL)
		return CMD_FAIL;
	if (fn(hv, a->pos[0], &err) != 0)
		return cmd_error(ctx, &err);
	fprintf(ctx->out, "%s VM %s\n", done, a->pos[0]);
	return CMD_OK;
}

static enum cmd_ret
vm_stop(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	return simple_action(ctx, a, hv_vm_stop, "turned off");
}

static enum cmd_ret
vm_pause(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	return simple_action(ctx, a, hv_vm_pause, "paused");
}

static enum cmd_ret
vm_save(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	return simple_action(ctx, a, hv_vm_save, "saved");
}

static enum cmd_ret
vm_resume(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	return simple_action(ctx, a, hv_vm_resume, "resumed");
}

static enum cmd_ret
vm_shutdown(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	struct hv_ctx *hv = cmd_hv(ctx);
	struct hv_err err;
	long long timeout = 60;
	int r;

	if (hv == NULL)
		return CMD_FAIL;
	if (cmd_num(ctx, a, "timeout", &timeout) < 0)
		return CMD_USAGE;
	if (timeout < 0 || timeout > 86400)
		return cmd_usage_error(ctx, "--timeout %lld: must be 0..86400 seconds", timeout);
	if (cmd_flag(a, "force") && cmd_flag(a, "keep-on"))
		return cmd_usage_error(ctx, "--force and --keep-on contradict each other");
	r = hv_vm_shutdown(hv, a->pos[0], (int)timeout, !cmd_flag(a, "keep-on"), &err);
	if (r < 0)
		return cmd_error(ctx, &err);
	if (timeout == 0)
		fprintf(ctx->out, "asked VM %s to shut down\n", a->pos[0]);
	else if (r == 1)
		fprintf(ctx->out, "VM %s did not shut down within %lld s: turned it off\n",
			a->pos[0], timeout);
	else
		fprintf(ctx->out, "VM %s shut down\n", a->pos[0]);
	return CMD_OK;
}

static enum cmd_ret
vm_console(struct cmd_ctx *ctx, const struct cmd_args *a)
{
	return console_attach(ctx, a->pos[0]);
}

static const struct cmd_verb vm_verbs[] = {
	{ "list", "", 0, 0, ARG_NONE, json_opts, "list virtual machines", vm_list },
	{ "show", "NAME", 1, 1, ARG_VM, json_opts, "show one VM's settings", vm_show },
	{ "create", "NAME", 1, 1, ARG_NONE, create_opts, "create a virtual machine", vm_create },
	{ "set", "NAME", 1, 1, ARG_VM, set_opts, "change a VM's settings (while it is off)", vm_set },
	{ "delete", "NAME", 1, 1, ARG_VM, NULL, "delete a VM (its disks are kept)", vm_delete },
	{ "export", "NAME FILE|DIR", 2, 2, ARG_VM, export_opts,
	  "write a VM's definition to FILE, or export the whole VM (disks, --memory) into DIR/NAME/, "
	  "also while it runs", vm_export },
	{ "import", "FILE", 1, 1, ARG_PATH, import_opts, "register a VM from an exported definition", vm_import },
	{ "start", "NAME", 1, 1, ARG_VM, NULL, "start a VM in its own worker process", vm_start },
	{ "stop", "NAME", 1, 1, ARG_VM, NULL, "turn a VM off at once (like pulling the plug)", vm_stop },
	{ "shutdown", "NAME", 1, 1, ARG_VM, shutdown_opts, "press the power button; turn off after --timeout", vm_shutdown },
	{ "pause", "NAME", 1, 1, ARG_VM, NULL, "pause a running VM", vm_pause },
	{ "resume", "NAME", 1, 1, ARG_VM, NULL, "resume a paused VM", vm_resume },
	{ "save", "NAME", 1, 1, ARG_VM, NULL, "save a VM's state and stop it; start restores it", vm_save },
	{ "console", "NAME", 1, 1, ARG_VM, NULL, "attach to the serial console (Ctrl-] detaches)", vm_console },
	{ "migrate", "NAME", 1, 1, ARG_VM, cmd_vm_migrate_opts,
	  "live-migrate a running VM to another host: --to HOST[:PORT] [--storage] [--max-downtime MS]",
	  cmd_vm_migrate },
	{ "nic", "add|set|remove|list VM [SLOT]", 2, 3, ARG_WORD, cmd_vm_nic_opts,
	  "network adapters: add VM --switch S, set VM SLOT, remove VM SLOT, list VM", cmd_vm_nic },
	{ "disk", "set|list VM [DISK]", 2, 3, ARG_WORD, cmd_vm_disk_opts,
	  "virtual disks' storage QoS: set VM DISK --max-iops N --min-iops N --max-bandwidth SIZE/s, list VM",
	  cmd_vm_disk },
	{ "dvd", "add|set|remove|list VM [SLOT]", 2, 3, ARG_WORD, cmd_vm_dvd_opts,
	  "DVD drives and their ISO media: add VM [--iso PATH], set VM SLOT --iso PATH|--eject "
	  "(also while it runs), remove VM SLOT, list VM", cmd_vm_dvd },
	{ "metrics", "NAME", 1, 1, ARG_VM, cmd_vm_metrics_opts,
	  "resource use (Measure-VM): average CPU, memory, disk and network; "
	  "what each network adapter carried and dropped", cmd_vm_metrics },
	{ NULL, NULL, 0, 0, ARG_NONE, NULL, NULL, NULL },
};

const struct cmd_noun cmd_vm_noun = {
	.name = "vm",
	.help = "virtual machines",
	.verbs = vm_verbs,
};
