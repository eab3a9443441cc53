#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# lab: long (make check-long: 7 minutes in the lab; tests/realos-boot.t, in
# make check, has the live migration)
# Issue 17: a real Debian server's state in motion. Three network
# namespaces: hosts A and B (each its own HV_HOME, an external switch "ext"
# on a veth into P, a veth between them for migrations) and P, "the
# physical network": a bridge with both uplinks and a pinger at 10.9.0.1.
# The server (Gen2, 2 vCPUs) runs on A, appends a counter to a file every
# 0.2 s and is pinged from P all along. It is saved and restored, a
# checkpoint of it is applied, it moves live to B, and back to A with
# --storage. After each: the same boot (boot_id), uptime went on, its clock
# within 2 s of the host's, no kernel warning in dmesg, the counter file
# whole (every number once, in order), the pings lost only across the
# pause. At the end e2fsck -fn finds its root clean, and qemu-img compare
# finds the disk --storage copied identical to the one it left.
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip_all "namespaces need root"
[ -w /dev/kvm ] || skip_all "no /dev/kvm (make check runs this in scripts/lab)"
. "$(dirname "$0")/realos/lib.sh"

S0=52:54:00:17:01:01 ROS_IP=10.9.0.2
trap 'ros_hosts_down st; [ -n "${SERVEA:-}" ] && kill "$SERVEA" 2>/dev/null; rm -rf "$TMP"' EXIT
ros_hosts
ok $? "host A and host B (network namespaces) each have an external switch 'ext' onto the physical network; B serves migrations"

# the server: on A
HV_HOME=$HA ROS_EXTRA="hv.addr=$S0@10.9.0.2/24" ros_create st 2 --vcpus 2 --memory 768M &&
	hA vm nic add st --switch ext --mac $S0 >/dev/null
ok $? "server st on host A, its adapter on 'ext'"
export HV_HOME=$HA	# log_of, ros_run: st's console on whichever host it is
ROS_T0=$(date +%s)
hA vm start st >/dev/null && ros_up st
ok $? "st reaches multi-user.target and a shell"
diag "boot: ${BOOT_S:-?} s"
ip netns exec "$NSP" ping -c 3 -W $((2 * SLOW)) $ROS_IP >/dev/null
ok $? "P pings st through A's external switch"
# a counter the server appends to, pings from P (a gap is what was lost)
ros_mark st

# 1. save and restore
run_hv_a() { out=$(hA "$@" 2>"$TMP/stderr"); rc=$?; err=$(cat "$TMP/stderr"); }
run_hv_a vm save st
ok $rc "hv vm save st ($err)"
run_hv_a vm start st
ok $rc "hv vm start st restores it ($err)"
ros_check_after "save/restore" st

# 2. a checkpoint with memory, applied
run_hv_a checkpoint create st cp1
ok $rc "checkpoint create st cp1 while it runs ($err)"
ros_run st 'touch /root/after-cp1' >/dev/null
N_CP=$(ros_run st 'tail -n 1 /root/count')
# as in Hyper-V Manager, the VM stops (here: saved) before a checkpoint applies
run_hv_a vm save st
run_hv_a checkpoint apply st cp1
ok $rc "checkpoint apply st cp1, the VM saved first ($err)"
run_hv_a vm start st
ok $rc "st starts from the checkpoint's memory ($err)"
o=$(ros_run st 'ls /root/after-cp1 2>/dev/null | wc -l')
is "$o" "0" "checkpoint apply: what the guest wrote after cp1 is gone"
ROS_UP=0	# the checkpoint's uptime is earlier than the last look's
ros_check_after "checkpoint apply" st

# checkpoints stay with their host: merged into the running disk first
run_hv_a checkpoint delete st cp1
ok $rc "checkpoint delete st cp1 while it runs: merged online ($err)"
ros_check_after "online merge" st

# 3. live migration A -> B (shared storage: one lab, one disk path)
: >"$TMP/ping.log"
hA vm migrate st --to 10.78.0.2 --json >"$TMP/mig.json" 2>"$TMP/mig.err"
ok $? "hv vm migrate st --to B ($(tail -n 1 "$TMP/mig.err"))"
export HV_HOME=$HB
is "$(state_of st)" Running "st runs on B"
sleep 2
ros_check_after "migration to B" st
g=$(ros_ping_gap)
dt=$(python3 -c "import json; print([json.loads(l) for l in open('$TMP/mig.json') if '\"downtime_ms\"' in l][-1].get('downtime_ms', '?'))" 2>/dev/null)
ok $(echo "$g >= 0 && $g <= 1.0 + ${dt:-0} / 1000 + 0.3 * $SLOW" | bc | grep -q 1; echo $?) \
	"migration to B: pings from P stopped at most ${g} s (downtime ${dt:-?} ms)"

# 4. back to A with --storage: B's disk copied into A's home
: >"$TMP/ping.log"
SRC=$(hB vm show st --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["disks"][0])' 2>/dev/null)
ip netns exec "$NSA" env HV_HOME="$HA" "$HV" host serve --listen 10.78.0.1 >"$TMP/serveA.log" 2>&1 &
SERVEA=$!
for _ in $(seq 1 $((50 * SLOW))); do grep -q listening "$TMP/serveA.log" && break; sleep 0.1; done
# the disk holds still for the copy to be compared: the guest's root is
# frozen across the --storage move (the counter blocks on its next
# write) and until A's copy is compared, so that what it left on B and
# what A has are the same bytes; memory and network move live as before
# (a writer blocked on a frozen file system is meant here: the hung-task
# watchdog waits 10 minutes instead of 2 until the thaw)
ros_run st 'echo 600 >/proc/sys/kernel/hung_task_timeout_secs; sync; fsfreeze -f /' >/dev/null
hB vm migrate st --to 10.78.0.1 --storage --json >"$TMP/smig.json" 2>"$TMP/smig.err"
ok $? "hv vm migrate st --to A --storage ($(tail -n 1 "$TMP/smig.err"))"
export HV_HOME=$HA
is "$(state_of st)" Running "st runs on A again"
sleep 2
g=$(ros_ping_gap)
ok $(echo "$g >= 0 && $g <= 1.0 + 0.5 * $SLOW" | bc | grep -q 1; echo $?) \
	"--storage migration: pings from P stopped at most ${g} s"
NEW=$(hA vm show st --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["disks"][0])' 2>/dev/null)
[ -n "$NEW" ] && [ "$NEW" != "$SRC" ]
ok $? "A has its own copy of the disk ($NEW)"
# the disk it left is a differencing VHDX, which QEMU cannot open: hv
# flattens it to raw (ros_fsck). QEMU will not open a VHDX whose log a
# running hv writes, even with -U: A saves st (its root still frozen),
# qemu-img compares, and the restore goes on from there
ros_fsck "$SRC"
ok $? "e2fsck -fn finds the root it left on B clean" || diag "$(tail -n 20 "$TMP/fsck.out")"
run_hv_a vm save st
ok $rc "hv vm save st on A, its root frozen ($err)"
qemu-img compare -q "$ROS_RAW" "$NEW" 2>"$TMP/cmp.err"
ok $? "qemu-img compare: the disk --storage copied is identical to the one it left $(head -c 300 "$TMP/cmp.err")"
rm -f "$ROS_RAW"
run_hv_a vm start st
ok $rc "hv vm start st restores it on A ($err)"
ros_run st 'fsfreeze -u /; echo 120 >/proc/sys/kernel/hung_task_timeout_secs' >/dev/null
ros_check_after "--storage migration to A" st
kill $ROS_PING; ROS_PING=""
run_hv_a vm stop st
kill $SERVEA
ros_fsck "$NEW"
ok $? "e2fsck -fn finds the root on A's copy clean after the server ran on it" || diag "$(tail -n 20 "$TMP/fsck.out")"
rm -f "$ROS_RAW"
[ $T_FAIL -gt 0 ] && diag "st's console:" "$(log_of st | tail -n 40)" "ping:" "$(tail -n 5 "$TMP/ping.log")"
done_testing
