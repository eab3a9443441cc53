#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# lab: long (make check-long: about 4 minutes in the lab; moved out of
# tests/realos-boot.t so that make check stays under 45 minutes)
# Issue 17: the real Debian server (tests/realos/build.sh) as a generation
# 1 VM boots the way a physical server does: SeaBIOS -> the disk's MBR ->
# SYSLINUX on its /boot partition -> the image's own kernel. It must reach
# multi-user.target (the image's marker unit), give a root shell on the
# serial console through `hv vm console`, show the vCPUs and memory it
# was given, have no kernel warning in dmesg, power itself off through
# systemd on `hv vm shutdown`, and leave a root file system e2fsck -fn
# finds clean.
. "$(dirname "$0")/lib.sh"
[ -w /dev/kvm ] || skip_all "no /dev/kvm (make check-long runs this in scripts/lab)"
. "$(dirname "$0")/realos/lib.sh"
trap '"$HV" vm stop ros1 >/dev/null 2>&1; rm -rf "$TMP"' EXIT

ros_create ros1 1 --vcpus 2 --memory 768M
ok $? "Gen1: ros1 created on a differencing disk over the server's VHDX"
ros_up_checks ros1 1 2 768
ros_down_checks ros1 1
done_testing
