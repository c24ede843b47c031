#!/usr/bin/env bash
# A client the tunnel cannot serve is told why, in PostgreSQL's protocol
# (SSLRequest and GSSENCRequest answered 'N', then an ErrorResponse), as
# psql and node-postgres show it.  The SQLSTATEs and the words each
# message starts with are helper/refusal_list.h's rows: every row reaches a
# client here, checked against the row:
#  - pool full, no waiting (TUNNEL_MAX_WAITING=0): 53300, "chatgenius-tunnel:
#    no more connections allowed"; after TUNNEL_CLIENT_WAIT: the same, "waited";
#  - a silent client is dropped after its deadline and holds no one up;
#  - sshd down while reconnecting: 08001 with the last error ("Connection refused");
#  - after SSH_MAX_RETRIES: 08001 "max retries exceeded", to the clients waiting then;
#  - a client waiting at SIGINT (a stop at once): 57P01 "the tunnel is
#    shutting down" (at SIGTERM a waiting client is served: drain.t);
#  - served clients see no change, TLS to PostgreSQL inside the channel too.
#
#   prove test/helper/refusal.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"

# The list: "SQLSTATE words" a line.
REFUSALS=$(perl -0ne 'print "$2 $3\n" while /^REFUSAL\((REFUSAL_\w+),\s*"([0-9A-Z]{5})",\s*"\w+",\s*"([^"]+)"\)/mg' \
	helper/refusal_list.h)
[ -n "$REFUSALS" ] || bail_out "no REFUSAL rows in helper/refusal_list.h"
# words CODE: the words (as a regular expression) a refusal with SQLSTATE CODE starts with.
words()
{
	awk -v c="$1" '$1 == c { $1 = ""; sub(/^ /, ""); print; exit }' <<<"$REFUSALS" |
		sed 's/[][\.*^$(){}+?|]/\\&/g'
}
declare -A TOLD
# told NAME OUT CODE: node-postgres's OUT is the refusal CODE with its listed
# words (noted for the check that every row reached a client).
told()
{
	like "$2" "\"code\":\"$3\"" "$1: node-postgres err.code is $3" &&
		like "$2" "\"message\":\"chatgenius-tunnel: $(words "$3")" \
			"$1: err.message starts with chatgenius-tunnel: and the words listed for $3" &&
		TOLD[$3]=1
}
fx_node_path
fx_init refusal
node -e 'require("pg")' >/dev/null 2>&1
ok $? "node-postgres is installed (test/deps.sh: node-pg, or npm's pg)"
fx_pg_start
fx_sshd_start
app_install_extension

# PostgreSQL with TLS, so that "TLS inside the channel" can be checked.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	-keyout "$FX_PG_DIR/data/server.key" -out "$FX_PG_DIR/data/server.crt" >/dev/null 2>&1
chown postgres: "$FX_PG_DIR/data/server.key" "$FX_PG_DIR/data/server.crt"
chmod 600 "$FX_PG_DIR/data/server.key"
fx_psql -c "ALTER SYSTEM SET ssl = on" >/dev/null && fx_psql -c "SELECT pg_reload_conf()" >/dev/null

# psql_err [CONNINFO...]: psql through the tunnel; its stderr and exit code.
psql_err()
{
	PGSSLMODE=${PGSSLMODE:-prefer} tl_psql -Atc 'SELECT 1' "$@" 2>&1
	echo "rc=$?"
}

# node_err: node-postgres through the tunnel, as the app (JSON on stdout).
node_err()
{
	node test/tools/pg_connect.js "$FX_TUNNEL_PORT" "$FX_APP_USER" "$FX_APP_PASSWORD" "$FX_APP_DB" "$@"
}

# ---------------------------------------------------------------- served clients: no change
tl_section
tl_start served
tl_up
ok $? "served: connected"
is "$(PGSSLMODE=require tl_psql -Atc 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')" t \
	"served: psql with sslmode=require gets TLS to PostgreSQL through the channel"
is "$(PGSSLMODE=disable tl_psql -Atc 'SELECT 41 + 1')" 42 "served: psql without TLS"
like "$(node_err 'SELECT 42')" '"ok":true,"value":42' "served: node-postgres runs its query"
tl_stop
is "$TL_RC" 0 "served: exit 0"
tl_fault served_unchanged

# ---------------------------------------------------------------- pool full
tl_section
tl_start full SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=1 TUNNEL_MAX_WAITING=0 \
	SSH_HEALTH_CHECK_INTERVAL=60000 TUNNEL_LOG_LEVEL=debug
tl_up
ok $? "full: connected"
tl_clients_start 1 8
fx_wait_for 20 "the one channel busy" tl_backends_are '%pg_sleep(8)%' 1
ok $? "full: one client holds the only channel"
out=$(psql_err)
like "$out" "FATAL: +chatgenius-tunnel: $(words 53300)" \
	"full: psql (sslmode=prefer) is told the pool is full"
like "$out" 'TUNNEL_MAX_WAITING' "full: the message names the setting"
like "$out" 'rc=2' "full: psql exits 2 (connection failed)"
unlike "$out" 'closed the connection unexpectedly' "full: not 'server closed the connection unexpectedly'"
out=$(PGSSLMODE=disable psql_err)
like "$out" "FATAL: +chatgenius-tunnel: $(words 53300)" "full: psql without SSLRequest too"
out=$(PGSSLMODE=require psql_err)
like "$out" 'server does not support SSL' "full: sslmode=require hears 'N' (no TLS on the refusal path)"
told full "$(node_err)" 53300

# GSSENCRequest, then SSLRequest, then the StartupMessage, as libpq sends
# them with gssencmode=prefer and a Kerberos ticket: 'N', 'N', 'E'.
raw=$(perl -MIO::Socket::INET -e '
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0]) or die "$!";
	my ($b, $out) = ("", "");
	for my $code (80877104, 80877103) {
		syswrite($s, pack("NN", 8, $code)); sysread($s, $b, 1); $out .= $b;
	}
	my $params = "user\0chat\0database\0chatgenius\0\0";
	syswrite($s, pack("NN", 8 + length($params), 196608) . $params);
	sysread($s, $b, 1); $out .= $b;
	print $out, "\n";' "$FX_TUNNEL_PORT")
is "$raw" NNE "full: GSSENCRequest and SSLRequest get 'N', the StartupMessage an ErrorResponse"

# A silent client (connects, sends nothing) is dropped by its deadline and
# does not delay the next refusal.
before=$(tl_count 'client_refused .*reason=too_many_waiting')
perl -MIO::Socket::INET -MTime::HiRes=time -e '
	my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1", PeerPort => $ARGV[0]) or die "$!";
	my $t0 = time; my $buf; sysread($s, $buf, 1);
	printf "%d\n", (time - $t0) * 1000;' "$FX_TUNNEL_PORT" >"$FX_DIR/silent.ms" &
silent=$!
fx_wait_for 5 "the silent client's refusal under way" \
	eval '[ "$(tl_count "client_refused .*reason=too_many_waiting")" -gt "$before" ]'
t0=$(date +%s%N)
out=$(node_err)
told_ms=$((($(date +%s%N) - t0) / 1000000))
told silent "$out" 53300
cmp_ok "$told_ms" -lt 2500 "silent: told in ${told_ms} ms (under the 3000 ms startup deadline)"
wait "$silent"
silent_ms=$(cat "$FX_DIR/silent.ms")
cmp_ok "$silent_ms" -ge 2500 "silent: the silent client keeps its slot up to the deadline (${silent_ms} ms)"
cmp_ok "$silent_ms" -le 6000 "silent: and is closed by then (${silent_ms} ms <= 6000)"
tl_has 'client_told .*outcome=startup_timeout'
ok $? "silent: logged as startup_timeout"
tl_clients_wait
is "$TL_CLIENTS_FAILED" 0 "full: the client holding the channel got its answer"
tl_stop
is "$TL_RC" 0 "full: exit 0"
tl_sanitizer_clean full

tl_start waited SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=1 TUNNEL_MAX_WAITING=4 TUNNEL_CLIENT_WAIT=500 \
	SSH_HEALTH_CHECK_INTERVAL=60000
tl_up
tl_clients_start 1 6
fx_wait_for 20 "the one channel busy" tl_backends_are '%pg_sleep(6)%' 1
out=$(node_err)
told waited "$out" 53300
like "$out" 'waited [0-9]+ ms \(TUNNEL_CLIENT_WAIT=500\)' "waited: after TUNNEL_CLIENT_WAIT, how long it waited"
tl_clients_wait
tl_stop
tl_fault pool_full_told

# ---------------------------------------------------------------- PostgreSQL down behind sshd
tl_section
tl_start pgdown SSH_HEALTH_CHECK_INTERVAL=60000
tl_up
ok $? "pgdown: connected"
fx_pg_stop
out=$(psql_err)
like "$out" "FATAL: +chatgenius-tunnel: $(words 08006): open failed: connect failed: the SSH server cannot reach 127\\.0\\.0\\.1 port [0-9]+" \
	"pgdown: psql is told the SSH server cannot reach PostgreSQL"
told pgdown "$(node_err)" 08006
fx_pg_start_again
like "$(node_err 'SELECT 8')" '"ok":true,"value":8' "pgdown: served again once PostgreSQL is back"
tl_stop
is "$TL_RC" 0 "pgdown: exit 0"
tl_fault database_down_told

# ---------------------------------------------------------------- stopping
tl_section
tl_start stopping SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=1 TUNNEL_MAX_WAITING=4 \
	TUNNEL_CLIENT_WAIT=30000 SSH_HEALTH_CHECK_INTERVAL=60000 TUNNEL_LOG_LEVEL=debug
tl_up
ok $? "stopping: connected"
tl_clients_start 1 6
fx_wait_for 20 "the one channel busy" tl_backends_are '%pg_sleep(6)%' 1
ok $? "stopping: one client holds the only channel"
node_err >"$FX_DIR/stopping.node" &
npid=$!
fx_wait_for 20 "a client waiting for room" tl_has 'msg=client_waiting '
ok $? "stopping: another client waits for room"
kill -INT "$TL_PID"
wait "$npid"
told stopping "$(cat "$FX_DIR/stopping.node")" 57P01
tl_wait_exit 30
is "$TL_RC" 0 "stopping: exit 0"
tl_clients_wait
tl_sanitizer_clean stopping
tl_fault stopping_told

# ---------------------------------------------------------------- sshd down: reconnecting
tl_section
tl_start down SSH_MAX_RETRIES=1000 SSH_RETRY_DELAY=300 TUNNEL_MAX_WAITING=0
tl_up
ok $? "down: connected"
fx_sshd_stop
fx_wait_for 30 "a failed reconnection attempt" tl_has 'event=reconnecting .*attempt=2'
ok $? "down: reconnecting"
out=$(psql_err)
like "$out" "FATAL: +chatgenius-tunnel: $(words 08001), reconnecting" \
	"down: psql is told the tunnel is reconnecting"
like "$out" 'connect to host 127.0.0.1 port [0-9]+: Connection refused' "down: with the last error (psql)"
out=$(node_err)
told down "$out" 08001
like "$out" '"message":"chatgenius-tunnel: .*Connection refused' \
	"down: err.message includes 'Connection refused', as the app tests"
fx_sshd_start
fx_wait_for 30 "reconnected" tl_has 'event=reconnected'
ok $? "down: reconnected once sshd is back"
like "$(node_err 'SELECT 7')" '"ok":true,"value":7' "down: served again after reconnecting"
tl_stop
tl_sanitizer_clean down
tl_fault sshd_down_told

# ---------------------------------------------------------------- max retries exceeded
tl_section
tl_start gaveup SSH_MAX_RETRIES=2 SSH_RETRY_DELAY=1500 TUNNEL_CLIENT_WAIT=30000
tl_up
ok $? "gaveup: connected"
fx_sshd_stop
fx_wait_for 30 "reconnecting" tl_has 'event=reconnecting'
node_err >"$FX_DIR/gaveup.node" &
npid=$!
PGSSLMODE=prefer tl_psql -Atc 'SELECT 1' >"$FX_DIR/gaveup.psql" 2>&1 &
ppid=$!
tl_wait_exit 60
is "$TL_RC" 4 "gaveup: the helper gives up (exit 4)"
wait "$npid"
wait "$ppid"
like "$(cat "$FX_DIR/gaveup.psql")" 'FATAL: +chatgenius-tunnel: .*max retries exceeded' \
	"gaveup: a waiting psql is told 'max retries exceeded'"
out=$(cat "$FX_DIR/gaveup.node")
told gaveup "$out" 08001
like "$out" '"message":"chatgenius-tunnel: .*max retries exceeded' \
	"gaveup: err.message includes 'max retries exceeded', as the app tests"
tl_sanitizer_clean gaveup
tl_fault max_retries_told

# ---------------------------------------------------------------- every row
while read -r code _; do
	is "${TOLD[$code]:-0}" 1 "helper/refusal_list.h's $code ($(words "$code" | tr -d '\\')) reached a client, as listed"
done <<<"$REFUSALS"

done_testing
