#!/usr/bin/env bash
# lab: runs VMs (on /dev/kvm, or in scripts/lab where there is none)
# Issue 5, SMP: Gen2 VMs made with the hv shell and --vcpus N run the probe's
# `smp` command: it finds the CPUs in the ACPI MADT the VMM built, starts
# every AP through INIT-SIPI-SIPI at the in-kernel LAPIC, and each AP
# prints its APIC id from ring 3. Also: the probe's first line and its
# `acpi` report agree with N, and `acpi-off` (S5 through PM1a_CNT) turns
# the VM off.
. "$(dirname "$0")/lib.sh"
PROBE=${B:-$TOP/build}/guest/probe.elf
[ -w /dev/kvm ] || skip_all "no /dev/kvm (needs root and KVM)"
[ -f "$PROBE" ] || skip_all "probe guest not built ($PROBE)"
trap 'for v in s1 s4 s8 s64 w4 h4 off; do "$HV" vm stop $v >/dev/null 2>&1; done; rm -rf "$TMP"' EXIT

smp_vm() {	# name vcpus
	run_hv vm create "$1" --memory 256M --vcpus "$2" --kernel "$PROBE" --cmdline "acpi; smp"
	ok $rc "create $1 with --vcpus $2"
	run_hv vm start "$1"
	ok $rc "start $1 ($err)"
	wait_console "$1" 'probe: cpus_online=' 60
	ok $? "$1: the probe reports cpus_online"
	wait_off "$1"; ok $? "$1: the probe exits and the VM is Off"
	log=$(log_of "$1")
}

ap_lines_ok() {	# n: APIC ids 1..n-1, each exactly once, nothing else
	local want got
	want=$(seq 1 $(($1 - 1)) | sed 's/.*/probe: ap apic_id=& online/')
	got=$(printf '%s\n' "$log" | grep '^probe: ap ' | sort -t= -k2 -n)
	[ "$got" = "$want" ]
}

# 4 vCPUs: the acceptance case
smp_vm s4 4
is "$(printf '%s\n' "$log" | grep -o 'cpus_online=[0-9]*')" cpus_online=4 "4 vCPUs: cpus_online=4"
ap_lines_ok 4; ok $? "each AP printed its APIC id once: 1, 2, 3"
printf '%s\n' "$log" | grep -q '^probe: cpus=4 '; ok $? "the probe's first line says cpus=4"
printf '%s\n' "$log" | grep -q '^probe: acpi rsdp=0xe0000 madt_cpus=4 ioapic=0xfec00000 fadt=ok dsdt=ok s5=5 '
ok $? "acpi: RSDP at 0xE0000, 4 CPUs in the MADT, FADT, DSDT with \\_S5_"
if [ -d /sys/module/kvm_pvm ]; then	# see tests/unit/vmm-acpi.c for the table itself
	ok 0 "# SKIP CPUID in the guest: kvm_pvm leaves CPUID to the outer hypervisor"
else
	printf '%s\n' "$log" | grep -q '^probe: smp cpuid apic_ids=ok package_cpus=4 virt=none$'
	ok $? "CPUID: every CPU's leaf 1 and 0xB APIC id is its LAPIC id; one package of 4; no SVM or VMX (no nested virtualization)"
fi
printf '%s\n' "$log" | grep -q 'exit code=0'; ok $? "smp passes (exit code 0)"

# 1 vCPU: nothing to start
smp_vm s1 1
is "$(printf '%s\n' "$log" | grep -o 'cpus_online=[0-9]*')" cpus_online=1 "1 vCPU: cpus_online=1"
is "$(printf '%s\n' "$log" | grep -c '^probe: ap ')" 0 "no AP lines"

# 8 and 64 (VMM_MAX_VCPUS)
smp_vm s8 8
is "$(printf '%s\n' "$log" | grep -o 'cpus_online=[0-9]*')" cpus_online=8 "8 vCPUs: cpus_online=8"
ap_lines_ok 8; ok $? "APIC ids 1..7, each once"
smp_vm s64 64
is "$(printf '%s\n' "$log" | grep -o 'cpus_online=[0-9]*')" cpus_online=64 "64 vCPUs: cpus_online=64"
ap_lines_ok 64; ok $? "APIC ids 1..63, each once, lines whole"
if [ -d /sys/module/kvm_pvm ]; then
	ok 0 "# SKIP CPUID in the guest: kvm_pvm leaves CPUID to the outer hypervisor"
else
	printf '%s\n' "$log" | grep -q '^probe: smp cpuid apic_ids=ok package_cpus=64 virt=none$'
	ok $? "CPUID: 64 ids right, one package of 64"
fi

# pause/resume with APs waiting for SIPI (w4) and with APs halted (h4)
for v in w4 h4; do
	cmd=ready; [ $v = h4 ] && cmd="smp; ready"
	run_hv vm create $v --memory 128M --vcpus 4 --kernel "$PROBE" --cmdline "$cmd"
	run_hv vm start $v
	wait_console $v 'probe: ready' 30; ok $? "$v ($cmd): ready"
	run_hv vm pause $v; ok $rc "$v: pause parks all 4 vCPUs ($err)"
	is "$(state_of $v)" Paused "$v: Paused"
	run_hv vm resume $v; ok $rc "$v: resume"
	run_hv vm shutdown $v --timeout $((10 * SLOW)); ok $rc "$v: shutdown after resume"
	log_of $v | grep -q 'probe: shutdown'; ok $? "$v: the BSP still answers"
done

# S5: the guest turns itself off through PM1a_CNT
run_hv vm create off --memory 64M --kernel "$PROBE" --cmdline "acpi-off"
run_hv vm start off
ok $rc "start a probe that writes S5"
wait_off off; ok $? "the VM is Off after the S5 write"
log=$(log_of off)
printf '%s\n' "$log" | grep -q 'still running'; ok $((! $?)) "the guest never ran past it"
done_testing
