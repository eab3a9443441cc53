/*
 * netlink.c - rtnetlink requests over libmnl, and the link calls built
 * on them: bridges, up, master, MAC, addresses.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/if_bridge.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>

#include "engine/net/nl.h"

/* --- plumbing ---------------------------------------------------------- */

int
nl_open(struct nl *nl, struct hv_err *err)
{
	int one = 1;

	memset(nl, 0, sizeof *nl);
	nl->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (nl->sock == NULL)
		return hv_fail(err, HV_EIO, "netlink: cannot open a socket: %s", strerror(errno));
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		hv_fail(err, HV_EIO, "netlink: cannot bind: %s", strerror(errno));
		mnl_socket_close(nl->sock);
		nl->sock = NULL;
		return -1;
	}
	/* the kernel's reason in words, and errors without our request echoed */
	mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &one, sizeof one);
	mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &one, sizeof one);
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = 1;
	return 0;
}

void
nl_close(struct nl *nl)
{
	if (nl->sock != NULL)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

struct nlmsghdr *
nl_msg(struct nl *nl, void *buf, int type, int flags)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, NL_REQ_SIZE);
	nlh = mnl_nlmsg_put_header(buf);
	nlh->nlmsg_type = (unsigned short)type;
	nlh->nlmsg_flags = (unsigned short)(NLM_F_REQUEST | flags);
	/* every request but a dump is answered with an ACK (or an error);
	   NLM_F_DUMP's bits mean EXCL and REPLACE on a NEW request */
	if (!((type & 3) == 2 && (flags & NLM_F_DUMP) == NLM_F_DUMP))
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++nl->seq;
	return nlh;
}

struct talk {
	struct nl *nl;
	mnl_cb_t cb;
	void *data;
};

static int
ext_attr(const struct nlattr *attr, void *data)
{
	struct nl *nl = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		snprintf(nl->ext, sizeof nl->ext, "%s", mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static int
on_error(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	size_t off = sizeof *e;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof *e)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;	/* the ACK */
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (mnl_nlmsg_size(off) <= nlh->nlmsg_len)
			mnl_attr_parse(nlh, (unsigned)off, ext_attr, t->nl);
	}
	errno = -e->error;
	return MNL_CB_ERROR;
}

/* the end of a dump, which may carry the dump's error */
static int
on_done(const struct nlmsghdr *nlh, void *data)
{
	int e = 0;

	(void)data;
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof e)
		memcpy(&e, mnl_nlmsg_get_payload(nlh), sizeof e);
	if (e < 0) {
		errno = -e;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int
on_overrun(const struct nlmsghdr *nlh, void *data)
{
	(void)nlh;
	(void)data;
	errno = ENOSPC;
	return MNL_CB_ERROR;
}

static int
on_data(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;

	return t->cb != NULL ? t->cb(nlh, t->data) : MNL_CB_OK;
}

int
nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	/* with a table, libmnl runs no defaults: each control type is here */
	mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = on_error,
		[NLMSG_DONE] = on_done,
		[NLMSG_OVERRUN] = on_overrun,
	};
	struct talk t = { nl, cb, data };
	unsigned int seq = nlh->nlmsg_seq;

	nl->ext[0] = '\0';
	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl->sock, nl->rbuf, sizeof nl->rbuf);
		int r;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		errno = 0;
		r = mnl_cb_run2(nl->rbuf, (size_t)n, seq, nl->portid, on_data, &t,
				ctl, NLMSG_MIN_TYPE);
		if (r == MNL_CB_ERROR)
			return errno ? -errno : -EIO;
		if (r == MNL_CB_STOP)
			return 0;
	}
}

int
nl_fail(struct hv_err *err, const struct nl *nl, const char *ifname,
	const char *what, int e)
{
	enum hv_errcode code;
	const char *why = "";

	if (e < 0)
		e = -e;
	switch (e) {
	case EPERM:
	case EACCES:
		code = HV_EIO;
		/* as root, the kernel's reason is another (IPv6 disabled, ...) */
		if (geteuid() != 0)
			why = " (changing host networking needs root)";
		break;
	case EEXIST:
		code = HV_EEXIST;
		break;
	case ENODEV:
	case ENOENT:
		code = HV_ENOENT;
		break;
	case EBUSY:
		code = HV_EBUSY;
		break;
	case EINVAL:
	case ERANGE:
		code = HV_EINVAL;
		break;
	case EOPNOTSUPP:
	case EAFNOSUPPORT:
		code = HV_ENOTSUP;
		break;
	default:
		code = HV_EIO;
	}
	if (nl != NULL && nl->ext[0])
		return hv_fail(err, code, "%s: %s: %s (kernel: %s)%s", ifname, what,
			       strerror(e), nl->ext, why);
	return hv_fail(err, code, "%s: %s: %s%s", ifname, what, strerror(e), why);
}

/* --- links --------------------------------------------------------------- */

struct attrs {
	const struct nlattr *tb[128];	/* > IFLA_MAX, IFLA_BR_MAX */
	int max;
};

static int
keep_attr(const struct nlattr *attr, void *data)
{
	struct attrs *a = data;
	int type = mnl_attr_get_type(attr);

	if (type <= a->max)
		a->tb[type] = attr;
	return MNL_CB_OK;
}

static int
link_reply(const struct nlmsghdr *nlh, void *data)
{
	struct net_link *l = data;
	const struct ifinfomsg *ifm = mnl_nlmsg_get_payload(nlh);
	struct attrs a = { .max = IFLA_MAX }, info = { .max = IFLA_INFO_MAX };
	struct attrs br = { .max = IFLA_BR_MAX };

	if (nlh->nlmsg_type != RTM_NEWLINK ||
	    nlh->nlmsg_len < mnl_nlmsg_size(sizeof *ifm))
		return MNL_CB_OK;
	memset(l, 0, sizeof *l);
	l->index = ifm->ifi_index;
	l->flags = ifm->ifi_flags;
	mnl_attr_parse(nlh, sizeof *ifm, keep_attr, &a);
	if (a.tb[IFLA_MASTER] && mnl_attr_validate(a.tb[IFLA_MASTER], MNL_TYPE_U32) == 0)
		l->master = (int)mnl_attr_get_u32(a.tb[IFLA_MASTER]);
	if (a.tb[IFLA_MTU] && mnl_attr_validate(a.tb[IFLA_MTU], MNL_TYPE_U32) == 0)
		l->mtu = (int)mnl_attr_get_u32(a.tb[IFLA_MTU]);
	if (a.tb[IFLA_ADDRESS] && mnl_attr_get_payload_len(a.tb[IFLA_ADDRESS]) == 6)
		memcpy(l->mac, mnl_attr_get_payload(a.tb[IFLA_ADDRESS]), 6);
	if (a.tb[IFLA_LINKINFO]) {
		mnl_attr_parse_nested(a.tb[IFLA_LINKINFO], keep_attr, &info);
		if (info.tb[IFLA_INFO_KIND] &&
		    mnl_attr_validate(info.tb[IFLA_INFO_KIND], MNL_TYPE_STRING) == 0)
			snprintf(l->kind, sizeof l->kind, "%.*s",
				 (int)strnlen(mnl_attr_get_str(info.tb[IFLA_INFO_KIND]),
					      mnl_attr_get_payload_len(info.tb[IFLA_INFO_KIND])),
				 mnl_attr_get_str(info.tb[IFLA_INFO_KIND]));
		if (strcmp(l->kind, "bridge") == 0 && info.tb[IFLA_INFO_DATA]) {
			mnl_attr_parse_nested(info.tb[IFLA_INFO_DATA], keep_attr, &br);
			if (br.tb[IFLA_BR_VLAN_FILTERING] &&
			    mnl_attr_validate(br.tb[IFLA_BR_VLAN_FILTERING], MNL_TYPE_U8) == 0)
				l->vlan_filtering = mnl_attr_get_u8(br.tb[IFLA_BR_VLAN_FILTERING]) != 0;
		}
	}
	return MNL_CB_OK;
}

static struct ifinfomsg *
put_ifinfo(struct nlmsghdr *nlh, int family, int index)
{
	struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header(nlh, sizeof *ifm);

	ifm->ifi_family = (unsigned char)family;
	ifm->ifi_index = index;
	return ifm;
}

/* a name the kernel could hold; longer ones would be cut off silently */
static int
name_ok(const char *ifname)
{
	size_t n = strnlen(ifname, NET_IFNAMSIZ);

	return n > 0 && n < NET_IFNAMSIZ ? 0 : -EINVAL;
}

int
nl_link_get(struct nl *nl, const char *ifname, struct net_link *out)
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	int r;

	if ((r = name_ok(ifname)) != 0)
		return -ENODEV;
	nlh = nl_msg(nl, buf, RTM_GETLINK, 0);
	put_ifinfo(nlh, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	mnl_attr_put_u32(nlh, IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
	memset(out, 0, sizeof *out);
	if ((r = nl_talk(nl, nlh, link_reply, out)) != 0)
		return r;
	return out->index > 0 ? 0 : -ENODEV;
}

int
nl_ifindex(struct nl *nl, const char *ifname)
{
	struct net_link l;
	int r = nl_link_get(nl, ifname, &l);

	return r != 0 ? r : l.index;
}

int
net_link_get(const char *ifname, struct net_link *out, struct hv_err *err)
{
	struct nl nl;
	int r;

	if (nl_open(&nl, err) != 0)
		return -1;
	r = nl_link_get(&nl, ifname, out);
	if (r == -ENODEV)
		hv_fail(err, HV_ENOENT, "%s: no such network interface", ifname);
	else if (r != 0)
		nl_fail(err, &nl, ifname, "cannot read the interface", r);
	nl_close(&nl);
	return r != 0 ? -1 : 0;
}

bool
net_link_exists(const char *ifname)
{
	struct net_link l;

	return net_link_get(ifname, &l, NULL) == 0;
}

/* a message that changes an existing link named ifname */
static struct nlmsghdr *
setlink_msg(struct nl *nl, void *buf, const char *ifname)
{
	struct nlmsghdr *nlh = nl_msg(nl, buf, RTM_NEWLINK, 0);

	put_ifinfo(nlh, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return nlh;
}

int
nl_link_set_u32(struct nl *nl, const char *ifname, int attr, unsigned int v)
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;

	if (name_ok(ifname) != 0)
		return -ENODEV;
	nlh = setlink_msg(nl, buf, ifname);
	mnl_attr_put_u32(nlh, (uint16_t)attr, v);
	return nl_talk(nl, nlh, NULL, NULL);
}

int
nl_link_up(struct nl *nl, const char *ifname)
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct ifinfomsg *ifm;

	if (name_ok(ifname) != 0)
		return -ENODEV;
	nlh = nl_msg(nl, buf, RTM_NEWLINK, 0);
	ifm = put_ifinfo(nlh, AF_UNSPEC, 0);
	ifm->ifi_flags = IFF_UP;
	ifm->ifi_change = IFF_UP;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* open a socket, run fn, report "IF: WHAT: why" */
#define WITH_NL(err, ifname, what, expr) do {				\
	struct nl nl_;							\
	int r_;								\
	if (nl_open(&nl_, err) != 0)					\
		return -1;						\
	{ struct nl *nl = &nl_; r_ = (expr); }				\
	if (r_ != 0)							\
		nl_fail(err, &nl_, ifname, what, r_);			\
	nl_close(&nl_);							\
	return r_ != 0 ? -1 : 0;					\
} while (0)

static int
link_delete(struct nl *nl, const char *ifname)
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;

	if (name_ok(ifname) != 0)
		return -ENODEV;
	nlh = nl_msg(nl, buf, RTM_DELLINK, 0);
	put_ifinfo(nlh, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, ifname);
	return nl_talk(nl, nlh, NULL, NULL);
}

/* a stable locally administered MAC for a bridge, so it does not change
   as ports come and go (the kernel would take the lowest port's) */
static void
bridge_mac(const char *br, unsigned char mac[6])
{
	unsigned h = net_fnv1a(br);

	mac[0] = 0x02;
	mac[1] = 0x68;	/* 'h' */
	mac[2] = (unsigned char)(h >> 24);
	mac[3] = (unsigned char)(h >> 16);
	mac[4] = (unsigned char)(h >> 8);
	mac[5] = (unsigned char)h;
}

static int
bridge_create(struct nl *nl, const char *br, bool vlans)
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *info, *data;
	unsigned char mac[6];
	int r;

	if ((r = name_ok(br)) != 0)
		return r;
	bridge_mac(br, mac);
	nlh = nl_msg(nl, buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	put_ifinfo(nlh, AF_UNSPEC, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, br);
	mnl_attr_put(nlh, IFLA_ADDRESS, sizeof mac, mac);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	if (vlans)
		mnl_attr_put_u8(nlh, IFLA_BR_VLAN_FILTERING, 1);
	mnl_attr_put_u32(nlh, IFLA_BR_STP_STATE, 0);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_talk(nl, nlh, NULL, NULL);
}

int
net_bridge_create(const char *br, struct hv_err *err)
{
	struct nl nl;
	int r;

	if (nl_open(&nl, err) != 0)
		return -1;
	r = bridge_create(&nl, br, true);
	/* a kernel without CONFIG_BRIDGE_VLAN_FILTERING: a plain bridge */
	if (r == -EOPNOTSUPP)
		r = bridge_create(&nl, br, false);
	if (r == -EEXIST) {
		hv_fail(err, HV_EEXIST, "%s: a network interface with that name already exists", br);
		goto out;
	}
	if (r != 0) {
		nl_fail(err, &nl, br, "cannot create the bridge", r);
		goto out;
	}
	if ((r = nl_link_up(&nl, br)) != 0) {
		nl_fail(err, &nl, br, "cannot bring the bridge up", r);
		link_delete(&nl, br);
	}
out:
	nl_close(&nl);
	return r != 0 ? -1 : 0;
}

int
net_link_delete(const char *ifname, struct hv_err *err)
{
	WITH_NL(err, ifname, "cannot delete the interface", link_delete(nl, ifname));
}

int
net_link_up(const char *ifname, struct hv_err *err)
{
	WITH_NL(err, ifname, "cannot bring the interface up", nl_link_up(nl, ifname));
}

static int
set_master(struct nl *nl, const char *ifname, const char *master)
{
	int idx = 0;

	if (master != NULL && (idx = nl_ifindex(nl, master)) < 0)
		return idx;
	return nl_link_set_u32(nl, ifname, IFLA_MASTER, (unsigned)idx);
}

int
net_link_set_master(const char *ifname, const char *master, struct hv_err *err)
{
	char what[64];

	if (master != NULL)
		snprintf(what, sizeof what, "cannot make it a port of %.*s", NET_IFNAMSIZ, master);
	else
		snprintf(what, sizeof what, "cannot release it from its bridge");
	WITH_NL(err, ifname, what, set_master(nl, ifname, master));
}

static int
set_mac(struct nl *nl, const char *ifname, const unsigned char mac[6])
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;

	if (name_ok(ifname) != 0)
		return -ENODEV;
	nlh = setlink_msg(nl, buf, ifname);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	return nl_talk(nl, nlh, NULL, NULL);
}

int
net_link_set_mac(const char *ifname, const unsigned char mac[6],
		 struct hv_err *err)
{
	WITH_NL(err, ifname, "cannot set the MAC address", set_mac(nl, ifname, mac));
}

static int
no_linklocal(struct nl *nl, const char *ifname)
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct nlattr *spec, *in6;
	int r;

	if (name_ok(ifname) != 0)
		return -ENODEV;
	nlh = setlink_msg(nl, buf, ifname);
	spec = mnl_attr_nest_start(nlh, IFLA_AF_SPEC);
	in6 = mnl_attr_nest_start(nlh, AF_INET6);
	mnl_attr_put_u8(nlh, IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE);
	mnl_attr_nest_end(nlh, in6);
	mnl_attr_nest_end(nlh, spec);
	r = nl_talk(nl, nlh, NULL, NULL);
	/* a host without IPv6 has no link-local to avoid */
	return r == -EAFNOSUPPORT || r == -EOPNOTSUPP ? 0 : r;
}

int
net_link_no_linklocal(const char *ifname, struct hv_err *err)
{
	WITH_NL(err, ifname, "cannot turn off its IPv6 link-local address",
		no_linklocal(nl, ifname));
}

/* --- addresses ----------------------------------------------------------- */

int
nl_addr_change(struct nl *nl, int type, int ifindex, const struct nl_ifaddr *a)
{
	char buf[NL_REQ_SIZE];
	struct nlmsghdr *nlh;
	struct ifaddrmsg *ifa;
	size_t alen = a->ifa.ifa_family == AF_INET ? 4 : 16;

	nlh = nl_msg(nl, buf, type, type == RTM_NEWADDR ? NLM_F_CREATE | NLM_F_EXCL : 0);
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
	*ifa = a->ifa;
	ifa->ifa_index = (unsigned)ifindex;
	if (a->has_local)
		mnl_attr_put(nlh, IFA_LOCAL, alen, a->local);
	mnl_attr_put(nlh, IFA_ADDRESS, alen, a->addr);
	if (type == RTM_NEWADDR) {
		if (a->has_brd)
			mnl_attr_put(nlh, IFA_BROADCAST, 4, a->brd);
		if (a->flags)
			mnl_attr_put_u32(nlh, IFA_FLAGS, a->flags);
		if (a->has_ci)
			mnl_attr_put(nlh, IFA_CACHEINFO, sizeof a->ci, &a->ci);
	}
	return nl_talk(nl, nlh, NULL, NULL);
}

int
net_addr_add(const char *ifname, const char *cidr, struct hv_err *err)
{
	struct net_addr na;
	struct nl_ifaddr a;
	struct nl nl;
	int idx, r;

	if (net_addr_parse(cidr, &na) != 0 || na.prefix < 0)
		return hv_fail(err, HV_EUSAGE, "%s: '%s' is not an address with a prefix length (like 10.0.0.1/24 or fd00::1/64)",
			       ifname, cidr);
	memset(&a, 0, sizeof a);
	a.ifa.ifa_family = (unsigned char)na.family;
	a.ifa.ifa_prefixlen = (unsigned char)na.prefix;
	a.ifa.ifa_scope = RT_SCOPE_UNIVERSE;
	memcpy(a.addr, na.a, sizeof a.addr);
	if (na.family == AF_INET) {
		uint32_t ip, mask = na.prefix ? ~0u << (32 - na.prefix) : 0;

		memcpy(a.local, na.a, 4);
		a.has_local = true;
		memcpy(&ip, na.a, 4);
		if (na.prefix < 31) {
			ip = htonl(ntohl(ip) | ~mask);
			memcpy(a.brd, &ip, 4);
			a.has_brd = true;
		}
	}
	if (nl_open(&nl, err) != 0)
		return -1;
	if ((idx = nl_ifindex(&nl, ifname)) < 0)
		r = idx;
	else
		r = nl_addr_change(&nl, RTM_NEWADDR, idx, &a);
	if (r != 0) {
		char what[96];

		snprintf(what, sizeof what, "cannot add address %s", cidr);
		nl_fail(err, &nl, ifname, what, r);
	}
	nl_close(&nl);
	return r != 0 ? -1 : 0;
}
