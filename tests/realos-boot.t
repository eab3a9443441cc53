#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 17: a real Debian server (tests/realos/build.sh: mmdebstrap from the
# archive, systemd, udev, networkd, its own distribution kernel and
# initramfs, ext4 root on a VHDX hv wrote) boots under hv
#   Gen2: hv's direct boot of the image's own kernel and initrd, 4 vCPUs;
#   Gen1: SeaBIOS -> the disk's MBR -> SYSLINUX on its /boot partition.
# Each must reach multi-user.target (the image's marker unit), give a root
# shell on the serial console through `hv vm console`, show the vCPUs and
# memory it was given, have no kernel warning in dmesg, power itself off
# through systemd on `hv vm shutdown` (the guest's own "reboot: Power
# down"), and leave a root file system e2fsck -fn finds clean.
. "$(dirname "$0")/lib.sh"
[ -w /dev/kvm ] || skip_all "no /dev/kvm (make check runs this in scripts/lab)"
. "$(dirname "$0")/realos/lib.sh"
trap '"$HV" vm stop ros2 >/dev/null 2>&1; "$HV" vm stop ros1 >/dev/null 2>&1; rm -rf "$TMP"' EXIT

server() {	# name gen vcpus memory-MiB
	local name=$1 gen=$2 vcpus=$3 mem=$4 o log
	ros_create "$name" "$gen" --vcpus "$vcpus" --memory "${mem}M"
	ok $? "Gen$gen: $name created on a differencing disk over the server's VHDX"
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

server ros2 2 4 1024
server ros1 1 2 768
done_testing
