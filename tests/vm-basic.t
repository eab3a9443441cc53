#!/usr/bin/env bash
# vm create/list/show/set/delete, help and version, against the inventory.
. "$(dirname "$0")/lib.sh"

run_hv vm create web1 --memory 2G --vcpus 2
ok $rc "vm create exits 0"
run_hv vm create db --gen 1 --dynamic-memory --memory 4G --min-memory 1G --max-memory 8G --buffer 30 --priority 80
ok $rc "gen 1 VM with dynamic memory"
run_hv vm list
ok $rc "vm list exits 0"
printf '%s\n' "$out" | grep -q '^web1 *Off *2 *2 *2G' ; ok $? "list shows web1 Off gen 2, 2 vCPUs, 2G"
printf '%s\n' "$out" | grep -q '^db *Off *1 *1 *1G-8G'; ok $? "list shows db's dynamic range"

run_hv vm show db --json
ok $rc "vm show --json exits 0"
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); m=d["dynamic_memory"]; print(d["generation"], d["memory"], m["enabled"], m["minimum"], m["maximum"], m["buffer"], m["priority"])')" \
   "1 4294967296 True 1073741824 8589934592 30 80" "show --json has the definition"

run_hv vm list --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(",".join(v["name"] for v in json.load(sys.stdin)))')" "db,web1" "list --json sorted by name"

# settings change; generation is fixed
run_hv vm set web1 --memory 4G --vcpus 4 --dynamic-memory on --max-memory 16G
ok $rc "vm set memory, vcpus, dynamic memory"
run_hv vm show web1 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["vcpus"], d["memory"], d["dynamic_memory"]["enabled"], d["dynamic_memory"]["maximum"])')" \
   "4 4294967296 True 17179869184" "set took effect"
run_hv vm set web1 --gen 1
is "$rc" 2 "changing the generation is refused (usage)"
one_error_line "generation change"

# by UUID too
uuid=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["uuid"])' 2>/dev/null)
run_hv vm show web1 --json
uuid=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["uuid"])')
run_hv vm show "$uuid"
ok $rc "vm show by UUID"
printf '%s\n' "$out" | grep -q '^Name: *web1'; ok $? "UUID finds web1"

# rename and disks
echo data > "$TMP/disk0.img"
run_hv vm set web1 --name web2 --add-disk "$TMP/disk0.img"
ok $rc "rename and attach a disk"
run_hv vm show web2 --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["disks"][0])')" "$TMP/disk0.img" "disk stored by absolute path"
run_hv vm create other --disk "$TMP/disk0.img"
is "$rc" 1 "a disk attached to another VM is refused"
one_error_line "disk in use"
run_hv vm set web2 --remove-disk "$TMP/disk0.img"
ok $rc "detach the disk"
run_hv vm create other --disk "$TMP/disk0.img"
ok $rc "now another VM can attach it"

# delete
run_hv vm delete web2
ok $rc "vm delete exits 0"
run_hv vm show web2
is "$rc" 1 "deleted VM is gone"
[ -f "$TMP/disk0.img" ]; ok $? "delete keeps disk files"

# help, generated from the tables
run_hv help
ok $rc "help exits 0"
printf '%s\n' "$out" | grep -q 'vm create NAME'; ok $? "help lists vm create"
run_hv vm create --help
ok $rc "vm create --help exits 0"
for o in --gen --vcpus --memory --dynamic-memory --min-memory --max-memory --buffer --priority --kernel --disk; do
	printf '%s\n' "$out" | grep -q -- "$o"
	ok $? "vm create --help documents $o"
done
run_hv help vm
printf '%s\n' "$out" | grep -q 'vm export NAME FILE'; ok $? "help vm lists export"
run_hv version
ok $rc "version exits 0"
printf '%s\n' "$out" | grep -q '^hv [0-9]'; ok $? "version prints hv N.N.N"

# state on disk
[ -f "$HV_HOME/hv.db" ]; ok $? "inventory at \$HV_HOME/hv.db"
is "$(sqlite3 "$HV_HOME/hv.db" 'PRAGMA journal_mode')" "wal" "inventory is in WAL mode"
[ "$(sqlite3 "$HV_HOME/hv.db" 'PRAGMA user_version')" -ge 1 ]; ok $? "schema version recorded"
for t in vms disks switches nics checkpoints hosts events; do
	sqlite3 "$HV_HOME/hv.db" "SELECT count(*) FROM $t" >/dev/null 2>&1
	ok $? "table $t exists"
done
[ "$(sqlite3 "$HV_HOME/hv.db" "SELECT count(*) FROM events WHERE message LIKE 'created%'")" -ge 2 ]
ok $? "events record creation"
done_testing
