#!/usr/bin/env bash
# No mix of idle, slow or garbage-sending local clients keeps a real client
# out beyond TUNNEL_LOGIN_TIMEOUT (issue 14, hole 4), even when the server's
# authentication_timeout is long (here its default, 60 s).  A pool of 4
# channels is filled by two idle sockets, one that sends an SSLRequest and
# idles after the 'N', and one slowloris sending its StartupMessage a byte
# every 300 ms; a client streaming zeros comes too.  psql, waiting behind
# them, gets in once TUNNEL_LOGIN_TIMEOUT (2 s) has passed, long before its
# TUNNEL_CLIENT_WAIT (10 s) and the server's 60 s.
#
# TUNNEL_LOGIN_TIMEOUT comes from the environment, so that a build without
# it runs the same scenario (and the attack then succeeds).
#
#   prove test/security/tunnel_login_timeout.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin logintimeout
app_install_extension
HOSTILE=test/tools/tunnel_hostile_clients.pl

tl_section
is "$(fx_psql -Atc 'SHOW authentication_timeout')" 1min "the server's authentication_timeout is its default"
TUNNEL_LOGIN_TIMEOUT=2000 tl_start mix SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=4 \
	TUNNEL_CLIENT_WAIT=10000 SSH_HEALTH_CHECK_INTERVAL=1000
tl_up
ok $? "mix: connected (1 session x 4 channels)"
perl "$HOSTILE" idle "$FX_TUNNEL_PORT" 2 1 0 20 >"$FX_DIR/idle.out" 2>"$FX_DIR/idle.progress" &
idle=$!
perl "$HOSTILE" sslidle "$FX_TUNNEL_PORT" 1 20 >"$FX_DIR/ssl.out" 2>"$FX_DIR/ssl.progress" &
sslidle=$!
perl "$HOSTILE" slow "$FX_TUNNEL_PORT" 1 300 20 >"$FX_DIR/slow.out" 2>"$FX_DIR/slow.progress" &
slow=$!
fx_wait_for 10 "the hostile clients in" grep -q opened= "$FX_DIR/idle.progress" "$FX_DIR/ssl.progress" \
	"$FX_DIR/slow.progress"
busy()
{
	[ "$(tl_stats_field cl_active)" -ge 4 ]
}
fx_wait_for 10 "four channels busy" busy
ok $? "mix: the four hostile clients hold every channel"
perl "$HOSTILE" zeros "$FX_TUNNEL_PORT" 15 >"$FX_DIR/zeros.out" &
zeros=$!
tl_get_in
got=$TL_GOT ms=$TL_MS
is "$got" in "mix: psql, behind them, gets in"
cmp_ok "$ms" -lt 4000 "mix: within TUNNEL_LOGIN_TIMEOUT and a margin ($ms ms), not after TUNNEL_CLIENT_WAIT"
wait "$zeros"
diag "mix: zeros: $(cat "$FX_DIR/zeros.out")"
like "$(cat "$FX_DIR/zeros.out")" '^result=(EPIPE|ECONNRESET) ' "mix: the zero streamer got a reset, not a channel that lasts"
reported()
{
	grep -q eof= "$FX_DIR/idle.out" && grep -q closed_by_peer "$FX_DIR/ssl.out" &&
		grep -q closed_by_peer "$FX_DIR/slow.out"
}
fx_wait_for 25 "the hostile clients' reports" reported
diag "mix: idle: $(cat "$FX_DIR/idle.out")" "mix: sslidle: $(cat "$FX_DIR/ssl.out")" \
	"mix: slow: $(cat "$FX_DIR/slow.out")"
like "$(cat "$FX_DIR/idle.out")" '^opened=2 eof=2 .* reset=2$' "mix: both idle sockets were closed"
like "$(cat "$FX_DIR/ssl.out")" '^opened=1 closed_by_peer=1 .*answers=N$' \
	"mix: the socket idle after its SSLRequest's 'N' was closed"
like "$(cat "$FX_DIR/slow.out")" '^opened=1 closed_by_peer=1 ' "mix: the slowloris was closed"
cmp_ok "$(tl_count 'msg=login_timeout ')" -ge 4 "mix: each is logged as login_timeout"
kill "$idle" "$sslidle" "$slow" 2>/dev/null
is "$(tl_count 'event=(disconnected|reconnecting|health_check_failed) ')" 0 "mix: no session was lost"
tl_stop
is "$TL_RC" 0 "mix: exit 0"
tl_sanitizer_clean mix
tl_attack login_never_completed_keeps_client_out

done_testing
