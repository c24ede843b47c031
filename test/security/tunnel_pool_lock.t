#!/usr/bin/env bash
# Local clients that never log in must not lock the tunnel's pool (issue 14,
# hole 4).  A channel lives as long as its server side does: when PostgreSQL
# closes it, the helper frees the channel and closes the client's socket.
#  - idle_sockets: 160 sockets that send nothing, in waves, against the
#    pool of 10 sessions x 8 channels, 64 waiting, with the server's
#    authentication_timeout at 5 s: the server ends every one, the helper
#    frees their channels and closes the sockets, and psql gets in;
#  - zero_stream: a client streaming zeros is refused by PostgreSQL at once;
#    it gets EPIPE (or a reset) within seconds, not a socket that takes
#    megabytes and then blocks, and its channel is freed;
#  - terminated_copy: pg_terminate_backend of a \copy of 80 MB frees the
#    channel within seconds, and psql ends with an error.
#
#   prove test/security/tunnel_pool_lock.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin poollock
app_install_extension
HOSTILE=test/tools/tunnel_hostile_clients.pl

# active_at_most N: the pool counts at most N channels busy (cl_active).
active_at_most()
{
	local a
	a=$(tl_stats_field cl_active) || return 1
	[ -n "$a" ] && [ "$a" -le "$1" ]
}

# ---------------------------------------------------------------- idle sockets in waves
tl_section
fx_psql -c "ALTER SYSTEM SET authentication_timeout = '5s'" -c "SELECT pg_reload_conf()" >/dev/null
# 8 channels a session, as the default was when this was reported: 80
# channels and 64 waiting, fewer than the 160 sockets, so they meet a full
# pool (with the default 32 it would take 400).
tl_start idle SSH_CHANNELS_PER_SESSION=8
tl_up
ok $? "idle: connected (10 sessions x 8 channels, 64 may wait)"
t0=$(date +%s%N)
perl "$HOSTILE" idle "$FX_TUNNEL_PORT" 160 4 500 30 >"$FX_DIR/idle.out" 2>"$FX_DIR/idle.progress" &
holder=$!
fx_wait_for 30 "160 idle sockets open" grep -q '^opened=160' "$FX_DIR/idle.progress"
ok $? "idle: 160 sockets that send nothing are open, in 4 waves"
# authentication_timeout ends each server side after 5 s; the 64 that waited
# get their channels as the first ones are freed, and time out 5 s later.
fx_wait_for 45 "the holder's report" test -s "$FX_DIR/idle.out"
out=$(cat "$FX_DIR/idle.out")
diag "idle: $out"
like "$out" '^opened=160 eof=160 .* reset=160$' \
	"idle: the tunnel closed every idle socket fully (EOF, and a write is reset)"
fx_wait_for 10 "the channels freed" active_at_most 1
ok $? "idle: the pool no longer counts their channels busy, the sockets still held (cl_active $(tl_stats_field cl_active))"
tl_get_in
got=$TL_GOT ms=$TL_MS
is "$got" in "idle: psql gets in after the waves"
cmp_ok "$ms" -lt 2000 "idle: at once ($ms ms), not after TUNNEL_CLIENT_WAIT"
total_ms=$((($(date +%s%N) - t0) / 1000000))
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null
is "$(tl_count 'event=(disconnected|reconnecting|health_check_failed) ')" 0 \
	"idle: no session was lost on the way"
diag "reliability: idle_sockets=160 pool_free_after_ms=$total_ms"
tl_stop
is "$TL_RC" 0 "idle: exit 0"
tl_sanitizer_clean idle
tl_attack idle_sockets_lock_pool
fx_psql -c "ALTER SYSTEM RESET authentication_timeout" -c "SELECT pg_reload_conf()" >/dev/null

# ---------------------------------------------------------------- a client streaming zeros
tl_section
tl_start zeros
tl_up
ok $? "zeros: connected"
out=$(perl "$HOSTILE" zeros "$FX_TUNNEL_PORT" 20)
diag "zeros: $out"
like "$out" '^result=(EPIPE|ECONNRESET) ' "zeros: the sender gets EPIPE or a reset, as from OpenSSH's forwarding"
ms=$(sed -n 's/.* ms=\([0-9]*\).*/\1/p' <<<"$out")
cmp_ok "${ms:-99999}" -lt 5000 "zeros: within seconds ($ms ms)"
fx_wait_for 10 "the channel freed" active_at_most 0
ok $? "zeros: its channel is freed"
is "$(tl_psql -Atc "SELECT 'in'" 2>&1)" in "zeros: psql still gets in"
tl_stop
is "$TL_RC" 0 "zeros: exit 0"
tl_sanitizer_clean zeros
tl_attack zero_stream_holds_channel

# ---------------------------------------------------------------- pg_terminate_backend of a \copy
tl_section
tl_start copy SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=2
tl_up
ok $? "copy: connected"
# 80 MB in 8 KB rows, taken slowly by the server (1 ms a row), so that the
# copy is under way, with every buffer on the way full, when it is ended.
perl -e 'my $l = ("x" x 8191) . "\n"; print $l for 1 .. 10240' >"$FX_DIR/80mb.txt"
fx_psql -d "$FX_APP_DB" >/dev/null <<-EOF
	CREATE TABLE public.sink (line text);
	CREATE FUNCTION public.sink_slow() RETURNS trigger LANGUAGE plpgsql
		AS \$\$BEGIN PERFORM pg_sleep(0.001); RETURN NEW; END\$\$;
	CREATE TRIGGER sink_slow BEFORE INSERT ON public.sink FOR EACH ROW EXECUTE FUNCTION public.sink_slow();
	GRANT INSERT ON public.sink TO "$FX_APP_USER";
EOF
tl_psql -c "\\copy public.sink FROM '$FX_DIR/80mb.txt'" >"$FX_DIR/copy.out" 2>&1 &
copier=$!
fx_wait_for 20 "the copy under way" tl_backends_are 'COPY%' 1
ok $? "copy: the \\copy of 80 MB is under way"
# Let it fill the buffers on the way (the server takes a row per ms).
copy_moved()
{
	[ "$(tl_stats_field bytes_out)" -gt 4000000 ]
}
fx_wait_for 20 "the copy has moved a few MB" copy_moved
killed=$(fx_psql -d postgres -Atc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	WHERE usename = '$FX_APP_USER' AND query LIKE 'COPY%'")
is "$killed" 1 "copy: pg_terminate_backend ended the copy's backend"
s=$(date +%s%N)
fx_wait_for 10 "the copy's channel freed" active_at_most 0
ok $? "copy: its channel is freed"
ms=$((($(date +%s%N) - s) / 1000000))
cmp_ok "$ms" -lt 5000 "copy: promptly ($ms ms)"
fx_wait_exit "$copier" 20
ok "$([ "$FX_RC" != timeout ] && [ "$FX_RC" != 0 ]; echo $?)" \
	"copy: psql ends with an error (exit $FX_RC: $(tail -1 "$FX_DIR/copy.out"))"
[ "$FX_RC" = timeout ] && kill "$copier" 2>/dev/null
diag "reliability: terminated_copy_channel_freed_ms=$ms"
tl_stop
is "$TL_RC" 0 "copy: exit 0"
tl_sanitizer_clean copy
tl_attack terminated_copy_holds_channel

done_testing
