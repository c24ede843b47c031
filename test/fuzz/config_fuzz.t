#!/usr/bin/env bash
# Fuzz the helper's env-file parser and setting conversion (libFuzzer with
# clang, AddressSanitizer and UndefinedBehaviorSanitizer) for FUZZ_SECONDS
# (default 20) from the seed corpus in test/fuzz/corpus.  Longer on demand:
#
#   FUZZ_SECONDS=600 prove -v test/fuzz/config_fuzz.t
#
# Findings (crash-*, leak-*) are kept in test/out/fuzz/; rerun one with
#   test/out/fuzz/config_fuzz test/out/fuzz/crash-...
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"

SECONDS_TO_RUN=${FUZZ_SECONDS:-20}
OUT=$TOP/test/out/fuzz
mkdir -p "$OUT/corpus"
command -v clang >/dev/null || bail_out "clang is needed (apt-get install clang libclang-rt-14-dev)"

clang -g -O1 -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-parameter \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-I"$TOP/helper" -I"$(pg_config --includedir)" \
	"$TOP/test/fuzz/config_fuzz.c" "$TOP/helper/config.c" "$TOP/helper/env_file.c" "$TOP/helper/log.c" \
	"$TOP/helper/clock.c" \
	-o "$OUT/config_fuzz" -lpthread 2>"$OUT/build.log"
ok $? "the fuzz target builds (clang -fsanitize=fuzzer,address,undefined)" ||
	bail_out "$(head -20 "$OUT/build.log")"

# The seeds are read, never written: new inputs go to test/out/fuzz/corpus.
(cd "$OUT" && HOME=/nonexistent ASAN_OPTIONS=detect_leaks=1 \
	./config_fuzz -max_total_time="$SECONDS_TO_RUN" -timeout=5 -rss_limit_mb=1024 \
	-max_len=4096 -print_final_stats=1 "$OUT/corpus" "$TOP/test/fuzz/corpus") >"$OUT/run.log" 2>&1
rc=$?
is "$rc" 0 "no crash, leak or undefined behaviour in ${SECONDS_TO_RUN}s of fuzzing"
[ "$rc" -eq 0 ] || diag "$(grep -E 'ERROR|SUMMARY|Test unit written' "$OUT/run.log" | head -10)"
runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$OUT/run.log" | grep -oE '[0-9]+$')
cmp_ok "${runs:-0}" -gt 100 "the target ran (${runs:-0} inputs)"
diag "fuzz: ${runs:-0} inputs in ${SECONDS_TO_RUN}s, corpus $(ls "$OUT/corpus" | wc -l) files"

done_testing
