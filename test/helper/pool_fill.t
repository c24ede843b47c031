#!/usr/bin/env bash
# Fill first, with one spare: clients go to the fullest session that has
# room, up to SSH_CHANNELS_PER_SESSION, before another session is used;
# once the busy sessions have a quarter of SSH_CHANNELS_PER_SESSION left
# (here 8: 2 left), one spare session is opened ahead of need, and the
# next client beyond the limit finds it warm instead of waiting for a
# handshake.  Read from the pool figures (SIGUSR1: sv_load lists each
# live session's channels).
#
#   prove test/helper/pool_fill.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

tl_begin poolfill

# loads: the live sessions' channel counts, ascending, space-separated.
loads()
{
	tl_stats_field sv_load | tr ',' '\n' | cut -d: -f2 | sort -n | paste -sd' '
}

loads_are()
{
	[ "$(loads)" = "$1" ]
}

# The first health check's channel is gone before the clients come (it
# would count in the load); the next check is a minute away.
tl_start fill SSH_POOL_SIZE=4 SSH_CHANNELS_PER_SESSION=8 SSH_HEALTH_CHECK_INTERVAL=60000 \
	SSH_IDLE_TIMEOUT=600000 TUNNEL_LOG_LEVEL=info
tl_up
ok $? "connected"
fx_wait_for 20 "the first check's channel to close" loads_are 0
ok $? "one idle session to start with ($(loads))"

# one_more I: client I starts its long query; waits until I such queries run
# (its channel is open: the next client finds no open under way).
one_more()
{
	tl_psql -Atc "SELECT $1, pg_sleep(60)" >"$FX_DIR/client.$1" 2>&1 &
	pids+=($!)
	fx_wait_for 30 "$1 long queries" tl_backends_are 'SELECT %, pg_sleep(60)' "$1"
}

pids=()
tl_clients_start 5 60
pids=("${TL_CLIENT_PIDS[@]}")
fx_wait_for 30 "5 long queries" tl_backends_are 'SELECT %, pg_sleep(60)' 5
ok $? "5 clients at once are served"
is "$(loads)" 5 "5 clients share one session, no other is opened"

# The sixth leaves 2 of 8: the spare is opened, idle.
one_more 6
fx_wait_for 30 "6 clients on one session and an idle spare" loads_are "0 6"
ok $? "6 clients on one session, the spare opened and left idle ($(loads))"

# Up to the limit the first session takes them; the ninth goes to the spare.
one_more 7
one_more 8
is "$(loads)" "0 8" "the first session fills up to SSH_CHANNELS_PER_SESSION"
one_more 9
is "$(loads)" "1 8" "the ninth client goes to the spare"
is "$(tl_stats_field sessions)" 2 "no third session while the second has room"
is "$(tl_count 'msg=stall where=queue')" 0 "no client waited for a session (no msg=stall where=queue)"

fx_psql -d postgres -Atc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE query LIKE 'SELECT %, pg_sleep(60)'" >/dev/null
for p in "${pids[@]}"; do wait "$p"; done
tl_stop
is "$TL_RC" 0 "clean exit"
tl_sanitizer_clean fill

# ---------------------------------------------------------------- with the health check on
# As in production, the check runs beside the clients (every second here):
# its channel is above the limit and its open never makes a client wait;
# the clients still fill one session and the spare, and no third opens.
tl_section
tl_start checked SSH_POOL_SIZE=4 SSH_CHANNELS_PER_SESSION=8 SSH_HEALTH_CHECK_INTERVAL=1000 \
	SSH_IDLE_TIMEOUT=600000 TUNNEL_LOG_LEVEL=debug
tl_up
ok $? "checked: connected"
checks0=$(tl_count 'msg=health_check .*result=ok')
tl_clients_start 7 60
pids=("${TL_CLIENT_PIDS[@]}")
fx_wait_for 30 "7 long queries" tl_backends_are 'SELECT %, pg_sleep(60)' 7
ok $? "checked: 7 clients at once are served"
fx_wait_for 20 "the spare" tl_stats_is sessions 2
ok $? "checked: the spare is opened at 7 of 8"
for i in 8 9 10; do one_more "$i"; done
is "$(tl_backends 'SELECT %, pg_sleep(60)')" 10 "checked: 10 clients served one by one after them"
fx_wait_for 10 "two more health checks" \
	eval '[ "$(tl_count "msg=health_check .*result=ok")" -ge $((checks0 + 2)) ]'
ok $? "checked: the health check passes beside them"
is "$(tl_stats_field sessions)" 2 "checked: 10 clients on 2 sessions of 8, no third"
is "$(tl_count 'msg=stall where=queue')" 0 "checked: no client waited for a session"
fx_psql -d postgres -Atc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE query LIKE 'SELECT %, pg_sleep(60)'" >/dev/null
for p in "${pids[@]}"; do wait "$p"; done
tl_stop
is "$TL_RC" 0 "checked: clean exit"
tl_sanitizer_clean checked

done_testing
