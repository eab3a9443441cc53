/*
 * wiz-disk.c - the New Virtual Disk wizard and the Edit Disk wizard
 * (convert, resize, compact, merge), Hyper-V's two disk wizards. Their
 * answers become `hv disk create/convert/resize/compact/merge`.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "wizards/wiz-int.h"

const char *
wiz_disk_ext(const char *fmt)
{
	return strcmp(fmt, "raw") == 0 ? "img" : fmt;
}

int
wiz_disk_size_rules(struct wizard *w, const char *fmt, uint64_t size,
		    const char *size_id, struct hv_err *err)
{
	char s[32];

	hv_format_size(size, s, sizeof s);
	if (size == 0 || size % DISK_SECTOR != 0)
		return wiz_blame(w, size_id, err, HV_EUSAGE,
				 "size %s: must be a whole number of 512-byte sectors", s);
	if (strcmp(fmt, "vhd") == 0 && size > 2040 * HV_GIB)
		return wiz_blame(w, size_id, err, HV_EUSAGE,
				 "a VHD holds at most 2040G (%s asked); choose VHDX", s);
	if (size > 64 * HV_TIB)
		return wiz_blame(w, size_id, err, HV_EUSAGE, "size %s: at most 64T", s);
	return 0;
}

/* an image hv can open: disk_probe alone takes any file as raw */
bool
wiz_disk_opens(const char *path, struct hv_err *err)
{
	struct disk *d;

	if (disk_open(&d, path, DISK_RDONLY | DISK_NOBACKING, err) != 0)
		return false;
	disk_close(d);
	return true;
}

/* "DIR/BASE.EXT", the first of BASE, BASE-2, BASE-3 ... not taken */
static void
free_name(char *out, size_t len, const char *dir, const char *base, const char *ext)
{
	for (int i = 1; i < 100; i++) {
		if (i == 1)
			snprintf(out, len, "%s/%.32s.%.8s", dir, base, ext);
		else
			snprintf(out, len, "%s/%.32s-%d.%.8s", dir, base, i, ext);
		if (access(out, F_OK) != 0)
			return;
	}
}

/* --- New Virtual Disk -------------------------------------------------- */

static const struct wiz_field_def new_disk_fields[] = {
	{ "format", "Format", WF_CHOICE, "VHDX (up to 64T, resilient), VHD (up to 2040G, Azure), qcow2, raw or VMDK", "vhdx|vhd|qcow2|raw|vmdk", 0, 0, 0 },
	{ "type", "Type", WF_CHOICE, "dynamic grows as written; fixed reserves the space; differencing records changes to a parent", "dynamic|fixed|differencing", 0, 0, 0 },
	{ "path", "Location", WF_PATH, "the new image file (must not exist yet)", NULL, 0, 0, WIZ_REQUIRED | WIZ_NEW },
	{ "size", "Size", WF_SIZE, "virtual size the guest sees", NULL, 0, 0, WIZ_REQUIRED },
	{ "parent", "Parent disk", WF_PATH, "the disk this one records changes to (it stays unchanged)", NULL, 0, 0, WIZ_REQUIRED | WIZ_EXISTS },
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0 },
};

static const struct wiz_page_def new_disk_pages[] = {
	{ "Choose Disk Format", "VHDX suits most disks; VHD for older platforms and Azure.", { "format", NULL } },
	{ "Choose Disk Type", "Fixed is faster; dynamic saves space; differencing makes a checkpoint-style child.", { "type", NULL } },
	{ "Name and Location", "Where the image file goes.", { "path", NULL } },
	{ "Configure Disk", "The size of a new blank disk, or the parent of a differencing disk.", { "size", "parent", NULL } },
	{ NULL, NULL, { NULL } },
};

static int
new_disk_init(struct wizard *w, const char *target, struct hv_err *err)
{
	const char *fmt = hv_config(w->hv)->def_disk_format;

	if (disk_format_parse(fmt) != DISK_FMT_NONE)
		wiz_default(w, "format", "%s", fmt);
	/* a path given is the user's: the free-name default must not replace it */
	if (target != NULL) {
		wiz_default(w, "path", "%s", target);
		wiz_find(w, "path")->touched = true;
	}
	wiz_default(w, "size", "127G");
	return 0;
}

static void
new_disk_update(struct wizard *w)
{
	bool diff = wiz_is(w, "type", "differencing");
	char path[HV_PATH_MAX + 128];

	wiz_show(w, "size", !diff);
	wiz_show(w, "parent", diff);
	free_name(path, sizeof path, hv_config(w->hv)->disk_dir, "disk", wiz_disk_ext(wiz_get(w, "format")));
	wiz_default(w, "path", "%s", path);
}

static int
new_disk_rules(struct wizard *w, int page, struct hv_err *err)
{
	struct hv_err e2;

	if (page == 1 && wiz_is(w, "type", "differencing") && wiz_is(w, "format", "raw"))
		return wiz_blame(w, "type", err, HV_EUSAGE,
				 "a raw image cannot be a differencing disk; choose another format");
	if (page != 3)
		return 0;
	if (wiz_is(w, "type", "differencing")) {
		if (!wiz_disk_opens(wiz_get(w, "parent"), &e2))
			return wiz_blame(w, "parent", err, HV_ECORRUPT, "%s", e2.msg);
		return 0;
	}
	return wiz_disk_size_rules(w, wiz_get(w, "format"), wiz_size(w, "size"), "size", err);
}

static void
new_disk_script(struct wizard *w, FILE *f)
{
	const char *path = wiz_get(w, "path");

	fprintf(f, "# a new %s %s disk\n", wiz_get(w, "type"), wiz_get(w, "format"));
	fprintf(f, "hv disk create");
	wiz_word(f, path);
	wiz_opt(f, "--format", wiz_get(w, "format"));
	if (wiz_is(w, "type", "differencing")) {
		wiz_opt(f, "--parent", wiz_get(w, "parent"));
	} else {
		wiz_opt_size(f, "--size", wiz_size(w, "size"));
		if (wiz_is(w, "type", "fixed"))
			wiz_opt(f, "--fixed", NULL);
	}
	fputc('\n', f);
	wiz_set_result(w, path);
}

const struct wiz_kind wiz_new_disk = {
	"new-disk", "New Virtual Disk", new_disk_fields, new_disk_pages,
	new_disk_init, new_disk_update, new_disk_rules, new_disk_script,
};

/* --- Edit Virtual Disk ------------------------------------------------- */

static const struct wiz_field_def edit_fields[] = {
	{ "path", "Disk", WF_PATH, "the image to edit", NULL, 0, 0, WIZ_REQUIRED | WIZ_EXISTS },
	{ "action", "Action", WF_CHOICE, "convert: copy to another format/type; resize; compact: give back zero blocks; merge into the parent", "convert|resize|compact|merge", 0, 0, 0 },
	{ "dest-format", "New format", WF_CHOICE, "format of the copy", "vhdx|vhd|qcow2|raw|vmdk", 0, 0, 0 },
	{ "dest-type", "New type", WF_CHOICE, "same as the source, dynamic or fixed", "same|dynamic|fixed", 0, 0, 0 },
	{ "dest", "New location", WF_PATH, "the copy's file (must not exist yet)", NULL, 0, 0, WIZ_REQUIRED | WIZ_NEW },
	{ "size", "New size", WF_SIZE, "the virtual size the guest will see", NULL, 0, 0, WIZ_REQUIRED },
	{ "shrink", "Allow shrinking", WF_TOGGLE, "data past the new size is lost", NULL, 0, 0, 0 },
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0 },
};

static const struct wiz_page_def edit_pages[] = {
	{ "Locate Disk", "The virtual disk to edit; it should not be in use by a running VM.", { "path", NULL } },
	{ "Choose Action", "What to do with the disk.", { "action", NULL } },
	{ "Configure", "The details of the action.",
	  { "dest-format", "dest-type", "dest", "size", "shrink", NULL } },
	{ NULL, NULL, { NULL } },
};

static int
edit_init(struct wizard *w, const char *target, struct hv_err *err)
{
	if (target != NULL)
		wiz_default(w, "path", "%s", target);
	return 0;
}

static void
edit_update(struct wizard *w)
{
	const char *act = wiz_get(w, "action"), *src = wiz_get(w, "path"), *dot;
	bool convert = strcmp(act, "convert") == 0;
	char base[WIZ_VALUE_MAX], size[32], path[WIZ_VALUE_MAX + 32];

	wiz_show(w, "dest-format", convert);
	wiz_show(w, "dest-type", convert);
	wiz_show(w, "dest", convert);
	wiz_show(w, "size", strcmp(act, "resize") == 0);
	wiz_show(w, "shrink", strcmp(act, "resize") == 0);
	if (w->disk_size) {
		hv_format_size(w->disk_size, size, sizeof size);
		wiz_default(w, "size", "%s", size);
	}
	/* the copy sits beside the source, with the new format's extension */
	snprintf(base, sizeof base, "%s", src);
	if ((dot = strrchr(base, '.')) != NULL && !strchr(dot, '/'))
		base[dot - base] = '\0';
	snprintf(path, sizeof path, "%s.%.8s", base, wiz_disk_ext(wiz_get(w, "dest-format")));
	if (strcmp(path, src) == 0)
		snprintf(path, sizeof path, "%s-converted.%.8s", base, wiz_disk_ext(wiz_get(w, "dest-format")));
	wiz_default(w, "dest", "%s", path);
}

static int
edit_open(struct wizard *w, struct hv_err *err)
{
	struct disk_info in;
	struct hv_err e2;
	struct disk *d;

	/* not err: its message would be formatted into itself */
	if (disk_open(&d, wiz_get(w, "path"), DISK_RDONLY | DISK_NOBACKING, &e2) != 0)
		return wiz_blame(w, "path", err, e2.code, "%s", e2.msg);
	if (disk_get_info(d, &in, &e2) != 0) {
		disk_close(d);
		return wiz_blame(w, "path", err, e2.code, "%s", e2.msg);
	}
	disk_close(d);
	w->disk_size = in.size;
	w->disk_has_parent = in.parent[0] != '\0';
	snprintf(w->disk_subformat, sizeof w->disk_subformat, "%s", in.subformat);
	snprintf(w->disk_format, sizeof w->disk_format, "%s", disk_format_name(in.fmt));
	edit_update(w);
	return 0;
}

static int
edit_rules(struct wizard *w, int page, struct hv_err *err)
{
	const char *path = wiz_get(w, "path");
	uint64_t size = wiz_size(w, "size");
	char s[32];

	if (page == 0)
		return edit_open(w, err);
	if (page == 1 && wiz_is(w, "action", "merge") && !w->disk_has_parent)
		return wiz_blame(w, "action", err, HV_EUSAGE,
				 "%s has no parent: only a differencing disk can be merged", path);
	if (page == 1 && wiz_is(w, "action", "compact") &&
	    (strcmp(w->disk_format, "raw") == 0 || strcmp(w->disk_subformat, "fixed") == 0))
		return wiz_blame(w, "action", err, HV_EUSAGE,
				 "%s is a fixed %s disk: only dynamic disks can be compacted (convert it instead)",
				 path, w->disk_format);
	if (page != 2)
		return 0;
	if (wiz_is(w, "action", "convert"))
		return wiz_disk_size_rules(w, wiz_get(w, "dest-format"), w->disk_size, "dest-format", err);
	if (!wiz_is(w, "action", "resize"))
		return 0;
	if (wiz_disk_size_rules(w, w->disk_format, size, "size", err) != 0)
		return -1;
	hv_format_size(w->disk_size, s, sizeof s);
	if (size == w->disk_size)
		return wiz_blame(w, "size", err, HV_EUSAGE, "the disk is already %s", s);
	if (size < w->disk_size && !wiz_is(w, "shrink", "on"))
		return wiz_blame(w, "size", err, HV_EUSAGE,
				 "smaller than %s loses data: turn on Allow shrinking to do it", s);
	return 0;
}

static void
edit_script(struct wizard *w, FILE *f)
{
	const char *path = wiz_get(w, "path"), *act = wiz_get(w, "action");

	fprintf(f, "# %s %s (%s %s)\n", act, path, w->disk_subformat, w->disk_format);
	fprintf(f, "hv disk %s", act);
	wiz_word(f, path);
	wiz_set_result(w, path);
	if (strcmp(act, "convert") == 0) {
		wiz_word(f, wiz_get(w, "dest"));
		wiz_opt(f, "--format", wiz_get(w, "dest-format"));
		if (!wiz_is(w, "dest-type", "same"))
			fprintf(f, " --%s", wiz_get(w, "dest-type"));
		wiz_set_result(w, wiz_get(w, "dest"));
	} else if (strcmp(act, "resize") == 0) {
		char s[32];

		hv_format_size(wiz_size(w, "size"), s, sizeof s);
		wiz_word(f, s);
		if (wiz_is(w, "shrink", "on"))
			wiz_opt(f, "--shrink", NULL);
	}
	if (strcmp(act, "resize") != 0)
		wiz_opt(f, "--progress", NULL);
	fputc('\n', f);
}

const struct wiz_kind wiz_edit_disk = {
	"edit-disk", "Edit Virtual Disk", edit_fields, edit_pages,
	edit_init, edit_update, edit_rules, edit_script,
};
