#!/usr/bin/env bash
# Close only what is dead: of two SSH sessions, the one that carries no
# client is frozen (its sshd process stopped; keepalives set far off, so only
# the health check can notice).  The check lands on it and gets no answer:
# that session alone is closed, the check passes at once on the other, and
# the long query on the other session is kept; no reconnection.
#
#   prove test/helper/session_fault.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin sessionfault
app_install_extension
tl_section

# carrier_pid: the sshd session process holding a connection to PostgreSQL
# (the long query's); empty unless exactly one does.
carrier_pid()
{
	local pids
	pids=$(ss -tnpH "dport = :$FX_PG_PORT" | grep -oE 'pid=[0-9]+' | cut -d= -f2 | sort -u)
	[ "$(printf '%s\n' "$pids" | grep -c .)" = 1 ] && echo "$pids"
}
# one_carrier: one sshd process carries connections to PostgreSQL; it is
# kept in $carrier from the same sample (a health check through the other
# session a moment later would show two).
one_carrier()
{
	carrier=$(carrier_pid)
	[ -n "$carrier" ]
}

tl_start onedead SSH_POOL_SIZE=2 SSH_CHANNELS_PER_SESSION=1 SSH_HEALTH_CHECK_INTERVAL=1000 \
	SSH_KEEPALIVE_INTERVAL=60000 SSH_IDLE_TIMEOUT=600000 TUNNEL_CLIENT_WAIT=20000 TUNNEL_LOG_LEVEL=debug
tl_up
ok $? "connected"
tl_clients_start 2 1
tl_clients_wait
fx_wait_for 10 "two sessions" tl_stats_is sessions 2
ok $? "two clients at one channel per session: two sessions"
tl_psql -Atc "SELECT 'kept', pg_sleep(8)" >"$FX_DIR/long.out" 2>&1 &
long=$!
fx_wait_for 10 "the long query runs" tl_backends_are '%pg_sleep(8)%' 1
fx_wait_for 10 "one sshd process carries it" one_carrier
other=$(ps -o pid= --ppid "$FX_SSHD_PID" | tr -d ' ' | grep -vx "$carrier")
is "$(printf '%s\n' "$other" | grep -c .)" 1 "the other session's sshd process is found ($other; the query is on $carrier)"
kill -STOP "$other"
fx_wait_for 20 "the frozen session closed alone" tl_has 'msg=session_fault_contained '
ok $? "the check got no answer through the frozen session: that session alone is closed"
wait "$long"
is "$?:$(cat "$FX_DIR/long.out")" "0:kept|" "the long query on the other session is kept"
kill -CONT "$other"
is "$(tl_count 'event=health_check_failed .*cause=path')" 1 "one health_check_failed (cause=path)"
is "$(tl_count 'event=disconnected .*sessions=1 ')" 1 "one session disconnected"
is "$(tl_count 'event=(reconnecting|reconnected) ')" 0 "no reconnection of the whole pool"
before=$(tl_count 'msg=health_check .*result=ok')
more_checks()
{
	[ "$(tl_count 'msg=health_check .*result=ok')" -ge $((before + 2)) ]
}
fx_wait_for 10 "checks pass" more_checks
ok $? "the checks keep passing on the session left"
is "$(tl_psql -Atc 'SELECT 1')" 1 "new clients are served"
tl_stop
is "$TL_RC" 0 "exit 0"
tl_sanitizer_clean onedead
tl_fault one_session_frozen

done_testing
