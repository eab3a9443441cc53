#!/usr/bin/env bash
# Malformed images through the hv command line: truncated files, bad
# checksums, table entries past EOF, huge sizes, loops in parent chains
# and missing parents. Each gets exit 1 and one "hv: ..." line from
# `hv disk info`, `check` and `convert`, never a crash (ASan build), and
# no half-written destination.
. "$(dirname "$0")/lib.sh"
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed"
cd "$TMP" || exit 1

poke() {	# file offset hexbytes: overwrite bytes in place
	python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(int(sys.argv[2],0)); f.write(bytes.fromhex(sys.argv[3]))' "$@"
}

qemu-img create -q -f vpc dyn.vhd 64M
qemu-img create -q -f vhdx x.vhdx 64M
qemu-img create -q -f qcow2 q.qcow2 64M
qemu-img create -q -f vmdk k.vmdk 64M
qemu-io -f vpc -c 'write -P 0x11 0 1M' dyn.vhd >/dev/null
qemu-io -f vhdx -c 'write -P 0x11 0 1M' x.vhdx >/dev/null
qemu-io -f qcow2 -c 'write -P 0x11 0 1M' q.qcow2 >/dev/null

# truncated files
head -c 300 dyn.vhd > trunc.vhd
head -c 100000 x.vhdx > trunc.vhdx
head -c 50 q.qcow2 > trunc.qcow2
head -c 700 k.vmdk > trunc.vmdk
# bad checksums: the VHD footer copy and dynamic header, both VHDX headers
cp dyn.vhd badsum.vhd; poke badsum.vhd 0x40 ffffffff; poke badsum.vhd $(( $(stat -c %s dyn.vhd) - 512 + 0x40 )) ffffffff
poke badsum.vhd 0x200 00
cp x.vhdx badsum.vhdx; poke badsum.vhdx 0x10004 00000000; poke badsum.vhdx 0x20004 00000000
# table entries past EOF: first VHD BAT entry, first qcow2 L1 entry
cp dyn.vhd bat.vhd
bat=$(python3 -c 'import struct; f=open("dyn.vhd","rb"); f.seek(512+16); print(struct.unpack(">Q", f.read(8))[0])')
poke bat.vhd $bat 0fffffff
cp q.qcow2 l1.qcow2
l1=$(python3 -c 'import struct; f=open("q.qcow2","rb"); f.seek(40); print(struct.unpack(">Q", f.read(8))[0])')
poke l1.qcow2 $l1 80000000ffff0000
# huge sizes: qcow2 size field, VMDK capacity
cp q.qcow2 huge.qcow2; poke huge.qcow2 24 7ffffffffffffe00
cp k.vmdk huge.vmdk; poke huge.vmdk 12 ffffffffffffff00
# a loop in a parent chain, and a missing parent
qemu-img create -q -f qcow2 -u -b loop-b.qcow2 -F qcow2 loop-a.qcow2 64M
qemu-img create -q -f qcow2 -u -b loop-a.qcow2 -F qcow2 loop-b.qcow2 64M
qemu-img create -q -f qcow2 -u -b gone.qcow2 -F qcow2 orphan.qcow2 64M
"$HV" disk create parent.vhd --format vhd --size 64M >/dev/null
"$HV" disk create orphan.vhd --format vhd --parent parent.vhd >/dev/null && rm parent.vhd
"$HV" disk create parent.vhdx --format vhdx --size 64M >/dev/null
"$HV" disk create orphan.vhdx --format vhdx --parent parent.vhdx >/dev/null && rm parent.vhdx

for img in trunc.vhd trunc.vhdx trunc.qcow2 trunc.vmdk badsum.vhd badsum.vhdx bat.vhd \
	   l1.qcow2 huge.qcow2 huge.vmdk loop-a.qcow2 orphan.qcow2 orphan.vhd orphan.vhdx; do
	# a truncated vmdk or vhd may still be a valid raw file: info may
	# succeed as raw; what must never happen is a crash or a wrong format
	run_hv disk convert "$img" "out-$img.raw" --format raw
	is "$rc" 1 "$img: convert fails with exit 1"
	one_error_line "$img: convert"
	[ ! -e "out-$img.raw" ]; ok $? "$img: no half-written destination"
	run_hv disk info "$img"
	case $img in
	l1.qcow2|trunc.vmdk|trunc.vhd)
		# the header is sound; the damage shows when data is read
		[ "$rc" -le 1 ]; ok $? "$img: info exits 0 or 1 ($rc)"
		! printf '%s' "$err" | grep -q 'Sanitizer\|runtime error'; ok $? "$img: info does not crash" ;;
	*)
		is "$rc" 1 "$img: info fails with exit 1"
		one_error_line "$img: info" ;;
	esac
done
run_hv disk check l1.qcow2
is "$rc" 1 "l1.qcow2: check reports the corruption (exit 1)"
printf '%s\n%s' "$out" "$err" | grep -qi 'past\|beyond\|corrupt\|error'; ok $? "and says what it found"
done_testing
