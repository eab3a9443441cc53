/*
 * wiz-switch.c - the New Virtual Switch wizard, Hyper-V's Virtual Switch
 * Manager as pages: the type, then the name and what connects the switch
 * (an external switch's host network adapter, an internal switch's host
 * address). The answers become one `hv switch create`.
 */
#include <stdlib.h>
#include <string.h>
#include <net/if.h>
#include <sys/socket.h>

#include "engine/net/net.h"
#include "wizards/wiz-int.h"

static const struct wiz_field_def new_switch_fields[] = {
	{ "type", "Connection type", WF_CHOICE, "external: VMs reach the physical network through a host network adapter; internal: VMs and this host; private: VMs only", "external|internal|private", 0, 0, 0 },
	{ "name", "Name", WF_TEXT, "1..63 of A-Z a-z 0-9 . _ - (not starting with - or .)", NULL, 0, 0, WIZ_REQUIRED | WIZ_NAME },
	{ "nic", "Network adapter", WF_CHOICE, "the host network adapter the switch shares; its addresses and routes move to the switch", NULL, 0, 0, 0 },
	{ "host-ip", "Host address", WF_TEXT, "this host's address on the switch with its prefix, like 192.168.100.1/24 or fd00::1/64; empty: none", NULL, 0, 0, 0 },
	{ NULL, NULL, 0, NULL, NULL, 0, 0, 0 },
};

static const struct wiz_page_def new_switch_pages[] = {
	{ "Switch Type", "External: VMs reach the physical network through a network adapter of this host. "
	  "Internal: VMs and this host talk to each other. Private: VMs talk only to each other.",
	  { "type", NULL } },
	{ "Name and Connection", "Name the switch; an external switch shares a host network adapter, "
	  "an internal switch may give this host an address on it.",
	  { "name", "nic", "host-ip", NULL } },
	{ NULL, NULL, { NULL } },
};

/* an interface an external switch could take: not loopback, not a
   bridge or a port of one, not one of hv's (its bridges and TAPs) and
   not a traffic-shaping or TAP device */
static bool
uplink_candidate(const char *name)
{
	struct net_link l;

	if (strncmp(name, "hv-", 3) == 0 || strncmp(name, "hvt", 3) == 0 ||
	    net_link_get(name, &l, NULL) != 0)
		return false;
	return !(l.flags & IFF_LOOPBACK) && l.master == 0 && strcmp(l.kind, "bridge") != 0 &&
	       strcmp(l.kind, "ifb") != 0 && strcmp(l.kind, "tun") != 0;
}

/* the interfaces of this network namespace (netlink, not /sys/class/net,
   which shows the namespace sysfs was mounted in), by index */
static void
uplink_choices(struct wizard *w)
{
	struct if_nameindex *ifs = if_nameindex();

	if (ifs == NULL)
		return;
	for (struct if_nameindex *i = ifs; i->if_index != 0; i++)
		if (uplink_candidate(i->if_name))
			wiz_choices_add(w, "nic", i->if_name);
	if_freenameindex(ifs);
	if (wiz_find(w, "nic")->nchoices > 0)
		wiz_default(w, "nic", "%s", wiz_find(w, "nic")->choices[0]);
}

static int
new_switch_init(struct wizard *w, const char *target, struct hv_err *err)
{
	if (target != NULL)
		wiz_default(w, "name", "%s", target);
	/* not external: it moves the host's addresses; choose it knowingly */
	wiz_default(w, "type", "internal");
	uplink_choices(w);
	return 0;
}

static void
new_switch_update(struct wizard *w)
{
	wiz_show(w, "nic", wiz_is(w, "type", "external"));
	wiz_show(w, "host-ip", wiz_is(w, "type", "internal"));
}

/* the name is free, and so is the bridge it hashes to */
static int
name_rules(struct wizard *w, struct hv_err *err)
{
	const char *name = wiz_get(w, "name");
	char br[NET_IFNAMSIZ];
	struct hv_switch *sw;
	struct hv_err e2;
	size_t n;
	int rc = 0;

	if (hv_switch_list(w->hv, &sw, &n, &e2) != 0)
		return wiz_blame(w, "name", err, e2.code, "%s", e2.msg);
	net_bridge_name(name, br);
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (strcmp(sw[i].name, name) == 0)
			rc = wiz_blame(w, "name", err, HV_EEXIST,
				       "a virtual switch named '%s' already exists", name);
		else if (strcmp(sw[i].bridge, br) == 0)
			rc = wiz_blame(w, "name", err, HV_EEXIST,
				       "switch '%s' already has bridge %s (the names hash alike); choose another name",
				       sw[i].name, br);
	}
	free(sw);
	return rc;
}

/* an external switch's adapter: there, not loopback, a bridge, a port,
   or another switch's uplink (the list may be older than the host) */
static int
nic_rules(struct wizard *w, struct hv_err *err)
{
	const char *nic = wiz_get(w, "nic");
	struct hv_switch *sw;
	struct net_link l;
	struct hv_err e2;
	size_t n;
	int rc = 0;

	if (nic[0] == '\0')
		return wiz_blame(w, "nic", err, HV_EUSAGE, wiz_find(w, "nic")->nchoices ?
				 "an external switch needs the host network adapter it shares" :
				 "an external switch needs a host network adapter, and none here is free "
				 "(each is loopback, a bridge or a bridge port); choose internal or private");
	if (strlen(nic) >= NET_IFNAMSIZ || net_link_get(nic, &l, NULL) != 0)
		return wiz_blame(w, "nic", err, HV_ENOENT, "no network interface '%s' on this host", nic);
	if (l.flags & IFF_LOOPBACK)
		return wiz_blame(w, "nic", err, HV_EUSAGE,
				 "%s is the loopback interface; an external switch needs a network adapter", nic);
	if (strcmp(l.kind, "bridge") == 0)
		return wiz_blame(w, "nic", err, HV_EINVAL,
				 "%s is itself a bridge; give the network adapter it bridges", nic);
	if (l.master != 0) {
		char m[IF_NAMESIZE] = "";

		if_indextoname((unsigned)l.master, m);
		return wiz_blame(w, "nic", err, HV_EBUSY, "%s is already a port of %s", nic,
				 m[0] ? m : "another bridge or bond");
	}
	if (hv_switch_list(w->hv, &sw, &n, &e2) != 0)
		return wiz_blame(w, "nic", err, e2.code, "%s", e2.msg);
	for (size_t i = 0; i < n && rc == 0; i++)
		if (strcmp(sw[i].type, "external") == 0 && strcmp(sw[i].nic, nic) == 0)
			rc = wiz_blame(w, "nic", err, HV_EBUSY, "%s is already the uplink of switch '%s'",
				       nic, sw[i].name);
	free(sw);
	return rc;
}

/* an internal switch's address: a unicast host address with a prefix */
static int
host_ip_rules(struct wizard *w, struct hv_err *err)
{
	static const unsigned char zero[16], one[16] = { [15] = 1 };
	const char *ip = wiz_get(w, "host-ip");
	struct net_addr a;
	bool unicast;

	if (ip[0] == '\0')
		return 0;
	if (net_addr_parse(ip, &a) != 0 || a.prefix < 0)
		return wiz_blame(w, "host-ip", err, HV_EUSAGE,
				 "Host address '%s': use an address with a prefix length, like 192.168.100.1/24 or fd00::1/64",
				 ip);
	if (a.family == AF_INET)
		unicast = a.a[0] != 0 && a.a[0] != 127 && a.a[0] < 224;
	else
		unicast = memcmp(a.a, zero, 16) != 0 && memcmp(a.a, one, 16) != 0 && a.a[0] != 0xff;
	if (!unicast || a.prefix == 0)
		return wiz_blame(w, "host-ip", err, HV_EUSAGE,
				 "Host address '%s': not a unicast host address on a network", ip);
	return 0;
}

static int
new_switch_rules(struct wizard *w, int page, struct hv_err *err)
{
	if (page != 1)
		return 0;
	if (name_rules(w, err) != 0)
		return -1;
	if (wiz_is(w, "type", "external"))
		return nic_rules(w, err);
	if (wiz_is(w, "type", "internal"))
		return host_ip_rules(w, err);
	return 0;
}

static void
new_switch_script(struct wizard *w, FILE *f)
{
	const char *name = wiz_get(w, "name"), *type = wiz_get(w, "type");

	if (strcmp(type, "external") == 0)
		fprintf(f, "# an external switch: VMs share %s with this host; its addresses and routes move to the switch\n",
			wiz_get(w, "nic"));
	else if (strcmp(type, "internal") == 0 && wiz_get(w, "host-ip")[0])
		fprintf(f, "# an internal switch: VMs and this host (at %s)\n", wiz_get(w, "host-ip"));
	else if (strcmp(type, "internal") == 0)
		fprintf(f, "# an internal switch: VMs and this host (no host address)\n");
	else
		fprintf(f, "# a private switch: VMs only\n");
	fprintf(f, "hv switch create");
	wiz_word(f, name);
	wiz_opt(f, "--type", type);
	if (strcmp(type, "external") == 0)
		wiz_opt(f, "--nic", wiz_get(w, "nic"));
	if (strcmp(type, "internal") == 0 && wiz_get(w, "host-ip")[0])
		wiz_opt(f, "--host-ip", wiz_get(w, "host-ip"));
	fputc('\n', f);
	wiz_set_result(w, name);
}

const struct wiz_kind wiz_new_switch = {
	"new-switch", "New Virtual Switch", new_switch_fields, new_switch_pages,
	new_switch_init, new_switch_update, new_switch_rules, new_switch_script,
};
