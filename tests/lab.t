#!/usr/bin/env bash
# The lab itself (scripts/lab): an emulated AMD-V host with a real
# /dev/kvm. `run` boots one for a command and passes its exit status
# back; a lab whose kernel dies mid-command, or a command past its
# --timeout, is never a silent success: exit 125 / 124 and one "lab: ..."
# line that says so. Boots the lab even where this host has a usable
# /dev/kvm (--lab), so the lab keeps working for the machines that need it.
. "$(dirname "$0")/lib.sh"
LAB=$TOP/scripts/lab
command -v qemu-system-x86_64 >/dev/null || skip_all "qemu-system-x86_64 is not installed (scripts/deps.sh)"
[ "$(id -u)" -eq 0 ] || skip_all "the lab's 9p share of / needs root"

NAME=selftest.$$
trap '"$LAB" stop --name "$NAME" >/dev/null 2>&1; rm -rf "$TOP/build/lab/$NAME" "$TMP"' EXIT

out=$("$LAB" run --lab -- sh -c 'grep -cw svm /proc/cpuinfo; ls -l /dev/kvm; pwd' 2>"$TMP/err")
rc=$?
is "$rc" 0 "lab run: the command's status comes back (0)"
n=$(printf '%s\n' "$out" | sed -n 1p)
[ "${n:-0}" -ge 1 ] 2>/dev/null; ok $? "the lab's CPUs have svm ($n)"
printf '%s\n' "$out" | grep -q '^crw.* /dev/kvm$'; ok $? "and a /dev/kvm ($(printf '%s\n' "$out" | sed -n 2p))"
is "$(printf '%s\n' "$out" | sed -n 3p)" "$(pwd)" "CMD runs in the caller's directory"
grep -q 'lab: /dev/kvm ready' "$TMP/err"; ok $? "the lab says what it booted ($(grep -m1 'lab: /dev/kvm' "$TMP/err"))"
# (a folder: a hung lab's console stays beside them as run.N.died.log)
[ -z "$(find "$TOP/build/lab" -maxdepth 1 -type d -name 'run.*')" ]; ok $? "a run's lab is gone when it ends"

"$LAB" run --lab -- false 2>/dev/null
is "$?" 1 "lab run -- false exits 1"

# one lab for the rest: output streams, timeouts, a death
"$LAB" start --lab --name "$NAME" 2>/dev/null; ok $? "lab start"
out=$("$LAB" exec --name "$NAME" -- sh -c 'echo out; echo err >&2; exit 7' 2>&1)
is "$?" 7 "lab exec: exit status 7 comes back"
is "$(printf '%s' "$out" | tr '\n' ' ')" "out err" "stdout and stderr both come back"
out=$(HV_TEST_MARK=x "$LAB" exec --name "$NAME" -- sh -c 'echo "$HV_TEST_MARK $HV_IN_LAB"')
is "$out" "x $NAME" "the test's HV_* environment goes in; HV_IN_LAB says where it runs"
"$LAB" exec --name "$NAME" --timeout 3 -- sleep 60 2>"$TMP/err"
is "$?" 124 "a command past --timeout: exit 124"
grep -q '^lab: .*timed out after 3 s' "$TMP/err"; ok $? "with a line that says so ($(cat "$TMP/err"))"
# a heartbeat that stands still (hidden from the host by a bind mount over
# its file) gets an NMI after 45 s (here 5: HV_LAB_KICK_S), and the
# command goes on when it beats
HV_LAB_KICK_S=5 "$LAB" exec --name "$NAME" -- \
	sh -c 'echo 0 >/tmp/b; mount --bind /tmp/b "$1" && sleep 15 && umount "$1" && sleep 3' \
	- "$TOP/build/lab/$NAME/alive" 2>"$TMP/err"
is "$?" 0 "a lab whose heartbeat stood still for 15 s finishes the command"
grep -q '^lab: no heartbeat for [5-9] s during .*an NMI to every CPU' "$TMP/err"
ok $? "after an NMI ($(grep -m1 -o 'no heartbeat for [0-9]* s' "$TMP/err"))"
grep -q '^lab: the heartbeat came back' "$TMP/err"; ok $? "and says when it came back"
"$LAB" exec --name "$NAME" -- sh -c 'echo c >/proc/sysrq-trigger; sleep 60' 2>"$TMP/err"
is "$?" 125 "a lab whose kernel panics mid-command: exit 125"
grep -q '^lab: the lab died during' "$TMP/err"; ok $? "with a line that says the lab died ($(head -c 200 "$TMP/err"))"
"$LAB" exec --name "$NAME" -- true 2>"$TMP/err"
is "$?" 125 "exec into a dead lab: exit 125"
grep -q "^lab: no lab '$NAME' is running" "$TMP/err"; ok $? "saying there is none"
done_testing
