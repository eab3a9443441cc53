/*
 * nic-values.c - the values a network adapter's settings take, parsed
 * and printed: addresses and prefixes, MAC addresses, bandwidths, port
 * ACL rules, and the rules a whole adapter must follow.
 *
 * These are what a user types and what the inventory and exported VM
 * files hold, so each parser is strict and each formatter gives the one
 * canonical text the parser takes back.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "engine/hv.h"
#include "engine/net/net.h"

#define BW_MAX	10000000000000ull	/* 10 Tbit/s */

/* --- addresses ----------------------------------------------------------- */

int
net_addr_parse(const char *s, struct net_addr *out)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	long prefix = -1;

	memset(out, 0, sizeof *out);
	if (n == 0 || n >= sizeof host)
		return -1;
	memcpy(host, s, n);
	host[n] = '\0';
	if (inet_pton(AF_INET, host, out->a) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->a) == 1)
		out->family = AF_INET6;
	else
		return -1;
	if (slash != NULL) {
		char *end;

		if (!isdigit((unsigned char)slash[1]) || strlen(slash + 1) > 3)
			return -1;
		prefix = strtol(slash + 1, &end, 10);
		if (*end != '\0' || prefix > (out->family == AF_INET ? 32 : 128))
			return -1;
	}
	out->prefix = (int)prefix;
	return 0;
}

void
net_addr_format(const struct net_addr *a, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN];

	if (inet_ntop(a->family, a->a, host, sizeof host) == NULL)
		snprintf(host, sizeof host, "?");
	if (a->prefix >= 0)
		snprintf(buf, len, "%s/%d", host, a->prefix);
	else
		snprintf(buf, len, "%s", host);
}

int
net_mac_parse(const char *s, unsigned char mac[6])
{
	if (strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		char hex[3] = { p[0], p[1], '\0' };

		if (!isxdigit((unsigned char)p[0]) || !isxdigit((unsigned char)p[1]) ||
		    (i < 5 && p[2] != ':'))
			return -1;
		mac[i] = (unsigned char)strtoul(hex, NULL, 16);
	}
	return 0;
}

/* --- MACs and bandwidths ------------------------------------------------ */

bool
hv_mac_valid(const char *mac, struct hv_err *err)
{
	static const unsigned char zero[6];
	unsigned char m[6];

	if (net_mac_parse(mac, m) != 0)
		return hv_fail(err, HV_EUSAGE, "MAC address '%s': use six hex pairs like 52:54:00:12:34:56",
			       mac), false;
	if (m[0] & 1)
		return hv_fail(err, HV_EUSAGE, "MAC address %s is a multicast address (the first byte must be even)",
			       mac), false;
	if (memcmp(m, zero, 6) == 0)
		return hv_fail(err, HV_EUSAGE, "MAC address %s: all zeros is not an address", mac), false;
	return true;
}

void
hv_mac_random(char out[18])
{
	unsigned char b[3];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || read(fd, b, sizeof b) != (ssize_t)sizeof b)
		for (size_t i = 0; i < sizeof b; i++)
			b[i] = (unsigned char)(rand() ^ getpid());
	if (fd >= 0)
		close(fd);
	snprintf(out, 18, "52:54:00:%02x:%02x:%02x", b[0], b[1], b[2]);
}

int
hv_parse_bandwidth(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long whole, mult = 1, frac = 0, fscale = 1;
	const char *p = s, *u;
	char *end;

	if (s == NULL || !isdigit((unsigned char)*s) || strlen(s) > 32)
		return -1;
	errno = 0;
	whole = strtoull(p, &end, 10);
	if (errno != 0 || whole > BW_MAX * 10)
		return -1;
	p = end;
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			return -1;
		for (; isdigit((unsigned char)*p); p++) {
			if (fscale >= 1000000)
				return -1;
			frac = frac * 10 + (unsigned)(*p - '0');
			fscale *= 10;
		}
	}
	if (*p != '\0' && (u = strchr(units, toupper((unsigned char)*p))) != NULL) {
		for (long i = 0; i <= u - units; i++)
			mult *= 1000;
		p++;
	}
	if (whole > BW_MAX * 10 / mult)
		return -1;
	if (strcasecmp(p, "bps") == 0 || strcasecmp(p, "bit/s") == 0)
		p += strlen(p);
	if (*p != '\0')
		return -1;
	if (frac * mult % fscale != 0)
		return -1;	/* not a whole number of bits per second */
	*out = whole * mult + frac * mult / fscale;
	return 0;
}

void
hv_format_bandwidth(uint64_t bps, char *buf, size_t len)
{
	static const char units[] = "KMGT";
	int i = -1;

	while (bps != 0 && i < 3 && bps % 1000 == 0) {
		bps /= 1000;
		i++;
	}
	if (i < 0)
		snprintf(buf, len, "%llu", (unsigned long long)bps);
	else
		snprintf(buf, len, "%llu%c", (unsigned long long)bps, units[i]);
}

/* --- ACL rules ----------------------------------------------------------- */

/* "any" -> "", a MAC or an address -> canonical; -1 if it is neither */
static int
acl_addr(const char *s, char out[64], int *kind)
{
	unsigned char m[6];
	struct net_addr a;

	if (strcmp(s, "any") == 0) {
		out[0] = '\0';
		*kind = 0;
		return 0;
	}
	if (net_mac_parse(s, m) == 0) {
		snprintf(out, 64, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
		*kind = 1;
		return 0;
	}
	if (net_addr_parse(s, &a) == 0) {
		net_addr_format(&a, out, 64);
		*kind = a.family == AF_INET ? 4 : 6;
		return 0;
	}
	return -1;
}

int
hv_acl_parse(const char *s, struct hv_acl *a, struct hv_err *err)
{
	char buf[256], *tok, *save = NULL;
	int n = 0, lkind = 0, rkind = 0;
	bool have_local = false, have_remote = false;

	memset(a, 0, sizeof *a);
	if (strlen(s) >= sizeof buf)
		return hv_fail(err, HV_EUSAGE, "ACL rule '%.40s...': too long", s);
	if (s[0] == ',' || strstr(s, ",,") != NULL || (s[0] && s[strlen(s) - 1] == ','))
		return hv_fail(err, HV_EUSAGE, "ACL rule '%s': an empty field", s);
	snprintf(buf, sizeof buf, "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save), n++) {
		char *eq = strchr(tok, '=');

		if (n == 0 && (strcmp(tok, "allow") == 0 || strcmp(tok, "deny") == 0)) {
			a->allow = tok[0] == 'a';
		} else if (n == 0) {
			return hv_fail(err, HV_EUSAGE, "ACL rule '%s': starts with allow or deny", s);
		} else if (n == 1 && (strcmp(tok, "in") == 0 || strcmp(tok, "out") == 0 ||
				      strcmp(tok, "both") == 0)) {
			snprintf(a->dir, sizeof a->dir, "%s", tok);
		} else if (n == 1) {
			return hv_fail(err, HV_EUSAGE, "ACL rule '%s': the direction is in, out or both", s);
		} else if (eq != NULL && strncmp(tok, "remote=", 7) == 0 && !have_remote) {
			if (acl_addr(eq + 1, a->remote, &rkind) != 0)
				return hv_fail(err, HV_EUSAGE, "ACL rule '%s': remote '%s' is not an address, prefix (10.0.0.0/24) or MAC",
					       s, eq + 1);
			have_remote = true;
		} else if (eq != NULL && strncmp(tok, "local=", 6) == 0 && !have_local) {
			if (acl_addr(eq + 1, a->local, &lkind) != 0)
				return hv_fail(err, HV_EUSAGE, "ACL rule '%s': local '%s' is not an address, prefix (10.0.0.0/24) or MAC",
					       s, eq + 1);
			have_local = true;
		} else {
			return hv_fail(err, HV_EUSAGE, "ACL rule '%s': unexpected '%s' (use allow|deny,in|out|both,remote=ADDR[,local=ADDR])",
				       s, tok);
		}
	}
	if (n < 2)
		return hv_fail(err, HV_EUSAGE, "ACL rule '%s': use allow|deny,in|out|both,remote=ADDR[,local=ADDR]", s);
	if (!have_local && !have_remote)
		return hv_fail(err, HV_EUSAGE, "ACL rule '%s': say which addresses (remote=ADDR, local=ADDR, or remote=any)", s);
	if (lkind && rkind && lkind != rkind)
		return hv_fail(err, HV_EUSAGE, "ACL rule '%s': local and remote must both be MACs, IPv4 or IPv6", s);
	return 0;
}

void
hv_acl_format(const struct hv_acl *a, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s,%s", a->allow ? "allow" : "deny", a->dir);

	if (n < 0 || (size_t)n >= len)
		return;
	if (a->remote[0] || !a->local[0])
		n += snprintf(buf + n, len - (size_t)n, ",remote=%s", a->remote[0] ? a->remote : "any");
	if (a->local[0] && n > 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, ",local=%s", a->local);
}

/* --- a whole adapter ----------------------------------------------------- */

int
hv_nic_validate(const struct hv_nic *n, struct hv_err *err)
{
	char a[32], b[32], rule[160];
	struct hv_acl back;

	if (n->switch_name[0] == '\0')
		return hv_fail(err, HV_EUSAGE, "no virtual switch given");
	if (!hv_mac_valid(n->mac, err))
		return -1;
	if (n->vlan < 0 || n->vlan > 4094)
		return hv_fail(err, HV_EUSAGE, "VLAN %d: must be 0 (none) or 1..4094", n->vlan);
	if (n->max_bw > BW_MAX || n->min_bw > BW_MAX)
		return hv_fail(err, HV_EUSAGE, "bandwidth above 10T bit/s");
	if (n->max_bw != 0 && n->min_bw != 0 && n->min_bw > n->max_bw) {
		hv_format_bandwidth(n->min_bw, a, sizeof a);
		hv_format_bandwidth(n->max_bw, b, sizeof b);
		return hv_fail(err, HV_EUSAGE, "minimum bandwidth %s is above maximum bandwidth %s", a, b);
	}
	if (n->nacls < 0 || n->nacls > HV_MAX_ACLS)
		return hv_fail(err, HV_EUSAGE, "at most %d ACL rules", HV_MAX_ACLS);
	for (int i = 0; i < n->nacls; i++) {
		/* a rule is valid when its text reads back the same */
		hv_acl_format(&n->acls[i], rule, sizeof rule);
		if (hv_acl_parse(rule, &back, err) != 0)
			return -1;
		if (back.allow != n->acls[i].allow || strcmp(back.dir, n->acls[i].dir) != 0 ||
		    strcmp(back.local, n->acls[i].local) != 0 ||
		    strcmp(back.remote, n->acls[i].remote) != 0)
			return hv_fail(err, HV_EUSAGE, "ACL rule '%s' is not in canonical form", rule);
	}
	return 0;
}
