#!/usr/bin/env bash
# Stopping without dropping anyone, against a real cluster and sshd:
#  - the first SIGTERM stops taking clients: a new one is told 57P01
#    ("the tunnel is shutting down"), readiness turns 503, STOPPING=1;
#  - a transaction in flight at SIGTERM commits, and the helper exits 0
#    as soon as its client is done (measured);
#  - TUNNEL_SHUTDOWN_TIMEOUT cuts a client that stays longer (stopped
#    event: clients_cut=1);
#  - a second SIGTERM, or SIGINT, stops at once; an idle helper stops at once.
#
#   prove test/helper/drain.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh
. test/lib/http_lib.sh

fx_node_path
tl_begin drain
app_install_extension
fx_psql -d "$FX_APP_DB" -c "CREATE TABLE drained (n int); GRANT ALL ON drained TO \"$FX_APP_USER\"" >/dev/null

# the time since T0 (ns) in ms
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# ---------------------------------------------------------------- a transaction in flight commits
tl_section
HP=$(fx_free_port)
NSOCK=$FX_DIR/notify.sock
fx_bg "$FX_DIR/notify.log" perl test/tools/notify_recv.pl "$NSOCK"
fx_wait_for 10 "the notification socket" test -S "$NSOCK" || bail_out "no notification socket"
NOTIFY_SOCKET=$NSOCK tl_start inflight TUNNEL_HTTP_ADDR=127.0.0.1:$HP
tl_up
fx_wait_for 20 "ready" http_code_is "$HP" /readiness 200
tl_inflight drained 3
t0=$(date +%s%N)
kill -TERM "$TL_PID"
fx_wait_for 10 "draining" tl_has 'msg=draining .*clients=1'
ok $? "SIGTERM: the helper drains, with the one client it serves"
fx_wait_for 10 "STOPPING=1 with the drain" grep -q 'STATUS=Stopping: draining 1 client (at most 30000 ms)' "$FX_DIR/notify.log"
ok $? "SIGTERM: systemd is told STOPPING=1, and STATUS= says who may finish, in how long"
err=$(PGCONNECT_TIMEOUT=10 tl_psql -Atc 'SELECT 1' 2>&1)
like "$err" 'chatgenius-tunnel: the tunnel is shutting down' "during the drain a new client is told the tunnel is shutting down"
node_out=$(node test/tools/pg_connect.js "$FX_TUNNEL_PORT" "$FX_APP_USER" "$FX_APP_PASSWORD" "$FX_APP_DB" 2>&1)
like "$node_out" '"code":"57P01"' "... with SQLSTATE 57P01, as node-postgres reads it"
http_get "$HP" /readiness
is "$HTTP_CODE" 503 "during the drain: readiness 503"
like "$HTTP_BODY" '^stopping' "... saying it is stopping"
like "$(http_metric "$HP" 'chatgenius_tunnel_refusals_total{reason="stopping"}')" '^[1-9]' \
	"refusals_total{reason=stopping} counts the refused clients"
wait "$TL_TX"
is "$?" 0 "the transaction in flight at SIGTERM commits (psql exits 0)"
is "$(fx_psql -d "$FX_APP_DB" -Atc "SELECT string_agg(n::text, ',' ORDER BY n) FROM drained")" "1,2" "... both its rows are there"
tl_wait_exit 30
stop_ms=$(ms_since "$t0")
is "$TL_RC" 0 "the helper exits 0 once its client is done"
echo "# measured: drain_stop_ms=$stop_ms (a 3 s transaction in flight at SIGTERM, TUNNEL_SHUTDOWN_TIMEOUT=30000)" >&2
cmp_ok "$stop_ms" -lt 30000 "... within the shutdown timeout ($stop_ms ms)"
unlike "$(grep 'event=stopped' "$TL_LOG")" 'clients_cut' "... and cut nobody"
tl_fault drain_transaction_commits

# ---------------------------------------------------------------- the timeout cuts
tl_section
tl_start timeout TUNNEL_SHUTDOWN_TIMEOUT=1500
tl_up
tl_psql -Atc 'SELECT pg_sleep(30), 0' >"$FX_DIR/long.out" 2>&1 &
long=$!
fx_wait_for 20 "the long query" tl_backends_are 'SELECT pg_sleep(30), 0%' 1
t0=$(date +%s%N)
kill -TERM "$TL_PID"
tl_wait_exit 20
cut_ms=$(ms_since "$t0")
is "$TL_RC" 0 "TUNNEL_SHUTDOWN_TIMEOUT=1500: exit 0"
cmp_ok "$cut_ms" -ge 1400 "... not before the timeout ($cut_ms ms)"
cmp_ok "$cut_ms" -lt 6000 "... and soon after it"
tl_has 'event=stopped .*clients_cut=1'
ok $? "... the stopped event says one client was cut"
wait "$long"
cmp_ok "$?" -ne 0 "... the client that stayed longer is cut"
tl_fault drain_timeout_cuts

# ---------------------------------------------------------------- a second SIGTERM, SIGINT, idle
tl_section
sleepers=()
for how in TERM2 INT IDLE; do
	tl_start "now-$how"
	tl_up
	if [ "$how" != IDLE ]; then
		tl_psql -Atc "SELECT pg_sleep(30), '$how'" >/dev/null 2>&1 &
		sleepers+=($!)
		fx_wait_for 20 "the long query" tl_backends_are "SELECT pg_sleep(30), '$how'%" 1
	fi
	t0=$(date +%s%N)
	case $how in
		TERM2)
			kill -TERM "$TL_PID"
			fx_wait_for 10 "draining" tl_has 'msg=draining'
			kill -TERM "$TL_PID"
			;;
		INT) kill -INT "$TL_PID" ;;
		IDLE) kill -TERM "$TL_PID" ;;
	esac
	tl_wait_exit 20
	took=$(ms_since "$t0")
	is "$TL_RC" 0 "$how: exit 0"
	cmp_ok "$took" -lt 5000 "$how: stops at once ($took ms)"
	[ "$how" = INT ] && { unlike "$(cat "$TL_LOG")" 'msg=draining' "INT: no drain"; }
done
wait "${sleepers[@]}"
tl_sanitizer_clean now-IDLE
tl_fault drain_immediate_stops

done_testing
