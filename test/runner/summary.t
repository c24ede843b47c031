#!/usr/bin/env bash
# The test command's own summary (test/run-tests.sh): its reliability
# tally and its counting of prove's and pg_regress's results, run on logs
# made here, under the runner's own shell options (set -uo pipefail).
# The functions are taken from run-tests.sh itself, not copied.
set -uo pipefail
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
T=$(mktemp -d /tmp/chatgenius-runner.XXXXXX)
trap 'rm -rf "$T"' EXIT

# runner_function NAME: the text of NAME() in run-tests.sh.
runner_function()
{
	awk -v f="$1()" '$0 == f { p = 1 } p { print } p && /^}$/ { exit }' "$TOP/test/run-tests.sh"
}
for f in reliability_summary count_result; do
	src=$(runner_function "$f")
	[ -n "$src" ] || bail_out "run-tests.sh has no $f()"
	eval "$src"
done

# A prove log of passing files that print no "# reliability:" line.
cat >"$T/plain.log" <<'LOG'
test/helper/config.t .. ok
All tests successful.
Files=1, Tests=199,  3 wallclock secs ( 0.10 usr  0.02 sys +  1.00 cusr  0.50 csys =  1.62 CPU)
Result: PASS
LOG
reliability_summary "$T/plain.log" >"$T/plain.out"
is "$?" 0 "no reliability line at all is no failure"
like "$(cat "$T/plain.out")" "faults tried 0, survived 0" "and the tally says nothing was tried"
passed=0 failed=0 failed_stages=()
count_result selected "$T/plain.log" 0
is "$passed $failed ${#failed_stages[@]}" "199 0 0" "199 passing tests count 199 passed, 0 failed"

# Real failures still count.
printf '%s\n' '# reliability: fault=sshd_killed failed' >"$T/fault.log"
reliability_summary "$T/plain.log" "$T/fault.log" >"$T/fault.out"
isnt_zero=$?
cmp_ok "$isnt_zero" -ne 0 "a fault not survived fails the tally"
like "$(cat "$T/fault.out")" "not survived: sshd_killed" "and names it"
printf '%s\n' '# reliability: fault=sshd_killed survived' '# reliability: rows_lost=0' >"$T/good.log"
reliability_summary "$T/good.log" >/dev/null
is "$?" 0 "a survived fault and no rows lost pass"
printf '%s\n' '# reliability: rows_lost=2' >"$T/lost.log"
reliability_summary "$T/lost.log" >/dev/null
cmp_ok "$?" -ne 0 "rows lost fail the tally"

cat >"$T/failed.log" <<'LOG'
test/helper/a.t .. Failed 2/10 subtests
Files=1, Tests=10,  1 wallclock secs
Result: FAIL
LOG
passed=0 failed=0 failed_stages=()
count_result integration "$T/failed.log" 1
is "$passed $failed ${failed_stages[*]}" "8 2 integration" "prove's failed subtests count as failed, the rest as passed"

# A file that cannot go on (bail_out) or lacks a facility (skip_all) stops
# only itself: prove runs the files after it.
printf '#!/usr/bin/env bash\n. "%s/test/lib/tap.sh"\nok 0 first\nbail_out "no widget here"\n' "$TOP" >"$T/a_bails.t"
printf '#!/usr/bin/env bash\n. "%s/test/lib/tap.sh"\nskip_all "no namespace here"\n' "$TOP" >"$T/b_skips.t"
printf '#!/usr/bin/env bash\n. "%s/test/lib/tap.sh"\nok 0 "ran after them"\ndone_testing\n' "$TOP" >"$T/c_after.t"
chmod +x "$T"/*.t
(cd "$T" && prove a_bails.t b_skips.t c_after.t) >"$T/prove.log" 2>&1
PROVE=$(cat "$T/prove.log")
like "$PROVE" "c_after\.t \.+ ok" "the file after a bail_out and a skip_all runs"
like "$PROVE" "Failed 1/2 subtests" "bail_out fails its own file, with one failed test"
passed=0 failed=0 failed_stages=()
count_result integration "$T/prove.log" 1
is "$passed $failed" "2 1" "the runner counts the bail_out as one failure"
like "$PROVE" "b_skips\.t \.+ skipped: no namespace here" "skip_all is listed as skipped, with its reason"

done_testing
