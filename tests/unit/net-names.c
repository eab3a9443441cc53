/* net-names.c - interface names for switches and TAPs, and the network
 * adapter values: ACL rules, bandwidths, MACs and addresses, each parsed
 * and printed back to one canonical text. */
#include <stdio.h>
#include <string.h>

#include "engine/hv.h"
#include "engine/net/net.h"
#include "tests/tap.h"

static bool
hashed(const char *s, const char *prefix, size_t plen)
{
	if (strncmp(s, prefix, plen) != 0)
		return false;
	for (size_t i = plen; i < plen + 8; i++)
		if (!strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

static void
names(void)
{
	char a[NET_IFNAMSIZ], b[NET_IFNAMSIZ];

	ok(net_fnv1a("") == 0x811c9dc5u && net_fnv1a("a") == 0xe40c292cu &&
	   net_fnv1a("foobar") == 0xbf9cf968u, "FNV-1a 32 test vectors");

	net_bridge_name("lan", a);
	is_str(a, "hv-lan", "a short switch name is kept");
	net_bridge_name("abcdefghijkl", a);
	is_str(a, "hv-abcdefghijkl", "12 characters still fit in 15 bytes");
	net_bridge_name("abcdefghijklm", a);
	ok(strlen(a) == 11 && hashed(a, "hv-", 3), "13 characters hash: %s", a);
	net_bridge_name("web.1", a);
	ok(hashed(a, "hv-", 3), "a '.' hashes: %s", a);
	net_bridge_name("web.1", b);
	is_str(a, b, "the same name gives the same bridge");
	net_bridge_name("web.2", b);
	ok(strcmp(a, b) != 0, "another name, another bridge (%s, %s)", a, b);
	net_bridge_name("a-very-long-switch-name-for-the-lab-network-of-the-third-floor", a);
	ok(strlen(a) <= 15 && hashed(a, "hv-", 3), "a 62-byte name fits: %s", a);

	net_tap_name("web1", 0, a);
	is_str(a, "hvt-web1-0", "TAP of web1, slot 0");
	net_tap_name("abcdefghi", 7, a);
	is_str(a, "hvt-abcdefghi-7", "15 bytes exactly are kept");
	net_tap_name("abcdefghij", 7, a);
	ok(strlen(a) == 13 && hashed(a, "hvt", 3) && strcmp(a + 11, "-7") == 0,
	   "16 bytes hash, slot kept: %s", a);
	net_tap_name("db.prod", 3, a);
	ok(hashed(a, "hvt", 3) && strcmp(a + 11, "-3") == 0, "a '.' hashes: %s", a);
	net_tap_name("abcdefghij", 999, a);
	ok(strlen(a) == 15, "slot 999 still fits: %s", a);
	net_tap_name("x", 1000000, a);
	ok(strlen(a) <= 15, "an absurd slot is clamped: %s", a);
	net_tap_name("lan", 0, a);
	net_bridge_name("lan", b);
	ok(strncmp(a, "hvt", 3) == 0 && strncmp(b, "hv-", 3) == 0 && strcmp(a, b) != 0,
	   "TAP and bridge names never meet (%s, %s)", a, b);
}

static void
acls(void)
{
	static const char *const good[][2] = {
		{ "deny,in,remote=10.0.0.0/24", "deny,in,remote=10.0.0.0/24" },
		{ "allow,both,local=10.0.0.2", "allow,both,local=10.0.0.2" },
		{ "allow,out,remote=2001:DB8:0::/32", "allow,out,remote=2001:db8::/32" },
		{ "deny,both,remote=52:54:00:AA:bb:CC", "deny,both,remote=52:54:00:aa:bb:cc" },
		{ "allow,in,local=10.0.0.2,remote=10.1.0.0/16", "allow,in,remote=10.1.0.0/16,local=10.0.0.2" },
		{ "deny,both,remote=any", "deny,both,remote=any" },
		{ "deny,out,remote=any,local=fd00::5", "deny,out,local=fd00::5" },
	};
	static const char *const bad[] = {
		"", "allow", "allow,in", "permit,in,remote=1.2.3.4", "allow,sideways,remote=1.2.3.4",
		"allow,in,remote=300.1.1.1", "allow,in,remote=10.0.0.0/33", "allow,in,remote=::/129",
		"allow,in,remote=1.2.3.4,remote=1.2.3.5", "allow,in,remote=1.2.3.4,local=::1",
		"allow,in,remote=10.0.0.1,local=52:54:00:00:00:01", "allow,in,foo=bar",
		"allow,,in,remote=1.2.3.4", "allow,in,remote=1.2.3.4,", "allow,in,remote=",
		"allow,in,remote=52:54:00:00:00", "allow,in,remote=10.0.0.0/", "ALLOW,in,remote=any",
	};
	struct hv_acl a, b;
	struct hv_err err;
	char buf[160], buf2[160];

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int rc = hv_acl_parse(good[i][0], &a, &err);

		hv_acl_format(&a, buf, sizeof buf);
		ok(rc == 0 && strcmp(buf, good[i][1]) == 0, "ACL '%s' -> '%s' (%s)", good[i][0],
		   buf, rc ? err.msg : "ok");
		rc = hv_acl_parse(buf, &b, &err);
		hv_acl_format(&b, buf2, sizeof buf2);
		ok(rc == 0 && strcmp(buf, buf2) == 0 && a.allow == b.allow &&
		   strcmp(a.local, b.local) == 0 && strcmp(a.remote, b.remote) == 0,
		   "ACL '%s' reads back the same", buf);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = hv_acl_parse(bad[i], &a, &err);

		ok(rc != 0 && err.code == HV_EUSAGE && err.msg[0] && !strchr(err.msg, '\n'),
		   "ACL '%s' refused: %s", bad[i], rc ? err.msg : "accepted");
	}
}

static void
bandwidths(void)
{
	static const struct { const char *s; uint64_t v; const char *back; } good[] = {
		{ "100M", 100000000, "100M" }, { "1G", 1000000000, "1G" },
		{ "1.5G", 1500000000, "1500M" }, { "10Mbps", 10000000, "10M" },
		{ "0", 0, "0" }, { "1500", 1500, "1500" }, { "2k", 2000, "2K" },
		{ "10T", 10000000000000ull, "10T" }, { "0.5K", 500, "500" },
	};
	static const char *const bad[] = {
		"", "M", "1.5", "-1", "1X", "1.0000001G", "99999999T", "1.G", "100MB", " 1M",
	};
	uint64_t v;
	char buf[32];

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		int rc = hv_parse_bandwidth(good[i].s, &v);

		hv_format_bandwidth(rc == 0 ? v : 1, buf, sizeof buf);
		ok(rc == 0 && v == good[i].v && strcmp(buf, good[i].back) == 0,
		   "bandwidth '%s' = %llu bit/s, printed %s", good[i].s,
		   rc == 0 ? (unsigned long long)v : 0ull, buf);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(hv_parse_bandwidth(bad[i], &v) != 0, "bandwidth '%s' refused", bad[i]);
}

static void
macs_and_nics(void)
{
	struct hv_err err;
	struct hv_nic n;
	struct hv_vm vm;
	struct net_addr a;
	char mac[18], buf[64];

	ok(hv_mac_valid("52:54:00:12:34:56", &err), "a unicast MAC is valid");
	ok(hv_mac_valid("52:54:00:AB:cd:EF", &err), "either case");
	ok(!hv_mac_valid("01:00:5e:00:00:01", &err) && err.code == HV_EUSAGE, "multicast refused: %s", err.msg);
	ok(!hv_mac_valid("00:00:00:00:00:00", &err), "all zeros refused: %s", err.msg);
	ok(!hv_mac_valid("52:54:00:12:34", &err), "five bytes refused");
	ok(!hv_mac_valid("52-54-00-12-34-56", &err), "dashes refused");
	ok(!hv_mac_valid("52:54:00:12:34:5g", &err), "not hex refused");
	hv_mac_random(mac);
	ok(strncmp(mac, "52:54:00:", 9) == 0 && hv_mac_valid(mac, &err), "random MAC %s", mac);

	ok(net_addr_parse("10.0.0.1/24", &a) == 0 && a.prefix == 24, "10.0.0.1/24 parses");
	net_addr_format(&a, buf, sizeof buf);
	is_str(buf, "10.0.0.1/24", "and prints back");
	ok(net_addr_parse("FD00:0::1", &a) == 0 && a.prefix == -1, "fd00::1 without a prefix");
	net_addr_format(&a, buf, sizeof buf);
	is_str(buf, "fd00::1", "canonical IPv6");
	ok(net_addr_parse("10.0.0.1/+4", &a) != 0 && net_addr_parse("10.0.0.1/24x", &a) != 0 &&
	   net_addr_parse("/24", &a) != 0 && net_addr_parse("host/24", &a) != 0,
	   "malformed prefixes refused");

	memset(&n, 0, sizeof n);
	snprintf(n.switch_name, sizeof n.switch_name, "lan");
	snprintf(n.mac, sizeof n.mac, "52:54:00:00:00:01");
	ok(hv_nic_validate(&n, &err) == 0, "a plain adapter is valid");
	n.vlan = 4095;
	ok(hv_nic_validate(&n, &err) != 0 && err.code == HV_EUSAGE, "VLAN 4095 refused: %s", err.msg);
	n.vlan = 4094;
	n.min_bw = 200000000;
	n.max_bw = 100000000;
	ok(hv_nic_validate(&n, &err) != 0, "min above max refused: %s", err.msg);
	n.max_bw = 0;
	ok(hv_nic_validate(&n, &err) == 0, "a minimum alone is fine");
	n.nacls = 1;
	snprintf(n.acls[0].dir, sizeof n.acls[0].dir, "up");
	ok(hv_nic_validate(&n, &err) != 0, "a rule with a bad direction refused: %s", err.msg);

	memset(&vm, 0, sizeof vm);
	snprintf(vm.name, sizeof vm.name, "t");
	vm.generation = 2;
	vm.vcpus = 1;
	vm.memory = HV_GIB;
	vm.dm.buffer = 20;
	vm.dm.priority = 50;
	vm.nnics = 2;
	memset(&vm.nics[0], 0, sizeof vm.nics[0]);
	snprintf(vm.nics[0].switch_name, sizeof vm.nics[0].switch_name, "lan");
	snprintf(vm.nics[0].mac, sizeof vm.nics[0].mac, "52:54:00:00:00:01");
	vm.nics[1] = vm.nics[0];
	snprintf(vm.nics[1].mac, sizeof vm.nics[1].mac, "52:54:00:00:00:02");
	ok(hv_vm_validate(&vm, &err) == 0, "two adapters, two MACs: valid (%s)", err.msg);
	snprintf(vm.nics[1].mac, sizeof vm.nics[1].mac, "52:54:00:00:00:01");
	ok(hv_vm_validate(&vm, &err) != 0 && strstr(err.msg, "same MAC"), "the same MAC twice refused: %s", err.msg);
	snprintf(vm.nics[1].mac, sizeof vm.nics[1].mac, "53:54:00:00:00:01");
	ok(hv_vm_validate(&vm, &err) != 0 && strstr(err.msg, "network adapter 1"),
	   "a multicast MAC is refused and the adapter named: %s", err.msg);
}

int
main(void)
{
	names();
	acls();
	bandwidths();
	macs_and_nics();
	return done_testing();
}
