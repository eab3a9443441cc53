#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Live migration between two "hosts": network namespaces joined by a veth,
# each with its own HV_HOME and the same migration.secret; B runs
# `hv host serve`. A 512M probe dirtying 10 MiB/s moves from A to B: its
# line counter goes on at exactly the next number, its memory checksum
# matches, and the stall the probe measured on its own clock is printed
# (and within --max-downtime, 300 ms). A VM whose probe rewrites a VHDX
# during the move goes with --storage: the probe reads back what it
# wrote, and qemu-img compare finds B's image identical to A's. Refusals:
# no secret, a wrong secret, a VM that is off. Killing B's worker or
# cutting the veth mid-way: the VM runs on at A, which says why; nothing
# is left at B.
. "$(dirname "$0")/lib.sh"
PROBE=${B:-$TOP/build}/guest/probe.elf
[ "$(id -u)" = 0 ] || skip_all "namespaces need root"
[ -w /dev/kvm ] || skip_all "no /dev/kvm"
[ -f "$PROBE" ] || skip_all "probe guest not built ($PROBE)"
command -v ip >/dev/null || skip_all "ip (iproute2) is not installed"
command -v tc >/dev/null || skip_all "tc (iproute2) is not installed"
command -v python3 >/dev/null || skip_all "python3 is not installed"
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed"

NSA=hvmigA-$$ NSB=hvmigB-$$ VA=hvmA$$ VB=hvmB$$
HA=$TMP/a HB=$TMP/b
IPB=10.77.$(($$ % 200)).2 IPA=10.77.$(($$ % 200)).1
hA() { ip netns exec "$NSA" env HV_HOME="$HA" "$HV" "$@"; }
hB() { ip netns exec "$NSB" env HV_HOME="$HB" "$HV" "$@"; }
cleanup() {
	[ -n "${SERVE:-}" ] && kill "$SERVE" 2>/dev/null
	for h in "$HA" "$HB"; do
		for v in m1 n1 s1 d1 t1 c1 off1; do HV_HOME=$h "$HV" vm stop "$v" >/dev/null 2>&1; done
	done
	ip netns del "$NSA" 2>/dev/null
	ip netns del "$NSB" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
ip netns add "$NSA" && ip netns add "$NSB" || skip_all "cannot create network namespaces"
ip link add "$VA" type veth peer name "$VB" || skip_all "cannot create a veth pair"
ip link set "$VA" netns "$NSA" && ip link set "$VB" netns "$NSB"
ip -n "$NSA" addr add "$IPA/24" dev "$VA" && ip -n "$NSB" addr add "$IPB/24" dev "$VB"
for n in "$NSA" "$NSB"; do ip -n "$n" link set lo up; done
ip -n "$NSA" link set "$VA" up && ip -n "$NSB" link set "$VB" up

mkdir -p "$HA" "$HB"
HV_HOME=$HA "$HV" vm list >/dev/null && HV_HOME=$HB "$HV" vm list >/dev/null
setconf() { sed -i "s/^  secret = \"[^\"]*\";/  secret = \"$2\";/" "$1/hv.conf"; }

# the console of VM $2 under home $1: a log, and typing a line into it
clog() { tr -d '\r' <"$1/log/$2.console.log" 2>/dev/null; }
wait_clog() {	# home vm pattern seconds
	for _ in $(seq 1 $(($4 * 10))); do
		clog "$1" "$2" | grep -q -- "$3" && return 0
		sleep 0.1
	done
	return 1
}
type_line() { console_type "$1/run/$2.sock" "$3"; }
# A's console, then B's: a line the move cut in two is whole again
both() { clog "$HA" "$1"; clog "$HB" "$1"; }
contiguous() { awk 'BEGIN { n = 0 } { if ($1 != n + 1) exit 1; n = $1 } END { exit n < 2 }'; }
vms_of() { HV_HOME=$1 "$HV" vm list --json | python3 -c 'import json,sys; print(" ".join(v["name"] + ":" + v["state"] for v in json.load(sys.stdin)))'; }

# 0. no secret, no migration
HV_HOME=$HA "$HV" vm create off1 --memory 64M --kernel "$PROBE" --cmdline "ready" >/dev/null
out=$(hA vm migrate off1 --to "$IPB" 2>&1); rc=$?
ok $((rc == 0)) "no migration.secret: refused ($out)"
printf '%s' "$out" | grep -q 'migration.secret'; ok $? "the error names migration.secret"
out=$(hB migrate receive 2>&1); rc=$?
ok $((rc == 0)) "receive refuses too without a secret ($out)"
setconf "$HA" sesame; setconf "$HB" sesame
out=$(hA vm migrate off1 --to "$IPB" 2>&1); rc=$?
ok $((rc == 0)) "an Off VM does not migrate live ($out)"

# not through hB (a function): $! is then hv itself (ip and env exec), which cleanup kills
ip netns exec "$NSB" env HV_HOME="$HB" "$HV" host serve --listen "$IPB" >"$TMP/serve.log" 2>&1 &
SERVE=$!
for _ in $(seq 1 $((50 * SLOW))); do grep -q listening "$TMP/serve.log" && break; sleep 0.1; done
grep -q "listening on $IPB port 6790" "$TMP/serve.log"; ok $? "B serves migrations on $IPB:6790"

# 1. a 512M probe dirtying 10 MiB/s moves from A to B
hA vm create m1 --memory 512M --kernel "$PROBE" --cmdline "dirty mb=256 rate=10; ready" >/dev/null
hA vm start m1 >/dev/null; ok $? "m1 starts on A"
wait_clog "$HA" m1 'dirty: n=100 ' 30; ok $? "m1 dirties memory and counts on A"
setconf "$HA" wrong
out=$(hA vm migrate m1 --to "$IPB" 2>&1); rc=$?
ok $((rc == 0)) "a wrong secret is refused ($out)"
is "$(vms_of "$HA")" "m1:Running off1:Off" "m1 runs on at A"
is "$(vms_of "$HB")" "" "nothing arrived at B"
setconf "$HA" sesame

hA vm migrate m1 --to "$IPB" --json >"$TMP/mig.json" 2>"$TMP/mig.err"; rc=$?
ok $rc "vm migrate m1 --to $IPB ($(cat "$TMP/mig.err"))"
grep -q '"event":"progress","phase":"memory","pass":1' "$TMP/mig.json"; ok $? "progress: pass 1 of memory"
done_line=$(grep '"event":"done"' "$TMP/mig.json")
[ -n "$done_line" ]; ok $? "a done event ($done_line)"
down_ms=$(printf '%s' "$done_line" | python3 -c 'import json,sys; print(json.load(sys.stdin)["downtime_ms"])')
is "$(vms_of "$HA")" "off1:Off" "m1 left A's inventory"
is "$(vms_of "$HB")" "m1:Running" "m1 runs at B"
wait_clog "$HB" m1 'dirty: n=' 10
last_a=$(clog "$HA" m1 | sed -n 's/^dirty: n=\([0-9]*\) .*/\1/p' | tail -1)
both m1 | sed -n 's/^dirty: n=\([0-9]*\) .*/\1/p' | contiguous
ok $? "the count goes on at B where it was at A (${last_a}): 1, 2, 3, ... with none missing"
# the probe's own clock: its last line at A and its first at B (a line
# every 10 ms), and a stall it saw of 20 ms or more
us_a=$(clog "$HA" m1 | sed -n 's/^dirty: n=[0-9]* us=\([0-9]*\) .*/\1/p' | tail -1)
us_b=$(clog "$HB" m1 | sed -n 's/^dirty: n=[0-9]* us=\([0-9]*\) .*/\1/p' | head -1)
gap=$((us_b - us_a))
stall=$(clog "$HB" m1 | sed -n "s/^dirty: stall us=\([0-9]*\) at n=$last_a\$/\1/p" | head -1)
diag "downtime: ${stall:-under 20000} us stalled by the probe's clock, $gap us between its lines" \
	"across the move, $down_ms ms by hv (paused at A to running at B)"
[ "$gap" -gt 0 ] && [ "$gap" -lt 310000 ]; ok $? "the probe's lines across the move are $gap us apart (< 300 ms + a 10 ms step)"
type_line "$HB" m1 dirty-check
wait_clog "$HB" m1 'dirty-check: sum=.* ok' 10; ok $? "its memory checksum matches at B"
HV_HOME=$HB "$HV" vm stop m1 >/dev/null

# 2. two vCPUs, a network adapter, dynamic memory: the APs, the irqchip,
# virtio-net and the balloon (with the stats buffer it holds) go along;
# at B the probe answers pings on B's switch of that name
NET=10.78.$(($$ % 200))
hA switch create mig --type internal --host-ip "$NET.1/24" >/dev/null
hB switch create mig --type internal --host-ip "$NET.1/24" >/dev/null
hA vm create n1 --memory 128M --vcpus 2 --kernel "$PROBE" \
	--dynamic-memory --min-memory 64M --max-memory 256M \
	--cmdline "smp; balloon-up; net-up ip=$NET.2/24; counter step_ms=20; ready" >/dev/null
hA vm nic add n1 --switch mig >/dev/null
hA vm start n1 >/dev/null; ok $? "n1 (2 vCPUs, an adapter on switch mig) starts on A"
wait_clog "$HA" n1 'counter: 20$' 30; ok $? "its APs are up and it counts"
is "$(ip netns exec "$NSA" python3 "$TOP/tests/net-host.py" ping "$NET.2" 2)" "ping received=2" "A's host pings it"
# B's bridge hears the arrival announced: a RARP from n1's MAC
N1MAC=$(hA vm nic list n1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["mac"])')
ip netns exec "$NSB" python3 - "$TMP/rarp.rdy" >"$TMP/rarp.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x8035))
s.bind(("hv-mig", 0)); s.settimeout(0.5)
open(sys.argv[1], "w").close()
end = time.time() + 600
while time.time() < end:
    try:
        f = s.recv(2000)
    except socket.timeout:
        continue
    if f[12:14] == b"\x80\x35" and f[20:22] == b"\x00\x03":
        print("rarp from " + ":".join("%02x" % b for b in f[6:12])); break
PY
RARP=$!
for _ in $(seq 1 $((50 * SLOW))); do [ -e "$TMP/rarp.rdy" ] && break; sleep 0.1; done
hA vm migrate n1 --to "$IPB" >/dev/null 2>"$TMP/n.err"; ok $? "vm migrate n1 ($(cat "$TMP/n.err"))"
for _ in $(seq 1 $((50 * SLOW))); do grep -q rarp "$TMP/rarp.out" && break; sleep 0.1; done
kill $RARP 2>/dev/null
is "$(cat "$TMP/rarp.out")" "rarp from $N1MAC" "B announced n1's arrival on its switch: a RARP from its MAC"
wait_clog "$HB" n1 'counter: ' 10
clog "$HB" n1 | grep -q '^counter: '; ok $? "it counts on at B"
both n1 | sed -n 's/^counter: \([0-9]*\)$/\1/p' | contiguous
ok $? "1, 2, 3, ... across the move, none missing or repeated"
is "$(ip netns exec "$NSB" python3 "$TOP/tests/net-host.py" ping "$NET.2" 3)" "ping received=3" "B's host pings it"
guest_free() { HV_HOME=$1 "$HV" vm show n1 --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["runtime"]["memory"]["guest_free"])' 2>/dev/null; }
for _ in $(seq 1 $((50 * SLOW))); do [ "$(guest_free "$HB")" -gt 0 ] 2>/dev/null && break; sleep 0.2; done
[ "$(guest_free "$HB")" -gt 0 ] 2>/dev/null; ok $? "its balloon still reports to B's dynamic memory ($(guest_free "$HB") bytes free)"
HV_HOME=$HB "$HV" vm stop n1 >/dev/null

# 3. storage migration: a VHDX the probe rewrites during the move
qemu-img create -q -f vhdx "$TMP/s1.vhdx" 128M
hA vm create s1 --memory 512M --kernel "$PROBE" --disk "$TMP/s1.vhdx" \
	--cmdline "dirty mb=256 rate=10; blk-churn dev=0 start=0 blocks=1024 seconds=60; ready" >/dev/null
hA vm start s1 >/dev/null; ok $? "s1 starts on A with a VHDX"
wait_clog "$HA" s1 'churn: initialised' 60; ok $? "the probe filled 64 MiB of it and rewrites it"
# 400 Mbit/s: the move takes seconds, time to stop the guest's writes
ip netns exec "$NSA" tc qdisc add dev "$VA" root tbf rate 400mbit burst 256kbit latency 400ms
: >"$TMP/smig.json"
hA vm migrate s1 --to "$IPB" --storage --json >"$TMP/smig.json" 2>"$TMP/smig.err" &
MIG=$!
# once memory moves, the disk's bulk copy is done: the guest stops writing
for _ in $(seq 1 $((600 * SLOW))); do grep -q '"phase":"memory"' "$TMP/smig.json" && break; sleep 0.05; done
grep -c '"phase":"storage"' "$TMP/smig.json" | grep -qv '^0$'; ok $? "progress: the disk's bulk copy"
type_line "$HA" s1 churn-stop
wait "$MIG"; rc=$?
ok $rc "vm migrate s1 --storage ($(cat "$TMP/smig.err"))"
clog "$HA" s1 | grep -q 'churn: done'; ok $? "the probe wrote at A during the move, and stopped there"
[ -f "$HB/vms/s1/s1.vhdx" ]; ok $? "B has its own copy of the disk"
type_line "$HB" s1 blk-verify-churn
wait_clog "$HB" s1 'blk-verify-churn: ok' 20; ok $? "at B the probe reads back all it wrote"
HV_HOME=$HB "$HV" vm stop s1 >/dev/null
out=$(qemu-img compare "$TMP/s1.vhdx" "$HB/vms/s1/s1.vhdx" 2>&1); rc=$?
ok $rc "qemu-img compare: B's image is identical to A's ($out)"
qemu-img check -q "$HB/vms/s1/s1.vhdx"; ok $? "qemu-img check: B's image is clean"

# 4. the destination's worker dies mid-way: A keeps its VM, says why
hA vm create d1 --memory 512M --kernel "$PROBE" --cmdline "dirty mb=256 rate=10; ready" >/dev/null
hA vm start d1 >/dev/null
wait_clog "$HA" d1 'dirty: n=50 ' 30; ok $? "d1 runs on A"
ip netns exec "$NSA" tc qdisc change dev "$VA" root tbf rate 40mbit burst 32kbit latency 400ms
: >"$TMP/dmig.json"
hA vm migrate d1 --to "$IPB" --json >"$TMP/dmig.json" 2>"$TMP/dmig.err" &
MIG=$!
for _ in $(seq 1 $((100 * SLOW))); do grep -q '"phase":"memory"' "$TMP/dmig.json" && break; sleep 0.05; done
sleep 0.5
pkill -KILL -f "hv-worker --home $HB .*d1\$"; ok $? "kill -9 B's incoming worker"
wait "$MIG"; rc=$?
ok $((rc == 0)) "the migration fails: $(cat "$TMP/dmig.err")"
is "$(vms_of "$HA" | tr ' ' '\n' | grep d1)" "d1:Running" "d1 runs on at A"
for _ in $(seq 1 $((100 * SLOW))); do vms_of "$HB" | grep -q d1 || break; sleep 0.1; done
vms_of "$HB" | grep -q d1; ok $((! $?)) "B removed d1 from its inventory"
hA vm stop d1 >/dev/null

# 4b. turned off at A mid-way: it is off, the move with it; B cleans up
hA vm create t1 --memory 256M --kernel "$PROBE" --cmdline "dirty mb=200 rate=10; ready" >/dev/null
hA vm start t1 >/dev/null
wait_clog "$HA" t1 'dirty: n=20 ' 30
: >"$TMP/tmig.json"
hA vm migrate t1 --to "$IPB" --json >"$TMP/tmig.json" 2>"$TMP/tmig.err" &
MIG=$!
for _ in $(seq 1 $((100 * SLOW))); do grep -q '"phase":"memory"' "$TMP/tmig.json" && break; sleep 0.05; done
hA vm stop t1 >/dev/null; ok $? "vm stop during the move"
wait "$MIG"; ok $((! $?)) "the move fails: $(cat "$TMP/tmig.err")"
is "$(vms_of "$HA" | tr ' ' '\n' | grep t1)" "t1:Off" "t1 is Off at A"
for _ in $(seq 1 $((100 * SLOW))); do vms_of "$HB" | grep -q t1 || break; sleep 0.1; done
vms_of "$HB" | grep -q t1; ok $((! $?)) "and not at B"

# 5. a hostile peer: garbage instead of the handshake, then a peer that
# knows the secret but sends a stream that does not fit the VM; B refuses both,
# keeps nothing and goes on serving
HV_HOME=$HA "$HV" vm export off1 "$TMP/off1.cfg" >/dev/null
out=$(ip netns exec "$NSA" python3 - "$IPB" "$TMP/off1.cfg" <<'PY'
import hmac, hashlib, json, os, socket, struct, sys
def line(s):
    b = b""
    while not b.endswith(b"\n"):
        c = s.recv(1)
        if not c: break
        b += c
    return b
s = socket.create_connection((sys.argv[1], 6790)); line(s)
s.sendall(b"GET / HTTP/1.0\r\n\r\n")
try:
    s.recv(4096)
except OSError:
    pass
s.close()
s = socket.create_connection((sys.argv[1], 6790))
hello = json.loads(line(s)); n1 = hello["nonce"]; n2 = os.urandom(32).hex()
mac = hmac.new(b"sesame", ("src" + n1 + n2).encode(), hashlib.sha256).hexdigest()
req = {"nonce": n2, "mac": mac, "vm": open(sys.argv[2]).read(), "storage": False, "disks": []}
s.sendall(json.dumps(req).encode() + b"\n")
rep = json.loads(line(s))
s.sendall(b"HVMIGRT1")
hdr = struct.pack("<IQIQIIIBI", 1, 37, 1, 64 << 20, 1, 0, 0, 0, 0)
s.sendall(hdr)   # a header for some VM, then a page far past its RAM
s.sendall(struct.pack("<IQQ", 16, 8 + 4096, 1 << 40) + b"x" * 4096)
s.settimeout(20)
try:
    ans = s.recv(4096)
except OSError:
    ans = b""
print(rep.get("ok"), ans[:1].decode(errors="replace"), ans[3:].decode(errors="replace"))
PY
)
case $out in True\ E\ *) ok 0 "B refuses a hostile stream and says why ($out)" ;;
	*) ok 1 "B refuses a hostile stream and says why (got: $out)" ;; esac
for _ in $(seq 1 $((50 * SLOW))); do vms_of "$HB" | grep -q off1 || break; sleep 0.1; done
vms_of "$HB" | grep -q off1; ok $((! $?)) "and keeps nothing of it"
grep -c 'migration from .* failed' "$TMP/serve.log" | grep -q '^[3-9]'; ok $? "its log has each failure"
kill -0 "$SERVE"; ok $? "hv host serve goes on serving"

# 6. the link goes down mid-way: A keeps its VM, B keeps nothing
hA vm create c1 --memory 512M --kernel "$PROBE" --cmdline "dirty mb=256 rate=10; ready" >/dev/null
hA vm start c1 >/dev/null
wait_clog "$HA" c1 'dirty: n=50 ' 30; ok $? "c1 runs on A"
# 40 Mbit/s still: 256 MiB take a minute
: >"$TMP/cmig.json"
hA vm migrate c1 --to "$IPB" --json >"$TMP/cmig.json" 2>"$TMP/cmig.err" &
MIG=$!
for _ in $(seq 1 $((100 * SLOW))); do grep -q '"phase":"memory"' "$TMP/cmig.json" && break; sleep 0.05; done
sleep 1
ip -n "$NSA" link del "$VA"
wait "$MIG"; rc=$?
ok $((rc == 0)) "the migration fails: $(cat "$TMP/cmig.err")"
is "$(vms_of "$HA" | tr ' ' '\n' | grep c1)" "c1:Running" "c1 runs on at A"
before=$(clog "$HA" c1 | grep -c '^dirty: n=')
sleep 1
after=$(clog "$HA" c1 | grep -c '^dirty: n=')
[ "$after" -gt "$before" ]; ok $? "and still counts there ($before -> $after lines)"
for _ in $(seq 1 $((200 * SLOW))); do
	! vms_of "$HB" | grep -q c1 && ! pgrep -f "hv-worker --home $HB" >/dev/null && break
	sleep 0.1
done
vms_of "$HB" | grep -q c1; ok $((! $?)) "c1 is not in B's inventory"
pgrep -f "hv-worker --home $HB" >/dev/null; ok $((! $?)) "no worker is left at B"
grep -q 'migration from .* failed' "$TMP/serve.log"; ok $? "B's log says the migration failed"
hA vm stop c1 >/dev/null

done_testing
