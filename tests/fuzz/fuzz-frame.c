/*
 * fuzz-frame.c - frames a guest sends or the network delivers, through
 * the port's policy (engine/net/filter.c): the VLAN tag on and off, the
 * guards, ACLs on both sides. The first bytes pick the policy; the rest
 * is the frame. Nothing may be read past the frame.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net/filter.h"

static const char *const addrs[] = {
	"", "10.0.0.0/8", "10.0.0.1", "fd00::/16", "52:54:00:12:34:56", "0.0.0.0/0", "::/0",
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_policy p;
	uint8_t *f;
	size_t len;

	if (size < 4)
		return 0;
	memset(&p, 0, sizeof p);
	p.mac_guard = data[0] & 1;
	p.dhcp_guard = data[0] & 2;
	p.router_guard = data[0] & 4;
	p.vlan = data[1] & 0x10 ? 1 + data[1] % 16 : 0;
	p.nacls = data[2] % 4;
	for (int i = 0; i < p.nacls; i++) {
		struct net_acl *a = &p.acls[i];

		a->allow = (data[3] >> i) & 1;
		a->in = true;
		a->out = (data[3] >> (i + 4)) & 1;
		net_acl_addr(addrs[(data[2] + i) % 7], &a->kind, a->addr, &a->prefix);
		net_acl_addr(addrs[(data[1] + i) % 7], &a->local_kind, a->local, &a->local_prefix);
	}
	len = size - 4;
	/* a copy with room for a tag, as the device's buffers have */
	if ((f = malloc(len + 4)) == NULL)
		return 0;
	memcpy(f, data + 4, len);
	net_filter_out(&p, f, len);
	net_filter_in(&p, f, len);
	if (net_vlan_untag(&p, f, &len) == NET_PASS)
		net_filter_in(&p, f, len);
	len = net_vlan_tag(&p, f, len);
	net_vlan_untag(&p, f, &len);
	free(f);
	return 0;
}
