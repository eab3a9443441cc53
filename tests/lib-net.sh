# tests/lib-net.sh - for the tests that run probe VMs on hv's switches
# (tests/net-vm.t, tests/net-qos.t). Source it after lib.sh:
#	NS_PREFIX=hvvm; . "$(dirname "$0")/lib-net.sh"
# It skips the test without root, /dev/kvm, the probe, /dev/net/tun, ip or
# python3; makes a network namespace $NS (deleted at exit with the VMs in
# it, and the namespaces in $EXTRA_NS), and defines:
#	nsx CMD...            CMD inside $NS;  hvx ARGS...: $HV inside $NS
#	run_hv ARGS...        like lib.sh's, inside $NS
#	host ARGS...          tests/net-host.py inside $NS
#	bg_host NAME ARGS...  the same in the background (ready file appended),
#	bg_result NAME        its output once it printed
#	probe_vm NAME CMDLINE NIC-OPTIONS...  a 64M probe VM with one adapter,
#	                      started, 'probe: ready' on its console
PROBE=${B:-$TOP/build}/guest/probe.elf
HOSTPY=$TOP/tests/net-host.py
[ "$(id -u)" = 0 ] || skip_all "switches, TAPs and namespaces need root"
[ -w /dev/kvm ] || skip_all "no /dev/kvm"
[ -f "$PROBE" ] || skip_all "probe guest not built ($PROBE)"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
command -v ip >/dev/null || skip_all "ip (iproute2) is not installed"
command -v python3 >/dev/null || skip_all "python3 is not installed"

NS=${NS_PREFIX:-hvnet}-$$
EXTRA_NS=${EXTRA_NS:-}
nsx() { ip netns exec "$NS" "$@"; }
hvx() { nsx "$HV" "$@"; }
net_cleanup() {
	for v in $(hvx vm list --json 2>/dev/null | python3 -c 'import json,sys; print(" ".join(v["name"] for v in json.load(sys.stdin)))' 2>/dev/null); do
		hvx vm stop "$v" >/dev/null 2>&1
	done
	for n in "$NS" $EXTRA_NS; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$TMP"
}
trap net_cleanup EXIT
ip netns add "$NS" || skip_all "cannot create a network namespace"
nsx ip link set lo up

run_hv() { out=$(hvx "$@" 2>"$TMP/stderr"); rc=$?; err=$(cat "$TMP/stderr"); }
host() { nsx python3 "$HOSTPY" "$@"; }
bg_host() {
	rm -f "$TMP/$1.rdy"
	nsx python3 "$HOSTPY" "${@:2}" "$TMP/$1.rdy" >"$TMP/$1.out" 2>&1 &
	for _ in $(seq 1 $((50 * SLOW))); do [ -e "$TMP/$1.rdy" ] && return; sleep 0.1; done
}
bg_result() {
	for _ in $(seq 1 $((150 * SLOW))); do grep -q . "$TMP/$1.out" 2>/dev/null && break; sleep 0.1; done
	cat "$TMP/$1.out"
}
probe_vm() {
	local name=$1 cmd=$2; shift 2
	hvx vm create "$name" --memory 64M --kernel "$PROBE" --cmdline "$cmd" >/dev/null &&
		hvx vm nic add "$name" "$@" >/dev/null &&
		hvx vm start "$name" >/dev/null &&
		wait_console "$name" 'probe: ready' 20
}
