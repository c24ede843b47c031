#!/usr/bin/env bash
# Pool faults against a real sshd and PostgreSQL on loopback:
# - sshd MaxStartups throttling a burst of pool connects: the throttled
#   handshakes fail, the clients wait, and all are served once sshd takes
#   connections again; the helper stays up;
# - a client that reads slowly: the helper's RSS stays bounded while the
#   server sends far more than the client reads;
# - 1,000 connect/disconnect cycles: open file descriptors and RSS are flat
#   afterwards.
# The health check runs every second, as production runs it beside the pool.
#
#   prove test/helper/pool_faults.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

tl_begin poolfaults

rss_kb()
{
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}

fd_count()
{
	find "/proc/$1/fd" -mindepth 1 2>/dev/null | wc -l
}

# fd_floor PID: the fewest descriptors PID held over 1.5 s, sampled every
# 50 ms.  The health check (every second here) holds two for a moment, a
# libpq socket and the channel's; one sample may catch them, the floor not.
fd_floor()
{
	local i n min=
	for i in $(seq 30); do
		n=$(fd_count "$1")
		if [ -z "$min" ] || [ "$n" -lt "$min" ]; then
			min=$n
		fi
		sleep 0.05
	done
	echo "$min"
}

# ---------------------------------------------------------------- MaxStartups
fault_begin
# The fixture's sshd takes a burst; this one, on its own port, takes 2
# unauthenticated connections at a time and drops the rest.
fx_sshd_stop
fx_sshd_config "$FX_SSH_DIR/sshd_maxstartups"
sed -i 's/^MaxStartups .*/MaxStartups 2:100:2/; s/^LogLevel .*/LogLevel VERBOSE/' "$FX_SSH_DIR/sshd_maxstartups"
fx_bg "$FX_SSH_DIR/sshd.log" "$FX_SSHD" -D -e -f "$FX_SSH_DIR/sshd_maxstartups"
FX_SSHD_PID=$FX_BG_PID
fx_wait_for 20 "sshd (MaxStartups 2)" fx_port_open "$FX_SSH_PORT"
tl_start maxstartups SSH_POOL_SIZE=6 SSH_CHANNELS_PER_SESSION=1 TUNNEL_CLIENT_WAIT=30000 \
	SSH_HEALTH_CHECK_INTERVAL=1000 SSH_RETRY_DELAY=200
tl_up
ok $? "MaxStartups: tunnel up"
# Two connections that never speak hold sshd's two startup slots.
fx_bg "$FX_DIR/holders.log" perl -MIO::Socket::INET -e '
	my @s = map { IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or die "connect: $!" } 1 .. 2;
	$| = 1; print "holding\n"; sleep 4;' "$FX_SSH_PORT"
holders=$FX_BG_PID
fx_wait_for 10 "startup slots held" grep -q holding "$FX_DIR/holders.log"
tl_clients_start 5 1
fx_wait_for 20 "a throttled handshake" tl_has 'msg=session_failed'
ok $? "MaxStartups: sshd drops the burst's handshakes (session_failed logged)"
wait "$holders" 2>/dev/null
tl_clients_wait
is "$TL_CLIENTS_FAILED" 0 "MaxStartups: every client of the burst is served once sshd takes connections again"
drops=$(grep -c 'past MaxStartups' "$FX_SSH_DIR/sshd.log")
diag "sshd dropped $drops connections past MaxStartups"
cmp_ok "$drops" -ge 1 "MaxStartups: sshd did throttle ($drops drops)"
kill -0 "$TL_PID" 2>/dev/null
ok $? "MaxStartups: the helper is still running"
is "$(tl_psql -Atc 'SELECT 5')" 5 "MaxStartups: and serves new clients"
tl_stop
is "$TL_RC" 0 "MaxStartups: clean stop"
fault_end fault sshd-maxstartups
kill "$FX_SSHD_PID" 2>/dev/null
wait "$FX_SSHD_PID" 2>/dev/null
FX_SSHD_PID=
fx_wait_for 10 "sshd port closed" fx_port_closed "$FX_SSH_PORT"
fx_sshd_start

# ---------------------------------------------------------------- slow reader
fault_begin
tl_start slowreader SSH_HEALTH_CHECK_INTERVAL=1000
tl_up
ok $? "slow reader: tunnel up"
rss0=$(rss_kb "$TL_PID")
# 400 MB offered by the server; the client reads 64 kB every 50 ms.
fx_bg "$FX_DIR/slow.log" bash -c 'PGCONNECT_TIMEOUT=20 PGPASSWORD="$1" psql -X -h 127.0.0.1 -p "$2" -U "$3" -d "$4" \
	-c "COPY (SELECT repeat('"'"'x'"'"', 1000) FROM generate_series(1, 400000)) TO STDOUT" |
	perl -e '"'"'my $b; my $n = 0; while (my $r = sysread(STDIN, $b, 65536)) { $n += $r; select(undef, undef, undef, 0.05) }'"'"'' \
	sh "$FX_APP_PASSWORD" "$FX_TUNNEL_PORT" "$FX_APP_USER" "$FX_APP_DB"
slow=$FX_BG_PID
max=0
for _ in $(seq 1 12); do
	sleep 0.5 # sampling RSS over time: there is no state to wait for
	r=$(rss_kb "$TL_PID")
	[ "$r" -gt "$max" ] && max=$r
done
growth=$(((max - rss0) / 1024))
diag "slow reader: helper RSS $((rss0 / 1024)) MB at start, at most $((max / 1024)) MB over 6 s"
kill -0 "$slow" 2>/dev/null
ok $? "slow reader: the client is still reading (the server is far ahead of it)"
cmp_ok "$growth" -le 16 "slow reader: the helper's RSS grew by at most 16 MB (${growth} MB)"
pkill -P "$slow" 2>/dev/null
kill "$slow" 2>/dev/null
wait "$slow" 2>/dev/null
is "$(tl_psql -Atc 'SELECT 6')" 6 "slow reader: other clients are served"
tl_stop
is "$TL_RC" 0 "slow reader: clean stop"
fault_end fault slow-reader

# ---------------------------------------------------------------- 1,000 cycles
fault_begin
tl_start cycles SSH_HEALTH_CHECK_INTERVAL=1000 SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=4
tl_up
ok $? "cycles: tunnel up"
# One session (SSH_POOL_SIZE=1), so that the descriptor count does not
# follow the pool's size.  cycle N: N connections through the tunnel, each one an SSLRequest
# answered by PostgreSQL ("N"), then closed.
cycle()
{
	perl -MIO::Socket::INET -e '
		for (1 .. $ARGV[1]) {
			my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or die "connect: $!";
			print $s pack("NN", 8, 80877103);
			my $b; defined(sysread($s, $b, 1)) && $b eq "N" or die "cycle $_: no answer\n";
			close $s;
		}' "$FX_TUNNEL_PORT" "$1"
}
cycle 100
ok $? "cycles: 100 warm-up cycles"
fx_wait_for 10 "warm-up channels closed" tl_stats_is cl_active 0
ok $? "cycles: every warm-up channel closed"
fd0=$(fd_floor "$TL_PID")
rss0=$(rss_kb "$TL_PID")
t0=$(date +%s%N)
cycle 1000
ok $? "cycles: 1,000 connect/disconnect cycles, each answered"
ms=$((($(date +%s%N) - t0) / 1000000))
fx_wait_for 10 "channels closed" tl_stats_is cl_active 0
ok $? "cycles: every channel closed"
fx_wait_output 15 "descriptors back" "$fd0" fd_floor "$TL_PID"
fd1=$(fd_floor "$TL_PID")
rss1=$(rss_kb "$TL_PID")
diag "1,000 cycles in $ms ms: fds $fd0 -> $fd1, RSS $rss0 -> $rss1 kB"
is "$fd1" "$fd0" "cycles: open file descriptors are flat ($fd0 -> $fd1)"
cmp_ok "$((rss1 - rss0))" -le 2048 "cycles: RSS is flat (grew $((rss1 - rss0)) kB)"
tl_stop
is "$TL_RC" 0 "cycles: clean stop"
tl_sanitizer_clean cycles
fault_end fault connect-cycles

done_testing
