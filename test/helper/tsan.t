#!/usr/bin/env bash
# The helper's threads under ThreadSanitizer: the helper is built with
# `make SANITIZE=thread` into a separate folder (the normal build is left
# alone), then the load (pool_saturation.t: a full pool, long queries, 300
# refused clients, 1 s health checks), idle reaping
# (pool_idle.t), sshd killed, restarted and frozen (tunnel_recovery.t) and
# signal (signals.t: SIGHUP, SIGUSR1, SIGTERM), the operators' threads
# (http_endpoint.t: scrapes and probes beside 100 clients; events_follow.t:
# followers, one stopped) and the drain (drain.t) scenarios run with FX_HELPER
# pointing at it.  Every report goes to a file of its own (log_path) and the
# helper stops at the first one (halt_on_error, exit code 66): no report
# file and every scenario passing means no race was seen.
#
#   prove test/helper/tsan.t      (as root; takes a few minutes)
#   TSAN_SCENARIOS="tunnel session_fault" prove test/helper/tsan.t   (others)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

tl_sanitized_build thread ThreadSanitizer
build=$TL_BUILD
mkdir -p "$build/reports"
export TSAN_OPTIONS="halt_on_error=1:exitcode=66:second_deadlock_stack=1:log_path=$build/reports/tsan"
for t in ${TSAN_SCENARIOS:-pool_saturation pool_idle tunnel_recovery signals http_endpoint events_follow drain}; do
	out=$(bash "test/helper/$t.t" 2>&1)
	rc=$?
	ok $rc "$t.t passes under ThreadSanitizer"
	[ $rc -eq 0 ] || diag "$(printf '%s\n' "$out" | grep -E '^not ok' | head -10)"
done
reports=$(find "$build/reports" -type f | wc -l)
is "$reports" 0 "no ThreadSanitizer report"
[ "$reports" -eq 0 ] || diag "$(cat "$build"/reports/* | grep -E 'WARNING|#[0-9] ' | head -40)"
diag "reliability: races=$reports"

done_testing
