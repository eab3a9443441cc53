/*
 * views.c - the other tabs: Disks (every VM's disks and the images in
 * the disk folder, read through the disk engine), Switches (the virtual
 * switches and their bridges' state; new and delete), Hosts (this host's
 * facts) and Events (the inventory's log).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "engine/disk/disk.h"
#include "tui/tui.h"

/* --- disks ------------------------------------------------------------- */

static int
disk_index(struct tui *t, const char *path)
{
	for (size_t i = 0; i < t->ndisks; i++)
		if (strcmp(t->disks[i].path, path) == 0)
			return (int)i;
	return -1;
}

static void
disk_add(struct tui *t, size_t *cap, const char *path, const char *vm)
{
	struct tui_disk *d;
	struct disk_info in;
	struct disk *dk;
	struct hv_err err;

	if (disk_index(t, path) >= 0)
		return;
	if (t->ndisks == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct tui_disk *nd = realloc(t->disks, ncap * sizeof *nd);

		if (nd == NULL)
			return;
		t->disks = nd;
		*cap = ncap;
	}
	d = &t->disks[t->ndisks++];
	memset(d, 0, sizeof *d);
	snprintf(d->path, sizeof d->path, "%s", path);
	snprintf(d->vm, sizeof d->vm, "%s", vm);
	if (disk_open(&dk, path, DISK_RDONLY | DISK_NOBACKING, &err) != 0) {
		snprintf(d->error, sizeof d->error, "%.127s", err.msg);
		return;
	}
	if (disk_get_info(dk, &in, &err) == 0) {
		snprintf(d->format, sizeof d->format, "%s", disk_format_name(in.fmt));
		snprintf(d->subformat, sizeof d->subformat, "%s", in.subformat);
		d->size = in.size;
		d->file_size = in.allocated;
	} else {
		snprintf(d->error, sizeof d->error, "%.127s", err.msg);
	}
	disk_close(dk);
}

static bool
image_name(const char *name)
{
	static const char *const ext[] = { ".vhdx", ".vhd", ".avhdx", ".qcow2", ".vmdk", ".img", ".raw", NULL };
	size_t n = strlen(name);

	for (int i = 0; ext[i] != NULL; i++) {
		size_t e = strlen(ext[i]);

		if (n > e && strcmp(name + n - e, ext[i]) == 0)
			return true;
	}
	return false;
}

static void
disks_refresh(struct tui *t)
{
	const char *dir = hv_config(t->hv)->disk_dir;
	char sel[HV_PATH_MAX] = "";
	size_t cap = 0;
	struct dirent *e;
	DIR *d;

	if (t->disk_sel < (int)t->ndisks)
		snprintf(sel, sizeof sel, "%s", t->disks[t->disk_sel].path);
	if (t->want_select[0])
		snprintf(sel, sizeof sel, "%s", t->want_select);
	free(t->disks);
	t->disks = NULL;
	t->ndisks = 0;
	for (size_t i = 0; i < t->nvms; i++)
		for (int k = 0; k < t->vms[i].ndisks; k++)
			disk_add(t, &cap, t->vms[i].disks[k], t->vms[i].name);
	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			char path[HV_PATH_MAX * 2];

			if (e->d_name[0] == '.' || !image_name(e->d_name))
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			if (strlen(path) < HV_PATH_MAX)
				disk_add(t, &cap, path, "");
		}
		closedir(d);
	}
	t->disk_sel = sel[0] && disk_index(t, sel) >= 0 ? disk_index(t, sel) : 0;
	t->want_select[0] = '\0';
	t->disks_stale = false;
}

static void
disks_draw(struct tui *t, int top, int rows)
{
	int pathw = COLS - 48;
	char line[2 * HV_PATH_MAX + 256], a[32], b[32];

	if (t->disks_stale)
		disks_refresh(t);
	pathw = pathw < 16 ? 16 : pathw;
	snprintf(line, sizeof line, " %-*s %-6s %-14s %8s %8s %-10s", pathw, "PATH", "FORMAT", "TYPE",
		 "SIZE", "ON DISK", "VM");
	attron(A_BOLD);
	draw_text(top, 0, COLS, line, true);
	attroff(A_BOLD);
	if (t->ndisks == 0) {
		snprintf(line, sizeof line, " No disks yet (disk folder %s). n: New Virtual Disk wizard.",
			 hv_config(t->hv)->disk_dir);
		draw_text(top + 2, 0, COLS, line, false);
		return;
	}
	if (t->disk_sel < t->disk_top)
		t->disk_top = t->disk_sel;
	if (t->disk_sel >= t->disk_top + rows - 1)
		t->disk_top = t->disk_sel - rows + 2;
	for (int i = 0; i < rows - 1 && t->disk_top + i < (int)t->ndisks; i++) {
		const struct tui_disk *d = &t->disks[t->disk_top + i];
		const char *p = d->path;
		int len = (int)strlen(p);

		/* long paths keep their file name */
		if (len > pathw)
			p += len - pathw;
		if (t->disk_top + i == t->disk_sel)
			attron(A_REVERSE);
		if (d->error[0]) {
			snprintf(line, sizeof line, " %-*s %s", pathw, p, d->error);
		} else {
			hv_format_size(d->size, a, sizeof a);
			hv_format_size(d->file_size, b, sizeof b);
			snprintf(line, sizeof line, " %-*s %-6s %-14.14s %8s %8s %-10s", pathw, p, d->format,
				 d->subformat, a, b, d->vm[0] ? d->vm : "-");
			line[sizeof line - 1] = '\0';
		}
		draw_text(top + 1 + i, 0, COLS, line, true);
		if (t->disk_top + i == t->disk_sel)
			attroff(A_REVERSE);
	}
}

/* --- switches ---------------------------------------------------------- */

static int
switch_index(const struct tui *t, const char *name)
{
	for (size_t i = 0; i < t->nswitches; i++)
		if (strcmp(t->switches[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* the switches again, their bridges' state now; the selection stays on
   `select`, else on the switch it was on, else where it was */
static void
switches_refresh(struct tui *t, const char *select)
{
	char keep[HV_NAME_MAX] = "";
	struct hv_switch *sw;
	struct hv_err err;
	size_t n;

	if (select != NULL)
		snprintf(keep, sizeof keep, "%s", select);
	else if (t->sw_sel < (int)t->nswitches)
		snprintf(keep, sizeof keep, "%s", t->switches[t->sw_sel].name);
	if (hv_switch_list(t->hv, &sw, &n, &err) != 0) {
		tui_error(t, &err);
		return;
	}
	free(t->switches);
	t->switches = sw;
	t->nswitches = n;
	if (keep[0] && switch_index(t, keep) >= 0)
		t->sw_sel = switch_index(t, keep);
	if (t->sw_sel >= (int)n)
		t->sw_sel = n > 0 ? (int)n - 1 : 0;
}

/* what connects it: an external switch's uplink, an internal switch's
   host address */
static const char *
switch_connection(const struct hv_switch *sw)
{
	if (sw->nic[0])
		return sw->nic;
	if (sw->host_ip[0])
		return sw->host_ip;
	return strcmp(sw->type, "internal") == 0 ? "(no address)" : "-";
}

static void
switches_draw(struct tui *t, int top, int rows)
{
	char line[256];

	switches_refresh(t, NULL);
	attron(A_BOLD);
	draw_text(top, 0, COLS, " NAME                 TYPE      BRIDGE           STATE    UPLINK / HOST ADDRESS",
		  true);
	attroff(A_BOLD);
	if (t->nswitches == 0) {
		draw_text(top + 2, 0, COLS, " No virtual switches yet. n: New Virtual Switch wizard.", false);
		draw_text(top + 3, 0, COLS, " A VM's network adapter connects to a switch, which must exist first.",
			  false);
		return;
	}
	if (t->sw_sel < t->sw_top)
		t->sw_top = t->sw_sel;
	if (t->sw_sel >= t->sw_top + rows - 1)
		t->sw_top = t->sw_sel - rows + 2;
	for (int i = 0; i < rows - 1 && t->sw_top + i < (int)t->nswitches; i++) {
		const struct hv_switch *sw = &t->switches[t->sw_top + i];
		bool sel = t->sw_top + i == t->sw_sel;

		snprintf(line, sizeof line, " %-20s %-9s %-16s %-8s %s", sw->name, sw->type, sw->bridge,
			 sw->state, switch_connection(sw));
		if (sel)
			attron(A_REVERSE);
		draw_text(top + 1 + i, 0, COLS, line, true);
		if (sel)
			attroff(A_REVERSE);
	}
}

/* x: delete the selected switch, as `hv switch delete` does */
static void
switch_delete(struct tui *t)
{
	struct hv_switch sw = t->switches[t->sw_sel];
	struct hv_err err;

	if (sw.nic[0] && !tui_confirm(t, "Delete switch %s (bridge %s)? %s gets its addresses back. (y/n)",
				      sw.name, sw.bridge, sw.nic))
		return;
	if (!sw.nic[0] && !tui_confirm(t, "Delete switch %s (bridge %s)? (y/n)", sw.name, sw.bridge))
		return;
	if (hv_switch_delete(t->hv, sw.name, &err) != 0)
		tui_error(t, &err);
	else if (sw.nic[0])
		tui_message(t, false, "deleted switch %s (%s has its addresses back)", sw.name, sw.nic);
	else
		tui_message(t, false, "deleted switch %s", sw.name);
	switches_refresh(t, NULL);
}

static bool
switches_key(struct tui *t, int ch)
{
	char result[HV_PATH_MAX] = "";
	int last = t->nswitches > 0 ? (int)t->nswitches - 1 : 0;

	switch (ch) {
	case KEY_DOWN: case 'j':
		if (t->sw_sel < last)
			t->sw_sel++;
		return false;
	case KEY_UP: case 'k':
		if (t->sw_sel > 0)
			t->sw_sel--;
		return false;
	case KEY_HOME: case 'g':
		t->sw_sel = 0;
		return false;
	case KEY_END: case 'G':
		t->sw_sel = last;
		return false;
	case 'n':
		if (form_run(t, "new-switch", NULL, result, sizeof result))
			tui_message(t, false, "done: %s", result);
		switches_refresh(t, result[0] ? result : NULL);
		clearok(curscr, TRUE);
		return true;
	case 'x': case KEY_DC:
		if (t->nswitches > 0)
			switch_delete(t);
		return true;
	}
	return false;
}

/* --- hosts, events ----------------------------------------------------- */

static unsigned long long
meminfo(const char *key)
{
	char line[256];
	unsigned long long v = 0;
	size_t n = strlen(key);
	FILE *f = fopen("/proc/meminfo", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			sscanf(line + n + 1, "%llu", &v);
	fclose(f);
	return v * 1024;
}

static void
hosts_draw(struct tui *t, int top, int rows)
{
	char host[64] = "", line[HV_PATH_MAX + 64], a[32], b[32], c[32];
	uint64_t assigned = 0;
	int nrun = 0, y = top + 1;
	struct utsname u;

	gethostname(host, sizeof host - 1);
	uname(&u);
	for (size_t i = 0; i < t->nvms; i++)
		if (t->vms[i].pid > 0 && strcmp(t->vms[i].state, "Off") != 0 &&
		    strcmp(t->vms[i].state, "Failed") != 0) {
			nrun++;
			assigned += t->vms[i].memory;
		}
	draw_box(t, top, 0, rows < 12 ? rows : 12, COLS, "This host");
	snprintf(line, sizeof line, "Name      %s (Linux %s, %s)", host, u.release, u.machine);
	draw_text(y++, 2, COLS - 4, line, false);
	snprintf(line, sizeof line, "CPUs      %ld online", sysconf(_SC_NPROCESSORS_ONLN));
	draw_text(y++, 2, COLS - 4, line, false);
	hv_format_size(meminfo("MemTotal") & ~(HV_MIB - 1), a, sizeof a);
	hv_format_size(meminfo("MemAvailable") & ~(HV_MIB - 1), b, sizeof b);
	hv_format_size(assigned, c, sizeof c);
	snprintf(line, sizeof line, "Memory    %s, %s available, %s assigned to %d running VMs", a, b, c, nrun);
	draw_text(y++, 2, COLS - 4, line, false);
	snprintf(line, sizeof line, "KVM       %s%s", access("/dev/kvm", R_OK | W_OK) == 0 ? "/dev/kvm usable" :
		 "/dev/kvm not usable (needs root and KVM)",
		 access("/sys/module/kvm_pvm", F_OK) == 0 ? " (kvm_pvm: guest kernels run emulated)" : "");
	draw_text(y++, 2, COLS - 4, line, false);
	snprintf(line, sizeof line, "HV_HOME   %s", hv_config(t->hv)->home);
	draw_text(y++, 2, COLS - 4, line, false);
	snprintf(line, sizeof line, "Disks in  %.900s", hv_config(t->hv)->disk_dir);
	draw_text(y++, 2, COLS - 4, line, false);
	snprintf(line, sizeof line, "VMs       %zu defined, %d running", t->nvms, nrun);
	draw_text(y++, 2, COLS - 4, line, false);
	draw_text(y + 1, 2, COLS - 4, "Other hosts: none yet (live migration adds them).", false);
}

static void
events_draw(struct tui *t, int top, int rows)
{
	struct hv_event *ev;
	struct hv_err err;
	char line[512], when[32];
	size_t n;

	attron(A_BOLD);
	draw_text(top, 0, COLS, " TIME                 OBJECT           EVENT", true);
	attroff(A_BOLD);
	if (hv_event_list(t->hv, rows - 1, &ev, &n, &err) != 0) {
		tui_error(t, &err);
		return;
	}
	/* newest at the top */
	for (size_t i = 0; i < n; i++) {
		time_t tt = (time_t)ev[n - 1 - i].time;

		strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&tt));
		snprintf(line, sizeof line, " %-20s %-16.16s %s", when, ev[n - 1 - i].object, ev[n - 1 - i].message);
		draw_text(top + 1 + (int)i, 0, COLS, line, true);
	}
	if (n == 0)
		draw_text(top + 2, 0, COLS, " No events yet.", false);
	free(ev);
}

void
views_draw(struct tui *t, int top, int rows)
{
	switch (t->view) {
	case VIEW_DISKS: disks_draw(t, top, rows); break;
	case VIEW_SWITCHES: switches_draw(t, top, rows); break;
	case VIEW_HOSTS: hosts_draw(t, top, rows); break;
	case VIEW_EVENTS: events_draw(t, top, rows); break;
	default: break;
	}
}

const char *const *
views_hints(struct tui *t)
{
	static const char *const disk_hints[] = {
		"n", "New disk", "e", "Edit disk", "r", "Refresh", "Tab", "View", "?", "Help", "q", "Quit", NULL, NULL,
	};
	static const char *const switch_hints[] = {
		"n", "New switch", "x", "Delete", "r", "Refresh", "Tab", "View", "?", "Help", "q", "Quit",
		NULL, NULL,
	};
	static const char *const other_hints[] = {
		"Tab", "View", "1-5", "Views", "r", "Refresh", "?", "Help", "q", "Quit", NULL, NULL,
	};

	if (t->view == VIEW_DISKS)
		return disk_hints;
	return t->view == VIEW_SWITCHES ? switch_hints : other_hints;
}

bool
views_key(struct tui *t, int ch)
{
	char result[HV_PATH_MAX] = "";

	if (t->view == VIEW_SWITCHES)
		return switches_key(t, ch);
	if (t->view != VIEW_DISKS)
		return false;
	switch (ch) {
	case KEY_DOWN: case 'j':
		if (t->disk_sel + 1 < (int)t->ndisks)
			t->disk_sel++;
		return false;
	case KEY_UP: case 'k':
		if (t->disk_sel > 0)
			t->disk_sel--;
		return false;
	case 'n':
	case 'e': case '\r': case '\n': case KEY_ENTER:
		if (ch != 'n' && t->ndisks == 0)
			return false;
		if (form_run(t, ch == 'n' ? "new-disk" : "edit-disk",
			     ch == 'n' ? NULL : t->disks[t->disk_sel].path, result, sizeof result)) {
			snprintf(t->want_select, sizeof t->want_select, "%s", result);
			tui_message(t, false, "done: %s", result);
		}
		vms_refresh(t);
		snprintf(t->want_select, sizeof t->want_select, "%s", result);
		disks_refresh(t);
		clearok(curscr, TRUE);
		return true;
	}
	return false;
}

void
views_free(struct tui *t)
{
	free(t->disks);
	t->disks = NULL;
	t->ndisks = 0;
	free(t->switches);
	t->switches = NULL;
	t->nswitches = 0;
}
