#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Resource metering (Hyper-V's Measure-VM): the worker samples CPU time,
# memory, disk and network into the inventory every 5 s and when the VM
# stops; `hv vm metrics` averages them. A probe VM on a 64 MiB raw disk
# runs blk-bench from its console; what it did is measured beside hv (the
# worker's live disk counters, the probe's own count, the worker's CPU in
# /proc, the host's clock) and the averages must agree within 5%. Then
# --since, a second run (counters restart: the runs add up), the TUI's
# memory columns and sparkline, and --reset.
. "$(dirname "$0")/lib.sh"
PROBE=${B:-$TOP/build}/guest/probe.elf
HOSTPY=$TOP/tests/net-host.py
[ -w /dev/kvm ] || skip_all "no /dev/kvm (needs root and KVM)"
[ -f "$PROBE" ] || skip_all "probe guest not built ($PROBE)"
command -v python3 >/dev/null || skip_all "python3 is not installed"
SOCK=hvmt$$
trap '"$HV" vm stop mv >/dev/null 2>&1; tmux -L "$SOCK" kill-server 2>/dev/null; rm -rf "$TMP"' EXIT

now_ms() { echo $(($(date +%s%N) / 1000000)); }
json() {	# python expression on the JSON in $out
	printf '%s' "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
runtime_disk() {	# vm field: runtime.disks[0].field of a running VM
	"$HV" vm show "$1" --json | python3 -c "import json,sys; print(int(json.load(sys.stdin)['runtime']['disks'][0]['$2']))"
}
cpu_ticks() {	# pid: utime + stime (fields 14, 15 of /proc/PID/stat)
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}
within() {	# got want percent
	python3 -c "import sys; g,w,p=map(float,sys.argv[1:]); sys.exit(0 if abs(g-w) <= abs(w)*p/100 else 1)" "$@"
}
bench() {	# vm seconds: blk-bench on the console, its result line in $res
	local before
	before=$(log_of "$1" | grep -c '^blk-bench: ')
	python3 "$HOSTPY" console "$HV_HOME/run/$1.sock" "blk-bench dev=0 seconds=$2 depth=1"
	for _ in $(seq 1 $((($2 + 20) * 10))); do
		[ "$(log_of "$1" | grep -c '^blk-bench: ')" -gt "$before" ] && break
		sleep 0.1
	done
	res=$(log_of "$1" | grep '^blk-bench: ' | tail -1)
}
HZ=$(getconf CLK_TCK)

# 1. a run: an idle probe, blk-bench for 6 s, turned off at once after
truncate -s 64M "$TMP/mv.raw"
run_hv vm create mv --memory 64M --kernel "$PROBE" --disk "$TMP/mv.raw" --cmdline ready
ok $rc "a probe VM with 64M and a 64 MiB raw disk ($err)"
run_hv vm start mv; ok $rc "it starts"
wait_console mv 'probe: ready' 20; ok $? "the probe is ready"
pid=$("$HV" vm show mv --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')

# A: a fresh sample (hv vm metrics of a running VM asks for one), after
# another one that --since will leave out
"$HV" vm metrics mv >/dev/null
ticks_a=$(cpu_ticks "$pid")
t_a0=$(now_ms)
run_hv vm metrics mv --json
t_a=$(now_ms)
ok $rc "vm metrics of the running VM ($err)"
since=$(json 'd["last"]')
req_a=$(runtime_disk mv read_requests); bytes_a=$(runtime_disk mv read_bytes)
t_a_ms_host=$t_a

bench mv 6
reads=$(printf '%s' "$res" | sed -n 's/.*reads=\([0-9]*\).*/\1/p')
ok $([ -n "$reads" ] && [ "$reads" -gt 0 ]; echo $?) "blk-bench ran: ${res:-nothing}"
req_b=$(runtime_disk mv read_requests); bytes_b=$(runtime_disk mv read_bytes)
ticks_b=$(cpu_ticks "$pid"); t_b=$(now_ms)
t_s0=$(now_ms)
run_hv vm stop mv
t_s1=$(now_ms)
ok $rc "turned off right after"
wait_off mv

req=$((req_b - req_a)); bytes=$((bytes_b - bytes_a))
host_s=$(python3 -c "print(($t_s0 + $t_s1) / 2000 - $t_a_ms_host / 1000)")
host_iops=$(python3 -c "print($req / $host_s)")
host_cpu=$(python3 -c "print(($ticks_b - $ticks_a) * 100.0 / $HZ / (($t_b - $t_a_ms_host) / 1000))")
diag "measured: $req reads ($bytes bytes) in ${host_s}s = $host_iops IOPS, worker CPU $host_cpu %; probe: $res"

run_hv vm metrics mv --json --since "$since"
ok $rc "vm metrics --since the sample before the bench, after the VM stopped ($err)"
diag "hv vm metrics: $(json 'd["samples"], "samples", d["seconds"], "s, ios", d["disk"]["ios"], "read", d["disk"]["read_bytes"], "iops %.1f" % d["disk"]["iops"], "cpu %.1f %%" % d["cpu_pct"]')"
within "$(json 'd["disk"]["ios"]')" "$req" 5; ok $? "disk IOs: $(json 'd["disk"]["ios"]') vs $req the worker's counters saw"
within "$(json 'd["disk"]["ios"]')" "${reads:-0}" 5; ok $? "and vs ${reads:-?} the probe counted"
within "$(json 'd["disk"]["read_bytes"]')" "$bytes" 5; ok $? "bytes read: $(json 'd["disk"]["read_bytes"]') vs $bytes"
is "$(json 'd["disk"]["write_bytes"]')" 0 "bytes written: 0"
# the first sample was taken during `vm metrics` (t_a0..t_a), the last
# during `vm stop` (t_s0..t_s1): on a slow host each call takes a while
between() {	# got lo hi percent
	python3 -c "import sys; g,l,h,p=map(float,sys.argv[1:]); sys.exit(0 if l*(1-p/100) <= g <= h*(1+p/100) else 1)" "$@"
}
win_lo=$(python3 -c "print(($t_s0 - $t_a) / 1000)"); win_hi=$(python3 -c "print(($t_s1 - $t_a0) / 1000)")
between "$(json 'd["seconds"]')" "$win_lo" "$win_hi" 5
ok $? "the window: $(json 'd["seconds"]') s vs ${win_lo}..${win_hi} s on the host's clock"
between "$(json 'd["disk"]["iops"]')" "$(python3 -c "print($req / $win_hi)")" "$(python3 -c "print($req / $win_lo)")" 5
ok $? "average IOPS: $(json '"%.1f" % d["disk"]["iops"]') vs $host_iops"
is "$(json 'd["disk"]["normalized_ios"] == d["disk"]["ios"]')" True "4 KiB reads: normalized IOs = IOs"
cpu=$(json 'd["cpu_pct"]')
python3 -c "import sys; c, h = $cpu, $host_cpu; sys.exit(0 if 0 < c <= 100 * $(nproc) and abs(c - h) <= max(10, h * 0.25) else 1)"
ok $? "CPU: $cpu % vs $host_cpu % from /proc/$pid/stat (within 25% or 10 points)"
is "$(json 'd["memory"]["assigned_average"], d["memory"]["assigned_minimum"], d["memory"]["assigned_maximum"]')" \
	"67108864 67108864 67108864" "memory without dynamic memory: 64M average, minimum and maximum"
is "$(json 'd["memory"]["demand_average"]')" 0 "no demand without dynamic memory"
run1=$out

# 2. --since: older samples drop out; a relative time; the future; nonsense
run_hv vm metrics mv --json
all=$out
n_all=$(json 'd["samples"]'); n_win=$(printf '%s' "$run1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["samples"])')
ok $([ "$n_all" -gt "$n_win" ]; echo $?) "without --since: all $n_all samples, $n_win since the bench"
ok $(json 'int(d["first"] < '"$since"')' | grep -qx 1; echo $?) "and the window starts at the worker's start, before it"
run_hv vm metrics mv --json --since 10m
is "$(json 'd["samples"]')" "$n_all" "--since 10m: all of them"
run_hv vm metrics mv --json --since $(($(date +%s) + 60))
is "$(json 'd["samples"], d["disk"]["ios"]')" "0 0" "--since a minute ahead: none"
run_hv vm metrics mv --since yesterday
ok $([ "$rc" -ne 0 ]; echo $?) "--since yesterday is refused"
one_error_line "--since nonsense"
run_hv vm metrics mv
printf '%s\n' "$out" | grep -q '^  disk .*IOPS' && printf '%s\n' "$out" | grep -q '^  CPU .*% average' &&
	printf '%s\n' "$out" | grep -q '^  memory    assigned 64.0 MiB average, 64.0 MiB minimum, 64.0 MiB maximum'
ok $? "and for people: CPU, memory, disk lines"

# 3. a second run: its counters start at zero again, the runs add up, the
# time it was off is not counted; the TUI shows its memory meanwhile
run_hv vm start mv; ok $rc "start it again"
wait_console mv 'probe: ready' 20
bench mv 2
req2=$(runtime_disk mv read_requests)
if command -v tmux >/dev/null; then
	tm() { tmux -L "$SOCK" "$@"; }
	tm new-session -d -s tui -x 100 -y 30 \
		"env HV_HOME='$HV_HOME' HV_ASCII=1 ASAN_OPTIONS=detect_leaks=0 TERM=screen '$HV' tui"
	for _ in $(seq 1 $((100 * SLOW))); do
		tm capture-pane -t tui -p | grep -q 'Memory: assigned 64M, demand -  %* assigned' && break
		sleep 0.1
	done
	s=$(tm capture-pane -t tui -p)
	printf '%s\n' "$s" | grep -q '^ mv  *Running  *2  *[0-9.-]*  *64M  *- '
	ok $? "TUI: the list shows 64M assigned, no demand (no dynamic memory)"
	printf '%s\n' "$s" | grep -q 'Memory: assigned 64M, demand -  %%* assigned'
	ok $? "TUI: the details show assigned and demand, and a sparkline of the samples"
	[ "$T_FAIL" -eq 0 ] || diag "the TUI showed:" "$s"
	tm kill-server 2>/dev/null
else
	T_N=$((T_N + 2)); echo "ok $((T_N - 1)) # skip tmux is not installed"; echo "ok $T_N # skip tmux is not installed"
fi
run_hv vm stop mv; wait_off mv
run_hv vm metrics mv --json
ios1=$(printf '%s' "$all" | python3 -c 'import json,sys; print(json.load(sys.stdin)["disk"]["ios"])')
within "$(json 'd["disk"]["ios"]')" $((ios1 + req2)) 5
ok $? "two runs: $(json 'd["disk"]["ios"]') IOs = $ios1 + $req2 (the counters restarted, the runs add up)"
gap=$(json '(d["last"] - d["first"]) / 1000 - d["seconds"]')
ok $(python3 -c "import sys; sys.exit(0 if $gap >= 1 else 1)"; echo $?) "the time it was off is left out (${gap}s)"

# 4. --reset
run_hv vm metrics mv --reset
ok $rc "vm metrics --reset"
run_hv vm metrics mv --json
is "$(json 'd["samples"], d["disk"]["ios"], d["seconds"]')" "0 0 0" "--reset: no samples left"

if grep -q 'Sanitizer\|runtime error' "$HV_HOME/log/mv.log" 2>/dev/null; then
	diag "$(grep -m3 'Sanitizer\|runtime error' "$HV_HOME/log/mv.log")"
	ok 1 "no sanitizer report from the worker"
fi
done_testing
