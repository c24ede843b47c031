#!/usr/bin/env bash
# A connect flood at the health check's private endpoint must not flood the
# log (issue 14, hole "log flood"): refusals there are aggregated as
# pool_full is, one health_room_refused line per second at most with the
# count (refused=N), and the counts add up to every connection refused.
# The health check keeps passing through the flood.
#
#   prove test/security/tunnel_health_room.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin healthroom
app_install_extension
HOSTILE=test/tools/tunnel_hostile_clients.pl

tl_section
tl_start room SSH_HEALTH_CHECK_INTERVAL=500 TUNNEL_LOG_LEVEL=debug
tl_up
ok $? "room: connected"
room=$(grep -m1 'msg=listening ' "$TL_LOG" | grep -oE 'health_check=127\.0\.0\.1:[0-9]+' | cut -d: -f2)
like "$room" '^[0-9]+$' "room: the private port is logged ($room)"
checks_before=$(tl_count 'msg=health_check .*result=ok')
# Four flooders: the endpoint's backlog is short, and a connect that finds
# it full waits a second for the SYN's retry.
floods=()
t0=${EPOCHREALTIME/./}
for i in 1 2 3 4; do
	perl "$HOSTILE" flood "$room" 5 >"$FX_DIR/flood.$i" &
	floods+=($!)
done
wait "${floods[@]}"
# A connect that found the backlog full may end a few seconds past the 5 s.
flood_s=$(((${EPOCHREALTIME/./} - t0) / 1000000))
n=$(cat "$FX_DIR"/flood.* | sed 's/^connects=//' | awk '{ s += $1 } END { print s + 0 }')
diag "room: flood: $n connections"
cmp_ok "$n" -ge 40 "room: a 5 s connect flood at the private port ($n connections)"
refused_sum()
{
	grep 'msg=health_room_refused ' "$TL_LOG" | grep -oE ' refused=[0-9]+' | cut -d= -f2 |
		awk '{ s += $1 } END { print s + 0 }'
}
all_counted()
{
	[ "$(refused_sum)" -ge "$n" ]
}
fx_wait_for 10 "every refusal counted" all_counted
ok $? "room: the lines count every refused connection ($(refused_sum) of $n)"
lines=$(tl_count 'msg=health_room_refused ')
# One line at once, then at most one a second, and the last count after it.
cmp_ok "$lines" -le $((flood_s + 3)) "room: in a handful of lines ($lines for $n refusals over $flood_s s)"
like "$(grep -m1 'msg=health_room_refused ' "$TL_LOG")" 'refused=[0-9]+ .*last_client=health-check:[0-9]+ ' \
	"room: each line carries the count and the last client"
checks_more()
{
	[ "$(tl_count 'msg=health_check .*result=ok')" -ge $((checks_before + 4)) ]
}
fx_wait_for 10 "four more checks" checks_more
ok $? "room: the health checks keep passing"
is "$(tl_count 'event=(health_check_failed|disconnected|reconnecting) ')" 0 \
	"room: no health_check_failed, disconnected or reconnecting"
diag "reliability: health_room_refused_lines=$lines refused=$n"
tl_stop
is "$TL_RC" 0 "room: exit 0"
tl_sanitizer_clean room
tl_attack health_room_log_flood

done_testing
