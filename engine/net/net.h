/*
 * net.h - host networking for virtual switches: Linux bridges and TAPs
 * driven over rtnetlink (libmnl), never by running `ip`.
 *
 * A virtual switch is a bridge named by net_bridge_name(), VLAN filtering
 * on, STP off:
 *   external  a physical NIC is a port (a VLAN trunk); its addresses and
 *             routes move to the bridge, so the host keeps its network
 *   internal  the bridge itself is the host's port, optionally addressed
 *   private   the bridge has no address and no IPv6 link-local: VMs only
 * Each network adapter of a running VM is a TAP (net_tap_open) made a
 * port of its switch's bridge (net_port_attach), an access port of one
 * VLAN or of the default VLAN 1.
 *
 * Every call that fails returns -1 and fills err with one line naming the
 * interface and the kernel's reason; changing host networking needs root
 * (CAP_NET_ADMIN), and the message says so when that is why.
 */
#ifndef HV_NET_H
#define HV_NET_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/err.h"
#include "engine/net/filter.h"

#define NET_IFNAMSIZ	16	/* Linux IFNAMSIZ: 15 bytes and the NUL */
#define NET_VNET_HDR	12	/* struct virtio_net_hdr_mrg_rxbuf, virtio 1.0 */

/* --- names (engine/net/tap.c) ------------------------------------------ */

/* "hv-NAME" when that fits in 15 bytes and NAME is [A-Za-z0-9_-] only,
   else "hv-" and 8 hex digits of NAME's FNV-1a hash */
void net_bridge_name(const char *switch_name, char out[NET_IFNAMSIZ]);
/* "hvt-VM-SLOT" when it fits, else "hvt", 8 hex digits of VM's hash,
   "-SLOT"; never the same as a bridge name */
void net_tap_name(const char *vm_name, int slot, char out[NET_IFNAMSIZ]);
/* 32-bit FNV-1a */
unsigned net_fnv1a(const char *s);

/* --- links (engine/net/netlink.c) -------------------------------------- */

struct net_link {
	int index;
	unsigned flags;		/* IFF_UP, IFF_LOOPBACK, ... */
	int master;		/* ifindex of the bridge it is a port of; 0: none */
	char kind[16];		/* "bridge", "veth", "tun", ...; "" physical */
	unsigned char mac[6];
	int mtu;
	bool vlan_filtering;	/* a bridge that filters VLANs */
};

bool net_link_exists(const char *ifname);
/* HV_ENOENT when there is no such interface */
int net_link_get(const char *ifname, struct net_link *out, struct hv_err *err);
/* a bridge with vlan_filtering=1 and STP off, up; HV_EEXIST if the name
   is taken. On a kernel without CONFIG_BRIDGE_VLAN_FILTERING the bridge
   filters no VLANs: adapters in VLAN 0 work, net_port_vlan(N) says why not */
int net_bridge_create(const char *br, struct hv_err *err);
int net_link_delete(const char *ifname, struct hv_err *err);
int net_link_up(const char *ifname, struct hv_err *err);
/* make ifname a port of bridge master; master NULL: release it */
int net_link_set_master(const char *ifname, const char *master,
			struct hv_err *err);
int net_link_set_mac(const char *ifname, const unsigned char mac[6],
		     struct hv_err *err);
/* no IPv6 link-local address (addr_gen_mode none): private bridges and
   TAP ports, which the host itself must not talk on */
int net_link_no_linklocal(const char *ifname, struct hv_err *err);
/* "10.0.0.1/24" or "fd00::1/64" */
int net_addr_add(const char *ifname, const char *cidr, struct hv_err *err);

/* --- bridges: uplinks and VLANs (engine/net/uplink.c, bridge-vlan.c) --- */

/* external switch: enslave nic to br (a trunk port) and move its IPv4
   and global IPv6 addresses and its routes (default routes included) to
   br, so the host keeps its connectivity; undone on failure */
int net_uplink_attach(const char *nic, const char *br, struct hv_err *err);
/* the reverse, before the bridge is deleted: the addresses and routes
   go back to nic */
int net_uplink_detach(const char *nic, const char *br, struct hv_err *err);
/* VLAN membership of a bridge port: vlan 0, VLAN 1 untagged (pvid);
   1..4094, that VLAN only, pvid and untagged (an access port). On a
   bridge without VLAN filtering, 0 is all there is and N is HV_ENOTSUP */
int net_port_vlan(const char *port, int vlan, struct hv_err *err);
/* an uplink: VLANs 1..4094 tagged, and VLAN 1 untagged (pvid) */
int net_port_trunk(const char *port, struct hv_err *err);
/* a VM's TAP onto its switch: no IPv6 link-local, port of br, VLAN, up */
int net_port_attach(const char *port, const char *br, int vlan,
		    struct hv_err *err);

/* --- a VM's adapter as a switch port (engine/net/port.c) --------------- */

struct hv_vm;
struct vmm_nic_config;
/* for the worker at start: TAP net_tap_name(vm->name, slot) on the
   bridge of the adapter's switch in its VLAN, the adapter's policy for
   the packet path, and its place in the switch's QoS arbiter (domain
   "net-BRIDGE" under home, key "VMUUID:nicSLOT", the switch's capacity) */
int net_port_open(const char *home, const struct hv_vm *vm, int slot,
		  struct vmm_nic_config *out, struct hv_err *err);

/* --- TAPs (engine/net/tap.c) ------------------------------------------- */

/* /dev/net/tun: IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, a 12-byte vnet
   header, O_NONBLOCK | O_CLOEXEC; not persistent: the interface goes
   away when *fd is closed */
int net_tap_open(const char *ifname, int *fd, struct hv_err *err);

/* --- addresses (engine/net/nic-values.c) ------------------------------- */

struct net_addr {
	int family;		/* AF_INET, AF_INET6 */
	unsigned char a[16];
	int prefix;		/* -1: none given (one host) */
};
/* "10.0.0.0/24", "10.0.0.2", "2001:db8::/32"; 0 or -1 */
int net_addr_parse(const char *s, struct net_addr *out);
/* canonical text: "10.0.0.0/24", "2001:db8::1" */
void net_addr_format(const struct net_addr *a, char *buf, size_t len);
/* "52:54:00:12:34:56" (either case); 0 or -1 */
int net_mac_parse(const char *s, unsigned char mac[6]);

#endif
