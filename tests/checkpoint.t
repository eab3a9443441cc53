#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Checkpoints (Hyper-V's): a VHDX disk is frozen and the VM writes to a
# differencing child; applying the checkpoint throws the child away, so
# what the probe wrote before it reads back; the tree lists with "Now";
# delete merges or drops; every image left passes qemu-img check. A Saved
# VM's checkpoint holds its memory: the probe's counter goes on from the
# checkpoint's value. Bad input gives one "hv: ..." line.
. "$(dirname "$0")/lib.sh"
PROBE=${B:-$TOP/build}/guest/probe.elf
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed"
command -v python3 >/dev/null || skip_all "python3 is not installed"
trap 'for v in k1 s1 o1; do "$HV" vm stop $v >/dev/null 2>&1; done; rm -rf "$TMP"' EXIT

images_ok() {	# qemu-img check on every image in $TMP (qemu has no
	local f bad=0	# differencing VHDX: hv disk check for .avhdx)
	for f in "$TMP"/*.vhdx "$TMP"/*.qcow2; do
		[ -e "$f" ] || continue
		qemu-img check -q "$f" >/dev/null 2>&1 || { diag "qemu-img check: $f"; bad=1; }
	done
	for f in "$TMP"/*.avhdx; do
		[ -e "$f" ] || continue
		"$HV" disk check "$f" >/dev/null 2>&1 || { diag "hv disk check: $f"; bad=1; }
	done
	return $bad
}
n_json() { "$HV" checkpoint list "$1" --json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))'; }

# 1. without a VM running: create, list, apply, delete; bad input
qemu-img create -q -f vhdx "$TMP/d.vhdx" 64M
run_hv vm create k1 --memory 128M --kernel /dev/null --disk "$TMP/d.vhdx"
ok $rc "create a VM with a VHDX disk ($err)"
run_hv checkpoint create k1 c1
ok $rc "checkpoint c1 ($err)"
disk=$("$HV" vm show k1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["disks"][0])')
case $disk in "$TMP"/d-*.avhdx) r=0 ;; *) r=1 ;; esac
ok $r "the VM now writes to a differencing child ($disk)"
"$HV" disk info "$disk" | grep -q "d.vhdx"; ok $? "whose parent is d.vhdx"
run_hv checkpoint create k1
ok $rc "a checkpoint with the default name"
printf '%s\n' "$out" | grep -q "'k1 - [0-9-]* [0-9:]*'"; ok $? "named 'VM - date time' ($out)"
run_hv checkpoint list k1
want="c1  (*
  k1 - *
    Now"
[[ $out == $want ]]; ok $? "list: a tree, Now below the newest ($out)"
run_hv checkpoint apply k1 c1
ok $rc "apply c1 ($err)"
run_hv checkpoint list k1
printf '%s\n' "$out" | tail -1 | grep -q '^  Now$'; ok $? "Now hangs below c1 ($out)"
run_hv checkpoint delete k1 c1
ok $((! rc)) "c1 has a checkpoint below it: refused"
one_error_line "and says so"
name2=$("$HV" checkpoint list k1 --json | python3 -c 'import json,sys; print([c["name"] for c in json.load(sys.stdin) if c["name"] != "c1"][0])')
run_hv checkpoint delete k1 "$name2"
ok $rc "delete the leaf checkpoint ($err)"
is "$(n_json k1)" 1 "one checkpoint left"
run_hv checkpoint delete k1 c1
ok $rc "delete c1, which Now hangs below: merged ($err)"
is "$(n_json k1)" 0 "no checkpoints left"
is "$("$HV" vm show k1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["disks"][0])')" \
	"$TMP/d.vhdx" "the VM is back on d.vhdx"
is "$(ls "$TMP" | grep -c avhdx)" 0 "no differencing disk is left"
images_ok; ok $? "qemu-img check passes on every image"

run_hv checkpoint create nosuch
ok $((! rc)) "unknown VM refused"; one_error_line "unknown VM"
run_hv checkpoint apply k1 nosuch
ok $((! rc)) "unknown checkpoint refused"; one_error_line "unknown checkpoint"
truncate -s 16M "$TMP/r.raw"
run_hv vm create r1 --memory 128M --kernel /dev/null --disk "$TMP/r.raw"
run_hv checkpoint create r1
ok $((! rc)) "a raw disk is refused"; one_error_line "raw disk"
printf '%s' "$err" | grep -q "r.raw"; ok $? "naming the disk"
is "$(n_json r1)" 0 "and nothing is recorded"

# 2. a running probe: write A, checkpoint, write B, apply, read A
if [ ! -w /dev/kvm ] || [ ! -f "$PROBE" ]; then
	diag "skipping the VM parts: no /dev/kvm or probe"
	done_testing
fi
qemu-img create -q -f vhdx "$TMP/w.vhdx" 64M
run_hv vm create w1 --memory 128M --kernel "$PROBE" --disk "$TMP/w.vhdx" \
	--cmdline "blk-write dev=0 start=2048 count=500 seed=11"
run_vm() {	# vm cmdline pattern: run the probe until it powers off
	: >"$HV_HOME/log/$1.console.log" 2>/dev/null
	"$HV" vm set "$1" --cmdline "$2" >/dev/null
	run_hv vm start "$1"
	wait_console "$1" "$3" 60 && wait_off "$1"
}
run_vm w1 "blk-write dev=0 start=2048 count=500 seed=11" 'blk-write: ok'
ok $? "the probe writes pattern A"
run_hv checkpoint create w1 c1
ok $rc "checkpoint c1 ($err)"
run_vm w1 "blk-write dev=0 start=2048 count=500 seed=22; blk-read dev=0 start=2048 count=500 seed=22" \
	'blk-read: ok sectors=500 mismatches=0'
ok $? "then pattern B over it"
# a probe that waits (pattern B's run powers off by itself when done:
# on a slow host it could be Off again before apply asks)
"$HV" vm set w1 --cmdline ready >/dev/null
run_hv vm start w1
run_hv checkpoint apply w1 c1
ok $((! rc)) "apply refuses a running VM"; one_error_line "running VM"
[ $rc -eq 0 ] && diag "state $(state_of w1); console: $(log_of w1 | tail -n 3)"
"$HV" vm stop w1 >/dev/null 2>&1; wait_off w1
run_hv checkpoint apply w1 c1
ok $rc "apply c1 ($err)"
is "$(state_of w1)" Off "the VM is Off"
run_vm w1 "blk-read dev=0 start=2048 count=500 seed=11" 'blk-read: ok sectors=500 mismatches=0'
ok $? "pattern A reads back"
run_hv checkpoint delete w1 c1
ok $rc "delete c1 ($err)"
run_vm w1 "blk-read dev=0 start=2048 count=500 seed=11" 'blk-read: ok sectors=500 mismatches=0'
ok $? "pattern A still reads back after the merge"
images_ok; ok $? "qemu-img check passes on every image"

# 3. a Saved VM: the checkpoint holds its memory
counters() { log_of s1 | sed -n 's/^counter: \([0-9]*\)$/\1/p'; }
qemu-img create -q -f vhdx "$TMP/s.vhdx" 64M
run_hv vm create s1 --memory 128M --kernel "$PROBE" --disk "$TMP/s.vhdx" \
	--cmdline "counter step_ms=50; ready"
run_hv vm start s1
wait_console s1 'counter: 20$' 30; ok $? "the probe counts"
run_hv checkpoint create s1 live
ok $rc "checkpoint the running VM: saved, checkpointed, started again ($err)"
is "$(state_of s1)" Running "it runs again"
n=$(counters | tail -1)
wait_console s1 "counter: $((n + 5))\$" 20; ok $? "and counts on from $n"
is "$("$HV" checkpoint list s1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["saved_state"])')" True \
	"the live checkpoint holds its memory"
run_hv vm save s1
ok $rc "save it ($err)"
saved=$(counters | tail -1)
run_hv checkpoint create s1 mem
ok $rc "checkpoint a Saved VM ($err)"
[ -s "$HV_HOME/vms/s1/checkpoints/$("$HV" checkpoint list s1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["uuid"])').hvs" ]
ok $? "its state file is copied into the checkpoint"
run_hv vm start s1
ok $rc "start it again ($err)"
wait_console s1 "counter: $((saved + 20))\$" 30; ok $? "it counts on to $((saved + 20))"
run_hv vm stop s1
run_hv checkpoint apply s1 mem
ok $rc "apply the checkpoint ($err)"
is "$(state_of s1)" Saved "the VM is Saved"
: >"$HV_HOME/log/s1.console.log"
run_hv vm start s1
ok $rc "start restores the checkpoint's state ($err)"
wait_console s1 "counter: $((saved + 5))\$" 30
is "$(counters | head -1)" "$((saved + 1))" "the count resumes at the checkpoint's $saved + 1"
run_hv vm stop s1
run_hv checkpoint delete s1 mem
ok $rc "delete it ($err)"
images_ok; ok $? "qemu-img check passes on every image"

# 4. deleting the checkpoint a running VM runs on merges online: the
# guest rewrites a VHDX all along, and a qcow2 holds what it wrote before
type_line() { console_type "$HV_HOME/run/$1.sock" "$2"; }
qemu-img create -q -f vhdx "$TMP/o.vhdx" 64M
qemu-img create -q -f qcow2 "$TMP/o.qcow2" 64M
run_hv vm create o1 --memory 128M --kernel "$PROBE" --disk "$TMP/o.vhdx" --disk "$TMP/o.qcow2" \
	--cmdline "blk-write dev=1 start=0 count=2048 seed=7; blk-churn dev=0 start=0 blocks=256 seconds=0 rate=500; ready"
run_hv vm start o1
ok $rc "a probe rewriting a VHDX, with a qcow2 it wrote ($err)"
wait_console o1 'churn: initialised' 30; ok $? "the churn runs"
run_hv checkpoint create o1 on
ok $rc "checkpoint it running ($err)"
pid=$("$HV" vm show o1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
kids=$("$HV" vm show o1 --json | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["disks"]))')
sleep 1
run_hv checkpoint delete o1 on
ok $rc "delete it while the VM runs ($out$err)"
is "$(state_of o1)" Running "the VM runs on"
is "$("$HV" vm show o1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')" "$pid" \
	"in the same worker: merged online, no save and restart"
is "$("$HV" vm show o1 --json | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["disks"]))')" \
	"$TMP/o.vhdx $TMP/o.qcow2" "it writes to the images it had again"
gone=0; for k in $kids; do [ -e "$k" ] && gone=1; done
ok $gone "the differencing children are deleted ($kids)"
type_line o1 churn-stop
wait_console o1 'churn: done' 10
type_line o1 blk-verify-churn
wait_console o1 'blk-verify-churn: ok blocks=256' 20; ok $? "the guest reads back all it wrote, before and during the merge"
type_line o1 "blk-read dev=1 start=0 count=2048 seed=7"
wait_console o1 'blk-read: ok sectors=2048 mismatches=0' 20; ok $? "and the qcow2's data"
run_hv vm stop o1
images_ok; ok $? "qemu-img check passes on both merged images"
done_testing
