#!/usr/bin/env bash
# vm dvd add/set/remove/list and vm create --dvd: DVD drives in the
# inventory, their ISO media, the checks on an ISO, what a VM's state
# allows (a running VM's changes go through its worker: tests/vm-gen1.t
# and tests/realos-boot.t), export/import, delete, and the schema upgrade
# that brings the table.
. "$(dirname "$0")/lib.sh"

# ISOs: real ones where xorriso is installed, else sparse files of whole
# 2048-byte sectors (hv checks the size, not the contents)
mkdir -p "$TMP/isodir"
echo hello > "$TMP/isodir/README"
for iso in a b; do
	if command -v xorriso >/dev/null; then
		xorriso -as mkisofs -quiet -V "$iso" -o "$TMP/$iso.iso" "$TMP/isodir" 2>/dev/null
	else
		truncate -s 4M "$TMP/$iso.iso"
	fi
done
truncate -s 4M "$TMP/sparse.iso"
head -c 1000 /dev/zero > "$TMP/odd.iso"
: > "$TMP/empty.iso"
mkdir "$TMP/dir.iso"
A=$TMP/a.iso B=$TMP/b.iso
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
dvds_of() { "$HV" vm dvd list "$1" --json | json '",".join(x["iso"] or "-" for x in d)'; }

run_hv vm create cd --memory 256M
ok $rc "create a Gen2 VM"
run_hv vm dvd list cd
is "$out" "SLOT  MEDIA" "no drives: just the header"
run_hv vm dvd list cd --json
is "$out" "[]" "no drives: an empty JSON list"

# add, with and without an ISO; a relative path is stored absolute
run_hv vm dvd add cd --iso "$A"
ok $rc "dvd add --iso"
is "$out" "added DVD drive 0 to VM cd (ISO $A)" "add says the slot and ISO"
run_hv vm dvd add cd
is "$out" "added DVD drive 1 to VM cd (empty)" "dvd add without --iso: an empty drive"
(cd "$TMP" && "$HV" vm dvd add cd --iso sparse.iso --json) > "$TMP/out.json"
is "$(json 'd["slot"], d["iso"]' < "$TMP/out.json")" "2 $TMP/sparse.iso" "add --json: slot 2, the relative ISO made absolute"
run_hv vm dvd list cd
is "$out" "$(printf 'SLOT  MEDIA\n0     %s\n1     (empty)\n2     %s' "$A" "$TMP/sparse.iso")" "list: SLOT and MEDIA"
run_hv vm dvd list cd --json
is "$(printf '%s' "$out" | json '[(x["slot"], x["iso"]) for x in d]')" \
   "[(0, '$A'), (1, None), (2, '$TMP/sparse.iso')]" "list --json: an empty drive's iso is null"

# media change
run_hv vm dvd set cd 1 --iso "$B"
is "$out" "DVD drive 1 of VM cd: inserted $B" "set --iso inserts"
run_hv vm dvd set cd 0 --eject --json
is "$(printf '%s' "$out" | json 'd["slot"], d["iso"]')" "0 None" "set --eject --json: drive 0 is empty"
is "$(dvds_of cd)" "-,$B,$TMP/sparse.iso" "the inventory holds the change"
run_hv vm dvd set cd 0 --eject
ok $rc "ejecting an empty drive is no error"
run_hv vm dvd set cd 0 --iso "$A"
ok $rc "insert again"

# remove: later drives move down a slot
run_hv vm dvd remove cd 0
is "$out" "removed DVD drive 0 from VM cd" "remove says what it did"
is "$(dvds_of cd)" "$B,$TMP/sparse.iso" "drives 1 and 2 are now 0 and 1"

# vm show, text and JSON
run_hv vm show cd
printf '%s\n' "$out" | grep -q "^DVD drives: *0: $B\$"; ok $? "vm show lists drive 0"
printf '%s\n' "$out" | grep -q "^ *1: $TMP/sparse.iso\$"; ok $? "vm show lists drive 1"
run_hv vm show cd --json
is "$(printf '%s' "$out" | json '[(x["slot"], x["iso"]) for x in d["dvds"]]')" \
   "[(0, '$B'), (1, '$TMP/sparse.iso')]" "vm show --json has dvds"

# bad input: exit status and one line each, the inventory unchanged
check_err() {	# want-rc description (after run_hv)
	is "$rc" "$1" "$2: exit $1"
	one_error_line "$2"
}
run_hv vm dvd set cd 0 --iso "$TMP/missing.iso"
check_err 1 "a missing ISO"
printf '%s' "$err" | grep -q 'missing.iso: No such file'; ok $? "it says the file is not there"
run_hv vm dvd set cd 0 --iso "$TMP/odd.iso"
check_err 1 "an ISO of 1000 bytes"
is "$err" "hv: $TMP/odd.iso: not an ISO image (its size, 1000 bytes, is not a multiple of 2048)" \
   "it says why it is no ISO"
run_hv vm dvd set cd 0 --iso "$TMP/empty.iso"
check_err 1 "an empty file"
run_hv vm dvd set cd 0 --iso "$TMP/dir.iso"
check_err 1 "a directory"
printf '%s' "$err" | grep -q 'a directory'; ok $? "it says it is a directory"
if [ "$(id -u)" -ne 0 ]; then
	cp "$A" "$TMP/locked.iso"; chmod 000 "$TMP/locked.iso"
	run_hv vm dvd set cd 0 --iso "$TMP/locked.iso"
	check_err 1 "an unreadable ISO"
else
	ok 0 "an unreadable ISO: exit 1 # SKIP root reads everything"
	ok 0 "an unreadable ISO # SKIP root reads everything"
fi
run_hv vm dvd set cd 7 --eject
check_err 2 "slot 7, past the most drives a VM has"
printf '%s' "$err" | grep -q '0\.\.3'; ok $? "it says the slots there can be"
run_hv vm dvd set cd 2 --eject
check_err 1 "slot 2 of a VM with two drives"
printf '%s' "$err" | grep -q 'no DVD drive 2 (slots 0..1)'; ok $? "it says which slots there are"
run_hv vm dvd remove cd 3
check_err 1 "removing a drive that is not there"
run_hv vm dvd set cd 0 --iso "$A" --eject
check_err 2 "--iso and --eject together"
run_hv vm dvd set cd 0
check_err 2 "set without --iso or --eject"
printf '%s' "$err" | grep -q -- '--iso PATH.*--eject'; ok $? "it says what to type"
run_hv vm dvd add cd --eject
check_err 2 "add --eject does not apply"
run_hv vm dvd add nosuchvm --iso "$A"
check_err 1 "an unknown VM"
run_hv vm dvd add cd; run_hv vm dvd add cd
run_hv vm dvd add cd --iso "$A"
check_err 1 "a fifth drive"
printf '%s' "$err" | grep -q 'already has 4 DVD drives'; ok $? "it says four is the most"
is "$(dvds_of cd)" "$B,$TMP/sparse.iso,-,-" "nothing changed by the refusals"
run_hv vm create cd2 --dvd "$TMP/odd.iso"
check_err 1 "vm create --dvd with no ISO"
printf '%s' "$err" | grep -q 'DVD drive 0: .*odd.iso: not an ISO image'; ok $? "it names the drive"
run_hv vm show cd2
is "$rc" 1 "no VM left behind"

# vm create --dvd ISO (repeatable) and --dvd-drive (empty), in order
run_hv vm create cd2 --memory 256M --dvd-drive --dvd "$A" --dvd "$B" --json
ok $rc "vm create --dvd-drive --dvd A --dvd B"
is "$(printf '%s' "$out" | json '[x["iso"] for x in d["dvds"]]')" "[None, '$A', '$B']" \
   "three drives, in the order given"
run_hv vm create --help
printf '%s\n' "$out" | grep -q -- '--dvd ISO'; ok $? "vm create --help documents --dvd"
run_hv vm dvd --help
for o in --iso --eject --json; do
	printf '%s\n' "$out" | grep -q -- "$o"; ok $? "vm dvd --help documents $o"
done
printf '%s\n' "$out" | grep -q 'null'; ok $? "vm dvd --help says an empty drive's iso is null"

# a Saved VM: its drives are part of its saved hardware, its media are not
sqlite3 "$HV_HOME/hv.db" "UPDATE vms SET state = 'Saved' WHERE name = 'cd2'"
run_hv vm dvd add cd2
check_err 1 "adding a drive to a Saved VM"
printf '%s' "$err" | grep -q 'turn it off'; ok $? "it says to turn it off"
run_hv vm dvd remove cd2 0
check_err 1 "removing a drive of a Saved VM"
run_hv vm dvd set cd2 0 --iso "$A"
ok $rc "a Saved VM's medium changes"
run_hv vm dvd set cd2 2 --eject
ok $rc "and is ejected"
is "$(dvds_of cd2)" "$A,$A,-" "the inventory holds both"
sqlite3 "$HV_HOME/hv.db" "UPDATE vms SET state = 'Off' WHERE name = 'cd2'"

# (a running VM's drives, with the real worker and guest: tests/vm-gen1.t)
run_hv vm dvd set cd2 1 --iso "$B"
ok $rc "an Off VM's medium changes"
run_hv vm dvd set cd2 0 --eject
ok $rc "and is ejected"
is "$(dvds_of cd2)" "-,$B,-" "the inventory follows"

# events
events=$(sqlite3 "$HV_HOME/hv.db" "SELECT message FROM events WHERE object = 'cd'")
printf '%s\n' "$events" | grep -qx "DVD drive 0 added (ISO $A)"; ok $? "event: a drive added"
printf '%s\n' "$events" | grep -qx "DVD drive 1: ISO $B inserted"; ok $? "event: an ISO inserted"
printf '%s\n' "$events" | grep -qx "DVD drive 0: ejected"; ok $? "event: ejected"
printf '%s\n' "$events" | grep -qx "DVD drive 0 removed"; ok $? "event: a drive removed"

# export and import carry the drives, ISO paths as they are
run_hv vm show cd2 --json; before=$out
run_hv vm export cd2 "$TMP/cd2.cfg"
ok $rc "export"
grep -q "dvds = ( \"\", \"$B\", \"\" );" "$TMP/cd2.cfg"; ok $? "the file lists the drives"
run_hv vm delete cd2
ok $rc "delete"
is "$(sqlite3 "$HV_HOME/hv.db" "SELECT count(*) FROM dvd_drives WHERE vm_id NOT IN (SELECT id FROM vms)")" 0 \
   "delete took the VM's drives"
run_hv vm import "$TMP/cd2.cfg"
ok $rc "import"
run_hv vm show cd2 --json
is "$out" "$before" "show --json identical after export/delete/import"
mv "$B" "$B.away"
run_hv vm import "$TMP/cd2.cfg" --name cd3 --new-uuid
check_err 1 "import with an ISO that is not here"
printf '%s' "$err" | grep -q 'DVD drive 1: .*b.iso: No such file'; ok $? "it names the drive and the ISO"
run_hv vm set cd2 --memory 512M
ok $rc "a VM whose ISO went can still change other settings"
echo k > "$TMP/vmlinuz"
run_hv vm set cd2 --kernel "$TMP/vmlinuz"
HV_WORKER=/bin/false run_hv vm start cd2
check_err 1 "start with an ISO that went"
printf '%s' "$err" | grep -q 'DVD drive 1: .*--eject'; ok $? "it says how to empty the drive"
mv "$B.away" "$B"
printf 'vm = { name = "x"; dvds = ( 1 ); };\n' > "$TMP/bad.cfg"
run_hv vm import "$TMP/bad.cfg"
check_err 1 "a definition with a drive that is not a string"
printf 'vm = { name = "x"; dvds = ( "", "", "", "", "" ); };\n' > "$TMP/bad.cfg"
run_hv vm import "$TMP/bad.cfg"
check_err 1 "a definition with five drives"

run_hv vm delete cd
ok $rc "delete cd"
is "$(sqlite3 "$HV_HOME/hv.db" "SELECT count(*) FROM dvd_drives")" 3 "only cd2's drives are left"

# schema: an hv.db from before DVD drives (version 8) is upgraded in place
v=$(sqlite3 "$HV_HOME/hv.db" 'PRAGMA user_version')
sqlite3 "$HV_HOME/hv.db" "DROP TABLE dvd_drives; ALTER TABLE vms DROP COLUMN boot_order; PRAGMA user_version = $((v - 1))"
run_hv vm list
ok $rc "hv opens the older inventory"
is "$(sqlite3 "$HV_HOME/hv.db" 'PRAGMA user_version')" "$v" "and upgrades it"
is "$(dvds_of cd2)" "" "its VMs have no DVD drives"
run_hv vm dvd add cd2 --iso "$A"
ok $rc "and can have them"
is "$(dvds_of cd2)" "$A" "drive added after the upgrade"

# the boot order (Gen1's SeaBIOS reads it; tests/vm-gen1.t boots by it)
run_hv vm create bo --gen 1 --memory 128M --dvd "$A" --boot-order disk,dvd
ok $rc "create a Gen1 VM with --boot-order disk,dvd ($err)"
run_hv vm show bo --json
is "$(printf '%s' "$out" | json 'd["boot"]["order"]')" "disk,dvd" "vm show --json: boot.order"
run_hv vm show bo
printf '%s' "$out" | grep -q '^Boot order: *disk,dvd$'; ok $? "vm show: Boot order: disk,dvd"
for bad in "dvd,dvd" "cd" "disk," ",disk" "dvd,,disk"; do
	run_hv vm set bo --boot-order "$bad"
	check_err 2 "--boot-order '$bad' is refused"
done
printf '%s' "$err" | grep -q "none of dvd, disk, net"; ok $? "it says what may be there ($err)"
run_hv vm set bo --boot-order net,dvd,disk
ok $rc "vm set --boot-order net,dvd,disk"
run_hv vm set bo --boot-order ""
ok $rc "an empty boot order is the firmware's own"
run_hv vm show bo
printf '%s' "$out" | grep -q '^Boot order: *dvd,disk (default)$'; ok $? "vm show says the default"
run_hv vm create bo2 --memory 128M --boot-order dvd
check_err 2 "a boot order for Gen2 is refused"
run_hv vm set bo --boot-order disk,dvd
run_hv vm export bo "$TMP/bo.cfg"
grep -q 'order = "disk,dvd";' "$TMP/bo.cfg"; ok $? "export writes the boot order"
done_testing
