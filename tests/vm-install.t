#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 18, an operating system installed from an ISO image, end to end,
# on a generation 1 VM: the New VM wizard's "install from a bootable
# image" as an admin would do it. tests/install/build.sh makes a hybrid
# ISO with grub-mkrescue whose kernel + initramfs is an installer (Debian's
# kernel; sfdisk, mke2fs and grub-install from Debian, taken from the DVD).
# The VM has an empty dynamic VHDX and the ISO in its DVD drive; in the
# Gen1 boot order (DVD first) SeaBIOS boots GRUB from the DVD (El Torito,
# virtio-scsi), GRUB loads the installer, and the installer, through
# Linux's own virtio-scsi/sr and virtio-blk drivers, partitions the disk,
# makes ext4, copies the system, installs GRUB for BIOS into the MBR and
# powers off. With the DVD ejected the VM boots the installed system from
# its disk: SeaBIOS -> GRUB's MBR -> GRUB -> Linux with root=/dev/vda1,
# which names the install it came from and powers off. Someone else's
# code checks the disk hv wrote: qemu-img check of the VHDX, qemu-img
# convert to raw, sfdisk -d of the partition table, e2fsck -fn and
# debugfs of the file system.
. "$(dirname "$0")/lib.sh"
[ -w /dev/kvm ] || skip_all "no /dev/kvm (needs root and KVM)"
[ -f /usr/share/seabios/bios-256k.bin ] || skip_all "SeaBIOS is not installed (package seabios)"
for t in qemu-img sfdisk e2fsck debugfs; do
	command -v $t >/dev/null || skip_all "$t is not installed (scripts/deps.sh)"
done
trap '"$HV" vm stop inst >/dev/null 2>&1; rm -rf "$TMP"' EXIT

FIX=${HV_INSTALL_CACHE:-$TOP/build/install}
"$TOP/tests/install/build.sh" "$FIX" 2>"$TMP/fixtures.err"
frc=$?
[ $frc -eq 2 ] && skip_all "$(tail -n 1 "$TMP/fixtures.err")"
ok $frc "tests/install/build.sh made the installer ISO ($FIX/install.iso)"
[ $frc -eq 0 ] || { diag "$(tail -n 20 "$TMP/fixtures.err")"; done_testing; exit; }
ISO=$FIX/install.iso
strip() { sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g'; }	# GRUB's terminal codes

run_hv disk create "$TMP/inst.vhdx" --size 1G
ok $rc "an empty 1 GiB dynamic VHDX ($err)"
run_hv vm create inst --gen 1 --memory 512M --disk "$TMP/inst.vhdx" --dvd "$ISO"
ok $rc "a Gen1 VM with the empty disk and the installer ISO in its DVD drive ($err)"
run_hv vm start inst
ok $rc "start it ($err)"
wait_console inst 'hv-install: \(done\|FAILED\)' 240
ok $? "the installer ran to its end"
log=$(log_of inst | strip)
echo "$log" | grep -q 'Booting from DVD/CD'; ok $? "SeaBIOS booted the DVD (first in Gen1's order) past the empty disk"
echo "$log" | grep -q 'hv-install: GRUB (pc) from the DVD'; ok $? "GRUB for BIOS from the ISO's El Torito image ran its grub.cfg"
echo "$log" | grep -q 'hv-install: installer on'; ok $? "GRUB loaded the installer's kernel and initramfs from the DVD"
echo "$log" | grep -q 'hv-install: partitioned /dev/vda: .*start= *2048.*type=83, bootable'
ok $? "sfdisk partitioned the disk through Linux's virtio-blk"
echo "$log" | grep -q 'hv-install: made ext4 on /dev/vda1'; ok $? "mke2fs made ext4"
echo "$log" | grep -q 'grub-install: Installation finished. No error reported'
ok $? "grub-install put GRUB for BIOS on the disk"
echo "$log" | grep -q 'hv-install: FAILED' && diag "$(echo "$log" | grep 'hv-install')"
id=$(echo "$log" | sed -n 's/.*hv-install: done, installed by boot \([0-9a-f-]*\).*/\1/p' | head -n 1)
[ -n "$id" ]; ok $? "the installer says it is done (install $id)"
wait_off inst
ok $? "the installer powered the VM off"

# someone else's code reads the disk hv wrote
qemu-img check -q "$TMP/inst.vhdx" 2>"$TMP/qc"
ok $? "qemu-img check: the VHDX is clean ($(head -c 200 "$TMP/qc"))"
qemu-img convert -O raw "$TMP/inst.vhdx" "$TMP/inst.raw"
ok $? "qemu-img convert reads it to raw"
sfdisk -d "$TMP/inst.raw" 2>/dev/null | grep -q 'start= *2048, size= *2095104, type=83, bootable'
ok $? "sfdisk -d: one bootable Linux partition from sector 2048 to the end"
e2fsck -fn "$TMP/inst.raw?offset=1048576" >"$TMP/fsck" 2>&1
ok $? "e2fsck -fn: the ext4 the guest made is clean ($(tail -n 1 "$TMP/fsck"))"
is "$(debugfs -R 'cat /etc/hv-install' "$TMP/inst.raw?offset=1048576" 2>/dev/null)" \
	"installed by boot $id" "debugfs: the installed system names this install"
rm -f "$TMP/inst.raw"

# the installed system, from the disk, the DVD ejected
run_hv vm dvd set inst 0 --eject
ok $rc "eject the DVD ($err)"
: >"$HV_HOME/log/inst.console.log"
run_hv vm start inst
ok $rc "start it again ($err)"
wait_console inst 'hv-installed: installed by' 180
ok $? "the installed system booted from the disk"
log=$(log_of inst | strip)
echo "$log" | grep -q 'Booting from Hard Disk'; ok $? "SeaBIOS booted the disk, the drive being empty"
echo "$log" | grep -q 'hv-installed: GRUB (pc) from the disk'; ok $? "GRUB from the disk's MBR ran the installed grub.cfg"
echo "$log" | grep -q 'hv-installed: boot ok, root /dev/vda1 / ext4'
ok $? "Linux runs on the installed root (/dev/vda1, ext4)"
echo "$log" | grep -q "hv-installed: installed by boot $id"; ok $? "the one this run installed"
wait_off inst
ok $? "and it powers off"
done_testing
