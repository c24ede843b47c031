#!/usr/bin/env bash
# Channel opens go side by side.  libssh2 1.10 opens one channel at a time
# per session, so clients that connect for every transaction (pgbench -C)
# would each wait for the others' opens if they all went to one session,
# which fill first alone does (4 clients never fill the 32 channels of a
# session, so no spare is wanted).  When clients keep coming (eight in a
# second) while every session has an open under way, the pool opens
# another, up to one per core (a one-off burst fills first: pool_fill.t):
# with 4 such clients a
# second session opens and takes the opens that would have waited (fill
# first still sends a client to the fullest session free of opens).
#
#   prove test/helper/pool_opens.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/fixture.sh
. test/lib/tap.sh
. test/lib/tunnel_lib.sh

[ "$(nproc)" -ge 2 ] || skip_all "one core: one session at a time"
tl_begin poolopens
tl_pgbench_init
export PGPASSWORD=$FX_APP_PASSWORD

tl_start opens SSH_POOL_SIZE=4 SSH_IDLE_TIMEOUT=600000 \
	TUNNEL_LOG_LEVEL=debug
tl_up
ok $? "connected"

pgbench -S -C -n -c 4 -j 2 -T 5 -h 127.0.0.1 -p "$FX_TUNNEL_PORT" -U "$FX_APP_USER" "$FX_APP_DB" \
	>"$FX_DIR/bench.log" 2>&1
ok $? "4 clients connecting for every transaction are served ($(grep '^tps' "$FX_DIR/bench.log"))"
sessions=$(tl_stats_field sessions)
cmp_ok "$sessions" -ge 2 "a second session opened for their opens ($sessions sessions)"
# The opens each session carried (the health check's first one aside).
opens=$(grep 'msg=channel_open ' "$TL_LOG" | grep -o ' session=[0-9]*' | sort | uniq -c | awk '{print $1}' |
	sort -n | paste -sd' ')
total=$(tr ' ' '\n' <<<"$opens" | awk '{s += $1} END {print s + 0}')
least=$(tr ' ' '\n' <<<"$opens" | head -1)
[ "$(wc -w <<<"$opens")" -ge 2 ] || least=0
cmp_ok "$least" -gt 0 "both sessions carried opens: those that would have waited (per session: $opens of $total)"
if tl_has 'msg=pool_spread'; then
	diag "a worker also reported itself saturated: $(grep -o 'msg=pool_spread.*' "$TL_LOG" | head -1)"
fi
is "$(tl_count 'msg=stall where=queue')" 0 "no client waited for a session (no msg=stall where=queue)"
tl_stop
is "$TL_RC" 0 "clean exit"
done_testing
