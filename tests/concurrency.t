#!/usr/bin/env bash
# Two hv processes creating 200 VMs each at the same time: 400 rows, none
# lost, no "database is locked".
. "$(dirname "$0")/lib.sh"
plan 5

for p in a b; do
	for i in $(seq 1 200); do echo "vm create $p-$i --memory 64M"; done > "$TMP/$p.hv"
done
# both start on a fresh home: they also race to create hv.db and migrate it
"$HV" -f "$TMP/a.hv" >"$TMP/a.out" 2>"$TMP/a.err" & pa=$!
"$HV" -f "$TMP/b.hv" >"$TMP/b.out" 2>"$TMP/b.err" & pb=$!
wait $pa; ra=$?
wait $pb; rb=$?
is "$ra/$rb" "0/0" "both writers exit 0"
cat "$TMP/a.err" "$TMP/b.err" | head -5 | sed 's/^/# /'
! grep -qi 'locked\|busy' "$TMP/a.err" "$TMP/b.err"; ok $? "no 'database is locked'"
is "$(sqlite3 "$HV_HOME/hv.db" 'SELECT count(*) FROM vms')" 400 "400 rows in vms"
run_hv vm list --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 400 "vm list shows 400"
is "$(sqlite3 "$HV_HOME/hv.db" "SELECT count(DISTINCT name) FROM vms WHERE name LIKE 'a-%' OR name LIKE 'b-%'")" 400 "every name present once"
done_testing
