#!/usr/bin/env bash
# A slow channel open refuses its own client only.  Between sshd and
# PostgreSQL stands a forwarder whose door can be shut (gate_proxy.pl):
# shut, sshd's connect for a new direct-tcpip channel hangs (a blackholed
# open).  The client asking for it, and one queued behind it, are refused
# after SSH_CONNECT_TIMEOUT; the session, and the query already running on
# it, live on; once the door opens, new clients are served again.  Each
# refusal is a channel_open_timeout event that reaches tunnel_events.
#
#   prove test/helper/channel_open.t        (as root)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin chopen
app_install_extension

GATE_PORT=$(fx_free_port)
GATE_STATE=$FX_DIR/gate.state
fx_bg "$FX_DIR/gate.log" perl test/tools/gate_proxy.pl "$GATE_PORT" "$FX_PG_PORT" "$GATE_STATE"
GATE_PID=$FX_BG_PID
fx_wait_for 10 "gate proxy" fx_port_open "$GATE_PORT" || bail_out "gate proxy did not start"

gate_is()
{
	[ "$(cat "$GATE_STATE" 2>/dev/null)" = "$1" ]
}

tl_start slow_open POSTGRES_REMOTE_PORT="$GATE_PORT" SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=8 \
	SSH_CONNECT_TIMEOUT=2000 SSH_HEALTH_CHECK_INTERVAL=60000 TUNNEL_CLIENT_WAIT=20000 \
	TUNNEL_LOG_LEVEL=debug
tl_up || bail_out "the helper did not connect: $(tail -3 "$TL_LOG")"
like "$(tl_psql -Atc 'SELECT 40 + 2')" '^42$' "a query through the tunnel and the open door"

# A healthy client on the session, busy through the whole episode.
tl_psql -Atc "SELECT 'before'" -c "SELECT pg_sleep(7)" -c "SELECT 'after'" >"$FX_DIR/long.out" 2>&1 &
long_pid=$!
fx_wait_for 20 "the long query runs" tl_backends_are '%pg_sleep(7)%' 1
ok $? "a long query is running on the session"

kill -USR1 "$GATE_PID"
fx_wait_for 10 "the door shut" gate_is shut
ok $? "the door to PostgreSQL is shut (new connects hang)"

accepted_more()
{
	[ "$(tl_count 'msg=client_accepted')" -gt "$1" ]
}
n0=$(tl_count 'msg=client_accepted')
t0=$(date +%s%N)
PGCONNECT_TIMEOUT=30 fx_app_psql -Atc 'SELECT 1' >"$FX_DIR/slow.out" 2>&1 &
slow_pid=$!
fx_wait_for 10 "the first client accepted" accepted_more "$n0"
PGCONNECT_TIMEOUT=30 fx_app_psql -Atc 'SELECT 2' >"$FX_DIR/queued.out" 2>&1 &
queued_pid=$!
wait "$slow_pid"
slow_rc=$?
slow_ms=$((($(date +%s%N) - t0) / 1000000))
wait "$queued_pid"
queued_rc=$?
isnt_zero() { [ "$1" -ne 0 ]; }
isnt_zero "$slow_rc"
ok $? "the client whose open hangs is refused (psql exit $slow_rc)"
cmp_ok "$slow_ms" -lt 15000 "refused near SSH_CONNECT_TIMEOUT, not after libssh2's 60 s ($slow_ms ms)"
isnt_zero "$queued_rc"
ok $? "the client queued behind it is refused too (psql exit $queued_rc)"
cmp_ok "$(tl_count 'event=channel_open_timeout')" -ge 2 "channel_open_timeout logged for each"

wait "$long_pid"
is "$?" 0 "the long query finished"
is "$(tr '\n' ' ' <"$FX_DIR/long.out")" "before  after " "it got every answer: its session was not closed"
is "$(tl_count 'event=disconnected|reconnecting')" 0 "no disconnected or reconnecting event"

kill -USR2 "$GATE_PID"
fx_wait_for 10 "the door open" gate_is open
ok $? "the door opens again"
# The hung open finishes when sshd's SYN retry gets through (a few seconds).
fx_wait_for 40 "a new client served" eval "tl_psql -Atc 'SELECT 7' 2>/dev/null | grep -qx 7"
ok $? "new clients are served again on the same session"
is "$(tl_count 'msg=session_open')" 1 "one session all along"

tl_stop
is "$TL_RC" 0 "clean exit"
# The stop's last flush writes what the 60 s health check had not yet.
cmp_ok "$(app_event_count test-slow_open channel_open_timeout)" -ge 2 \
	"each channel_open_timeout is a row in tunnel_events"
is "$(tl_count 'msg=event_discarded')" 0 "no event discarded"
tl_sanitizer_clean slow_open

done_testing
