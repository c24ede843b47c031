#!/usr/bin/env bash
# Name resolution of SSH_HOST is bounded by SSH_CONNECT_TIMEOUT: with a DNS
# server that never answers (a local UDP socket that reads and stays
# silent, put in /etc/resolv.conf in a private mount namespace), each
# attempt ends at the connect timeout with OpenSSH's "Could not resolve
# hostname", not after the resolver's own minutes.
#
#   prove test/helper/dns_timeout.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"
fx_init dnstimeout
# The file's one facility: a private mount namespace in which a resolv.conf
# of its own can be bound (a container may allow neither).
printf 'nameserver 127.0.0.2\noptions timeout:10 attempts:3\n' >"$FX_DIR/resolv.conf"
why=$(unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf' sh "$FX_DIR/resolv.conf" 2>&1) ||
	skip_all "no private mount namespace with its own /etc/resolv.conf here (unshare -m, mount --bind): $why"
fx_pg_start
fx_sshd_start

# A DNS server that never answers, on 127.0.0.2:53.
fx_bg "$FX_DIR/blackhole.log" perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(Proto => "udp", LocalAddr => "127.0.0.2:53") or die "bind: $!";
	$| = 1; print "ready\n";
	my $buf; while (1) { $s->recv($buf, 4096) }'
fx_wait_for 10 "the silent DNS server" grep -q ready "$FX_DIR/blackhole.log" ||
	bail_out "no silent DNS server on 127.0.0.2:53: $(cat "$FX_DIR/blackhole.log")"

fault_begin
FX_TUNNEL_PORT=$(fx_free_port)
fx_env_file "$FX_DIR/dns.env" TUNNEL_NAME=test-dns SSH_HOST=tunnel-db.chatgenius-test.invalid \
	SSH_CONNECT_TIMEOUT=1500 SSH_MAX_RETRIES=2 SSH_RETRY_DELAY=100
TL_LOG=$FX_DIR/dns.log
t0=$(date +%s%N)
fx_bg "$TL_LOG" unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && exec "$2" --env-file "$3"' \
	sh "$FX_DIR/resolv.conf" "$FX_HELPER" "$FX_DIR/dns.env"
TL_PID=$FX_BG_PID
tl_wait_exit 60
ms=$((($(date +%s%N) - t0) / 1000000))
diag "gave up after ${ms} ms"
is "$TL_RC" 4 "an unanswered lookup: exit 4 after the retries"
cmp_ok "$ms" -lt 12000 "three attempts of 1.5 s each end in time (${ms} ms, the resolver alone would take 30 s per attempt)"
like "$(grep 'event=maxRetriesExceeded' "$TL_LOG")" \
	'Could not resolve hostname tunnel-db\.chatgenius-test\.invalid: timed out \(SSH_CONNECT_TIMEOUT\)' \
	"OpenSSH's words, with the timeout named"
fault_end fault dns-blackhole

done_testing
