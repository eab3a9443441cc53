#!/usr/bin/env bash
# Every format pair through `hv disk convert` (fixed and dynamic variants):
# images made by qemu-img are read by hv with identical content, and images
# hv makes are identical to their source by `qemu-img compare` and pass
# `qemu-img check` where qemu-img has one. Formats whose driver is not built
# into hv are skipped.
. "$(dirname "$0")/lib.sh"
command -v qemu-img >/dev/null || skip_all "qemu-img is not installed"
cd "$TMP" || exit 1

qfmt() { case $1 in vhd) echo vpc ;; *) echo "$1" ;; esac; }
has_check() { case $1 in qcow2|vhdx|vmdk) return 0 ;; *) return 1 ;; esac; }
skip() { T_N=$((T_N + 1)); echo "ok $T_N # SKIP $*"; }

# 96M: holes, a partial first block, a full 32M block (VHDX's default),
# scattered runs, a 1k write inside a block, and the last sector
python3 - pattern.raw <<'PY'
import os, random, sys
r = random.Random(7)
M = 1 << 20
with open(sys.argv[1], "wb") as f:
    f.truncate(96 * M)
    for off, n in [(0, 64 << 10), (4 * M, 2 * M), (32 * M, 32 * M),
                   (70 * M + 512, 1024), (81 * M + 4096, 300 << 10),
                   (96 * M - 512, 512)]:
        os.pwrite(f.fileno(), bytes(r.getrandbits(8) for _ in range(min(n, 4096))) * (n // min(n, 4096)), off)
PY

# sources made by qemu-img; a variant is FORMAT or FORMAT-fixed
variants=""
for v in raw vhd vhd-fixed vhdx vhdx-fixed qcow2 vmdk; do
	f=${v%-fixed}
	opt=""
	[ "$v" != "$f" ] && opt="-o subformat=fixed"
	qemu-img convert -f raw -O "$(qfmt $f)" $opt pattern.raw "src-$v.$f" 2>/dev/null || continue
	run_hv disk info "src-$v.$f" --json
	got=$(printf '%s' "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["format"])' 2>/dev/null)
	if [ "$rc" -ne 0 ] || [ "$got" != "$f" ]; then
		skip "hv cannot read $v yet (${err:-format $got})"
		continue
	fi
	variants="$variants $v"
	run_hv disk convert "src-$v.$f" "read-$v.raw" --format raw
	ok $rc "hv converts qemu-img's $v to raw"
	cmp -s pattern.raw <(head -c $((96 << 20)) "read-$v.raw") &&
		[ -z "$(tail -c +$(((96 << 20) + 1)) "read-$v.raw" | tr -d '\0' | head -c 1)" ]
	ok $? "hv reads qemu-img's $v with identical content"
done

for s in $variants; do
	sf=${s%-fixed}
	for d in raw raw-fixed vhd vhd-fixed vhdx vhdx-fixed qcow2 vmdk; do
		df=${d%-fixed}
		case " $variants " in
		*" $df "*) ;;
		*) skip "$s -> $d: hv has no $df driver"; continue ;;
		esac
		opt=--dynamic
		[ "$d" != "$df" ] && opt=--fixed
		run_hv disk convert "src-$s.$sf" "out-$s-$d.$df" --format "$df" $opt
		ok $rc "convert $s -> $d${err:+ (${err%%$'\n'*})}"
		qemu-img compare -q -f "$(qfmt $sf)" -F "$(qfmt $df)" "src-$s.$sf" "out-$s-$d.$df" 2>/dev/null
		ok $? "$s -> $d: identical by qemu-img compare"
		if has_check "$df"; then
			qemu-img check -q -f "$(qfmt $df)" "out-$s-$d.$df" >/dev/null 2>&1
			ok $? "$s -> $d: qemu-img check is clean"
		fi
		rm -f "out-$s-$d.$df"
	done
done

done_testing
