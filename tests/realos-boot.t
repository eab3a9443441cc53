#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 17: a real Debian server (tests/realos/build.sh: mmdebstrap from the
# archive, systemd, udev, networkd, its own distribution kernel and
# initramfs, ext4 root on a VHDX hv wrote) boots under hv
#   Gen2: hv's direct boot of the image's own kernel and initrd, 4 vCPUs,
#         on host A of two (network namespaces, tests/realos/lib.sh);
#   Gen1: SeaBIOS -> the disk's MBR -> SYSLINUX on its /boot partition.
# Each must reach multi-user.target (the image's marker unit), give a root
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
trap 'ros_hosts_down ros2; "$HV" vm stop ros1 >/dev/null 2>&1; rm -rf "$TMP"' EXIT
GEN1_HOME=$HV_HOME
S0=52:54:00:17:02:01 ROS_IP=10.9.0.2

up() {	# name gen vcpus memory-MiB: the server boots; its console and insides
	local name=$1 gen=$2 vcpus=$3 mem=$4 o log
	ros_boot "$name"
	ok $? "Gen$gen: the server reaches multi-user.target and a root shell on ttyS0"
	diag "Gen$gen: start to multi-user.target and a shell in ${BOOT_S:-?} s" \
		"$(ros_run "$name" 'systemd-analyze; systemd-analyze blame | head -n 5')"
	log=$(log_of "$name")
	if [ "$gen" = 1 ]; then
		printf '%s\n' "$log" | grep -q 'SYSLINUX'
		ok $? "Gen1: SeaBIOS booted the disk's MBR and SYSLINUX"
	fi
	o=$(ros_run "$name" 'dmesg | grep -m1 "Linux version"')
	printf '%s\n' "$o" | grep -q 'Linux version [0-9].*debian-kernel@lists.debian.org'
	ok $? "Gen$gen: the kernel is Debian's own (${o#*] })"
	# the UART takes 256 bytes at a time: the rest waits in the worker
	o=$(ros_run "$name" "echo $(printf 'x%.0s' $(seq 1 1000)) | wc -c")
	is "$o" 1001 "Gen$gen: a 1000-character line typed on the console arrives whole"
	o=$(ros_run "$name" 'nproc; grep -c ^processor /proc/cpuinfo')
	is "$(echo $o)" "$vcpus $vcpus" "Gen$gen: nproc and /proc/cpuinfo count $vcpus CPUs"
	o=$(ros_run "$name" "sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo")
	# the kernel keeps its own image and reserved areas out of MemTotal
	[ -n "$o" ] && [ "$o" -le $((mem * 1024)) ] && [ "$o" -ge $((mem * 1024 * 80 / 100)) ]
	ok $? "Gen$gen: MemTotal ($o kB) fits the startup memory ($mem MiB)"
	o=$(ros_run "$name" 'systemctl is-system-running; systemctl --failed --no-legend --plain | cut -d" " -f1')
	is "$(echo $o)" "running" "Gen$gen: systemd says the system is running, no unit failed"
	o=$(ros_run "$name" 'cat /sys/devices/system/clocksource/clocksource0/current_clocksource; ls /sys/bus/virtio/drivers/virtio_blk | grep -c virtio')
	is "$(echo $o)" "kvm-clock 1" "Gen$gen: the clock is kvm-clock; virtio_blk drives the disk"
	# as on Hyper-V, nested virtualization is off: a guest that saw SVM
	# loaded kvm_amd at boot, which hung a vCPU in the lab
	o=$(ros_run "$name" 'grep -cwE "svm|vmx" /proc/cpuinfo; grep -c "^kvm" /proc/modules')
	is "$(echo $o)" "0 0" "Gen$gen: the guest's CPUs offer no SVM/VMX; kvm is not loaded"
	o=$(ros_dmesg_bad "$name")
	is "$o" "" "Gen$gen: no Oops, WARN, Call Trace, lockup or stall in the guest's dmesg"
}

down() {	# name gen: systemd powers it off; its disk is clean
	local name=$1 gen=$2 log o
	ros_run "$name" 'echo realos-$((6*7)) >/root/written; sync' >/dev/null
	run_hv vm shutdown "$name" --timeout $((90 * SLOW))
	ok $rc "Gen$gen: hv vm shutdown: the VM is Off ($out$err)"
	case $out$err in *"turned it off"*|*"turned off"*) false ;; *) true ;; esac
	ok $? "Gen$gen: the guest powered itself off; nothing had to turn it off"
	log=$(log_of "$name")
	printf '%s\n' "$log" | grep -q 'reboot: Power down'
	ok $? "Gen$gen: the guest's kernel powered down ('reboot: Power down') after systemd's shutdown"
	ros_fsck "$TMP/$name.vhdx"
	ok $? "Gen$gen: e2fsck -fn finds the root file system clean" || diag "$(tail -n 20 "$TMP/fsck.out")"
	o=$(debugfs -R 'cat /root/written' "$ROS_RAW?offset=$ROS_OFF" 2>/dev/null)
	is "$o" "realos-42" "Gen$gen: the file the guest wrote is on its disk"
	rm -f "$ROS_RAW"
	if [ $T_FAIL -gt 0 ]; then diag "console tail:" "$(log_of "$name" | tail -n 40)"; fi
}

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
up ros2 2 4 1024

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
down ros2 2

# --- Gen1, on this host ---
export HV_HOME=$GEN1_HOME NS=
ros_create ros1 1 --vcpus 2 --memory 768M
ok $? "Gen1: ros1 created on a differencing disk over the server's VHDX"
up ros1 1 2 768
down ros1 1
done_testing
