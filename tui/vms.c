/*
 * vms.c - the main screen: the VM list (state, generation, CPU %,
 * assigned memory, memory demand, uptime), the selected VM's details
 * (with a sparkline of its memory samples), and the actions on it, each
 * one engine call.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tui/tui.h"

enum { SORT_NAME, SORT_STATE, SORT_CPU, SORT_MEMORY, SORT_UPTIME, SORT_COUNT };
static const char *const sort_names[SORT_COUNT] = { "name", "state", "CPU", "memory", "uptime" };

static bool
running(const struct hv_vm *vm)
{
	return strcmp(vm->state, "Running") == 0 || strcmp(vm->state, "Paused") == 0 ||
	       strcmp(vm->state, "Starting") == 0;
}

/* --- CPU % (the worker's utime + stime between two refreshes), memory - */

static unsigned long long
proc_ticks(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut = 0, st = 0;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold blanks; fields resume after its ')' */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return 0;
	return ut + st;
}

/* assigned and demand from the worker's stats, once a second at most */
static uint64_t
json_bytes(const cJSON *o, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(o, name);

	return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

static void
ask_memory(struct tui *t, const struct hv_vm *vm, struct tui_cpu *c, double now)
{
	struct hv_err err;
	char *reply = NULL;
	cJSON *j, *m;

	if (now - c->mem_at < 0.95 || (strcmp(vm->state, "Running") != 0 &&
				       strcmp(vm->state, "Paused") != 0))
		return;
	c->mem_at = now;
	if (hv_vm_request(t->hv, vm->name, "{\"cmd\": \"stats\"}", &reply, &err) != 0)
		return;
	j = cJSON_Parse(reply);
	m = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stats"), "memory");
	if (cJSON_IsObject(m)) {
		c->assigned = json_bytes(m, "assigned");
		c->demand = json_bytes(m, "demand");
	}
	cJSON_Delete(j);
	free(reply);
}

static struct tui_cpu *
cpu_of(struct tui *t, int pid)
{
	for (int i = 0; i < t->ncpu; i++)
		if (t->cpu[i].pid == pid)
			return &t->cpu[i];
	return NULL;
}

static void
sample_cpu(struct tui *t)
{
	struct tui_cpu next[sizeof t->cpu / sizeof t->cpu[0]];
	double now = tui_now(), dt = now - t->last_sample;
	long hz = sysconf(_SC_CLK_TCK);
	int n = 0;

	for (size_t i = 0; i < t->nvms && n < (int)(sizeof next / sizeof next[0]); i++) {
		struct tui_cpu *old;

		if (!running(&t->vms[i]) || t->vms[i].pid <= 0)
			continue;
		next[n].pid = t->vms[i].pid;
		next[n].ticks = proc_ticks(t->vms[i].pid);
		next[n].pct = -1;
		next[n].assigned = next[n].demand = 0;
		next[n].mem_at = 0;
		old = cpu_of(t, next[n].pid);
		if (old != NULL) {
			next[n].assigned = old->assigned;
			next[n].demand = old->demand;
			next[n].mem_at = old->mem_at;
		}
		ask_memory(t, &t->vms[i], &next[n], now);
		if (old != NULL && dt > 0.2 && hz > 0 && next[n].ticks >= old->ticks)
			next[n].pct = (double)(next[n].ticks - old->ticks) * 100.0 / ((double)hz * dt);
		else if (old != NULL)
			next[n].pct = old->pct;
		n++;
	}
	memcpy(t->cpu, next, (size_t)n * sizeof next[0]);
	t->ncpu = n;
	t->last_sample = now;
}

static double
cpu_pct(struct tui *t, const struct hv_vm *vm)
{
	struct tui_cpu *c = running(vm) ? cpu_of(t, vm->pid) : NULL;

	return c != NULL ? c->pct : -1;
}

/* --- the list ---------------------------------------------------------- */

static int
state_rank(const char *s)
{
	static const char *const order[] = { "Running", "Starting", "Paused", "Saved", "Failed", "Off" };

	for (int i = 0; i < 6; i++)
		if (strcmp(s, order[i]) == 0)
			return i;
	return 5;
}

static int64_t
uptime_of(const struct hv_vm *vm)
{
	return running(vm) && vm->started ? (int64_t)time(NULL) - vm->started : 0;
}

/* qsort has no context argument: sort an array of (key, index) instead */
struct sortkey {
	double key;
	const char *name;
	int idx;
};

static int
cmp_key(const void *a, const void *b)
{
	const struct sortkey *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return strcmp(x->name, y->name);
}

static bool
matches(const struct tui *t, const struct hv_vm *vm)
{
	return t->filter[0] == '\0' || strcasestr(vm->name, t->filter) != NULL ||
	       strcasecmp(vm->state, t->filter) == 0;
}

static void
rebuild_order(struct tui *t)
{
	struct sortkey *k = calloc(t->nvms + 1, sizeof *k);
	const char *keep = t->want_select[0] ? t->want_select :
			   t->nshown > 0 && t->sel < t->nshown ? t->vms[t->order[t->sel]].name : NULL;
	char keep_name[HV_NAME_MAX] = "";
	int n = 0;

	if (keep != NULL)
		snprintf(keep_name, sizeof keep_name, "%.63s", keep);
	free(t->order);
	t->order = calloc(t->nvms + 1, sizeof *t->order);
	if (k == NULL || t->order == NULL) {
		free(k);
		t->nshown = 0;
		return;
	}
	for (size_t i = 0; i < t->nvms; i++) {
		const struct hv_vm *vm = &t->vms[i];

		if (!matches(t, vm))
			continue;
		k[n].name = vm->name;
		k[n].idx = (int)i;
		switch (t->sort) {
		case SORT_STATE: k[n].key = state_rank(vm->state); break;
		case SORT_CPU: k[n].key = -cpu_pct(t, vm); break;
		case SORT_MEMORY: k[n].key = -(double)vm->memory; break;
		case SORT_UPTIME: k[n].key = -(double)uptime_of(vm); break;
		default: k[n].key = 0; break;
		}
		n++;
	}
	qsort(k, (size_t)n, sizeof *k, cmp_key);
	t->nshown = n;
	for (int i = 0; i < n; i++) {
		t->order[i] = k[i].idx;
		if (keep_name[0] && strcmp(k[i].name, keep_name) == 0) {
			t->sel = i;
			if (t->want_select[0])
				t->want_select[0] = '\0';
		}
	}
	free(k);
	if (t->sel >= n)
		t->sel = n > 0 ? n - 1 : 0;
}

void
vms_refresh(struct tui *t)
{
	struct hv_vm *vms;
	struct hv_err err;
	size_t n;

	if (hv_vm_list(t->hv, &vms, &n, &err) != 0) {
		tui_error(t, &err);
		return;
	}
	/* keep the selection on the same VM across the swap */
	if (t->nshown > 0 && t->sel < t->nshown && !t->want_select[0])
		snprintf(t->want_select, sizeof t->want_select, "%s", t->vms[t->order[t->sel]].name);
	free(t->vms);
	t->vms = vms;
	t->nvms = n;
	sample_cpu(t);
	rebuild_order(t);
	t->want_select[0] = '\0';
}

void
vms_free(struct tui *t)
{
	free(t->vms);
	free(t->order);
	t->vms = NULL;
	t->order = NULL;
}

static struct hv_vm *
selected(struct tui *t)
{
	return t->nshown > 0 && t->sel < t->nshown ? &t->vms[t->order[t->sel]] : NULL;
}

static void
fmt_uptime(int64_t s, char *buf, size_t len)
{
	if (s <= 0)
		snprintf(buf, len, "-");
	else if (s < 86400)
		snprintf(buf, len, "%02d:%02d:%02d", (int)(s / 3600), (int)(s / 60 % 60), (int)(s % 60));
	else
		snprintf(buf, len, "%dd %02dh", (int)(s / 86400), (int)(s / 3600 % 24));
}

static int
state_attr(struct tui *t, const char *state)
{
	if (strcmp(state, "Running") == 0)
		return draw_attr(t, PAIR_RUNNING, A_BOLD);
	if (strcmp(state, "Paused") == 0 || strcmp(state, "Starting") == 0 ||
	    strcmp(state, "Saved") == 0)
		return draw_attr(t, PAIR_WARN, A_NORMAL);
	if (strcmp(state, "Failed") == 0)
		return draw_attr(t, PAIR_ERROR, A_BOLD);
	return A_NORMAL;
}

/* memory in a column: "512M", "1.5G" */
static void
fmt_mem(uint64_t b, char *buf, size_t len)
{
	if (b >= 10 * HV_GIB)
		snprintf(buf, len, "%.0fG", (double)b / HV_GIB);
	else if (b >= HV_GIB)
		snprintf(buf, len, "%.1fG", (double)b / HV_GIB);
	else
		snprintf(buf, len, "%lluM", (unsigned long long)((b + HV_MIB / 2) / HV_MIB));
}

/* what the worker said the VM has and wants; assigned falls back to the
   startup memory until it did, demand is 0 without dynamic memory */
static void
memory_of(struct tui *t, const struct hv_vm *vm, uint64_t *assigned, uint64_t *demand)
{
	struct tui_cpu *c = running(vm) ? cpu_of(t, vm->pid) : NULL;

	*assigned = c != NULL && c->assigned ? c->assigned : vm->memory;
	*demand = c != NULL && vm->dm.enabled ? c->demand : 0;
}

static void
draw_row(struct tui *t, int y, const struct hv_vm *vm, int namew, bool sel)
{
	char cpu[16] = "-", mem[32] = "-", dem[32] = "-", up[32], line[512];
	double pct = cpu_pct(t, vm);
	uint64_t assigned, demand;

	if (pct >= 0)
		snprintf(cpu, sizeof cpu, "%.1f", pct);
	memory_of(t, vm, &assigned, &demand);
	if (running(vm))
		fmt_mem(assigned, mem, sizeof mem);
	if (running(vm) && demand > 0)
		fmt_mem(demand, dem, sizeof dem);
	fmt_uptime(uptime_of(vm), up, sizeof up);
	if (sel)
		attron(A_REVERSE);
	snprintf(line, sizeof line, " %-*.*s ", namew, namew, vm->name);
	draw_text(y, 0, COLS, line, true);
	if (!sel)
		attron(state_attr(t, vm->state));
	mvprintw(y, namew + 2, "%-9s", vm->state);
	if (!sel)
		attroff(state_attr(t, vm->state));
	/* demand comes from the balloon's statistics with dynamic memory */
	mvprintw(y, namew + 11, " %3d %6s %9s %8s %10s", vm->generation, cpu, mem, dem, up);
	if (sel)
		attroff(A_REVERSE);
}

/* the selected VM's samples of the last minutes, read once a second */
static void
spark_load(struct tui *t, const struct hv_vm *vm)
{
	struct hv_vm_sample *s;
	struct hv_err err;
	double now = tui_now();
	size_t n, first;

	if (strcmp(t->spark_uuid, vm->uuid) == 0 && now - t->spark_at < 1.0)
		return;
	snprintf(t->spark_uuid, sizeof t->spark_uuid, "%s", vm->uuid);
	t->spark_at = now;
	t->nspark = 0;
	/* the worker samples every 5 s: twice the sparkline's span is plenty */
	if (hv_vm_samples(t->hv, vm->uuid, (int64_t)(time(NULL) - 2 * 5 * TUI_SPARK) * 1000,
			  &s, &n, &err) != 0)
		return;
	first = n > TUI_SPARK ? n - TUI_SPARK : 0;
	for (size_t i = first; i < n; i++) {
		t->spark_assigned[t->nspark] = s[i].mem_assigned;
		t->spark_demand[t->nspark++] = s[i].mem_demand;
	}
	free(s);
}

/* the last k values as eighths of top: one glyph a value */
static void
spark_text(struct tui *t, const uint64_t *v, int n, int k, uint64_t top, char *buf, size_t len)
{
	static const char *const bars[8] = {
		"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588",
	};
	static const char ascii[] = ".:-=+*#%";
	size_t used = 0;

	buf[0] = '\0';
	for (int i = n > k ? n - k : 0; i < n && used + 4 < len; i++) {
		int level = top ? (int)((v[i] * 8 + top - 1) / top) - 1 : 0;

		level = level < 0 ? 0 : level > 7 ? 7 : level;
		if (t->utf8)
			used += (size_t)snprintf(buf + used, len - used, "%s", bars[level]);
		else
			used += (size_t)snprintf(buf + used, len - used, "%c", ascii[level]);
	}
}

/* "Memory  assigned 512M, demand 300M  ▃▄▅▅ assigned  ▁▂▃▃ demand" */
static void
memory_line(struct tui *t, const struct hv_vm *vm, int w, char *line, size_t len)
{
	char a[32] = "-", d[32] = "-", sa[TUI_SPARK * 4 + 1], sd[TUI_SPARK * 4 + 1];
	uint64_t assigned, demand, top = vm->dm.enabled ? vm->dm.maximum : vm->memory;
	int room, k, used;

	memory_of(t, vm, &assigned, &demand);
	if (running(vm))
		fmt_mem(assigned, a, sizeof a);
	if (running(vm) && demand > 0)
		fmt_mem(demand, d, sizeof d);
	used = snprintf(line, len, "Memory: assigned %s, demand %s", a, d);
	spark_load(t, vm);
	if (t->nspark == 0 || used < 0 || (size_t)used >= len)
		return;
	for (int i = 0; i < t->nspark; i++)
		top = t->spark_assigned[i] > top ? t->spark_assigned[i] : top;
	/* blanks and labels take 11 columns a sparkline */
	room = w - used;
	k = vm->dm.enabled ? (room - 22) / 2 : room - 11;
	k = k > TUI_SPARK ? TUI_SPARK : k;
	if (k < 5)
		return;
	spark_text(t, t->spark_assigned, t->nspark, k, top, sa, sizeof sa);
	if (vm->dm.enabled) {
		spark_text(t, t->spark_demand, t->nspark, k, top, sd, sizeof sd);
		snprintf(line + used, len - (size_t)used, "  %s assigned  %s demand", sa, sd);
	} else {
		snprintf(line + used, len - (size_t)used, "  %s assigned", sa);
	}
}

static void
draw_details(struct tui *t, int y, int h, const struct hv_vm *vm)
{
	char a[32], b[32], line[HV_PATH_MAX + HV_CMDLINE_MAX + 64];
	int row = y + 1, w = COLS - 4;

	draw_box(t, y, 0, h, COLS, vm ? vm->name : "no VM selected");
	if (vm == NULL) {
		draw_text(row, 2, w, t->nvms ? "No VM matches the filter." :
			  "No virtual machines yet: press n for the New Virtual Machine wizard.", false);
		return;
	}
	hv_format_size(vm->memory, a, sizeof a);
	snprintf(line, sizeof line, "Generation %d   %d vCPU   startup memory %s   state %s",
		 vm->generation, vm->vcpus, a, vm->state);
	draw_text(row++, 2, w, line, false);
	if (vm->dm.enabled) {
		hv_format_size(vm->dm.minimum, a, sizeof a);
		hv_format_size(vm->dm.maximum, b, sizeof b);
		snprintf(line, sizeof line, "Dynamic memory %s..%s, buffer %d%%, weight %d",
			 a, b, vm->dm.buffer, vm->dm.priority);
	} else {
		snprintf(line, sizeof line, "Dynamic memory off");
	}
	draw_text(row++, 2, w, line, false);
	memory_line(t, vm, w, line, sizeof line);
	draw_text(row++, 2, w, line, false);
	if (vm->generation == 2)
		snprintf(line, sizeof line, "Kernel  %s%s%s", vm->kernel[0] ? vm->kernel : "(none)",
			 vm->cmdline[0] ? "  cmdline: " : "", vm->cmdline);
	else
		snprintf(line, sizeof line, "BIOS    %s", vm->firmware[0] ? vm->firmware : "(host default)");
	draw_text(row++, 2, w, line, false);
	for (int i = 0; i < vm->ndisks && row < y + h - 3; i++) {
		snprintf(line, sizeof line, "%s %s", i ? "       " : "Disks  ", vm->disks[i]);
		draw_text(row++, 2, w, line, false);
	}
	if (vm->ndisks == 0)
		draw_text(row++, 2, w, "Disks   (none)", false);
	if (vm->nnics == 0)
		snprintf(line, sizeof line, "Network not connected");
	else
		snprintf(line, sizeof line, "Network %s on %s%s", vm->nics[0].mac, vm->nics[0].switch_name,
			 vm->nnics > 1 ? " (+ more)" : "");
	if (row < y + h - 2)
		draw_text(row++, 2, w, line, false);
	if (running(vm)) {
		fmt_uptime(uptime_of(vm), a, sizeof a);
		snprintf(line, sizeof line, "Up %s, worker pid %d", a, vm->pid);
	} else {
		snprintf(line, sizeof line, "Last stop: %s", vm->last_exit[0] ? vm->last_exit : "-");
	}
	if (row < y + h - 1)
		draw_text(row++, 2, w, line, false);
}

void
vms_draw(struct tui *t, int top, int rows)
{
	int detail = rows >= 20 ? 10 : rows / 2;
	int list = rows - detail - 1, namew = COLS - 52;
	char head[256];

	namew = namew < 8 ? 8 : namew > 40 ? 40 : namew;
	snprintf(head, sizeof head, " %-*s %-9s %3s %6s %9s %8s %10s", namew, "NAME", "STATE", "GEN",
		 "CPU%", "ASSIGNED", "DEMAND", "UPTIME");
	attron(A_BOLD);
	draw_text(top, 0, COLS, head, true);
	attroff(A_BOLD);
	if (t->sel < t->top)
		t->top = t->sel;
	if (t->sel >= t->top + list)
		t->top = t->sel - list + 1;
	for (int i = 0; i < list && t->top + i < t->nshown; i++)
		draw_row(t, top + 1 + i, &t->vms[t->order[t->top + i]], namew, t->top + i == t->sel);
	if (t->filter[0] || t->sort != SORT_NAME) {
		snprintf(head, sizeof head, " %d of %zu VMs%s%s%s, sorted by %s ", t->nshown, t->nvms,
			 t->filter[0] ? ", filter '" : "", t->filter, t->filter[0] ? "'" : "",
			 sort_names[t->sort]);
		attron(draw_attr(t, PAIR_DIM, A_BOLD));
		draw_text(top + list, COLS - (int)strlen(head) - 1, (int)strlen(head), head, false);
		attroff(draw_attr(t, PAIR_DIM, A_BOLD));
	}
	draw_details(t, top + list + 1, detail, selected(t));
}

const char *const *
vms_hints(void)
{
	static const char *const hints[] = {
		"n", "New", "s", "Start", "d", "Shut down", "T", "Turn off", "p", "Pause",
		"c", "Console", "e", "Settings", "M", "Move", "x", "Delete", "/", "Filter", "?", "Help",
		"q", "Quit", NULL, NULL,
	};

	return hints;
}

/* --- actions ----------------------------------------------------------- */

static void
action(struct tui *t, int (*fn)(struct hv_ctx *, const char *, struct hv_err *),
       const char *name, const char *done)
{
	struct hv_err err;

	if (fn(t->hv, name, &err) != 0)
		tui_error(t, &err);
	else
		tui_message(t, false, "%s VM %s", done, name);
}

static void
console(struct tui *t, const char *name)
{
	def_prog_mode();
	endwin();
	printf("\033[H\033[2J");
	fflush(stdout);
	console_attach(t->ctx, name);
	reset_prog_mode();
	clearok(curscr, TRUE);
	refresh();
	tui_message(t, false, "back from %s's console", name);
}

static void
open_wizard(struct tui *t, const char *kind, const char *target)
{
	char result[HV_PATH_MAX];

	if (form_run(t, kind, target, result, sizeof result)) {
		snprintf(t->want_select, sizeof t->want_select, "%s", result);
		tui_message(t, false, "done: %s", result);
	}
	clearok(curscr, TRUE);
}

/*
 * The Move wizard (live migration). Only a running or paused VM moves
 * live, so another is refused here, before any page; whatever else can go
 * wrong (no migration.secret, the destination) hv vm migrate says at
 * Finish, on the wizard's error line as for the other wizards.
 */
static void
move_wizard(struct tui *t, const struct hv_vm *vm)
{
	char result[HV_PATH_MAX];

	if (strcmp(vm->state, "Running") != 0 && strcmp(vm->state, "Paused") != 0) {
		tui_message(t, true, "VM %s is %s: only a running VM moves live (start it first)",
			    vm->name, vm->state);
		return;
	}
	/* done, it left this host: nothing here to select */
	if (form_run(t, "move-vm", vm->name, result, sizeof result))
		tui_message(t, false, "moved VM %s: it runs on the destination host now", result);
	clearok(curscr, TRUE);
}

bool
vms_key(struct tui *t, int ch)
{
	struct hv_vm *vm = selected(t);
	char name[HV_NAME_MAX] = "";
	struct hv_err err;

	if (vm != NULL)
		snprintf(name, sizeof name, "%s", vm->name);
	switch (ch) {
	case KEY_DOWN: case 'j':
		if (t->sel + 1 < t->nshown)
			t->sel++;
		return false;
	case KEY_UP: case 'k':
		if (t->sel > 0)
			t->sel--;
		return false;
	case KEY_HOME: case 'g':
		t->sel = 0;
		return false;
	case KEY_END: case 'G':
		t->sel = t->nshown > 0 ? t->nshown - 1 : 0;
		return false;
	case KEY_NPAGE:
		t->sel = t->sel + 10 < t->nshown ? t->sel + 10 : (t->nshown ? t->nshown - 1 : 0);
		return false;
	case KEY_PPAGE:
		t->sel = t->sel > 10 ? t->sel - 10 : 0;
		return false;
	case 'n':
		open_wizard(t, "new-vm", NULL);
		return true;
	case '/':
		if (!tui_prompt(t, "Filter (name or state, empty for all):", t->filter, sizeof t->filter))
			t->filter[0] = '\0';
		rebuild_order(t);
		return true;
	case 'o':
		t->sort = (t->sort + 1) % SORT_COUNT;
		rebuild_order(t);
		tui_message(t, false, "sorted by %s", sort_names[t->sort]);
		return true;
	}
	if (vm == NULL)
		return false;
	switch (ch) {
	case 's':
		tui_message(t, false, "starting %s ...", name);
		action(t, hv_vm_start, name, "started");
		return true;
	case 'd':
		if (hv_vm_shutdown(t->hv, name, 0, false, &err) < 0)
			tui_error(t, &err);
		else
			tui_message(t, false, "asked VM %s to shut down (power button)", name);
		return true;
	case 'S':
		action(t, hv_vm_save, name, "saved");
		return true;
	case 'T':
		if (tui_confirm(t, "Turn off %s at once? Unsaved guest data is lost. (y/n)", name))
			action(t, hv_vm_stop, name, "turned off");
		return true;
	case 'p':
		if (strcmp(vm->state, "Paused") == 0)
			action(t, hv_vm_resume, name, "resumed");
		else
			action(t, hv_vm_pause, name, "paused");
		return true;
	case 'c': case '\r': case '\n': case KEY_ENTER:
		console(t, name);
		return true;
	case 'e': case 'm':
		open_wizard(t, "vm-settings", name);
		return true;
	case 'M':
		move_wizard(t, vm);
		return true;
	case 'x': case KEY_DC:
		if (tui_confirm(t, "Delete VM %s? Its disk files are kept. (y/n)", name))
			action(t, hv_vm_delete, name, "deleted");
		return true;
	}
	return false;
}
