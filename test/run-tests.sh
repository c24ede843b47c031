#!/usr/bin/env bash
# Run every chatgenius test: build and install, pg_regress, the pgTAP suites
# (fresh and updated installs), the upgrade and dump/restore checks, and the
# helper's integration tests against a real sshd and PostgreSQL on loopback.
#
#   test/run-tests.sh            everything
#   test/run-tests.sh FILE.t...  only these TAP files (after build and install)
#
# Installs missing Debian packages first (root).  Ends with the reliability
# summary (see reliability_summary) and one line "tests: N passed, N failed";
# exits non-zero when anything failed.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top" || exit 1

bash test/deps.sh || exit 1
export PATH="$(pg_config --bindir):$PATH"

passed=0
failed=0
failed_stages=()
mkdir -p test/out
rm -f test/out/*.log

stage()
{
	printf '\n=== %s\n' "$*"
}

# count_result NAME LOG STATUS: add the tests a stage ran to the totals,
# reading the counts its runner printed (pg_regress or prove).
count_result()
{
	local name=$1 log=$2 status=$3 n f
	if grep -qE 'All [0-9]+ tests passed|[0-9]+ of [0-9]+ tests failed' "$log"; then
		# pg_regress and pg_isolation_regress print one summary each.
		n=$(grep -oE 'All [0-9]+ tests passed' "$log" | awk '{s += $2} END {print s + 0}')
		passed=$((passed + n))
		n=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$log" | awk '{s += $3 - $1} END {print s + 0}')
		f=$(grep -oE '[0-9]+ of [0-9]+ tests failed' "$log" | awk '{s += $1} END {print s + 0}')
		passed=$((passed + n))
		failed=$((failed + f))
	elif grep -qE 'Tests=[0-9]+' "$log"; then
		# prove and pg_prove print one summary per run; a stage may hold several.
		n=$(grep -oE 'Tests=[0-9]+' "$log" | awk -F= '{s += $2} END {print s + 0}')
		f=$(grep -oE 'Failed [0-9]+/[0-9]+ subtests' "$log" | awk '{split($2, a, "/"); s += a[1]} END {print s + 0}')
		passed=$((passed + n - f))
		failed=$((failed + f))
	fi
	if [ "$status" -ne 0 ]; then
		failed_stages+=("$name")
		# A stage that failed without a countable test failure still fails.
		if ! grep -qE 'tests failed|Failed [0-9]+/[0-9]+ subtests' "$log"; then
			failed=$((failed + 1))
		fi
	fi
}

# run_stage NAME CMD...: run CMD with its output shown and kept in a log.
run_stage()
{
	local name=$1 log status
	shift
	log=test/out/$name.log
	stage "$name"
	"$@" 2>&1 | tee "$log"
	status=${PIPESTATUS[0]}
	count_result "$name" "$log" "$status"
	return "$status"
}

# reliability_summary LOG...: tally the "reliability:" lines that tests print
# (as TAP diagnostics on stderr, which the stage logs keep), one line each:
#   # reliability: fault=NAME survived     (or: fault=NAME failed)
#   # reliability: input=NAME refused      (a bad input turned away cleanly)
#   # reliability: rows_lost=N             (summed)
#   # reliability: leaks=N                 (summed)
#   # reliability: races=N                 (summed)
# Any other KEY=VALUE on such a line is a measurement, listed as it is.
reliability_summary()
{
	# (no such line at all is no failure: grep's status 1 must not fail the pipe)
	cat "$@" 2>/dev/null | { grep -hoE '^# reliability: .*' || true; } | sed 's/^# reliability: //' | awk '
		/^fault=[^ ]+ survived$/ { split($1, a, "="); tried[a[2]] = 1; if (!(a[2] in bad)) ok[a[2]] = 1; next }
		/^fault=[^ ]+ / { split($1, a, "="); tried[a[2]] = 1; bad[a[2]] = 1; delete ok[a[2]]; next }
		/^attack=[^ ]+ held$/ { split($1, a, "="); atried[a[2]] = 1; if (!(a[2] in broke)) held[a[2]] = 1; next }
		/^attack=[^ ]+ / { split($1, a, "="); atried[a[2]] = 1; broke[a[2]] = 1; delete held[a[2]]; next }
		/^input=[^ ]+ refused$/ { split($1, a, "="); refused[a[2]] = 1; next }
		/^input=/ { split($1, a, "="); accepted[a[2]] = 1; next }
		/^(rows_lost|leaks|races)=[0-9]+$/ { split($1, a, "="); sum[a[1]] += a[2]; seen[a[1]] = 1; next }
		{ measured[++m] = $0 }
		END {
			nt = 0; ns = 0; nr = 0; na = 0; failed = ""; names = ""
			for (f in tried) nt++
			for (f in ok) ns++
			for (f in bad) failed = failed " " f
			nat = 0; nah = 0; broken = ""
			for (x in atried) nat++
			for (x in held) nah++
			for (x in broke) broken = broken " " x
			for (i in refused) nr++
			for (i in accepted) na++
			print "reliability:"
			printf "  faults tried %d, survived %d%s\n", nt, ns, failed == "" ? "" : " (not survived:" failed ")"
			printf "  bad inputs refused %d%s\n", nr, na ? sprintf(", accepted %d", na) : ""
			printf "  attacks tried %d, held %d%s\n", nat, nah, broken == "" ? "" : " (succeeded:" broken ")"
			split("rows_lost leaks races", keys, " ")
			for (k = 1; k <= 3; k++)
				printf "  %s %s\n", keys[k] == "rows_lost" ? "rows lost" : keys[k],
					(keys[k] in seen) ? sum[keys[k]] : "not measured"
			for (i = 1; i <= m; i++) print "  measured: " measured[i]
			exit (failed != "" || broken != "" || na > 0 || sum["rows_lost"] > 0 || sum["leaks"] > 0 || sum["races"] > 0)
		}'
}

stage build
if ! { make -s && make -s install; }; then
	echo "build failed"
	echo "tests: 0 passed, 1 failed"
	exit 1
fi

if [ $# -gt 0 ]; then
	run_stage selected prove -v "$@"
else
	# pg_regress, then the isolation specs (make installcheck runs both),
	# against a throwaway cluster of the shared fixture.
	run_stage pg_regress bash -c '
		. test/lib/fixture.sh
		fx_init regress
		fx_pg_start
		make -s installcheck || { cat regression.diffs 2>/dev/null; exit 1; }'
	# The same on a server without chatgenius preloaded: installcheck passes
	# on any server where the extension is installed.
	run_stage pg_regress_no_preload bash -c '
		. test/lib/fixture.sh
		FX_PG_PRELOAD=
		fx_init regress
		fx_pg_start
		make -s installcheck || { cat regression.diffs 2>/dev/null; exit 1; }'

	if [ -f test/pgtap/run.sh ]; then
		run_stage pgtap bash test/pgtap/run.sh
	fi

	# The sanitizer runs replay timing-bound scenarios on a build several
	# times slower: they run alone, after the others.
	sanitized=(test/helper/asan.t test/helper/tsan.t)
	mapfile -t tap_files < <(find test -name '*.t' -not -path 'test/lib/*' \
		-not -name asan.t -not -name tsan.t | sort)
	if ((${#tap_files[@]})); then
		# Two at a time: every test has its own servers, ports and folders,
		# and most of their time is spent waiting on timeouts, not the CPU.
		run_stage integration prove -j2 "${tap_files[@]}"
	fi
	run_stage sanitizers prove "${sanitized[@]}"
fi

echo
if ! reliability_summary test/out/*.log; then
	failed=$((failed + 1))
	failed_stages+=(reliability)
fi
# A wait that timed out in a test that passed checked nothing: named here,
# so that such a wait is mended rather than left to pass by accident.
grep -hoE 'timed out after [0-9]+s waiting for: .*' test/out/*.log 2>/dev/null | sort | uniq -c |
	sed 's/^ *\([0-9]*\) timed out after \([0-9]*s\) waiting for: \(.*\)/wait timed out (\1x, \2): \3/'
# Files that lacked a facility of this machine ran nothing: named, never counted.
grep -hE '^[^ ]+\.t \.+ skipped: ' test/out/*.log 2>/dev/null | sed 's/ \.\.* skipped: /: /; s/^/skipped file /' | sort -u
if ((${#failed_stages[@]})); then
	# What failed, again at the very end: a reader who keeps only the tail
	# of the output (a CI log cut short) still sees which checks and why.
	for s in "${failed_stages[@]}"; do
		log=test/out/$s.log
		[ -f "$log" ] || continue
		echo "--- what failed in $s"
		grep -E '^not ok|^# +Failed test|^# +(got|expected):|^#   at ' "$log" | head -60
		sed -n '/^Test Summary Report/,/^Result:/p' "$log" | head -40
	done
	echo "failed stages: ${failed_stages[*]} (logs in test/out/)"
fi
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ ${#failed_stages[@]} -eq 0 ]
