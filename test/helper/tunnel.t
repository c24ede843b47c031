#!/usr/bin/env bash
# chatgenius-tunnel's forwarding against a real sshd and PostgreSQL: connect,
# many concurrent clients each on its own channel, byte-exact large
# transfers both ways, and the pool's limit, wait and pool_full.
#
#   prove test/helper/tunnel.t        (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

tl_begin tunnel

# ------------------------------------------------------------- connect
tl_start basic SSH_POOL_SIZE=4 SSH_CHANNELS_PER_SESSION=8 SSH_HEALTH_CHECK_INTERVAL=60000
tl_up
ok $? "connected event logged"
like "$(grep -m1 'event=connected' "$TL_LOG")" " listen=127\.0\.0\.1:$FX_TUNNEL_PORT " \
	"the connected event names the clients' port, not the health check's"
like "$(tl_psql -Atc 'SELECT 40 + 2')" '^42$' "a query through the tunnel"
like "$(tl_psql -Atc 'SELECT inet_server_port()')" "^$FX_PG_PORT\$" "it reached the fixture's PostgreSQL"
like "$(ss -Htlnp "sport = :$FX_TUNNEL_PORT")" "127\.0\.0\.1:$FX_TUNNEL_PORT" "listens on loopback"

# ------------------------------------------------------------- 20 clients at once
# Each client sleeps 5 s: long enough that all are seen at once even on a
# sanitizer build, where 20 logins and new sessions take seconds.
tl_clients_start 20 5
fx_wait_for 20 "20 backends busy at once" tl_backends_are '%pg_sleep(5)%' 20
ok $? "20 clients are served at the same time"
active=$(tl_stats_field cl_active)
is "$active" 20 "pool figures: 20 active channels (cl_active)"
sessions=$(tl_stats_field sessions)
cmp_ok "$sessions" -ge 3 "20 clients over 8 channels per session need at least 3 sessions"
cmp_ok "$sessions" -le 4 "never more sessions than SSH_POOL_SIZE=4"
tl_clients_wait
is "$TL_CLIENTS_FAILED" 0 "each of the 20 clients got its own answer"
opened=$(grep -c 'server_input_channel_open: ctype direct-tcpip' "$FX_SSH_DIR/sshd.log")
cmp_ok "$opened" -ge 22 "sshd saw one direct-tcpip channel per client ($opened)"
total=$(tl_stats_field channels_total)
cmp_ok "$total" -ge 22 "pool figures count one channel per client ($total)"

# ------------------------------------------------------------- large transfers
gen="SELECT i, repeat(md5(i::text), 16) FROM generate_series(1, 100000) i"
tl_psql -c "COPY ($gen) TO STDOUT" >"$FX_DIR/out.tunnel"
ok $? "COPY 50 MB out through the tunnel"
fx_psql -d "$FX_APP_DB" -c "COPY ($gen) TO STDOUT" >"$FX_DIR/out.direct"
size=$(stat -c %s "$FX_DIR/out.tunnel")
cmp_ok "$size" -ge 50000000 "the copy is at least 50 MB ($size bytes)"
is "$(md5sum <"$FX_DIR/out.tunnel")" "$(md5sum <"$FX_DIR/out.direct")" "COPY out is byte-exact"

tl_psql -c "CREATE TABLE big (i int, t text)"
tl_psql -c "\\copy big FROM '$FX_DIR/out.direct'"
ok $? "COPY 50 MB in through the tunnel"
fx_psql -d "$FX_APP_DB" -c "COPY big TO STDOUT" >"$FX_DIR/back.direct"
is "$(md5sum <"$FX_DIR/back.direct")" "$(md5sum <"$FX_DIR/out.direct")" "COPY in is byte-exact"

# Both ways at once: two clients, one copying in while the other copies out.
tl_psql -c "COPY ($gen) TO STDOUT" >"$FX_DIR/out.tunnel2" &
p1=$!
tl_psql -c "CREATE TABLE big2 (i int, t text)" -c "\\copy big2 FROM '$FX_DIR/out.direct'" &
p2=$!
wait $p1
r1=$?
wait $p2
r2=$?
is "$r1:$r2" "0:0" "simultaneous COPY out and COPY in finish"
is "$(md5sum <"$FX_DIR/out.tunnel2")" "$(md5sum <"$FX_DIR/out.direct")" "simultaneous COPY out is byte-exact"
fx_psql -d "$FX_APP_DB" -c "COPY big2 TO STDOUT" >"$FX_DIR/back2.direct"
is "$(md5sum <"$FX_DIR/back2.direct")" "$(md5sum <"$FX_DIR/out.direct")" "simultaneous COPY in is byte-exact"
rm -f "$FX_DIR"/out.* "$FX_DIR"/back*.direct

tl_stop
is "$TL_RC" 0 "SIGTERM: exit 0"
cmp_ok "$TL_STOP_MS" -lt 5000 "stopped within 5 s ($TL_STOP_MS ms)"
tl_has 'event=stopped'
ok $? "stopped event logged"
tl_sanitizer_clean basic

# ------------------------------------------------------------- pool limit: wait
tl_start wait SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=2 TUNNEL_CLIENT_WAIT=30000 \
	SSH_HEALTH_CHECK_INTERVAL=1000
tl_up
tl_psql -Atc "SELECT 'a', pg_sleep(2)" >"$FX_DIR/a.out" 2>&1 &
pa=$!
tl_psql -Atc "SELECT 'b', pg_sleep(2)" >"$FX_DIR/b.out" 2>&1 &
pb=$!
fx_wait_for 20 "two clients busy" tl_backends_are '%pg_sleep(2)%' 2
t0=$SECONDS
tl_psql -Atc "SELECT 'third'" >"$FX_DIR/c.out" 2>&1 &
pc=$!
fx_wait_for 10 "the third client waits" tl_stats_is cl_waiting 1
ok $? "a third client waits (cl_waiting=1) with 1 session x 2 channels"
is "$(tl_stats_field sessions)" 1 "still one session (SSH_POOL_SIZE=1)"
wait $pc
rc=$?
is "$rc:$(cat "$FX_DIR/c.out")" "0:third" "the third client proceeds once one leaves"
wait $pa $pb
is "$(tl_stats_field waits_total)" 1 "waits_total counts it"
is "$(tl_stats_field refused)" 0 "nobody refused"
tl_stop
is "$TL_RC" 0 "exit 0"
is "$(tl_count 'event=(health_check_failed|disconnected|reconnecting) ')" 0 \
	"wait: the health check (every 1 s) never took the full pool for a dead path"
tl_sanitizer_clean wait

# ------------------------------------------------------------- pool limit: refused
tl_start full SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=2 TUNNEL_CLIENT_WAIT=300 \
	SSH_HEALTH_CHECK_INTERVAL=1000
tl_up
tl_psql -Atc "SELECT 'a', pg_sleep(3)" >/dev/null 2>&1 &
pa=$!
tl_psql -Atc "SELECT 'b', pg_sleep(3)" >/dev/null 2>&1 &
pb=$!
fx_wait_for 20 "two clients busy" tl_backends_are '%pg_sleep(3)%' 2
out=$(tl_psql -Atc "SELECT 'third'" 2>&1)
rc=$?
cmp_ok "$rc" -ne 0 "a third client is refused after TUNNEL_CLIENT_WAIT=300"
unlike "$out" "third" "it got no answer"
fx_wait_for 5 "pool_full event" tl_has 'event=pool_full'
ok $? "pool_full event logged"
like "$(grep 'event=pool_full' "$TL_LOG" | head -1)" 'waited_ms=[0-9]+' "pool_full says how long it waited"
is "$(tl_stats_field refused)" 1 "refused counted"
wait $pa $pb
is "$(tl_psql -Atc "SELECT 'after'")" after "served again once room returns"
tl_stop
is "$TL_RC" 0 "exit 0"
is "$(tl_count 'event=(health_check_failed|disconnected|reconnecting) ')" 0 \
	"full: the health check (every 1 s) never took the full pool for a dead path"
tl_sanitizer_clean full

done_testing
