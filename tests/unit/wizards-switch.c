/*
 * wizards-switch.c - the New Virtual Switch wizard driven headless: its
 * defaults, what each type shows, each rule (the message and the field
 * it names) and the script. As root the test moves into a network
 * namespace of its own (unshare), where only what it makes exists: there
 * the host adapters offered are exactly known, the scripts run through
 * `hv -f` make real bridges (`hv switch show --json` and iproute2 are the
 * oracles), and the New Virtual Machine wizard puts an adapter on one in
 * a VLAN. The namespace, and every bridge in it, goes when the test ends.
 */
#include <sched.h>

#include "tests/unit/wizard-test.h"

/* the script's one command line, after its comments */
static void
script_runs(struct wizard *w, const char *want)
{
	char *s = script_of(w);
	const char *l = s ? strstr(s, "\nhv ") : NULL;

	is_int(s ? command_lines(s) : -1, 1, "%s: one command", wiz_get(w, "type"));
	ok(l != NULL && strcmp(l + 1, want) == 0, "the script runs: %.*s", (int)strcspn(want, "\n"), want);
	free(s);
}

static void
defaults(void)
{
	struct wizard *w = open_wiz("new-switch", NULL);
	struct hv_err err;

	is_str(wiz_title(w), "New Virtual Switch", "new-switch: title");
	is_int(wiz_npages(w), 3, "new-switch: two pages and a summary");
	is_str(wiz_page_title(w, 0), "Switch Type", "page 1: the type");
	is_str(wiz_page_title(w, 1), "Name and Connection", "page 2: name and connection");
	ok(strstr(wiz_page_intro(w, 0), "Private: VMs talk only to each other") != NULL,
	   "the type page says what each type connects");
	has(w, "new-switch", "type", "internal", "name", "", "host-ip", "", NULL);
	is_int(wiz_find(w, "type")->nchoices, 3, "three types");
	visible(w, "internal", "type name host-ip", "nic");
	set(w, "type", "external", NULL);
	visible(w, "external", "name nic", "host-ip");
	set(w, "type", "private", NULL);
	visible(w, "private", "name", "nic host-ip");
	ok(wiz_cycle(w, "type", 1, &err) == 0, "cycle the type");
	has(w, "after private comes", "type", "external", NULL);
	set_refused(w, "type", "bridged", "'bridged' is not one of external, internal, private");
	wiz_free(w);

	w = open_wiz("new-switch", "lan");
	has(w, "new-switch on a target", "name", "lan", NULL);
	wiz_free(w);
}

static const struct step rules_steps[] = {
	{ NULL, NULL, NEXT, "internal" },
	{ NULL, NULL, "name", "Name is required" },
	{ "name", "bad name", "name", "name 'bad name' contains ' '" },
	{ "name", "rules", NULL, NULL },
	{ "host-ip", "192.168.100.1", "host-ip", "'192.168.100.1': use an address with a prefix length" },
	{ "host-ip", "300.1.1.1/24", "host-ip", "use an address with a prefix length, like 192.168.100.1/24" },
	{ "host-ip", "10.0.0.1/33", "host-ip", "use an address with a prefix length" },
	{ "host-ip", "lan", "host-ip", "use an address with a prefix length" },
	{ "host-ip", "127.0.0.1/8", "host-ip", "'127.0.0.1/8': not a unicast host address" },
	{ "host-ip", "10.0.0.1/0", "host-ip", "not a unicast host address on a network" },
	{ "host-ip", "ff02::1/64", "host-ip", "not a unicast host address" },
	{ "host-ip", "fd00::1/64", NEXT, "an IPv6 host address" },
	{ NULL, NULL, BACK, NULL },
	{ "host-ip", "", NEXT, "no host address" },
	{ NULL, NULL, BACK, NULL },
	{ NULL, NULL, BACK, NULL },
	{ "type", "private", NEXT, "private" },
	{ "host-ip", "garbage", NEXT, "a private switch: the host address is not asked" },
	{ NULL, NULL, NULL, NULL },
};

static void
rules(void)
{
	struct wizard *w = open_wiz("new-switch", NULL);
	struct hv_err err;

	walk(w, rules_steps);
	ok(wiz_at_summary(w), "at the summary");
	script_runs(w, "hv switch create rules --type private\n");
	is_str(wiz_result(w), "rules", "the result is the switch");
	wiz_back(w);
	set(w, "type", "internal", "host-ip", "192.168.100.1/24", NULL);
	script_runs(w, "hv switch create rules --type internal --host-ip 192.168.100.1/24\n");
	set(w, "host-ip", "", NULL);
	script_runs(w, "hv switch create rules --type internal\n");
	ok(wiz_next(w, &err) == 0 && wiz_at_summary(w), "internal without an address is fine");
	wiz_free(w);

	/* a host adapter that is not there: not offered, or not found */
	w = open_wiz("new-switch", NULL);
	set(w, "type", "external", "name", "ext", NULL);
	accepted(w, "external");
	if (wiz_find(w, "nic")->nchoices > 0) {
		set_refused(w, "nic", "nope0", "Network adapter: 'nope0' is not one of");
	} else {
		set(w, "nic", "nope0", NULL);
		refused(w, "nic", "no network interface 'nope0' on this host");
	}
	wiz_free(w);
}

/* --- in a network namespace of the test's own (root) ------------------- */

/* `hv switch show NAME --json` */
static void
switch_is(const char *name, const char *type, const char *nic, const char *host_ip)
{
	cJSON *j = json_of("'%s' switch show '%s' --json", hvbin, name);

	ok(j != NULL, "hv switch show %s --json", name);
	is_str(jstr(j, "type"), type, "%s: %s", name, type);
	is_str(jstr(j, "nic"), nic, "%s: uplink '%s'", name, nic);
	is_str(jstr(j, "host_ip"), host_ip, "%s: host address '%s'", name, host_ip);
	is_str(jstr(j, "state"), "up", "%s: its bridge is up", name);
	cJSON_Delete(j);
}

/* a whole wizard: the steps, then Finish through hv -f */
static void
make_switch(const struct step *steps, const char *want)
{
	struct wizard *w = open_wiz("new-switch", NULL);
	char *s;

	walk(w, steps);
	ok(wiz_at_summary(w), "at the summary");
	s = script_of(w);
	ok(s != NULL && strstr(s, want) != NULL, "the script: %.*s", (int)strcspn(want + 1, "\n"), want + 1);
	is_int(run_script(s), 0, "hv -f runs it");
	free(s);
	wiz_free(w);
}

static const struct step private_steps[] = {
	{ "type", "private", NEXT, "private" },
	{ "name", "wsp", NEXT, "a free name" },
	{ NULL, NULL, NULL, NULL },
};

static const struct step internal_steps[] = {
	{ NULL, NULL, NEXT, "internal" },
	{ "name", "wsp", "name", "a virtual switch named 'wsp' already exists" },
	{ "name", "wsi", NULL, NULL },
	{ "host-ip", "192.168.100.1/24", NEXT, "a free name and a host address" },
	{ NULL, NULL, NULL, NULL },
};

static const struct step external_steps[] = {
	{ "type", "external", NEXT, "external" },
	{ "name", "wse", NEXT, "the one adapter offered" },
	{ NULL, NULL, NULL, NULL },
};

static void
uplinks(void)
{
	struct wizard *w = open_wiz("new-switch", NULL), *w2;

	/* nothing here but lo */
	is_int(wiz_find(w, "nic")->nchoices, 0, "only lo: no adapter offered");
	set(w, "type", "external", "name", "ext", NULL);
	accepted(w, "external");
	refused(w, "nic", "none here is free (each is loopback, a bridge or a bridge port)");
	set(w, "nic", "nope0", NULL);
	refused(w, "nic", "no network interface 'nope0' on this host");
	set(w, "nic", "lo", NULL);
	refused(w, "nic", "lo is the loopback interface");

	ok(sh("ip link add br0 type bridge && ip link add va type veth peer name vb && "
	      "ip link set vb master br0") == 0, "a bridge br0 with port vb, and va free");
	set(w, "nic", "br0", NULL);
	refused(w, "nic", "br0 is itself a bridge");
	set(w, "nic", "vb", NULL);
	refused(w, "nic", "vb is already a port of br0");

	w2 = open_wiz("new-switch", NULL);
	is_int(wiz_find(w2, "nic")->nchoices, 1, "one adapter offered");
	has(w2, "the free one, chosen", "nic", "va", NULL);
	set_refused(w2, "nic", "vb", "Network adapter: 'vb' is not one of va");
	set_refused(w2, "nic", "br0", "'br0' is not one of va");
	wiz_free(w2);
	wiz_free(w);
}

static void
switches(void)
{
	struct wizard *w;

	make_switch(private_steps, "\nhv switch create wsp --type private\n");
	switch_is("wsp", "private", "", "");
	make_switch(internal_steps, "\nhv switch create wsi --type internal --host-ip 192.168.100.1/24\n");
	switch_is("wsi", "internal", "", "192.168.100.1/24");
	ok(sh("ip -o addr show dev hv-wsi | grep -q 'inet 192.168.100.1/24'") == 0,
	   "ip: the host has 192.168.100.1/24 on hv-wsi");
	make_switch(external_steps, "\nhv switch create wse --type external --nic va\n");
	switch_is("wse", "external", "va", "");
	ok(sh("ip -o link show dev va | grep -q 'master hv-wse'") == 0, "ip: va is a port of hv-wse");

	/* va taken: a port now, and with its bridge gone still wse's uplink */
	w = open_wiz("new-switch", NULL);
	is_int(wiz_find(w, "nic")->nchoices, 0, "va is not offered again");
	set(w, "type", "external", "name", "wse2", "nic", "va", NULL);
	accepted(w, "external");
	refused(w, "nic", "va is already a port of hv-wse");
	wiz_free(w);
	ok(sh("ip link del hv-wse") == 0, "wse's bridge goes (as after a reboot)");
	w = open_wiz("new-switch", NULL);
	set(w, "type", "external", "name", "wse2", NULL);
	accepted(w, "external");
	has(w, "va is free on the host", "nic", "va", NULL);
	refused(w, "nic", "va is already the uplink of switch 'wse'");
	wiz_free(w);
}

/* New Virtual Machine: an adapter on a switch, in a VLAN */
static const struct step vm_steps[] = {
	{ "name", "wiz-net", NEXT, "name" },
	{ NULL, NULL, NEXT, "memory" },
	{ "switch", "wsp", NULL, NULL },
	{ "vlan", "4095", "vlan", "VLAN ID 4095: must be 0..4094" },
	{ "vlan", "-1", "vlan", "VLAN ID -1: must be 0..4094" },
	{ "vlan", "ten", "vlan", "VLAN ID: 'ten' is not a whole number" },
	{ "vlan", "", "vlan", "VLAN ID is required" },
	{ "vlan", "0", NEXT, "no VLAN" },
	{ NULL, NULL, BACK, NULL },
	{ "vlan", "10", NULL, NULL },
	{ NULL, NULL, NULL, NULL },
};

static void
vm_on_switch(void)
{
	struct wizard *w = open_wiz("new-vm", NULL);
	cJSON *j;
	char *s;

	visible(w, "not connected", "switch", "vlan");
	walk(w, vm_steps);
	visible(w, "on switch wsp", "switch vlan", "");
	accepted(w, "the network page");
	set(w, "disk", "later", NULL);
	finish_pages(w);
	s = script_of(w);
	ok(s != NULL && strstr(s, "\nhv vm nic add wiz-net --switch wsp --vlan 10\n") != NULL,
	   "the script adds the adapter in VLAN 10 (the port tags it: no bridge VLAN filtering needed)");
	is_int(run_script(s), 0, "hv -f runs the new-vm script");
	j = json_of("'%s' vm show wiz-net --json", hvbin);
	is_int(cJSON_GetArraySize(jget(j, "nics")), 1, "wiz-net: one network adapter");
	is_str(jstr(j, "nics.0.switch"), "wsp", "wiz-net: on switch wsp");
	is_int(jnum(j, "nics.0.vlan"), 10, "wiz-net: VLAN 10");
	cJSON_Delete(j);
	free(s);
	wiz_free(w);

	/* wse's bridge is gone: hv vm start makes it again */
	w = open_wiz("new-vm", NULL);
	set(w, "name", "wiz-vlan", "switch", "wse", "vlan", "10", "disk", "later", NULL);
	finish_pages(w);
	s = script_of(w);
	ok(s != NULL && strstr(s, "\nhv vm nic add wiz-vlan --switch wse --vlan 10\n") != NULL,
	   "the script adds the adapter in VLAN 10");
	is_int(run_script(s), 0, "hv -f runs it");
	j = json_of("'%s' vm show wiz-vlan --json", hvbin);
	is_str(jstr(j, "nics.0.switch"), "wse", "wiz-vlan: on switch wse");
	is_int(jnum(j, "nics.0.vlan"), 10, "wiz-vlan: VLAN 10");
	cJSON_Delete(j);
	free(s);
	wiz_free(w);
}

int
main(void)
{
	/* before anything opens a netlink socket: every bridge the test
	   makes is in here, and goes with it */
	bool netns = getuid() == 0 && unshare(CLONE_NEWNET) == 0;

	wiz_test_setup("/tmp/hv-wizsw.XXXXXX");
	defaults();
	rules();
	if (netns) {
		uplinks();
		switches();
		vm_on_switch();
	} else {
		ok(1, "# SKIP not root, or no network namespace: no bridges made");
	}
	wiz_test_cleanup();
	return done_testing();
}
