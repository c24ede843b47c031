#!/usr/bin/env bash
# TUNNEL_LOGIN_TIMEOUT ends only when the server's own bytes say that a
# client is past its start-up, never on the client's word.  A pool of 4
# channels, a 2 s login timeout, the server's authentication_timeout at its
# default (60 s) and ssl = on with a self-signed certificate.  User nobody,
# from its own folder, fills the 4 channels with one kind of encrypted
# start-up that never ends, and root's psql, behind them, must get in once
# the login timeout has passed.  The kinds:
#   tls_byte    one byte 0x16, taken for PostgreSQL 17's direct TLS;
#   gssenc      a GSSENCRequest (PostgreSQL built with GSSAPI answers 'G'
#               whatever pg_hba.conf says), then silence;
#   sslrequest  an SSLRequest answered 'S', then silence;
#   hello       a real TLS client stalled after its ClientHello;
#   finished    a real TLS client stalled before its Finished, after every
#               other record of the handshake (a HelloRetryRequest's
#               second ClientHello too);
#   complete    a real TLS client that completes the handshake and then
#               sends nothing (PostgreSQL sends no session ticket: the
#               server has not spoken past the handshake).
# Each prints how long the sockets were held and how long root's psql
# waited.  Then the clients that must never be cut: psql with
# sslmode=require and with sslmode=disable, each staying longer than the
# login timeout.  Last, what lies beyond the helper's sight: a client that
# completes the TLS handshake, sends its StartupMessage inside it and then
# stalls in the authentication is the server's to time
# (authentication_timeout, lowered to 5 s for that check).
#
# The attacker waits up to LOGIN_ATTACK_HOLD seconds (15) for the tunnel to
# close its sockets; 70 measures how long a build that lets them through
# holds them (the server's 60 s).
#
#   prove test/security/tunnel_login_encrypted.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh
. test/lib/attack.sh

fx_need openssl
tl_begin loginenc
app_install_extension

# TLS on the server: a throwaway self-signed certificate.
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 2 \
	-keyout "$FX_PG_DIR/data/server.key" -out "$FX_PG_DIR/data/server.crt" >/dev/null 2>&1 ||
	bail_out "setup error: openssl could not make a certificate"
chown postgres: "$FX_PG_DIR/data/server.key" "$FX_PG_DIR/data/server.crt"
chmod 600 "$FX_PG_DIR/data/server.key"
fx_psql -c "ALTER SYSTEM SET ssl = on" -c "SELECT pg_reload_conf()" >/dev/null
fx_wait_output 10 "ssl on" on fx_psql -Atc "SHOW ssl" || bail_out "setup error: ssl did not come on"
is "$(fx_psql -Atc 'SHOW authentication_timeout')" 1min "the server's authentication_timeout is its default"

fx_copy_for nobody test/tools/tunnel_encrypted_clients.pl >/dev/null || bail_out "setup error: no folder for the attacker"
ATTACKER_DIR=$(fx_user_dir nobody)
tl_start enc SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=4 TUNNEL_CLIENT_WAIT=10000 \
	SSH_HEALTH_CHECK_INTERVAL=1000 TUNNEL_LOGIN_TIMEOUT=2000
tl_up || bail_out "setup error: the helper did not connect"

busy()
{
	[ "$(tl_stats_field cl_active)" -ge 4 ]
}

# encrypted_attack KIND WANT_ANSWERS: the attack of one kind (see the header).
HOLD=${LOGIN_ATTACK_HOLD:-15}
encrypted_attack()
{
	local kind=$1 want=$2 out=$FX_DIR/$1.out progress=$FX_DIR/$1.progress pid ms got before
	tl_section
	before=$(tl_count 'msg=login_timeout ')
	fx_as nobody perl ./tunnel_encrypted_clients.pl "$kind" "$FX_TUNNEL_PORT" 4 "$HOLD" \
		>"$out" 2>"$progress" &
	pid=$!
	if ! fx_wait_for 20 "the $kind clients in" grep -q '^opened=4 ' "$progress"; then
		kill "$pid" 2>/dev/null
		bail_out "setup error: the $kind attacker did not start: $(tail -3 "$progress")"
	fi
	[ "$(sed -n 's/^opened=4 answers=//p' "$progress")" = "$want" ] ||
		bail_out "setup error: $kind: the server answered '$(sed -n 's/^opened=4 answers=//p' "$progress")', not '$want': the attack cannot be tried"
	fx_wait_for 10 "four channels busy" busy
	ok $? "$kind: user nobody's four clients hold every channel"
	tl_get_in
	got=$TL_GOT ms=$TL_MS
	is "$got" in "$kind: root's psql, behind them, gets in"
	cmp_ok "$ms" -lt 4000 "$kind: within TUNNEL_LOGIN_TIMEOUT and a margin ($ms ms)"
	fx_wait_for $((HOLD + 10)) "the $kind report" grep -q closed_by_peer "$out"
	wait "$pid"
	diag "$kind: $(cat "$out")"
	like "$(cat "$out")" '^opened=4 closed_by_peer=4 ' "$kind: the tunnel closed all four"
	cmp_ok "$(sed -n 's/.* max_held_ms=\([0-9]*\).*/\1/p' "$out")" -lt 5000 \
		"$kind: none was held past the login timeout and a margin"
	cmp_ok "$(($(tl_count 'msg=login_timeout ') - before))" -ge 4 "$kind: each is logged as login_timeout"
	diag "reliability: login_encrypted kind=$kind held_ms_max=$(sed -n 's/.* max_held_ms=\([0-9]*\).*/\1/p' "$out") psql_ms=$ms psql=$([ "$got" = in ] && echo in || echo refused)"
	tl_attack "encrypted_startup_${kind}_keeps_client_out"
}

encrypted_attack tls_byte ----
encrypted_attack gssenc GGGG
encrypted_attack sslrequest SSSS
encrypted_attack hello SSSS
encrypted_attack finished SSSS
encrypted_attack complete SSSS

# ---------------------------------------------------------------- legitimate clients
tl_section
before=$(tl_count 'msg=login_timeout ')
got=$(PGSSLMODE=require PGCONNECT_TIMEOUT=20 fx_app_psql -Atc \
	"SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" -c "SELECT pg_sleep(3)" -c "SELECT 'still'" 2>&1)
is "$got" "t

still" "psql with sslmode=require gets in over TLS and is not cut after the login timeout"
got=$(PGSSLMODE=disable PGCONNECT_TIMEOUT=20 fx_app_psql -Atc \
	"SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()" -c "SELECT pg_sleep(3)" -c "SELECT 'still'" 2>&1)
is "$got" "f

still" "psql with sslmode=disable gets in and is not cut after the login timeout"
is "$(($(tl_count 'msg=login_timeout ') - before))" 0 "neither is logged as login_timeout"
tl_fault login_timeout_spares_clients

# ---------------------------------------------------------------- past the handshake
# Once the server answers inside TLS (here its authentication request),
# the helper sees nothing more: the server's authentication_timeout ends
# a client that stalls there.
tl_section
fx_psql -c "ALTER SYSTEM SET authentication_timeout = '5s'" -c "SELECT pg_reload_conf()" >/dev/null
fx_wait_output 10 "authentication_timeout 5s" 5s fx_psql -Atc "SHOW authentication_timeout"
before=$(tl_count 'msg=login_timeout ')
fx_as nobody perl ./tunnel_encrypted_clients.pl startup "$FX_TUNNEL_PORT" 1 20 \
	>"$FX_DIR/startup.out" 2>"$FX_DIR/startup.progress"
diag "startup: $(cat "$FX_DIR/startup.out")"
like "$(cat "$FX_DIR/startup.out")" '^opened=1 closed_by_peer=1 ' "a client stalled in its authentication inside TLS is closed"
held=$(sed -n 's/.* max_held_ms=\([0-9]*\).*/\1/p' "$FX_DIR/startup.out")
cmp_ok "${held:-0}" -ge 4500 "by the server's authentication_timeout (${held} ms), not by the tunnel's login timeout"
is "$(($(tl_count 'msg=login_timeout ') - before))" 0 "and it is not logged as login_timeout"
diag "reliability: login_encrypted kind=stalled_in_authentication held_ms=$held authentication_timeout_ms=5000"
tl_fault tls_authentication_is_the_servers

tl_stop
is "$TL_RC" 0 "exit 0"
tl_sanitizer_clean enc
done_testing
