/*
 * bridge-vlan.c - which VLANs a bridge port carries (the bridge's VLAN
 * filtering, RTM_SETLINK/RTM_DELLINK of family AF_BRIDGE).
 *
 * A VM's port is an access port: its frames enter untagged and are put in
 * one VLAN (the pvid) and leave that VLAN untagged, so the guest never
 * sees tags. VLAN 0 in hv's settings means the bridge's default, VLAN 1.
 * An uplink is a trunk: every VLAN tagged, VLAN 1 untagged, so the
 * host's own (untagged) traffic and every VM's VLAN reach the wire.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_bridge.h>
#include <linux/rtnetlink.h>

#include "engine/net/nl.h"

#define VID_MAX	4094

static void
put_vid(struct nlmsghdr *nlh, unsigned short flags, int vid)
{
	struct bridge_vlan_info v = { .flags = flags, .vid = (unsigned short)vid };

	mnl_attr_put(nlh, IFLA_BRIDGE_VLAN_INFO, sizeof v, &v);
}

/* VLANs lo..hi (nothing when lo > hi) */
static void
put_range(struct nlmsghdr *nlh, unsigned short flags, int lo, int hi)
{
	if (lo > hi)
		return;
	if (lo == hi) {
		put_vid(nlh, flags, lo);
		return;
	}
	put_vid(nlh, flags | BRIDGE_VLAN_INFO_RANGE_BEGIN, lo);
	put_vid(nlh, flags | BRIDGE_VLAN_INFO_RANGE_END, hi);
}

/* start an AF_BRIDGE request for port index idx; returns the open nest */
static struct nlattr *
vlan_msg(struct nl *nl, void *buf, int type, int idx, struct nlmsghdr **nlh)
{
	struct ifinfomsg *ifm;

	*nlh = nl_msg(nl, buf, type, 0);
	ifm = mnl_nlmsg_put_extra_header(*nlh, sizeof *ifm);
	ifm->ifi_family = AF_BRIDGE;
	ifm->ifi_index = idx;
	return mnl_attr_nest_start(*nlh, IFLA_AF_SPEC);
}

/*
 * Add what the port should carry first, then take away the rest, so an
 * access port that changes VLAN is never left with none.
 */
static int
port_vlans(struct nl *nl, int idx, int pvid, bool trunk)
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *spec;
	int r;

	spec = vlan_msg(nl, buf, RTM_SETLINK, idx, &nlh);
	put_vid(nlh, BRIDGE_VLAN_INFO_PVID | BRIDGE_VLAN_INFO_UNTAGGED, pvid);
	if (trunk) {
		put_range(nlh, 0, 1, pvid - 1);
		put_range(nlh, 0, pvid + 1, VID_MAX);
	}
	mnl_attr_nest_end(nlh, spec);
	if ((r = nl_talk(nl, nlh, NULL, NULL)) != 0 || trunk)
		return r;
	spec = vlan_msg(nl, buf, RTM_DELLINK, idx, &nlh);
	put_range(nlh, 0, 1, pvid - 1);
	put_range(nlh, 0, pvid + 1, VID_MAX);
	mnl_attr_nest_end(nlh, spec);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* the bridge port is a port of, and whether that bridge filters VLANs */
static int
port_bridge(struct nl *nl, const char *port, struct net_link *p,
	    struct net_link *br, struct hv_err *err)
{
	char name[IF_NAMESIZE];
	int r;

	if ((r = nl_link_get(nl, port, p)) != 0)
		return nl_fail(err, nl, port, "cannot read the interface", r);
	if (p->master == 0 || if_indextoname((unsigned)p->master, name) == NULL ||
	    nl_link_get(nl, name, br) != 0 || strcmp(br->kind, "bridge") != 0)
		return hv_fail(err, HV_EINVAL, "%s: not a bridge port, so it has no VLANs", port);
	return 0;
}

static int
port_config(const char *port, int pvid, bool trunk, struct hv_err *err)
{
	struct net_link p, br;
	char what[64];
	struct nl nl;
	int r;

	if (nl_open(&nl, err) != 0)
		return -1;
	if (port_bridge(&nl, port, &p, &br, err) != 0) {
		nl_close(&nl);
		return -1;
	}
	if (!br.vlan_filtering) {
		nl_close(&nl);
		/* every port is in the one untagged LAN already */
		if (trunk || pvid == 1)
			return 0;
		return hv_fail(err, HV_ENOTSUP, "%s: cannot put it in VLAN %d: its bridge filters no VLANs (this kernel lacks CONFIG_BRIDGE_VLAN_FILTERING)",
			       port, pvid);
	}
	r = port_vlans(&nl, p.index, pvid, trunk);
	if (r != 0) {
		if (trunk)
			snprintf(what, sizeof what, "cannot make it a VLAN trunk");
		else
			snprintf(what, sizeof what, "cannot put it in VLAN %d", pvid);
		nl_fail(err, &nl, port, what, r);
	}
	nl_close(&nl);
	return r != 0 ? -1 : 0;
}

int
net_port_vlan(const char *port, int vlan, struct hv_err *err)
{
	if (vlan < 0 || vlan > VID_MAX)
		return hv_fail(err, HV_EUSAGE, "%s: VLAN %d: must be 0..%d", port, vlan, VID_MAX);
	return port_config(port, vlan == 0 ? 1 : vlan, false, err);
}

int
net_port_trunk(const char *port, struct hv_err *err)
{
	return port_config(port, 1, true, err);
}

int
net_port_attach(const char *port, const char *br, int vlan, struct hv_err *err)
{
	if (vlan < 0 || vlan > VID_MAX)
		return hv_fail(err, HV_EUSAGE, "%s: VLAN %d: must be 0..%d", port, vlan, VID_MAX);
	if (net_link_no_linklocal(port, err) != 0 ||
	    net_link_set_master(port, br, err) != 0 ||
	    net_port_vlan(port, vlan, err) != 0 ||
	    net_link_up(port, err) != 0)
		return -1;
	return 0;
}
