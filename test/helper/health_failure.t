#!/usr/bin/env bash
# The end-to-end health check failing while SSH itself is fine: PostgreSQL is
# stopped, sshd stays up.  The helper logs health_check_failed, then
# reconnecting attempts whose delays follow SSH_RETRY_DELAY x 2^(n-1) within
# the +-20% jitter (and really wait that long); PostgreSQL back within the
# retry window => reconnected, in the same process; never back =>
# maxRetriesExceeded and exit 4.  Either way the outage's events reach
# chatgenius.tunnel_events afterwards, with the times they happened.
#
#   prove test/helper/health_failure.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/fixture.sh
. test/lib/tap.sh
. test/helper/app_lib.sh

[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"
fx_init health
fx_pg_start
fx_sshd_start
app_install_extension

# ts_ms TIMESTAMP: a log timestamp (ISO 8601 UTC, ms) as Unix milliseconds.
ts_ms()
{
	date -u -d "$1" +%s%3N
}

# check_delays NAME BASE_MS: TAP checks that the reconnecting events of the
# helper's log NAME are numbered 1..n, that delay_ms of attempt n lies within
# BASE_MS x 2^(n-1) +-20%, and that the next line (the next attempt, or the
# outcome) came no sooner than that delay.  Prints nothing else.
check_delays()
{
	local name=$1 base=$2 log=$FX_DIR/$1.log
	local -a ts att del
	local line n=0 bad_att=0 bad_del=0 bad_wait=0 want lo hi next_ts i

	while IFS= read -r line; do
		ts+=("$(ts_ms "${line%% *}")")
		att+=("$(grep -oE ' attempt=[0-9]+' <<<"$line" | cut -d= -f2)")
		del+=("$(grep -oE ' delay_ms=[0-9]+' <<<"$line" | cut -d= -f2)")
	done < <(grep ' event=reconnecting ' "$log")
	n=${#ts[@]}
	for ((i = 0; i < n; i++)); do
		[ "${att[$i]}" = $((i + 1)) ] || bad_att=$((bad_att + 1))
		want=$((base * (1 << i)))
		lo=$((want * 8 / 10))
		hi=$((want * 12 / 10))
		if [ -z "${del[$i]}" ] || [ "${del[$i]}" -lt "$lo" ] || [ "${del[$i]}" -gt "$hi" ]; then
			bad_del=$((bad_del + 1))
			diag "attempt $((i + 1)): delay_ms=${del[$i]} not within [$lo, $hi]"
		fi
		# The line after this attempt's announcement: the next attempt or
		# the outcome (reconnected / maxRetriesExceeded).
		next_ts=$(grep -E ' event=(reconnecting|reconnected|maxRetriesExceeded) ' "$log" |
			sed -n "$((i + 2))p" | cut -d' ' -f1)
		if [ -n "$next_ts" ] && [ $(($(ts_ms "$next_ts") - ts[i])) -lt $((del[i] - 2)) ]; then
			bad_wait=$((bad_wait + 1))
			diag "attempt $((i + 1)): next step after $(($(ts_ms "$next_ts") - ts[i])) ms < delay ${del[$i]} ms"
		fi
	done
	CD_N=$n
	is "$bad_att" 0 "$name: attempts are numbered 1..$n"
	is "$bad_del" 0 "$name: delay_ms of attempt n is SSH_RETRY_DELAY=$base x 2^(n-1) +-20% ($(
		IFS=,
		echo "${del[*]}"
	))"
	is "$bad_wait" 0 "$name: each attempt really waited its delay before the next step"
}

# log_events_of NAME: "event|log time" for each event line of the log.
log_events_of()
{
	awk '$3 ~ /^event=/ { e = $3; sub("event=", "", e); print e "|" $1 }' "$FX_DIR/$1.log"
}

# db_events_match NAME EVENT_REGEX: every logged event matching the regex is
# in tunnel_events exactly once, with occurred_at = its log time (the log
# line and the spool record read the clock one after the other: within 10 ms,
# as in reporter.t).
db_events_match()
{
	local name=$1 re=$2 ev at missing=0
	while IFS='|' read -r ev at; do
		[[ $ev =~ $re ]] || continue
		[ "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = '$name'
			AND event = '$ev' AND abs(extract(epoch FROM occurred_at - '$at'::timestamptz)) < 0.01")" = 1 ] ||
			missing=$((missing + 1))
	done < <(log_events_of "$name")
	[ "$missing" -eq 0 ]
}

sshd_alive()
{
	kill -0 "$FX_SSHD_PID" 2>/dev/null && fx_port_open "$FX_SSH_PORT"
}

# ---------------------------------------------------------------- PostgreSQL back in time

app_start pgback SSH_MAX_RETRIES=6 SSH_RETRY_DELAY=300 SSH_HEALTH_CHECK_INTERVAL=500 \
	SSH_CONNECT_TIMEOUT=2000
fx_wait_for 20 "pgback connected" app_has_event pgback connected
ok $? "pgback: connected and reported"
pid_before=$APP_PID
sessions_before=$(grep -c 'msg=session_open ' "$FX_DIR/pgback.log")
fx_pg_stop
down_at=$(date -u '+%Y-%m-%d %H:%M:%S.%N+00')
fx_wait_for 15 "health_check_failed" app_log_has pgback 'event=health_check_failed '
ok $? "pgback: PostgreSQL stopped: health_check_failed logged"
fx_wait_for 15 "third attempt" app_log_has pgback 'event=reconnecting .*attempt=3 '
ok $? "pgback: reconnecting attempts while PostgreSQL is down"
sshd_alive
ok $? "pgback: sshd stayed up the whole time (the SSH side is fine)"
is "$(app_log_count pgback 'event=health_check_failed ')" 1 "pgback: one health_check_failed for the outage"
like "$(grep -m1 'event=health_check_failed ' "$FX_DIR/pgback.log")" 'error=' "pgback: it says why"
fx_port_open "$APP_PORT"
ok $? "pgback: the listener stays open while it retries"
cmp_ok "$(grep -c 'msg=session_open ' "$FX_DIR/pgback.log")" -gt "$sessions_before" \
	"pgback: the attempts open SSH sessions (they succeed; the database check fails)"
back_at=$(date -u '+%Y-%m-%d %H:%M:%S.%N+00')
fx_pg_start_again
fx_wait_for 30 "reconnected" app_log_has pgback 'event=reconnected '
ok $? "pgback: PostgreSQL back within the retry window: reconnected"
is "$APP_PID" "$pid_before" "pgback: the same helper process recovered"
app_exited "$APP_PID"
cmp_ok $? -ne 0 "pgback: and it is still running"
is "$(app_log_count pgback 'event=maxRetriesExceeded')" 0 "pgback: no maxRetriesExceeded"
check_delays pgback 300
cmp_ok "$CD_N" -ge 3 "pgback: at least 3 attempts before PostgreSQL came back ($CD_N)"
like "$(grep 'event=reconnected ' "$FX_DIR/pgback.log")" "attempt=$CD_N " \
	"pgback: reconnected on the last announced attempt ($CD_N)"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 5')" 5 "pgback: queries work again"
fx_wait_for 15 "outage events in the database" db_events_match pgback \
	'^(health_check_failed|disconnected|reconnecting|reconnected)$'
ok $? "pgback: every event of the outage is in tunnel_events once, with its log time"
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'pgback'
	AND event IN ('health_check_failed', 'disconnected', 'reconnecting')
	AND (occurred_at < '$down_at' OR occurred_at >= '$back_at' OR recorded_at < '$back_at')")" 0 \
	"pgback: the outage's events carry their own times (while it was down), written after it"
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'pgback'
	AND event = 'reconnecting'")" "$CD_N" "pgback: one reconnecting row per attempt"
fx_wait_for 10 "status row connected again" app_status_is pgback "state || '/' || reconnects" connected/1
ok $? "pgback: the status row says connected, reconnects=1"
kill -TERM "$APP_PID"
app_wait_exit "$APP_PID" 15
is "$APP_RC" 0 "pgback: exit 0 after SIGTERM"

# ---------------------------------------------------------------- PostgreSQL gone for good

app_start pggone SSH_MAX_RETRIES=3 SSH_RETRY_DELAY=200 SSH_HEALTH_CHECK_INTERVAL=500 \
	SSH_CONNECT_TIMEOUT=2000
fx_wait_for 20 "pggone connected" app_has_event pggone connected
ok $? "pggone: connected and reported"
first_pid=$APP_PID
fx_pg_stop
app_wait_exit "$APP_PID" 30
is "$APP_RC" 4 "pggone: PostgreSQL never back: exit 4"
sshd_alive
ok $? "pggone: while sshd stayed up"
is "$(app_log_count pggone 'event=health_check_failed ')" 1 "pggone: health_check_failed logged"
is "$(app_log_count pggone 'event=reconnecting ')" 3 "pggone: exactly SSH_MAX_RETRIES=3 attempts"
check_delays pggone 200
is "$(app_log_count pggone 'ERROR event=maxRetriesExceeded .*max retries exceeded')" 1 \
	"pggone: maxRetriesExceeded (level error) with the words 'max retries exceeded'"
is "$(app_log_count pggone 'event=reconnected')" 0 "pggone: never reconnected"
like "$(tail -1 "$FX_DIR/pggone.log")" 'msg=exiting .*code=4$' "pggone: the helper says it exits with 4"
fx_pg_start_again
is "$(app_event_count pggone maxRetriesExceeded)" 0 "pggone: maxRetriesExceeded could not be written before the helper ended"
app_restart pggone
fx_wait_for 20 "maxRetriesExceeded written after restart" app_has_event pggone maxRetriesExceeded
ok $? "pggone: after a restart of the helper, maxRetriesExceeded reaches the database"
fx_wait_for 15 "first run's events in the database" db_events_match pggone \
	'^(health_check_failed|disconnected|reconnecting|maxRetriesExceeded)$'
ok $? "pggone: every event of the first run's outage is in tunnel_events once, with its log time"
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'pggone'
	AND event IN ('health_check_failed', 'reconnecting', 'maxRetriesExceeded')
	AND event_key LIKE '%-$first_pid-%'")" 5 "pggone: they keep the first run's keys (1 + 3 + 1)"
kill -TERM "$APP_PID"
app_wait_exit "$APP_PID" 15
is "$APP_RC" 0 "pggone: the restarted helper stops with 0"

for name in pgback pggone; do
	is "$(grep -E 'AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer' "$FX_DIR/$name.log" | head -3)" "" \
		"$name: no sanitizer report in the helper's log"
done

done_testing
