#!/usr/bin/env bash
# Crash safety: SIGKILL at random points while writing VHDX and qcow2
# images (20 trials each, half made by hv, half by qemu-img). Every image
# still opens (a VHDX replays its log), passes hv's check and qemu-img
# check with no corruption, and every acknowledged write reads back.
. "$(dirname "$0")/lib.sh"
TOOL=${B:-$TOP/build}/tools/disk-crash
[ -x "$TOOL" ] || skip_all "build/tools/disk-crash not built"
command -v qemu-img >/dev/null || skip_all "qemu-img (qemu-utils) is not installed"
TRIALS=${CRASH_TRIALS:-20}
export ASAN_OPTIONS=detect_leaks=0	# a killed process leaks by definition

for fmt in vhdx qcow2; do
	killed=0
	for t in $(seq 1 "$TRIALS"); do
		img=$TMP/t$t.$fmt
		seed=$((RANDOM * 32768 + RANDOM))
		n=$((RANDOM % 250 + 1))
		if [ $((t % 2)) -eq 0 ]; then
			qemu-img create -q -f $fmt "$img" 64M
		else
			"$TOOL" create "$img" $fmt 67108864
		fi
		# (in a subshell so bash's "Killed" notice stays out of the log)
		wrc=$( { HV_DISK_FAULT=pwrite:$n:kill "$TOOL" write "$img" $seed 40 \
			>"$TMP/acks" 2>"$TMP/werr"; echo $?; } 2>/dev/null )
		[ $wrc -eq 137 ] && killed=$((killed + 1))
		acked=$(tail -n 1 "$TMP/acks" | awk '{print $2}')
		acked=${acked:--1}
		desc="$fmt trial $t (kill at pwrite $n, $((acked + 1)) writes acknowledged)"
		"$TOOL" verify "$img" $seed "$acked" >"$TMP/verify" 2>&1
		vrc=$?
		is "$vrc" 0 "$desc: opens, checks clean, acknowledged writes read back"
		[ $vrc -eq 0 ] || sed 's/^/# /' "$TMP/verify" "$TMP/werr"
		qemu-img check -q "$img" >"$TMP/qc" 2>&1
		qrc=$?
		# 0: clean; 3: leaked clusters only (not corruption)
		[ $qrc -eq 0 ] || [ $qrc -eq 3 ]
		ok $? "$desc: qemu-img check finds no corruption (exit $qrc)"
		[ $qrc -eq 0 ] || [ $qrc -eq 3 ] || sed 's/^/# /' "$TMP/qc" | head -10
		rm -f "$img"
	done
	[ $killed -gt 0 ]; ok $? "$fmt: $killed of $TRIALS trials were really killed mid-run"
done
done_testing
