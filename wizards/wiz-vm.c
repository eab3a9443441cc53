/*
 * wiz-vm.c - the New Virtual Machine wizard and the settings (dynamic
 * memory) wizard of an existing VM. Their answers become `hv disk
 * create` + `hv vm create`, or one `hv vm set` with what changed.
 */
#include <stdlib.h>
#include <string.h>

#include "engine/disk/disk.h"
#include "wizards/wiz-int.h"

/* the memory fields both wizards ask, in Hyper-V's words */
#define MEMORY_FIELDS \
	{ "vcpus", "Virtual processors", WF_NUMBER, "how many vCPUs the VM sees", NULL, 1, HV_VCPUS_MAX, WIZ_REQUIRED }, \
	{ "memory", "Startup memory", WF_SIZE, "memory the VM starts with (a multiple of 2M, at least 32M)", NULL, 0, 0, WIZ_REQUIRED }, \
	{ "dynamic-memory", "Dynamic memory", WF_TOGGLE, "grow and shrink memory with the guest's demand (space toggles)", NULL, 0, 0, 0 }, \
	{ "min-memory", "Minimum memory", WF_SIZE, "never less than this, at most the startup memory", NULL, 0, 0, WIZ_REQUIRED }, \
	{ "max-memory", "Maximum memory", WF_SIZE, "never more than this, at least the startup memory", NULL, 0, 0, WIZ_REQUIRED }, \
	{ "buffer", "Memory buffer %", WF_NUMBER, "memory kept above demand, percent (5..2000)", NULL, 5, 2000, WIZ_REQUIRED }, \
	{ "priority", "Memory weight", WF_NUMBER, "who gets memory first under pressure (0..100)", NULL, 0, 100, WIZ_REQUIRED }

#define BOOT_FIELDS \
	{ "kernel", "Kernel", WF_PATH, "Gen2 boots this kernel directly (PVH ELF or bzImage); empty: set it later", NULL, 0, 0, WIZ_EXISTS }, \
	{ "initrd", "Initial ramdisk", WF_PATH, "Gen2: initrd loaded beside the kernel (optional)", NULL, 0, 0, WIZ_EXISTS }, \
	{ "cmdline", "Command line", WF_TEXT, "Gen2: kernel command line, e.g. console=ttyS0", NULL, 0, 0, 0 }, \
	{ "firmware", "BIOS image", WF_PATH, "Gen1: SeaBIOS boots the first disk; empty: the host's default", NULL, 0, 0, WIZ_EXISTS }, \
	{ "boot-order", "Boot order", WF_TEXT, "Gen1: dvd,disk,net in the order to try (net: PXE through iPXE); empty: dvd,disk", NULL, 0, 0, 0 }

static const struct wiz_field_def new_vm_fields[] = {
	{ "name", "Name", WF_TEXT, "1..63 of A-Z a-z 0-9 . _ - (not starting with - or .)", NULL, 0, 0, WIZ_REQUIRED | WIZ_NAME },
	{ "generation", "Generation", WF_CHOICE, "2: direct kernel boot, virtio only; 1: legacy BIOS. Fixed once created", "2|1", 0, 0, 0 },
	MEMORY_FIELDS,
	{ "switch", "Connection", WF_CHOICE, "a virtual switch (create switches first) or not connected", "not connected", 0, 0, 0 },
	{ "vlan", "VLAN ID", WF_NUMBER, "the VLAN the adapter is in, 1..4094 (an access port); 0: none", NULL, 0, 4094, WIZ_REQUIRED },
	{ "disk", "Virtual hard disk", WF_CHOICE, "create a new disk, use an existing one, or attach one later", "new|existing|later", 0, 0, 0 },
	{ "disk-format", "Format", WF_CHOICE, "VHDX (up to 64T), VHD (up to 2040G), qcow2 or raw", "vhdx|vhd|qcow2|raw", 0, 0, 0 },
	{ "disk-type", "Type", WF_CHOICE, "dynamic grows as written; fixed reserves the space now (faster)", "dynamic|fixed", 0, 0, 0 },
	{ "disk-size", "Size", WF_SIZE, "virtual size the guest sees", NULL, 0, 0, WIZ_REQUIRED },
	{ "disk-path", "Location", WF_PATH, "the new image file (must not exist yet)", NULL, 0, 0, WIZ_REQUIRED | WIZ_NEW },
	{ "existing-disk", "Existing disk", WF_PATH, "an image file: raw, VHD, VHDX, qcow2 or VMDK", NULL, 0, 0, WIZ_REQUIRED | WIZ_EXISTS },
	{ "install", "Installation", WF_CHOICE, "install an operating system later, from a bootable ISO image in a DVD drive, or from a network installation server (PXE, generation 1)", "later|iso|net", 0, 0, 0 },
	{ "iso", "Image file (.iso)", WF_PATH, "a bootable ISO image; generation 1 boots its DVD first", NULL, 0, 0, WIZ_REQUIRED | WIZ_EXISTS },
	BOOT_FIELDS,
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0 },
};

static const struct wiz_page_def new_vm_pages[] = {
	{ "Name and Generation", "Name the VM and choose its generation; the generation cannot change later.",
	  { "name", "generation", NULL } },
	{ "Memory and Processors", "Startup memory, and with dynamic memory the range it moves in.",
	  { "vcpus", "memory", "dynamic-memory", "min-memory", "max-memory", "buffer", "priority", NULL } },
	{ "Networking", "Each network adapter connects to a virtual switch, which must exist first.",
	  { "switch", "vlan", NULL } },
	{ "Virtual Hard Disk", "Create a virtual hard disk, use an existing one, or attach one later.",
	  { "disk", "disk-format", "disk-type", "disk-size", "disk-path", "existing-disk", NULL } },
	{ "Installation Options", "Install an operating system from an ISO image or a network installation server now, or later.",
	  { "install", "iso", NULL } },
	{ "Boot", "Generation 2 boots a kernel directly; generation 1 boots its BIOS from a DVD or the disk.",
	  { "kernel", "initrd", "cmdline", "firmware", "boot-order", NULL } },
	{ NULL, NULL, { NULL } },
};

static void
memory_defaults(struct wizard *w, const struct hv_vm *vm)
{
	char s[32];

	wiz_default(w, "vcpus", "%d", vm->vcpus);
	hv_format_size(vm->memory, s, sizeof s);
	wiz_default(w, "memory", "%s", s);
	wiz_default(w, "dynamic-memory", "%s", vm->dm.enabled ? "on" : "off");
	hv_format_size(vm->dm.minimum, s, sizeof s);
	wiz_default(w, "min-memory", "%s", s);
	hv_format_size(vm->dm.maximum, s, sizeof s);
	wiz_default(w, "max-memory", "%s", s);
	wiz_default(w, "buffer", "%d", vm->dm.buffer);
	wiz_default(w, "priority", "%d", vm->dm.priority);
}

static void
boot_visibility(struct wizard *w, bool gen2)
{
	wiz_show(w, "kernel", gen2);
	wiz_show(w, "initrd", gen2);
	wiz_show(w, "cmdline", gen2);
	wiz_show(w, "firmware", !gen2);
	wiz_show(w, "boot-order", !gen2);
}

static void
memory_visibility(struct wizard *w)
{
	bool dm = wiz_is(w, "dynamic-memory", "on");
	uint64_t mem = wiz_size(w, "memory"), lo = w->vm.dm.minimum, hi = w->vm.dm.maximum;
	char s[32];

	wiz_show(w, "min-memory", dm);
	wiz_show(w, "max-memory", dm);
	wiz_show(w, "buffer", dm);
	wiz_show(w, "priority", dm);
	/* untouched, the range fits around the startup memory given (as
	   hv vm create does), from the defaults, not from a half-typed value */
	if (mem < HV_MEM_MIN || mem % HV_MEM_ALIGN != 0)
		return;
	hv_format_size(lo < mem ? lo : mem, s, sizeof s);
	wiz_default(w, "min-memory", "%s", s);
	hv_format_size(hi > mem ? hi : mem, s, sizeof s);
	wiz_default(w, "max-memory", "%s", s);
}

/* minimum <= startup <= maximum, each a legal memory size */
int
wiz_memory_rules(struct wizard *w, struct hv_err *err)
{
	static const char *const ids[] = { "memory", "min-memory", "max-memory" };
	uint64_t mem = wiz_size(w, "memory"), lo = wiz_size(w, "min-memory");
	uint64_t hi = wiz_size(w, "max-memory");
	bool dm = wiz_is(w, "dynamic-memory", "on");
	char a[32], b[32];

	for (int i = 0; i < (dm ? 3 : 1); i++) {
		uint64_t v = wiz_size(w, ids[i]);
		const char *label = wiz_find(w, ids[i])->label;

		hv_format_size(v, a, sizeof a);
		if (v % HV_MEM_ALIGN != 0)
			return wiz_blame(w, ids[i], err, HV_EUSAGE, "%s %s is not a multiple of 2M", label, a);
		if (v < HV_MEM_MIN || v > HV_MEM_MAX)
			return wiz_blame(w, ids[i], err, HV_EUSAGE, "%s %s: must be 32M..12T", label, a);
	}
	if (!dm)
		return 0;
	hv_format_size(lo, a, sizeof a);
	hv_format_size(hi, b, sizeof b);
	if (lo > hi)
		return wiz_blame(w, "min-memory", err, HV_EUSAGE,
				 "minimum memory %s is above maximum memory %s", a, b);
	hv_format_size(mem, b, sizeof b);
	if (lo > mem)
		return wiz_blame(w, "min-memory", err, HV_EUSAGE,
				 "minimum memory %s is above startup memory %s", a, b);
	hv_format_size(hi, a, sizeof a);
	if (mem > hi)
		return wiz_blame(w, "max-memory", err, HV_EUSAGE,
				 "maximum memory %s is below startup memory %s", a, b);
	return 0;
}

static int
boot_rules(struct wizard *w, struct hv_err *err)
{
	struct hv_err e2;

	if (!wiz_find(w, "initrd")->hidden && wiz_get(w, "initrd")[0] && !wiz_get(w, "kernel")[0])
		return wiz_blame(w, "kernel", err, HV_EUSAGE, "an initrd needs a kernel");
	if (!wiz_find(w, "boot-order")->hidden && hv_boot_order_check(wiz_get(w, "boot-order"), &e2) != 0)
		return wiz_blame(w, "boot-order", err, e2.code, "%s", e2.msg);
	return 0;
}

/* --- New Virtual Machine ----------------------------------------------- */

static int
new_vm_init(struct wizard *w, const char *target, struct hv_err *err)
{
	const struct hv_config *c = hv_config(w->hv);
	struct hv_switch *sw;
	size_t n;

	hv_vm_init(w->hv, &w->vm);	/* the host's defaults */
	if (target != NULL)
		wiz_default(w, "name", "%s", target);
	wiz_default(w, "generation", "%d", w->vm.generation);
	memory_defaults(w, &w->vm);
	if (hv_switch_list(w->hv, &sw, &n, err) != 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		wiz_choices_add(w, "switch", sw[i].name);
	free(sw);
	if (disk_format_parse(c->def_disk_format) != DISK_FMT_NONE &&
	    strcmp(c->def_disk_format, "vmdk") != 0)
		wiz_default(w, "disk-format", "%s", c->def_disk_format);
	wiz_default(w, "disk-size", "127G");	/* Hyper-V's default */
	wiz_default(w, "vlan", "0");
	return 0;
}

static void
new_vm_update(struct wizard *w)
{
	bool gen2 = wiz_is(w, "generation", "2");
	const char *disk = wiz_get(w, "disk");
	const char *name = wiz_get(w, "name");

	memory_visibility(w);
	wiz_show(w, "vlan", !wiz_is(w, "switch", "not connected"));
	wiz_show(w, "disk-format", strcmp(disk, "new") == 0);
	wiz_show(w, "disk-type", strcmp(disk, "new") == 0);
	wiz_show(w, "disk-size", strcmp(disk, "new") == 0);
	wiz_show(w, "disk-path", strcmp(disk, "new") == 0);
	wiz_show(w, "existing-disk", strcmp(disk, "existing") == 0);
	wiz_show(w, "iso", wiz_is(w, "install", "iso"));
	boot_visibility(w, gen2);
	/* the disk is named after the VM until the admin names it */
	wiz_default(w, "disk-path", "%s/%s.%s", hv_config(w->hv)->disk_dir,
		    name[0] ? name : "disk", wiz_disk_ext(wiz_get(w, "disk-format")));
}

/* the switch must still exist; the adapter's VLAN is tagged by its port
   in the worker, so any bridge carries it */
static int
switch_rules(struct wizard *w, struct hv_err *err)
{
	struct hv_switch sw;
	struct hv_err e2;

	if (wiz_is(w, "switch", "not connected"))
		return 0;
	if (hv_switch_get(w->hv, wiz_get(w, "switch"), &sw, &e2) != 0)
		return wiz_blame(w, "switch", err, e2.code, "%s", e2.msg);
	return 0;
}

static int
new_vm_rules(struct wizard *w, int page, struct hv_err *err)
{
	char abs[HV_PATH_MAX];
	struct hv_vm vm;
	struct hv_err e2;

	switch (page) {
	case 0:
		if (hv_vm_get(w->hv, wiz_get(w, "name"), &vm, &e2) == 0)
			return wiz_blame(w, "name", err, HV_EEXIST, "a VM named '%s' already exists", vm.name);
		return 0;
	case 1:
		return wiz_memory_rules(w, err);
	case 2:
		return switch_rules(w, err);
	case 3:
		if (wiz_is(w, "disk", "new"))
			return wiz_disk_size_rules(w, wiz_get(w, "disk-format"),
						   wiz_size(w, "disk-size"), "disk-size", err);
		if (wiz_is(w, "disk", "existing") &&
		    !wiz_disk_opens(wiz_get(w, "existing-disk"), &e2))
			return wiz_blame(w, "existing-disk", err, HV_ECORRUPT, "%s", e2.msg);
		return 0;
	case 4:
		if (wiz_is(w, "install", "iso") && hv_iso_check(wiz_get(w, "iso"), abs, &e2) != 0)
			return wiz_blame(w, "iso", err, e2.code, "%s", e2.msg);
		if (wiz_is(w, "install", "net") && wiz_is(w, "switch", "not connected"))
			return wiz_blame(w, "install", err, HV_EUSAGE,
					 "a network installation needs a network adapter: connect one on the Networking page");
		if (wiz_is(w, "install", "net") && wiz_is(w, "generation", "2"))
			return wiz_blame(w, "install", err, HV_EUSAGE,
					 "network installation boots generation 1 VMs (iPXE); generation 2 boots a kernel directly");
		return 0;
	case 5:
		return boot_rules(w, err);
	}
	return 0;
}

static void
new_vm_script(struct wizard *w, FILE *f)
{
	const char *name = wiz_get(w, "name"), *disk = NULL;
	bool dm = wiz_is(w, "dynamic-memory", "on"), gen2 = wiz_is(w, "generation", "2");

	fprintf(f, "# generation %s, %s vCPU, %s startup memory", wiz_get(w, "generation"),
		wiz_get(w, "vcpus"), wiz_get(w, "memory"));
	if (dm)
		fprintf(f, ", dynamic %s..%s", wiz_get(w, "min-memory"), wiz_get(w, "max-memory"));
	fputc('\n', f);
	if (wiz_is(w, "disk", "new")) {
		disk = wiz_get(w, "disk-path");
		fprintf(f, "# a new %s %s disk of %s\n", wiz_get(w, "disk-type"),
			wiz_get(w, "disk-format"), wiz_get(w, "disk-size"));
		fprintf(f, "hv disk create");
		wiz_word(f, disk);
		wiz_opt(f, "--format", wiz_get(w, "disk-format"));
		wiz_opt_size(f, "--size", wiz_size(w, "disk-size"));
		if (wiz_is(w, "disk-type", "fixed"))
			wiz_opt(f, "--fixed", NULL);
		fputc('\n', f);
	} else if (wiz_is(w, "disk", "existing")) {
		disk = wiz_get(w, "existing-disk");
	}
	fprintf(f, "hv vm create");
	wiz_word(f, name);
	wiz_opt(f, "--gen", wiz_get(w, "generation"));
	wiz_opt(f, "--vcpus", wiz_get(w, "vcpus"));
	wiz_opt_size(f, "--memory", wiz_size(w, "memory"));
	if (dm) {
		wiz_opt(f, "--dynamic-memory", NULL);
		wiz_opt_size(f, "--min-memory", wiz_size(w, "min-memory"));
		wiz_opt_size(f, "--max-memory", wiz_size(w, "max-memory"));
		wiz_opt(f, "--buffer", wiz_get(w, "buffer"));
		wiz_opt(f, "--priority", wiz_get(w, "priority"));
	}
	if (disk != NULL)
		wiz_opt(f, "--disk", disk);
	if (gen2 && wiz_get(w, "kernel")[0])
		wiz_opt(f, "--kernel", wiz_get(w, "kernel"));
	if (gen2 && wiz_get(w, "initrd")[0])
		wiz_opt(f, "--initrd", wiz_get(w, "initrd"));
	if (gen2 && wiz_get(w, "cmdline")[0])
		wiz_opt(f, "--cmdline", wiz_get(w, "cmdline"));
	if (!gen2 && wiz_get(w, "firmware")[0])
		wiz_opt(f, "--firmware", wiz_get(w, "firmware"));
	if (!gen2 && wiz_get(w, "boot-order")[0])
		wiz_opt(f, "--boot-order", wiz_get(w, "boot-order"));
	else if (!gen2 && wiz_is(w, "install", "net"))
		wiz_opt(f, "--boot-order", "net,disk");	/* PXE first, as Hyper-V's wizard */
	if (wiz_is(w, "install", "iso"))
		wiz_opt(f, "--dvd", wiz_get(w, "iso"));
	fputc('\n', f);
	if (!wiz_is(w, "switch", "not connected")) {
		fprintf(f, "hv vm nic add");
		wiz_word(f, name);
		wiz_opt(f, "--switch", wiz_get(w, "switch"));
		if (wiz_num(w, "vlan") != 0)
			fprintf(f, " --vlan %lld", wiz_num(w, "vlan"));
		fputc('\n', f);
	}
	wiz_set_result(w, name);
}

const struct wiz_kind wiz_new_vm = {
	"new-vm", "New Virtual Machine", new_vm_fields, new_vm_pages,
	new_vm_init, new_vm_update, new_vm_rules, new_vm_script,
};

/* --- settings of an existing VM ---------------------------------------- */

static const struct wiz_field_def settings_fields[] = {
	{ "generation", "Generation", WF_CHOICE, "the generation is fixed when a VM is created", "1|2", 0, 0, 0 },
	MEMORY_FIELDS,
	BOOT_FIELDS,
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0 },
};

static const struct wiz_page_def settings_pages[] = {
	{ "Memory", "Memory and processors; with dynamic memory, the range it moves in. The VM must be off to apply.",
	  { "generation", "vcpus", "memory", "dynamic-memory", "min-memory", "max-memory", "buffer", "priority", NULL } },
	{ "Boot", "What the VM boots.", { "kernel", "initrd", "cmdline", "firmware", "boot-order", NULL } },
	{ NULL, NULL, { NULL } },
};

static int
settings_init(struct wizard *w, const char *target, struct hv_err *err)
{
	struct wiz_field *g;

	if (target == NULL)
		return hv_fail(err, HV_EUSAGE, "vm-settings: which VM?");
	if (hv_vm_get(w->hv, target, &w->vm, err) != 0)
		return -1;
	g = wiz_find(w, "generation");
	snprintf(g->value, sizeof g->value, "%d", w->vm.generation);
	g->readonly = true;
	memory_defaults(w, &w->vm);
	wiz_default(w, "kernel", "%s", w->vm.kernel);
	wiz_default(w, "initrd", "%s", w->vm.initrd);
	wiz_default(w, "cmdline", "%s", w->vm.cmdline);
	wiz_default(w, "firmware", "%s", w->vm.firmware);
	wiz_default(w, "boot-order", "%s", w->vm.boot_order);
	wiz_set_result(w, w->vm.name);
	return 0;
}

static void
settings_update(struct wizard *w)
{
	memory_visibility(w);
	boot_visibility(w, w->vm.generation == 2);
}

static int
settings_rules(struct wizard *w, int page, struct hv_err *err)
{
	return page == 0 ? wiz_memory_rules(w, err) : boot_rules(w, err);
}

/* one option when its value differs from the VM's */
static bool
changed_size(FILE *f, const char *opt, uint64_t now, uint64_t was)
{
	if (now == was)
		return false;
	wiz_opt_size(f, opt, now);
	return true;
}

static bool
changed_str(FILE *f, const char *opt, const char *now, const char *was)
{
	if (strcmp(now, was) == 0)
		return false;
	wiz_opt(f, opt, now);
	return true;
}

static void
settings_script(struct wizard *w, FILE *f)
{
	const struct hv_vm *vm = &w->vm;
	bool dm = wiz_is(w, "dynamic-memory", "on"), gen2 = vm->generation == 2, any = false;
	char *buf = NULL, num[3][16];
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);

	if (o == NULL)
		return;
	snprintf(num[0], sizeof num[0], "%d", vm->vcpus);
	snprintf(num[1], sizeof num[1], "%d", vm->dm.buffer);
	snprintf(num[2], sizeof num[2], "%d", vm->dm.priority);
	any |= changed_str(o, "--vcpus", wiz_get(w, "vcpus"), num[0]);
	any |= changed_size(o, "--memory", wiz_size(w, "memory"), vm->memory);
	any |= changed_str(o, "--dynamic-memory", dm ? "on" : "off", vm->dm.enabled ? "on" : "off");
	if (dm) {
		any |= changed_size(o, "--min-memory", wiz_size(w, "min-memory"), vm->dm.minimum);
		any |= changed_size(o, "--max-memory", wiz_size(w, "max-memory"), vm->dm.maximum);
		any |= changed_str(o, "--buffer", wiz_get(w, "buffer"), num[1]);
		any |= changed_str(o, "--priority", wiz_get(w, "priority"), num[2]);
	}
	if (gen2) {
		any |= changed_str(o, "--kernel", wiz_get(w, "kernel"), vm->kernel);
		any |= changed_str(o, "--initrd", wiz_get(w, "initrd"), vm->initrd);
		any |= changed_str(o, "--cmdline", wiz_get(w, "cmdline"), vm->cmdline);
	} else {
		any |= changed_str(o, "--firmware", wiz_get(w, "firmware"), vm->firmware);
		any |= changed_str(o, "--boot-order", wiz_get(w, "boot-order"), vm->boot_order);
	}
	fclose(o);
	if (!any) {
		fprintf(f, "# nothing changed: no command to run\n");
	} else {
		fprintf(f, "hv vm set");
		wiz_word(f, vm->name);
		fprintf(f, "%s\n", buf);
	}
	free(buf);
}

const struct wiz_kind wiz_vm_settings = {
	"vm-settings", "Settings: Memory and Boot", settings_fields, settings_pages,
	settings_init, settings_update, settings_rules, settings_script,
};
