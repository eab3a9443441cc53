/*
 * wizards-move.c - the Move Virtual Machine wizard driven headless: it
 * needs a VM, its defaults (storage off, 300 ms), each rule on the
 * destination and the downtime (the message and the field it names),
 * Back keeping what was entered, and the one `hv vm migrate` line Finish
 * runs. That line goes through `hv -f` too: its options must parse, so
 * what stops it is the engine's own refusal (no migration.secret, then a
 * VM that is off; nothing migrates in a unit test).
 */
#include "tests/unit/wizard-test.h"

#define VM	"mover"

/* the script's one command line, after its comments */
static void
script_is(struct wizard *w, const char *want)
{
	char *s = script_of(w);
	const char *l = s ? strstr(s, "\nhv ") : NULL;

	is_int(s ? command_lines(s) : -1, 1, "one command");
	ok(s != NULL && strncmp(s, "# Move Virtual Machine (hv move-vm wizard)\n", 43) == 0,
	   "it starts with the wizard's comment");
	ok(l != NULL && strcmp(l + 1, want) == 0, "the script runs: %.*s", (int)strcspn(want, "\n"), want);
	free(s);
}

/* hv.conf's migration.secret, as an admin sets it (hv -f reads it) */
static void
set_secret(const char *secret)
{
	ok(sh("sed -i 's/^  secret = \"[^\"]*\";/  secret = \"%s\";/' '%s'", secret,
	      tpath("hv.conf")) == 0, "migration.secret = \"%s\" in hv.conf", secret);
}

static void
refusals(void)
{
	struct hv_err err = { 0 };
	struct hv_vm vm;

	ok(wiz_new("move-vm", hv, NULL, &err) == NULL && strstr(err.msg, "which VM"),
	   "move-vm needs a VM: %s", err.msg);
	ok(wiz_new("move-vm", hv, "ghost", &err) == NULL, "move-vm of no VM: %s", err.msg);
	ok(wiz_new("nope", hv, NULL, &err) == NULL && strstr(err.msg, "move-vm)"),
	   "the kinds an unknown one is told include move-vm: %s", err.msg);
	hv_vm_init(hv, &vm);
	snprintf(vm.name, sizeof vm.name, VM);
	err.msg[0] = '\0';
	ok(hv_vm_create(hv, &vm, &err) == 0, "a VM " VM " (%s)", err.msg);
}

static void
defaults(void)
{
	struct wizard *w = open_wiz("move-vm", VM);

	is_str(wiz_title(w), "Move Virtual Machine", "move-vm: title");
	is_int(wiz_npages(w), 3, "move-vm: two pages and a summary");
	is_str(wiz_page_title(w, 0), "Destination", "page 1: the destination");
	is_str(wiz_page_title(w, 1), "Storage and Downtime", "page 2: storage and downtime");
	is_str(wiz_page_title(w, 2), "Summary", "page 3: the summary");
	ok(strstr(wiz_page_intro(w, 0), "hv host serve with the same migration.secret") != NULL,
	   "page 1 says what the destination must run");
	ok(strstr(wiz_page_intro(w, 1), "does not see the same disk paths") != NULL &&
	   strstr(wiz_find(w, "storage")->help, "does not see the same disk paths") != NULL,
	   "page 2 and the storage field say when to move the storage");
	has(w, "move-vm", "name", VM, "to", "", "storage", "off", "max-downtime", "300", NULL);
	is_int(wiz_find(w, "storage")->type, WF_TOGGLE, "storage is a yes/no toggle");
	ok(wiz_find(w, "name")->readonly, "the VM is shown, read-only");
	set_refused(w, "name", "other", "Virtual machine cannot change");
	set_refused(w, "storage", "yes", "'yes' is not one of off, on");
	visible(w, "move-vm", "name to storage max-downtime", "");
	is_str(wiz_result(w), VM, "the result is the VM (the saved script is named after it)");
	wiz_free(w);
}

static const struct step rules_steps[] = {
	{ NULL, NULL, "to", "Destination host is required" },
	{ "to", "host 2", "to", "Destination host 'host 2': no spaces" },
	{ "to", "\thost2", "to", "no spaces" },
	{ "to", "host2 ", "to", "no spaces" },
	{ "to", "host2:0", "to", "the port '0' is not 1..65535" },
	{ "to", "host2:65536", "to", "the port '65536' is not 1..65535" },
	{ "to", "host2:", "to", "the port '' is not 1..65535" },
	{ "to", "host2:http", "to", "the port 'http' is not 1..65535" },
	{ "to", "host2:+80", "to", "the port '+80' is not 1..65535" },
	{ "to", "host2:80x", "to", "the port '80x' is not 1..65535" },
	{ "to", ":6790", "to", "':6790' names no host" },
	{ "to", "fd00::2", "to", "put an IPv6 address in brackets" },
	{ "to", "[fd00::2", "to", "no ']' after the IPv6 address" },
	{ "to", "[fd00::2]6790", "to", "only :PORT may follow ']'" },
	{ "to", "[]:6790", "to", "names no host" },
	{ "to", "[fd00::2]:99999", "to", "the port '99999' is not 1..65535" },
	{ "to", "-host2", "to", "does not start with '-'" },
	{ "to", "[fd00::2]", NEXT, "an IPv6 address in brackets" },
	{ NULL, NULL, BACK, NULL },
	{ "to", "10.0.0.2:1", NEXT, "an address and port 1" },
	{ NULL, NULL, BACK, NULL },
	{ "to", "host2:65535", NEXT, "a name and port 65535" },
	{ "max-downtime", "", "max-downtime", "Maximum downtime ms is required" },
	{ "max-downtime", "0", "max-downtime", "Maximum downtime ms 0: must be 1..600000" },
	{ "max-downtime", "-5", "max-downtime", "must be 1..600000" },
	{ "max-downtime", "600001", "max-downtime", "Maximum downtime ms 600001: must be 1..600000" },
	{ "max-downtime", "1.5", "max-downtime", "'1.5' is not a whole number" },
	{ "max-downtime", "300ms", "max-downtime", "'300ms' is not a whole number" },
	{ "max-downtime", "99999999999999999999", "max-downtime", "is not a whole number" },
	{ "max-downtime", "600000", NEXT, "600000 ms, the most" },
	{ NULL, NULL, NULL, NULL },
};

static void
rules(void)
{
	struct wizard *w = open_wiz("move-vm", VM);
	struct hv_err err = { 0 };
	char *s;

	walk(w, rules_steps);
	ok(wiz_at_summary(w), "the summary after both pages");
	/* Back keeps every value entered */
	wiz_back(w);
	wiz_back(w);
	is_int(wiz_page(w), 0, "Back, Back: page 1");
	has(w, "after Back", "to", "host2:65535", "max-downtime", "600000", NULL);
	set(w, "to", "bad host", NULL);
	s = wiz_script(w, &err);
	ok(s == NULL && wiz_page(w) == 0 && strstr(err.msg, "no spaces"),
	   "a bad destination: no script (Finish checks every page): %s", s ? "made" : err.msg);
	free(s);
	wiz_free(w);
}

/* the script Finish runs, through hv -f: the shell must take every
   option, so what stops it is the engine's refusal with want */
static void
runs_in_hv(const char *script, const char *want, const char *what)
{
	const char *path = tpath("finish.hv"), *errs = tpath("finish.err");
	char buf[1024] = "";
	FILE *f;
	int rc = -1;

	if (script != NULL && (f = fopen(path, "w")) != NULL) {
		fputs(script, f);
		fclose(f);
		rc = sh("'%s' -f '%s' 2>'%s'", hvbin, path, errs);
	}
	if ((f = fopen(errs, "r")) != NULL) {
		buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
		fclose(f);
	}
	ok(rc == 1 && strstr(buf, want) != NULL, "hv -f takes %s; the engine refuses: %.*s", what,
	   (int)strcspn(buf, "\n"), buf);
}

static void
scripts(void)
{
	struct wizard *w = open_wiz("move-vm", VM);
	char *s;

	/* the defaults: no --storage, and 300 ms is hv vm migrate's own */
	set(w, "to", "host2", NULL);
	finish_pages(w);
	script_is(w, "hv vm migrate " VM " --to host2\n");
	s = wiz_script(w, &(struct hv_err){ 0 });
	ok(s != NULL && strstr(s, "\n# live-migrate " VM " to host2 (its disks stay: shared storage), "
			       "standing still at most 300 ms\n"), "a comment says what it does");
	/* nothing can migrate here: no secret, then a VM that is off */
	runs_in_hv(s, "no migration.secret in ", "the default line");
	free(s);
	wiz_free(w);

	/* storage and a downtime of its own, to an IPv6 address and port */
	w = open_wiz("move-vm", VM);
	set(w, "to", "[fd00::2]:6791", "storage", "on", "max-downtime", "100", NULL);
	finish_pages(w);
	script_is(w, "hv vm migrate " VM " --to '[fd00::2]:6791' --storage --max-downtime 100\n");
	s = wiz_script(w, &(struct hv_err){ 0 });
	ok(s != NULL && strstr(s, " with its disks, standing still at most 100 ms\n"),
	   "the comment says the disks go too");
	set_secret("wizard-test");
	runs_in_hv(s, "VM '" VM "' is Off: only a running VM migrates live", "--storage and --max-downtime");
	free(s);
	wiz_free(w);

	/* 300 typed in is still the default; a number is written as parsed */
	w = open_wiz("move-vm", VM);
	set(w, "to", "host2:6790", "max-downtime", "300", NULL);
	finish_pages(w);
	script_is(w, "hv vm migrate " VM " --to host2:6790\n");
	wiz_back(w);
	set(w, "max-downtime", "0050", NULL);
	finish_pages(w);
	script_is(w, "hv vm migrate " VM " --to host2:6790 --max-downtime 50\n");
	wiz_back(w);
	set(w, "storage", "on", "max-downtime", "600000", NULL);
	finish_pages(w);
	script_is(w, "hv vm migrate " VM " --to host2:6790 --storage --max-downtime 600000\n");
	wiz_free(w);
}

int
main(void)
{
	wiz_test_setup("/tmp/hv-wiz-move.XXXXXX");

	refusals();
	defaults();
	rules();
	scripts();

	wiz_test_cleanup();
	return done_testing();
}
