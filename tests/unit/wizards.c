/*
 * wizards.c - every wizard driven headless, as the TUI drives it: the
 * defaults and what follows them, each validation rule (its message and
 * the field it names), Back keeping what was entered, and the script
 * Finish runs: through `hv -f` it must make exactly the VM or disk the
 * wizard promised (`hv vm show --json` and qemu-img are the oracles).
 * The New Virtual Switch wizard, and a VM's adapter on a switch, are in
 * wizards-switch.c; the Move Virtual Machine wizard in wizards-move.c.
 */
#include "tests/unit/wizard-test.h"

static bool have_qemu;

/* `hv vm show NAME --json` has the dynamic memory promised */
static void
vm_has_dm(const cJSON *j, const char *name, long long min, long long max, int buffer, int priority)
{
	ok(cJSON_IsTrue(jget(j, "dynamic_memory.enabled")), "%s: dynamic memory on", name);
	is_int(jnum(j, "dynamic_memory.minimum"), min, "%s: minimum %lld", name, min);
	is_int(jnum(j, "dynamic_memory.maximum"), max, "%s: maximum %lld", name, max);
	is_int(jnum(j, "dynamic_memory.buffer"), buffer, "%s: buffer %d%%", name, buffer);
	is_int(jnum(j, "dynamic_memory.priority"), priority, "%s: priority %d", name, priority);
}

/* qemu-img opens the image as fmt (told: it probes a fixed VHD, whose
   only header is its footer, as raw) and sees its virtual size */
static void
image_is(const char *path, const char *fmt, long long size)
{
	cJSON *j;

	if (!have_qemu) {
		ok(1, "# SKIP qemu-img is missing: %s not checked", path);
		return;
	}
	j = json_of("qemu-img info -f %s --output=json '%s'", fmt, path);
	ok(j != NULL && jstr(j, "format") != NULL && strcmp(jstr(j, "format"), fmt) == 0 &&
	   jnum(j, "virtual-size") == size, "qemu-img: %s is %s of %lld bytes", path, fmt, size);
	cJSON_Delete(j);
}

/* `hv disk info --json`: fixed, dynamic or differencing, and the parent
   it opens ("" for none) */
static void
hv_disk_is(const char *path, const char *subformat, const char *parent)
{
	cJSON *j = json_of("'%s' disk info '%s' --json", hvbin, path);
	const char *p = jstr(j, "chain.0.path");

	is_str(jstr(j, "subformat"), subformat, "hv disk info: %s is %s", path, subformat);
	is_str(p ? p : "", parent, "hv disk info: %s's parent is '%s'", path, parent);
	cJSON_Delete(j);
}

static void
make_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f != NULL) {
		fputs(text, f);
		fclose(f);
	}
}

/* a 64M VHDX with 5M of data, made by hv from a raw image */
static void
make_source(const char *path)
{
	const char *raw = tpath("src.img");

	ok(sh("seq 1000000 | head -c 5M > '%s' && truncate -s 64M '%s' && "
	      "'%s' disk convert '%s' '%s' --format vhdx >&2", raw, raw, hvbin, raw, path) == 0,
	   "a source disk with data");
}

/* --- the wizards ------------------------------------------------------- */

static void
kinds(void)
{
	struct hv_err err;
	int n = 0;

	while (wiz_kinds[n] != NULL)
		n++;
	is_int(n, 6, "six kinds of wizard");
	ok(wiz_new("nope", hv, NULL, &err) == NULL && strstr(err.msg, "no wizard 'nope'"),
	   "an unknown kind is refused: %s", err.msg);
	ok(wiz_new("vm-settings", hv, NULL, &err) == NULL, "vm-settings needs a VM: %s", err.msg);
	ok(wiz_new("vm-settings", hv, "ghost", &err) == NULL, "vm-settings of no VM: %s", err.msg);
}

static void
new_vm_defaults(void)
{
	struct wizard *w = open_wiz("new-vm", NULL);
	struct hv_err err;

	is_str(wiz_title(w), "New Virtual Machine", "new-vm: title");
	is_int(wiz_npages(w), 7, "new-vm: six pages and a summary");
	is_str(wiz_page_title(w, 4), "Installation Options", "new-vm: Hyper-V's Installation Options page");
	is_str(wiz_page_title(w, 6), "Summary", "new-vm: the summary comes last");
	is_int(wiz_nfields(w, 1), 7, "new-vm: seven fields about memory");
	has(w, "new-vm", "name", "", "generation", "2", "vcpus", "1", "memory", "1G",
	    "dynamic-memory", "off", "min-memory", "512M", "max-memory", "1T", "buffer", "20",
	    "priority", "50", "switch", "not connected", "vlan", "0", "disk", "new", "disk-format", "vhdx",
	    "disk-type", "dynamic", "disk-size", "127G", "kernel", "", "cmdline", "",
	    "disk-path", "@disks/disk.vhdx", NULL);
	set(w, "name", "web1", NULL);
	has(w, "new-vm, the disk follows the name", "disk-path", "@disks/web1.vhdx", NULL);
	set(w, "disk-format", "qcow2", NULL);
	has(w, "new-vm, the disk follows the format", "disk-path", "@disks/web1.qcow2", NULL);
	ok(wiz_cycle(w, "disk-format", 1, &err) == 0, "cycle the format");
	has(w, "new-vm, cycled to raw", "disk-path", "@disks/web1.img", NULL);
	set(w, "disk-path", "@mine.img", "name", "web2", "disk-format", "vhdx", NULL);
	has(w, "new-vm, a path the user set stays", "disk-path", "@mine.img", NULL);

	visible(w, "dynamic memory off", "", "min-memory max-memory buffer priority");
	visible(w, "not connected", "switch", "vlan");
	ok(wiz_cycle(w, "dynamic-memory", 1, &err) == 0, "space toggles dynamic memory");
	is_str(wiz_get(w, "dynamic-memory"), "on", "... on");
	visible(w, "dynamic memory on", "min-memory max-memory buffer priority", "");
	visible(w, "generation 2", "kernel initrd cmdline", "firmware");
	set(w, "generation", "1", NULL);
	visible(w, "generation 1", "firmware", "kernel initrd cmdline");
	visible(w, "a new disk", "disk-format disk-type disk-size disk-path", "existing-disk");
	set(w, "disk", "existing", NULL);
	visible(w, "an existing disk", "existing-disk", "disk-format disk-size disk-path");
	set(w, "disk", "later", NULL);
	visible(w, "a disk later", "", "existing-disk disk-format disk-path");
	wiz_free(w);

	w = open_wiz("new-vm", "preset");
	has(w, "new-vm on a target", "name", "preset", "disk-path", "@disks/preset.vhdx", NULL);
	wiz_free(w);
}

static const struct step new_vm_name_rules[] = {
	{ NULL, NULL, "name", "Name is required" },
	{ "name", "bad name", "name", "name 'bad name' contains ' '" },
	{ "name", "taken", "name", "a VM named 'taken' already exists" },
	{ "name", "rules", NEXT, "a free name" },
	{ "vcpus", "two", "vcpus", "Virtual processors: 'two' is not a whole number" },
	{ "vcpus", "0", "vcpus", "Virtual processors 0: must be 1..240" },
	{ "vcpus", "241", "vcpus", "Virtual processors 241: must be 1..240" },
	{ "vcpus", "4", NULL, NULL },
	{ "memory", "lots", "memory", "Startup memory: 'lots' is not a size" },
	{ "memory", "1025M", "memory", "Startup memory 1025M is not a multiple of 2M" },
	{ "memory", "16M", "memory", "Startup memory 16M: must be 32M..12T" },
	{ "memory", "1G", NULL, NULL },
	{ "min-memory", "4G", NEXT, "hidden fields (dynamic memory off) are not judged" },
	{ NULL, NULL, BACK, NULL },
	{ "dynamic-memory", "on", NULL, NULL },
	{ "max-memory", "1G", NULL, NULL },
	{ NULL, NULL, NULL, NULL },
};

static const struct step new_vm_memory_rules[] = {
	{ "max-memory", "4G", NULL, NULL },
	{ "min-memory", "2G", "min-memory", "minimum memory 2G is above startup memory 1G" },
	{ "min-memory", "511M", "min-memory", "Minimum memory 511M is not a multiple of 2M" },
	{ "min-memory", "512M", NULL, NULL },
	{ "max-memory", "768M", "max-memory", "maximum memory 768M is below startup memory 1G" },
	{ "max-memory", "4G", NULL, NULL },
	{ "buffer", "4", "buffer", "Memory buffer % 4: must be 5..2000" },
	{ "buffer", "2001", "buffer", "Memory buffer % 2001: must be 5..2000" },
	{ "buffer", "20", NULL, NULL },
	{ "priority", "101", "priority", "Memory weight 101: must be 0..100" },
	{ "priority", "-1", "priority", "Memory weight -1: must be 0..100" },
	{ "priority", "50", NEXT, "the memory page checks out" },
	{ NULL, NULL, NEXT, "not connected" },
	{ "disk-format", "vhd", NULL, NULL },
	{ "disk-size", "3T", "disk-size", "a VHD holds at most 2040G (3T asked); choose VHDX" },
	{ "disk-format", "vhdx", NEXT, "a 3T VHDX is fine" },
	{ NULL, NULL, BACK, NULL },
	{ "disk-size", "1000", "disk-size", "size 1000: must be a whole number of 512-byte sectors" },
	{ "disk-size", "huge", "disk-size", "Size: 'huge' is not a size" },
	{ "disk-size", "8G", NULL, NULL },
	{ "disk-path", "rules.vhdx", "disk-path", "Location: give a full path (starting with /)" },
	{ "disk-path", "@exists.vhdx", "disk-path", "exists.vhdx already exists; choose another name" },
	{ "disk-path", "@nope/rules.vhdx", "disk-path", "/nope does not exist" },
	{ "disk", "existing", "existing-disk", "Existing disk is required" },
	{ "existing-disk", "@nothere.vhdx", "existing-disk", "No such file or directory" },
	{ "existing-disk", "@", "existing-disk", "is not a file" },
	{ "existing-disk", "@junk.vhdx", "existing-disk", "junk.vhdx" },
	{ "disk", "later", NEXT, "a disk later" },
	{ "install", "iso", "iso", "Image file (.iso) is required" },
	{ "iso", "@nothere.iso", "iso", "No such file or directory" },
	{ "iso", "@odd.iso", "iso", "not an ISO image (its size, 1000 bytes, is not a multiple of 2048)" },
	{ "install", "net", "install", "a network installation needs a network adapter" },
	{ "install", "later", NEXT, "the OS installed later" },
	{ "kernel", "@nokernel", "kernel", "No such file or directory" },
	{ "kernel", "", NULL, NULL },
	{ "initrd", "@exists.vhdx", "kernel", "an initrd needs a kernel" },
	{ "kernel", "@exists.vhdx", NEXT, "a kernel and its initrd" },
	{ NULL, NULL, NULL, NULL },
};

static void
new_vm_rules(void)
{
	struct wizard *w = open_wiz("new-vm", NULL);
	struct hv_err err = { 0 };
	struct hv_vm vm;

	hv_vm_init(hv, &vm);
	snprintf(vm.name, sizeof vm.name, "taken");
	ok(hv_vm_create(hv, &vm, &err) == 0, "a VM named taken exists (%s)", err.msg);
	make_file(tpath("exists.vhdx"), "");
	make_file(tpath("junk.vhdx"), "vhdxfile and then nothing a VHDX needs");
	ok(sh("head -c 1000 /dev/zero >'%s'", tpath("odd.iso")) == 0, "a file of 1000 bytes, no ISO");

	walk(w, new_vm_name_rules);
	ok(wiz_next(w, &err) == -1 && wiz_page(w) == 1, "minimum above maximum: Next refuses, page stays");
	is_str(err.msg, "minimum memory 4G is above maximum memory 1G", "... saying so");
	is_str(wiz_error_field(w), "min-memory", "... naming minimum memory");
	walk(w, new_vm_memory_rules);
	set_refused(w, "disk-format", "vmdk", "'vmdk' is not one of vhdx, vhd, qcow2, raw");
	set_refused(w, "switch", "lan0", "Connection: 'lan0' is not one of not connected");
	ok(wiz_at_summary(w), "at the summary");
	ok(wiz_next(w, &err) == -1 && strstr(err.msg, "last page"), "no Next past the summary");
	wiz_free(w);
}

static const struct step back_steps[] = {
	{ "name", "back1", NEXT, "name" },
	{ "vcpus", "4", NULL, NULL },
	{ "memory", "2G", NULL, NULL },
	{ "dynamic-memory", "on", NULL, NULL },
	{ "min-memory", "1G", NULL, NULL },
	{ "max-memory", "8G", NEXT, "memory" },
	{ NULL, NULL, BACK, NULL },
	{ NULL, NULL, NULL, NULL },
};

static const struct step forth_steps[] = {
	{ NULL, NULL, NEXT, "name again" },
	{ NULL, NULL, "vcpus", "'many' is not a whole number" },
	{ "vcpus", "4", NEXT, "memory again" },
	{ NULL, NULL, NEXT, "network" },
	{ "disk", "later", NEXT, "disk" },
	{ NULL, NULL, BACK, NULL },
	{ NULL, NULL, NULL, NULL },
};

static void
back_keeps_values(void)
{
	struct wizard *w = open_wiz("new-vm", NULL);

	walk(w, back_steps);
	is_int(wiz_page(w), 1, "Back to the memory page");
	has(w, "after Back", "vcpus", "4", "memory", "2G", "dynamic-memory", "on",
	    "min-memory", "1G", "max-memory", "8G", NULL);
	set(w, "vcpus", "many", NULL);
	wiz_back(w);
	is_int(wiz_page(w), 0, "Back does not check the page");
	wiz_back(w);
	is_int(wiz_page(w), 0, "no Back before the first page");
	has(w, "after Back twice", "name", "back1", "vcpus", "many", NULL);
	walk(w, forth_steps);
	has(w, "Back to the disk page", "disk", "later", NULL);
	visible(w, "Back to the disk page", "", "disk-format disk-path");
	finish_pages(w);
	ok(wiz_at_summary(w), "forward again to the summary");
	has(w, "at the summary", "name", "back1", "vcpus", "4", "memory", "2G", "max-memory", "8G", NULL);
	wiz_free(w);
}

static void
new_vm_script(void)
{
	struct wizard *w = open_wiz("new-vm", NULL);
	const char *cmdline = "console=ttyS0 motd=\"it's here\"";
	char disk[HV_PATH_MAX], kernel[HV_PATH_MAX], *s;
	cJSON *j;

	snprintf(disk, sizeof disk, "%s", tpath("web disk.vhdx"));
	snprintf(kernel, sizeof kernel, "%s", tpath("vmlinuz"));
	make_file(kernel, "any file will do to create a VM");
	set(w, "name", "wiz-web", "vcpus", "2", "dynamic-memory", "on", "max-memory", "4G",
	    "buffer", "25", "priority", "60", "disk-size", "8G", "disk-path", disk,
	    "kernel", kernel, "cmdline", cmdline, NULL);
	finish_pages(w);
	s = script_of(w);
	ok(s != NULL && strncmp(s, "# New Virtual Machine (hv new-vm wizard)\n", 41) == 0,
	   "the script says what made it");
	is_int(command_lines(s), 2, "two commands: disk create, vm create");
	is_int(run_script(s), 0, "hv -f runs the new-vm script");
	is_str(wiz_result(w), "wiz-web", "the result is the VM");

	j = json_of("'%s' vm show wiz-web --json", hvbin);
	ok(j != NULL, "hv vm show wiz-web --json");
	is_int(jnum(j, "generation"), 2, "wiz-web: generation 2");
	is_int(jnum(j, "vcpus"), 2, "wiz-web: 2 vCPUs");
	is_int(jnum(j, "memory"), HV_GIB, "wiz-web: 1G startup memory");
	vm_has_dm(j, "wiz-web", 512 * HV_MIB, 4 * HV_GIB, 25, 60);
	is_int(cJSON_GetArraySize(jget(j, "disks")), 1, "wiz-web: one disk");
	is_str(jstr(j, "disks.0"), disk, "wiz-web: the new disk");
	is_int(cJSON_GetArraySize(jget(j, "nics")), 0, "wiz-web: not connected");
	is_str(jstr(j, "boot.kernel"), kernel, "wiz-web: the kernel");
	is_str(jstr(j, "boot.cmdline"), cmdline, "wiz-web: the command line, quotes and all");
	cJSON_Delete(j);
	image_is(disk, "vhdx", 8 * HV_GIB);
	hv_disk_is(disk, "dynamic", "");
	free(s);
	wiz_free(w);
}

/* Installation Options: a Gen1 VM installed from an ISO, its disk
   first once installed */
static void
new_vm_install(void)
{
	struct wizard *w = open_wiz("new-vm", NULL);
	char iso[HV_PATH_MAX], *s;
	cJSON *j;

	snprintf(iso, sizeof iso, "%s", tpath("install.iso"));
	ok(sh("truncate -s 4M '%s'", iso) == 0, "an ISO-sized file");
	set(w, "name", "wiz-inst", "generation", "1", "disk", "later", "install", "iso", "iso", iso,
	    "boot-order", "disk,dvd", NULL);
	finish_pages(w);
	s = script_of(w);
	ok(s != NULL && strstr(s, " --dvd ") && strstr(s, " --boot-order disk,dvd"),
	   "the script creates the VM with the ISO in a DVD drive and the boot order");
	is_int(run_script(s), 0, "hv -f runs it");
	j = json_of("'%s' vm show wiz-inst --json", hvbin);
	is_str(jstr(j, "dvds.0.iso"), iso, "wiz-inst: its DVD drive holds the ISO");
	is_str(jstr(j, "boot.order"), "disk,dvd", "wiz-inst: the boot order");
	cJSON_Delete(j);
	free(s);
	wiz_free(w);
}

static const struct step new_disk_rules[] = {
	{ "format", "raw", NEXT, "raw" },
	{ "type", "differencing", "type", "a raw image cannot be a differencing disk" },
	{ "type", "fixed", NEXT, "a fixed raw disk" },
	{ "path", "@exists.vhdx", "path", "exists.vhdx already exists" },
	{ "path", "@nope/d.img", "path", "/nope does not exist" },
	{ "path", "@fixed.vhd", NEXT, "a new path" },
	{ NULL, NULL, BACK, NULL },
	{ NULL, NULL, BACK, NULL },
	{ NULL, NULL, BACK, NULL },
	{ "format", "vhd", NEXT, "vhd" },
	{ NULL, NULL, NEXT, "fixed" },
	{ NULL, NULL, NEXT, "the path kept" },
	{ "size", "2041G", "size", "a VHD holds at most 2040G" },
	{ "size", "64M", NEXT, "a 64M VHD" },
	{ NULL, NULL, NULL, NULL },
};

static const struct step new_diff_steps[] = {
	{ "type", "differencing", NEXT, "vhdx" },
	{ "parent", "@junk.vhdx", NEXT, "differencing" },
	{ NULL, NULL, NEXT, "the path given" },
	{ NULL, NULL, "parent", "junk.vhdx" },
	{ "parent", "@web disk.vhdx", NEXT, "a parent" },
	{ NULL, NULL, NULL, NULL },
};

static void
new_disk(void)
{
	struct wizard *w = open_wiz("new-disk", NULL);
	char *s;

	is_int(wiz_npages(w), 5, "new-disk: four pages and a summary");
	has(w, "new-disk", "format", "vhdx", "type", "dynamic", "size", "127G",
	    "path", "@disks/disk.vhdx", NULL);
	visible(w, "new-disk, dynamic", "size", "parent");
	set(w, "format", "qcow2", NULL);
	has(w, "new-disk, the path follows the format", "path", "@disks/disk.qcow2", NULL);
	set(w, "type", "differencing", NULL);
	visible(w, "new-disk, differencing", "parent", "size");
	wiz_free(w);
	make_file(tpath("disks/disk.vhdx"), "");
	w = open_wiz("new-disk", NULL);
	has(w, "new-disk, disk.vhdx taken", "path", "@disks/disk-2.vhdx", NULL);

	walk(w, new_disk_rules);
	s = script_of(w);
	is_int(run_script(s), 0, "hv -f runs the new-disk script");
	is_str(wiz_result(w), tpath("fixed.vhd"), "the result is the disk");
	image_is(tpath("fixed.vhd"), "vpc", 64 * HV_MIB);
	hv_disk_is(tpath("fixed.vhd"), "fixed", "");
	free(s);
	wiz_free(w);

	/* a differencing VHDX over the new VM's disk, its path given */
	w = open_wiz("new-disk", tpath("child.vhdx"));
	has(w, "new-disk, the path given stays", "path", "@child.vhdx", NULL);
	walk(w, new_diff_steps);
	s = script_of(w);
	is_int(run_script(s), 0, "hv -f runs the differencing script");
	/* qemu-img opens no differencing VHDX: hv is the oracle */
	hv_disk_is(tpath("child.vhdx"), "differencing", tpath("web disk.vhdx"));
	free(s);
	wiz_free(w);
}

static const struct step resize_steps[] = {
	{ NULL, NULL, "path", "Disk is required" },
	{ "path", "@nothere.vhdx", "path", "No such file or directory" },
	{ "path", "@junk.vhdx", "path", "junk.vhdx" },
	{ "path", "@src.vhdx", NEXT, "a disk to edit" },
	{ "action", "merge", "action", "has no parent: only a differencing disk can be merged" },
	{ "action", "resize", NEXT, "resize" },
	{ NULL, NULL, "size", "the disk is already 64M" },
	{ "size", "32M", "size", "smaller than 64M loses data" },
	{ "shrink", "on", NEXT, "shrinking allowed" },
	{ NULL, NULL, BACK, NULL },
	{ "shrink", "off", NULL, NULL },
	{ "size", "128M", NEXT, "grow to 128M" },
	{ NULL, NULL, NULL, NULL },
};

static void
edit_disk(void)
{
	struct wizard *w = open_wiz("edit-disk", NULL);
	char src[HV_PATH_MAX], *s;

	snprintf(src, sizeof src, "%s", tpath("src.vhdx"));
	make_source(src);
	has(w, "edit-disk", "path", "", "action", "convert", "dest-format", "vhdx",
	    "dest-type", "same", "shrink", "off", NULL);
	visible(w, "edit-disk, convert", "dest-format dest-type dest", "size shrink");
	walk(w, resize_steps);
	visible(w, "edit-disk, resize", "size shrink", "dest-format dest");
	s = script_of(w);
	is_int(run_script(s), 0, "hv -f runs the resize script");
	is_str(wiz_result(w), src, "the result is the disk");
	image_is(src, "vhdx", 128 * HV_MIB);
	free(s);
	wiz_free(w);

	/* convert; qemu-img compares the copy with its source */
	w = open_wiz("edit-disk", src);
	accepted(w, "the disk given");
	has(w, "edit-disk, opened", "size", "128M", "dest", "@src-converted.vhdx", NULL);
	accepted(w, "convert");
	set(w, "dest-format", "qcow2", NULL);
	has(w, "the copy sits beside, named by its format", "dest", "@src.qcow2", NULL);
	accepted(w, "to qcow2");
	s = script_of(w);
	is_int(run_script(s), 0, "hv -f runs the convert script");
	is_str(wiz_result(w), tpath("src.qcow2"), "the result is the copy");
	image_is(tpath("src.qcow2"), "qcow2", 128 * HV_MIB);
	if (have_qemu)
		is_int(sh("qemu-img compare -q '%s' '%s' >&2", src, tpath("src.qcow2")), 0,
		       "qemu-img compare: the copy holds the same data");
	free(s);
	wiz_free(w);

	/* compact a fixed disk, convert 3T to VHD, merge a child */
	w = open_wiz("edit-disk", tpath("fixed.vhd"));
	accepted(w, "a fixed VHD");
	set(w, "action", "compact", NULL);
	refused(w, "action", "is a fixed vhd disk: only dynamic disks can be compacted");
	wiz_free(w);
	ok(sh("'%s' disk create '%s' --size 3T >&2", hvbin, tpath("big.vhdx")) == 0, "a 3T VHDX");
	w = open_wiz("edit-disk", tpath("big.vhdx"));
	accepted(w, "a 3T disk");
	accepted(w, "convert");
	set(w, "dest-format", "vhd", NULL);
	refused(w, "dest-format", "a VHD holds at most 2040G (3T asked)");
	wiz_free(w);
	w = open_wiz("edit-disk", tpath("child.vhdx"));
	accepted(w, "a differencing disk");
	set(w, "action", "merge", NULL);
	accepted(w, "merge a child into its parent");
	wiz_free(w);
}

static void
vm_settings(void)
{
	struct hv_err err = { 0 };
	struct wizard *w;
	struct hv_vm vm;
	char *s;
	cJSON *j;

	/* the VM the new-vm wizard made: its values; nothing changed */
	w = open_wiz("vm-settings", "wiz-web");
	has(w, "vm-settings of wiz-web", "generation", "2", "vcpus", "2", "memory", "1G",
	    "dynamic-memory", "on", "min-memory", "512M", "max-memory", "4G", "buffer", "25",
	    "priority", "60", "kernel", "@vmlinuz", "cmdline", "console=ttyS0 motd=\"it's here\"", NULL);
	ok(wiz_find(w, "generation")->readonly, "the generation is read-only");
	set_refused(w, "generation", "1", "Generation cannot change");
	ok(wiz_set(w, "generation", "2", &err) == 0, "setting the same generation is no change");
	visible(w, "vm-settings, gen 2", "min-memory max-memory buffer priority kernel cmdline", "firmware");
	finish_pages(w);
	s = script_of(w);
	is_int(command_lines(s), 0, "nothing changed: no hv command");
	ok(s != NULL && strstr(s, "# nothing changed") != NULL, "... and it says so");
	is_str(wiz_result(w), "wiz-web", "the result is the VM");
	free(s);
	wiz_free(w);

	/* a Gen1 VM without dynamic memory gets it */
	hv_vm_init(hv, &vm);
	snprintf(vm.name, sizeof vm.name, "old1");
	vm.generation = 1;
	vm.memory = 2 * HV_GIB;
	ok(hv_vm_create(hv, &vm, &err) == 0, "a Gen1 VM old1 (%s)", err.msg);
	w = open_wiz("vm-settings", "old1");
	has(w, "vm-settings of old1", "generation", "1", "memory", "2G", "dynamic-memory", "off", NULL);
	visible(w, "vm-settings, dynamic memory off", "", "min-memory max-memory buffer priority");
	visible(w, "vm-settings, gen 1", "firmware", "kernel initrd cmdline");
	set(w, "dynamic-memory", "on", NULL);
	set(w, "min-memory", "3G", NULL);
	refused(w, "min-memory", "minimum memory 3G is above startup memory 2G");
	set(w, "min-memory", "1G", "max-memory", "6G", "buffer", "40", "priority", "80", NULL);
	finish_pages(w);
	s = script_of(w);
	is_int(command_lines(s), 1, "one hv vm set");
	is_int(run_script(s), 0, "hv -f runs the settings script");
	j = json_of("'%s' vm show old1 --json", hvbin);
	ok(j != NULL, "hv vm show old1 --json");
	is_int(jnum(j, "generation"), 1, "old1: still generation 1");
	is_int(jnum(j, "memory"), 2 * HV_GIB, "old1: still 2G startup memory");
	vm_has_dm(j, "old1", HV_GIB, 6 * HV_GIB, 40, 80);
	cJSON_Delete(j);
	free(s);
	wiz_free(w);
}

int
main(void)
{
	wiz_test_setup("/tmp/hv-wiz.XXXXXX");
	have_qemu = sh("qemu-img --version >/dev/null 2>&1") == 0;

	kinds();
	new_vm_defaults();
	new_vm_rules();
	back_keeps_values();
	new_vm_script();
	new_vm_install();
	new_disk();
	edit_disk();
	vm_settings();

	wiz_test_cleanup();
	return done_testing();
}
