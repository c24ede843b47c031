#!/usr/bin/env bash
# A local user who keeps the tunnel's port flooded must not keep another
# user's clients out (issue 14, hole 4: "no mix of idle, slow or garbage-
# sending local clients can keep a real client out beyond the login
# timeout").  User nobody keeps 40 idle sockets open for 25 s, opening a
# new one for each the tunnel closes, against a pool of 4 channels with 8
# waiting and TUNNEL_LOGIN_TIMEOUT at 3 s, while the server's
# authentication_timeout is 60 s.  psql, run by root meanwhile, must get in
# each time within the login timeout and a margin: local users take turns
# for room (helper/peer_uid.c, pool.c), so the flood waits behind root's
# client instead of ahead of it, and a full queue refuses the flooder's
# newest client, not root's.
#
# TUNNEL_LOGIN_TIMEOUT comes from the environment, so that a build without
# it runs the same scenario.
#
#   prove test/security/tunnel_pool_fair.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin poolfair
app_install_extension
HOSTILE=$FX_TOP/test/tools/tunnel_hostile_clients.pl

tl_section
TUNNEL_LOGIN_TIMEOUT=3000 tl_start fair SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=4 \
	TUNNEL_MAX_WAITING=8 TUNNEL_CLIENT_WAIT=10000
tl_up
ok $? "fair: connected (4 channels, 8 may wait)"
# The attacker's script is copied where nobody can read it (the checkout may
# be root's alone); a flood that never starts is a setup error, never a held
# or broken boundary.
HOSTILE=$(fx_copy_for nobody "$HOSTILE") || bail_out "setup error: cannot copy the flood's script for nobody"
fx_as nobody perl "$HOSTILE" keep "$FX_TUNNEL_PORT" 40 25 \
	>"$FX_DIR/keep.out" 2>"$FX_DIR/keep.progress" &
flooder=$!
flood_started()
{
	grep -q full "$FX_DIR/keep.progress" || ! kill -0 "$flooder" 2>/dev/null
}
fx_wait_for 10 "the flood under way, or its end" flood_started
grep -q full "$FX_DIR/keep.progress" ||
	bail_out "setup error: the flood as user nobody did not start: $(tail -3 "$FX_DIR/keep.progress")"
ok 0 "fair: user nobody keeps 40 idle sockets at the port"
full()
{
	[ "$(tl_stats_field cl_active)" -ge 4 ]
}
fx_wait_for 10 "every channel held by the flood" full
ok $? "fair: the flood holds every channel"
worst=0
for i in 1 2 3; do
	t0=$(date +%s%N)
	got=$(PGCONNECT_TIMEOUT=30 fx_app_psql -Atc "SELECT 'in $i'" 2>&1)
	ms=$((($(date +%s%N) - t0) / 1000000))
	is "$got" "in $i" "fair: root's psql $i gets in through the flood"
	((ms > worst)) && worst=$ms
done
cmp_ok "$worst" -lt 5000 "fair: each within the 3 s login timeout and a margin (slowest $worst ms)"
wait "$flooder"
diag "fair: flood: $(cat "$FX_DIR/keep.out")"
like "$(cat "$FX_DIR/keep.out")" 'closed_by_peer=[1-9]' "fair: the flood's sockets were closed and reopened"
is "$(tl_count 'event=(disconnected|reconnecting|health_check_failed) ')" 0 "fair: no session was lost"
diag "reliability: sustained_flood_psql_worst_ms=$worst"
tl_stop
is "$TL_RC" 0 "fair: exit 0"
tl_sanitizer_clean fair
tl_attack sustained_flood_keeps_other_user_out

done_testing
