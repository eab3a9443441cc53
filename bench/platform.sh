# bench/platform.sh - where a VM benchmark runs; sourced by bench/vm,
# bench/net and bench/migrate:
#
#	bench_platform NAME "$@"
#
# On a host with a usable /dev/kvm it prints the platform and returns. On
# one without (../shared/PLATFORM.md) it runs the whole benchmark again
# inside the lab (scripts/lab run): hv and its peer, QEMU -enable-kvm, both
# on the lab's KVM in the same run, so the ratios compare like with like;
# absolute times from the lab (TCG underneath) mean little.
bench_platform() {
	local name=$1
	shift
	if ! "$TOP/scripts/lab" native >/dev/null 2>&1; then
		echo "$name: no usable /dev/kvm here: hv and QEMU both run inside the lab (scripts/lab)"
		exec "$TOP/scripts/lab" run --timeout 3600 -- "$TOP/$name" "$@"
	fi
	if [ -n "${HV_IN_LAB:-}" ]; then
		echo "platform: the lab: KVM (Linux $(uname -r), kvm_amd npt=$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)) on an AMD-V CPU emulated by QEMU TCG; ratios only"
	else
		echo "platform: native KVM ($(uname -r)) on$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2-)"
	fi
}
