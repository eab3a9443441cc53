/*
 * wiz-move.c - the Move wizard, Hyper-V Manager's "Move..." for a running
 * VM: the destination host, whether its storage goes too, and how long it
 * may stand still. The answers become one `hv vm migrate`.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "wizards/wiz-int.h"

/* hv vm migrate's own default (cmd-migrate.c): left off the command line
   when kept, so the script says only what the admin chose */
#define DOWNTIME_DEFAULT	300

static const struct wiz_field_def move_fields[] = {
	{ "name", "Virtual machine", WF_TEXT, "the VM this wizard moves (choose another in the list)", NULL, 0, 0, 0 },
	{ "to", "Destination host", WF_TEXT, "HOST or HOST:PORT (IPv6 in brackets: [fd00::2]:6790); no port: migration.port in hv.conf", NULL, 0, 0, WIZ_REQUIRED },
	{ "storage", "Move storage too", WF_TOGGLE, "copy the VM's disks as well: needed when the destination does not see the same disk paths (space toggles)", NULL, 0, 0, 0 },
	{ "max-downtime", "Maximum downtime ms", WF_NUMBER, "the longest the VM may stand still while it switches hosts, 1..600000 ms", NULL, 1, 600000, WIZ_REQUIRED },
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0 },
};

static const struct wiz_page_def move_pages[] = {
	{ "Destination", "Live migration moves the running VM to another host without stopping it. "
	  "That host runs hv host serve with the same migration.secret in its hv.conf.",
	  { "name", "to", NULL } },
	{ "Storage and Downtime", "Move the VM's storage too when the destination does not see the same "
	  "disk paths (no shared storage); the disks are copied while the VM runs.",
	  { "storage", "max-downtime", NULL } },
	{ NULL, NULL, { NULL } },
};

/*
 * The target VM must exist. Its state and migration.secret are hv vm
 * migrate's to check at Finish, where both are read afresh: the VM may
 * stop while the wizard is open, and a front end keeps the config it read
 * when it opened hv, so a refusal here could outlive the admin's fix.
 */
static int
move_init(struct wizard *w, const char *target, struct hv_err *err)
{
	struct wiz_field *f;

	if (target == NULL)
		return hv_fail(err, HV_EUSAGE, "move-vm: which VM?");
	if (hv_vm_get(w->hv, target, &w->vm, err) != 0)
		return -1;
	f = wiz_find(w, "name");
	snprintf(f->value, sizeof f->value, "%s", w->vm.name);
	f->readonly = true;
	wiz_default(w, "storage", "off");
	wiz_default(w, "max-downtime", "%d", DOWNTIME_DEFAULT);
	wiz_set_result(w, w->vm.name);
	return 0;
}

/* every field is always asked, and none follows another */
static void
move_update(struct wizard *w)
{
}

/*
 * HOST, HOST:PORT or [IPv6]:PORT, as engine/cluster/migrate.c splits it: a bare
 * IPv6 address would lose its last group to the port there, so it must
 * come in brackets. No blanks (it is one word of the command line), no
 * leading '-' (the option parser would read an option).
 */
static int
host_rules(struct wizard *w, struct hv_err *err)
{
	const char *to = wiz_get(w, "to"), *host = to, *port = NULL;
	const char *label = wiz_find(w, "to")->label;
	size_t n;

	for (const char *c = to; *c; c++)
		if (isspace((unsigned char)*c) || iscntrl((unsigned char)*c))
			return wiz_blame(w, "to", err, HV_EUSAGE,
					 "%s '%s': no spaces; give HOST or HOST:PORT", label, to);
	if (to[0] == '[') {
		const char *end = strchr(to, ']');

		if (end == NULL)
			return wiz_blame(w, "to", err, HV_EUSAGE,
					 "%s '%s': no ']' after the IPv6 address", label, to);
		if (end[1] != '\0' && end[1] != ':')
			return wiz_blame(w, "to", err, HV_EUSAGE,
					 "%s '%s': only :PORT may follow ']'", label, to);
		host = to + 1;
		n = (size_t)(end - host);
		port = end[1] == ':' ? end + 2 : NULL;
	} else {
		const char *colon = strchr(to, ':');

		if (colon != NULL && strchr(colon + 1, ':') != NULL)
			return wiz_blame(w, "to", err, HV_EUSAGE,
					 "%s '%s': put an IPv6 address in brackets, like [fd00::2] or [fd00::2]:6790",
					 label, to);
		n = colon ? (size_t)(colon - to) : strlen(to);
		port = colon ? colon + 1 : NULL;
	}
	if (n == 0)
		return wiz_blame(w, "to", err, HV_EUSAGE, "%s '%s' names no host", label, to);
	if (n > 255)
		return wiz_blame(w, "to", err, HV_EUSAGE, "%s: a host name is at most 255 characters", label);
	if (host[0] == '-')
		return wiz_blame(w, "to", err, HV_EUSAGE, "%s '%s': a host name does not start with '-'",
				 label, to);
	if (port != NULL) {
		char *end;
		long p = strtol(port, &end, 10);

		if (port[0] < '0' || port[0] > '9' || *end != '\0' || p < 1 || p > 65535)
			return wiz_blame(w, "to", err, HV_EUSAGE, "%s '%s': the port '%s' is not 1..65535",
					 label, to, port);
	}
	return 0;
}

static int
move_rules(struct wizard *w, int page, struct hv_err *err)
{
	return page == 0 ? host_rules(w, err) : 0;
}

static void
move_script(struct wizard *w, FILE *f)
{
	const char *name = wiz_get(w, "name");
	bool storage = wiz_is(w, "storage", "on");
	long long downtime = wiz_num(w, "max-downtime");

	fprintf(f, "# live-migrate %s to %s%s, standing still at most %lld ms\n", name,
		wiz_get(w, "to"), storage ? " with its disks" : " (its disks stay: shared storage)",
		downtime);
	fprintf(f, "hv vm migrate");
	wiz_word(f, name);
	wiz_opt(f, "--to", wiz_get(w, "to"));
	if (storage)
		wiz_opt(f, "--storage", NULL);
	/* the number as parsed: " 100" and "0100" were taken by Next too */
	if (downtime != DOWNTIME_DEFAULT)
		fprintf(f, " --max-downtime %lld", downtime);
	fputc('\n', f);
}

const struct wiz_kind wiz_move_vm = {
	"move-vm", "Move Virtual Machine", move_fields, move_pages,
	move_init, move_update, move_rules, move_script,
};
