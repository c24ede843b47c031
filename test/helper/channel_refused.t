#!/usr/bin/env bash
# The SSH server refuses the forwarded connection, and the helper says
# which address it could not reach, in ssh -L's words.  A wrong
# POSTGRES_REMOTE_PORT ("open failed: connect failed") looks exactly like
# PostgreSQL down: a database fault, reported in the health_check_failed
# event while the tunnel keeps its sessions (no reconnection, no exit 4).
# Forwarding denied by sshd (AllowTcpForwarding no, PermitOpen elsewhere:
# "administratively prohibited") is a dead path: the words are in the log,
# the events and the final maxRetriesExceeded, with bounded retries, not a
# storm.
#
#   prove test/helper/channel_refused.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

tl_begin chanrefused

sshd_conns()
{
	grep -c 'Connection from 127.0.0.1' "$FX_SSH_DIR/sshd.log"
}

# gives_up NAME WORDS: exit 4, WORDS in channel_refused, in a reconnecting
# event and in maxRetriesExceeded; at most 1 + SSH_MAX_RETRIES SSH
# connections (plus the pool's second session).
gives_up()
{
	local name=$1 words=$2 before=$3
	tl_wait_exit 60
	is "$TL_RC" 4 "$name: exit 4 (gave up)"
	like "$(grep 'msg=channel_refused' "$TL_LOG" | head -1)" "$words" "$name: the log says which address could not be reached"
	like "$(grep 'event=reconnecting' "$TL_LOG" | head -1)" "$words" "$name: and so does the reconnecting event"
	like "$(grep 'event=maxRetriesExceeded' "$TL_LOG")" "max retries exceeded.*$words" "$name: and the final maxRetriesExceeded"
	local conns=$(($(sshd_conns) - before))
	cmp_ok "$conns" -le 8 "$name: bounded SSH connections, no retry storm ($conns)"
}

# ---------------------------------------------------------------- wrong remote port
fault_begin
bad_port=$(fx_free_port)
before=$(sshd_conns)
tl_start wrongport POSTGRES_REMOTE_PORT="$bad_port" SSH_MAX_RETRIES=2 SSH_RETRY_DELAY=100 \
	SSH_HEALTH_CHECK_INTERVAL=300 TUNNEL_LOG_LEVEL=debug
words="open failed: connect failed: the SSH server cannot reach 127\\.0\\.0\\.1 port $bad_port \\(POSTGRES_REMOTE_HOST/POSTGRES_REMOTE_PORT\\)"
# Three checks have met the refusal (the event once, then debug lines).
fx_wait_for 30 "three checks refused" \
	bash -c "[ \$(grep -c 'health_check_failed.*cause=database' '$TL_LOG') -ge 3 ]"
like "$(grep 'event=health_check_failed' "$TL_LOG" | head -1)" "cause=database.*$words" \
	"wrong POSTGRES_REMOTE_PORT: the health_check_failed event says which address could not be reached"
like "$(grep 'msg=channel_refused' "$TL_LOG" | head -1)" "$words" "wrong POSTGRES_REMOTE_PORT: and so does the log"
is "$(tl_count 'event=health_check_failed')" 1 "wrong POSTGRES_REMOTE_PORT: one event for the fault, not one per check"
is "$(tl_count 'event=(reconnecting|disconnected|maxRetriesExceeded)')" 0 \
	"wrong POSTGRES_REMOTE_PORT: a database fault: no reconnection"
kill -0 "$TL_PID" 2>/dev/null
ok $? "wrong POSTGRES_REMOTE_PORT: the helper keeps running (no exit 4)"
conns=$(($(sshd_conns) - before))
cmp_ok "$conns" -le 2 "wrong POSTGRES_REMOTE_PORT: no new SSH connections per check ($conns)"
tl_stop
is "$TL_RC" 0 "wrong POSTGRES_REMOTE_PORT: a clean stop"
fault_end refused-input wrong-remote-port

# ---------------------------------------------------------------- forwarding denied
fault_begin
fx_sshd_stop
# The fixture's own "AllowTcpForwarding yes" comes first; a Match block overrides it.
fx_sshd_start 'Match all' 'AllowTcpForwarding no'
before=$(sshd_conns)
tl_start nofwd SSH_MAX_RETRIES=2 SSH_RETRY_DELAY=100
gives_up "AllowTcpForwarding no" \
	"open failed: administratively prohibited: the SSH server refuses to forward to 127\\.0\\.0\\.1 port $FX_PG_PORT \\(AllowTcpForwarding/PermitOpen\\)" "$before"
fault_end fault forwarding-denied

fault_begin
fx_sshd_stop
fx_sshd_start "PermitOpen 127.0.0.1:1"
before=$(sshd_conns)
tl_start permitopen SSH_MAX_RETRIES=2 SSH_RETRY_DELAY=100
gives_up "PermitOpen elsewhere" \
	"open failed: administratively prohibited: the SSH server refuses to forward to 127\\.0\\.0\\.1 port $FX_PG_PORT \\(AllowTcpForwarding/PermitOpen\\)" "$before"
fault_end fault permitopen-elsewhere

done_testing
