#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 17: a real Debian server (tests/realos/build.sh: mmdebstrap from the
# archive, systemd, udev, networkd, its own distribution kernel and
# initramfs, ext4 root on a VHDX hv wrote) boots under hv
#   Gen2: hv's direct boot of the image's own kernel and initrd, 4 vCPUs,
#         on host A of two (network namespaces, tests/realos/lib.sh);
#   (Gen1, SeaBIOS -> the disk's MBR -> SYSLINUX, is tests/realos-gen1.t
#   in make check-long: make check must stay under 45 minutes.)
# It must reach multi-user.target (the image's marker unit), give a root
# shell on the serial console through `hv vm console`, show the vCPUs and
# memory it was given, have no kernel warning in dmesg, power itself off
# through systemd on `hv vm shutdown` (the guest's own "reboot: Power
# down"), and leave a root file system e2fsck -fn finds clean.
# The Gen2 server also meets the network and a move, with Linux's own
# virtio_net: on an external switch it pings and is pinged by a machine on
# the physical network (P), 64 MiB cross with nc each way with the same
# sha256; then it migrates live to host B while it appends to a file and P
# pings it: the same boot, uptime went on, its clock within 2 s, no kernel
# warning, the file whole, pings lost only across the pause; it powers off
# on B. (tests/realos-net.t and realos-state.t, in make check-long, do the
# switches' features and the other moves.)
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "namespaces need root"
[ -w /dev/kvm ] || skip_all "no /dev/kvm (make check runs this in scripts/lab)"
. "$(dirname "$0")/realos/lib.sh"
trap 'ros_hosts_down ros2; rm -rf "$TMP"' EXIT
S0=52:54:00:17:02:01 ROS_IP=10.9.0.2

# --- Gen2, on host A, with an adapter on A's external switch ---
ros_hosts
ok $? "hosts A and B (network namespaces), each with an external switch onto P's bridge; B serves migrations"
export HV_HOME=$HA NS=$NSA	# ros_*: on A
for v in one two; do
	mkdir -p "$TMP/iso-$v" && echo "$v" >"$TMP/iso-$v/$v.txt" &&
		xorriso -as mkisofs -quiet -V "HV-${v^^}" -o "$TMP/$v.iso" "$TMP/iso-$v" 2>/dev/null || break
done
ROS_EXTRA="hv.addr=$S0@$ROS_IP/24" ros_create ros2 2 --vcpus 4 --memory 1024M &&
	hA vm nic add ros2 --switch ext --mac $S0 >/dev/null &&
	hA vm dvd add ros2 --iso "$TMP/one.iso" >/dev/null
ok $? "Gen2: ros2 created on a differencing disk over the server's VHDX, its adapter on A's 'ext', a DVD drive with an ISO"
ros_up_checks ros2 2 4 1024

# the DVD drive, with Linux's virtio_scsi and sr
o=$(ros_run ros2 'udevadm settle; blkid -o value -s LABEL /dev/sr0' 60)
is "$o" "HV-ONE" "Gen2: Linux's virtio_scsi and sr read the ISO in the DVD drive (blkid: its label)"
run_hv vm dvd set ros2 0 --iso "$TMP/two.iso"
ok $rc "hv vm dvd set ros2 0 --iso two.iso while it runs ($err)"
o=$(ros_run ros2 'blkid -o value -s LABEL /dev/sr0; mount -o ro /dev/sr0 /mnt && cat /mnt/two.txt; umount /mnt' 60)
is "$(echo $o)" "HV-TWO two" "Gen2: the guest sees the new ISO (blkid, and a file on it through isofs)"
run_hv vm dvd set ros2 0 --eject
ok $rc "hv vm dvd set ros2 0 --eject ($err)"
# (opened without O_NONBLOCK, as blkid does not, the empty drive is
# ENOMEDIUM; blkid's own reads would only log I/O errors)
o=$(ros_run ros2 'dd if=/dev/sr0 of=/dev/null bs=2048 count=1 2>&1 | grep -c "No medium found"' 60)
printf '%s\n' "$o" | grep -qx 1
ok $? "Gen2: ejected, the drive is empty to the guest (dd: No medium found)"

# the network, with Linux's virtio_net
o=$(ros_run ros2 'ls /sys/bus/virtio/drivers/virtio_net | grep -c virtio; networkctl list --no-legend | grep -c routable')
is "$(echo $o)" "1 1" "Gen2: Linux's virtio_net drives the adapter; networkd made it routable"
ip netns exec "$NSP" ping -c 3 -W $((2 * SLOW)) $ROS_IP >/dev/null
ok $? "P pings the server through A's external switch"
ros_run ros2 "ping -c 3 -W $((2 * SLOW)) 10.9.0.1" 60 >/dev/null
ok $? "the server pings P"
ros_nc_both ros2 "$NSP" $ROS_IP 10.9.0.1 P

# a live migration to B (shared storage: one lab, one disk path)
ros_mark ros2
: >"$TMP/ping.log"
t0=$(date +%s)
hA vm migrate ros2 --to 10.78.0.2 --json >"$TMP/mig.json" 2>"$TMP/mig.err"
ok $? "hv vm migrate ros2 --to B ($(tail -n 1 "$TMP/mig.err"))"
dt=$(python3 -c "import json; print([json.loads(l) for l in open('$TMP/mig.json') if '\"downtime_ms\"' in l][-1].get('downtime_ms', '?'))" 2>/dev/null)
diag "live migration of the 1024M server: $(($(date +%s) - t0)) s, downtime ${dt:-?} ms"
export HV_HOME=$HB NS=$NSB
is "$(state_of ros2)" Running "ros2 runs on B"
sleep 2
ros_check_after "migration to B" ros2
g=$(ros_ping_gap)
ok $(echo "$g >= 0 && $g <= 1.0 + ${dt:-0} / 1000 + 0.3 * $SLOW" | bc | grep -q 1; echo $?) \
	"migration to B: pings from P stopped at most ${g} s (downtime ${dt:-?} ms)"
kill $ROS_PING; ROS_PING=""
ros_down_checks ros2 2

done_testing
