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
. "$TOP/test/lib/fuzz.sh"

fuzz_run config_fuzz fuzz 4096 "$TOP/test/fuzz/corpus" config.c env_file.c log.c clock.c

done_testing
