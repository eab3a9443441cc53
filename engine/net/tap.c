/*
 * tap.c - Linux interface names for switches and vNICs, and TAP devices.
 *
 * Names are derived, never stored as the only copy: the same switch or VM
 * name gives the same interface name on every host, and a name too long
 * or too odd for the kernel's 15 bytes becomes a hash. Bridge names start
 * "hv-", TAP names "hvt", so the two never meet.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <net/if.h>
#include <linux/if_tun.h>

#include "engine/net/net.h"

unsigned
net_fnv1a(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 16777619u;
	}
	return h;
}

/* letters, digits, '_' and '-' only: no '.', which `ip` and sysctl paths
   treat specially, and nothing that needs quoting */
static bool
plain(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

void
net_bridge_name(const char *switch_name, char out[NET_IFNAMSIZ])
{
	if (plain(switch_name) && strlen(switch_name) <= NET_IFNAMSIZ - 1 - 3)
		snprintf(out, NET_IFNAMSIZ, "hv-%s", switch_name);
	else
		snprintf(out, NET_IFNAMSIZ, "hv-%08x", net_fnv1a(switch_name));
}

#define HV_TAP_ROOM	96	/* room to build a name before checking its length */

void
net_tap_name(const char *vm_name, int slot, char out[NET_IFNAMSIZ])
{
	char name[HV_TAP_ROOM];

	if (slot < 0 || slot > 999)
		slot = slot < 0 ? 0 : 999;
	/* "hvt-" NAME "-" SLOT */
	snprintf(name, sizeof name, "hvt-%.*s-%d", (int)(sizeof name - 16), vm_name, slot);
	if (!plain(vm_name) || strlen(vm_name) > sizeof name - 16 || strlen(name) >= NET_IFNAMSIZ)
		snprintf(name, sizeof name, "hvt%08x-%d", net_fnv1a(vm_name), slot);
	memcpy(out, name, strlen(name) + 1);	/* at most 15 bytes, either way */
}

int
net_tap_open(const char *ifname, int *fd, struct hv_err *err)
{
	struct ifreq ifr;
	int hdr = NET_VNET_HDR, f;

	*fd = -1;
	if (strnlen(ifname, NET_IFNAMSIZ) == 0 || strnlen(ifname, NET_IFNAMSIZ) >= NET_IFNAMSIZ)
		return hv_fail(err, HV_EINVAL, "'%.20s': not a network interface name (1..15 bytes)",
			       ifname);
	f = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (f < 0)
		return hv_fail(err, HV_EIO, "%s: cannot open /dev/net/tun: %s%s", ifname,
			       strerror(errno), errno == EACCES || errno == EPERM ?
			       " (TAP devices need root)" : "");
	memset(&ifr, 0, sizeof ifr);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	memcpy(ifr.ifr_name, ifname, strlen(ifname));
	if (ioctl(f, TUNSETIFF, &ifr) != 0) {
		int e = errno;

		close(f);
		return hv_fail(err, e == EBUSY ? HV_EBUSY : HV_EIO, "%s: cannot create the TAP: %s%s",
			       ifname, strerror(e),
			       e == EPERM ? " (TAP devices need root)" :
			       e == EBUSY ? " (another process holds it)" :
			       e == EINVAL ? " (an interface of another kind has that name)" : "");
	}
	if (ioctl(f, TUNSETVNETHDRSZ, &hdr) != 0) {
		int e = errno;

		close(f);
		return hv_fail(err, HV_EIO, "%s: cannot set the vnet header size: %s",
			       ifname, strerror(e));
	}
	*fd = f;
	return 0;
}
