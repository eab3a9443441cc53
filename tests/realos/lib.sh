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
