#!/usr/bin/env bash
# systemd socket activation (LISTEN_FDS), against a real cluster and sshd,
# with systemd-socket-activate holding the sockets as a .socket unit does:
#  - the TCP, Unix and HTTP sockets passed are used as given (named by
#    LISTEN_FDNAMES: postgres, unix, http); the helper binds none of them;
#  - restarted in a loop (as systemd's Restart= would), the sockets stay
#    open between two helpers, so new clients wait in the backlog: 100
#    node-postgres clients connecting in a loop across 10 restarts, none
#    refused (measured: connections, longest connect, each restart's gap);
#  - a transaction in flight at a restart's SIGTERM commits.
#
#   prove test/helper/socket_activation.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh
. test/lib/http_lib.sh

fx_need systemd-socket-activate
fx_node_path
tl_begin activate
app_install_extension
fx_psql -c 'ALTER SYSTEM SET max_connections = 160' >/dev/null
fx_pg_stop
fx_pg_start_again
fx_psql -d "$FX_APP_DB" -c "CREATE TABLE restarted (n int); GRANT ALL ON restarted TO \"$FX_APP_USER\"" >/dev/null

SOCK=$FX_DIR/run
mkdir -p "$SOCK"
chmod 755 "$SOCK"
HP=$(fx_free_port)
FX_TUNNEL_PORT=$(fx_free_port)
ENV=$FX_DIR/activated.env
LOG=$FX_DIR/activated.log
PIDFILE=$FX_DIR/helper.pid
STOP=$FX_DIR/stop-restarting
# The env file names other addresses: what systemd passes wins.
# A restart meets every client at once: TUNNEL_MAX_WAITING holds them all
# (the default, 64, would refuse the rest of 100 at each start, 53300).
fx_env_file "$ENV" TUNNEL_NAME=activated TUNNEL_SOCKET_DIR="$SOCK" TUNNEL_HTTP_ADDR=127.0.0.1:$HP \
	TUNNEL_MAX_WAITING=200
TL_LOG=$LOG

# systemd-socket-activate binds the three sockets and, at the first
# connection, runs the restart loop with them (descriptors 3, 4, 5); each
# helper gets them with LISTEN_PID set to its own pid, as systemd does.
# shellcheck disable=SC2016
fx_bg "$FX_DIR/activate.log" systemd-socket-activate -l "127.0.0.1:$FX_TUNNEL_PORT" \
	-l "$SOCK/.s.PGSQL.$FX_TUNNEL_PORT" -l "127.0.0.1:$HP" --fdname=postgres:unix:http \
	bash -c 'while [ ! -e "$3" ]; do
		( echo "$BASHPID" >"$2.new"; mv "$2.new" "$2"; export LISTEN_PID=$BASHPID; exec "$1" --env-file "$4" ) >>"$5" 2>&1
	done' restart-loop "$FX_HELPER" "$PIDFILE" "$STOP" "$ENV" "$LOG"
ACTIVATOR=$FX_BG_PID
stop_loop() { touch "$STOP"; [ -f "$PIDFILE" ] && kill -INT "$(cat "$PIDFILE")" 2>/dev/null; }
FX_CLEANUP_HOOKS+=(stop_loop)
fx_wait_for 10 "the activator's socket" fx_port_open "$FX_TUNNEL_PORT" || bail_out "systemd-socket-activate did not listen"
# the first connection starts the service, as with Accept=no
(exec 3<>"/dev/tcp/127.0.0.1/$FX_TUNNEL_PORT") 2>/dev/null
fx_wait_for 30 "the helper up" tl_has 'event=connected'
ok $? "socket-activated: the helper comes up"

# ---------------------------------------------------------------- used as given
tl_section
tl_has 'msg=listening .*activated=1'
ok $? "the helper says its sockets were passed (activated=1)"
tl_has 'msg=http_listening .*activated=1'
ok $? "the HTTP socket too"
[ ! -e "$SOCK/.s.PGSQL.$FX_TUNNEL_PORT.lock" ]
ok $? "the Unix socket is used as given: no lock file of the helper's beside it"
pid=$(cat "$PIDFILE")
is "$(find "/proc/$pid/fd" -lname 'socket:*' -printf '%f\n' 2>/dev/null | grep -cxE '3|4|5')" 3 \
	"the helper holds descriptors 3, 4 and 5 (the passed sockets)"
is "$(tl_psql -Atc 'SELECT 1' 2>&1)" 1 "TCP (passed) serves"
is "$(PGPASSWORD=$FX_APP_PASSWORD psql -qXAt "host=$SOCK port=$FX_TUNNEL_PORT user=$FX_APP_USER dbname=$FX_APP_DB" \
	-c 'SELECT 2' 2>&1)" 2 "the Unix socket (passed) serves"
fx_wait_for 20 "readiness" http_code_is "$HP" /readiness 200
ok $? "HTTP (passed) serves /readiness"
tl_fault activation_sockets_as_given

# ---------------------------------------------------------------- 10 restarts, 100 clients in a loop
tl_section
rm -f "$FX_DIR/loop.stop"
node test/tools/connect_loop.js 127.0.0.1 "$FX_TUNNEL_PORT" "$FX_APP_USER" "$FX_APP_PASSWORD" "$FX_APP_DB" \
	100 "$FX_DIR/loop.stop" >"$FX_DIR/loop.out" 2>&1 &
loop=$!
# a transaction in flight at the first restart's SIGTERM
tl_inflight restarted 2
gaps=()
for round in $(seq 1 10); do
	old=$(cat "$PIDFILE")
	before=$(tl_count 'event=connected')
	sleep 0.5 # the loop runs a while on each helper
	t0=$(date +%s%N)
	kill -TERM "$old"
	fx_wait_for 60 "helper $round replaced" eval '[ "$(tl_count "event=connected")" -gt "$before" ]'
	gaps+=($((($(date +%s%N) - t0) / 1000000)))
done
sleep 0.5
touch "$FX_DIR/loop.stop"
wait "$loop"
wait "$TL_TX"
tx_rc=$?
result=$(cat "$FX_DIR/loop.out")
json() { printf '%s' "$result" | perl -MJSON::PP -e 'my $v = decode_json(join "", <STDIN>);
	my $x = $v->{$ARGV[0]}; print ref $x ? encode_json($x) : $x' "$1"; }
echo "# measured: restarts=10 connections_ok=$(json ok) refused=$(json failed) errors=$(json errors)" \
	"max_connect_ms=$(json max_connect_ms) restart_gaps_ms=$(IFS=,; echo "${gaps[*]}")" >&2
cmp_ok "$(json ok)" -ge 1000 "100 clients connected in a loop across 10 restarts ($(json ok) connections)"
is "$(json failed)" 0 "... and none was refused ($(json errors))"
is "$tx_rc" 0 "a transaction in flight at a restart's SIGTERM commits"
is "$(fx_psql -d "$FX_APP_DB" -Atc "SELECT string_agg(n::text, ',' ORDER BY n) FROM restarted")" "1,2" "... both its rows are there"
is "$(grep -c 'msg=accept_stopped .*left_to_systemd=2' "$LOG")" 10 "each SIGTERM left the clients' two sockets to the activator"
is "$(grep -c 'event=stopped' "$LOG")" 10 "each of the 10 helpers stopped cleanly"
unlike "$(grep 'event=stopped' "$LOG")" 'clients_cut' "... cutting nobody"
tl_fault activation_restarts_drop_nobody

touch "$STOP"
kill -INT "$(cat "$PIDFILE")"
fx_wait_exit "$ACTIVATOR" 20
is "$FX_RC" 0 "the last helper exits 0 (SIGINT)"
tl_sanitizer_clean activated

done_testing
