#!/usr/bin/env bash
# The tunnel scenarios again under AddressSanitizer + UndefinedBehaviorSanitizer
# (leak checks on): the helper is built with `make SANITIZE=1` into a
# separate folder (the normal build is left alone), then tunnel.t, refusal.t, status.t, notify.t,
# tunnel_recovery.t, tunnel_security.t, health_failure.t, pool_idle.t,
# pool_saturation.t, spool_flush.t, event_names.t, channel_open.t, keepalive.t,
# login_timeout.t, http_endpoint.t, drain.t, events_follow.t and unix_socket.t run with
# FX_HELPER pointing at it (ASAN_SCENARIOS="..." for another list; stall.t
# is left out: it is long, its paths are tunnel.t's, and its 1 s bound is
# not meant for an instrumented build).
# Each of them checks its helper logs for sanitizer reports.
#
#   prove test/helper/asan.t      (as root; takes a few minutes)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

tl_sanitized_build 1 ASan/UBSan
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
reports=0
for t in ${ASAN_SCENARIOS:-tunnel refusal status notify tunnel_recovery tunnel_security health_failure pool_idle pool_saturation spool_flush event_names channel_open keepalive login_timeout http_endpoint drain events_follow unix_socket}; do
	out=$(bash "test/helper/$t.t" 2>&1)
	rc=$?
	ok $rc "$t.t passes under ASan/UBSan"
	[ $rc -eq 0 ] || diag "$(printf '%s\n' "$out" | grep -E '^not ok|Sanitizer|runtime error|FATAL|Bail out' | head -20)"
	reports=$((reports + $(printf '%s\n' "$out" | grep -cE '^not ok .*no sanitizer report')))
done
diag "reliability: leaks=$reports"

done_testing
