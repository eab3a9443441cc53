#!/usr/bin/env bash
# hv tui's Switches view in an 80x24 tmux pane, run in a network namespace
# of the test's own: a switch made by the shell is listed with its bridge,
# state and host address; n walks the New Virtual Switch wizard to a
# private switch sw1 (the name is required first), which is listed and
# selected (j/k move), and `hv switch show` agrees; x asks first (n keeps
# it, y deletes it: the switch and its bridge are gone); x on a switch a
# VM uses shows the shell's error line; q. Needs root (namespaces,
# bridges).
. "$(dirname "$0")/../lib.sh"
[ "$(id -u)" -eq 0 ] || skip_all "needs root (a network namespace and bridges)"
command -v ip >/dev/null || skip_all "needs iproute2 (ip)"
. "$(dirname "$0")/lib-tmux.sh"
command -v python3 >/dev/null || skip_all "needs python3 (reads --json)"

NS=hvtui$$
trap 'tmux_cleanup; ip netns del "$NS" 2>/dev/null; rm -rf "$TMP"' EXIT
ip netns add "$NS" || skip_all "cannot create a network namespace"
wait_gone() {	# pattern seconds
	for _ in $(seq 1 $(($2 * 10))); do
		screen | grep -q -- "$1" || return 0
		sleep 0.1
	done
	diag "screen was:" "$(screen)"
	return 1
}
selected() {	# NAME: its row starts in reverse video
	tm capture-pane -t tui -p -e | grep -qE $'^(\e\\[[0-9;]*m)*\e\\[([0-9]+;)*7m(\e\\[[0-9;]*m)* '"$1 "
}
hvns() {	# run_hv in the namespace
	out=$(ip netns exec "$NS" "$HV" "$@" 2>"$TMP/stderr")
	rc=$?
	err=$(cat "$TMP/stderr")
}
json() {	# python expression on the JSON in $out
	printf '%s' "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

mkdir -p "$HV_HOME"
hvns switch create lab --type internal --host-ip 10.9.0.1/24
is "$rc" 0 "the shell makes an internal switch lab in the namespace ($err)"
tm new-session -d -s tui -x 80 -y 24 \
	"ip netns exec $NS env HV_HOME='$HV_HOME' NO_COLOR=1 ASAN_OPTIONS=detect_leaks=0 PS1='swprompt\$ ' TERM=screen bash --norc --noprofile"
keys "cd '$TMP' && '$HV' tui; echo status=\$?" Enter
wait_screen '1:VMs' 10; ok $? "hv tui opens in an 80x24 pane" ||
	{ echo "Bail out! hv tui did not start"; exit 1; }

keys 3
wait_screen 'NAME  *TYPE  *BRIDGE  *STATE  *UPLINK / HOST ADDRESS' 5; ok $? "3 shows the Switches view"
screen | grep -q '^ lab  *internal  *hv-lab  *up  *10.9.0.1/24'
ok $? "lab is listed: internal, bridge hv-lab, up, its host address"
screen | tail -1 | grep -q 'n New switch.*x Delete'; ok $? "the hints say n and x"

# the wizard: private, a name required, then sw1
keys n
wait_screen 'Page 1 of 3: Switch Type' 5; ok $? "n opens the New Virtual Switch wizard"
screen | grep -q 'Connection type: < internal >'; ok $? "internal is the default type"
keys p
wait_screen 'Connection type: < private >' 5; ok $? "p chooses private"
keys NPage
wait_screen 'Page 2 of 3: Name and Connection' 5; ok $? "Next: the name"
! screen | grep -q 'Host address:'; ok $? "a private switch asks no host address"
keys NPage
wait_screen 'Name is required' 5; ok $? "Next without a name: the page says it is required"
keys sw1 NPage
wait_screen 'Page 3 of 3: Summary' 5; ok $? "Next: the summary"
screen | grep -q 'hv switch create sw1 --type private'; ok $? "the summary shows the command"
keys Enter
wait_screen '^ sw1  *private  *hv-sw1  *up  *-' 10; ok $? "Finish: sw1 is listed, its bridge up"
screen | grep -q 'done: sw1'; ok $? "and the status line says so"
selected sw1 && ! selected lab; ok $? "sw1 is selected (reverse video), lab is not"
keys k
selected lab && ! selected sw1; ok $? "k selects lab"
keys j
selected sw1; ok $? "j selects sw1 again"
hvns switch show sw1 --json
is "$(json 'd["type"], d["bridge"], d["state"]')" "private hv-sw1 up" "hv switch show sw1: private, hv-sw1, up"

# x asks; n keeps it, y deletes it
keys x
wait_screen 'Delete switch sw1 (bridge hv-sw1)? (y/n)' 5; ok $? "x asks before deleting sw1"
keys n
sleep 0.3
screen | grep -q '^ sw1 '; ok $? "n keeps it"
keys x
wait_screen 'Delete switch sw1' 5
keys y
wait_screen 'deleted switch sw1' 5; ok $? "y deletes it"
wait_gone '^ sw1 ' 5; ok $? "sw1 is gone from the list"
hvns switch show sw1
[ "$rc" -ne 0 ]; ok $? "hv switch show sw1 fails now: $err"
! ip -n "$NS" link show hv-sw1 >/dev/null 2>&1; ok $? "and bridge hv-sw1 is gone"

# a switch in use: the shell's error line
hvns vm create v1 --memory 64M
hvns vm nic add v1 --switch lab
is "$rc" 0 "VM v1 has an adapter on lab"
hvns switch delete lab
want_err=${err:0:60}
[ "$rc" -ne 0 ]; ok $? "the shell refuses to delete lab: $err"
selected lab; ok $? "after the delete, lab is selected"
keys x
wait_screen 'Delete switch lab (bridge hv-lab)?' 5; ok $? "x asks about lab"
keys y
wait_screen "$want_err" 5; ok $? "y shows the shell's error line"
screen | grep -q '^ lab  *internal'; ok $? "lab stays"

keys q
wait_screen 'status=0' 5; ok $? "q quits with status 0"
done_testing
