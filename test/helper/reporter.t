#!/usr/bin/env bash
# The reporter and the event spool, end to end against a real cluster and
# sshd: the status row and its heartbeat; events with their own occurred_at;
# events of an outage (sshd killed) written after it, in order, once each;
# maxRetriesExceeded written after a restart of the helper; a bounded spool
# (events_dropped); a corrupt or unwritable spool; the extension missing;
# pool_stats() under load; a SIGKILLed helper turning health()'s tunnel
# check critical.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tunnel_lib.sh"
. "$TOP/test/lib/app_lib.sh"
tl_begin reporter
NEWEST=$FX_NEWEST
app_install_extension

# log_events NAME: the event names of the helper's log, in order.
log_events()
{
	awk '$3 ~ /^event=/ { sub("event=", "", $3); print $3 }' "$FX_DIR/$1.log"
}

# db_events NAME: the event names in tunnel_events, in id order.
db_events()
{
	app_sql "SELECT event FROM chatgenius.tunnel_events WHERE tunnel_name = '$1' ORDER BY id"
}

db_matches_log()
{
	[ "$(db_events "$1")" = "$(log_events "$1")" ]
}

hb_after()
{
	[ "$(app_sql "SELECT last_heartbeat > '$2' FROM chatgenius.tunnel_status WHERE tunnel_name = '$1'")" = t ]
}

stop_helper()
{
	kill -TERM "$APP_PID" 2>/dev/null
	app_wait_exit "$APP_PID" 10
}

# ---------------------------------------------------------------- status row, heartbeat

app_start live
fx_wait_for 20 "live row" app_status_is live state connected
ok $? "the status row goes live: state 'connected'"
row=$(app_sql "SELECT helper_pid, helper_version, heartbeat_interval_ms, pool_size, sessions_open >= 1,
	started_at IS NOT NULL, last_heartbeat IS NOT NULL, helper_host = '$(hostname)'
	FROM chatgenius.tunnel_status WHERE tunnel_name = 'live'")
is "$row" "$APP_PID|$NEWEST|1000|10|t|t|t|t" "row: pid, version, interval, pool size, sessions, started_at, heartbeat, host"
hb1=$(app_sql "SELECT last_heartbeat FROM chatgenius.tunnel_status WHERE tunnel_name = 'live'")
fx_wait_for 10 "heartbeat advances" hb_after live "$hb1"
ok $? "the heartbeat advances"
hb2=$(app_sql "SELECT last_heartbeat FROM chatgenius.tunnel_status WHERE tunnel_name = 'live'")
fx_wait_for 10 "heartbeat advances again" hb_after live "$hb2"
ok $? "and advances again"

fx_wait_for 10 "connected event" app_has_event live connected
ok $? "the 'connected' event reaches chatgenius.tunnel_events"
logts=$(grep -m1 ' event=connected ' "$FX_DIR/live.log" | cut -d' ' -f1)
is "$(app_sql "SELECT abs(extract(epoch FROM occurred_at - '$logts'::timestamptz)) < 0.01,
	occurred_at <= recorded_at, event_key <> '', detail LIKE '%attempts=1%'
	FROM chatgenius.tunnel_events WHERE tunnel_name = 'live' AND event = 'connected'")" "t|t|t|t" \
	"its occurred_at is the helper's time ($logts), not the insert time; key and detail kept"
stop_helper
is "$APP_RC" 0 "live helper stops with 0"

# ---------------------------------------------------------------- outage

app_start outage SSH_MAX_RETRIES=8
fx_wait_for 20 "outage connected" app_has_event outage connected
ok $? "outage: connected and reported"
fx_sshd_stop
fx_wait_for 30 "second reconnect attempt" app_log_has outage 'event=reconnecting .*attempt=2 '
ok $? "outage: sshd killed, the helper retries"
n_during=$(app_event_count outage)
is "$n_during" 1 "outage: nothing new reaches the database while it is out of reach"
restart_at=$(date -u '+%Y-%m-%d %H:%M:%S.%N+00')
fx_sshd_start
fx_wait_for 30 "reconnected" app_log_has outage 'event=reconnected '
ok $? "outage: sshd back, the helper reconnects"
fx_wait_for 15 "database has every logged event" db_matches_log outage
ok $? "outage: the database has exactly the logged events, in the same order"
diag "events: $(log_events outage | tr '\n' ' ')"
like "$(db_events outage | tr '\n' ' ')" "health_check_failed|disconnected" "outage: the failure is among them"
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'outage'
	AND event IN ('health_check_failed', 'disconnected', 'reconnecting')
	AND (occurred_at >= '$restart_at' OR recorded_at < '$restart_at')")" 0 \
	"outage: its events carry their own times (before sshd came back) and were written after"
is "$(app_sql "SELECT count(*) FROM (SELECT occurred_at < lag(occurred_at) OVER (ORDER BY id) AS back
	FROM chatgenius.tunnel_events WHERE tunnel_name = 'outage') s WHERE back")" 0 \
	"outage: ids follow occurred_at (written in order)"
is "$(app_sql "SELECT count(*) - count(DISTINCT (event, occurred_at)) FROM chatgenius.tunnel_events
	WHERE tunnel_name = 'outage'")" 0 "outage: no event written twice"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 7')" 7 "outage: the tunnel works again"
stop_helper
is "$APP_RC" 0 "outage helper stops with 0"

# ---------------------------------------------------------------- gave up, then restarted

app_start gaveup SSH_MAX_RETRIES=2
fx_wait_for 20 "gaveup connected" app_has_event gaveup connected
first_pid=$APP_PID
fx_sshd_stop
app_wait_exit "$APP_PID" 30
is "$APP_RC" 4 "gave up: exit 4"
ok "$(app_log_has gaveup 'ERROR event=maxRetriesExceeded .*max retries exceeded|max retries exceeded' && echo 0 || echo 1)" \
	"gave up: the log says 'max retries exceeded'"
is "$(app_event_count gaveup maxRetriesExceeded)" 0 "gave up: maxRetriesExceeded could not be written yet"
fx_sshd_start
app_restart gaveup
fx_wait_for 20 "maxRetriesExceeded written" app_has_event gaveup maxRetriesExceeded
ok $? "gave up: after a restart of the helper, maxRetriesExceeded reaches the database"
is "$(app_sql "SELECT e.occurred_at < c.occurred_at, e.event_key LIKE '%-$first_pid-%'
	FROM chatgenius.tunnel_events e, chatgenius.tunnel_events c
	WHERE e.tunnel_name = 'gaveup' AND e.event = 'maxRetriesExceeded'
	AND c.tunnel_name = 'gaveup' AND c.event = 'connected' AND c.event_key LIKE '%-$APP_PID-%'")" "t|t" \
	"gave up: it keeps its own time (before the restart) and the first run's key"
fx_wait_output 15 "gaveup complete" "" eval 'cat "$FX_DIR"/state/gaveup-*.spool'
ok $? "gave up: the spool is empty once everything is written"
stop_helper

# ---------------------------------------------------------------- bounded spool

app_start bounded SSH_MAX_RETRIES=8 TUNNEL_SPOOL_MAX=2
fx_wait_for 20 "bounded connected" app_has_event bounded connected
fx_sshd_stop
fx_wait_for 30 "third attempt" app_log_has bounded 'event=reconnecting .*attempt=3 '
fx_sshd_start
fx_wait_for 30 "events_dropped written" app_has_event bounded events_dropped
ok $? "bounded: past TUNNEL_SPOOL_MAX the helper writes an events_dropped event"
dropped=$(app_sql "SELECT detail FROM chatgenius.tunnel_events WHERE tunnel_name = 'bounded' AND event = 'events_dropped'")
like "$dropped" "^count=[1-9][0-9]*$" "bounded: its detail counts the dropped events ($dropped)"
ok "$(app_log_has bounded "WARN event=events_dropped .*$dropped" && echo 0 || echo 1)" "bounded: and it is logged"
is "$(app_event_count bounded events_dropped)" 1 "bounded: once"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 8')" 8 "bounded: the tunnel works"
stop_helper

# ---------------------------------------------------------------- corrupt / unwritable spool

app_start corrupt
fx_wait_for 20 "corrupt connected" app_has_event corrupt connected
stop_helper
spool=$(ls "$FX_DIR"/state/corrupt-*.spool)
ok $? "the spool is a file per tunnel under TUNNEL_STATE_DIR ($(basename "$spool"))"
is "$(stat -c %a "$FX_DIR/state")" 700 "TUNNEL_STATE_DIR is created 0700"
{
	printf 'this line is garbage\n'
	printf 'v1\thandmade-1\t2020-01-02 03:04:05.123456+00\tconnected\tdetail=by\\thand\n'
	printf 'v1\tbad key!\t2020-01-02 03:04:05.123456+00\tconnected\tx\n'
	printf 'v1\ttruncated-1\t2020-01-02 03:04:05.1'
} >>"$spool"
app_restart corrupt
handmade_written()
{
	[ "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE event_key = 'handmade-1'")" = 1 ]
}
fx_wait_for 20 "handmade event" handmade_written
ok $? "corrupt spool: the valid line is still written"
is "$(app_sql "SELECT occurred_at, detail FROM chatgenius.tunnel_events WHERE event_key = 'handmade-1'")" \
	"2020-01-02 03:04:05.123456+00|detail=by	hand" "corrupt spool: with its time and its (unescaped) detail"
is "$(app_log_count corrupt 'WARN msg=spool_corrupt_line ')" 3 "corrupt spool: each bad line is a warning (3)"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 9')" 9 "corrupt spool: the tunnel works"
stop_helper

app_start unwritable TUNNEL_STATE_DIR=/dev/null/state
fx_wait_for 20 "unwritable connected" app_has_event unwritable connected
ok $? "unwritable spool: events still reach the database (kept in memory)"
is "$(app_log_count unwritable 'WARN msg=spool_unwritable ')" 1 "unwritable spool: one warning"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 10')" 10 "unwritable spool: the tunnel works"
stop_helper
is "$APP_RC" 0 "unwritable spool: clean stop"

# ---------------------------------------------------------------- extension missing

app_start noext POSTGRES_DB=postgres POSTGRES_USER=postgres "POSTGRES_PASSWORD=$FX_SUPER_PASSWORD" \
	TUNNEL_LOG_LEVEL=debug
three_checks()
{
	[ "$(app_log_count noext 'msg=health_check .*result=ok')" -ge 3 ]
}
fx_wait_for 20 "three checks" three_checks
ok $? "extension missing: health checks succeed"
is "$(app_log_count noext 'WARN msg=extension_missing ')" 1 "extension missing: one warning over several checks"
like "$(grep -m1 'msg=extension_missing' "$FX_DIR/noext.log")" "chatgenius-tunnel setup" \
	"extension missing: the warning says how to fix it"
is "$(PGPASSWORD=$FX_SUPER_PASSWORD psql -qXAt -h 127.0.0.1 -p "$APP_PORT" -U postgres -d postgres -c 'SELECT 11')" 11 \
	"extension missing: the tunnel works"
is "$(app_log_count noext 'event=health_check_failed')" 0 "extension missing: no health check failed"
stop_helper

# ---------------------------------------------------------------- pool_stats() under load

app_start load
fx_wait_for 20 "load connected" app_status_is load state connected
sleepers=()
for _ in 1 2 3 4 5 6; do
	app_tunnel_psql "$APP_PORT" -c 'SELECT pg_sleep(6)' >/dev/null 2>&1 &
	sleepers+=($!)
done
loaded()
{
	[ "$(app_sql "SELECT channels_active >= 6 AND backends_active >= 6
		FROM chatgenius.pool_stats() WHERE tunnel_name = 'load'")" = t ]
}
fx_wait_for 10 "pool_stats shows the load" loaded
ok $? "pool_stats(): six clients show as active channels and active backends"
is "$(app_sql "SELECT state, sessions_open >= 1, channels_total >= 6, heartbeat_age < interval '3 s'
	FROM chatgenius.pool_stats() WHERE tunnel_name = 'load'")" "connected|t|t|t" \
	"pool_stats(): state, sessions, channel total and a fresh heartbeat"
wait "${sleepers[@]}" 2>/dev/null
stop_helper

# ---------------------------------------------------------------- SIGKILL

app_start killed
fx_wait_for 20 "killed connected" app_status_is killed state connected
tunnel_check()
{
	app_sql "SELECT status FROM chatgenius.health() WHERE check_name = 'tunnel' AND detail LIKE 'killed%'"
}
is "$(tunnel_check)" ok "SIGKILL: health()'s tunnel check is ok while the helper runs"
kill -KILL "$APP_PID"
t0=$(date +%s%N)
wait "$APP_PID" 2>/dev/null
is_critical()
{
	[ "$(tunnel_check)" = critical ]
}
fx_wait_for 15 "tunnel check critical" is_critical
ok $? "SIGKILL: health()'s tunnel check turns critical"
elapsed=$((($(date +%s%N) - t0) / 1000000))
cmp_ok "$elapsed" -lt 6000 "SIGKILL: within a few intervals of 1 s (${elapsed} ms)"
like "$(app_sql "SELECT detail FROM chatgenius.health() WHERE check_name = 'tunnel' AND detail LIKE 'killed%'")" \
	"stale|heartbeat" "SIGKILL: the detail says the heartbeat is stale"
is "$(app_sql "SELECT state FROM chatgenius.tunnel_status WHERE tunnel_name = 'killed'")" connected \
	"SIGKILL: the row still says connected (nobody could write 'stopped'): only the heartbeat age tells"

done_testing
