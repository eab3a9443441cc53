#!/usr/bin/env bash
# tests/install/build.sh - build the installer ISO tests/vm-install.t
# installs from:
#
#	tests/install/build.sh DIR
#
# into DIR (a cache under build/, reused between runs):
#	install.iso  a hybrid ISO made by grub-mkrescue (GRUB for BIOS from
#	             grub-pc-bin, for UEFI from grub-efi-amd64-bin): GRUB on
#	             the serial console boots Debian's kernel (linux-image-amd64's
#	             dependency) with the installer initramfs, install.gz.
#	             The installer (busybox /init) loads the kernel's own
#	             virtio-pci, virtio-blk, virtio-scsi, sr, isofs and ext4
#	             drivers, mounts the DVD, takes the tools and the system to
#	             install from it (install/tools.tar: Debian's sfdisk,
#	             mke2fs and grub-install with their libraries and GRUB's
#	             i386-pc modules; install/system.tar: the system), and
#	             installs onto the empty virtio disk: an MBR partition
#	             table with one bootable Linux partition (sfdisk), ext4
#	             (mke2fs), the system, GRUB for BIOS (grub-install
#	             --target=i386-pc into the MBR and the gap after it) with
#	             a grub.cfg, and a line naming this install (the boot_id of
#	             the installer's boot). Then it powers off.
#	             The installed system: the same kernel with a small
#	             initramfs that mounts /dev/vda1 and switches to it; its
#	             /sbin/init prints "hv-installed: boot ok" and the install
#	             line, and powers off.
#
# Exit status: 0 built (or already there), 2 cannot build here (a tool or
# the network is missing: the test skips, saying why on stderr), 1 a real
# failure. Nothing needs root; nothing is written outside DIR.
set -eu

DIR=${1:?usage: tests/install/build.sh DIR}
SELF=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
TESTS=$(dirname "$(dirname "$SELF")")
CMDLINE="console=ttyS0,115200 panic=-1"
INSTALLER_MODULES="virtio_pci virtio_blk virtio_scsi sr_mod isofs crc32c_generic ext4"
SYSTEM_MODULES="virtio_pci virtio_blk crc32c_generic ext4"
TOOLS="/usr/sbin/sfdisk /usr/sbin/mke2fs /usr/sbin/grub-install"

cannot() { echo "install: $*" >&2; exit 2; }
die() { echo "install: $*" >&2; exit 1; }

for t in apt-cache apt-get dpkg cpio gzip tar grub-mkrescue xorriso mformat flock sha256sum ldd; do
	command -v "$t" >/dev/null || cannot "$t is not installed (scripts/deps.sh)"
done
for t in $TOOLS; do
	[ -x "$t" ] || cannot "$t is not installed (scripts/deps.sh)"
done
[ -d /usr/lib/grub/i386-pc ] || cannot "grub-pc-bin is not installed (scripts/deps.sh)"
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q ' installed$' ||
	cannot "busybox-static is not installed (scripts/deps.sh)"

mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9		# two test runs at once share one cache

. "$TESTS/lab/kmod.sh"
kmod_fetch "$DIR" "$TESTS/../build/linux-guest"
STAMP="$KPKG $(cat "$SELF" "$TESTS/lab/kmod.sh" | sha256sum | cut -c1-16)"
if [ "$(cat "$DIR/stamp" 2>/dev/null)" = "$STAMP" ] && [ -f "$DIR/install.iso" ]; then
	exit 0
fi
rm -f "$DIR/stamp"

WORK=$(mktemp -d "$DIR/work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
kmod_unpack "$KDEB" "$WORK"

# an initramfs tree with busybox and the modules: tree modules...
initramfs_tree() {
	local r=$1
	shift
	mkdir -p "$r/bin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" "$r/tmp"
	cp /bin/busybox "$r/bin/busybox"
	ln -s busybox "$r/bin/sh"
	kmod_collect "$r/lib/modules" "$@"
	echo "$KMOD_ORDER" >"$r/etc/hv-modules"
}
cpio_gz() {	# tree file
	(cd "$1" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) | gzip -9 >"$2"
}
# the start every /init here shares: devices, busybox, the modules
INIT_HEAD='#!/bin/sh
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/
busybox mount -t devtmpfs devtmpfs /dev
exec 0</dev/console 1>/dev/console 2>&1
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
ln -sf /proc/mounts /etc/mtab
for m in $(cat /etc/hv-modules); do
	insmod "/lib/modules/$m.ko" || echo "$TAG: insmod $m failed"
done
wait_dev() {	# /dev/X: up to 20 s
	for i in $(seq 1 200); do [ -b "$1" ] && return 0; sleep 0.1; done
	echo "$TAG: no $1 ($(ls /dev/vd* /dev/sr* 2>&1 | tr "\n" " "))"; return 1
}
fail() { echo "$TAG: FAILED: $*"; sync; poweroff -f; }'

# 1. the installed system: its initramfs, its root
S=$WORK/system
mkdir -p "$S/bin" "$S/boot" "$S/sbin" "$S/etc" "$S/proc" "$S/sys" "$S/dev" "$S/tmp"
cp /bin/busybox "$S/bin/busybox"
for a in $(/bin/busybox --list); do
	[ -e "$S/bin/$a" ] || ln -s busybox "$S/bin/$a"
done
cp "$VMLINUZ" "$S/boot/vmlinuz"
cat >"$S/sbin/init" <<'EOF'
#!/bin/sh
# /sbin/init of the system tests/install/build.sh's installer installs
export PATH=/bin HOME=/
mount -t proc proc /proc
echo "hv-installed: boot ok, root $(grep ' / ' /proc/mounts | grep -v rootfs | head -n 1)"
echo "hv-installed: $(cat /etc/hv-install)"
sync
poweroff -f
EOF
chmod 755 "$S/sbin/init"
R=$WORK/system-initrd
initramfs_tree "$R" $SYSTEM_MODULES
{ echo "$INIT_HEAD" | sed 's/^export PATH/TAG=hv-installed; export PATH/'; cat <<'EOF'
# the root named root= on the kernel command line, mounted and switched to
root=$(sed -n 's/.*root=\([^ ]*\).*/\1/p' /proc/cmdline)
wait_dev "$root" || fail "no root device"
mkdir -p /root
mount -t ext4 -o ro "$root" /root || fail "cannot mount $root"
umount /proc /sys
exec switch_root /root /sbin/init
EOF
} >"$R/init"
chmod 755 "$R/init"
cpio_gz "$R" "$S/boot/initrd.gz"

# 2. the tools the installer runs, with their libraries and GRUB's modules
T=$WORK/tools
mkdir -p "$T"
for f in $TOOLS $(ldd $TOOLS | grep -o '/[^ ]*\.so[^ ]*' | sort -u); do
	cp --parents -L "$f" "$T/"
done
cp --parents -r /usr/lib/grub/i386-pc "$T/"
[ -f /etc/mke2fs.conf ] && cp --parents /etc/mke2fs.conf "$T/"
mkdir -p "$T/usr/share/locale"	# grub-install looks there

# 3. the installer's initramfs and the ISO
I=$WORK/installer
initramfs_tree "$I" $INSTALLER_MODULES
{ echo "$INIT_HEAD" | sed 's/^export PATH/TAG=hv-install; export PATH/'; cat <<'EOF'
echo "hv-install: installer on $(uname -r)"
wait_dev /dev/sr0 || fail "no DVD drive"
wait_dev /dev/vda || fail "no disk to install on"
mkdir -p /cdrom /target
mount -t iso9660 -o ro /dev/sr0 /cdrom || fail "cannot mount the DVD"
tar -xf /cdrom/install/tools.tar -C / || fail "cannot unpack the tools"
# the disk must be empty: an installer that finds a partition table stops
if [ -n "$(dd if=/dev/vda bs=512 count=1 2>/dev/null | tr -d '\0')" ]; then
	fail "/dev/vda is not empty"
fi
echo 'start=2048, type=83, bootable' | /usr/sbin/sfdisk -q /dev/vda || fail "sfdisk"
echo "hv-install: partitioned /dev/vda: $(/usr/sbin/sfdisk -d /dev/vda | grep '^/dev')"
wait_dev /dev/vda1 || fail "no /dev/vda1 after partitioning"
/usr/sbin/mke2fs -q -F -t ext4 -O ^metadata_csum_seed,^orphan_file -L hv-root /dev/vda1 2>&1 |
	sed 's/^/hv-install: mke2fs: /'
echo "hv-install: made ext4 on /dev/vda1"
mount -t ext4 /dev/vda1 /target || fail "cannot mount /dev/vda1 ($(dmesg | grep -i ext4 | tail -n 1))"
tar -xf /cdrom/install/system.tar -C /target || fail "cannot unpack the system"
id=$(cat /proc/sys/kernel/random/boot_id)
echo "installed by boot $id" >/target/etc/hv-install
/usr/sbin/grub-install --target=i386-pc --boot-directory=/target/boot /dev/vda 2>&1 |
	sed 's/^/hv-install: grub-install: /'
[ -f /target/boot/grub/i386-pc/core.img ] || fail "grub-install"
cat >/target/boot/grub/grub.cfg <<CFG
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
echo "hv-installed: GRUB (\$grub_platform) from the disk"
menuentry "hv installed" {
	linux /boot/vmlinuz root=/dev/vda1 $(sed 's/^.*BOOT_IMAGE=[^ ]* //; s/ hv.install=1//' /proc/cmdline)
	initrd /boot/initrd.gz
}
CFG
umount /target /cdrom
sync
echo "hv-install: done, installed by boot $id"
poweroff -f
EOF
} >"$I/init"
chmod 755 "$I/init"

ISO=$WORK/iso
mkdir -p "$ISO/boot/grub" "$ISO/install"
cp "$VMLINUZ" "$ISO/boot/vmlinuz"
cpio_gz "$I" "$ISO/boot/install.gz"
tar -cf "$ISO/install/tools.tar" -C "$T" .
tar -cf "$ISO/install/system.tar" -C "$S" .
cat >"$ISO/boot/grub/grub.cfg" <<EOF
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
set timeout=0
echo "hv-install: GRUB (\$grub_platform) from the DVD"
menuentry "hv install" {
	linux /boot/vmlinuz $CMDLINE hv.install=1
	initrd /boot/install.gz
}
EOF
grub-mkrescue -o "$WORK/install.iso" "$ISO" -- -volid HV-INSTALL >"$WORK/mkrescue.log" 2>&1 ||
	die "grub-mkrescue failed: $(tail -n 1 "$WORK/mkrescue.log")"
mv -f "$WORK/install.iso" "$DIR/install.iso"
echo "$STAMP" >"$DIR/stamp"
echo "install: built $DIR/install.iso ($KPKG; $(du -h "$DIR/install.iso" | cut -f1))" >&2
