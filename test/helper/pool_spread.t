#!/usr/bin/env bash
# Fill first until a worker is saturated, then spread.  Eight clients
# reading 256 kB results as fast as they can, through a pool at its
# defaults (32 channels a session), all go to one session, as fill first
# wants, and drive its worker to saturation (it spends most of its time
# outside poll(2), encrypting): the pool says so (msg=pool_spread) and
# opens a session per core, one handshake at a time.  The next burst of
# clients is spread evenly over those sessions (3 or more of 8 on each: the
# session the first burst saturated is not avoided once its clients left),
# and no client waits for a session meanwhile.  Clients doing little never
# saturate a worker: pool_fill.t keeps filling first, and so do pgbench
# -S's short transactions on 2 cores (the worker sleeps in poll(2) 50 to
# 80% of the time at 8 to 32 clients).
#
#   prove test/helper/pool_spread.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/fixture.sh
. test/lib/tap.sh
. test/lib/tunnel_lib.sh

[ "$(nproc)" -ge 2 ] || skip_all "one core: nothing to spread over"
tl_begin poolspread
tl_pgbench_init
export PGPASSWORD=$FX_APP_PASSWORD

# loads: the live sessions' channel counts, ascending, space-separated.
loads()
{
	tl_stats_field sv_load | tr ',' '\n' | cut -d: -f2 | sort -n | paste -sd' '
}

tl_start spread SSH_POOL_SIZE=4 SSH_IDLE_TIMEOUT=600000 \
	TUNNEL_LOG_LEVEL=info
tl_up
ok $? "connected"

# Saturate: 8 clients at full speed, 20 s at most, stopped once the pool
# says its worker is saturated.
echo "SELECT repeat('x', 262144);" >"$FX_DIR/big.sql"
pgbench -f "$FX_DIR/big.sql" -n -c 8 -j 2 -T 20 -h 127.0.0.1 -p "$FX_TUNNEL_PORT" -U "$FX_APP_USER" "$FX_APP_DB" \
	>"$FX_DIR/burst1.log" 2>&1 &
bench=$!
fx_wait_for 20 "the 8 clients on one session" eval '[ "$(loads | tr " " "\n" | sort -n | tail -1)" -ge 8 ]'
ok $? "8 clients fill one session first ($(loads))"
fx_wait_for 25 "msg=pool_spread" tl_has 'msg=pool_spread'
ok $? "the worker carrying them is saturated: $(grep -o 'msg=pool_spread.*' "$TL_LOG" | head -1)"
kill -INT "$bench" 2>/dev/null
wait "$bench" 2>/dev/null
# The clients leave (the health check's channel aside): the session they
# saturated is not avoided any more, its worker is idle.
fx_wait_for 20 "the clients to leave" eval '[ "$(loads | tr " " "\n" | sort -n | tail -1)" -le 1 ]'
fx_wait_for 30 "a session per core" eval '[ "$(tl_stats_field sessions)" -ge "$(nproc)" ]'
ok $? "a session per core is open ($(tl_stats_field sessions) sessions, $(nproc) cores)"

# The next burst spreads.
pgbench -S -n -c 8 -j 2 -T 4 -h 127.0.0.1 -p "$FX_TUNNEL_PORT" -U "$FX_APP_USER" "$FX_APP_DB" \
	>"$FX_DIR/burst2.log" 2>&1 &
bench=$!
fx_wait_for 20 "the 8 clients in" eval '[ "$(($(loads | tr " " "+")))" -ge 8 ]'
spread=$(loads)
# shellcheck disable=SC2086 # one word per session, fewest first
set -- $spread
[ $# -ge 2 ] && [ "$1" -ge 3 ]
ok $? "the next 8 clients are spread, 3 or more on each session ($spread)"
wait "$bench"
ok $? "every client of the second burst was served ($(grep '^tps' "$FX_DIR/burst2.log" | head -1))"
is "$(tl_count 'msg=stall where=queue')" 0 "no client waited for a session (no msg=stall where=queue)"
tl_stop
is "$TL_RC" 0 "clean exit"
done_testing
