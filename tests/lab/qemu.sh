# tests/lab/qemu.sh - the QEMU that emulates the lab. Sourced (bash) by
# scripts/lab:
#
#	qemu_fetch DIR	sets LAB_QEMU (its qemu-system-x86_64) and LAB_QEMU_DATA
#			(its firmware folder, for -L): QEMU from the release's
#			backports (bookworm-backports: QEMU 10), downloaded with a
#			private apt state under DIR/apt (this machine's apt
#			sources and lists are left alone) and unpacked with dpkg -x
#			into DIR/root, once
#
# For experiments (scripts/lab with HV_LAB_QEMU=backports), not the
# default: Debian 12's QEMU 7.2 aborts the lab ("tcg_handle_interrupt:
# assertion failed") when a guest of the lab's KVM writes CR8 while KVM
# waits for an interrupt window, which OVMF does on every boot; QEMU 10
# runs the probe guests and SeaBIOS 10-20% faster and OVMF into DXE, but
# Linux guests of the lab's KVM (npt=0) die right after their real-mode
# setup (under hv and under QEMU -enable-kvm alike), and with npt=1 QEMU 10
# itself dies when OVMF runs (2026-12-07 again, QEMU 10.0.2, with the SVM
# extras a lab's KVM could use taken away, HV_LAB_CPU_EXTRA=",-vgif,
# -v-vmsave-vmload,-vnmi,-lbrv,-pause-filter,-tsc-scale,-svme-addr-chk,
# -avic,-decodeassists,-flushbyasid,-vmcb-clean,-svm-lock": with npt=0 a
# Linux guest still stops after 9 port I/O exits; with npt=1 it boots (12 s
# to its drivers) and QEMU 10 vanishes without a word once OVMF starts).
# It runs on the release's own libraries (the
# ones deps.sh's qemu-system-x86 installs). The caller defines cannot.

qemu_fetch() {
	local dir=$1 a=$1/apt uri suite deb o
	LAB_QEMU=$dir/root/usr/bin/qemu-system-x86_64
	LAB_QEMU_DATA=$dir/root/usr/share/qemu
	[ -x "$LAB_QEMU" ] && [ -d "$LAB_QEMU_DATA" ] && return 0
	# shellcheck disable=SC1091
	suite=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	[ -n "$suite" ] || cannot "cannot tell this Debian release (/etc/os-release)"
	# the archive this machine's apt uses, else Debian's own
	uri=$(grep -rhsE '^(URIs:|deb) ' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
		/etc/apt/sources.list.d/*.list 2>/dev/null |
		grep -oE 'https?://[^ ]*/debian/?' | grep -v security | head -n 1)
	uri=${uri:-http://deb.debian.org/debian}
	rm -rf "$a" "$dir/root"
	mkdir -p "$a/lists/partial" "$a/cache/archives/partial" "$a/parts" "$a/debs"
	echo "deb ${uri%/} $suite-backports main" >"$a/sources.list"
	o=(-q -o "Dir::Etc::SourceList=$a/sources.list" -o "Dir::Etc::SourceParts=$a/parts"
		-o "Dir::State::Lists=$a/lists" -o "Dir::Cache=$a/cache"
		-o Debug::NoLocking=1 -o APT::Sandbox::User=root)
	echo "lab: fetching QEMU from $suite-backports ($uri) into $dir" >&2
	apt-get "${o[@]}" update >"$a/log" 2>&1 &&
	(cd "$a/debs" && apt-get "${o[@]}" download \
		"qemu-system-x86/$suite-backports" "qemu-system-data/$suite-backports") \
		>>"$a/log" 2>&1 ||
		cannot "cannot download QEMU from $suite-backports (no network?): $(tail -n 1 "$a/log")"
	for deb in "$a"/debs/*.deb; do
		dpkg -x "$deb" "$dir/root" || cannot "dpkg -x $deb failed"
	done
	"$LAB_QEMU" --version >"$a/version" 2>&1 ||
		cannot "the backports QEMU does not run here: $(tail -n 1 "$a/version")"
	rm -rf "$a/lists" "$a/cache"
}
