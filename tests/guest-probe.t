#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# The probe guest (tests/guest/) under QEMU, the reference VMM: it must boot
# through PVH on microvm (ready, console ping/shutdown, exit codes, fault
# reports) and drive QEMU's virtio-blk-pci on q35 (the pattern lands in the
# raw file exactly where asked, host-written patterns read back, hostile
# chains leave the device usable).  hv's own VMM runs the same ELF in its
# tests; this one proves the probe itself.
. "$(dirname "$0")/lib.sh"
B=${B:-$TOP/build}
PROBE=$B/guest/probe.elf
PATTERN=$B/pattern
[ -x "$PATTERN" ] || PATTERN=$B/tools/pattern
QEMU=$(command -v qemu-system-x86_64) || skip_all "qemu-system-x86_64 not installed"
[ -r /dev/kvm ] && [ -w /dev/kvm ] || skip_all "no usable /dev/kvm"
[ -f "$PROBE" ] || skip_all "$PROBE not built (make)"
[ -x "$PATTERN" ] || skip_all "pattern tool not built (make)"
plan 32

QARGS=(-enable-kvm -m 256 -kernel "$PROBE" -serial stdio -display none
	-nodefaults -no-user-config -no-reboot
	-device isa-debug-exit,iobase=0xf4,iosize=1)

microvm() {	# cmdline -> $out (\r stripped), $rc (1: the probe passed)
	timeout $((30 * SLOW)) "$QEMU" -M microvm "${QARGS[@]}" -append "$1" \
		</dev/null >"$TMP/out" 2>"$TMP/qemu.err"
	rc=$?
	out=$(tr -d '\r' <"$TMP/out")
}

q35() {		# cmdline raw-image -> $out, $rc
	timeout $((120 * SLOW)) "$QEMU" -M q35 "${QARGS[@]}" -append "$1" \
		-drive file="$2",if=none,id=d0,format=raw \
		-device virtio-blk-pci,drive=d0,disable-legacy=on \
		</dev/null >"$TMP/out" 2>"$TMP/qemu.err"
	rc=$?
	out=$(tr -d '\r' <"$TMP/out")
}

has() { printf '%s\n' "$out" | grep -qF -- "$1"; }
val() { printf '%s\n' "$out" | grep -o -- "$1=[0-9]*" | head -1 | cut -d= -f2; }
now_ms() { echo $(($(date +%s%N) / 1000000)); }

# --- microvm: ready, console commands, time to ready ---
mkfifo "$TMP/in"
t0=$(now_ms)
timeout $((30 * SLOW)) "$QEMU" -M microvm "${QARGS[@]}" -append ready <"$TMP/in" \
	>"$TMP/ready.out" 2>"$TMP/qemu.err" &
qpid=$!
exec 3>"$TMP/in"
t_ready=
for _ in $(seq 1 $((3000 * SLOW))); do
	grep -q 'probe: ready' "$TMP/ready.out" && { t_ready=$(($(now_ms) - t0)); break; }
	sleep 0.01
done
ok $([ -n "$t_ready" ]; echo $?) "microvm: probe: ready (${t_ready:-never} ms after exec)"
# idle means halted (LAPIC timer wake-ups), not spinning on the UART
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null || echo 0; }
qemu_pid=$(pgrep -P "$qpid" | head -1)
c0=$(cpu_ticks "$qemu_pid"); sleep 1; c1=$(cpu_ticks "$qemu_pid")
idle_pct=$(( (c1 - c0) * 100 / $(getconf CLK_TCK) ))
ok $([ -n "$qemu_pid" ] && [ "$idle_pct" -lt 50 ]; echo $?) \
	"an idle probe leaves the host CPU alone (QEMU used ${idle_pct}% of a CPU)"
echo ping >&3
for _ in $(seq 1 $((500 * SLOW))); do grep -q pong "$TMP/ready.out" && break; sleep 0.01; done
ok $(grep -q '^pong' "$TMP/ready.out"; echo $?) "console: ping answers pong"
echo shutdown >&3
wait $qpid
rc=$?
exec 3>&-
out=$(tr -d '\r' <"$TMP/ready.out")
ok $(has 'probe: shutdown'; echo $?) "console: shutdown is acknowledged"
is "$rc" 1 "shutdown leaves through the debug-exit port with code 0"
ok $(has 'probe: cpus=1 mem_mb=2' && has 'cmdline="ready"'; echo $?) \
	"first line says cpus, memory and the command line"
diag "microvm: exec to 'probe: ready' in $t_ready ms"

# --- microvm: exit codes and exception reports ---
microvm "ping;mem-touch mb=32;mem-free"
is "$rc" 1 "commands that pass exit with code 0"
ok $(has 'mem: used_mb=32' && has 'mem: used_mb=0'; echo $?) "mem-touch / mem-free"
microvm "ping;no-such-command x=1"
is "$rc" 7 "an unknown command exits with code 3"
ok $(has 'probe: unknown command "no-such-command x=1"'; echo $?) "and names it"
microvm "fault kind=pf"
is "$rc" 5 "a page fault exits with code 2"
ok $(has 'probe: fault vector=14' && has 'cr2=0x8' && has 'cs=0x23'; echo $?) \
	"the report has vector, cr2 and the ring-3 code segment"
microvm "fault kind=gp"
ok $([ "$rc" = 5 ] && has 'probe: fault vector=13'; echo $?) "hlt in ring 3 is a #GP, reported"

# --- SMP and ACPI on QEMU's own tables (the probe's smp/pwrbtn are honest) ---
timeout $((60 * SLOW)) "$QEMU" -M microvm -smp 4 "${QARGS[@]}" -append "acpi;smp" \
	</dev/null >"$TMP/out" 2>"$TMP/qemu.err"
out=$(tr -d '\r' <"$TMP/out")
ok $(has 'probe: cpus_online=4'; echo $?) "microvm -smp 4: the probe starts 3 APs (cpus_online=4)"
is "$(printf '%s\n' "$out" | grep '^probe: ap apic_id=' | sort | tr '\n' ' ')" \
	"probe: ap apic_id=1 online probe: ap apic_id=2 online probe: ap apic_id=3 online " \
	"each AP prints its APIC id once"
timeout $((60 * SLOW)) "$QEMU" -M q35 "${QARGS[@]}" -append "acpi-off" </dev/null >"$TMP/out" 2>"$TMP/qemu.err"
rc=$?
is "$rc" 0 "q35: acpi-off powers QEMU off through PM1a_CNT (not the exit port)"
# the power button: QEMU's system_powerdown, once in pwrbtn, once while idle
monitor() {	# command
	python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); time.sleep(0.2)
s.send((sys.argv[2] + "\n").encode()); time.sleep(0.3)' "$TMP/mon" "$1"
}
timeout $((60 * SLOW)) "$QEMU" -M q35 "${QARGS[@]/stdio/file:$TMP/pb.out}" -monitor unix:"$TMP/mon",server,nowait \
	-append "pwrbtn seconds=20;ready" </dev/null >/dev/null 2>"$TMP/qemu.err" &
qpid=$!
for _ in $(seq 1 $((300 * SLOW))); do grep -q 'pwrbtn armed' "$TMP/pb.out" 2>/dev/null && break; sleep 0.1; done
monitor system_powerdown
for _ in $(seq 1 $((100 * SLOW))); do grep -q 'probe: ready' "$TMP/pb.out" 2>/dev/null && break; sleep 0.1; done
monitor system_powerdown
wait $qpid
out=$(tr -d '\r' <"$TMP/pb.out")
ok $(has 'probe: pwrbtn sts=1 sci=1 cleared=1'; echo $?) \
	"q35 system_powerdown: PWRBTN_STS, the SCI at the LAPIC, status clears"
ok $(has 'probe: power button' && has 'probe: shutdown'; echo $?) \
	"a second press while idle: the probe powers off through S5"

# --- q35 + virtio-blk-pci: the pattern on a raw file ---
IMG=$TMP/disk.raw
truncate -s 64M "$IMG"
q35 "blk-write dev=0 start=2048 count=3000 seed=42;blk-flush dev=0;blk-read dev=0 start=2048 count=3000 seed=42" "$IMG"
is "$rc" 1 "q35: blk-write + blk-flush + blk-read pass"
ok $(has 'blk-write: ok sectors=3000'; echo $?) "blk-write reports the sectors"
ok $(has 'blk-read: ok sectors=3000 mismatches=0'; echo $?) "blk-read reads them back"
is "$("$PATTERN" check "$IMG" 2048 3000 42)" ok "the host finds the pattern at exactly those sectors"
ok $(! "$PATTERN" check "$IMG" 2047 1 42 >/dev/null && cmp -s -n $((2048 * 512)) "$IMG" /dev/zero; echo $?) \
	"nothing before them was touched"
ok $(cmp -s -i $((5048 * 512)):0 "$IMG" /dev/zero -n $((64 * 1048576 - 5048 * 512)); echo $?) \
	"nothing after them was touched"

# the other way: the host writes, the guest checks (and notices a wrong seed)
"$PATTERN" write "$IMG" 9000 700 7 >/dev/null
q35 "blk-read dev=0 start=9000 count=700 seed=7;blk-read dev=0 start=9000 count=700 seed=8" "$IMG"
ok $(has 'blk-read: ok sectors=700 mismatches=0'; echo $?) "the guest reads what the host wrote"
ok $(has 'blk-read: bad sectors=700 mismatches=700 first=9000 word=0'; echo $?) \
	"a wrong seed is a mismatch, reported with the first sector"
is "$rc" 3 "and the probe exits with code 1"

# --- hostile chains, then the device still works ---
q35 "hostile dev=0;blk-read dev=0 start=2048 count=64 seed=42" "$IMG"
n=$(printf '%s\n' "$out" | grep -c '^hostile: case=[a-z-]* needs_reset=[01]$')
is "$n" 8 "hostile: all 8 cases ran"
ok $(has 'hostile: case=loop needs_reset=1' && has 'hostile: case=nested-indirect needs_reset=1' &&
     has 'hostile: case=avail-jump needs_reset=1' && has 'hostile: case=next-oob needs_reset=1'; echo $?) \
	"QEMU flags NEEDS_RESET for a loop, nested indirect, next out of range and an avail jump"
ok $(has 'hostile: done good_read=ok' && has 'blk-read: ok sectors=64 mismatches=0'; echo $?) \
	"after reset and re-init the device reads correctly"
is "$rc" 1 "the probe passes"
printf '%s\n' "$out" | grep '^hostile:' | sed 's/^/# /'

# --- blk-bench ---
q35 "blk-bench dev=0 seconds=2 depth=1;blk-bench dev=0 seconds=2 depth=16" "$IMG"
iops1=$(printf '%s\n' "$out" | grep 'depth=1 ' | grep -o 'iops=[0-9]*' | cut -d= -f2)
iops16=$(printf '%s\n' "$out" | grep 'depth=16 ' | grep -o 'iops=[0-9]*' | cut -d= -f2)
ok $([ "${iops1:-0}" -gt 0 ] && [ "${iops16:-0}" -gt 0 ]; echo $?) \
	"blk-bench: QEMU q35 4 KiB random reads: ${iops1:-?} IOPS at depth 1, ${iops16:-?} at depth 16"
printf '%s\n' "$out" | grep '^blk-bench' | sed 's/^/# /'
[ "$T_FAIL" -eq 0 ] || { echo "# last QEMU output:"; printf '%s\n' "$out" | sed 's/^/#   /'; sed 's/^/#   /' "$TMP/qemu.err"; }
done_testing
