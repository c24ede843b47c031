#!/usr/bin/env bash
# The health check failing, told apart by what is dead.
#  - PostgreSQL stopped while sshd stays up (the SSH server refuses the
#    forwarded connection: "connect failed"): a database fault.  One
#    health_check_failed (cause=database), no session closed, no
#    reconnecting, no exit 4 however long it lasts; PostgreSQL back => the
#    checks pass again in the same process, with no reconnection of its own.
#  - sshd gone (the SSH path is dead): reconnecting attempts whose delays
#    follow SSH_RETRY_DELAY x 2^(n-1) within the +-20% jitter (and really
#    wait that long); sshd back within the retry window => reconnected;
#    never back => maxRetriesExceeded and exit 4.
# Either way the outage's events reach chatgenius.tunnel_events afterwards,
# with the times they happened.
#
#   prove test/helper/health_failure.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin health
app_install_extension

# running PID: the helper has not exited.
running()
{
	! fx_exited "$1"
}

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

# ---------------------------------------------------------------- PostgreSQL restarting
tl_section

app_start pgdown SSH_MAX_RETRIES=2 SSH_RETRY_DELAY=200 SSH_HEALTH_CHECK_INTERVAL=500 \
	SSH_CONNECT_TIMEOUT=2000
fx_wait_for 20 "pgdown connected" app_has_event pgdown connected
ok $? "pgdown: connected and reported"
pid_before=$APP_PID
sessions_before=$(app_log_count pgdown 'msg=session_open ')
down_at=$(date -u '+%Y-%m-%d %H:%M:%S.%N+00')
fx_pg_stop
# A check that meets the server while its shutdown runs (a few ms) reports
# PostgreSQL's own refusal first: another text, so one event more.
shutdown_words='shutting down|administrator command'
fx_wait_for 15 "health_check_failed" app_log_has pgdown 'event=health_check_failed .*connect failed'
ok $? "pgdown: PostgreSQL stopped: health_check_failed logged"
like "$(grep -m1 -E 'event=health_check_failed .*connect failed' "$FX_DIR/pgdown.log")" \
	'cause=database .*the SSH server could not reach PostgreSQL' \
	"pgdown: a database fault: the SSH server could not reach PostgreSQL (connect failed)"
# Six checks and more than the whole retry budget (2 attempts from 200 ms).
sleep 3
sshd_alive
ok $? "pgdown: sshd stayed up the whole time (the SSH side is fine)"
running "$APP_PID"
ok $? "pgdown: the helper keeps running: no exit 4 while PostgreSQL is down"
is "$(app_log_count pgdown 'event=(disconnected|reconnecting|maxRetriesExceeded) ')" 0 \
	"pgdown: no disconnected, reconnecting or maxRetriesExceeded"
is "$(app_log_count pgdown 'msg=session_open ')" "$sessions_before" "pgdown: no session closed or opened"
is "$(app_log_count pgdown 'event=health_check_failed .*connect failed')" 1 \
	"pgdown: one health_check_failed for the outage, not one per check"
is "$(grep -E 'event=health_check_failed ' "$FX_DIR/pgdown.log" | grep -vcE "connect failed|$shutdown_words")" 0 \
	"pgdown: no other health_check_failed than the outage's (and the shutdown's own refusal)"
fx_port_open "$APP_PORT"
ok $? "pgdown: the listener stays open"
back_at=$(date -u '+%Y-%m-%d %H:%M:%S.%N+00')
fx_pg_start_again
fx_wait_for 15 "checks pass again" app_log_has pgdown 'msg=health_check_recovered '
ok $? "pgdown: PostgreSQL back: the checks pass again (health_check_recovered)"
is "$APP_PID" "$pid_before" "pgdown: the same helper process"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 5')" 5 "pgdown: queries work again"
is "$(app_log_count pgdown 'event=(reconnecting|reconnected) ')" 0 "pgdown: no reconnection of the tunnel's own"
fx_wait_for 15 "outage events in the database" db_events_match pgdown '^health_check_failed$'
ok $? "pgdown: the outage's event is in tunnel_events once, with its log time"
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'pgdown'
	AND event = 'health_check_failed' AND (occurred_at < '$down_at' OR occurred_at >= '$back_at'
	OR recorded_at < '$back_at')")" 0 "pgdown: it carries its own time (while it was down), written after"
fx_wait_for 10 "status row connected, error cleared" app_status_is pgdown \
	"state || '/' || reconnects || '/' || coalesce(last_error, '')" connected/0/
ok $? "pgdown: the status row says connected, reconnects=0, no last_error"
kill -TERM "$APP_PID"
app_wait_exit "$APP_PID" 15
is "$APP_RC" 0 "pgdown: exit 0 after SIGTERM"
tl_fault postgres_restart

# ---------------------------------------------------------------- the SSH path back in time
tl_section

app_start sshback SSH_MAX_RETRIES=6 SSH_RETRY_DELAY=300 SSH_HEALTH_CHECK_INTERVAL=500 \
	SSH_CONNECT_TIMEOUT=2000
fx_wait_for 20 "sshback connected" app_has_event sshback connected
ok $? "sshback: connected and reported"
pid_before=$APP_PID
down_at=$(date -u '+%Y-%m-%d %H:%M:%S.%N+00')
fx_sshd_stop
fx_wait_for 15 "third attempt" app_log_has sshback 'event=reconnecting .*attempt=3 '
ok $? "sshback: sshd gone: reconnecting attempts"
fx_port_open "$APP_PORT"
ok $? "sshback: the listener stays open while it retries"
back_at=$(date -u '+%Y-%m-%d %H:%M:%S.%N+00')
fx_sshd_start
fx_wait_for 30 "reconnected" app_log_has sshback 'event=reconnected '
ok $? "sshback: sshd back within the retry window: reconnected"
is "$APP_PID" "$pid_before" "sshback: the same helper process recovered"
running "$APP_PID"
ok $? "sshback: and it is still running"
is "$(app_log_count sshback 'event=maxRetriesExceeded')" 0 "sshback: no maxRetriesExceeded"
check_delays sshback 300
cmp_ok "$CD_N" -ge 3 "sshback: at least 3 attempts before sshd came back ($CD_N)"
like "$(grep 'event=reconnected ' "$FX_DIR/sshback.log")" "attempt=$CD_N " \
	"sshback: reconnected on the last announced attempt ($CD_N)"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 5')" 5 "sshback: queries work again"
fx_wait_for 15 "outage events in the database" db_events_match sshback \
	'^(disconnected|reconnecting|reconnected)$'
ok $? "sshback: every event of the outage is in tunnel_events once, with its log time"
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'sshback'
	AND event IN ('disconnected', 'reconnecting')
	AND (occurred_at < '$down_at' OR occurred_at >= '$back_at' OR recorded_at < '$back_at')")" 0 \
	"sshback: the outage's events carry their own times (while it was down), written after it"
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'sshback'
	AND event = 'reconnecting'")" "$CD_N" "sshback: one reconnecting row per attempt"
fx_wait_for 10 "status row connected again" app_status_is sshback "state || '/' || reconnects" connected/1
ok $? "sshback: the status row says connected, reconnects=1"
kill -TERM "$APP_PID"
app_wait_exit "$APP_PID" 15
is "$APP_RC" 0 "sshback: exit 0 after SIGTERM"
tl_fault sshd_restart

# ---------------------------------------------------------------- the SSH path gone for good

app_start sshgone SSH_MAX_RETRIES=3 SSH_RETRY_DELAY=200 SSH_HEALTH_CHECK_INTERVAL=500 \
	SSH_CONNECT_TIMEOUT=2000
fx_wait_for 20 "sshgone connected" app_has_event sshgone connected
ok $? "sshgone: connected and reported"
first_pid=$APP_PID
fx_sshd_stop
app_wait_exit "$APP_PID" 30
is "$APP_RC" 4 "sshgone: sshd never back: exit 4"
is "$(app_log_count sshgone 'event=reconnecting ')" 3 "sshgone: exactly SSH_MAX_RETRIES=3 attempts"
check_delays sshgone 200
is "$(app_log_count sshgone 'ERROR event=maxRetriesExceeded .*max retries exceeded')" 1 \
	"sshgone: maxRetriesExceeded (level error) with the words 'max retries exceeded'"
is "$(app_log_count sshgone 'event=reconnected')" 0 "sshgone: never reconnected"
like "$(tail -1 "$FX_DIR/sshgone.log")" 'msg=exiting .*code=4$' "sshgone: the helper says it exits with 4"
is "$(app_event_count sshgone maxRetriesExceeded)" 0 "sshgone: maxRetriesExceeded could not be written before the helper ended"
fx_sshd_start
app_restart sshgone
fx_wait_for 20 "maxRetriesExceeded written after restart" app_has_event sshgone maxRetriesExceeded
ok $? "sshgone: after a restart of the helper, maxRetriesExceeded reaches the database"
fx_wait_for 15 "first run's events in the database" db_events_match sshgone \
	'^(disconnected|reconnecting|maxRetriesExceeded)$'
ok $? "sshgone: every event of the first run's outage is in tunnel_events once, with its log time"
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'sshgone'
	AND event IN ('reconnecting', 'maxRetriesExceeded')
	AND event_key LIKE '%-$first_pid-%'")" 4 "sshgone: they keep the first run's keys (3 + 1)"
kill -TERM "$APP_PID"
app_wait_exit "$APP_PID" 15
is "$APP_RC" 0 "sshgone: the restarted helper stops with 0"

for name in pgdown sshback sshgone; do
	is "$(grep -E 'AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer' "$FX_DIR/$name.log" | head -3)" "" \
		"$name: no sanitizer report in the helper's log"
done

done_testing
