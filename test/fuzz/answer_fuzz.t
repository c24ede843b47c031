#!/usr/bin/env bash
# Fuzz what the helper reads from other machines and prints for operators:
# the HTTP answer reader, the bounded JSON reader with the Patroni probe's
# lookups, and the escape of text (libFuzzer with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer) for FUZZ_SECONDS (default 20) from the
# seed corpus in test/fuzz/answer_corpus (Patroni 3.0's answers).  Longer
# on demand:
#
#   FUZZ_SECONDS=600 prove -v test/fuzz/answer_fuzz.t
#
# Findings (crash-*, leak-*) are kept in test/out/fuzz-answer/; rerun one with
#   test/out/fuzz-answer/answer_fuzz test/out/fuzz-answer/crash-...
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/fuzz.sh"

fuzz_run answer_fuzz fuzz-answer 16384 "$TOP/test/fuzz/answer_corpus" http_answer.c json.c escape.c

done_testing
