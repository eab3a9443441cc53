#!/usr/bin/env bash
# bench/migrate-qemu.sh - QEMU's side of the live-migration benchmark: the
# probe guest under `qemu-system-x86_64 -M microvm -enable-kvm`, migrated
# pre-copy over TCP on 127.0.0.1 to a second QEMU started with -incoming.
#
#   qemu_migrate_run PROBE MEM_MB CMDLINE MAX_DOWNTIME_MS
#
# Starts the destination, then the source, waits for the source's
# "probe: ready" and QEMU_WARM_S (1) seconds more, then over QMP sets
# downtime-limit=MAX_DOWNTIME_MS and max-bandwidth=QEMU_MAX_BW (bytes/s,
# default 100 GiB/s: QEMU's own default, 32 MiB/s, would be the bottleneck),
# migrates and polls query-migrate until "completed". Then types "ping" on
# the destination's console and wants its serial log to grow: the guest
# runs there. Sets, as QEMU reports them:
#   QEMU_TOTAL_MS     total-time: migrate command to completion
#   QEMU_DOWNTIME_MS  downtime: the guest stopped (last pass + device state)
#   QEMU_SETUP_MS     setup-time
#   QEMU_PASSES       ram.dirty-sync-count (dirty-bitmap syncs = passes)
#   QEMU_MB           ram.transferred in MiB (zero pages cost only a header)
#   QEMU_STALL_US     the probe's own view: the first "dirty: stall us=" the
#                     destination printed (empty without a `dirty` workload)
# and returns 0; or returns 1 with the reason on stderr. Processes and files
# are its own (mktemp -d, a free port) and gone when it returns, on an
# interrupt too. Sourced by bench/migrate; `bash bench/migrate-qemu.sh PROBE
# [MEM_MB [CMDLINE [MAX_DOWNTIME_MS]]]` runs it once and prints the numbers.
# Needs root (/dev/kvm), qemu-system-x86_64 and python3.

# the work runs in a subshell with its own traps (the caller's stay as
# they are); it prints "total downtime setup passes mb stall" for the caller
_qemu_migrate_body() {
	local probe=$1 mem=$2 cmdline=$3 dtl=$4 port n
	src='' dst=''	# not local: the EXIT trap runs after the function returns
	t=$(mktemp -d /tmp/hv-qmig.XXXXXX) || return 1
	trap 'kill $src $dst 2>/dev/null; wait 2>/dev/null; rm -rf "$t"' EXIT
	trap 'exit 130' INT TERM HUP PIPE
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	# -cpu host dies on PVM (KVM refuses MSR 0x10a); the default model boots
	qm() {	# NAME [EXTRA...]: serial on a unix socket, logged to NAME.log
		local name=$1; shift
		qemu-system-x86_64 -M microvm -enable-kvm -m "$mem" -kernel "$probe" -append "$cmdline" \
			-nodefaults -no-user-config -display none -no-reboot \
			-chardev "socket,id=con,path=$t/$name.con,server=on,wait=off,logfile=$t/$name.log" \
			-serial chardev:con -device isa-debug-exit,iobase=0xf4,iosize=1 \
			-qmp unix:"$t/$name.qmp",server=on,wait=off "$@" >"$t/$name.err" 2>&1 &
	}
	qm dst -incoming tcp:127.0.0.1:"$port"; dst=$!
	qm src; src=$!
	for n in $(seq 600); do	# the probe's TSC calibration alone takes seconds here
		grep -q 'probe: unknown command' "$t/src.log" 2>/dev/null && n=600 && break
		grep -q 'probe: ready' "$t/src.log" 2>/dev/null && break
		kill -0 $src 2>/dev/null || { n=600; break; }
		sleep 0.1
	done
	[ "$n" -lt 600 ] || { echo "source probe did not get through its command line: $(tail -c 300 "$t/src.log" "$t/src.err" 2>/dev/null | tr '\n' ' ')" >&2; exit 1; }
	sleep "${QEMU_WARM_S:-1}"
	nums=$(python3 - "$t" "$port" "$dtl" "${QEMU_MAX_BW:-107374182400}" <<'EOF'
import json, socket, sys, time
t, port, dtl, bw = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
def die(msg):
    print(msg, file=sys.stderr); sys.exit(1)
class QMP:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX); self.s.settimeout(30)
        for _ in range(100):
            try: self.s.connect(path); break
            except OSError: time.sleep(0.1)
        else: die("no QMP at " + path)
        self.f = self.s.makefile("r"); self.f.readline()	# greeting
        self.cmd("qmp_capabilities")
    def cmd(self, name, **args):
        self.s.sendall(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        while True:
            r = json.loads(self.f.readline() or die("QMP closed during " + name))
            if "event" in r: continue
            if "error" in r: die("%s: %s" % (name, r["error"].get("desc")))
            return r["return"]
dst = QMP(t + "/dst.qmp")	# QMP answering means -incoming is listening
if dst.cmd("query-status")["status"] != "inmigrate": die("destination not in inmigrate")
src = QMP(t + "/src.qmp")
src.cmd("migrate-set-parameters", **{"downtime-limit": dtl, "max-bandwidth": bw})
src.cmd("migrate", uri="tcp:127.0.0.1:" + port)
deadline = time.time() + 300
while True:
    m = src.cmd("query-migrate")
    st = m.get("status")
    if st == "completed": break
    if st in ("failed", "cancelled"): die("migration %s: %s" % (st, m.get("error-desc", "")))
    if time.time() > deadline: die("migration not completed after 300 s (status %s)" % st)
    time.sleep(0.02)
for _ in range(100):	# the destination resumes the guest after the last bytes
    if dst.cmd("query-status")["status"] == "running": break
    time.sleep(0.05)
else: die("destination not running after migration")
c = socket.socket(socket.AF_UNIX); c.settimeout(5); c.connect(t + "/dst.con"); c.sendall(b"ping\n")
got = b""	# held open: QEMU drops unread input when the peer hangs up
try:
    while b"pong" not in got: got += c.recv(4096) or die("destination console closed")
except socket.timeout: die("destination did not answer ping after the migration")
r = m["ram"]
print(m["total-time"], m["downtime"], m.get("setup-time", 0), r["dirty-sync-count"],
      "%.1f" % (r["transferred"] / 1048576.0))
EOF
	) || exit 1
	# the destination's log holds only what the guest printed after the move
	grep -q pong "$t/dst.log" || { echo "destination's serial log did not grow after the migration" >&2; exit 1; }
	kill -0 $dst 2>/dev/null || { echo "destination QEMU exited: $(tail -c 300 "$t/dst.err")" >&2; exit 1; }
	echo "$nums $(tr -d '\r' <"$t/dst.log" | sed -n 's/^dirty: stall us=\([0-9]*\).*/\1/p' | head -1)"
}

qemu_migrate_run() {	# PROBE MEM_MB CMDLINE MAX_DOWNTIME_MS
	local out
	[ $# -eq 4 ] || { echo "usage: qemu_migrate_run PROBE MEM_MB CMDLINE MAX_DOWNTIME_MS" >&2; return 1; }
	[ -f "$1" ] || { echo "qemu_migrate_run: no probe $1" >&2; return 1; }
	command -v qemu-system-x86_64 >/dev/null || { echo "qemu_migrate_run: qemu-system-x86_64 missing" >&2; return 1; }
	[ -w /dev/kvm ] || { echo "qemu_migrate_run: needs /dev/kvm (root)" >&2; return 1; }
	out=$( (_qemu_migrate_body "$@") ) || return 1
	read -r QEMU_TOTAL_MS QEMU_DOWNTIME_MS QEMU_SETUP_MS QEMU_PASSES QEMU_MB QEMU_STALL_US <<<"$out"
	[ -n "$QEMU_MB" ] || { echo "qemu_migrate_run: no numbers from QMP" >&2; return 1; }
	return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	[ $# -ge 1 ] || { echo "usage: $0 PROBE [MEM_MB [CMDLINE [MAX_DOWNTIME_MS]]]" >&2; exit 2; }
	qemu_migrate_run "$1" "${2:-512}" "${3:-counter step_ms=10; ready}" "${4:-300}" || exit 1
	echo "QEMU_TOTAL_MS=$QEMU_TOTAL_MS QEMU_DOWNTIME_MS=$QEMU_DOWNTIME_MS QEMU_SETUP_MS=$QEMU_SETUP_MS" \
		"QEMU_PASSES=$QEMU_PASSES QEMU_MB=$QEMU_MB QEMU_STALL_US=$QEMU_STALL_US"
fi
