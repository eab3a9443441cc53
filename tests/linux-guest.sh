#!/usr/bin/env bash
# tests/linux-guest.sh - build the Linux-guest fixtures tests/vm-linux.t boots:
#
#	tests/linux-guest.sh DIR
#
# into DIR (a cache under build/, reused between runs):
#	vmlinuz      Debian's distribution kernel (linux-image-amd64's
#	             dependency, fetched with apt-get download, dpkg -x)
#	initrd.gz    a busybox-static initramfs (cpio newc + gzip, no root
#	             needed) holding the kernel's virtio-pci + virtio-blk
#	             modules; its /init loads them, finds the disk whose
#	             sector 0 starts "HVDISK:", prints that line, links the
#	             disk to /dev/data and runs a shell on the serial console
#	             with the prompt "hv-linux# ". Like a distribution, it
#	             loads the ACPI button and evdev drivers and runs busybox
#	             acpid, whose power-button action (what hv vm shutdown
#	             presses) syncs and powers off through ACPI
#	boot.img     a raw disk for Gen1: an MBR (syslinux's mbr.bin), one
#	             active FAT partition at 1 MiB with SYSLINUX booting the
#	             same vmlinuz + initrd.gz with console=ttyS0
#	cmdline      the kernel command line both boots use
#
# Exit status: 0 built (or already there), 2 cannot build here (a tool
# or the network is missing: the test skips, saying why on stderr), 1 a
# real failure. Nothing needs root; nothing is written outside DIR.
set -eu

DIR=${1:?usage: linux-guest.sh DIR}
CMDLINE="console=ttyS0,115200 panic=-1"
MODULES="virtio_pci virtio_blk evdev button"	# and what they depend on
BOOT_MB=48			# boot.img size; the partition starts at 1 MiB
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

cannot() { echo "linux-guest: $*" >&2; exit 2; }
die() { echo "linux-guest: $*" >&2; exit 1; }

for t in apt-cache apt-get dpkg cpio gzip syslinux mformat mcopy flock sha256sum; do
	command -v "$t" >/dev/null || cannot "$t is not installed (scripts/deps.sh)"
done
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q ' installed$' ||
	cannot "busybox-static is not installed (scripts/deps.sh)"
MBR=/usr/lib/syslinux/mbr/mbr.bin
[ -f "$MBR" ] || cannot "syslinux-common is not installed ($MBR missing)"

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9		# two test runs at once share one cache

# 1. the kernel package (tests/lab/kmod.sh: linux-image-amd64's dependency)
. "$(dirname "$SELF")/lab/kmod.sh"
kmod_fetch "$DIR" "$(dirname "$SELF")/../build/lab/kernel"
PKG=$KPKG
STAMP="$PKG $(cat "$SELF" "$(dirname "$SELF")/lab/kmod.sh" | sha256sum | cut -c1-16)"
if [ "$(cat "$DIR/stamp" 2>/dev/null)" = "$STAMP" ] &&
   [ -f "$DIR/vmlinuz" ] && [ -f "$DIR/initrd.gz" ] && [ -f "$DIR/boot.img" ]; then
	exit 0
fi
rm -f "$DIR/stamp"

WORK=$(mktemp -d "$DIR/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
kmod_unpack "$KDEB" "$WORK"

# 2. the modules, dependencies first
kmod_collect "$WORK/root/lib/modules" $MODULES
ORDER=$KMOD_ORDER

# 3. the initramfs tree
R=$WORK/root
mkdir -p "$R/bin" "$R/etc" "$R/proc" "$R/sys" "$R/dev" "$R/tmp"
cp /bin/busybox "$R/bin/busybox"
ln -s busybox "$R/bin/sh"
echo "$ORDER" >"$R/etc/hv-modules"
cat >"$R/init" <<'EOF'
#!/bin/sh
# /init of hv's Linux-guest test initramfs (tests/linux-guest.sh)
export PATH=/bin HOME=/ PS1='hv-linux# '
busybox mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "hv-linux: init on $(uname -r), modules: $(cat /etc/hv-modules)"
for m in $(cat /etc/hv-modules); do
	insmod "/lib/modules/$m.ko" || echo "hv-linux: insmod $m failed"
done
# the data disk is the virtio disk whose sector 0 starts "HVDISK:"
# (vda on Gen2; vdb on Gen1, behind the boot disk)
data=""
for i in $(seq 1 200); do
	for d in /dev/vd?; do
		[ -b "$d" ] || continue
		s=$(dd if="$d" bs=512 count=1 2>/dev/null | tr -d '\0' | head -n 1)
		case $s in HVDISK:*) data=$d; break 2 ;; esac
	done
	sleep 0.1
done
if [ -n "$data" ]; then
	echo "hv-linux: $data says $s"
	ln -s "$data" /dev/data
else
	echo "hv-linux: no virtio disk with a HVDISK: marker ($(ls /dev/vd* 2>&1))"
fi
# the power button: the ACPI button driver (module "button", loaded
# above) turns the fixed-feature button into an input device, "Power
# Button", whose KEY_POWER busybox acpid reads through evdev and maps
# ("button/power PWRF", /etc/acpid.conf) to /etc/acpi/PWRF/00000080
pb=""
for i in $(seq 1 50); do
	for n in /sys/class/input/event*; do
		[ "$(cat "$n/device/name" 2>/dev/null)" = "Power Button" ] || continue
		[ -c "/dev/input/${n##*/}" ] && { pb=/dev/input/${n##*/}; break 2; }
	done
	sleep 0.1
done
if [ -n "$pb" ]; then
	acpid -d -c /etc/acpi -a /etc/acpid.conf -p /tmp/acpid.pid &
	echo "hv-linux: power button on $pb; acpid powers off when it is pressed"
else
	echo "hv-linux: no ACPI power button input device ($(cat /sys/class/input/*/name 2>&1))"
fi
echo "hv-linux: shell on the console"
while :; do
	setsid cttyhack sh
done
EOF
mkdir -p "$R/etc/acpi/PWRF"
# busybox acpid's action file: KEY SUBPATH, KEY a substring of the event
# ("button/power PWRF 00000080"); SUBPATH under its -c directory
printf 'PWRF PWRF/00000080\nPWRB PWRF/00000080\n' >"$R/etc/acpid.conf"
cat >"$R/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# busybox acpid runs this when the ACPI power button is pressed
echo "hv-linux: power button: shutting down"
sync
poweroff -f
EOF
chmod 755 "$R/init" "$R/etc/acpi/PWRF/00000080"
(cd "$R" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$WORK/initrd.gz"
cp "$VMLINUZ" "$WORK/vmlinuz"
echo "$CMDLINE" >"$WORK/cmdline"

# 4. boot.img: MBR + one active FAT partition from sector 2048 to the end
le32() {	# the 4 little-endian bytes of $1, as printf escapes
	printf '\\x%02x\\x%02x\\x%02x\\x%02x' $(($1 & 255)) $((($1 >> 8) & 255)) \
		$((($1 >> 16) & 255)) $((($1 >> 24) & 255))
}
IMG=$WORK/boot.img
START=2048
NSECT=$((BOOT_MB * 2048 - START))
truncate -s "${BOOT_MB}M" "$IMG"
dd if="$MBR" of="$IMG" bs=440 count=1 conv=notrunc status=none
# active, CHS "use LBA", type 0x0E (FAT16 LBA), LBA start, sectors; 55 AA
printf "\\x80\\xfe\\xff\\xff\\x0e\\xfe\\xff\\xff$(le32 $START)$(le32 $NSECT)" |
	dd of="$IMG" bs=1 seek=446 conv=notrunc status=none
printf '\x55\xaa' | dd of="$IMG" bs=1 seek=510 conv=notrunc status=none
export MTOOLS_SKIP_CHECK=1 MTOOLSRC=/dev/null
P="$IMG@@$((START * 512))"
mformat -i "$P" -T "$NSECT" -h 64 -s 32 -H "$START" -v HVLINUX :: ||
	die "mformat failed"
syslinux --install --offset $((START * 512)) "$IMG" || die "syslinux --install failed"
cat >"$WORK/syslinux.cfg" <<EOF
SERIAL 0 115200
DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
	LINUX /vmlinuz
	INITRD /initrd.gz
	APPEND $CMDLINE
EOF
mcopy -i "$P" "$WORK/vmlinuz" "$WORK/initrd.gz" "$WORK/syslinux.cfg" :: ||
	die "mcopy failed"

for f in vmlinuz initrd.gz boot.img cmdline; do
	mv -f "$WORK/$f" "$DIR/$f"
done
echo "$STAMP" >"$DIR/stamp"
echo "linux-guest: built $PKG ($KVER) into $DIR; modules: $ORDER" >&2
