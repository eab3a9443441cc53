/*
 * filter.c - the per-port packet policy (see filter.h). Every length is
 * checked before a header field is read: frames come from guests.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net/filter.h"

#define ETH_HLEN	14
#define ETH_P_IP	0x0800
#define ETH_P_IPV6	0x86DD
#define ETH_P_8021Q	0x8100

static uint16_t
be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

const char *
net_verdict_name(enum net_verdict v)
{
	static const char *const names[NET_VERDICTS] = {
		"pass", "mac_guard", "dhcp_guard", "router_guard", "acl", "malformed", "vlan",
	};

	return v < NET_VERDICTS ? names[v] : "?";
}

int
net_acl_addr(const char *s, int *kind, uint8_t addr[16], int *prefix)
{
	char buf[64], *slash;
	unsigned m[6];
	int max;

	memset(addr, 0, 16);
	*kind = 0;
	*prefix = 0;
	if (s == NULL || s[0] == '\0' || strcmp(s, "any") == 0)
		return 0;
	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) == 6 &&
	    strlen(s) == 17) {
		for (int i = 0; i < 6; i++)
			addr[i] = (uint8_t)m[i];
		*kind = 1;
		*prefix = 48;
		return 0;
	}
	if (strlen(s) >= sizeof buf)
		return -1;
	snprintf(buf, sizeof buf, "%s", s);
	slash = strchr(buf, '/');
	if (slash != NULL)
		*slash++ = '\0';
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*kind = 4;
		max = 32;
	} else if (inet_pton(AF_INET6, buf, addr) == 1) {
		*kind = 6;
		max = 128;
	} else {
		return -1;
	}
	*prefix = max;
	if (slash != NULL) {
		char *end;
		long n = strtol(slash, &end, 10);

		if (*slash == '\0' || *end != '\0' || n < 0 || n > max)
			return -1;
		*prefix = (int)n;
	}
	return 0;
}

/* --- parsing a frame --------------------------------------------------- */

struct pkt {
	const uint8_t *dst, *src;	/* MACs */
	uint16_t type;
	int ipv;			/* 0, 4 or 6 */
	const uint8_t *ip_src, *ip_dst;
	uint8_t proto;			/* IPv4 protocol / IPv6 next header */
	const uint8_t *l4;
	size_t l4len;
};

static bool
parse(const uint8_t *f, size_t len, struct pkt *p)
{
	size_t off = ETH_HLEN;

	memset(p, 0, sizeof *p);
	if (len < ETH_HLEN)
		return false;
	p->dst = f;
	p->src = f + 6;
	p->type = be16(f + 12);
	if (p->type == ETH_P_8021Q && len >= ETH_HLEN + 4) {
		p->type = be16(f + 16);
		off += 4;
	}
	if (p->type == ETH_P_IP && len >= off + 20 && (f[off] >> 4) == 4) {
		size_t ihl = (size_t)(f[off] & 15) * 4;

		if (ihl < 20 || len < off + ihl)
			return true;
		p->ipv = 4;
		p->proto = f[off + 9];
		p->ip_src = f + off + 12;
		p->ip_dst = f + off + 16;
		p->l4 = f + off + ihl;
		p->l4len = len - off - ihl;
	} else if (p->type == ETH_P_IPV6 && len >= off + 40 && (f[off] >> 4) == 6) {
		p->ipv = 6;
		p->proto = f[off + 6];	/* no extension headers are followed */
		p->ip_src = f + off + 8;
		p->ip_dst = f + off + 24;
		p->l4 = f + off + 40;
		p->l4len = len - off - 40;
	}
	return true;
}

/* --- ACLs -------------------------------------------------------------- */

static bool
prefix_match(const uint8_t *a, const uint8_t *b, int bits)
{
	int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, (size_t)whole) != 0)
		return false;
	return rest == 0 || ((a[whole] ^ b[whole]) & (0xFF << (8 - rest))) == 0;
}

/* how specific a match of one side is: -1 no match */
static int
side_match(int kind, const uint8_t *addr, int prefix, const struct pkt *p,
	   const uint8_t *mac, const uint8_t *ip)
{
	switch (kind) {
	case 0:
		return 0;
	case 1:
		return memcmp(mac, addr, 6) == 0 ? 200 : -1;
	case 4:
		return p->ipv == 4 && prefix_match(ip, addr, prefix) ? prefix : -1;
	case 6:
		return p->ipv == 6 && prefix_match(ip, addr, prefix) ? prefix : -1;
	}
	return -1;
}

static enum net_verdict
acl_check(const struct net_policy *pol, const struct pkt *p, bool out)
{
	/* out: remote is the destination; in: remote is the source */
	const uint8_t *rmac = out ? p->dst : p->src, *lmac = out ? p->src : p->dst;
	const uint8_t *rip = out ? p->ip_dst : p->ip_src, *lip = out ? p->ip_src : p->ip_dst;
	int best = -1;
	bool allow = true;

	for (int i = 0; i < pol->nacls; i++) {
		const struct net_acl *a = &pol->acls[i];
		int r, l;

		if (out ? !a->out : !a->in)
			continue;
		r = side_match(a->kind, a->addr, a->prefix, p, rmac, rip);
		l = side_match(a->local_kind, a->local, a->local_prefix, p, lmac, lip);
		if (r < 0 || l < 0)
			continue;
		if (r + l > best || (r + l == best && !a->allow)) {
			best = r + l;
			allow = a->allow;
		}
	}
	return allow ? NET_PASS : NET_DROP_ACL;
}

/* --- the guards -------------------------------------------------------- */

static bool
dhcp_server_reply(const struct pkt *p)
{
	/* UDP from port 67 (DHCPv4 server) or 547 (DHCPv6 server) */
	if (p->proto != 17 || p->l4len < 8)
		return false;
	return (p->ipv == 4 && be16(p->l4) == 67) || (p->ipv == 6 && be16(p->l4) == 547);
}

static bool
router_message(const struct pkt *p)
{
	/* ICMPv6 router advertisement (134) or redirect (137); ICMPv4 redirect (5) */
	if (p->ipv == 6 && p->proto == 58 && p->l4len >= 1)
		return p->l4[0] == 134 || p->l4[0] == 137;
	if (p->ipv == 4 && p->proto == 1 && p->l4len >= 1)
		return p->l4[0] == 5;
	return false;
}

enum net_verdict
net_filter_out(const struct net_policy *pol, const uint8_t *f, size_t len)
{
	struct pkt p;

	if (!parse(f, len, &p))
		return NET_DROP_MALFORMED;
	if (pol->mac_guard && memcmp(p.src, pol->mac, 6) != 0)
		return NET_DROP_MAC;
	if (pol->dhcp_guard && dhcp_server_reply(&p))
		return NET_DROP_DHCP;
	if (pol->router_guard && router_message(&p))
		return NET_DROP_ROUTER;
	return acl_check(pol, &p, true);
}

enum net_verdict
net_filter_in(const struct net_policy *pol, const uint8_t *f, size_t len)
{
	struct pkt p;

	if (!parse(f, len, &p))
		return NET_DROP_MALFORMED;
	return acl_check(pol, &p, false);
}

/* --- VLANs ------------------------------------------------------------- */

size_t
net_vlan_tag(const struct net_policy *pol, uint8_t *f, size_t len)
{
	if (pol->vlan == 0 || len < ETH_HLEN)
		return len;
	memmove(f + 16, f + 12, len - 12);
	f[12] = ETH_P_8021Q >> 8;
	f[13] = ETH_P_8021Q & 0xFF;
	f[14] = (uint8_t)(pol->vlan >> 8 & 0x0F);
	f[15] = (uint8_t)pol->vlan;
	return len + 4;
}

enum net_verdict
net_vlan_untag(const struct net_policy *pol, uint8_t *f, size_t *len)
{
	bool tagged = *len >= ETH_HLEN + 4 && be16(f + 12) == ETH_P_8021Q;

	if (*len < ETH_HLEN)
		return NET_DROP_MALFORMED;
	if (pol->vlan == 0)
		return tagged ? NET_DROP_VLAN : NET_PASS;
	if (!tagged || (be16(f + 14) & 0x0FFF) != pol->vlan)
		return NET_DROP_VLAN;
	memmove(f + 12, f + 16, *len - 16);
	*len -= 4;
	return NET_PASS;
}

/* --- token bucket ------------------------------------------------------ */

void
net_bucket_init(struct net_bucket *b, uint64_t rate, uint64_t now_ns)
{
	b->rate = rate;
	/* a few milliseconds of burst, and at least two full frames */
	b->burst = rate / 200 > 2 * 65536 * 8 ? rate / 200 : 2 * 65536 * 8;
	b->tokens = (double)b->burst;
	b->last_ns = now_ns;
}

bool
net_bucket_take(struct net_bucket *b, uint64_t bits, uint64_t now_ns,
		uint64_t *wait_ns)
{
	if (b->rate == 0)
		return true;
	if (now_ns > b->last_ns) {
		b->tokens += (double)(now_ns - b->last_ns) * (double)b->rate / 1e9;
		if (b->tokens > (double)b->burst)
			b->tokens = (double)b->burst;
		b->last_ns = now_ns;
	}
	if (b->tokens >= (double)bits) {
		b->tokens -= (double)bits;
		return true;
	}
	*wait_ns = (uint64_t)(((double)bits - b->tokens) * 1e9 / (double)b->rate) + 1;
	return false;
}
