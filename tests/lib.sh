# tests/lib.sh - TAP helpers for the shell-script tests. Source it:
#	. "$(dirname "$0")/lib.sh"
# It sets HV (the binary under test; `make check` passes the ASan build),
# a private HV_HOME in a temp dir removed at exit, and these helpers:
#	plan N | skip_all WHY | ok COND-EXIT-STATUS DESC | is GOT WANT DESC
#	run_hv ARGS...      runs $HV, sets $out, $err, $rc
#	console_type SOCK LINE  types LINE on the console of the worker at SOCK
#	one_error_line DESC checks $err is one line starting "hv: " and no
#	                    sanitizer report
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$TOP/tests" ] || TOP=$(cd "$(dirname "$0")/../.." && pwd)
HV=${HV:-$TOP/build/asan/hv}
[ -x "$HV" ] || HV=$TOP/build/hv
case $HV in /*) ;; *) HV=$(pwd)/$HV ;; esac
TMP=$(mktemp -d /tmp/hv-test.XXXXXX)
export HV_HOME=$TMP/home
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
trap 'rm -rf "$TMP"' EXIT
T_N=0
T_FAIL=0
# The lab (scripts/lab) runs guests under TCG, 10-50x slower than hardware:
# there every wait for a guest stretches by SLOW (HV_SLOW overrides). The
# tests check what happens, never how fast.
if [ -n "${HV_IN_LAB:-}" ]; then SLOW=${HV_SLOW:-8}; else SLOW=${HV_SLOW:-1}; fi

T_PLANNED=0
plan() { T_PLANNED=1; echo "1..$1"; }
skip_all() { echo "1..0 # SKIP $*"; exit 0; }
diag() { printf '# %s\n' "$@" | sed '2,$s/^/# /'; }

ok() {
	local cond=$1; shift
	T_N=$((T_N + 1))
	if [ "$cond" -eq 0 ]; then
		echo "ok $T_N - $*"
	else
		echo "not ok $T_N - $*"
		T_FAIL=$((T_FAIL + 1))
	fi
}

is() {
	local got=$1 want=$2; shift 2
	T_N=$((T_N + 1))
	if [ "$got" = "$want" ]; then
		echo "ok $T_N - $*"
	else
		echo "not ok $T_N - $*"
		printf '#   got:  %s\n#   want: %s\n' "$got" "$want"
		T_FAIL=$((T_FAIL + 1))
	fi
}

run_hv() {
	out=$("$HV" "$@" 2>"$TMP/stderr")
	rc=$?
	err=$(cat "$TMP/stderr")
}

one_error_line() {
	local lines
	lines=$(printf '%s\n' "$err" | grep -c .)
	T_N=$((T_N + 1))
	if [ "$lines" -eq 1 ] && printf '%s' "$err" | grep -q '^hv: ' &&
	   ! printf '%s' "$err" | grep -q 'Sanitizer\|runtime error'; then
		echo "ok $T_N - $* (one line: $err)"
	else
		echo "not ok $T_N - $* (stderr had $lines lines)"
		printf '%s\n' "$err" | head -20 | sed 's/^/#   /'
		T_FAIL=$((T_FAIL + 1))
	fi
}

done_testing() {
	[ "$T_PLANNED" -eq 1 ] || echo "1..$T_N"
	exit $((T_FAIL > 0))
}

# VMs made through the shell: the console text (CRs dropped), waiting for
# a line in it, the state `vm show` reports, waiting for Off
log_of() { tr -d '\r' <"$HV_HOME/log/$1.console.log" 2>/dev/null; }
wait_console() {	# vm pattern seconds
	for _ in $(seq 1 $(($3 * 10 * SLOW))); do
		log_of "$1" | grep -q -- "$2" && return 0
		sleep 0.1
	done
	return 1
}
# type a line on a VM's console through its worker's socket, reading the
# console meanwhile (a chatty guest would fill the socket and be dropped)
console_type() {	# socket line
	python3 - "$1" "$2" <<'PY'
import socket, sys, threading, time
def drain(s):
    try:
        while s.recv(65536):
            pass
    except OSError:
        pass
try:
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    s.sendall(b'{"cmd": "console"}\n')
    threading.Thread(target=drain, args=(s,), daemon=True).start()
    time.sleep(0.1)
    s.sendall((sys.argv[2] + "\r").encode()); time.sleep(0.5); s.close()
except OSError as e:    # no worker there (the VM moved or stopped)
    sys.exit("console_type: %s" % e)
PY
}
state_of() {
	"$HV" vm show "$1" --json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["state"])'
}
# dynamic memory: a runtime.memory field of `vm show` in MiB; the
# worker's resident memory in MiB
mem_mib() {	# vm field
	"$HV" vm show "$1" --json 2>/dev/null |
		python3 -c "import json,sys; print(int(json.load(sys.stdin)['runtime']['memory']['$2']) >> 20)" 2>/dev/null
}
rss_mib() {	# vm
	local pid
	pid=$("$HV" vm show "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["pid"])')
	echo $(($(awk '/^VmRSS/ {print $2}' "/proc/$pid/status") / 1024))
}
wait_off() {	# vm: up to 10 s (times SLOW)
	for _ in $(seq 1 $((100 * SLOW))); do [ "$(state_of "$1")" = Off ] && return 0; sleep 0.1; done
	return 1
}
