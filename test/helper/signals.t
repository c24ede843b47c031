#!/usr/bin/env bash
# chatgenius-tunnel and its signals, against a real cluster and sshd:
# SIGTERM and SIGINT stop cleanly within a few seconds with exit 0 and a
# "stopped" event (in the log and in chatgenius.tunnel_events); SIGHUP
# re-reads the configuration (a new interval reaches tunnel_status; a bad
# value is refused and the old settings stay); SIGUSR1 logs the pool figures.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tunnel_lib.sh"
. "$TOP/test/lib/app_lib.sh"
tl_begin signals
app_install_extension

# stop_with SIGNAL: one helper, stopped by SIGNAL.
stop_with()
{
	local sig=$1 name=sig-$1 t0 t1
	app_start "$name"
	fx_wait_for 20 "$name connected" app_log_has "$name" 'event=connected'
	fx_wait_for 10 "$name status row" app_status_is "$name" state connected
	ok $? "$sig: the tunnel is up and reports 'connected'"
	is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 40 + 2')" 42 "$sig: a query goes through the tunnel"
	t0=$(date +%s%N)
	kill "-$sig" "$APP_PID"
	app_wait_exit "$APP_PID" 10
	t1=$(date +%s%N)
	is "$APP_RC" 0 "$sig: exit code 0"
	cmp_ok $(((t1 - t0) / 1000000)) -lt 5000 "$sig: stopped within 5 s ($(((t1 - t0) / 1000000)) ms)"
	ok "$(app_log_has "$name" 'INFO event=stopped ' && echo 0 || echo 1)" "$sig: 'stopped' event logged"
	ok "$(app_has_event "$name" stopped && echo 0 || echo 1)" \
		"$sig: 'stopped' event written to chatgenius.tunnel_events by the last flush"
	is "$(app_sql "SELECT state FROM chatgenius.tunnel_status WHERE tunnel_name = '$name'")" stopped \
		"$sig: tunnel_status says 'stopped'"
	fx_wait_for 5 "port $APP_PORT closed" fx_port_closed "$APP_PORT"
	ok $? "$sig: the listener is closed"
	is "$(app_log_count "$name" 'msg=exiting .*code=0')" 1 "$sig: one 'exiting code=0' line"
}

stop_with TERM
stop_with INT

# ---------------------------------------------------------------- SIGHUP

app_start hup
fx_wait_for 20 "hup connected" app_status_is hup state connected
is "$(app_sql "SELECT heartbeat_interval_ms FROM chatgenius.tunnel_status WHERE tunnel_name = 'hup'")" 1000 \
	"HUP: the row shows the configured interval (1000 ms)"
printf 'SSH_HEALTH_CHECK_INTERVAL=700\nSSH_MAX_RETRIES=5\nSSH_PORT=1\n' >>"$FX_DIR/hup.env"
kill -HUP "$APP_PID"
fx_wait_for 10 "reload logged" app_log_has hup 'msg=config_changed .*variable=SSH_HEALTH_CHECK_INTERVAL old=1000 new=700'
ok $? "HUP: the changed interval is logged"
ok "$(app_log_has hup 'msg=config_changed .*variable=SSH_MAX_RETRIES old=3 new=5' && echo 0 || echo 1)" \
	"HUP: the changed retry count is logged"
ok "$(app_log_has hup 'WARN msg=config_reload_ignored .*variable=SSH_PORT' && echo 0 || echo 1)" \
	"HUP: a setting that needs a restart (SSH_PORT) is named and not taken over"
fx_wait_for 10 "new interval in tunnel_status" app_status_is hup heartbeat_interval_ms 700
ok $? "HUP: the new interval reaches chatgenius.tunnel_status"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 1')" 1 "HUP: the tunnel still works (SSH_PORT was not taken over)"

printf 'SSH_HEALTH_CHECK_INTERVAL=fast\n' >>"$FX_DIR/hup.env"
kill -HUP "$APP_PID"
fx_wait_for 10 "reload refused" app_log_has hup 'WARN msg=config_reload_failed .*SSH_HEALTH_CHECK_INTERVAL'
ok $? "HUP: a bad value is refused with a warning naming the variable"
ok "$(app_gone "$APP_PID" && echo 1 || echo 0)" "HUP: the helper keeps running after a refused reload"
hb1=$(app_sql "SELECT last_heartbeat FROM chatgenius.tunnel_status WHERE tunnel_name = 'hup'")
hb_after()
{
	[ "$(app_sql "SELECT last_heartbeat > '$1' FROM chatgenius.tunnel_status WHERE tunnel_name = 'hup'")" = t ]
}
fx_wait_for 10 "heartbeat after refused reload" hb_after "$hb1"
ok $? "HUP: heartbeats go on with the old settings"
is "$(app_sql "SELECT heartbeat_interval_ms FROM chatgenius.tunnel_status WHERE tunnel_name = 'hup'")" 700 \
	"HUP: the interval is still 700 ms"

# ---------------------------------------------------------------- SIGUSR1

app_tunnel_psql "$APP_PORT" -c 'SELECT pg_sleep(30)' >/dev/null 2>&1 &
sleeper=$!
sleeper_seen()
{
	[ "$(app_sql "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'")" = 1 ]
}
fx_wait_for 10 "a client through the tunnel" sleeper_seen
kill -USR1 "$APP_PID"
fx_wait_for 10 "pool_stats line" app_log_has hup 'msg=pool_stats '
ok $? "USR1: the pool figures are logged (msg=pool_stats)"
line=$(grep -m1 'msg=pool_stats ' "$FX_DIR/hup.log")
for field in sessions pool_size cl_active cl_waiting channels_total bytes_in bytes_out; do
	like "$line" " $field=[0-9]+" "USR1: the line has $field"
done
like "$line" " cl_active=[1-9]" "USR1: the client being forwarded is counted (cl_active)"
ok "$(app_gone "$APP_PID" && echo 1 || echo 0)" "USR1: the helper keeps running"
# the client goes first (SIGTERM lets a client being served finish: drain.t)
kill $(pgrep -P "$sleeper") "$sleeper" 2>/dev/null
wait "$sleeper" 2>/dev/null

kill -TERM "$APP_PID"
app_wait_exit "$APP_PID" 10
is "$APP_RC" 0 "HUP/USR1 helper: exit 0 on SIGTERM"

done_testing
