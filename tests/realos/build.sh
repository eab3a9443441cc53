#!/usr/bin/env bash
# tests/realos/build.sh - a real Debian server, built from Debian's archive,
# for the tests that use a distribution as the oracle (tests/realos-*.t):
#
#	tests/realos/build.sh DIR
#
# into DIR (a cache under build/, rebuilt only when this script or the
# archive's kernel changes):
#	rootfs.tar   mmdebstrap --variant=minbase of the host's release with
#	             systemd, udev, dbus, the distribution kernel, initramfs-tools,
#	             qemu-guest-agent, iproute2, ping, procps, fio, nc; set up as
#	             a server: root autologin on ttyS0, systemd-networkd with a
#	             static address (hv.addr=A/N on the kernel command line, else
#	             192.168.76.2/24), hostname realos, and a unit that writes
#	             "HV-REALOS-READY boot_id=... uptime=..." on ttyS0 once
#	             multi-user.target is reached
#	vmlinuz, initrd.img
#	             the image's own kernel and initramfs (Gen2 direct boot)
#	disk.raw     the installed server: an MBR (syslinux's mbr.bin), partition
#	             1 a FAT /boot with SYSLINUX (kernel, initramfs, console on
#	             ttyS0: what SeaBIOS boots on Gen1), partition 2 the ext4
#	             root, made with mkfs.ext4 -d (no loop mount)
#	disk.vhdx, disk.qcow2
#	             the same disk written by `hv disk convert` (dynamic), each
#	             checked by qemu-img check and compare against disk.raw
#	cmdline      the kernel command line (root=/dev/vda2 ...), the same for
#	             Gen1 (in syslinux.cfg) and Gen2 (hv vm create --cmdline);
#	             systemd's start timeout is 15 minutes, not 90 s: in the
#	             lab, under load, udev announced ttyS0 after 90 s and the
#	             serial getty was never started
#	root.offset  the byte offset of the root partition (e2fsck -fn
#	             'disk.raw?offset=N' checks it after a run)
#
# Exit status: 0 built (or already there), 2 cannot build here (a tool or
# the network is missing; the caller skips saying why), 1 a real failure.
# Needs root (mmdebstrap's root mode, and the tree's owners for mkfs.ext4 -d).
set -eu

DIR=${1:?usage: build.sh DIR}
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
PKGS="systemd-sysv,dbus,udev,kmod,iproute2,linux-image-amd64,initramfs-tools,
qemu-guest-agent,iputils-ping,procps,fio,netcat-openbsd,e2fsprogs,coreutils"
CMDLINE="root=/dev/vda2 rw console=ttyS0,115200 panic=-1 quiet systemd.show_status=0 systemd.default_timeout_start_sec=900"
BOOT_MB=64		# partition 1: kernel + initramfs
ROOT_MB=1536		# partition 2: the ext4 root

cannot() { echo "realos: $*" >&2; exit 2; }
die() { echo "realos: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || cannot "building the server image needs root (mmdebstrap, file owners)"
for t in mmdebstrap mkfs.ext4 sfdisk syslinux mformat mcopy flock sha256sum tar; do
	command -v "$t" >/dev/null || cannot "$t is not installed (scripts/deps.sh)"
done
MBR=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$MBR" ] || cannot "syslinux-common is not installed ($MBR missing)"
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[ -n "$SUITE" ] || cannot "cannot tell this host's Debian release (/etc/os-release)"

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9		# two test runs at once share one cache

KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
	sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
[ -n "$KPKG" ] || cannot "apt-cache knows no linux-image-amd64 (run apt-get update)"
# the tree depends on the release, the kernel, the packages and the hook;
# the disk on that and on this script
ROOTFS_STAMP="$SUITE $KPKG $(printf '%s' "$PKGS" | cat - "$(dirname "$SELF")/customize.sh" | sha256sum | cut -c1-16)"
STAMP="$ROOTFS_STAMP $(sha256sum <"$SELF" | cut -c1-16)"
if [ "$(cat "$DIR/stamp" 2>/dev/null)" = "$STAMP" ] &&
   [ -f "$DIR/disk.vhdx" ] && [ -f "$DIR/vmlinuz" ] && [ -f "$DIR/initrd.img" ]; then
	exit 0
fi
rm -f "$DIR/stamp" "$DIR/disk.raw" "$DIR/disk.vhdx" "$DIR/disk.qcow2"

WORK=$(mktemp -d "$DIR/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# 1. the server, from the archive
t0=$(date +%s)
if [ ! -f "$DIR/rootfs.tar" ] || [ "$(cat "$DIR/rootfs.stamp" 2>/dev/null)" != "$ROOTFS_STAMP" ]; then
	rm -f "$DIR/rootfs.tar"
	echo "realos: mmdebstrap $SUITE (minbase + a server's packages): a few minutes" >&2
	mmdebstrap --mode=root --variant=minbase --include="$(echo "$PKGS" | tr -d '\n ')" \
		--dpkgopt='path-exclude=/usr/share/man/*' \
		--dpkgopt='path-exclude=/usr/share/doc/*' \
		--dpkgopt='path-exclude=/usr/share/locale/*' \
		--customize-hook="$(dirname "$SELF")/customize.sh \"\$1\"" \
		"$SUITE" "$WORK/rootfs.tar" >"$WORK/mmdebstrap.log" 2>&1 ||
		{
			grep -qiE 'could not resolve|failed to fetch|temporary failure' "$WORK/mmdebstrap.log" &&
				cannot "mmdebstrap cannot reach the archive: $(grep -iE 'could not resolve|failed to fetch|temporary failure' "$WORK/mmdebstrap.log" | tail -n 1)"
			tail -n 20 "$WORK/mmdebstrap.log" >&2
			die "mmdebstrap failed (log above)"
		}
	mv "$WORK/rootfs.tar" "$DIR/rootfs.tar"
	echo "$ROOTFS_STAMP" >"$DIR/rootfs.stamp"
fi
t1=$(date +%s)

# 2. the tree, owners kept (we are root), and its kernel and initramfs
R=$WORK/root
mkdir "$R"
tar -C "$R" -xpf "$DIR/rootfs.tar" --numeric-owner
K=$(ls "$R"/boot/vmlinuz-* | head -n 1)
INITRD=$(ls "$R"/boot/initrd.img-* | head -n 1)
[ -f "$K" ] && [ -f "$INITRD" ] || die "the image has no kernel or initramfs in /boot"
cp "$K" "$DIR/vmlinuz"
cp "$INITRD" "$DIR/initrd.img"

# 3. the root file system: ext4, filled from the tree (no mount)
mkfs.ext4 -q -F -L realos-root -d "$R" "$WORK/root.ext4" "${ROOT_MB}M" >"$WORK/mkfs.log" 2>&1 ||
	{ cat "$WORK/mkfs.log" >&2; die "mkfs.ext4 -d failed"; }

# 4. /boot for SeaBIOS: FAT + SYSLINUX
truncate -s "${BOOT_MB}M" "$WORK/boot.fat"
mformat -i "$WORK/boot.fat" -v HVBOOT ::
syslinux --install "$WORK/boot.fat"
cat >"$WORK/syslinux.cfg" <<CFG
SERIAL 0 115200
DEFAULT linux
TIMEOUT 1
LABEL linux
	KERNEL vmlinuz
	INITRD initrd.img
	APPEND $CMDLINE
CFG
mcopy -i "$WORK/boot.fat" "$DIR/vmlinuz" "$DIR/initrd.img" "$WORK/syslinux.cfg" ::

# 5. the disk: MBR, boot partition at 1 MiB, root after it
TOTAL=$((1 + BOOT_MB + ROOT_MB))
truncate -s "${TOTAL}M" "$WORK/disk.raw"
sfdisk -q "$WORK/disk.raw" <<PT
label: dos
start=1MiB, size=${BOOT_MB}MiB, type=c, bootable
start=$((1 + BOOT_MB))MiB, size=${ROOT_MB}MiB, type=83
PT
dd if="$MBR" of="$WORK/disk.raw" bs=440 count=1 conv=notrunc status=none
dd if="$WORK/boot.fat" of="$WORK/disk.raw" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$WORK/root.ext4" of="$WORK/disk.raw" bs=1M seek=$((1 + BOOT_MB)) conv=notrunc,sparse status=none
mv "$WORK/disk.raw" "$DIR/disk.raw"

# 6. hv writes the images the tests boot: a dynamic VHDX (the tests put a
# differencing disk over it) and a qcow2; qemu-img is the oracle for both
HVBIN=${HV:-$(dirname "$SELF")/../../build/hv}
[ -x "$HVBIN" ] || die "no hv binary to convert the disk with ($HVBIN: make first)"
for f in vhdx qcow2; do
	rm -f "$DIR/disk.$f"
	"$HVBIN" disk convert "$DIR/disk.raw" "$WORK/disk.$f" >"$WORK/convert.log" 2>&1 ||
		{ cat "$WORK/convert.log" >&2; die "hv disk convert to $f failed"; }
	qemu-img check -q "$WORK/disk.$f" >&2 || die "qemu-img check finds the $f hv wrote damaged"
	qemu-img compare -q "$DIR/disk.raw" "$WORK/disk.$f" >&2 ||
		die "qemu-img compare: the $f hv wrote differs from the raw disk"
	mv "$WORK/disk.$f" "$DIR/disk.$f"
done
echo "$CMDLINE" >"$DIR/cmdline"
echo $(((1 + BOOT_MB) * 1048576)) >"$DIR/root.offset"
echo "$STAMP" >"$DIR/stamp"
echo "realos: built $DIR/disk.raw ($KPKG; mmdebstrap $((t1 - t0)) s, image $(( $(date +%s) - t1 )) s)" >&2
