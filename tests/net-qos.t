#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Minimum bandwidth under contention: two probe VMs on an internal switch
# of 100 Mbit/s, one reserving 70 and the other 10, both sending UDP flat
# out at once to sinks on the host; each gets at least (90% of) its
# reserve and together no more than the switch carries. Alone, the one
# with the small reserve gets most of the switch. In the lab (TCG, where
# two probes cannot push 100 Mbit/s through the host) the switch has
# 20 Mbit/s and the reserves and checks scale with it. Also: the switch's
# bandwidth in switch create/show/list, and the warning for a reserve on
# a switch of unknown bandwidth. Network namespace as in tests/net-vm.t.
. "$(dirname "$0")/lib.sh"
NS_PREFIX=hvqos
. "$(dirname "$0")/lib-net.sh"
BW=$((SLOW > 1 ? 20 : 100))	# the switch, Mbit/s
pct() { python3 -c "print(round($BW * $1 / 100, 1))"; }	# percent of BW

mbit_of() { bg_result "$1" | grep -o 'mbit=[0-9.]*' | cut -d= -f2; }
at_least() { python3 -c "import sys; sys.exit(not float('${1:-0}') >= $2)"; echo $?; }
stream() {	# vm port seconds: start it, do not wait
	host console "$HV_HOME/run/$1.sock" "udp-stream dst=10.9.0.1 port=$2 seconds=$3 size=1400"
}
# two sinks at once: each port's payload rate between its first and last
# datagram, and both together over the span of the two (streams that
# start a moment apart have each a moment alone)
cat >"$TMP/sink2.py" <<'PY'
import select, socket, sys, time
addr, ports, secs, ready = sys.argv[1], [int(p) for p in sys.argv[2:4]], float(sys.argv[4]), sys.argv[5]
socks = []
for p in ports:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((addr, p))
    s.setblocking(False)
    socks.append(s)
open(ready, "w").close()
nbytes, first, last = [0, 0], [None, None], [None, None]
end = time.time() + secs
while time.time() < end:
    for s in select.select(socks, [], [], 0.2)[0]:
        i = socks.index(s)
        while True:
            try:
                d = s.recv(4000)
            except BlockingIOError:
                break
            t = time.monotonic()
            first[i] = first[i] or t
            last[i] = t
            nbytes[i] += len(d)
def mbit(b, t0, t1):
    return b * 8 / (t1 - t0) / 1e6 if t0 and t1 and t1 > t0 else 0
print("a=%.1f b=%.1f sum=%.1f" % (mbit(nbytes[0], first[0], last[0]), mbit(nbytes[1], first[1], last[1]),
      mbit(sum(nbytes), min(f or 1e18 for f in first), max(l or 0 for l in last))))
PY

# 1. a switch's bandwidth, and a reserve on a switch without one
run_hv switch create qsw --type internal --host-ip 10.9.0.1/24 --bandwidth ${BW}M
ok $rc "an internal switch of $BW Mbit/s ($err)"
is "$out" "created internal switch qsw (bridge hv-qsw, bandwidth ${BW}M)" "create says its bandwidth"
run_hv switch show qsw --json
is "$(printf '%s' "$out" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["bandwidth"], j["capacity"])')" \
	"${BW}000000 ${BW}000000" "switch show --json: bandwidth and capacity"
run_hv switch show qsw
printf '%s\n' "$out" | grep -q "^Bandwidth: *${BW}M, minimum bandwidth reserved out of it\$"; ok $? "switch show says it"
run_hv switch list
printf '%s\n' "$out" | grep -q "^qsw  *internal  *hv-qsw  *up  *${BW}M "; ok $? "switch list has a BANDWIDTH column"
run_hv switch create bad --type private --bandwidth fast
is "$rc" 2 "--bandwidth fast is a usage error"
run_hv switch create nocap --type private
run_hv vm create w --memory 64M --kernel "$PROBE"
run_hv vm nic add w --switch nocap --min-bandwidth 10M
ok $rc "a reserve on a switch of unknown bandwidth is recorded"
is "$err" "hv: warning: switch nocap has no known bandwidth, so minimum bandwidth is recorded but not enforced (give the switch one: hv switch create --bandwidth BITS)" \
	"with one warning line on stderr"
run_hv vm nic set w 0 --min-bandwidth 20M
ok $([ $rc = 0 ] && printf '%s' "$err" | grep -q '^hv: warning: switch nocap '; echo $?) "and when vm nic set changes it"
run_hv vm nic add w --switch qsw --min-bandwidth 10M
is "$rc:$err" "0:" "none on a switch with a bandwidth"
run_hv switch show nocap
printf '%s\n' "$out" | grep -q '^Bandwidth: *unknown'; ok $? "switch show: unknown bandwidth"

# 2. contention: 70% and 10% reserved, both flat out
RA=$((BW * 70 / 100)) RB=$((BW * 10 / 100))
probe_vm a "net-up ip=10.9.0.2/24; ready" --switch qsw --min-bandwidth ${RA}M &&
	probe_vm b "net-up ip=10.9.0.3/24; ready" --switch qsw --min-bandwidth ${RB}M
ok $? "VMs a (${RA}M reserved) and b (${RB}M) on qsw are ready" || diag "$(log_of a)" "$(log_of b)"
[ -f "$HV_HOME/run/qos/net-hv-qsw" ]; ok $? "their ports share run/qos/net-hv-qsw"
rm -f "$TMP/s2.rdy"
nsx python3 "$TMP/sink2.py" 10.9.0.1 5020 5021 7 "$TMP/s2.rdy" >"$TMP/s2.out" 2>&1 &
for _ in $(seq 1 $((50 * SLOW))); do [ -e "$TMP/s2.rdy" ] && break; sleep 0.1; done
stream a 5020 4 & pa=$!
stream b 5021 4 & pb=$!
wait $pa $pb
r=$(bg_result s2)
ma=$(printf '%s' "$r" | grep -o 'a=[0-9.]*' | cut -d= -f2)
mb=$(printf '%s' "$r" | grep -o 'b=[0-9.]*' | cut -d= -f2)
ms=$(printf '%s' "$r" | grep -o 'sum=[0-9.]*' | cut -d= -f2)
# payload rates: 1400 bytes of payload are 1442 on the wire
ok $(at_least "$ma" "$(pct 63)") "a gets at least 90% of its $RA Mbit/s: ${ma:-?} Mbit/s"
ok $(at_least "$mb" "$(pct 9)") "b gets at least 90% of its $RB Mbit/s: ${mb:-?} Mbit/s"
ok $(python3 -c "import sys; sys.exit(not 0 < float('${ms:-999}') <= $(pct 110))"; echo $?) \
	"together no more than the switch: ${ms:-?} Mbit/s"
for _ in $(seq 1 $((50 * SLOW))); do log_of a | grep -q '^udp-stream: ' && log_of b | grep -q '^udp-stream: ' && break; sleep 0.1; done
ran="$(log_of a | grep -c '^udp-stream: ok')$(log_of b | grep -c '^udp-stream: ok')"
is "$ran" 11 "both streams ran their 4 s"
[ "$ran" = 11 ] || diag "a: $(log_of a | grep '^udp-stream')" "b: $(log_of b | grep '^udp-stream')"

# 3. b alone takes what a leaves
bg_host sb2 serve 10.9.0.1 5022 6 sink
stream b 5022 3
mb=$(mbit_of sb2)
ok $(at_least "$mb" "$(pct 80)") "alone, b gets most of the $BW Mbit/s: ${mb:-?} Mbit/s"
run_hv vm show b --json
ok $(printf '%s' "$out" | python3 -c 'import json,sys; sys.exit(not json.load(sys.stdin)["runtime"]["nics"][0]["throttled"] > 0)'; echo $?) \
	"its port counts the times QoS held it back"
hvx vm stop a >/dev/null; hvx vm stop b >/dev/null
done_testing
