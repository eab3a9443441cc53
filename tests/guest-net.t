#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# The probe's virtio-net driver and IPv4 stack (tests/guest/net*.c) against
# QEMU's virtio-net-pci, the reference device: two probes on TAPs on a
# bridge in a private network namespace, the bridge at 10.0.0.1/24.  The
# host pings a probe and round-trips UDP echo with it both ways, the two
# probes exchange UDP and ICMP, udp-stream reaches a host sink, and the
# forge-* frames show up on the bridge.  hv's own virtio-net will be held
# to the same script.
. "$(dirname "$0")/lib.sh"
B=${B:-$TOP/build}
PROBE=$B/guest/probe.elf
QEMU=$(command -v qemu-system-x86_64) || skip_all "qemu-system-x86_64 not installed"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip_all "no usable /dev/kvm"
[ "$(id -u)" = 0 ] || skip_all "network namespaces and TAPs need root"
command -v ip >/dev/null || skip_all "ip (iproute2) not installed"
command -v python3 >/dev/null || skip_all "python3 not installed"
[ -c /dev/net/tun ] || skip_all "no /dev/net/tun"
[ -f "$PROBE" ] || skip_all "$PROBE not built (make)"
plan 16

NS=hvnet-$$
nsx() { ip netns exec "$NS" "$@"; }
QPIDS=()
cleanup() {
	local p
	for p in "${QPIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ip netns add "$NS" || skip_all "cannot create a network namespace"
nsx ip link set lo up
nsx ip link add br0 type bridge
nsx ip addr add 10.0.0.1/24 dev br0
nsx ip link set br0 up
for t in tap0 tap1; do
	nsx ip tuntap add dev $t mode tap vnet_hdr
	nsx ip link set $t master br0
	nsx ip link set $t up
done

# the host side: ping, UDP echo client/server, sink, a raw sniffer on br0
HOSTPY=$TOP/tests/net-host.py
host() { nsx python3 "$HOSTPY" "$@"; }
bg_host() {	# name args... : runs in the background, ready file $TMP/name.rdy
	rm -f "$TMP/$1.rdy"
	nsx python3 "$HOSTPY" "${@:2}" "$TMP/$1.rdy" >"$TMP/$1.out" 2>&1 &
	for _ in $(seq 1 $((50 * SLOW))); do [ -e "$TMP/$1.rdy" ] && return; sleep 0.1; done
}

QARGS=(-M q35 -enable-kvm -m 128 -kernel "$PROBE" -serial stdio -display none
	-nodefaults -no-user-config -no-reboot
	-device isa-debug-exit,iobase=0xf4,iosize=1)

start_probe() {	# n tap mac ip: console in $TMP/pN.in, output in $TMP/pN.out
	mkfifo "$TMP/p$1.in"
	nsx timeout $((200 * SLOW)) "$QEMU" "${QARGS[@]}" -append "net-up dev=0 ip=$4/24;ready" \
		-netdev tap,id=n0,ifname="$2",script=no,downscript=no,vnet_hdr=on \
		-device virtio-net-pci,netdev=n0,disable-legacy=on,mac="$3" \
		-monitor unix:"$TMP/mon$1",server,nowait \
		<"$TMP/p$1.in" >"$TMP/p$1.out" 2>"$TMP/p$1.err" &
	QPIDS+=($!)
}
out_of() { tr -d '\r' <"$TMP/p$1.out"; }
wait_for() {	# n pattern seconds
	for _ in $(seq 1 $(($3 * 10 * SLOW))); do
		out_of "$1" | grep -q -- "$2" && return 0
		sleep 0.1
	done
	return 1
}
results() { out_of "$1" | grep -c "^$2: "; }
probe() {	# n command: runs it on probe n, $res = its new result line
	local name=${2%% *} before
	before=$(results "$1" "$name")
	echo "$2" >&$(($1 + 3))
	for _ in $(seq 1 $((300 * SLOW))); do
		[ "$(results "$1" "$name")" -gt "$before" ] && break
		sleep 0.1
	done
	res=$(out_of "$1" | grep "^$name: " | tail -1)
	[ -n "$res" ] && [ "$(results "$1" "$name")" -gt "$before" ] ||
		diag "probe $1 did not answer \"$2\"; its console:" "$(out_of "$1" | tail -n 5)" \
			"its CPU (QEMU's monitor):" "$(hmp "$1" 'info registers' | grep -E '^(RIP|RFL|CS )')" \
			"$(hmp "$1" 'info lapic' | grep -E 'ISR|IRR|LVTT|Timer|TPR')"
}
# a line of QEMU's human monitor on probe n, its answer on stdout
hmp() {
	python3 - "$TMP/mon$1" "$2" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.settimeout(5)
s.connect(sys.argv[1])
s.send((sys.argv[2] + "\n").encode())
out, end = b"", time.time() + 3
while time.time() < end:
    try:
        b = s.recv(65536)
    except socket.timeout:
        break
    if not b:
        break
    out += b
sys.stdout.write(out.decode(errors="replace").replace("\r", ""))
PY
}
count() { printf '%s\n' "$1" | grep -o -- "$2=[0-9]*" | cut -d= -f2; }

start_probe 0 tap0 52:54:00:12:34:56 10.0.0.2
start_probe 1 tap1 52:54:00:12:34:57 10.0.0.3
exec 3>"$TMP/p0.in" 4>"$TMP/p1.in"
t0=$(date +%s)
if ! wait_for 0 'probe: ready' 30 || ! wait_for 1 'probe: ready' 30; then
	diag "probe A:" "$(out_of 0)" "probe B:" "$(out_of 1)"
	echo "Bail out! the probes never became ready"
	exit 1
fi
diag "both probes ready after $(($(date +%s) - t0)) s"

ok $(out_of 0 | grep -q '^net-up: ok dev=0 mac=52:54:00:12:34:56 ip=10.0.0.2 link=up features=0x1'; echo $?) \
	"probe A: virtio-net up, MAC from the device, link up, VERSION_1"
ok $(out_of 1 | grep -q '^net-up: ok dev=0 mac=52:54:00:12:34:57 ip=10.0.0.3 link=up'; echo $?) \
	"probe B: virtio-net up"

# --- host <-> probe ---
r=$(host ping 10.0.0.2 3)
is "$r" "ping received=3" "the host pings probe A (ICMP echo, 3 of 3)"
r=$(host echo 10.0.0.2 20)
is "$r" "echo received=20" "host -> probe A UDP port 7: 20 datagrams echoed intact"

bg_host echo7 serve 10.0.0.1 7 5 echo
probe 0 "udp-send dev=0 dst=10.0.0.1 port=7 count=20 size=200"
is "$res" "udp-send: ok sent=20 received=20" "probe A -> host echo server: 20 of 20 back"
probe 0 "icmp-ping dev=0 dst=10.0.0.1 count=3"
is "$res" "icmp-ping: ok sent=3 received=3" "probe A pings the host"

# --- probe <-> probe ---
probe 0 "udp-send dev=0 dst=10.0.0.3 port=7 count=50 size=512"
is "$res" "udp-send: ok sent=50 received=50" "probe A -> probe B UDP echo: 50 of 50"
probe 1 "udp-send dev=0 dst=10.0.0.2 port=7 count=50 size=1472"
is "$res" "udp-send: ok sent=50 received=50" "probe B -> probe A UDP echo, full-size: 50 of 50"
probe 1 "icmp-ping dev=0 dst=10.0.0.2 count=3"
is "$res" "icmp-ping: ok sent=3 received=3" "probe B pings probe A"
probe 1 "udp-send dev=0 dst=10.0.0.9 port=7 count=1"
ok $(printf '%s' "$res" | grep -q '^udp-send: FAIL no ARP reply from 10.0.0.9'; echo $?) \
	"nobody at 10.0.0.9: ARP gives up and says so"

# --- throughput, both directions through the host ---
bg_host sink serve 10.0.0.1 5001 3 sink
probe 0 "udp-stream dev=0 dst=10.0.0.1 port=5001 seconds=1 size=1472"
ok $(printf '%s' "$res" | grep -q '^udp-stream: ok sent=[1-9][0-9]* bytes=[0-9]* seconds=1 mbit=[0-9]'; echo $?) \
	"probe A streams to a host sink ($res)"
for _ in $(seq 1 $((40 * SLOW))); do grep -q served "$TMP/sink.out" && break; sleep 0.1; done
got=$(count "$(cat "$TMP/sink.out")" packets)
ok $([ "${got:-0}" -gt 1000 ]; echo $?) "the host sink got ${got:-0} of them"
echo "udp-sink dev=0 port=5002 seconds=$((2 * SLOW))" >&4
sleep 0.3
nsx python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"arp first", ("10.0.0.3", 5002))	# or the kernel drops the burst
time.sleep(0.2)
for i in range(2000): s.sendto(b"x" * 1000, ("10.0.0.3", 5002))'
wait_for 1 '^udp-sink: ' 10
res=$(out_of 1 | grep '^udp-sink: ' | tail -1)
got=$(count "$res" packets)
ok $([ "${got:-0}" -gt 1000 ]; echo $?) "udp-sink on probe B counted host datagrams: $res"

# --- forged frames reach the bridge (nothing filters them on a plain bridge) ---
bg_host sniff sniff br0 $((10 * SLOW))	# it ends once all three are seen
probe 0 "forge-dhcp-offer dev=0"
probe 0 "forge-ra dev=0"
probe 0 "forge-mac dev=0 dst=10.0.0.1 port=9"	# to br0 itself: no promisc
for _ in $(seq 1 $((60 * SLOW))); do grep -q seen "$TMP/sniff.out" && break; sleep 0.1; done
is "$(cat "$TMP/sniff.out")" "seen dhcp-offer router-advert spoofed-mac" \
	"forge-dhcp-offer, forge-ra, forge-mac: each frame seen on br0, well formed"

# --- counters and a clean exit ---
probe 0 "net-stats dev=0"
ok $(printf '%s' "$res" | grep -q '^net-stats: ok dev=0 rx=[1-9][0-9]* tx=[1-9][0-9]* .*rx_bad=0'; echo $?) \
	"net-stats: frames both ways, nothing malformed"
echo shutdown >&3
echo shutdown >&4
exec 3>&- 4>&-
wait "${QPIDS[0]}"
rc0=$?
wait "${QPIDS[1]}"
QPIDS=()
# A's history has no failed command; B's ARP failure above sets its code 1
is "$rc0" 1 "probe A shuts down with exit code 0 (debug-exit 1)"
diag "total $(($(date +%s) - t0)) s"
done_testing
