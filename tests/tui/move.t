#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# The Move wizard in hv tui, without migrating anything: M on an Off VM
# says why on the status line; on a running probe VM it opens the wizard
# with the VM named, refuses a bad destination on its page, offers the
# defaults (storage off, 300 ms), and its summary is the one
# `hv vm migrate` line. Back keeps the answers; Esc, and a Finish the
# engine refuses (this HV_HOME has no migration.secret, and nothing
# listens on 127.0.0.1:1 either), leave the VM running on this host,
# untouched: the same worker, nothing in the Events view.
. "$(dirname "$0")/../lib.sh"
PROBE=${B:-$TOP/build}/guest/probe.elf
. "$(dirname "$0")/lib-tmux.sh"
[ -w /dev/kvm ] || skip_all "no /dev/kvm"
[ -f "$PROBE" ] || skip_all "probe guest not built ($PROBE)"

trap '"$HV" vm stop mv1 >/dev/null 2>&1; tmux_cleanup; rm -rf "$TMP"' EXIT
pid_of() {
	"$HV" vm show "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])'
}
# the summary's text as one line (the page wraps it)
summary() { screen | sed 's/^| *//; s/ *|$//' | tr '\n' ' ' | tr -s ' '; }
untouched() {	# what: mv1 runs here still, in the same worker
	is "$(state_of mv1) $(pid_of mv1)" "Running $PID" "$1: mv1 still runs here, same worker"
}

run_hv vm create mv1 --memory 64M --kernel "$PROBE" --cmdline ready
run_hv vm create off1 --memory 64M
run_hv vm start mv1
wait_console mv1 'probe: ready' 10 || { echo "Bail out! the probe VM did not start: $err"; exit 1; }
PID=$(pid_of mv1)

tm new-session -d -s tui -x 80 -y 24 \
	"env HV_HOME='$HV_HOME' NO_COLOR=1 HV_ASCII=1 ASAN_OPTIONS=detect_leaks=0 PS1='moveprompt\$ ' TERM=screen-256color bash --norc --noprofile"
keys "cd '$TMP' && '$HV' tui; echo status=\$?" Enter
wait_screen ' off1 ' 10; ok $? "hv tui lists the VMs" || { echo "Bail out! hv tui did not start"; exit 1; }
screen | tail -1 | grep -q 'e Settings M Move'; ok $? "the key line offers M Move (80 columns)"

# an Off VM does not move live
keys j M
wait_screen 'VM off1 is Off: only a running VM moves live' 5; ok $? "M on an Off VM: the status line says why"
! screen | grep -q 'Move Virtual Machine'; ok $? "and no wizard opens"

# the running one: page 1, the destination
keys k M
wait_screen 'Page 1 of 3: Destination' 5; ok $? "M on the running VM opens the Move wizard"
screen | grep -q 'Move Virtual Machine' && screen | grep -q 'Virtual machine: mv1'
ok $? "titled Move Virtual Machine, naming the VM"
keys "host 2" NPage
wait_screen "Destination host 'host 2': no spaces" 5; ok $? "a destination with a space is refused"
keys C-u "host2:99999" NPage
wait_screen "the port '99999' is" 5; ok $? "a port past 65535 is refused"
screen | grep -q 'Page 1 of 3'; ok $? "and Next stays on the page"
keys C-u 127.0.0.1:1 NPage
wait_screen 'Page 2 of 3: Storage and Downtime' 5; ok $? "a host and port pass"

# page 2: storage and downtime, their defaults, then the summary
screen | grep -q 'Move storage too: \[ \] off' && screen | grep -q 'Maximum downtime ms: 300'
ok $? "storage off and 300 ms by default"
screen | grep -q 'does not see the same disk paths'; ok $? "the page says when the storage must move"
keys Space Tab C-u 100 NPage
wait_screen 'Page 3 of 3: Summary' 5; ok $? "the summary page"
summary | grep -q -- 'hv vm migrate mv1 --to 127.0.0.1:1 --storage --max-downtime 100'
ok $? "the summary is the one hv vm migrate line"

# Back keeps the answers; Esc leaves everything as it was
keys PPage
wait_screen 'Page 2 of 3' 5 && screen | grep -q 'Move storage too: \[x\] on' &&
	screen | grep -q 'Maximum downtime ms: 100'
ok $? "Back: page 2 with the answers kept"
keys Escape
wait_screen ' mv1  *Running' 5; ok $? "Esc: back at the list, mv1 Running"
untouched "Back and Esc"

# Finish: the engine refuses (no secret here), on the wizard's error line
keys M
wait_screen 'Page 1 of 3: Destination' 5
keys 127.0.0.1:1 NPage NPage
wait_screen 'Page 3 of 3: Summary' 5 && summary | grep -q -- 'hv vm migrate mv1 --to 127.0.0.1:1 ' &&
	! summary | grep -q -- '--storage\|--max-downtime'
ok $? "the defaults: hv vm migrate mv1 --to 127.0.0.1:1, nothing more"
keys Enter
wait_screen 'no migration.secret in' 10; ok $? "Finish: hv vm migrate's error is on the wizard's error line"
screen | grep -q 'Page 3 of 3: Summary'; ok $? "and the wizard stays open"
keys Escape
wait_screen ' mv1  *Running' 5; ok $? "Esc: mv1 is still listed, Running"
untouched "a refused Finish"
keys 5
wait_screen "mv1  *started (worker pid $PID)" 5 && ! screen | grep -qi 'migrat'
ok $? "the Events view has mv1's start and no migration"
keys 1 q
wait_screen 'status=0' 5; ok $? "q quits with status 0"
untouched "after the TUI"
done_testing
