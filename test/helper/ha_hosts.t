#!/usr/bin/env bash
# POSTGRES_REMOTE_HOST as a list, without Patroni (SQL probes), when the SSH
# server cannot reach one of the hosts (nothing listens there: sshd's
# "connect failed"): the reachable primary carries every client, the other
# host is reported once as standby_down, nothing closes, and the standby
# port falls back to the primary.  And the list's syntax: host:port items,
# a bad port or an empty item refused with exit 2 naming the variable.
# On a helper that takes one host only, the list is one unknown host name.
#
#   prove test/helper/ha_hosts.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

tl_begin hahosts
DEAD_PORT=$(fx_free_port)
STANDBY_PORT=$(fx_free_port)

# ---------------------------------------------------------------- one host unreachable
tl_section
tl_start unreach "POSTGRES_REMOTE_HOST=127.0.0.1:$FX_PG_PORT,127.0.0.1:$DEAD_PORT" \
	SSH_HEALTH_CHECK_INTERVAL=500 TUNNEL_STANDBY_PORT="$STANDBY_PORT" SSH_MAX_RETRIES=1
tl_up
ok $? "unreach: the tunnel comes up"
fx_wait_for 10 "standby_down" tl_has "event=standby_down .*host=127.0.0.1:$DEAD_PORT"
ok $? "unreach: the host the SSH server cannot reach is reported as standby_down"
like "$(grep -m1 'event=standby_down' "$TL_LOG")" 'cannot reach 127.0.0.1 port' \
	"unreach: with the SSH server's words"
ok=0
for i in $(seq 1 20); do
	[ "$(tl_psql -Atc 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && ok=$((ok + 1))
done
is "$ok" 20 "unreach: 20 of 20 clients served by the reachable primary"
is "$(PGPASSWORD=$FX_APP_PASSWORD PGCONNECT_TIMEOUT=20 psql -qXAt -h 127.0.0.1 -p "$STANDBY_PORT" \
	-U "$FX_APP_USER" -d "$FX_APP_DB" -c 'SELECT pg_is_in_recovery()' 2>&1)" f \
	"unreach: the standby port falls back to the primary"
sleep 2
is "$(tl_count 'event=standby_down ')" 1 "unreach: standby_down once, not once per probe"
is "$(tl_count 'event=(disconnected|reconnecting|health_check_failed|primary_changed) |msg=session_closed')" 0 \
	"unreach: no session closed, no reconnection, no primary change"
diag "reliability: unreachable_host clients_served=$ok of 20"
tl_stop
is "$TL_RC" 0 "unreach: exit 0 on SIGTERM"
tl_sanitizer_clean unreach
tl_fault host_unreachable

# ---------------------------------------------------------------- the list's syntax
tl_section
for bad in "127.0.0.1:0" "127.0.0.1:99999" "a,,b" "127.0.0.1:x" "[::1"; do
	fx_env_file "$FX_DIR/bad.env" "POSTGRES_REMOTE_HOST=$bad"
	out=$("$FX_HELPER" --env-file "$FX_DIR/bad.env" 2>&1)
	rc=$?
	is "$rc" 2 "POSTGRES_REMOTE_HOST=$bad: exit 2"
	like "$out" "POSTGRES_REMOTE_HOST" "POSTGRES_REMOTE_HOST=$bad: the message names the variable"
done
tl_input remote_host_list
done_testing
