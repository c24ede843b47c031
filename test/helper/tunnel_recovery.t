#!/usr/bin/env bash
# chatgenius-tunnel's recovery against a real sshd and PostgreSQL: sshd killed
# and restarted on the same port, sshd frozen with SIGSTOP (keepalive
# detection), and giving up after SSH_MAX_RETRIES (exit 4).
#
#   prove test/helper/tunnel_recovery.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

tl_begin recovery

# ------------------------------------------------------------- sshd killed, restarted
tl_start restart SSH_MAX_RETRIES=8 SSH_RETRY_DELAY=200 SSH_HEALTH_CHECK_INTERVAL=500 \
	SSH_CONNECT_TIMEOUT=2000
tl_up
is "$(tl_psql -Atc 'SELECT 1')" 1 "query before the crash"
pid_before=$TL_PID
fx_sshd_stop
fx_wait_for 20 "disconnected event" tl_has 'event=disconnected'
ok $? "sshd killed: disconnected event"
fx_wait_for 20 "reconnecting event" tl_has 'event=reconnecting'
ok $? "reconnecting event while sshd is down"
like "$(grep 'event=reconnecting' "$TL_LOG" | head -1)" 'attempt=1 .*delay_ms=[0-9]+' "reconnecting says attempt and delay"
fx_port_open "$FX_TUNNEL_PORT"
ok $? "the listener stays open while sshd is down"
fx_sshd_start
fx_wait_for 30 "reconnected event" tl_has 'event=reconnected'
ok $? "sshd back on the same port: reconnected event"
is "$(tl_psql -Atc 'SELECT 2')" 2 "queries work again"
is "$TL_PID" "$pid_before" "the same helper process recovered"
kill -0 "$TL_PID"
ok $? "and it is still running"
is "$(tl_stats_field reconnects)" 1 "reconnects=1 in the pool figures"
tl_stop
is "$TL_RC" 0 "exit 0 after SIGTERM"
tl_sanitizer_clean restart

# ------------------------------------------------------------- sshd frozen
tl_start frozen SSH_MAX_RETRIES=10 SSH_RETRY_DELAY=300 SSH_HEALTH_CHECK_INTERVAL=600000 \
	SSH_KEEPALIVE_INTERVAL=500 SSH_KEEPALIVE_COUNT_MAX=2 SSH_CONNECT_TIMEOUT=1000
tl_up
is "$(tl_psql -Atc 'SELECT 3')" 3 "query before the freeze"
# An idle session: only keepalives can tell that the server froze.
t0=$(date +%s%N)
fx_sshd_freeze
fx_wait_for 15 "frozen server detected" tl_has 'event=disconnected'
ok $? "frozen sshd detected (disconnected event)"
took=$((($(date +%s%N) - t0) / 1000000))
cmp_ok "$took" -lt 4000 "within the keepalive bounds (2 x 500 ms, took $took ms)"
like "$(grep 'event=disconnected' "$TL_LOG" | head -1)" 'not responding' "OpenSSH-like 'not responding' reason"
fx_wait_for 15 "a failed attempt while frozen" tl_has 'event=reconnecting .*attempt=2'
ok $? "attempts fail while frozen (handshake timeout)"
fx_sshd_thaw
fx_wait_for 40 "reconnected after thaw" tl_has 'event=reconnected'
ok $? "reconnected after thaw"
is "$(tl_psql -Atc 'SELECT 4')" 4 "queries work after thaw"
tl_stop
is "$TL_RC" 0 "exit 0"
tl_sanitizer_clean frozen

# ------------------------------------------------------------- gives up: exit 4
tl_start giveup SSH_MAX_RETRIES=2 SSH_RETRY_DELAY=100 SSH_HEALTH_CHECK_INTERVAL=300 \
	SSH_CONNECT_TIMEOUT=1000
tl_up
fx_sshd_stop
tl_wait_exit 30
is "$TL_RC" 4 "sshd gone for good: exit 4"
tl_has 'event=maxRetriesExceeded'
ok $? "maxRetriesExceeded event"
like "$(grep 'event=maxRetriesExceeded' "$TL_LOG")" 'max retries exceeded' "the words 'max retries exceeded'"
like "$(grep 'event=maxRetriesExceeded' "$TL_LOG")" 'Connection refused' "with the last error: Connection refused"
is "$(tl_count 'event=reconnecting')" 2 "exactly SSH_MAX_RETRIES=2 attempts"
tl_sanitizer_clean giveup

# The first connection follows the same policy.
tl_start nostart SSH_MAX_RETRIES=1 SSH_RETRY_DELAY=100 SSH_CONNECT_TIMEOUT=1000
tl_wait_exit 30
is "$TL_RC" 4 "no sshd at start: exit 4 after the retries"
like "$(cat "$TL_LOG")" 'connect to host 127\.0\.0\.1 port [0-9]+: Connection refused' "OpenSSH's 'Connection refused' wording"
tl_sanitizer_clean nostart

done_testing
