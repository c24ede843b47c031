#!/usr/bin/env bash
# Hostile HTTP clients against the helper's endpoint (TUNNEL_HTTP_ADDR):
# a local user who can reach it tries to blind the orchestrator's probes or
# to slow the database clients down.  Each attack runs while a prober asks
# /readiness every 200 ms and a client queries through the tunnel; it
# holds when every probe is answered (200, within 1 s) and every query
# goes through.
#  - slowloris: 64 clients sending a request head a byte at a time;
#  - a huge request head (1 MiB): refused with 431, nothing held;
#  - a flood: 1000 silent connections held open;
#  - a burst: a prober's request and 32 silent connections accepted at once.
#
#   prove test/security/http_hostile.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh
. test/lib/http_lib.sh
. test/lib/attack.sh

tl_begin httphostile
app_install_extension
HP=$(fx_free_port)
tl_start hostile TUNNEL_HTTP_ADDR=127.0.0.1:$HP
tl_up
fx_wait_for 20 "ready" http_code_is "$HP" /readiness 200 || bail_out "the endpoint is not ready"

# watch SECONDS: probes /readiness every 200 ms and queries through the
# tunnel every 200 ms for SECONDS, in the background; WATCH_OUT names the
# file that gets "probe CODE MS" and "query RC MS" lines.
watch_start()
{
	WATCH_OUT=$FX_DIR/watch.$1
	: >"$WATCH_OUT"
	(
		end=$((SECONDS + $2))
		while ((SECONDS < end)); do
			out=$(curl -s -o /dev/null --max-time 5 -w '%{http_code} %{time_total}' "http://127.0.0.1:$HP/readiness")
			echo "probe ${out%% *} $(awk -v s="${out#* }" 'BEGIN { printf "%d", s * 1000 }')" >>"$WATCH_OUT"
			t0=$(date +%s%N)
			PGCONNECT_TIMEOUT=10 tl_psql -Atc 'SELECT 1' >/dev/null 2>&1
			echo "query $? $((($(date +%s%N) - t0) / 1000000))" >>"$WATCH_OUT"
			sleep 0.2
		done
	) &
	WATCH_PID=$!
}

# watch_verdict NAME: 0 when every probe got 200 within 1 s and every query
# went through; the figures as a diag line.
watch_verdict()
{
	wait "$WATCH_PID"
	local probes bad_probes queries bad_queries worst_probe worst_query
	probes=$(grep -c '^probe' "$WATCH_OUT")
	bad_probes=$(awk '$1 == "probe" && ($2 != 200 || $3 > 1000)' "$WATCH_OUT" | wc -l)
	queries=$(grep -c '^query' "$WATCH_OUT")
	bad_queries=$(awk '$1 == "query" && $2 != 0' "$WATCH_OUT" | wc -l)
	worst_probe=$(awk '$1 == "probe" { if ($3 > m) m = $3 } END { print m + 0 }' "$WATCH_OUT")
	worst_query=$(awk '$1 == "query" { if ($3 > m) m = $3 } END { print m + 0 }' "$WATCH_OUT")
	diag "measured: $1: $probes probes ($bad_probes failed or over 1 s, worst $worst_probe ms), $queries queries ($bad_queries failed, worst $worst_query ms)"
	[ "$probes" -ge 5 ] && [ "$bad_probes" = 0 ] && [ "$queries" -ge 5 ] && [ "$bad_queries" = 0 ]
}

# ---------------------------------------------------------------- slowloris
watch_start slowloris 6
perl test/tools/http_attack.pl "$HP" slowloris 64 6 >"$FX_DIR/slowloris.out" 2>&1
diag "$(cat "$FX_DIR/slowloris.out")"
like "$(cat "$FX_DIR/slowloris.out")" '^slowloris: 64 connections' "slowloris: the attacker ran (64 connections)" ||
	bail_out "the slowloris attacker could not start"
watch_verdict slowloris
attack http_slowloris $? "64 clients sending their request a byte at a time neither blind the probes nor slow the tunnel"
like "$(http_metric "$HP" 'chatgenius_tunnel_http_rejected_total{reason="busy"}')" '^[1-9]' \
	"slowloris: the slow clients gave up their places (http_rejected_total{reason=busy})"

# ---------------------------------------------------------------- a huge request
rss_before=$(awk '/^VmRSS/ { print $2 }' "/proc/$TL_PID/status")
watch_start huge 3
perl test/tools/http_attack.pl "$HP" huge 1048576 >"$FX_DIR/huge.out" 2>&1
diag "$(cat "$FX_DIR/huge.out")"
like "$(cat "$FX_DIR/huge.out")" '^huge: ' "huge: the attacker ran" || bail_out "the huge-request attacker could not start"
like "$(cat "$FX_DIR/huge.out")" 'answer: HTTP/1.1 431 ' "huge: a 1 MiB request head is refused with 431"
watch_verdict huge
rc=$?
rss_after=$(awk '/^VmRSS/ { print $2 }' "/proc/$TL_PID/status")
diag "measured: huge: the helper's RSS ${rss_before} kB before, ${rss_after} kB after"
[ "$rc" = 0 ] && [ $((rss_after - rss_before)) -lt 1024 ]
attack http_huge_request $? "a 1 MiB request head is refused without holding memory, the probes and the tunnel unharmed"

# ---------------------------------------------------------------- a flood of connections
watch_start flood 6
perl test/tools/http_attack.pl "$HP" flood 1000 5 >"$FX_DIR/flood.out" 2>&1
diag "$(cat "$FX_DIR/flood.out")"
like "$(cat "$FX_DIR/flood.out")" '^flood: [0-9]+ connections' "flood: the attacker ran" || bail_out "the flood attacker could not start"
watch_verdict flood
attack http_connection_flood $? "1000 silent connections neither blind the probes nor slow the tunnel"

# ---------------------------------------------------------------- a prober in a burst
# The prober's request and 32 silent connections reach the backlog while
# the helper is stopped, and are accepted in one go: twice as many as the
# endpoint has places.  The prober is the oldest of them, yet its request
# is in: it is answered, not given up for a silent one.
kill -STOP "$TL_PID" || bail_out "setup error: SIGSTOP the helper"
perl test/tools/http_attack.pl "$HP" burst 32 "$TL_PID" >"$FX_DIR/burst.out" 2>&1
rc=$?
kill -CONT "$TL_PID" 2>/dev/null
diag "$(cat "$FX_DIR/burst.out")"
[ "$rc" = 0 ] && grep -q '^burst: 32 connections' "$FX_DIR/burst.out" || bail_out "the burst attacker could not start"
grep -q 'its answer: HTTP/1.1 200' "$FX_DIR/burst.out"
attack http_prober_in_burst $? "a prober accepted in one burst with 32 silent connections is answered"

http_get "$HP" /metrics
is "$HTTP_CODE" 200 "after the attacks: /metrics answers"
tl_stop
is "$TL_RC" 0 "stop: exit 0"
tl_sanitizer_clean hostile

done_testing
