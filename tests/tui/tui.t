#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 6 acceptance: `hv tui` in an 80x24 tmux pane. Walk the New Virtual
# Machine wizard with keys (an invalid memory range first: its message
# shows and Next is refused), finish, find the VM in the list and its VHDX
# on disk (qemu-img); start it (probe guest), see Running, open the
# console and talk to the probe, resize to 120x40 and back, and kill the
# TUI with SIGTERM: the terminal is sane again and the VM keeps running.
. "$(dirname "$0")/../lib.sh"
PROBE=${B:-$TOP/build}/guest/probe.elf
. "$(dirname "$0")/lib-tmux.sh"
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed"
KVM=1
[ -w /dev/kvm ] && [ -f "$PROBE" ] || KVM=0

trap '"$HV" vm stop tuivm >/dev/null 2>&1; tmux_cleanup; rm -rf "$TMP"' EXIT
skip() { T_N=$((T_N + 1)); echo "ok $T_N # skip $*"; }
json() {	# python expression on the JSON in $out
	printf '%s' "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

mkdir -p "$HV_HOME"
tm new-session -d -s tui -x 80 -y 24 \
	"env HV_HOME='$HV_HOME' ASAN_OPTIONS=detect_leaks=0 PS1='tuiprompt\$ ' TERM=screen bash --norc --noprofile"
keys "cd '$TMP' && '$HV' tui" Enter
wait_screen '1:VMs' 10; ok $? "hv tui opens in an 80x24 pane" ||
	{ echo "Bail out! hv tui did not start"; exit 1; }
screen | sed -n 2p | grep -q 'NAME.*STATE.*GEN.*CPU%.*ASSIGNED.*DEMAND.*UPTIME'
ok $? "the VM list has name, state, generation, CPU %, assigned, demand, uptime"

# the wizard, page 1 and an invalid page 2
keys n
wait_screen 'Page 1 of 7: Name and Generation' 5; ok $? "n opens the New Virtual Machine wizard"
keys tuivm
keys NPage
wait_screen 'Page 2 of 7: Memory and Processors' 5; ok $? "Next goes to the memory page"
keys Tab C-u 1G Tab Space Tab C-u 4G Tab C-u 1G
keys NPage
wait_screen 'minimum memory 4G is above maximum memory 1G' 5; ok $? "minimum > maximum: the page shows why"
screen | grep -q 'Page 2 of 7'; ok $? "and Next is refused"
screen | grep -q "Minimum memory" # the focus is on the field to fix
keys C-u 512M Tab C-u 4G
keys NPage
wait_screen 'Page 3 of 7: Networking' 5; ok $? "a valid range passes"
keys NPage
wait_screen 'Page 4 of 7: Virtual Hard Disk' 5; ok $? "the disk page"
screen | grep -q "Location: .*tuivm.vhdx"; ok $? "the new disk is named after the VM"
keys Tab Tab Tab C-u 8G NPage
wait_screen 'Page 5 of 7: Installation Options' 5; ok $? "Hyper-V's Installation Options page"
screen | grep -q 'Installation.*later'; ok $? "it installs later unless told"
keys NPage
wait_screen 'Page 6 of 7: Boot' 5; ok $? "the boot page"
keys "$PROBE" Tab Tab ready NPage
wait_screen 'Page 7 of 7: Summary' 5; ok $? "the summary page"
screen | grep -q 'hv disk create' && screen | grep -q 'hv vm create tuivm'
ok $? "the summary shows the script Finish runs"
keys Enter
wait_screen ' tuivm  *Off' 20; ok $? "Finish: the VM is in the list"

# what was made, by other tools
VHDX=$HV_HOME/disks/tuivm.vhdx
out=$(qemu-img info --output=json "$VHDX" 2>&1)
is "$(json 'd["format"], d["virtual-size"]')" "vhdx 8589934592" "qemu-img: the VHDX is 8 GiB"
run_hv vm show tuivm --json
is "$(json 'd["generation"], d["memory"], d["dynamic_memory"]["enabled"], d["dynamic_memory"]["minimum"], d["dynamic_memory"]["maximum"]')" \
	"2 1073741824 True 536870912 4294967296" "the VM is Gen2, 1G startup, dynamic 512M..4G"
is "$(json 'd["disks"][0]')" "$VHDX" "with the VHDX attached"

if [ "$KVM" = 1 ]; then
	keys s
	wait_screen ' tuivm  *Running' 20; ok $? "s starts it: Running"
	keys c
	wait_screen 'probe: ready' 10; ok $? "c opens the console with the probe's output"
	keys ping Enter
	wait_screen 'pong' 10; ok $? "the probe answers on the console"
	keys C-]
	wait_screen '1:VMs' 5; ok $? "Ctrl-] comes back to the list"
else
	for i in 1 2 3 4; do skip "no /dev/kvm or probe guest"; done
fi

# resizes
tm resize-window -t tui -x 120 -y 40; sleep 0.5
s=$(screen)
is "$(printf '%s\n' "$s" | wc -l)" 40 "120x40: 40 rows"
printf '%s\n' "$s" | sed -n 1p | grep -q '1:VMs.*5:Events' &&
	printf '%s\n' "$s" | sed -n 3p | grep -q '^ tuivm ' &&
	printf '%s\n' "$s" | sed -n 40p | grep -q 'q Quit' &&
	printf '%s\n' "$s" | grep -q "Dynamic memory 512M..4G"
ok $? "120x40: title, list, details and every key hint"
tm resize-window -t tui -x 80 -y 24; sleep 0.5
s=$(screen)
printf '%s\n' "$s" | sed -n 1p | grep -q '1:VMs' &&
	printf '%s\n' "$s" | sed -n 3p | grep -q '^ tuivm ' &&
	printf '%s\n' "$s" | sed -n 24p | grep -q '^n New' &&
	[ "$(printf '%s\n' "$s" | wc -L)" -le 80 ]
ok $? "80x24 again: a sane screen"

# SIGTERM
pid=$(pgrep -f -- "$HV tui" | head -1)
kill -TERM "$pid"
wait_screen 'tuiprompt\$ *$' 5; ok $? "SIGTERM: the pane is back at the shell prompt"
keys "stty -a | tr ' ;' '\n\n' | grep -xE 'icanon|echo|-icanon|-echo' | sort | tr '\n' ,; echo" Enter
wait_screen '^echo,icanon,$' 5; ok $? "the terminal is in its normal modes (echo, icanon)"
if [ "$KVM" = 1 ]; then
	is "$(state_of tuivm)" Running "the VM keeps running"
else
	skip "no /dev/kvm or probe guest"
fi
done_testing
