#!/usr/bin/env bash
# vm export, delete, import restores an identical definition.
. "$(dirname "$0")/lib.sh"

echo a > "$TMP/d1.vhdx"; echo b > "$TMP/d2.qcow2"; echo k > "$TMP/vmlinuz"; echo i > "$TMP/initrd"
run_hv vm create full --gen 2 --vcpus 3 --memory 1536M --dynamic-memory --min-memory 512M \
	--max-memory 6G --buffer 35 --priority 70 --kernel "$TMP/vmlinuz" --initrd "$TMP/initrd" \
	--cmdline 'console=ttyS0 root=/dev/vda "quoted"' --notes 'tier: web; owner=ops' \
	--disk "$TMP/d1.vhdx" --disk "$TMP/d2.qcow2"
ok $rc "create a VM with every setting"
run_hv vm create g1 --gen 1 --memory 256M --firmware /etc/hostname
ok $rc "create a gen 1 VM with firmware"

for vm in full g1; do
	run_hv vm show $vm --json; before=$out
	run_hv vm export $vm "$TMP/$vm.cfg"
	ok $rc "$vm: export"
	run_hv vm delete $vm
	ok $rc "$vm: delete"
	run_hv vm show $vm
	is "$rc" 1 "$vm: gone"
	run_hv vm import "$TMP/$vm.cfg"
	ok $rc "$vm: import"
	run_hv vm show $vm --json; after=$out
	is "$after" "$before" "$vm: show --json identical after export/delete/import"
done

run_hv vm import "$TMP/full.cfg"
is "$rc" 1 "importing over an existing VM is refused"
one_error_line "duplicate import"
run_hv vm import "$TMP/full.cfg" --name copy --new-uuid
is "$rc" 1 "a copy still cannot share the disks"
sed -i '/disks/d' "$TMP/full.cfg"
run_hv vm import "$TMP/full.cfg" --name copy --new-uuid
ok $rc "import a copy under a new name and UUID"

# hostile definitions: one line with file:line, nothing registered
printf 'vm = { name = "x"; memory = 12; ' > "$TMP/syntax.cfg"
run_hv vm import "$TMP/syntax.cfg"
is "$rc" 1 "syntax error exits 1"; one_error_line "syntax error"
printf '%s' "$err" | grep -q 'syntax.cfg:1'; ok $? "names file:line"
printf 'vm = { name = "x"; memory = "lots"; };\n' > "$TMP/size.cfg"
run_hv vm import "$TMP/size.cfg"
[ "$rc" -ne 0 ]; ok $? "bad size refused"; one_error_line "bad size"
printf 'vm = { name = "x/y"; };\n' > "$TMP/name.cfg"
run_hv vm import "$TMP/name.cfg"
[ "$rc" -ne 0 ]; ok $? "bad name refused"; one_error_line "bad name"
printf 'vm = { name = "x"; vcpus = "four"; };\n' > "$TMP/type.cfg"
run_hv vm import "$TMP/type.cfg"
[ "$rc" -ne 0 ]; ok $? "wrong type refused"; one_error_line "wrong type"
printf 'other = 1;\n' > "$TMP/nogroup.cfg"
run_hv vm import "$TMP/nogroup.cfg"
[ "$rc" -ne 0 ]; ok $? "not a VM file refused"; one_error_line "not a VM file"
run_hv vm show x
is "$rc" 1 "no half-imported VM"

# storage QoS travels with its disk
echo c > "$TMP/q0.raw"; echo d > "$TMP/q1.raw"
run_hv vm create qos --memory 256M --disk "$TMP/q0.raw" --disk "$TMP/q1.raw"
run_hv vm disk set qos 1 --max-iops 500 --min-iops 100 --max-bandwidth 100M/s
ok $rc "a disk's storage QoS"
run_hv vm show qos --json; before=$out
run_hv vm export qos "$TMP/qos.cfg"
grep -q 'max_iops = 500' "$TMP/qos.cfg"; ok $? "qos: exported with the disk"
run_hv vm delete qos
run_hv vm import "$TMP/qos.cfg"
ok $rc "qos: import"
run_hv vm show qos --json
is "$out" "$before" "qos: show --json identical after export/delete/import"
printf 'vm = { name = "x"; disks = ( { path = "/d"; max_iops = -1; } ); };\n' >"$TMP/iops.cfg"
run_hv vm import "$TMP/iops.cfg"
[ "$rc" -ne 0 ]; ok $? "negative max_iops refused"; one_error_line "negative max_iops"
printf 'vm = { name = "x"; disks = ( { path = "/d"; max_iops = 100; min_iops = 200; } ); };\n' >"$TMP/minmax.cfg"
run_hv vm import "$TMP/minmax.cfg"
[ "$rc" -ne 0 ]; ok $? "minimum IOPS above maximum refused"; one_error_line "min above max"
run_hv vm show x
is "$rc" 1 "still no half-imported VM"
done_testing
