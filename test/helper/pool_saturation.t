#!/usr/bin/env bash
# A full pool is not a dead tunnel.  With the health check on at 1 s:
#  - repro: SSH_POOL_SIZE=2 x SSH_CHANNELS_PER_SESSION=2, TUNNEL_CLIENT_WAIT=2000,
#    four clients in pg_sleep: every one gets its answer, no session closes;
#  - storm: the same pool saturated by four long queries plus 300 refused
#    clients: every long query is kept, no session closes, the heartbeat in
#    tunnel_status stays fresh, health() says ok, pool_full is aggregated
#    (a handful of rows carrying the count), and no health_check_failed,
#    disconnected or reconnecting appears.
#
#   prove test/helper/pool_saturation.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin saturation
app_install_extension

POOL="SSH_POOL_SIZE=2 SSH_CHANNELS_PER_SESSION=2 SSH_HEALTH_CHECK_INTERVAL=1000"

# ---------------------------------------------------------------- the issue's reproduction
tl_section
# shellcheck disable=SC2086
tl_start repro $POOL TUNNEL_CLIENT_WAIT=2000 TUNNEL_LOG_LEVEL=debug
tl_up
ok $? "repro: connected"
tl_clients_start 4 6
fx_wait_for 20 "four backends busy" tl_backends_are '%pg_sleep(6)%' 4
ok $? "repro: four clients fill the pool (2 sessions x 2 channels)"
tl_clients_wait
is "$TL_CLIENTS_FAILED" 0 "repro: all four long queries get their answer (none is cut)"
is "$(tl_count 'event=(health_check_failed|disconnected|reconnecting) ')" 0 \
	"repro: no health_check_failed, disconnected or reconnecting"
is "$(tl_count 'msg=session_closed ')" 0 "repro: no session was closed"
cmp_ok "$(tl_count 'msg=health_check .*result=ok')" -ge 4 "repro: the health checks passed through the full pool"
tl_stop
is "$TL_RC" 0 "repro: exit 0"
tl_sanitizer_clean repro
tl_fault pool_full_long_queries

# ---------------------------------------------------------------- saturated pool plus a storm
tl_section

# hb_age NAME: seconds since the tunnel's last heartbeat (as the database sees it).
hb_age()
{
	app_sql "SELECT round(extract(epoch FROM now() - last_heartbeat)::numeric, 2)
		FROM chatgenius.tunnel_status WHERE tunnel_name = 'test-$1'"
}

# health_tunnel NAME: health()'s status for the tunnel.
health_tunnel()
{
	app_sql "SELECT status FROM chatgenius.health() WHERE check_name = 'tunnel'
		AND detail LIKE 'test-$1%'"
}

# shellcheck disable=SC2086
tl_start storm $POOL TUNNEL_CLIENT_WAIT=1000 TUNNEL_MAX_WAITING=64 TUNNEL_LOG_LEVEL=debug
tl_up
ok $? "storm: connected"
fx_wait_for 10 "first heartbeat" app_status_is test-storm state connected
tl_clients_start 4 12
fx_wait_for 20 "four backends busy" tl_backends_are '%pg_sleep(12)%' 4
ok $? "storm: four long queries fill the pool"
# The heartbeat's age, sampled every 200 ms through the storm.
: >"$FX_DIR/hb.samples"
(
	end=$((SECONDS + 9))
	while ((SECONDS < end)); do
		hb_age storm >>"$FX_DIR/hb.samples"
		health_tunnel storm >>"$FX_DIR/health.samples"
		sleep 0.2
	done
) &
sampler=$!
storm=$(perl test/tools/storm.pl "$FX_TUNNEL_PORT" 300 20)
diag "storm: $storm"
like "$storm" '^opened=300 closed_by_peer=300$' "storm: 300 clients beyond the pool are all refused"
wait "$sampler"
max_age=$(sort -n "$FX_DIR/hb.samples" | tail -1)
diag "storm: heartbeat ages sampled: $(sort -n "$FX_DIR/hb.samples" | uniq -c | wc -l) distinct, max ${max_age}s"
ok "$(awk -v m="$max_age" 'BEGIN { exit !(m != "" && m < 3.5) }'; echo $?)" \
	"storm: the heartbeat stays fresh through the storm (oldest seen ${max_age}s, interval 1 s)"
# health() warns once the heartbeat is over 2 intervals old: on a slow
# build (asan.t, tsan.t) a late heartbeat is a warning, never critical.
seen=$(sort -u "$FX_DIR/health.samples" | tr '\n' ' ')
if awk -v m="$max_age" 'BEGIN { exit !(m < 2) }'; then
	is "$seen" "ok " "storm: health() says ok for the tunnel throughout"
else
	like "$seen" '^(ok )?(warn )?$' "storm: health() never says critical for the tunnel (heartbeat ${max_age}s old at worst)"
fi
tl_clients_wait
is "$TL_CLIENTS_FAILED" 0 "storm: every long query is kept"
is "$(tl_count 'event=(health_check_failed|disconnected|reconnecting) ')" 0 \
	"storm: no health_check_failed, disconnected or reconnecting"
is "$(tl_count 'msg=session_closed ')" 0 "storm: no session was closed"
full_rows()
{
	app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'test-storm' AND event = 'pool_full'"
}
refused_sum()
{
	app_sql "SELECT coalesce(sum(substring(detail FROM 'refused=([0-9]+)')::int), 0)
		FROM chatgenius.tunnel_events WHERE tunnel_name = 'test-storm' AND event = 'pool_full'"
}
fx_wait_output 15 "pool_full rows carry all 300" 300 refused_sum
ok $? "storm: the pool_full rows count every refused client ($(refused_sum))"
rows=$(full_rows)
cmp_ok "$rows" -le 12 "storm: 300 refused clients give a handful of pool_full rows ($rows)"
like "$(grep -m1 'event=pool_full ' "$TL_LOG")" 'refused=[0-9]+ .*longest_wait_ms=[0-9]+' \
	"storm: pool_full carries the count and the longest wait"
diag "reliability: pool_full_rows=$rows refused=300 heartbeat_max_age_s=$max_age"

# Strangers on the health check's private port are shut out, and the check
# keeps passing while they knock.
room=$(grep -m1 'msg=listening ' "$TL_LOG" | grep -oE 'health_check=127\.0\.0\.1:[0-9]+' | cut -d: -f2)
like "$room" '^[0-9]+$' "storm: the health check's private port is logged ($room)"
checks_before=$(tl_count 'msg=health_check .*result=ok')
knock=$(perl test/tools/storm.pl "$room" 50 10)
like "$knock" '^opened=50 closed_by_peer=50$' "storm: 50 strangers on the private port are all shut out ($knock)"
room_refused()
{
	grep 'msg=health_room_refused ' "$TL_LOG" | grep -oE ' refused=[0-9]+' | cut -d= -f2 |
		awk '{ s += $1 } END { print s + 0 }'
}
room_counted()
{
	[ "$(room_refused)" -ge 50 ]
}
fx_wait_for 5 "50 refusals counted" room_counted
cmp_ok "$(room_refused)" -ge 50 "storm: each is counted as not the health check (aggregated lines)"
checks_more()
{
	[ "$(tl_count 'msg=health_check .*result=ok')" -ge $((checks_before + 2)) ]
}
fx_wait_for 10 "two more checks" checks_more
ok $? "storm: the health checks keep passing"
is "$(tl_count 'event=(health_check_failed|disconnected|reconnecting) ')" 0 \
	"storm: still no health_check_failed, disconnected or reconnecting"
tl_stop
is "$TL_RC" 0 "storm: exit 0"
tl_sanitizer_clean storm
tl_fault refused_client_storm

# clients_released N: true when N channels of clients (not the health
# check's) have been released: their close is through and their room free.
clients_released()
{
	[ "$(grep 'msg=channel_released ' "$TL_LOG" | grep -vc 'client=health-check:')" -ge "$1" ]
}

# ---------------------------------------------------------------- TUNNEL_MAX_WAITING=0
# 0 means "no waiting": served at once when there is room, refused at once
# when there is none; the health check is never among the refused.
tl_section
tl_start nowait SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=2 SSH_HEALTH_CHECK_INTERVAL=1000 \
	TUNNEL_MAX_WAITING=0 TUNNEL_CLIENT_WAIT=10000 TUNNEL_LOG_LEVEL=debug
tl_up
ok $? "nowait: connected"
is "$(tl_psql -Atc "SELECT 'served'" 2>&1)" served "nowait: a client is served when there is room"
# That client's channel counts until the server side has closed it too (a
# round trip after psql exits); the two long clients must find it free, or
# the second is refused, as it should be with no waiting.
fx_wait_for 10 "the served client's channel released" clients_released 1
ok $? "nowait: the served client's channel is released"
tl_clients_start 2 5
fx_wait_for 20 "two backends busy" tl_backends_are '%pg_sleep(5)%' 2
checks_before=$(tl_count 'msg=health_check .*result=ok')
t0=$(date +%s%N)
out=$(tl_psql -Atc "SELECT 'third'" 2>&1)
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
cmp_ok "$rc" -ne 0 "nowait: with the pool full a third client is refused"
cmp_ok "$ms" -lt 5000 "nowait: at once, not after TUNNEL_CLIENT_WAIT=10000 ($ms ms)"
fx_wait_for 10 "two more checks while full" checks_more
ok $? "nowait: the health checks pass while the pool is full"
tl_clients_wait
is "$TL_CLIENTS_FAILED" 0 "nowait: the two long queries are kept"
is "$(tl_count 'event=(health_check_failed|disconnected|reconnecting) ')" 0 \
	"nowait: no health_check_failed, disconnected or reconnecting"
tl_stop
is "$TL_RC" 0 "nowait: exit 0"
tl_fault max_waiting_zero

done_testing
