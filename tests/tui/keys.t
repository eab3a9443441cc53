#!/usr/bin/env bash
# hv tui beyond the New VM walk: monochrome + ASCII (NO_COLOR, HV_ASCII),
# an engine error shown as the shell's one line, filter, the settings
# wizard of an existing VM with its script saved by `s`, the New Virtual
# Disk wizard from the Disks view, the Events view, and q.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib-tmux.sh"
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed"

trap 'tmux_cleanup; rm -rf "$TMP"' EXIT

run_hv vm create alpha --memory 64M
run_hv vm create beta --memory 128M
run_hv vm start alpha
want_err=$err
tm new-session -d -s tui -x 80 -y 24 \
	"env HV_HOME='$HV_HOME' NO_COLOR=1 HV_ASCII=1 ASAN_OPTIONS=detect_leaks=0 PS1='keysprompt\$ ' TERM=screen-256color bash --norc --noprofile"
keys "cd '$TMP' && '$HV' tui; echo status=\$?" Enter
wait_screen ' beta ' 10; ok $? "hv tui lists the VMs" || { echo "Bail out! hv tui did not start"; exit 1; }

# monochrome, ASCII
screen | grep -q '^+-.*alpha.*-+$'; ok $? "HV_ASCII=1: the details box is drawn in ASCII"
! screen | grep -q '[─│┌┐└┘]'; ok $? "and no UTF-8 box drawing is used"
! tm capture-pane -t tui -p -e | grep -q $'\e\\[[0-9;]*3[0-7]m\|38;5;'; ok $? "NO_COLOR=1: no colour escapes"

# an engine error reads as the shell's line
keys s
wait_screen "$want_err" 5; ok $? "s on a VM without a kernel shows the shell's error: $want_err"

# filter
keys / be Enter
wait_screen '1 of 2 VMs' 5; ok $? "/ filters the list"
! screen | grep -q '^ alpha '; ok $? "alpha is filtered out"
keys / C-u Enter
wait_screen '^ alpha ' 5; ok $? "an empty filter shows every VM again"

# the settings wizard of beta, its script saved
keys j e
wait_screen 'Settings: Memory and Boot' 5; ok $? "e opens the settings wizard"
screen | grep -q 'Generation: < 2 > (fixed)'; ok $? "the generation is shown, fixed"
keys Tab Tab Space NPage NPage
wait_screen 'hv vm set beta --dynamic-memory on' 5; ok $? "the summary has the one command that changes it"
keys s
wait_screen 'Save script as:' 5; ok $? "s asks where to save the script"
keys Enter
wait_screen "saved to $TMP/beta.hv" 5; ok $? "the script is saved"
head -1 "$TMP/beta.hv" | grep -qx '#!/usr/bin/env hv' && grep -q '^hv vm set beta --dynamic-memory on' "$TMP/beta.hv"
ok $? "the saved script is an hv script with the command"
keys Enter
wait_screen 'done: beta' 10; ok $? "Finish applies it"
run_hv vm show beta --json
printf '%s' "$out" | python3 -c 'import json,sys; assert json.load(sys.stdin)["dynamic_memory"]["enabled"]'
ok $? "beta has dynamic memory now"

# the New Virtual Disk wizard from the Disks view
keys 2
wait_screen 'No disks yet' 5; ok $? "2 shows the Disks view"
keys n
wait_screen 'New Virtual Disk' 5; ok $? "n opens the New Virtual Disk wizard"
keys NPage NPage NPage C-u 1G NPage
wait_screen 'hv disk create' 5 &&
	screen | sed 's/^| *//; s/ *|$//' | tr '\n' ' ' | tr -s ' ' |
	grep -q -- "hv disk create $HV_HOME/disks/disk.vhdx --format vhdx --size 1G"

ok $? "its summary creates a 1G dynamic VHDX in the disk folder"
keys Enter
wait_screen 'disk.vhdx  *vhdx  *dynamic' 10; ok $? "Finish: the disk is in the Disks view"
out=$(qemu-img info --output=json "$HV_HOME/disks/disk.vhdx" 2>&1)
printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["format"] == "vhdx" and d["virtual-size"] == 1 << 30'
ok $? "qemu-img: a 1 GiB VHDX"

keys 5
wait_screen 'beta  *settings changed' 5; ok $? "5 shows the Events view"
keys q
wait_screen 'status=0' 5; ok $? "q quits with status 0"
done_testing
