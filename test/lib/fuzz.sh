# shellcheck shell=bash
# A libFuzzer run, for test/fuzz/*.t: the target test/fuzz/NAME.c, linked
# with the helper's sources it tests, built with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer, then run for FUZZ_SECONDS (20) from a seed
# corpus that is read, never written: new inputs go to test/out/OUT/corpus,
# and findings (crash-*, leak-*) stay in test/out/OUT/.  Sources tap.sh.
#
#   fuzz_run NAME OUT MAX_LEN SEEDS HELPER_SOURCE...    (three TAP tests)

FUZZ_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tap.sh
. "$FUZZ_TOP/test/lib/tap.sh"

# fuzz_run NAME OUT MAX_LEN SEEDS HELPER_SOURCE...: build the target with
# helper/HELPER_SOURCE... and run it on inputs up to MAX_LEN bytes, seeded
# from the folder SEEDS.  TAP: it builds, nothing crashed, leaked or hit
# undefined behaviour, and it ran over 100 inputs.
fuzz_run()
{
	local name=$1 out=$FUZZ_TOP/test/out/$2 max_len=$3 seeds=$4 secs=${FUZZ_SECONDS:-20} rc runs src
	local sources=()
	shift 4
	for src in "$@"; do sources+=("$FUZZ_TOP/helper/$src"); done
	mkdir -p "$out/corpus"
	command -v clang >/dev/null || bail_out "clang is needed (apt-get install clang libclang-rt-14-dev)"
	clang -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
		-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
		-I"$FUZZ_TOP/helper" -I"$(pg_config --includedir)" \
		"$FUZZ_TOP/test/fuzz/$name.c" "${sources[@]}" -o "$out/$name" -lpthread 2>"$out/build.log"
	ok $? "the fuzz target builds (clang -fsanitize=fuzzer,address,undefined)" ||
		bail_out "$(head -20 "$out/build.log")"
	(cd "$out" && HOME=/nonexistent ASAN_OPTIONS=detect_leaks=1 \
		./"$name" -max_total_time="$secs" -timeout=5 -rss_limit_mb=1024 \
		-max_len="$max_len" -print_final_stats=1 "$out/corpus" "$seeds") >"$out/run.log" 2>&1
	rc=$?
	is "$rc" 0 "no crash, leak or undefined behaviour in ${secs}s of fuzzing"
	[ "$rc" -eq 0 ] || diag "$(grep -E 'ERROR|SUMMARY|Test unit written' "$out/run.log" | head -10)"
	runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$out/run.log" | grep -oE '[0-9]+$')
	cmp_ok "${runs:-0}" -gt 100 "the target ran (${runs:-0} inputs)"
	diag "fuzz: ${runs:-0} inputs in ${secs}s, corpus $(ls "$out/corpus" | wc -l) files"
}
