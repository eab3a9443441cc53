#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 5, Gen1: a generation 1 VM boots SeaBIOS (Debian's bios-256k.bin)
# through fw_cfg, and SeaBIOS boots the MBR of the first disk, a dynamic
# VHD (and a VHDX) attached as virtio-blk: our PCI, fw_cfg and virtio-pci
# checked by someone else's driver. The boot sector prints "gen1: boot ok"
# on COM1 and halts, so the VM is up with nothing answering the power
# button: `hv vm shutdown` turns it off after the timeout and says so.
# SeaBIOS also counts the vCPUs it starts (INIT/SIPI), and a missing or
# bogus firmware image is one clear error.
. "$(dirname "$0")/lib.sh"
BOOT=${B:-$TOP/build}/guest/bootsect.bin
BIOS=/usr/share/seabios/bios-256k.bin
[ -w /dev/kvm ] || skip_all "no /dev/kvm (needs root and KVM)"
[ -f "$BOOT" ] || skip_all "boot sector not built ($BOOT)"
[ -f "$BIOS" ] || skip_all "SeaBIOS is not installed ($BIOS; package seabios)"
trap 'for v in g1 g2 g4 nos bad cd1 cd2; do "$HV" vm stop $v >/dev/null 2>&1; done; rm -rf "$TMP"' EXIT

# the boot disk: 16 MiB raw with the MBR, converted by hv to VHD and VHDX
truncate -s 16M "$TMP/boot.raw"
dd if="$BOOT" of="$TMP/boot.raw" conv=notrunc status=none
run_hv disk convert "$TMP/boot.raw" "$TMP/boot.vhd" --format vhd
ok $rc "boot disk as a dynamic VHD"
run_hv disk convert "$TMP/boot.raw" "$TMP/boot.vhdx" --format vhdx
ok $rc "boot disk as a dynamic VHDX"

run_hv vm create g1 --gen 1 --memory 128M --disk "$TMP/boot.vhd"
ok $rc "create a Gen1 VM on the VHD"
run_hv vm start g1
ok $rc "start it ($err)"
wait_console g1 'gen1: boot ok' 120
ok $? "the boot sector printed on the serial console"
log=$(log_of g1)
echo "$log" | grep -q '^SeaBIOS (version'; ok $? "the SeaBIOS banner is on the console"
echo "$log" | grep -q 'found virtio-blk at'; ok $? "SeaBIOS found the virtio-blk disk"
echo "$log" | grep -q 'using modern (1.0) virtio mode'; ok $? "... and drove it as virtio 1.0 (modern)"
echo "$log" | grep -q 'Booting from Hard Disk'; ok $? "SeaBIOS booted from the hard disk"
echo "$log" | grep -q 'Found QEMU fw_cfg'; ok $? "SeaBIOS read our fw_cfg"
echo "$log" | grep -q '0000000000100000 - 0000000007ff.... = 1 RAM'
ok $? "its e820 map has the RAM we gave (128 MiB)"
is "$(state_of g1)" Running "the worker says Running"

show=$("$HV" vm show g1 --json)
reads=$(echo "$show" | python3 -c 'import json,sys; print(json.load(sys.stdin)["runtime"]["disks"][0]["read_requests"])' 2>/dev/null)
ok $([ "${reads:-0}" -ge 1 ]; echo $?) "the virtio-blk counters show the boot sector read (${reads:-none})"

# saved and restored: SeaBIOS's ROM, fw_cfg, the legacy devices and a
# vCPU halted in real mode come back, and the VM runs on
run_hv vm save g1
ok $rc "save the Gen1 VM ($err)"
is "$(state_of g1)" Saved "it is Saved"
run_hv vm start g1
ok $rc "start restores it ($err)"
sleep 1
is "$(state_of g1)" Running "it runs on (no triple fault, no emulation failure)"
grep -c 'gen1: boot ok' "$HV_HOME/log/g1.console.log" | grep -qx 1; ok $? "without booting again"

# nothing answers the power button: turned off after the timeout, and said
run_hv vm shutdown g1 --timeout 3
ok $rc "shutdown returns success once it turned the VM off"
echo "$out" | grep -q 'did not shut down within 3 s: turned it off'
ok $? "and says so ($out)"
is "$(state_of g1)" Off "the VM is Off"
run_hv vm start g1
wait_console g1 'gen1: boot ok' 120 >/dev/null
run_hv vm shutdown g1 --timeout 1 --keep-on
is "$rc" 1 "--keep-on: the time is up, exit 1"
one_error_line "one clear line"; echo "$err" | grep -q -- "did not shut down within 1 s"; ok $? "it names the cause: did not shut down within 1 s"
is "$(state_of g1)" Running "--keep-on leaves it running"
run_hv vm stop g1

# a DVD drive (virtio-scsi, SeaBIOS's own driver): the boot sector as an
# ISO's El Torito image (no emulation). In Hyper-V's Gen1 order (DVD,
# disk, network) SeaBIOS boots the DVD past a blank disk; saved and
# restored, the controller comes back; while it runs the worker changes
# and ejects the medium and the inventory follows. With --boot-order
# disk,dvd (fw_cfg "bootorder") a bootable disk goes first.
mkdir -p "$TMP/cd" && cp "$BOOT" "$TMP/cd/boot.bin"
xorriso -as mkisofs -quiet -V HV-BOOT -b boot.bin -no-emul-boot -boot-load-size 1 \
	-o "$TMP/boot.iso" "$TMP/cd" 2>/dev/null
ok $? "a bootable ISO (El Torito, no emulation) made with xorriso"
truncate -s 1M "$TMP/blank-cd.raw"
run_hv vm create cd1 --gen 1 --memory 128M --disk "$TMP/blank-cd.raw" --dvd "$TMP/boot.iso"
ok $rc "create a Gen1 VM with a blank disk and the ISO in its DVD drive ($err)"
run_hv vm start cd1
ok $rc "start it ($err)"
wait_console cd1 'gen1: boot ok' 120
ok $? "the boot sector on the DVD printed on the console"
log=$(log_of cd1)
echo "$log" | grep -q 'found virtio-scsi at'; ok $? "SeaBIOS found the virtio-scsi controller"
echo "$log" | grep -q 'Booting from DVD/CD'; ok $? "SeaBIOS booted from the DVD, ahead of the disk"
run_hv vm save cd1
ok $rc "save it ($err)"
run_hv vm start cd1
ok $rc "restore it ($err)"
sleep 1
is "$(state_of cd1)" Running "it runs on"
grep -c 'gen1: boot ok' "$HV_HOME/log/cd1.console.log" | grep -qx 1; ok $? "without booting again"
dvd0() { "$HV" vm dvd list "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["iso"] or "-")'; }
run_hv vm dvd set cd1 0 --eject
ok $rc "hv vm dvd set --eject while it runs: the worker takes the medium out ($err)"
is "$(dvd0 cd1)" "-" "the inventory says the drive is empty"
run_hv vm dvd set cd1 0 --iso "$TMP/nope.iso"
ok $([ $rc -ne 0 ]; echo $?) "an ISO that is not there is refused ($err)"
run_hv vm dvd set cd1 0 --iso "$TMP/boot.iso"
ok $rc "hv vm dvd set --iso while it runs ($err)"
is "$(dvd0 cd1)" "$TMP/boot.iso" "the inventory holds the ISO again"
run_hv vm dvd add cd1
ok $([ $rc -ne 0 ]; echo $?) "a DVD drive is not added to a running VM ($err)"
grep -q 'DVD drive 0: ejected' "$HV_HOME/log/cd1.log" 2>/dev/null || grep -rq 'DVD drive 0: ejected' "$HV_HOME/log/"
ok $? "the worker's log says what happened to the drive"
run_hv vm stop cd1
cp "$TMP/boot.raw" "$TMP/boot-cd2.raw"
run_hv vm create cd2 --gen 1 --memory 128M --disk "$TMP/boot-cd2.raw" --dvd "$TMP/boot.iso" \
	--boot-order disk,dvd
ok $rc "a Gen1 VM with a bootable disk and DVD, --boot-order disk,dvd ($err)"
run_hv vm start cd2
wait_console cd2 'gen1: boot ok' 120
ok $? "it boots"
log=$(log_of cd2)
echo "$log" | grep -q 'Booting from Hard Disk' && ! echo "$log" | grep -q 'Booting from DVD/CD'
ok $? "SeaBIOS booted the disk first, as the boot order says"
run_hv vm stop cd2

# the same MBR from a VHDX, with 4 vCPUs SeaBIOS must find and start
run_hv vm create g4 --gen 1 --memory 128M --vcpus 4 --disk "$TMP/boot.vhdx"
ok $rc "create a 4-vCPU Gen1 VM on the VHDX"
run_hv vm start g4
wait_console g4 'gen1: boot ok' 120
ok $? "it boots from the VHDX"
log_of g4 | grep -q 'Found 4 cpu(s)'; ok $? "SeaBIOS started 4 CPUs ($(log_of g4 | grep -o 'Found [0-9]* cpu(s)[^.]*'))"
run_hv vm stop g4

# no OS at all: SeaBIOS says so, and shutdown still ends it
truncate -s 1M "$TMP/blank.raw"
run_hv vm create nos --gen 1 --memory 64M --disk "$TMP/blank.raw"
run_hv vm start nos
wait_console nos 'not a bootable disk' 120
ok $? "a blank disk: SeaBIOS reports it is not bootable"
run_hv vm shutdown nos --timeout 2
ok $rc "shutdown of a VM with no OS"
echo "$out" | grep -q 'turned it off'; ok $? "turned it off after the timeout"

# firmware that is not there, or not a BIOS: one line, the VM stays Off
run_hv vm create bad --gen 1 --memory 64M --disk "$TMP/blank.raw" --firmware "$TMP/nope.bin"
ok $([ $rc -ne 0 ]; echo $?) "create refuses firmware that does not exist"
one_error_line "one clear line"; echo "$err" | grep -q -- "nope.bin"; ok $? "it names the file"
head -c 1000 /dev/urandom >"$TMP/junk.bin"
truncate -s 1M "$TMP/blank2.raw"
run_hv vm create bad --gen 1 --memory 64M --disk "$TMP/blank2.raw" --firmware "$TMP/junk.bin"
ok $rc "create with a 1000-byte file as firmware ($err)"
run_hv vm start bad
ok $([ $rc -ne 0 ]; echo $?) "start fails"
one_error_line "one clear line"; echo "$err" | grep -q -- "not a firmware image"; ok $? "it says why ($err)"
is "$(state_of bad)" Off "the VM stays Off"
done_testing
