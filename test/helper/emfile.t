#!/usr/bin/env bash
# Out of file descriptors (RLIMIT_NOFILE reached): the listener pauses
# accepting, as PgBouncer does, instead of spinning on accept(2) and logging
# each pass; the clients wait in the backlog and are served once
# descriptors are free again.
#
#   prove test/helper/emfile.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

command -v prlimit >/dev/null || bail_out "prlimit (util-linux) is needed"
tl_begin emfile

# cpu_ticks PID: user + system clock ticks the process used so far.
cpu_ticks()
{
	awk '{print $14 + $15}' "/proc/$1/stat"
}

fault_begin
# The health check is left out (it needs a descriptor too): this is about
# the accept loop alone.
tl_start emfile SSH_HEALTH_CHECK_INTERVAL=600000
tl_up
ok $? "tunnel up"
is "$(tl_psql -Atc 'SELECT 1')" 1 "a client is served"

nfd=$(find "/proc/$TL_PID/fd" -mindepth 1 | wc -l)
soft=$(prlimit --pid "$TL_PID" --nofile --noheadings --output SOFT)
# Only the soft limit moves: raising a hard limit back needs
# CAP_SYS_RESOURCE, which a container's root may lack (and then the
# helper would stay at EMFILE for the rest of the test).
prlimit --pid "$TL_PID" --nofile="$nfd:"
ok $? "RLIMIT_NOFILE lowered to the $nfd descriptors in use (soft limit; it was $soft)"

# 20 clients connect and wait (the kernel completes their handshake in the
# listen backlog).
fx_bg "$FX_DIR/clients.log" perl -MIO::Socket::INET -e '
	my @s;
	for (1 .. 20) { push @s, IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]") or die "connect: $!" }
	sleep 8;' "$FX_TUNNEL_PORT"
clients=$FX_BG_PID
fx_wait_for 10 "the first accept failure" tl_has 'msg=accept_paused|msg=accept_failed'
ok $? "accept(2) failed with EMFILE"
t0=$(cpu_ticks "$TL_PID")
l0=$(tl_count 'msg=accept_paused|msg=accept_failed')
sleep 3 # measuring a rate over a fixed window: nothing to poll for
t1=$(cpu_ticks "$TL_PID")
l1=$(tl_count 'msg=accept_paused|msg=accept_failed')
ticks=$((t1 - t0))
lines=$((l1 - l0))
diag "over 3 s at EMFILE: $ticks CPU ticks, $lines more accept log lines"
cmp_ok "$ticks" -le 30 "the helper does not spin (CPU ticks in 3 s: $ticks of 300)"
# One line per episode; an episode can end early when the pool's own
# attempts free a descriptor for a moment, but each pause lasts 1 s.
cmp_ok "$lines" -le 4 "no log line per pass: at most one a second ($lines more lines in 3 s)"
like "$(grep -m1 'msg=accept_paused' "$TL_LOG")" 'error="Too many open files" pause_ms=1000' \
	"the accept_paused line says why and for how long"
kill -0 "$TL_PID" 2>/dev/null
ok $? "the helper is still running"

prlimit --pid "$TL_PID" --nofile="$soft:"
ok $? "RLIMIT_NOFILE raised back to $soft"
fx_wait_for 10 "accepting again" tl_has 'msg=accept_resumed'
ok $? "accepting resumes once descriptors are free (accept_resumed)"
is "$(tl_psql -Atc 'SELECT 2')" 2 "and a new client is served"
kill "$clients" 2>/dev/null
wait "$clients" 2>/dev/null
tl_stop
is "$TL_RC" 0 "stops cleanly"
tl_sanitizer_clean emfile
fault_end fault emfile

done_testing
