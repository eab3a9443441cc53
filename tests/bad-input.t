#!/usr/bin/env bash
# Every bad input gets exit 2 (usage) or 1 (operation) and exactly one
# "hv: ..." line on stderr, never a crash (make check runs the ASan hv).
. "$(dirname "$0")/lib.sh"

"$HV" vm create taken --memory 128M >/dev/null 2>&1

# want-status | arguments (eval'd, so quotes work)
while IFS='|' read -r want args; do
	[ -z "$want" ] && continue
	eval "set -- $args"
	run_hv "$@"
	is "$rc" "$want" "exit $want: hv $args"
	one_error_line "hv $args"
done <<'CASES'
2|vm create big --memory 12Q
2|vm create big --memory ''
2|vm create big --memory -1G
2|vm create big --memory 1.5
2|vm create big --memory 99999999999999999999999G
2|vm create big --memory 1001M
2|vm create big --memory 16M
2|vm create big --memory 20T
1|vm create taken
2|vm create 'a/b'
2|vm create 'has space'
2|vm create ''
2|vm create -- -dash
2|vm create .hidden
2|vm create aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
2|vm create dm1 --dynamic-memory --memory 1G --min-memory 2G
2|vm create dm2 --dynamic-memory --memory 4G --max-memory 2G
2|vm create dm3 --dynamic-memory --memory 1G --min-memory 2G --max-memory 512M
2|vm create dm4 --dynamic-memory --buffer 4
2|vm create dm5 --dynamic-memory --buffer 2001
2|vm create dm6 --buffer -5
2|vm create dm7 --priority 101
2|vm create dm8 --buffer ten
2|vm create v0 --vcpus 0
2|vm create v1 --vcpus 100000000000000000000
2|vm create g3 --gen 3
2|vm create g1k --gen 1 --kernel /etc/hostname
2|vm create g2f --gen 2 --firmware /etc/hostname
1|vm create nod --disk /nonexistent/disk.vhdx
1|vm create nok --kernel /nonexistent/vmlinuz
2|vm create x --nosuchoption
2|vm create x --memory
2|vm create x --dynamic-memory=yes
2|vm create x --memory 1G --memory 2G
2|vm create
2|vm create a b
1|vm show nosuchvm
1|vm delete nosuchvm
1|vm set nosuchvm --memory 1G
1|vm export nosuchvm /tmp/x.cfg
1|vm import /nonexistent.cfg
2|vm set taken
2|vm set taken --dynamic-memory maybe
2|vm set taken --gen 1
2|vm set taken --name 'bad/name'
2|vm set taken --remove-disk /nonexistent
1|vm export taken /nonexistent/dir/x.cfg
2|vm create dv --dvd ''
1|vm create dv --dvd /nonexistent.iso
1|vm create dv --dvd /etc
2|vm dvd
2|vm dvd frob taken
2|vm dvd add
2|vm dvd list taken 0
2|vm dvd list taken --iso /etc/hostname
2|vm dvd add taken --eject
2|vm dvd add taken --iso ''
2|vm dvd remove taken 0 --iso /x.iso
2|vm dvd set taken 0
2|vm dvd set taken x --eject
2|vm dvd set taken -1 --eject
2|vm dvd set taken 4 --eject
2|vm dvd set taken 0 --iso /etc/hostname --eject
1|vm dvd set taken 0 --eject
1|vm dvd remove taken 0
1|vm dvd add nosuchvm
1|vm dvd list nosuchvm
1|vm dvd add taken --iso /nonexistent.iso
1|vm dvd add taken --iso /etc
1|vm dvd add taken --iso /dev/null
2|vm frobnicate
2|frobnicate
2|help nosuchnoun
2|-z
CASES

# the inventory is untouched by all of that
is "$(sqlite3 "$HV_HOME/hv.db" 'SELECT group_concat(name) FROM vms')" "taken" "only the one good VM exists"
run_hv vm show taken --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["memory"])')" 134217728 "its definition is unchanged"
done_testing
