/*
 * uplink.c - an external switch's physical NIC: enslaving it to the
 * bridge and moving the host's IP configuration with it.
 *
 * Once a NIC is a bridge port, the IP stack no longer receives on it: the
 * host's addresses must live on the bridge instead, or the host drops off
 * the network (what Hyper-V's "Allow management operating system to share
 * this network adapter" does for you). So attach moves the NIC's IPv4 and
 * global IPv6 addresses and its routes (default routes included) to the
 * bridge, and detach moves them back. Kernel-made routes (prefix routes,
 * link-local) follow the addresses by themselves; routes learnt from IPv6
 * router advertisements are learnt again on the new interface.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <net/if.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "engine/net/nl.h"

#define MAX_ADDRS	128
#define MAX_ROUTES	128
#define ROUTE_ATTRS	512	/* the copied attributes of one route */
#define LIFE_FOREVER	0xffffffffu	/* the kernel's INFINITY_LIFE_TIME */

struct route {
	struct rtmsg rtm;
	unsigned char attrs[ROUTE_ATTRS];	/* nlattr-encoded, aligned */
	size_t alen;
};

struct ipconf {
	int ifindex;
	int naddrs, nroutes;
	struct nl_ifaddr addrs[MAX_ADDRS];
	struct route routes[MAX_ROUTES];
	bool overflow;
};

/* --- reading what an interface has ------------------------------------- */

static int
keep_ifa_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= IFA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

static bool
copy_addr(const struct nlattr *attr, unsigned char *out, size_t len)
{
	if (attr == NULL || mnl_attr_get_payload_len(attr) != len)
		return false;
	memcpy(out, mnl_attr_get_payload(attr), len);
	return true;
}

static int
addr_reply(const struct nlmsghdr *nlh, void *data)
{
	struct ipconf *c = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[IFA_MAX + 1] = { NULL };
	struct nl_ifaddr *a;
	size_t alen;

	if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < mnl_nlmsg_size(sizeof *ifa) ||
	    (int)ifa->ifa_index != c->ifindex)
		return MNL_CB_OK;
	if (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6)
		return MNL_CB_OK;
	/* the host's own addresses: not loopback-scoped IPv4, global IPv6 */
	if (ifa->ifa_scope == RT_SCOPE_HOST || ifa->ifa_scope == RT_SCOPE_NOWHERE ||
	    (ifa->ifa_family == AF_INET6 && ifa->ifa_scope != RT_SCOPE_UNIVERSE))
		return MNL_CB_OK;
	if (c->naddrs == MAX_ADDRS) {
		c->overflow = true;
		return MNL_CB_OK;
	}
	a = &c->addrs[c->naddrs];
	memset(a, 0, sizeof *a);
	mnl_attr_parse(nlh, sizeof *ifa, keep_ifa_attr, tb);
	a->ifa = *ifa;
	a->flags = tb[IFA_FLAGS] && mnl_attr_validate(tb[IFA_FLAGS], MNL_TYPE_U32) == 0 ?
		   mnl_attr_get_u32(tb[IFA_FLAGS]) : ifa->ifa_flags;
	/* IPv6 privacy addresses are made anew (for IPv4 the same bit means
	   a secondary address, which moves like any other) */
	if (ifa->ifa_family == AF_INET6 && (a->flags & IFA_F_TEMPORARY))
		return MNL_CB_OK;
	alen = ifa->ifa_family == AF_INET ? 4 : 16;
	a->has_local = copy_addr(tb[IFA_LOCAL], a->local, alen);
	if (!copy_addr(tb[IFA_ADDRESS], a->addr, alen)) {
		if (!a->has_local)
			return MNL_CB_OK;
		memcpy(a->addr, a->local, alen);
	}
	a->has_brd = ifa->ifa_family == AF_INET && copy_addr(tb[IFA_BROADCAST], a->brd, 4);
	if (!(a->flags & IFA_F_PERMANENT) && tb[IFA_CACHEINFO] &&
	    copy_addr(tb[IFA_CACHEINFO], (unsigned char *)&a->ci, sizeof a->ci) &&
	    a->ci.ifa_valid != LIFE_FOREVER)
		a->has_ci = true;
	/* what the kernel takes back on RTM_NEWADDR; no DAD on a move */
	if (ifa->ifa_family == AF_INET6)
		a->flags = (a->flags & (IFA_F_HOMEADDRESS | IFA_F_MANAGETEMPADDR |
					IFA_F_NOPREFIXROUTE)) | IFA_F_NODAD;
	else
		a->flags &= IFA_F_NOPREFIXROUTE;
	a->ifa.ifa_flags = (unsigned char)a->flags;
	c->naddrs++;
	return MNL_CB_OK;
}

static int
keep_rta(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	int type = mnl_attr_get_type(attr);

	if (type <= RTA_MAX)
		tb[type] = attr;
	return MNL_CB_OK;
}

/* what a route is made of, beside its interface */
static const int route_keep[] = {
	RTA_DST, RTA_SRC, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_METRICS,
	RTA_TABLE, RTA_PREF, RTA_VIA,
};

static int
route_reply(const struct nlmsghdr *nlh, void *data)
{
	struct ipconf *c = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[RTA_MAX + 1] = { NULL };
	struct route *r;
	unsigned table;

	if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < mnl_nlmsg_size(sizeof *rtm))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof *rtm, keep_rta, tb);
	table = tb[RTA_TABLE] && mnl_attr_validate(tb[RTA_TABLE], MNL_TYPE_U32) == 0 ?
		mnl_attr_get_u32(tb[RTA_TABLE]) : rtm->rtm_table;
	if (table != RT_TABLE_MAIN || rtm->rtm_type != RTN_UNICAST ||
	    (rtm->rtm_flags & RTM_F_CLONED) || tb[RTA_MULTIPATH] != NULL ||
	    rtm->rtm_protocol == RTPROT_KERNEL || rtm->rtm_protocol == RTPROT_RA ||
	    rtm->rtm_protocol == RTPROT_REDIRECT)
		return MNL_CB_OK;
	if (tb[RTA_OIF] == NULL || mnl_attr_validate(tb[RTA_OIF], MNL_TYPE_U32) != 0 ||
	    (int)mnl_attr_get_u32(tb[RTA_OIF]) != c->ifindex)
		return MNL_CB_OK;
	if (c->nroutes == MAX_ROUTES) {
		c->overflow = true;
		return MNL_CB_OK;
	}
	r = &c->routes[c->nroutes];
	memset(r, 0, sizeof *r);
	r->rtm = *rtm;
	for (size_t i = 0; i < sizeof route_keep / sizeof route_keep[0]; i++) {
		const struct nlattr *at = tb[route_keep[i]];
		size_t n;

		if (at == NULL)
			continue;
		n = MNL_ALIGN(mnl_attr_get_len(at));
		if (r->alen + n > sizeof r->attrs)
			return MNL_CB_OK;	/* a route too odd to copy: leave it */
		memcpy(r->attrs + r->alen, at, mnl_attr_get_len(at));
		r->alen += n;
	}
	c->nroutes++;
	return MNL_CB_OK;
}

static int
dump(struct nl *nl, int type, int family, mnl_cb_t cb, struct ipconf *c)
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh = nl_msg(nl, buf, type, NLM_F_DUMP);

	if (type == RTM_GETADDR) {
		struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);

		ifa->ifa_family = (unsigned char)family;
	} else {
		struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);

		rtm->rtm_family = (unsigned char)family;
	}
	return nl_talk(nl, nlh, cb, c);
}

static int
read_ipconf(struct nl *nl, int ifindex, struct ipconf *c)
{
	int r;

	memset(c, 0, sizeof *c);
	c->ifindex = ifindex;
	if ((r = dump(nl, RTM_GETADDR, AF_INET, addr_reply, c)) != 0 ||
	    (r = dump(nl, RTM_GETADDR, AF_INET6, addr_reply, c)) != 0 ||
	    (r = dump(nl, RTM_GETROUTE, AF_INET, route_reply, c)) != 0)
		return r;
	/* a host without IPv6 has no IPv6 routes to dump */
	r = dump(nl, RTM_GETROUTE, AF_INET6, route_reply, c);
	if (r == -EAFNOSUPPORT || r == -EOPNOTSUPP)
		r = 0;
	if (r == 0 && c->overflow)
		r = -E2BIG;
	return r;
}

/* --- moving it ------------------------------------------------------------ */

static int
route_change(struct nl *nl, int type, const struct route *rt, int ifindex)
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct rtmsg *rtm;

	nlh = nl_msg(nl, buf, type, type == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_EXCL : 0);
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof *rtm);
	*rtm = rt->rtm;
	rtm->rtm_flags &= RTNH_F_ONLINK;
	memcpy(mnl_nlmsg_get_payload_tail(nlh), rt->attrs, rt->alen);
	nlh->nlmsg_len += (unsigned)rt->alen;
	mnl_attr_put_u32(nlh, RTA_OIF, (unsigned)ifindex);
	return nl_talk(nl, nlh, NULL, NULL);
}

static const char *
addr_text(const struct nl_ifaddr *a, char *buf, size_t len)
{
	struct net_addr na = { .family = a->ifa.ifa_family, .prefix = a->ifa.ifa_prefixlen };

	memcpy(na.a, a->has_local ? a->local : a->addr, sizeof na.a);
	net_addr_format(&na, buf, len);
	return buf;
}

/*
 * Move c's addresses and routes from ifindex `from` to `to`. Strict: the
 * first failure stops it (with *what saying which step). Not strict (an
 * undo): carry on and take what can be taken.
 */
static int
move(struct nl *nl, const struct ipconf *c, int from, int to, bool strict,
     char *what, size_t wlen)
{
	char a[64];
	int r;

	for (int i = 0; i < c->nroutes; i++) {
		r = route_change(nl, RTM_DELROUTE, &c->routes[i], from);
		if (r != 0 && r != -ESRCH && r != -ENOENT && strict) {
			snprintf(what, wlen, "cannot take over its routes");
			return r;
		}
	}
	for (int i = 0; i < c->naddrs; i++) {
		r = nl_addr_change(nl, RTM_NEWADDR, to, &c->addrs[i]);
		if (r != 0 && r != -EEXIST && strict) {
			snprintf(what, wlen, "cannot move address %s",
				 addr_text(&c->addrs[i], a, sizeof a));
			return r;
		}
	}
	for (int i = 0; i < c->naddrs; i++) {
		r = nl_addr_change(nl, RTM_DELADDR, from, &c->addrs[i]);
		/* an IPv4 secondary goes with its primary */
		if (r != 0 && r != -EADDRNOTAVAIL && r != -ENOENT && strict) {
			snprintf(what, wlen, "cannot remove address %s",
				 addr_text(&c->addrs[i], a, sizeof a));
			return r;
		}
	}
	for (int i = 0; i < c->nroutes; i++) {
		r = route_change(nl, RTM_NEWROUTE, &c->routes[i], to);
		if (r != 0 && r != -EEXIST && strict) {
			snprintf(what, wlen, "cannot move its routes");
			return r;
		}
	}
	return 0;
}

/* *enslaved: nic was made a port of br here (and so is ours to release) */
static int
attach(struct nl *nl, const char *nic, const char *br, struct ipconf *c,
       bool *enslaved, char *what, size_t wlen, struct hv_err *err)
{
	struct net_link l, b;
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;
	int r;

	if ((r = nl_link_get(nl, nic, &l)) != 0 || (r = nl_link_get(nl, br, &b)) != 0) {
		snprintf(what, wlen, "cannot read the interface");
		return r;
	}
	if (l.master != 0) {
		hv_fail(err, HV_EBUSY, "%s: already a port of another bridge or bond", nic);
		return -EBUSY;
	}
	if ((r = read_ipconf(nl, l.index, c)) != 0) {
		snprintf(what, wlen, r == -E2BIG ? "too many addresses or routes to move" :
			 "cannot read its addresses and routes");
		return r;
	}
	/* the bridge answers with the NIC's MAC, so neighbours and DHCP
	   servers see the same host */
	nlh = nl_msg(nl, buf, RTM_NEWLINK, 0);
	ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);
	ifm->ifi_index = b.index;
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, l.mac);
	if ((r = nl_talk(nl, nlh, NULL, NULL)) != 0) {
		snprintf(what, wlen, "cannot give %s its MAC address", br);
		return r;
	}
	if ((r = nl_link_set_u32(nl, nic, IFLA_MASTER, (unsigned)b.index)) != 0) {
		snprintf(what, wlen, "cannot make it a port of %s", br);
		return r;
	}
	*enslaved = true;
	if ((r = nl_link_up(nl, nic)) != 0 || (r = nl_link_up(nl, br)) != 0) {
		snprintf(what, wlen, "cannot bring it up");
		return r;
	}
	return move(nl, c, l.index, b.index, true, what, wlen);
}

int
net_uplink_attach(const char *nic, const char *br, struct hv_err *err)
{
	struct ipconf *c = calloc(1, sizeof *c);	/* ~80 KB */
	char what[96] = "";
	bool enslaved = false;
	struct hv_err e2;
	struct nl nl;
	int r;

	if (c == NULL)
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	if (nl_open(&nl, err) != 0) {
		free(c);
		return -1;
	}
	hv_err_clear(err);
	r = attach(&nl, nic, br, c, &enslaved, what, sizeof what, err);
	if (r != 0 && enslaved) {
		int br_idx = nl_ifindex(&nl, br);

		if (err != NULL && err->code == HV_OK)
			nl_fail(err, &nl, nic, what, r);
		/* put back what was moved, best effort, keeping the first error */
		if (br_idx > 0)
			move(&nl, c, br_idx, c->ifindex, false, what, sizeof what);
		nl_link_set_u32(&nl, nic, IFLA_MASTER, 0);
	} else if (r != 0 && err != NULL && err->code == HV_OK) {
		nl_fail(err, &nl, nic, what, r);
	}
	nl_close(&nl);
	free(c);
	/* VLAN trunk last: as a fresh port it already carries VLAN 1 */
	if (r == 0 && net_port_trunk(nic, err) != 0) {
		net_uplink_detach(nic, br, &e2);
		return -1;
	}
	return r != 0 ? -1 : 0;
}

int
net_uplink_detach(const char *nic, const char *br, struct hv_err *err)
{
	struct ipconf *c;
	char what[96] = "";
	struct net_link l, b;
	struct nl nl;
	int r;

	if (nl_open(&nl, err) != 0)
		return -1;
	/* gone (unplugged, renamed): nothing to give back */
	if (nl_link_get(&nl, nic, &l) != 0 || nl_link_get(&nl, br, &b) != 0) {
		nl_close(&nl);
		return 0;
	}
	if ((c = calloc(1, sizeof *c)) == NULL) {
		nl_close(&nl);
		return hv_fail(err, HV_EINTERNAL, "out of memory");
	}
	if ((r = read_ipconf(&nl, b.index, c)) != 0) {
		snprintf(what, sizeof what, "cannot read the addresses and routes of %s", br);
		goto out;
	}
	if (l.master == b.index && (r = nl_link_set_u32(&nl, nic, IFLA_MASTER, 0)) != 0) {
		snprintf(what, sizeof what, "cannot release it from %s", br);
		goto out;
	}
	if ((r = move(&nl, c, b.index, l.index, true, what, sizeof what)) != 0) {
		nl_fail(err, &nl, nic, what, r);
		move(&nl, c, l.index, b.index, false, what, sizeof what);
		goto done;
	}
out:
	if (r != 0)
		nl_fail(err, &nl, nic, what, r);
done:
	nl_close(&nl);
	free(c);
	return r != 0 ? -1 : 0;
}
