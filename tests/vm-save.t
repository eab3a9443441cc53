#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# VM save/restore (Hyper-V's "Save"): a probe counting on its console is
# saved to vms/NAME/state.hvs, its worker ends, the VM reads Saved; start
# restores it and the count goes on at exactly the next number, its disk
# still reads back; a truncated or bit-flipped state file is refused and
# the VM stays Saved; stop on a Saved VM discards the state.
. "$(dirname "$0")/lib.sh"
PROBE=${B:-$TOP/build}/guest/probe.elf
[ -w /dev/kvm ] || skip_all "no /dev/kvm (needs root and KVM)"
[ -f "$PROBE" ] || skip_all "probe guest not built ($PROBE)"
command -v python3 >/dev/null || skip_all "python3 is not installed"
trap '"$HV" vm stop s1 >/dev/null 2>&1; rm -rf "$TMP"' EXIT

counters() { log_of s1 | sed -n 's/^counter: \([0-9]*\)$/\1/p'; }
last_counter() { counters | tail -1; }
pid_of() { "$HV" vm show s1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'; }
# a line typed on the console, through the worker's socket
console_send() {
	python3 - "$HV_HOME/run/s1.sock" "$1" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"cmd": "console"}\n'); s.recv(4096)
for ch in sys.argv[2] + "\r":
    s.sendall(ch.encode()); time.sleep(0.01)
time.sleep(0.3); s.close()
PY
}
# the counter's numbers are 1, 2, 3, ... with nothing missing or repeated
contiguous() { counters | awk 'BEGIN { n = 0 } { if ($1 != n + 1) exit 1; n = $1 } END { exit n == 0 }'; }

truncate -s 16M "$TMP/d.raw"
run_hv vm create s1 --memory 128M --kernel "$PROBE" --disk "$TMP/d.raw" \
	--cmdline "blk-write dev=0 start=100 count=64 seed=5; counter step_ms=50; ready"
ok $rc "create a probe VM that counts"
run_hv vm start s1
ok $rc "start it ($err)"
wait_console s1 'counter: 20$' 30; ok $? "it counts to 20"
pid=$(pid_of)

# 1. save
run_hv vm save s1
ok $rc "vm save ($out$err)"
is "$(state_of s1)" Saved "the VM is Saved"
[ -s "$HV_HOME/vms/s1/state.hvs" ]; ok $? "the state file exists"
[ ! -e "$HV_HOME/vms/s1/state.hvs.tmp" ]; ok $? "no temporary file is left"
[ ! -d "/proc/$pid" ] || grep -q '^State:.*Z' "/proc/$pid/status"
ok $? "the worker is gone"
run_hv vm list
printf '%s\n' "$out" | grep -q '^s1 *Saved'; ok $? "vm list shows Saved"
saved=$(last_counter)
sleep 0.5
is "$(last_counter)" "$saved" "nothing counts while Saved"
run_hv vm pause s1
ok $((! rc)) "pause refuses a Saved VM"

# 2. restore: the count goes on at saved+1
run_hv vm start s1
ok $rc "vm start restores it ($out$err)"
is "$(state_of s1)" Running "the VM is Running"
wait_console s1 "counter: $((saved + 10))\$" 30; ok $? "it counts on to $((saved + 10))"
is "$(counters | awk -v s="$saved" '$1 > s' | head -1)" "$((saved + 1))" \
	"the first number after the restore is exactly $((saved + 1))"
contiguous; ok $? "no reset, no gap: the count runs 1, 2, 3, ... throughout"
[ ! -e "$HV_HOME/vms/s1/state.hvs" ]; ok $? "the state file is removed after the restore"
console_send "blk-read dev=0 start=100 count=64 seed=5"
wait_console s1 'blk-read: ok sectors=64 mismatches=0' 20
ok $? "the disk still works: the pattern written before the save reads back"

# 3. a truncated state file is refused and the VM stays Saved
run_hv vm save s1
ok $rc "save again"
size=$(stat -c %s "$HV_HOME/vms/s1/state.hvs")
cp "$HV_HOME/vms/s1/state.hvs" "$TMP/good.hvs"
truncate -s $((size / 2)) "$HV_HOME/vms/s1/state.hvs"
run_hv vm start s1
ok $((! rc)) "start with a truncated state file fails"
one_error_line "and says why"
is "$(state_of s1)" Saved "the VM is still Saved"
worker_gone() {	# up to 10 s: the failed worker exits after its answer
	for _ in $(seq 1 $((100 * SLOW))); do
		flock -n "$HV_HOME/run/s1.lock" true 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
worker_gone; ok $? "no worker is left running"
printf 'HVSTATE1\x63\0\0\0\x04\0\0\0\0\0\0\0abcd' >"$HV_HOME/vms/s1/state.hvs"
run_hv vm start s1
printf '%s' "$err" | grep -q 'unknown section'; ok $? "an unknown section is refused by name ($err)"
worker_gone
is "$(state_of s1)" Saved "still Saved"
# one bit flipped in the middle of a whole file: the end's CRC-32C says so
cp "$TMP/good.hvs" "$HV_HOME/vms/s1/state.hvs"
python3 -c 'import sys; f = open(sys.argv[1], "r+b"); f.seek(int(sys.argv[2])); b = f.read(1); f.seek(int(sys.argv[2])); f.write(bytes([b[0] ^ 0x10]))' \
	"$HV_HOME/vms/s1/state.hvs" $((size / 3))
run_hv vm start s1
printf '%s' "$err" | grep -q 'checksum mismatch'; ok $? "a flipped bit is caught by the checksum ($err)"
worker_gone
is "$(state_of s1)" Saved "still Saved"

# 4. stop discards the saved state
run_hv vm stop s1
ok $rc "vm stop on a Saved VM"
is "$(state_of s1)" Off "it is Off"
[ ! -e "$HV_HOME/vms/s1/state.hvs" ]; ok $? "the saved state is discarded"
done_testing
