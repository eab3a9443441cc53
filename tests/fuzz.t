#!/usr/bin/env bash
# Fuzz the parsers of outside input (tests/fuzz/fuzz-*.c, libFuzzer).
# Each target first replays its kept corpus (tests/fuzz/corpus/NAME.tar.gz:
# the regression inputs the fuzzers found, minimized with -merge=1; images
# are mostly zeros, so they are kept compressed), then fuzzes for FUZZ_SECONDS (default 15), two
# targets at a time. New inputs go to a temp dir; a crash fails the test
# and leaves its input in build/fuzz/crash-NAME-*.
. "$(dirname "$0")/lib.sh"
FUZZ_SECONDS=${FUZZ_SECONDS:-15}
B=${B:-$TOP/build}
shopt -s nullglob
targets=("$B"/fuzz/fuzz-*)
[ ${#targets[@]} -gt 0 ] || skip_all "no fuzz targets built (make fuzz needs clang)"
plan $((2 * ${#targets[@]}))

run_one() {	# target -> writes $TMP/NAME.{replay,fuzz} status files
	local t=$1 name corpus
	name=$(basename "$t"); name=${name#fuzz-}
	corpus=$TMP/corpus-$name
	mkdir -p "$TMP/new-$name" "$corpus"
	local seeds=()
	if [ -f "$TOP/tests/fuzz/corpus/$name.tar.gz" ]; then
		tar -C "$corpus" -xzf "$TOP/tests/fuzz/corpus/$name.tar.gz"
		seeds=("$corpus")
	fi
	# replay: every kept input once
	if [ ${#seeds[@]} -gt 0 ]; then
		"$t" -runs=0 "${seeds[@]}" >"$TMP/$name.replay.log" 2>&1
		echo $? > "$TMP/$name.replay"
	else
		echo 0 > "$TMP/$name.replay"
	fi
	"$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=1536 \
		-print_final_stats=1 -artifact_prefix="$B/fuzz/crash-$name-" \
		"$TMP/new-$name" "${seeds[@]}" >"$TMP/$name.fuzz.log" 2>&1
	echo $? > "$TMP/$name.fuzz"
}

i=0
for t in "${targets[@]}"; do
	run_one "$t" &
	i=$((i + 1))
	[ $((i % 2)) -eq 0 ] && wait
done
wait

for t in "${targets[@]}"; do
	name=$(basename "$t"); name=${name#fuzz-}
	is "$(cat "$TMP/$name.replay")" 0 "$name: kept corpus replays without a crash"
	[ "$(cat "$TMP/$name.replay")" = 0 ] || tail -30 "$TMP/$name.replay.log" | sed 's/^/# /'
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$TMP/$name.fuzz.log" | grep -o '[0-9]*$')
	is "$(cat "$TMP/$name.fuzz")" 0 "$name: ${FUZZ_SECONDS}s of fuzzing, no crash (${execs:-?} runs)"
	[ "$(cat "$TMP/$name.fuzz")" = 0 ] || grep -A25 'ERROR\|SUMMARY\|deadly' "$TMP/$name.fuzz.log" | head -40 | sed 's/^/# /'
done
done_testing
