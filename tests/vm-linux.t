#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 5: Linux guests on VT-x/AMD-V hosts. A Debian distribution kernel
# (linux-image-amd64) with a busybox initramfs, both built by
# tests/linux-guest.sh into build/linux-guest/, boots
#   Gen2: hv's bzImage + initrd direct boot, data disk as virtio-blk;
#   Gen1: SeaBIOS -> MBR -> SYSLINUX on a raw boot disk, data disk second.
# Each boot must show the kernel's "Linux version" line, the initramfs
# loading the virtio modules and reading a per-run marker from sector 0 of
# the data disk, and a shell prompt. A command typed on the console
# (`hv vm console`) runs and writes through virtio-blk. `hv vm shutdown`
# presses the ACPI power button; the guest's acpid (busybox, on the
# kernel's button + evdev drivers) powers it off itself: its own
# "shutting down" and "reboot: Power down" lines are on the console, hv
# did not have to turn it off after --timeout, the VM is Off and the data
# disk holds what the guest wrote.
#
# kvm_pvm (this project's dev/CI machines, ../shared/PLATFORM.md) cannot
# run a stock Linux kernel, so there the test skips before building
# anything. HV_LINUX_TCG=1 runs the same checks against QEMU in TCG mode
# instead of hv (slow, minutes a boot), which proves the fixtures and the
# checks anywhere; there the power button is QMP's system_powerdown.
. "$(dirname "$0")/lib.sh"

TCG=${HV_LINUX_TCG:-}
if [ -z "$TCG" ]; then
	[ -w /dev/kvm ] || skip_all "no /dev/kvm (Linux guests need root and KVM on a VT-x/AMD-V host)"
	if [ -d /sys/module/kvm_pvm ] || grep -q '^kvm_pvm ' /proc/modules 2>/dev/null; then
		skip_all "KVM here is kvm_pvm: a stock Linux kernel dies under its emulation of guest ring 0 (see PLATFORM.md); this test runs on VT-x/AMD-V hosts (HV_LINUX_TCG=1 checks the fixtures with QEMU TCG)"
	fi
	BOOT_S=60		# a second or two on VT-x; generous
else
	command -v qemu-system-x86_64 >/dev/null || skip_all "HV_LINUX_TCG=1 needs qemu-system-x86_64"
	BOOT_S=${HV_LINUX_TCG_TIMEOUT:-900}	# TCG: minutes
fi

FIX=${HV_LINUX_CACHE:-$TOP/build/linux-guest}
"$TOP/tests/linux-guest.sh" "$FIX" 2>"$TMP/fixtures.err"
frc=$?
[ $frc -eq 2 ] && skip_all "$(tail -n 1 "$TMP/fixtures.err")"
ok $frc "tests/linux-guest.sh builds the kernel, initramfs and boot disk into $FIX"
if [ $frc -ne 0 ]; then
	diag "$(tail -n 20 "$TMP/fixtures.err")"
	done_testing
fi
CMDLINE=$(cat "$FIX/cmdline")

VMS=""
QPIDS=""
trap 'for v in $VMS; do "$HV" vm stop $v >/dev/null 2>&1; done
      for p in $QPIDS; do kill $p 2>/dev/null; done; rm -rf "$TMP"' EXIT

# --- backends: hv (the real test) or QEMU TCG (HV_LINUX_TCG=1) ---
log_of() {
	if [ -z "$TCG" ]; then
		tr -d '\r' <"$HV_HOME/log/$1.console.log" 2>/dev/null
	else
		tr -d '\r' <"$TMP/$1.log" 2>/dev/null
	fi
}

vm_boot() {	# name gen data-disk
	local name=$1 gen=$2 data=$3
	if [ -z "$TCG" ]; then
		VMS="$VMS $name"
		if [ "$gen" = 2 ]; then
			run_hv vm create "$name" --gen 2 --memory 512M --kernel "$FIX/vmlinuz" \
				--initrd "$FIX/initrd.gz" --cmdline "$CMDLINE" --disk "$data"
		else
			run_hv vm create "$name" --gen 1 --memory 512M \
				--disk "$TMP/$name-boot.img" --disk "$data"
		fi
		[ $rc -eq 0 ] || { BOOT_WHY="(create: $err)"; return 1; }
		run_hv vm start "$name"
		[ $rc -eq 0 ] || { BOOT_WHY="(start: $err)"; return 1; }
		return 0
	fi
	local disks=(-drive "file=$data,if=virtio,format=raw")
	[ "$gen" = 1 ] && disks=(-drive "file=$TMP/$name-boot.img,if=virtio,format=raw" "${disks[@]}")
	mkfifo "$TMP/$name.in" "$TMP/$name.out"
	if [ "$gen" = 2 ]; then
		qemu-system-x86_64 -accel tcg -m 512M -nodefaults -display none -vga none \
			-no-reboot -kernel "$FIX/vmlinuz" -initrd "$FIX/initrd.gz" \
			-append "$CMDLINE" "${disks[@]}" \
			-chardev "pipe,id=con,path=$TMP/$name" -serial chardev:con \
			-qmp "unix:$TMP/$name.qmp,server=on,wait=off" \
			</dev/null >"$TMP/$name.qemu" 2>&1 &
	else
		qemu-system-x86_64 -accel tcg -m 512M -nodefaults -display none -vga none \
			-no-reboot "${disks[@]}" \
			-chardev "pipe,id=con,path=$TMP/$name" -serial chardev:con \
			-qmp "unix:$TMP/$name.qmp,server=on,wait=off" \
			</dev/null >"$TMP/$name.qemu" 2>&1 &
	fi
	eval "QPID_$name=$!"
	QPIDS="$QPIDS $!"
	cat "$TMP/$name.out" >"$TMP/$name.log" &
	return 0
}

vm_type() {	# name line: type a line on the serial console
	if [ -z "$TCG" ]; then
		printf '%s\r\035' "$2" | ASAN_OPTIONS=detect_leaks=0 "$HV" vm console "$1" >/dev/null 2>&1
	else
		printf '%s\r' "$2" >"$TMP/$1.in"
	fi
}

vm_shutdown() {	# name: press the power button, wait (60 s) until it is off
	# 0 if it is off; SHUT_OUT: what the shutdown said
	if [ -z "$TCG" ]; then
		run_hv vm shutdown "$1" --timeout $((60 * SLOW))
		SHUT_OUT="$out$err"
		[ $rc -eq 0 ] && [ "$(state_of "$1")" = Off ]
		return
	fi
	local p
	eval "p=\$QPID_$1"
	SHUT_OUT=$(qmp "$TMP/$1.qmp" system_powerdown 2>&1) || return 1
	for _ in $(seq 1 $((600 * SLOW))); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then	# what hv does after --timeout
		kill "$p"
		SHUT_OUT="$SHUT_OUT did not shut down within 60 s: turned it off"
	fi
	wait "$p"	# QEMU exits 0 after the guest's ACPI power-off
}

qmp() {	# socket command: one QMP command, as QEMU's monitor protocol wants
	python3 - "$1" "$2" <<'PY'
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
f = s.makefile("rw")
def reply():
    while True:
        m = json.loads(f.readline())
        if "return" in m or "error" in m:
            return m
json.loads(f.readline())		# the greeting
for cmd in ("qmp_capabilities", sys.argv[2]):
    f.write(json.dumps({"execute": cmd}) + "\n"); f.flush()
    m = reply()
    if "error" in m:
        sys.exit("qmp %s: %s" % (cmd, m["error"]))
print("qmp %s: ok" % sys.argv[2])
PY
}

vm_alive() {	# state_of is lib.sh's
	if [ -z "$TCG" ]; then
		case $(state_of "$1") in Running|Starting) return 0 ;; esac
		return 1
	fi
	local p
	eval "p=\$QPID_$1"
	kill -0 "$p" 2>/dev/null
}

wait_console() {	# vm regex seconds: stop early if the VM is gone
	for _ in $(seq 1 $(($3 * 10))); do
		log_of "$1" | grep -q -- "$2" && return 0
		vm_alive "$1" || { log_of "$1" | grep -q -- "$2"; return; }
		sleep 0.1
	done
	return 1
}

# --- the checks, the same for both generations ---
linux_guest() {	# name gen
	local name=$1 gen=$2 data=$TMP/$1-data.raw token t0 t1 log
	token=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	truncate -s 16M "$data"
	printf 'HVDISK:%s\n' "$token" | dd of="$data" conv=notrunc status=none
	[ "$gen" = 1 ] && cp --sparse=always "$FIX/boot.img" "$TMP/$name-boot.img"
	t0=$(date +%s)
	BOOT_WHY=""
	vm_boot "$name" "$gen" "$data"; ok $? "Gen$gen: $name created and started $BOOT_WHY"
	wait_console "$name" '^hv-linux# ' "$BOOT_S"
	ok $? "Gen$gen: the guest reaches the busybox shell prompt"
	t1=$(date +%s)
	diag "Gen$gen: kernel to prompt in $((t1 - t0)) s$([ -n "$TCG" ] && echo ' (QEMU TCG)')"
	log=$(log_of "$name")
	printf '%s\n' "$log" | grep -q 'Linux version [0-9]'
	ok $? "Gen$gen: the console shows the kernel's 'Linux version' line"
	if [ "$gen" = 1 ]; then
		printf '%s\n' "$log" | grep -q 'SYSLINUX'
		ok $? "Gen1: SYSLINUX, loaded by SeaBIOS from the first disk, printed its banner"
	fi
	printf '%s\n' "$log" | grep -q '^hv-linux: init on '
	ok $? "Gen$gen: the initramfs /init ran"
	printf '%s\n' "$log" | grep -q 'hv-linux: insmod .* failed'
	ok $((! $?)) "Gen$gen: the virtio-pci and virtio-blk modules loaded"
	printf '%s\n' "$log" | grep -q "^hv-linux: /dev/vd[a-z] says HVDISK:$token\$"
	ok $? "Gen$gen: the guest read this run's marker from the data disk over virtio-blk"
	vm_type "$name" 'echo hv-$((6*7))|tee /dev/data'
	wait_console "$name" '^hv-42$' 30
	ok $? "Gen$gen: a line typed on the console runs in the guest's shell"
	log=$(log_of "$name")
	printf '%s\n' "$log" | grep -q '^hv-linux: power button on /dev/input/event[0-9]*; acpid'
	ok $? "Gen$gen: the ACPI button driver made a power button input device; acpid listens on it"
	vm_shutdown "$name"
	ok $? "Gen$gen: shutdown (the ACPI power button): the VM is Off"
	case $SHUT_OUT in *"turned it off"*) false ;; *) true ;; esac
	ok $? "Gen$gen: the guest powered itself off: nothing had to turn it off"
	[ -n "$SHUT_OUT" ] && diag "shutdown said: $SHUT_OUT"
	log=$(log_of "$name")
	printf '%s\n' "$log" | grep -q '^hv-linux: power button: shutting down'
	ok $? "Gen$gen: the guest's acpid ran its power-button action"
	printf '%s\n' "$log" | grep -q 'reboot: Power down'
	ok $? "Gen$gen: the guest's kernel powered down ('reboot: Power down')"
	is "$(head -c 6 "$data")" "hv-42" "Gen$gen: the data disk holds what the guest wrote"
	if ! log_of "$name" | grep -q '^hv-42$'; then
		diag "console tail:" "$(log_of "$name" | tail -n 40)"
	fi
}

linux_guest lx2 2
linux_guest lx1 1
done_testing
