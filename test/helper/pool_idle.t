#!/usr/bin/env bash
# Idle extra SSH sessions close after SSH_IDLE_TIMEOUT; the first session
# stays.  Ten concurrent clients make the pool grow past one session; once
# they are gone the pool figures (SIGUSR1) and chatgenius.tunnel_status
# come back to one session, the oldest one, and the tunnel still works.
#
#   prove test/helper/pool_idle.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin poolidle
app_install_extension

# status_sessions: sessions_open of the helper's row in tunnel_status.
status_sessions()
{
	app_sql "SELECT sessions_open FROM chatgenius.tunnel_status WHERE tunnel_name = 'test-idle'"
}

status_sessions_is()
{
	[ "$(status_sessions)" = "$1" ]
}

tl_start idle SSH_POOL_SIZE=4 SSH_CHANNELS_PER_SESSION=4 SSH_IDLE_TIMEOUT=500 \
	SSH_HEALTH_CHECK_INTERVAL=1000 TUNNEL_CLIENT_WAIT=30000
tl_up
ok $? "connected"
is "$(tl_stats_field sessions)" 1 "one session to start with"
first=$(grep -m1 'msg=session_open ' "$TL_LOG" | grep -oE 'session=[0-9]+' | cut -d= -f2)
like "$first" '^[0-9]+$' "the first session's number is logged ($first)"

# Each client sleeps 5 s: long enough that all are seen at once even on a
# sanitizer build, where 10 logins and new sessions take seconds.
tl_clients_start 10 5
fx_wait_for 20 "10 backends busy at once" tl_backends_are '%pg_sleep(5)%' 10
ok $? "10 clients are served at the same time"
busy=$(tl_stats_field sessions)
cmp_ok "$busy" -ge 3 "10 clients over 4 channels per session: at least 3 sessions ($busy)"
cmp_ok "$busy" -le 4 "never more than SSH_POOL_SIZE=4"
tl_clients_wait
is "$TL_CLIENTS_FAILED" 0 "each client got its answer (busy sessions are not reaped)"

fx_wait_for 15 "pool back to one session" tl_stats_is sessions 1
ok $? "idle extras closed: the pool figures say sessions=1"
opened=$(tl_count 'msg=session_open ')
closed=$(tl_count 'msg=session_idle_close ')
is "$closed" $((opened - 1)) "every extra session was closed as idle ($closed of $opened opened)"
bad=$(grep 'msg=session_idle_close ' "$TL_LOG" | grep -oE 'idle_ms=[0-9]+' | cut -d= -f2 |
	awk '$1 < 500' | wc -l)
is "$bad" 0 "none closed before SSH_IDLE_TIMEOUT=500 ms of idleness"
is "$(grep 'msg=session_idle_close ' "$TL_LOG" | grep -cE "session=$first( |$)")" 0 \
	"the first session (session=$first) was never reaped"
like "$(grep 'msg=pool_stats' "$TL_LOG" | tail -1)" " sv_load=$first:[0-9]+ " \
	"the one left is the first session"
is "$(tl_count 'event=disconnected')" 0 "closing idle sessions is no disconnection"
fx_wait_for 10 "status row says one session" status_sessions_is 1
ok $? "tunnel_status.sessions_open comes back to 1"
# The row's figures are taken right before it is written: the health
# check's own channel is open then and counts.
status_check_channel()
{
	[ "$(app_sql "SELECT channels_active FROM chatgenius.tunnel_status
		WHERE tunnel_name = 'test-idle'")" = 1 ]
}
hb_after()
{
	[ "$(app_sql "SELECT last_heartbeat > '$1' FROM chatgenius.tunnel_status
		WHERE tunnel_name = 'test-idle'")" = t ]
}
hb=$(app_sql "SELECT last_heartbeat FROM chatgenius.tunnel_status WHERE tunnel_name = 'test-idle'")
fx_wait_for 10 "a newer heartbeat" hb_after "$hb"
ok $? "the heartbeat advances while idle"
status_check_channel
ok $? "tunnel_status.channels_active counts the health check's own channel (figures taken late)"
is "$(tl_psql -Atc 'SELECT 42')" 42 "the tunnel still works"
is "$(tl_stats_field sessions)" 1 "one client at a time needs no extra session"
tl_stop
is "$TL_RC" 0 "exit 0 after SIGTERM"
tl_sanitizer_clean idle

done_testing
