# tests/lab/kmod.sh - Debian's distribution kernel for the lab and for the
# Linux-guest fixtures. Sourced (bash) by scripts/lab and tests/linux-guest.sh:
#
#	kmod_fetch DIR [DIR2] sets KPKG (linux-image-6.1.0-NN-amd64, the real
#	                      package behind linux-image-amd64) and KDEB (its .deb,
#	                      downloaded into DIR with apt-get download unless
#	                      there, or linked from DIR2 when that has it)
#	kmod_unpack DEB WORK  dpkg -x into WORK/pkg; sets KVER, MODDIR, VMLINUZ
#	kmod_collect DEST M.. copies modules M and what they depend on into DEST
#	                      (uncompressed, NAME.ko); sets KMOD_ORDER, dependencies
#	                      first: the order insmod needs
#
# The package has no modules.dep (depmod runs at install), so each module's
# own depends= field is read from its .modinfo strings. Built-in modules
# (modules.builtin) need nothing. The caller defines cannot (exit 2: not
# possible here) and die (exit 1: a real failure).

kmod_fetch() {
	local dir=$1 other=${2:-} o
	KPKG=$(apt-cache depends linux-image-amd64 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*\)$/\1/p' | head -n 1)
	[ -n "$KPKG" ] || cannot "apt-cache knows no linux-image-amd64 (not Debian, or run apt-get update)"
	KDEB=$(ls "$dir/$KPKG"_*.deb 2>/dev/null | head -n 1 || true)
	[ -n "$KDEB" ] && return 0
	rm -f "$dir"/linux-image-*.deb
	o=$(ls "$other/$KPKG"_*.deb 2>/dev/null | head -n 1 || true)
	if [ -n "$o" ] && ln -f "$o" "$dir/" 2>/dev/null; then
		KDEB=$dir/${o##*/}
		return 0
	fi
	(cd "$dir" && apt-get download -q -o APT::Sandbox::User=root "$KPKG") \
		>"$dir/download.log" 2>&1 ||
		cannot "cannot download $KPKG (no network?): $(tail -n 1 "$dir/download.log")"
	KDEB=$(ls "$dir/$KPKG"_*.deb | head -n 1)
}

kmod_unpack() {
	local deb=$1 work=$2
	dpkg -x "$deb" "$work/pkg" || die "dpkg -x $deb failed"
	KVER=$(basename "$(ls -d "$work"/pkg/lib/modules/* "$work"/pkg/usr/lib/modules/* 2>/dev/null | head -n 1)")
	[ -n "$KVER" ] || die "$deb holds no lib/modules/VERSION"
	MODDIR=$(ls -d "$work/pkg/lib/modules/$KVER" "$work/pkg/usr/lib/modules/$KVER" 2>/dev/null | head -n 1)
	VMLINUZ=$(ls "$work"/pkg/boot/vmlinuz-* 2>/dev/null | head -n 1)
	[ -n "$VMLINUZ" ] || die "$deb holds no boot/vmlinuz-*"
}

kmod_file() {	# name -> path of NAME.ko[.xz|.zst], "" if none
	local n=$1 alt=${1//_/-}
	find "$MODDIR/kernel" \( -name "$n.ko" -o -name "$n.ko.xz" -o -name "$n.ko.zst" \
		-o -name "$alt.ko" -o -name "$alt.ko.xz" -o -name "$alt.ko.zst" \) | head -n 1
}

kmod_visit() {	# name dest
	local m=$1 dest=$2 f d deps
	case $KMOD_SEEN in *" $m "*) return 0 ;; esac
	KMOD_SEEN="$KMOD_SEEN$m "
	f=$(kmod_file "$m")
	if [ -z "$f" ]; then
		grep -Eq "/(${m}|${m//_/-})\.ko" "$MODDIR/modules.builtin" ||
			die "module $m is neither in $KPKG nor built in"
		return 0
	fi
	case $f in
	*.xz) xz -dc "$f" >"$dest/$m.ko" ;;
	*.zst) zstd -q -dc "$f" >"$dest/$m.ko" ;;
	*) cp "$f" "$dest/$m.ko" ;;
	esac || die "cannot unpack $f"
	deps=$(tr '\0' '\n' <"$dest/$m.ko" | sed -n 's/^depends=//p' | head -n 1)
	for d in ${deps//,/ }; do
		kmod_visit "$d" "$dest"
	done
	KMOD_ORDER="$KMOD_ORDER$m "
}

kmod_collect() {
	local dest=$1 m
	shift
	KMOD_SEEN=" "
	KMOD_ORDER=""
	mkdir -p "$dest"
	for m in "$@"; do
		kmod_visit "$m" "$dest"
	done
}
