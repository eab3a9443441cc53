/*
 * net-forge.c - frames a misbehaving guest would send, one per command, so
 * that a virtual switch's guards (DHCP guard, router guard, MAC address
 * spoofing) can be shown to stop them:
 *
 *   forge-dhcp-offer dev=N          a DHCP OFFER broadcast from our IP
 *   forge-ra dev=N                  an ICMPv6 Router Advertisement to ff02::1
 *   forge-mac dev=N dst=IP port=P   a UDP datagram from 02:00:00:00:00:99
 */
#include "tests/guest/probe.h"

#define DHCP_SERVER_PORT	67
#define DHCP_CLIENT_PORT	68
#define BOOTP_LEN		236	/* the fixed part */
#define DHCP_LEN		300	/* the BOOTP minimum, options padded */
#define DHCP_MAGIC		0x63825363
#define DHCP_XID		0x68763031

#define IP6_HLEN		40
#define PROTO_ICMPV6		58
#define ND_ROUTER_ADVERT	134
#define RA_LEN			(16 + 8 + 32)	/* header, source LL, prefix */

static const char *const known_dev[] = { "dev", NULL };
static const char *const known_peer[] = { "dev", "dst", "port", NULL };

/* ---- forge-dhcp-offer ---- */

static uint8_t *
dhcp_opt(uint8_t *o, uint8_t code, uint32_t v)
{
	o[0] = code;
	o[1] = 4;
	put_be32(o + 2, v);
	return o + 6;
}

/* BOOTREPLY offering host .200 of our subnet, us as server and router */
static void
dhcp_offer(const struct nic *n, uint8_t *d)
{
	uint8_t *o = d + BOOTP_LEN + 4;

	memset(d, 0, DHCP_LEN);
	d[0] = 2;			/* BOOTREPLY */
	d[1] = 1;			/* Ethernet */
	d[2] = ETH_ALEN;
	put_be32(d + 4, DHCP_XID);
	put_be16(d + 10, 0x8000);	/* broadcast */
	put_be32(d + 16, (n->ip & n->mask) | (200 & ~n->mask));	/* yiaddr */
	put_be32(d + 20, n->ip);	/* siaddr */
	memset(d + 28, 0xff, ETH_ALEN);	/* chaddr: whoever listens */
	put_be32(d + BOOTP_LEN, DHCP_MAGIC);
	o[0] = 53;			/* message type: OFFER */
	o[1] = 1;
	o[2] = 2;
	o = dhcp_opt(o + 3, 54, n->ip);	/* server identifier */
	o = dhcp_opt(o, 51, 3600);	/* lease time */
	o = dhcp_opt(o, 1, n->mask);
	o = dhcp_opt(o, 3, n->ip);	/* router */
	o = dhcp_opt(o, 6, n->ip);	/* DNS */
	*o = 255;
}

int
cmd_forge_dhcp_offer(const char *args)
{
	struct nic *n = nic_get("forge-dhcp-offer", args);
	struct net_peer to = { .ip = 0xFFFFFFFF, .port = DHCP_CLIENT_PORT };
	uint8_t *d;

	if (!n || !net_usage_ok("forge-dhcp-offer", args, known_dev,
				"dev=N"))
		return -1;
	memcpy(to.mac, eth_bcast, ETH_ALEN);
	d = udp_begin(n, &to, NULL, DHCP_SERVER_PORT, DHCP_LEN);
	if (!d) {
		pr("forge-dhcp-offer: FAIL tx ring stuck\n");
		return -1;
	}
	dhcp_offer(n, d);
	udp_finish(n, d, DHCP_LEN, true);
	pr("forge-dhcp-offer: ok\n");
	return 0;
}

/* ---- forge-ra ---- */

/* fe80::/64 with the modified EUI-64 of our MAC */
static void
link_local(const struct nic *n, uint8_t *a)
{
	memset(a, 0, 16);
	a[0] = 0xfe;
	a[1] = 0x80;
	a[8] = n->mac[0] ^ 0x02;
	a[9] = n->mac[1];
	a[10] = n->mac[2];
	a[11] = 0xff;
	a[12] = 0xfe;
	memcpy(a + 13, n->mac + 3, 3);
}

/* lifetime 1800 s, our MAC, prefix 2001:db8:bad::/64 (on-link, SLAAC) */
static void
ra_body(const struct nic *n, uint8_t *ra)
{
	static const uint8_t prefix[8] = { 0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad };
	uint8_t *o = ra + 16, *p = ra + 24;

	memset(ra, 0, RA_LEN);
	ra[0] = ND_ROUTER_ADVERT;
	ra[4] = 64;			/* current hop limit */
	put_be16(ra + 6, 1800);		/* router lifetime */
	o[0] = 1;			/* source link-layer address */
	o[1] = 1;
	memcpy(o + 2, n->mac, ETH_ALEN);
	p[0] = 3;			/* prefix information */
	p[1] = 4;
	p[2] = 64;
	p[3] = 0xC0;			/* on-link, autonomous */
	put_be32(p + 4, 86400);
	put_be32(p + 8, 14400);
	memcpy(p + 16, prefix, sizeof(prefix));
}

int
cmd_forge_ra(const char *args)
{
	static const uint8_t all_nodes_mac[ETH_ALEN] = { 0x33, 0x33, 0, 0, 0, 1 };
	struct nic *n = nic_get("forge-ra", args);
	uint8_t *ip6, *ra;
	uint32_t sum;

	if (!n || !net_usage_ok("forge-ra", args, known_dev, "dev=N"))
		return -1;
	if (!(ip6 = eth_begin(n, all_nodes_mac, NULL, ETH_P_IPV6))) {
		pr("forge-ra: FAIL tx ring stuck\n");
		return -1;
	}
	memset(ip6, 0, IP6_HLEN);
	ip6[0] = 0x60;
	put_be16(ip6 + 4, RA_LEN);
	ip6[6] = PROTO_ICMPV6;
	ip6[7] = 255;			/* hop limit: ND demands it */
	link_local(n, ip6 + 8);
	ip6[24] = 0xff;			/* ff02::1 */
	ip6[25] = 0x02;
	ip6[39] = 1;
	ra = ip6 + IP6_HLEN;
	ra_body(n, ra);
	sum = net_csum_add(0, ip6 + 8, 32) + RA_LEN + PROTO_ICMPV6;
	put_be16(ra + 2, net_csum_fold(net_csum_add(sum, ra, RA_LEN)));
	eth_send(n, ip6, IP6_HLEN + RA_LEN, true);
	pr("forge-ra: ok\n");
	return 0;
}

/* ---- forge-mac ---- */

int
cmd_forge_mac(const char *args)
{
	static const uint8_t spoofed[ETH_ALEN] = { 0x02, 0, 0, 0, 0, 0x99 };
	static const char msg[] = "hv probe: spoofed source MAC";
	struct nic *n = nic_get("forge-mac", args);
	struct net_peer to;
	uint8_t *d;

	if (!n || !net_usage_ok("forge-mac", args, known_peer,
				"dev=N dst=IP port=P") ||
	    peer_resolve(n, "forge-mac", args, &to))
		return -1;
	d = udp_begin(n, &to, spoofed, 40099, sizeof(msg) - 1);
	if (!d) {
		pr("forge-mac: FAIL tx ring stuck\n");
		return -1;
	}
	memcpy(d, msg, sizeof(msg) - 1);
	udp_finish(n, d, sizeof(msg) - 1, true);
	pr("forge-mac: ok\n");
	return 0;
}
