/*
 * filter.h - a port's policy in the worker's packet path: MAC spoofing,
 * DHCP and router guards, port ACLs and a token bucket for maximum
 * bandwidth. Pure functions on Ethernet frames, so the VMM's virtio-net
 * calls them per frame and the unit tests feed them crafted frames.
 *
 * Directions are the VM's: "out" is a frame the VM sends, "in" one it
 * receives. An ACL's remote address is the other end (the destination of
 * an outgoing packet, the source of an incoming one); the most specific
 * matching rule decides (a MAC is the most specific), a deny wins a tie,
 * and a frame no rule matches passes.
 */
#ifndef HV_NET_FILTER_H
#define HV_NET_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX_ACLS	16

enum net_verdict {
	NET_PASS = 0,
	NET_DROP_MAC,		/* source MAC is not the port's */
	NET_DROP_DHCP,		/* a DHCP server reply from the VM */
	NET_DROP_ROUTER,	/* a router advertisement or redirect from the VM */
	NET_DROP_ACL,		/* an ACL denied it */
	NET_DROP_MALFORMED,	/* shorter than an Ethernet header */
	NET_DROP_VLAN,		/* tagged for another VLAN (or tagged at all
				   on a port without one) */
	NET_VERDICTS,
};

struct net_acl {
	bool allow;
	bool in, out;		/* directions it applies to */
	int kind;		/* 0 any, 4 IPv4 prefix, 6 IPv6 prefix, 1 MAC */
	uint8_t addr[16];	/* IPv4 in the first 4 bytes, or the MAC */
	int prefix;		/* bits */
	int local_kind;		/* the VM's side: same encoding, 0 any */
	uint8_t local[16];
	int local_prefix;
};

struct net_policy {
	uint8_t mac[6];		/* the port's MAC */
	int vlan;		/* 1..4094: frames leave tagged, only that
				   tag comes in (and is taken off); 0 none */
	bool mac_guard, dhcp_guard, router_guard;
	int nacls;
	struct net_acl acls[NET_MAX_ACLS];
};

/* "10.0.0.0/24", "fd00::/64", "02:00:00:00:00:01", "" (any) into one side
   of a rule; -1 on a malformed address */
int net_acl_addr(const char *s, int *kind, uint8_t addr[16], int *prefix);

enum net_verdict net_filter_out(const struct net_policy *p,
				const uint8_t *frame, size_t len);
enum net_verdict net_filter_in(const struct net_policy *p,
			       const uint8_t *frame, size_t len);
const char *net_verdict_name(enum net_verdict v);	/* "dhcp_guard" */

/*
 * The port's VLAN, done by the switch port itself as Hyper-V's switch
 * does, so it needs no VLAN filtering in the host's bridge: a frame from
 * the VM gets the 802.1Q tag (the buffer has 4 bytes of room at its end;
 * returns the new length), a frame for the VM must carry the port's tag,
 * which comes off (*len shrinks), or be untagged on an untagged port.
 */
size_t net_vlan_tag(const struct net_policy *p, uint8_t *frame, size_t len);
enum net_verdict net_vlan_untag(const struct net_policy *p, uint8_t *frame,
				size_t *len);

/* token bucket in bits; rate 0 means unlimited */
struct net_bucket {
	uint64_t rate;		/* bits per second */
	uint64_t burst;		/* bits the bucket holds */
	double tokens;
	uint64_t last_ns;
};
void net_bucket_init(struct net_bucket *b, uint64_t rate, uint64_t now_ns);
/* take bits if there are enough; else 0 ns if it never will, or how long
   to wait (returns false) */
bool net_bucket_take(struct net_bucket *b, uint64_t bits, uint64_t now_ns,
		     uint64_t *wait_ns);

#endif
