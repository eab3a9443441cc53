#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 4 acceptance: Gen2 VMs with the probe guest on /dev/kvm, each in a
# detached worker: ready on the console, a pattern through virtio-blk to a
# dynamic VHDX checked by qemu-img, hostile descriptor chains, kill -9 of a
# worker, a second shell, console attach/detach in tmux.
. "$(dirname "$0")/lib.sh"
PROBE=${B:-$TOP/build}/guest/probe.elf
PATTERN=${B:-$TOP/build}/tools/pattern
[ -w /dev/kvm ] || skip_all "no /dev/kvm (needs root and KVM)"
[ -f "$PROBE" ] || skip_all "probe guest not built ($PROBE)"
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed"
trap '"$HV" vm stop p1 >/dev/null 2>&1; "$HV" vm stop p2 >/dev/null 2>&1; "$HV" vm stop h1 >/dev/null 2>&1; tmux kill-server 2>/dev/null; rm -rf "$TMP"' EXIT

# 1. ready + Running
run_hv vm create p1 --memory 128M --kernel "$PROBE" --cmdline ready
ok $rc "create a Gen2 VM with the probe"
run_hv vm start p1
ok $rc "vm start returns ($out$err)"
wait_console p1 'probe: ready' 20; ok $? "the serial console shows 'probe: ready'"
is "$(state_of p1)" Running "the worker shows Running"
run_hv vm list
printf '%s\n' "$out" | grep -q '^p1 *Running'; ok $? "vm list shows p1 Running"
stat -c %a "$HV_HOME/run/p1.sock" | grep -q '^600$'; ok $? "control socket is mode 0600"

# 2. pattern through virtio-blk into a dynamic VHDX
qemu-img create -q -f vhdx "$TMP/d.vhdx" 64M
run_hv vm create w1 --memory 128M --kernel "$PROBE" --disk "$TMP/d.vhdx" \
	--cmdline "blk-write dev=0 start=2048 count=1000 seed=77; blk-read dev=0 start=2048 count=1000 seed=77"
run_hv vm start w1
ok $rc "start the writer VM"
wait_console w1 'blk-read: ok sectors=1000 mismatches=0' 60; ok $? "the guest reads back its pattern"
for _ in $(seq 1 $((100 * SLOW))); do [ "$(state_of w1)" = Off ] && break; sleep 0.1; done
is "$(state_of w1)" Off "the probe exits and the VM is Off"
qemu-img convert -O raw "$TMP/d.vhdx" "$TMP/d.raw"
"$PATTERN" check "$TMP/d.raw" 2048 1000 77 >/dev/null; ok $? "qemu-img sees the pattern at exactly those sectors"
cmp -n $((2048 * 512)) "$TMP/d.raw" /dev/zero >/dev/null; ok $? "nothing before them"
tail -c +$(((3048 * 512) + 1)) "$TMP/d.raw" | cmp - /dev/zero 2>&1 | grep -q 'EOF on -'; ok $? "nothing after them"
run_hv vm show p1 --json
printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["runtime"]["exits"]' 2>/dev/null
ok $? "vm show --json of a running VM has exit counters"

# 3. hostile guest beside p1
qemu-img create -q -f raw "$TMP/h.raw" 16M
run_hv vm create h1 --memory 128M --kernel "$PROBE" --disk "$TMP/h.raw" --cmdline "hostile dev=0; ready"
run_hv vm start h1
wait_console h1 'hostile: done good_read=ok' 60; ok $? "hostile guest: device recovers, a good read works"
grep -qi 'needs.reset\|NEEDS_RESET' "$HV_HOME/log/h1.log"; ok $? "the worker logged the bad chains"
is "$(state_of h1)" Running "the hostile VM's worker survives"
run_hv vm pause h1; ok $rc "the hostile VM is still controllable (pause)"
run_hv vm resume h1; ok $rc "resume"
is "$(state_of p1)" Running "the VM beside it never noticed"

# 4. kill -9 one worker
pid=$("$HV" vm show h1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
kill -9 "$pid"
sleep 0.3
t0=$(date +%s%N)
for _ in $(seq 1 $((20 * SLOW))); do [ "$(state_of h1)" = Failed ] && break; sleep 0.1; done
is "$(state_of h1)" Failed "a killed worker shows as Failed within 2 s"
run_hv vm list
printf '%s\n' "$out" | grep -q '^h1 *Failed'; ok $? "vm list says Failed"
is "$(state_of p1)" Running "the other VM keeps running"
run_hv vm stop h1; ok $rc "stop clears a Failed VM"
is "$(state_of h1)" Off "and it is Off"

# 5. a new shell still controls p1; console attach/detach in tmux
export TMUX_TMPDIR=$TMP
tmux -f /dev/null new-session -d -s c -x 100 -y 30 "env HV_HOME='$HV_HOME' ASAN_OPTIONS=detect_leaks=0 '$HV' vm console p1; echo CONSOLE-EXIT=\$?; sleep 30"
pane() { tmux capture-pane -p -t c -S -100; }
for _ in $(seq 1 $((50 * SLOW))); do pane | grep -q 'probe: ready' && break; sleep 0.1; done
pane | grep -q 'probe: ready'; ok $? "console attach shows the backlog"
tmux send-keys -t c 'ping' Enter
for _ in $(seq 1 $((50 * SLOW))); do pane | grep -q '^pong' && break; sleep 0.1; done
pane | grep -q 'pong'; ok $? "typed input reaches the guest"
tmux send-keys -t c C-]
for _ in $(seq 1 $((50 * SLOW))); do pane | grep -q 'CONSOLE-EXIT=0' && break; sleep 0.1; done
pane | grep -q 'CONSOLE-EXIT=0'; ok $? "Ctrl-] detaches"
is "$(state_of p1)" Running "the VM keeps running after detach"
# typing sent in the same write as the console request reaches the guest
# too, also from a client that closes at once without reading the reply
# (a slow host reads it all at once: the worker once dropped the rest)
pongs=$(log_of p1 | grep -c '^pong')
python3 - "$HV_HOME/run/p1.sock" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b'{"cmd": "console"}\nping\r'); s.close()
PY
for _ in $(seq 1 $((50 * SLOW))); do [ "$(log_of p1 | grep -c '^pong')" -gt "$pongs" ] && break; sleep 0.1; done
[ "$(log_of p1 | grep -c '^pong')" -gt "$pongs" ]; ok $? "a line behind the console request, in one write, reaches the guest"
run_hv vm shutdown p1 --timeout $((10 * SLOW))
ok $rc "vm shutdown: the probe obeys"
is "$(state_of p1)" Off "and the VM is Off"
grep -q 'probe: shutdown' "$HV_HOME/log/p1.console.log"; ok $? "the guest said so"
done_testing
