#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Whole export (Hyper-V's Export-VM): hv vm export NAME DIR writes
# DIR/NAME/ with the definition, a copy of each disk and, with --memory,
# the state. An Off VM's disks are copied (a VMDK as qcow2, a checkpoint's
# chain flattened) and compare equal; a running probe that rewrites its
# VHDX all along is exported with its memory and keeps running in the same
# worker; its export, imported as a copy and started, restores: the count
# goes on from the export's instant, and the churn's memory of what it
# wrote matches the copied disk (blk-verify-churn), so disk and memory are
# of one instant. Refusals are one line; a failed or abandoned export
# leaves nothing behind.
. "$(dirname "$0")/lib.sh"
PROBE=${B:-$TOP/build}/guest/probe.elf
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed"
command -v qemu-io >/dev/null || skip_all "qemu-io is not installed"
command -v python3 >/dev/null || skip_all "python3 is not installed"
trap 'for v in l1 l2 b1; do "$HV" vm stop $v >/dev/null 2>&1; done; rm -rf "$TMP"' EXIT

jget() {	# vm key: one field of vm show --json
	"$HV" vm show "$1" --json | python3 -c "import json,sys; print(json.load(sys.stdin)$2)"
}

# 1. an Off VM: a VHDX and a VMDK with data, copied with the disk engine
qemu-img create -q -f vhdx "$TMP/o.vhdx" 64M
qemu-img create -q -f vmdk "$TMP/v.vmdk" 32M
qemu-io -f vhdx -c "write -P 0x5a 1M 3M" -c "write -P 0xa5 40M 64k" "$TMP/o.vhdx" >/dev/null
qemu-io -f vmdk -c "write -P 0x33 0 2M" "$TMP/v.vmdk" >/dev/null
run_hv vm create o1 --memory 128M --kernel /dev/null --disk "$TMP/o.vhdx" --disk "$TMP/v.vmdk"
ok $rc "an Off VM with a VHDX and a VMDK ($err)"

run_hv vm export nosuch "$TMP/out/"
ok $((! rc)) "an unknown VM is refused"; one_error_line "unknown VM"
run_hv vm export o1 "$TMP/out/" --memory
ok $((! rc)) "--memory for an Off VM is refused"; one_error_line "--memory on an Off VM"
[ ! -e "$TMP/out/o1" ]; ok $? "and nothing is made"

run_hv vm export o1 "$TMP/out/"
ok $rc "export the Off VM into a new folder ($out$err)"
[ -f "$TMP/out/o1/o1.hvvm" ] && [ -f "$TMP/out/o1/disks/o.vhdx" ] && [ -f "$TMP/out/o1/disks/v.qcow2" ]
ok $? "o1.hvvm, disks/o.vhdx and disks/v.qcow2 (VMDK as qcow2)"
[ ! -e "$TMP/out/o1/state.hvs" ]; ok $? "no state: it was Off"
is "$(qemu-img info --output=json "$TMP/out/o1/disks/v.qcow2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])')" \
	qcow2 "the VMDK's copy is a qcow2"
qemu-img compare -q "$TMP/o.vhdx" "$TMP/out/o1/disks/o.vhdx"; ok $? "qemu-img compare: the VHDX copy equals the original"
qemu-img compare -q "$TMP/v.vmdk" "$TMP/out/o1/disks/v.qcow2"; ok $? "qemu-img compare: the qcow2 copy equals the VMDK"
qemu-img check -q "$TMP/out/o1/disks/o.vhdx" && qemu-img check -q "$TMP/out/o1/disks/v.qcow2"
ok $? "qemu-img check passes on both copies"
grep -q "\"disks/o.vhdx\"" "$TMP/out/o1/o1.hvvm"; ok $? "the definition points at the copies (disks/, beside it)"

run_hv vm export o1 "$TMP/out"
ok $((! rc)) "an export over an existing DIR/NAME is refused"; one_error_line "existing target"
qemu-img compare -q "$TMP/o.vhdx" "$TMP/out/o1/disks/o.vhdx"; ok $? "and leaves the earlier export alone"
HV_DISK_FAULT=pwrite:3:EIO run_hv vm export o1 "$TMP/fail/"
ok $((! rc)) "an export whose writes fail fails"; one_error_line "failed write"
[ -d "$TMP/fail" ] && [ ! -e "$TMP/fail/o1" ]; ok $? "and leaves no DIR/NAME behind"

run_hv vm export o1 "$TMP/o1.cfg"
ok $rc "a FILE that is no folder still gets the definition alone"
[ -f "$TMP/o1.cfg" ] && grep -q "\"$TMP/o.vhdx\"" "$TMP/o1.cfg"; ok $? "pointing at the VM's own disks"
run_hv vm export o1 "$TMP/o1b.cfg" --memory
is "$rc" 2 "--memory with a FILE is a usage error"; one_error_line "--memory with a FILE"

run_hv vm import "$TMP/out/o1/o1.hvvm" --name o2 --new-uuid
ok $rc "the export imports as a copy ($err)"
is "$(jget o2 '["state"]')" Off "Off, as it was exported"
is "$(jget o2 '["disks"][1]')" "$TMP/out/o1/disks/v.qcow2" "on the exported disks"
grep -q '"disks/v.qcow2"' "$TMP/out/o1/o1.hvvm"; ok $? "the definition names them relative to itself"
mkdir -p "$TMP/moved" && cp -r "$TMP/out/o1" "$TMP/moved/"
run_hv vm import "$TMP/moved/o1/o1.hvvm" --name o3 --new-uuid
ok $rc "so the export folder can move: imported from elsewhere ($err)"
is "$(jget o3 '["disks"][1]')" "$TMP/moved/o1/disks/v.qcow2" "on the moved copy's disks"

qemu-img create -q -f vhdx "$TMP/c.vhdx" 64M
qemu-io -f vhdx -c "write -P 0x5a 0 8M" "$TMP/c.vhdx" >/dev/null
run_hv vm create k1 --memory 128M --kernel /dev/null --disk "$TMP/c.vhdx"
run_hv checkpoint create k1 c1
ok $rc "a checkpoint: k1 now writes to a differencing child ($err)"
child=$(jget k1 '["disks"][0]')
TOOL=${B:-$TOP/build}/tools/disk-crash	# qemu cannot write a differencing VHDX
[ -x "$TOOL" ] && "$TOOL" write "$child" 7 20 >/dev/null
run_hv vm export k1 "$TMP/ck/"
ok $rc "export the checkpointed VM ($err)"
copy="$TMP/ck/k1/disks/$(basename "${child%.avhdx}").vhdx"
[ -f "$copy" ]; ok $? "its .avhdx is copied as $(basename "$copy")"
is "$("$HV" disk info "$copy" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["parent"] or "none")')" \
	none "flattened: the copy has no parent"
"$HV" disk convert "$child" "$TMP/flat.raw" --format raw >/dev/null
qemu-img compare -q "$TMP/flat.raw" "$copy"; ok $? "and holds what the chain reads"

if [ ! -w /dev/kvm ] || [ ! -f "$PROBE" ]; then
	diag "skipping the running VM parts: no /dev/kvm or probe"
	done_testing
fi

# 2. a running probe rewriting its VHDX all along, exported with its memory
counters() { log_of "$1" | sed -n 's/^counter: \([0-9]*\)$/\1/p'; }
type_line() { console_type "$HV_HOME/run/$1.sock" "$2"; }
# a console client that falls behind is dropped, and what it typed with it:
# type again until the answer shows (churn-stop, blk-verify-churn are safe twice)
type_until() {	# vm line pattern
	for _ in 1 2 3; do
		type_line "$1" "$2" 2>/dev/null
		wait_console "$1" "$3" 10 && return 0
	done
	return 1
}
qemu-img create -q -f vhdx "$TMP/w.vhdx" 64M
run_hv vm create l1 --memory 128M --kernel "$PROBE" --disk "$TMP/w.vhdx" \
	--cmdline "blk-churn dev=0 start=0 blocks=256 seconds=0 rate=500; counter step_ms=20; ready"
run_hv vm start l1
ok $rc "a probe that rewrites its VHDX and counts ($err)"
wait_console l1 'churn: initialised' 30 && wait_console l1 'counter: 50$' 30
ok $? "the churn runs, the count goes on"
pid=$(jget l1 '["pid"]')
before=$(counters l1 | tail -1)
run_hv vm export l1 "$TMP/live/" --memory --json
ok $rc "export it running, with its memory ($err)"
sleep 0.5	# what it printed before the pause is in its log by now
after=$(counters l1 | sed '$d' | tail -1)
printf '%s\n' "$out" | grep -q '"event": "progress", "what": "export"'; ok $? "--json: progress events"
done_line=$(printf '%s\n' "$out" | python3 -c '
import json, sys
text = sys.stdin.read(); d = json.loads(text[text.index("{\n"):])
print(d["event"], d["live"], d["memory"], d["total_ms"], d["pause_us"], d["rounds"])')
set -- $done_line
is "$1 $2 $3" "done True True" "--json: a done object, live, with the memory"
diag "live export of a 64M VHDX and 128M of memory: $4 ms, the VM paused $5 us, $6 copy-again rounds"
is "$(state_of l1)" Running "the VM runs on"
is "$(jget l1 '["pid"]')" "$pid" "in the same worker"
wait_console l1 "counter: $((after + 20))\$" 20; ok $? "and counts on"
[ -s "$TMP/live/l1/state.hvs" ] && [ -f "$TMP/live/l1/disks/w.vhdx" ] && [ -f "$TMP/live/l1/l1.hvvm" ]
ok $? "l1.hvvm, disks/w.vhdx and state.hvs are there"
qemu-img check -q "$TMP/live/l1/disks/w.vhdx"; ok $? "qemu-img check passes on the live copy"

run_hv vm import "$TMP/live/l1/l1.hvvm" --name l2 --new-uuid
ok $rc "import the export as a copy ($err)"
is "$(state_of l2)" Saved "it comes in Saved, with the exported state"
[ -s "$HV_HOME/vms/l2/state.hvs" ]; ok $? "copied to vms/l2/state.hvs"
run_hv vm start l2
ok $rc "start the copy: it restores ($err)"
for _ in $(seq 1 $((200 * SLOW))); do	# two lines: the first is whole
	[ "$(counters l2 | wc -l)" -ge 2 ] && break
	sleep 0.1
done
first=$(counters l2 | head -1)
[ -n "$first" ] && [ "$first" -gt "$before" ] && [ "$first" -le $((after + 1)) ]
ok $? "its count goes on from the export's instant ($before < $first <= $after + 1)"
wait_console l2 "counter: $((first + 10))\$" 20
# (the last line may still be half written: "counter: 9" of 93)
counters l2 | sed '$d' | awk -v f="$first" 'BEGIN { n = f - 1 } { if ($1 != n + 1) exit 1; n = $1 }'
ok $? "one by one, with no gap or reset" || diag "$(counters l2 | head -20 | tr '\n' ' ')" "$(log_of l2 | head -5)"
type_until l2 churn-stop 'churn: done'
type_until l2 blk-verify-churn 'blk-verify-churn: '
log_of l2 | grep -q 'blk-verify-churn: ok blocks=256'
ok $? "the copy's churn finds every block as its memory says: disk and state are of one instant" ||
	diag "$(log_of l2 | grep 'blk-verify-churn')"
type_until l1 churn-stop 'churn: done'
type_until l1 blk-verify-churn 'blk-verify-churn: '
log_of l1 | grep -q 'blk-verify-churn: ok blocks=256'; ok $? "the original's disk is whole too"
run_hv vm stop l2

# a Saved VM's export carries its state file
run_hv vm save l1
ok $rc "save the original ($err)"
saved=$(counters l1 | tail -1)
run_hv vm export l1 "$TMP/saved/"
ok $rc "export the Saved VM ($err)"
cmp -s "$HV_HOME/vms/l1/state.hvs" "$TMP/saved/l1/state.hvs"; ok $? "with its state file"
run_hv vm stop l1

# 3. an export cut short: its client gone, or its VM turned off; nothing
# is left (a big sparse disk: the copy takes a while)
qemu-img create -q -f vhdx "$TMP/big.vhdx" 128G
run_hv vm create b1 --memory 128M --kernel "$PROBE" --disk "$TMP/big.vhdx" --cmdline "counter step_ms=50; ready"
run_hv vm start b1
wait_console b1 'counter: 5$' 20
pid=$(jget b1 '["pid"]')
cut() {	# then: kill (the client) or stop (the VM), once the copy runs
	python3 - "$HV" "$TMP/cut/" "$1" <<'PY'
import subprocess, sys
hv, where, then = sys.argv[1:]
p = subprocess.Popen([hv, "vm", "export", "b1", where, "--memory", "--json"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
p.stdout.readline()	# the first progress event: the copy runs
if then == "kill":
    p.kill()
else:
    subprocess.run([hv, "vm", "stop", "b1"], stdout=subprocess.DEVNULL)
p.stdout.read()
print(p.wait(), p.stderr.read().strip())
PY
}
cut kill >/dev/null
gone=1
for _ in $(seq 1 $((200 * SLOW))); do [ -e "$TMP/cut/b1" ] || { gone=0; break; }; sleep 0.1; done
ok $gone "an export whose client is killed leaves no DIR/NAME"
grep -q 'its client is gone' "$HV_HOME/log/b1.log"; ok $? "the worker says why"
is "$(state_of b1)" Running "the VM runs on"
is "$(jget b1 '["pid"]')" "$pid" "in the same worker"
run_hv vm pause b1
ok $rc "and takes requests again: the export is over ($err)"
run_hv vm resume b1
set -- $(cut stop)
is "$1" 1 "turning the VM off during its export fails the export"
shift; err=$*; one_error_line "cut by the VM's end"
[ ! -e "$TMP/cut/b1" ]; ok $? "and leaves no DIR/NAME"
is "$(state_of b1)" Off "the VM is Off"
! grep -l 'Sanitizer\|runtime error' "$HV_HOME"/log/*.log >&2
ok $? "no sanitizer report in the workers' logs"
done_testing
