# tests/realos/lib.sh - helpers for the tests that run the real Debian
# server (tests/realos-*.t). Source it after lib.sh. The server comes from
# tests/realos/build.sh (make check builds it on the host before the lab
# starts: the lab has no network); this file defines:
#	ros_disk NAME          $TMP/NAME.vhdx, a differencing disk over the
#	                       server's VHDX (the cached image is never written)
#	ros_create NAME GEN [hv vm create options...]
#	                       a VM booting the server: Gen2 the image's own
#	                       kernel and initrd, Gen1 SeaBIOS -> SYSLINUX
#	ros_boot NAME          start it, wait for multi-user.target's marker and
#	                       the shell; sets BOOT_S (seconds); 0 if it came up
#	ros_up NAME            the waiting half of ros_boot (set ROS_T0=$(date +%s)
#	                       before starting the VM)
#	ros_run NAME CMD [S]   run CMD in the guest's root shell on ttyS0, wait up
#	                       to S seconds (x SLOW), print what it printed; its
#	                       exit status is CMD's (124: no answer)
#	ros_dmesg_bad NAME     the guest's kernel warnings (Oops, WARN, Call
#	                       Trace, lockups, RCU stalls, hung tasks, clocksource)
#	ros_fsck VHDX          e2fsck -fn of the root partition in that image,
#	                       converted to raw once: $ROS_RAW, root at $ROS_OFF
# and, for the tests that move a server between two hosts:
#	ros_hosts              network namespaces NSA and NSB (hosts A and B,
#	                       hv homes HA and HB, an external switch "ext" on
#	                       each, a veth between them: A 10.78.0.1, B
#	                       10.78.0.2) and NSP (the physical network: a
#	                       bridge with both uplinks, 10.9.0.1); B serves
#	                       migrations; hA/hB run hv on A/B; ros_hosts_down
#	                       undoes it (call it from the EXIT trap)
#	ros_mark NAME          start a counter the server appends to a file every
#	                       0.2 s, and pings from P (5 a second) to $ROS_IP;
#	                       note its boot_id and uptime
#	ros_check_after WHAT NAME
#	                       after a move: the same boot, uptime went on, its
#	                       clock within 2 s of the host's, no warning in
#	                       dmesg, the counter file whole (5 assertions)
#	ros_ping_gap           the longest run of lost pings since the log was
#	                       emptied (: >"$TMP/ping.log"), in seconds
FIX=${HV_REALOS_CACHE:-$TOP/build/realos}
if [ ! -f "$FIX/disk.vhdx" ]; then
	# where the archive can be reached (not in the lab) build it here
	"$TOP/tests/realos/build.sh" "$FIX" 2>"$TMP/realos.err" ||
		{ echo "1..1"; echo "not ok 1 - the real server image ($FIX): $(tail -n 1 "$TMP/realos.err") (make check builds it before the lab: tests/realos/build.sh $FIX)"; exit 1; }
fi
ROS_CMDLINE=$(cat "$FIX/cmdline")
ROS_BAD='Oops|WARNING:|Call Trace|BUG:|soft lockup|hard LOCKUP|rcu.*stall|blocked for more than|clocksource.*unstable|Marking clocksource|invalid opcode|general protection|Out of memory|oom-kill'

# hv itself: inside the test's network namespace when lib-net.sh made one
ros_hv() {
	if [ -n "${NS:-}" ]; then ip netns exec "$NS" "$HV" "$@"; else "$HV" "$@"; fi
}

ros_disk() {
	"$HV" disk create "$TMP/$1.vhdx" --parent "$FIX/disk.vhdx" >/dev/null
}

ros_create() {	# name gen [options]
	local name=$1 gen=$2; shift 2
	ros_disk "$name" || return 1
	if [ "$gen" = 2 ]; then
		ros_hv vm create "$name" --gen 2 --kernel "$FIX/vmlinuz" --initrd "$FIX/initrd.img" \
			--cmdline "$ROS_CMDLINE${ROS_EXTRA:+ $ROS_EXTRA}" --disk "$TMP/$name.vhdx" "$@" >/dev/null
	else
		ros_hv vm create "$name" --gen 1 --disk "$TMP/$name.vhdx" "$@" >/dev/null
	fi
}

ros_boot() {	# name
	ROS_T0=$(date +%s)
	ros_hv vm start "$1" >/dev/null || return 1
	ros_up "$1"
}

ros_up() {	# name: a started server reaches its shell; BOOT_S since ROS_T0
	local i
	wait_console "$1" 'HV-REALOS-READY ' 120 || return 1
	# the autologin shell on ttyS0 comes a little after the marker, and
	# agetty flushes what was typed before it: ask until it answers
	for i in $(seq 1 12); do
		ros_run "$1" 'echo shell-$((6*7))' 5 | grep -q 'shell-42$' && break
	done
	[ "$i" -lt 12 ] || return 1
	BOOT_S=$(($(date +%s) - ROS_T0))
}

ros_run() {	# name cmd [seconds]
	local name=$1 cmd=$2 s=${3:-30} tag n
	# a count kept in a file: callers run this in $(...), a subshell
	ROS_SEQ=$(($(cat "$TMP/ros.seq" 2>/dev/null || echo 0) + 1))
	echo "$ROS_SEQ" >"$TMP/ros.seq"
	tag="HVEND$$x$ROS_SEQ"
	n=$(log_of "$name" | wc -l)
	# the shell does not echo (stty -echo in root's .profile); the end tag
	# is printed in two pieces so only its output, not an echo, matches;
	# its prompt ("realos# ") may start any line
	case $cmd in
	*'&') cmd="{ $cmd }" ;;		# a job in the background: no ';'
	*) cmd="{ $cmd; }" ;;
	esac
	printf '%s\r\035' "$cmd 2>&1; echo \"HV\"\"END$$x$ROS_SEQ rc=\$?\"" |
		ASAN_OPTIONS=detect_leaks=0 "$HV" vm console "$name" >/dev/null 2>&1
	if ! wait_console "$name" "$tag rc=" "$s"; then
		log_of "$name" | tail -n +$((n + 1))
		return 124
	fi
	log_of "$name" | tail -n +$((n + 1)) | sed 's/^\(realos# \)*//' |
		sed -n "/^$tag rc=/q;p" | grep -v '^$' |
		grep -Ev '^\[[0-9]+\]([+-]? +(Done|Exit|Running|Terminated|Killed).*| [0-9]+)$'	# job control's notices
	return "$(log_of "$name" | sed -n "s/.*$tag rc=\([0-9]*\).*/\1/p" | tail -n 1)"
}

ros_dmesg_bad() {	# name: the kernel's warnings, if any
	ros_run "$1" 'dmesg' 60 | grep -E "$ROS_BAD"
}

ros_fsck() {	# image: converted once to $TMP/fsck.raw (ROS_RAW), which
	# the caller may read further (debugfs ...?offset=$ROS_OFF) and removes
	ROS_RAW=$TMP/fsck.raw ROS_OFF=$(cat "$FIX/root.offset")
	rm -f "$ROS_RAW"
	"$HV" disk convert "$1" "$ROS_RAW" --format raw >/dev/null || return 1
	e2fsck -fn "$ROS_RAW?offset=$ROS_OFF" >"$TMP/fsck.out" 2>&1
}

hA() { ip netns exec "$NSA" env HV_HOME="$HA" "$HV" "$@"; }
hB() { ip netns exec "$NSB" env HV_HOME="$HB" "$HV" "$@"; }

ros_hosts() {
	local n h ns
	NSA=hvrsA-$$ NSB=hvrsB-$$ NSP=hvrsP-$$ HA=$TMP/a HB=$TMP/b
	for n in "$NSA" "$NSB" "$NSP"; do
		ip netns add "$n" || return 1
		ip -n "$n" link set lo up
	done
	# the migration link
	ip link add mA$$ netns "$NSA" type veth peer name mB$$ netns "$NSB" &&
		ip -n "$NSA" addr add 10.78.0.1/24 dev mA$$ && ip -n "$NSB" addr add 10.78.0.2/24 dev mB$$ &&
		ip -n "$NSA" link set mA$$ up && ip -n "$NSB" link set mB$$ up || return 1
	# the physical network: P's bridge, an uplink from each host
	ip -n "$NSP" link add br0 type bridge && ip -n "$NSP" addr add 10.9.0.1/24 dev br0 &&
		ip -n "$NSP" link set br0 up || return 1
	for h in A B; do
		eval "ns=\$NS$h"
		ip link add up$h$$ netns "$ns" type veth peer name p$h$$ netns "$NSP" &&
			ip -n "$NSP" link set p$h$$ master br0 && ip -n "$NSP" link set p$h$$ up &&
			ip -n "$ns" link set up$h$$ up || return 1
	done
	mkdir -p "$HA" "$HB"
	HV_HOME=$HA "$HV" vm list >/dev/null && HV_HOME=$HB "$HV" vm list >/dev/null || return 1
	for h in "$HA" "$HB"; do sed -i 's/^  secret = "[^"]*";/  secret = "realos";/' "$h/hv.conf"; done
	hA switch create ext --type external --nic upA$$ >/dev/null &&
		hB switch create ext --type external --nic upB$$ >/dev/null || return 1
	ip netns exec "$NSB" env HV_HOME="$HB" "$HV" host serve --listen 10.78.0.2 >"$TMP/serve.log" 2>&1 &
	ROS_SERVE=$!
	for _ in $(seq 1 $((50 * SLOW))); do grep -q listening "$TMP/serve.log" && return 0; sleep 0.1; done
	return 1
}

ros_hosts_down() {	# [vm...]: stops them on both hosts first
	local v
	[ -n "${ROS_PING:-}" ] && kill "$ROS_PING" 2>/dev/null
	[ -n "${ROS_SERVE:-}" ] && kill "$ROS_SERVE" 2>/dev/null
	for v in "$@"; do
		[ -n "${HA:-}" ] && HV_HOME=$HA "$HV" vm stop "$v" >/dev/null 2>&1
		[ -n "${HB:-}" ] && HV_HOME=$HB "$HV" vm stop "$v" >/dev/null 2>&1
	done
	for n in "${NSA:-}" "${NSB:-}" "${NSP:-}"; do [ -n "$n" ] && ip netns del "$n" 2>/dev/null; done
	return 0
}

ros_mark() {	# name
	ROS_BOOT_ID=$(ros_run "$1" 'cat /proc/sys/kernel/random/boot_id')
	ros_run "$1" '(i=0; while :; do i=$((i+1)); echo $i >>/root/count; sync /root/count; sleep 0.2; done) >/dev/null 2>&1 &' >/dev/null
	ip netns exec "$NSP" ping -D -i 0.2 -W 1 "$ROS_IP" >"$TMP/ping.log" 2>&1 &
	ROS_PING=$!
	ROS_UP=$(ros_run "$1" 'cut -d" " -f1 /proc/uptime')
}

ros_check_after() {	# what name
	local what=$1 name=$2 o t0 g t1 up n
	o=$(ros_run "$name" 'cat /proc/sys/kernel/random/boot_id' 60)
	is "$o" "$ROS_BOOT_ID" "$what: the same boot (boot_id)"
	up=$(ros_run "$name" 'cut -d" " -f1 /proc/uptime')
	ok $(echo "${up:-0} > $ROS_UP" | bc | grep -q 1; echo $?) "$what: uptime went on ($ROS_UP -> ${up:-?} s)"
	ROS_UP=${up:-$ROS_UP}
	t0=$(date +%s.%N)
	g=$(ros_run "$name" 'date +%s.%N')
	t1=$(date +%s.%N)
	# the guest read its clock between t0 and t1
	ok $(echo "${g:-0} >= $t0 - 2 && ${g:-0} <= $t1 + 2" | bc | grep -q 1; echo $?) \
		"$what: the guest's clock is within 2 s of the host's (guest $g, host $t0..$t1)"
	o=$(ros_dmesg_bad "$name")
	is "$o" "" "$what: no Oops, WARN, lockup, RCU stall, hung task or clocksource warning in dmesg"
	n=$(ros_run "$name" 'sync; awk "BEGIN{n=0} \$1!=n+1{print \"gap after\", n; exit} {n=\$1} END{print n}" /root/count' 60)
	case $n in [0-9]*) true ;; *) false ;; esac
	ok $? "$what: the counter file is whole, every number once and in order (${n:-?})"
}

ros_ping_gap() {
	python3 - "$TMP/ping.log" <<'PY'
import re, sys
t = [float(m.group(1)) for m in re.finditer(r'^\[([0-9.]+)\] .*icmp_seq', open(sys.argv[1]).read(), re.M)]
print("%.1f" % max((b - a for a, b in zip(t, t[1:])), default=-1))
PY
}

ros_nc_both() {	# vm netns guest-ip peer-ip who: 64 MiB each way over TCP
	# (nc) between the server and a peer in netns, the same sha256 at
	# both ends (2 assertions); the rates go out as diagnostics
	local vm=$1 ns=$2 gip=$3 pip=$4 who=$5 want got t0 t1 rxpid
	head -c 64M /dev/urandom >"$TMP/tx"
	want=$(sha256sum <"$TMP/tx" | cut -d' ' -f1)
	ros_run "$vm" '(nc -l 5001 | sha256sum | cut -d" " -f1 >/tmp/rx.sum) >/dev/null 2>&1 &' >/dev/null
	t0=$(date +%s.%N)
	for _ in $(seq 1 20); do ip netns exec "$ns" nc -N "$gip" 5001 <"$TMP/tx" 2>/dev/null && break; sleep 1; done
	t1=$(date +%s.%N)
	got=$(ros_run "$vm" 'while [ ! -s /tmp/rx.sum ]; do sleep 0.2; done; cat /tmp/rx.sum' 120)
	is "$got" "$want" "64 MiB $who -> server over TCP (nc): the same sha256"
	diag "$who -> server: $(echo "scale=1; 64 / ($t1 - $t0)" | bc) MiB/s"
	ip netns exec "$ns" sh -c "nc -l 5002 >'$TMP/rx'" &
	rxpid=$!
	sleep 1
	t0=$(date +%s.%N)
	got=$(ros_run "$vm" "head -c 64M /dev/urandom >/tmp/tx; sha256sum </tmp/tx | cut -d' ' -f1; nc -N $pip 5002 </tmp/tx; rm /tmp/tx" 300)
	wait $rxpid
	t1=$(date +%s.%N)
	is "$(sha256sum <"$TMP/rx" | cut -d' ' -f1)" "$got" "64 MiB server -> $who over TCP (nc): the same sha256"
	diag "server -> $who (with making the file): $(echo "scale=1; 64 / ($t1 - $t0)" | bc) MiB/s"
	rm -f "$TMP/tx" "$TMP/rx"
}

ros_up_checks() {	# name gen vcpus memory-MiB: the server boots; its console and insides
	# (11-12 assertions)
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

ros_down_checks() {	# name gen: systemd powers it off; its disk is clean (6 assertions)
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

