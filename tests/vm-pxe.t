#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 18, network boot: dnsmasq (Debian's) on an internal switch serves
# DHCP and TFTP, as a PXE server on an admin's network does. A Gen1 VM
# with no disk and the boot order "net" runs iPXE (Debian's ipxe-qemu, the
# virtio-net adapter's option ROM, from its PCI expansion ROM BAR), which
# asks for an address, fetches the boot file and runs it: the boot
# sector the Gen1 tests boot from disk, here a PXE boot program, prints
# its marker on COM1. A missing ROM is one clear error.
. "$(dirname "$0")/lib.sh"
NS_PREFIX=hvpxe
BOOT=${B:-$TOP/build}/guest/bootsect.bin
ROM=/usr/lib/ipxe/qemu/efi-virtio.rom
. "$(dirname "$0")/lib-net.sh"
[ -f "$BOOT" ] || skip_all "boot sector not built ($BOOT)"
command -v dnsmasq >/dev/null || skip_all "dnsmasq is not installed (scripts/deps.sh: dnsmasq-base)"
[ -f "$ROM" ] || skip_all "iPXE's ROM is not installed ($ROM; scripts/deps.sh: ipxe-qemu)"
trap 'kill $(cat "$TMP/dnsmasq.pid" 2>/dev/null) 2>/dev/null; net_cleanup' EXIT

run_hv switch create pxe0 --type internal --host-ip 10.0.9.1/24
ok $rc "an internal switch with the host at 10.0.9.1 ($err)"
br=$(nsx ip -o -4 addr show to 10.0.9.1/32 | awk '{print $2; exit}')
ok $([ -n "$br" ]; echo $?) "the switch's host interface is $br"

mkdir -p "$TMP/tftp"
cp "$BOOT" "$TMP/tftp/pxe-boot.bin"
nsx dnsmasq --port=0 --interface="$br" --bind-interfaces --user=root \
	--dhcp-range=10.0.9.50,10.0.9.99,1h --dhcp-leasefile="$TMP/leases" \
	--enable-tftp --tftp-root="$TMP/tftp" --dhcp-boot=pxe-boot.bin \
	--log-dhcp --log-facility="$TMP/dnsmasq.log" --pid-file="$TMP/dnsmasq.pid" \
	2>"$TMP/dnsmasq.err"
ok $? "dnsmasq serves DHCP and TFTP on it ($(cat "$TMP/dnsmasq.err"))"

run_hv vm create p1 --gen 1 --memory 64M
ok $rc "create a Gen1 VM with no disk"
run_hv vm nic add p1 --switch pxe0 --mac 52:54:00:00:09:01
ok $rc "... with an adapter on the switch"
run_hv vm set p1 --boot-order net
ok $rc "... booting the network"
run_hv vm start p1
ok $rc "start it ($err)"
wait_console p1 'gen1: boot ok' 120
ok $? "the boot program came over the network and printed on COM1"
grep -q 'DHCPACK(.*) 10\.0\.9\.[0-9]* 52:54:00:00:09:01' "$TMP/dnsmasq.log"
ok $? "dnsmasq gave the VM's adapter an address"
grep -q 'sent .*pxe-boot.bin to 10\.0\.9\.' "$TMP/dnsmasq.log"
ok $? "... and sent it the boot file over TFTP"
grep -q 'PXEClient' "$TMP/dnsmasq.log"
ok $? "the client asked as a PXE client (iPXE)"
log=$(log_of p1)
echo "$log" | grep -q 'Running option rom at c' && echo "$log" | grep -q 'Booting from ROM'
ok $? "SeaBIOS ran the adapter's option ROM and booted through it"
run_hv vm stop p1
ok $rc "stop it"
if [ "${T_FAIL:-0}" -gt 0 ]; then
	diag "console:" "$(echo "$log" | tail -n 30)" "dnsmasq:" "$(tail -n 20 "$TMP/dnsmasq.log")"
fi

# no ROM: the start says what is missing
HV_NIC_ROM=$TMP/none.rom run_hv vm start p1
ok $([ $rc -ne 0 ]; echo $?) "with no iPXE ROM the VM does not start"
echo "$err" | grep -q 'network boot ROM .*none.rom: No such file.*ipxe-qemu'
ok $? "... and says which file and package ($err)"
printf 'not a rom' >"$TMP/bad.rom"
HV_NIC_ROM=$TMP/bad.rom run_hv vm start p1
echo "$err" | grep -q 'network boot ROM .*bad.rom: not an option ROM'
ok $? "a file that is no option ROM is refused ($err)"
done_testing
