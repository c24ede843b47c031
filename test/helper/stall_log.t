#!/usr/bin/env bash
# The stall log says what helps an operator: a handshake is a stall only
# when it is slow for its path (helper/worker.c: over ten times the pool's
# usual handshake, or over 1 s).
#  - normal starts (three fresh helpers, a pool that grows to four
#    sessions under four clients, and two starts over a path with an 80 ms
#    round trip, where a handshake takes some 0.5 s) print no WARN or
#    ERROR line, and every msg=stall where=handshake line there is says
#    why it is one: ms over 1000, or over ten times its usual_ms (a key
#    exchange of the path's usual length on every start is not a stall);
#  - an sshd frozen for 1.5 s during the first handshake still gives one,
#    at WARN.
#
#   prove test/helper/stall_log.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin stalllog
app_install_extension

# unjustified LOG: the handshake stall lines of LOG that the rule does not
# justify (under 1 s, and not over ten times a usual_ms).
unjustified()
{
	perl -ne '
		next unless /msg=stall .*where=handshake ms=(\d+)/;
		my ($ms, $usual) = ($1, /usual_ms=(\d+)/ ? $1 : 0);
		print unless $ms >= 1000 || ($usual > 0 && $ms > 10 * $usual);' "$1"
}

# ---------------------------------------------------------------- normal starts
for i in 1 2 3; do
	tl_start "normal$i"
	tl_up || bail_out "normal$i: the helper did not connect: $(tail -3 "$TL_LOG")"
	fx_wait_for 20 "a health check written" app_status_is "test-normal$i" state connected
	like "$(tl_psql -Atc 'SELECT 1')" '^1$' "normal$i: a query through the tunnel"
	tl_stop
	is "$TL_RC" 0 "normal$i: clean exit"
	is "$(unjustified "$TL_LOG")" "" "normal$i: no handshake stall line the rule does not justify"
	is "$(grep -E '^[^ ]+ (WARN|ERROR) ' "$TL_LOG")" "" "normal$i: no WARN or ERROR line"
	grep 'msg=stall' "$TL_LOG" | sed 's/^/# /' >&2
done

tl_start grow SSH_POOL_SIZE=4 SSH_CHANNELS_PER_SESSION=1 TUNNEL_LOG_LEVEL=debug
tl_up || bail_out "grow: the helper did not connect: $(tail -3 "$TL_LOG")"
tl_clients_start 4 2
tl_clients_wait
is "$TL_CLIENTS_FAILED" 0 "grow: four clients at once, each on a session of its own, answered"
cmp_ok "$(tl_count 'msg=session_open ')" -ge 4 "grow: the pool opened four sessions or more ($(tl_count 'msg=session_open '))"
tl_stop
is "$TL_RC" 0 "grow: clean exit"
is "$(unjustified "$TL_LOG")" "" "grow: no handshake stall line the rule does not justify"
is "$(grep -E '^[^ ]+ (WARN|ERROR) ' "$TL_LOG")" "" "grow: no WARN or ERROR line"
grep 'msg=stall' "$TL_LOG" | sed 's/^/# /' >&2

# ---------------------------------------------------------------- a wide-area path
# 40 ms each way between the helper and sshd (test/tools/delay_proxy.pl):
# a handshake of several round trips, some 0.5 s, is normal there.
WAN_PORT=$(fx_free_port)
fx_bg "$FX_DIR/delay.log" perl test/tools/delay_proxy.pl "$WAN_PORT" "$FX_SSH_PORT" 40
fx_wait_for 10 "the delaying proxy" fx_port_open "$WAN_PORT" || bail_out "delay_proxy.pl did not start"
printf '[127.0.0.1]:%s %s\n' "$WAN_PORT" "$(cut -d' ' -f1-2 "$FX_SSH_DIR/host_ed25519.pub")" \
	>"$FX_DIR/known_wan"
for i in 1 2; do
	tl_start "wan$i" SSH_PORT="$WAN_PORT" SSH_KNOWN_HOSTS="$FX_DIR/known_wan"
	tl_up || bail_out "wan$i: the helper did not connect: $(tail -3 "$TL_LOG")"
	fx_wait_for 20 "a health check written" app_status_is "test-wan$i" state connected
	like "$(tl_psql -Atc 'SELECT 1')" '^1$' "wan$i: a query through the tunnel over an 80 ms round trip"
	tl_stop
	is "$TL_RC" 0 "wan$i: clean exit"
	is "$(unjustified "$TL_LOG")" "" "wan$i: no handshake stall line the rule does not justify"
	is "$(grep -E '^[^ ]+ (WARN|ERROR) ' "$TL_LOG")" "" "wan$i: no WARN or ERROR line"
	grep 'msg=stall' "$TL_LOG" | sed 's/^/# /' >&2
done

# ---------------------------------------------------------------- a frozen sshd
fx_sshd_freeze
tl_start frozen SSH_CONNECT_TIMEOUT=30000
fx_wait_for 10 "the helper started" tl_has 'msg=starting'
# The fault's length, not a wait for a state: sshd answers nothing for 1.5 s.
sleep 1.5
fx_sshd_thaw
tl_up
ok $? "frozen: connected once sshd answers"
like "$(grep 'msg=stall .*where=handshake' "$TL_LOG")" \
	'^[^ ]+ WARN msg=stall .*where=handshake ms=(1[5-9][0-9][0-9]|[2-9][0-9]{3}|[0-9]{5,}) ' \
	"frozen: the slow handshake is a stall, at WARN, with its 1.5 s or more"
tl_stop
is "$TL_RC" 0 "frozen: clean exit"
tl_sanitizer_clean frozen

done_testing
