/*
 * nl.h - rtnetlink plumbing shared by engine/net's files (not public).
 *
 * One NETLINK_ROUTE socket per engine call, opened and closed there: no
 * state outlives a call. nl_talk() sends one request and runs the replies
 * through a callback until the ACK or NLMSG_DONE; it returns 0 or -errno
 * and keeps the kernel's extended-ACK text for the error line.
 */
#ifndef HV_NET_NL_H
#define HV_NET_NL_H

#include <stdbool.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "engine/net/net.h"

#define NL_REQ_SIZE	4096	/* every request hv builds fits */
#define NL_RCV_SIZE	32768	/* a dump part (MNL_SOCKET_DUMP_SIZE) */

struct nl {
	struct mnl_socket *sock;
	unsigned int portid;
	unsigned int seq;
	char ext[160];		/* the kernel's extended ACK message, if any */
	char rbuf[NL_RCV_SIZE];
};

int nl_open(struct nl *nl, struct hv_err *err);
void nl_close(struct nl *nl);
/* a request header in buf (NL_REQ_SIZE bytes): type, NLM_F_REQUEST |
   NLM_F_ACK | flags, the next sequence number */
struct nlmsghdr *nl_msg(struct nl *nl, void *buf, int type, int flags);
/* send and collect the answer; cb sees each data message (may be NULL) */
int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data);
/* err: "IF: WHAT: strerror(e)" plus why (root, the kernel's text) */
int nl_fail(struct hv_err *err, const struct nl *nl, const char *ifname,
	    const char *what, int e);
/* ifindex of ifname, or -ENODEV / -errno */
int nl_ifindex(struct nl *nl, const char *ifname);
int nl_link_get(struct nl *nl, const char *ifname, struct net_link *out);
/* RTM_SETLINK of one u32 attribute (IFLA_MASTER, ...) by interface name */
int nl_link_set_u32(struct nl *nl, const char *ifname, int attr,
		    unsigned int v);
int nl_link_up(struct nl *nl, const char *ifname);

/* one interface address as RTM_NEWADDR/RTM_DELADDR carry it */
struct nl_ifaddr {
	struct ifaddrmsg ifa;
	unsigned char local[16];	/* IFA_LOCAL (IPv4) */
	unsigned char addr[16];		/* IFA_ADDRESS */
	unsigned char brd[4];		/* IFA_BROADCAST (IPv4) */
	bool has_local, has_brd, has_ci;
	unsigned int flags;		/* IFA_FLAGS */
	struct ifa_cacheinfo ci;	/* lifetimes of a dynamic address */
};
/* RTM_NEWADDR (create, exclusive) or RTM_DELADDR of a on ifindex */
int nl_addr_change(struct nl *nl, int type, int ifindex,
		   const struct nl_ifaddr *a);

#endif
