/*
 * port.c - a VM's network adapter as a port of its virtual switch, as
 * the worker builds it at start: a TAP named after the VM and slot,
 * attached to the switch's bridge in the adapter's VLAN, and the
 * adapter's policy (MAC, guards, ACLs, bandwidth) for the packet path.
 * Minimum bandwidth is shared out among the switch's ports by the QoS
 * arbiter (engine/qos.h), one domain per bridge, out of the switch's
 * capacity as the inventory gives it.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/hv.h"
#include "engine/net/net.h"
#include "engine/vm/vmm.h"

static int
policy_of(const struct hv_nic *nic, struct net_policy *p, struct hv_err *err)
{
	memset(p, 0, sizeof *p);
	if (net_mac_parse(nic->mac, p->mac) != 0)
		return hv_fail(err, HV_EINVAL, "adapter on switch %s: bad MAC '%s'", nic->switch_name, nic->mac);
	p->mac_guard = nic->mac_guard;
	p->dhcp_guard = nic->dhcp_guard;
	p->router_guard = nic->router_guard;
	for (int i = 0; i < nic->nacls && i < NET_MAX_ACLS; i++) {
		const struct hv_acl *a = &nic->acls[i];
		struct net_acl *r = &p->acls[p->nacls];

		r->allow = a->allow;
		r->in = strcmp(a->dir, "out") != 0;
		r->out = strcmp(a->dir, "in") != 0;
		if (net_acl_addr(a->remote, &r->kind, r->addr, &r->prefix) != 0 ||
		    net_acl_addr(a->local, &r->local_kind, r->local, &r->local_prefix) != 0)
			return hv_fail(err, HV_EINVAL, "adapter %s: bad ACL address '%s'", nic->mac,
				       a->remote[0] ? a->remote : a->local);
		p->nacls++;
	}
	return 0;
}

/* bandwidth: the adapter's limits, and where the switch's arbiter is */
static int
qos_of(const char *home, const struct hv_vm *vm, int slot, const char *br,
       struct vmm_nic_config *out, struct hv_err *err)
{
	const struct hv_nic *nic = &vm->nics[slot];

	out->max_bw = nic->max_bw;
	out->min_bw = nic->min_bw;
	if (hv_switch_capacity(home, nic->switch_name, &out->capacity, err) != 0)
		return -1;
	out->qos_home = home;
	snprintf(out->qos_domain, sizeof out->qos_domain, "net-%s", br);
	snprintf(out->qos_key, sizeof out->qos_key, "%s:nic%d", vm->uuid, slot);
	return 0;
}

int
net_port_open(const char *home, const struct hv_vm *vm, int slot,
	      struct vmm_nic_config *out, struct hv_err *err)
{
	const struct hv_nic *nic = &vm->nics[slot];
	char tap[NET_IFNAMSIZ], br[NET_IFNAMSIZ];

	memset(out, 0, sizeof *out);
	out->tap_fd = -1;
	if (policy_of(nic, &out->policy, err) != 0)
		return -1;
	out->policy.vlan = nic->vlan;
	net_bridge_name(nic->switch_name, br);
	if (!net_link_exists(br))
		return hv_fail(err, HV_ENOENT, "switch %s: its bridge %s does not exist on this host "
			       "(hv switch show %s)", nic->switch_name, br, nic->switch_name);
	if (qos_of(home, vm, slot, br, out, err) != 0)
		return -1;
	net_tap_name(vm->name, slot, tap);
	if (net_tap_open(tap, &out->tap_fd, err) != 0)
		return -1;
	/* the worker tags the adapter's VLAN itself: its TAP carries tagged
	   frames, so on a VLAN-filtering bridge it is a trunk */
	if (net_port_attach(tap, br, 0, err) != 0 ||
	    (nic->vlan != 0 && net_port_trunk(tap, err) != 0)) {
		close(out->tap_fd);
		out->tap_fd = -1;
		return -1;
	}
	return 0;
}
