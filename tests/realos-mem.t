#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# lab: long (make check-long: about 10 minutes in the lab)
# Issue 17: dynamic memory with Linux's own virtio_balloon, in a real
# Debian server (tests/realos/build.sh): min 512M, startup 1G, max 2G,
# buffer 20%. Idle, it is brought down toward its demand; a 600 MiB file
# in a tmpfs raises its assigned memory by at least that; freed, assigned
# memory and the worker's RSS fall again; all along `hv vm show`'s demand
# follows the guest's own /proc/meminfo (MemTotal - MemAvailable).
. "$(dirname "$0")/lib.sh"
[ -w /dev/kvm ] || skip_all "no /dev/kvm (make check-long runs this in scripts/lab)"
. "$(dirname "$0")/realos/lib.sh"
trap '"$HV" vm stop dm >/dev/null 2>&1; rm -rf "$TMP"' EXIT

wait_mem() {	# vm field -ge|-le MiB seconds (x SLOW)
	local v
	for _ in $(seq 1 $(($5 * 4 * SLOW))); do
		v=$(mem_mib "$1" "$2")
		[ -n "$v" ] && [ "$v" "$3" "$4" ] && return 0
		sleep 0.25
	done
	return 1
}
# hv's demand against the guest's own numbers, read back to back
demand_follows() {	# what
	local g h
	# Linux keeps ballooned pages in MemTotal, as used, once DEFLATE_ON_OOM
	# is negotiated: the guest's own number less its balloon, both read
	# at once in the guest (/proc/vmstat counts the balloon's pages)
	g=$(ros_run dm 'awk "/^MemTotal:/{t=\$2} /^MemAvailable:/{a=\$2} /^balloon_inflate /{i=\$2} /^balloon_deflate /{d=\$2} END{print int((t-a)/1024 - (i-d)/256)}" /proc/meminfo /proc/vmstat')
	sleep $((2 * SLOW))	# the balloon's statistics come every second or two
	h=$(mem_mib dm demand)
	ok $(python3 -c "import sys; g, h = int('${g:-0}'), int('${h:-0}'); sys.exit(not (g > 0 and abs(g - h) <= max(64, g // 5)))"; echo $?) \
		"$1: hv's demand ($h MiB) follows the guest's MemTotal - MemAvailable less its balloon ($g MiB)"
}

ros_create dm 2 --vcpus 2 --memory 1G --dynamic-memory --min-memory 512M --max-memory 2G
ok $? "a server with dynamic memory: 512M..2G, startup 1G"
ros_boot dm
ok $? "it reaches multi-user.target and a shell"
o=$(ros_run dm 'ls /sys/bus/virtio/drivers/virtio_balloon | grep -c virtio')
is "$o" 1 "Linux's virtio_balloon drives hv's balloon"
wait_mem dm assigned -le 900 30
r=$?
ok $r "idle, its assigned memory comes down from 1G toward demand ($(mem_mib dm assigned) MiB)"
[ $r -eq 0 ] || diag "hv vm show dm --json:" "$("$HV" vm show dm --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runtime"]["memory"])')"
demand_follows "idle"
before=$(mem_mib dm assigned)
rss0=$(rss_mib dm)
ros_run dm 'mkdir -p /mnt/fill && mount -t tmpfs -o size=1200M tmpfs /mnt/fill && head -c 600M /dev/urandom >/mnt/fill/f && echo filled' 600 | grep -q filled
ok $? "the guest fills 600 MiB of tmpfs"
wait_mem dm assigned -ge $((before + 500)) 60
ok $? "its assigned memory rose with it: $before -> $(mem_mib dm assigned) MiB"
demand_follows "filled"
high=$(rss_mib dm)
ok $([ "$high" -ge $((rss0 + 400)) ]; echo $?) "the worker's RSS holds it: $rss0 -> $high MiB"
ros_run dm 'rm /mnt/fill/f; umount /mnt/fill; echo freed' 120 | grep -q freed
ok $? "the guest frees it"
wait_mem dm assigned -le $((before + 150)) 90
ok $? "assigned memory falls back ($(mem_mib dm assigned) MiB, was $before before the fill)"
low=$(rss_mib dm)
ok $([ "$low" -le $((high - 300)) ]; echo $?) "and the worker's RSS falls with it: $high -> $low MiB"
demand_follows "freed"
o=$(ros_dmesg_bad dm)
is "$o" "" "no Oops, WARN, lockup, stall or OOM in the guest's dmesg"
[ $T_FAIL -gt 0 ] && diag "console:" "$(log_of dm | tail -n 30)"
done_testing
