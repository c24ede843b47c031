#!/usr/bin/env bash
# TUNNEL_LOGIN_TIMEOUT, and a channel that lives as long as its server side:
#  - the setting: --help lists it, a value out of range exits 2, SIGHUP
#    takes a new one over;
#  - a client that has logged in is never cut by the login timeout (a
#    query that outlasts it gets its answer), plain or with TLS inside the
#    channel (sslmode=require: the startup counts as complete once the
#    server spoke past the TLS handshake, see helper/login_watch.h);
#  - a socket that idles after its SSLRequest was accepted ('S') is the
#    helper's to time: the server's 'S' alone says nothing of a login, so
#    it is closed at the 1.5 s login timeout, not at the server's
#    authentication_timeout (3 s here); test/security/tunnel_login_encrypted.t
#    has the other encrypted start-ups;
#  - a client that quits (psql's Terminate) or whose backend ends frees its
#    channel at once; the pool counts no channel busy afterwards.
#
#   prove test/helper/login_timeout.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin login
app_install_extension
HOSTILE=test/tools/tunnel_hostile_clients.pl

# ---------------------------------------------------------------- the setting
tl_section
like "$("$FX_HELPER" --help)" 'TUNNEL_LOGIN_TIMEOUT +--tunnel-login-timeout +default: 60000' \
	"--help lists TUNNEL_LOGIN_TIMEOUT with its default"
fx_env_file "$FX_DIR/bad.env" TUNNEL_LOGIN_TIMEOUT=50
out=$("$FX_HELPER" --env-file "$FX_DIR/bad.env" 2>&1)
is "$?" 2 "TUNNEL_LOGIN_TIMEOUT=50 exits 2"
like "$out" 'invalid value for TUNNEL_LOGIN_TIMEOUT: "50"' "and names the variable and the value"
tl_input login_timeout_out_of_range

# ---------------------------------------------------------------- TLS on the server
openssl req -new -x509 -days 2 -nodes -subj /CN=localhost -keyout "$FX_PG_DIR/data/server.key" \
	-out "$FX_PG_DIR/data/server.crt" >/dev/null 2>&1
chown postgres: "$FX_PG_DIR/data/server.key" "$FX_PG_DIR/data/server.crt"
chmod 600 "$FX_PG_DIR/data/server.key"
fx_psql -c "ALTER SYSTEM SET ssl = on" -c "ALTER SYSTEM SET authentication_timeout = '3s'" \
	-c "SELECT pg_reload_conf()" >/dev/null
fx_wait_output 10 "ssl on" on fx_psql -Atc 'SHOW ssl'

tl_section
tl_start login SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=4 TUNNEL_LOGIN_TIMEOUT=1500
tl_up
ok $? "login: connected (TUNNEL_LOGIN_TIMEOUT=1500)"
got=$(PGSSLMODE=disable tl_psql -Atc "SELECT 'plain', pg_sleep(3)" 2>&1)
is "$got" "plain|" "login: a plain client that logged in keeps its channel past the login timeout"
got=$(PGSSLMODE=require tl_psql -Atc "SELECT ssl, pg_sleep(3) FROM pg_stat_ssl WHERE pid = pg_backend_pid()" 2>&1)
is "$got" "t|" "login: so does a client with TLS inside the channel (sslmode=require)"
got=$(PGSSLMODE=prefer tl_psql -Atc "SELECT 'prefer'" 2>&1)
is "$got" prefer "login: sslmode=prefer (SSLRequest, then TLS) gets in"
is "$(tl_count 'msg=login_timeout ')" 0 "login: none of them was taken for a login timeout"

# An SSLRequest answered 'S', then nothing: no handshake went past the
# server's first word, so the login timeout (1.5 s) ends it, before the
# server's authentication_timeout (3 s).
perl "$HOSTILE" sslidle "$FX_TUNNEL_PORT" 1 15 >"$FX_DIR/ssl.out" 2>/dev/null
diag "login: sslidle: $(cat "$FX_DIR/ssl.out")"
like "$(cat "$FX_DIR/ssl.out")" '^opened=1 closed_by_peer=1 .*answers=S$' \
	"login: a socket idle after the server's 'S' is closed"
close_ms=$(sed -n 's/.*last_close_ms=\([0-9]*\).*/\1/p' "$FX_DIR/ssl.out")
cmp_ok "${close_ms:-99999}" -lt 2500 "login: at the helper's 1.5 s login timeout (${close_ms} ms), not the server's 3 s"
is "$(tl_count 'msg=login_timeout ')" 1 "login: logged as login_timeout"

# A plain idle socket is the helper's to time.
perl "$HOSTILE" idle "$FX_TUNNEL_PORT" 1 1 0 15 >"$FX_DIR/idle.out" 2>/dev/null &
idle=$!
fx_wait_for 15 "the idle socket's report" grep -q eof= "$FX_DIR/idle.out"
diag "login: idle: $(cat "$FX_DIR/idle.out")"
like "$(cat "$FX_DIR/idle.out")" '^opened=1 eof=1 .*reset=1$' "login: an idle plain socket is closed"
eof_ms=$(sed -n 's/.*last_eof_ms=\([0-9]*\).*/\1/p' "$FX_DIR/idle.out")
cmp_ok "${eof_ms:-0}" -ge 1400 "login: at the login timeout ($eof_ms ms)"
cmp_ok "${eof_ms:-99999}" -lt 2500 "login: not later"
kill "$idle" 2>/dev/null
like "$(grep -m1 'msg=login_timeout ' "$TL_LOG")" 'client=127\.0\.0\.1:[0-9]+ timeout_ms=1500 ' \
	"login: logged as login_timeout, with the client and the timeout"
none_busy()
{
	[ "$(tl_stats_field cl_active)" = 0 ]
}
fx_wait_for 10 "no channel busy" none_busy
ok $? "login: the pool counts no channel busy afterwards"

# A backend ended by the server frees its channel at once.
tl_psql -Atc "SELECT pg_sleep(30)" >/dev/null 2>&1 &
sleeper=$!
fx_wait_for 10 "the sleeper's backend" tl_backends_are '%pg_sleep(30)%' 1
fx_psql -Atc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND pid <> pg_backend_pid()" >/dev/null
fx_wait_exit "$sleeper" 10
ok "$([ "$FX_RC" != timeout ] && [ "$FX_RC" != 0 ]; echo $?)" "login: a terminated backend's client gets its error at once (exit $FX_RC)"
fx_wait_for 10 "no channel busy" none_busy
ok $? "login: and its channel is freed"

# SIGHUP takes a new value over.
sed -i 's/^TUNNEL_LOGIN_TIMEOUT=.*/TUNNEL_LOGIN_TIMEOUT=2500/' "$TL_ENV"
kill -HUP "$TL_PID"
fx_wait_for 10 "config_changed" tl_has 'msg=config_changed .*variable=TUNNEL_LOGIN_TIMEOUT old=1500 new=2500'
ok $? "login: SIGHUP takes TUNNEL_LOGIN_TIMEOUT=2500 over"
is "$(tl_count 'event=(disconnected|reconnecting|health_check_failed) ')" 0 "login: no session was lost"
tl_stop
is "$TL_RC" 0 "login: exit 0"
tl_sanitizer_clean login
tl_fault login_timeout_and_server_close

done_testing
