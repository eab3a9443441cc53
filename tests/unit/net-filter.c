/* net-filter.c - the port policy on crafted frames: MAC, DHCP and router
 * guards, ACL specificity and direction, malformed frames, and the token
 * bucket's rate. */
#include <arpa/inet.h>

#include "engine/net/filter.h"
#include "tests/tap.h"

static const uint8_t vm_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
static const uint8_t peer_mac[6] = { 0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc };

/* an Ethernet + IPv4 + UDP frame; returns its length */
static size_t
udp4(uint8_t *f, const uint8_t *src_mac, const uint8_t *dst_mac, const char *src,
     const char *dst, uint16_t sport, uint16_t dport)
{
	memset(f, 0, 128);
	memcpy(f, dst_mac, 6);
	memcpy(f + 6, src_mac, 6);
	f[12] = 0x08;
	f[14] = 0x45;
	f[23] = 17;
	inet_pton(AF_INET, src, f + 26);
	inet_pton(AF_INET, dst, f + 30);
	f[34] = (uint8_t)(sport >> 8);
	f[35] = (uint8_t)sport;
	f[36] = (uint8_t)(dport >> 8);
	f[37] = (uint8_t)dport;
	return 14 + 20 + 8 + 16;
}

/* Ethernet + IPv6 + ICMPv6 of the given type */
static size_t
icmp6(uint8_t *f, uint8_t type)
{
	memset(f, 0, 128);
	memcpy(f, peer_mac, 6);
	memcpy(f + 6, vm_mac, 6);
	f[12] = 0x86;
	f[13] = 0xDD;
	f[14] = 0x60;
	f[20] = 58;
	f[21] = 255;
	inet_pton(AF_INET6, "fe80::1", f + 22);
	inet_pton(AF_INET6, "ff02::1", f + 38);
	f[54] = type;
	return 14 + 40 + 16;
}

static struct net_acl
rule(bool allow, bool in, bool out, const char *remote, const char *local)
{
	struct net_acl a = { .allow = allow, .in = in, .out = out };

	net_acl_addr(remote, &a.kind, a.addr, &a.prefix);
	net_acl_addr(local, &a.local_kind, a.local, &a.local_prefix);
	return a;
}

static void
test_guards(void)
{
	struct net_policy p = { .mac_guard = true, .dhcp_guard = true, .router_guard = true };
	uint8_t f[128];
	size_t n;

	memcpy(p.mac, vm_mac, 6);
	n = udp4(f, vm_mac, peer_mac, "10.0.0.2", "10.0.0.1", 1000, 7);
	is_int(net_filter_out(&p, f, n), NET_PASS, "an ordinary datagram passes");
	n = udp4(f, peer_mac, vm_mac, "10.0.0.2", "10.0.0.1", 1000, 7);
	is_int(net_filter_out(&p, f, n), NET_DROP_MAC, "mac guard: a spoofed source MAC is dropped");
	is_int(net_filter_in(&p, f, n), NET_PASS, "the mac guard is for what the VM sends");
	n = udp4(f, vm_mac, peer_mac, "10.0.0.2", "255.255.255.255", 67, 68);
	is_int(net_filter_out(&p, f, n), NET_DROP_DHCP, "dhcp guard: a server reply (67 -> 68) from the VM");
	n = udp4(f, vm_mac, peer_mac, "0.0.0.0", "255.255.255.255", 68, 67);
	is_int(net_filter_out(&p, f, n), NET_PASS, "a DHCP client request passes");
	n = icmp6(f, 134);
	is_int(net_filter_out(&p, f, n), NET_DROP_ROUTER, "router guard: an RA");
	n = icmp6(f, 137);
	is_int(net_filter_out(&p, f, n), NET_DROP_ROUTER, "router guard: a redirect");
	n = icmp6(f, 135);
	is_int(net_filter_out(&p, f, n), NET_PASS, "neighbour solicitation passes");
	p.router_guard = p.dhcp_guard = false;
	n = icmp6(f, 134);
	is_int(net_filter_out(&p, f, n), NET_PASS, "without the guard an RA passes");
	is_int(net_filter_out(&p, f, 13), NET_DROP_MALFORMED, "13 bytes: malformed");
	is_int(net_filter_out(&p, f, 20), NET_PASS, "a truncated IPv6 header is not read past the frame");
}

static void
test_acls(void)
{
	struct net_policy p = { 0 };
	uint8_t f[128];
	size_t out, in;

	memcpy(p.mac, vm_mac, 6);
	out = udp4(f, vm_mac, peer_mac, "10.0.0.2", "10.0.0.1", 1000, 7);
	p.acls[p.nacls++] = rule(false, true, true, "10.0.0.0/24", "");
	is_int(net_filter_out(&p, f, out), NET_DROP_ACL, "deny remote 10.0.0.0/24: out");
	in = udp4(f + 0, peer_mac, vm_mac, "10.0.0.1", "10.0.0.2", 7, 1000);
	is_int(net_filter_in(&p, f, in), NET_DROP_ACL, "and in");
	in = udp4(f, peer_mac, vm_mac, "10.0.1.1", "10.0.0.2", 7, 1000);
	is_int(net_filter_in(&p, f, in), NET_PASS, "another prefix passes");
	p.acls[p.nacls++] = rule(true, true, true, "10.0.0.1/32", "");
	in = udp4(f, peer_mac, vm_mac, "10.0.0.1", "10.0.0.2", 7, 1000);
	is_int(net_filter_in(&p, f, in), NET_PASS, "a more specific allow wins");
	in = udp4(f, peer_mac, vm_mac, "10.0.0.9", "10.0.0.2", 7, 1000);
	is_int(net_filter_in(&p, f, in), NET_DROP_ACL, "the rest of the prefix stays denied");
	p.nacls = 0;
	p.acls[p.nacls++] = rule(false, false, true, "10.0.0.0/8", "");
	in = udp4(f, peer_mac, vm_mac, "10.0.0.1", "10.0.0.2", 7, 1000);
	is_int(net_filter_in(&p, f, in), NET_PASS, "an out-only rule leaves incoming traffic alone");
	p.acls[0] = rule(false, true, true, "52:54:00:aa:bb:cc", "");
	is_int(net_filter_in(&p, f, in), NET_DROP_ACL, "deny by remote MAC");
	p.acls[p.nacls++] = rule(true, true, true, "10.0.0.0/8", "");
	is_int(net_filter_in(&p, f, in), NET_DROP_ACL, "a MAC rule is more specific than any prefix");
	p.nacls = 0;
	p.acls[p.nacls++] = rule(false, true, true, "", "10.0.0.3");
	is_int(net_filter_in(&p, f, in), NET_PASS, "a rule on another local address does not match");
	p.acls[0] = rule(false, true, true, "", "10.0.0.2");
	is_int(net_filter_in(&p, f, in), NET_DROP_ACL, "a rule on the local address does");
	ok(net_acl_addr("10.0.0.0/33", &p.acls[0].kind, p.acls[0].addr, &p.acls[0].prefix) < 0 &&
	   net_acl_addr("nonsense", &p.acls[0].kind, p.acls[0].addr, &p.acls[0].prefix) < 0 &&
	   net_acl_addr("fd00::/64", &p.acls[0].kind, p.acls[0].addr, &p.acls[0].prefix) == 0 &&
	   p.acls[0].kind == 6 && p.acls[0].prefix == 64, "addresses: /33 and words refused, IPv6 prefixes taken");
}

static void
test_bucket(void)
{
	struct net_bucket b;
	uint64_t t = 1000000000ull, sent = 0, wait = 0;

	net_bucket_init(&b, 50000000, t);	/* 50 Mbit/s */
	/* ten simulated seconds of 1500-byte frames offered as fast as allowed */
	while (t < 11000000000ull) {
		if (net_bucket_take(&b, 1500 * 8, t, &wait))
			sent += 1500 * 8;
		else
			t += wait;
	}
	ok(sent >= 500000000ull * 99 / 100 && sent <= 500000000ull * 101 / 100 + b.burst,
	   "50 Mbit/s for 10 s lets through %.1f Mbit", (double)sent / 1e6);
	net_bucket_init(&b, 0, t);
	ok(net_bucket_take(&b, 1ull << 40, t, &wait), "rate 0 is unlimited");
}

int
main(void)
{
	test_guards();
	test_acls();
	test_bucket();
	return done_testing();
}
