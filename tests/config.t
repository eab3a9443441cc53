#!/usr/bin/env bash
# hv.conf: created with commented defaults; its values are the defaults
# for new VMs; a syntax error names file:line.
. "$(dirname "$0")/lib.sh"

run_hv vm list
ok $rc "first run on a new home"
[ -f "$HV_HOME/hv.conf" ]; ok $? "hv.conf created"
grep -q '^#' "$HV_HOME/hv.conf"; ok $? "with comments"
grep -q 'generation = 2' "$HV_HOME/hv.conf"; ok $? "showing the default generation"

sed -i 's/generation = 2;/generation = 1;/; s/vcpus = 1;/vcpus = 2;/; s/memory = "1G";/memory = "768M";/' "$HV_HOME/hv.conf"
run_hv vm create fromconf
ok $rc "create with host defaults"
run_hv vm show fromconf --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["generation"], d["vcpus"], d["memory"])')" \
   "1 2 805306368" "new VM takes generation, vCPUs and memory from hv.conf"

cp "$HV_HOME/hv.conf" "$TMP/good.conf"
sed -i '5s/$/ oops = ;/' "$HV_HOME/hv.conf"
run_hv vm list
is "$rc" 1 "syntax error: exit 1"
one_error_line "syntax error"
printf '%s' "$err" | grep -q "hv.conf:5: syntax error"; ok $? "names hv.conf:5 and the problem"

cp "$TMP/good.conf" "$HV_HOME/hv.conf"
sed -i 's/vcpus = 2;/vcpus = "two";/' "$HV_HOME/hv.conf"
run_hv vm list
is "$rc" 1 "wrong type: exit 1"
printf '%s' "$err" | grep -q 'hv.conf:[0-9]*: defaults.vcpus: not a number'; ok $? "wrong type names file:line ($err)"
cp "$TMP/good.conf" "$HV_HOME/hv.conf"
sed -i 's/memory_buffer = 20;/memory_buffer = 1;/' "$HV_HOME/hv.conf"
run_hv vm list
is "$rc" 1 "out of range: exit 1"; one_error_line "out of range"
done_testing
