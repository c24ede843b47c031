#!/usr/bin/env bash
# The Unix socket (TUNNEL_SOCKET_DIR), against a real cluster and sshd:
#  - .s.PGSQL.<POSTGRES_PORT> in the folder, mode TUNNEL_SOCKET_MODE, group
#    TUNNEL_SOCKET_GROUP; psql "host=DIR" and node-postgres (host: DIR)
#    connect through it; TCP stays beside it;
#  - a user outside the group is refused by the kernel (run as nobody), one
#    in it is served;
#  - the fairness rule sees each local user's uid (SO_PEERCRED);
#  - TUNNEL_LISTEN_HOST=none turns TCP off;
#  - a socket left by a killed helper is taken over; a live one (another
#    helper's, or another server's) is never removed: exit 2;
#  - a TUNNEL_SOCKET_DIR that is a file, or nothing: exit 2, said as such.
#
#   prove test/helper/unix_socket.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

fx_node_path
tl_begin unix
app_install_extension

SOCK=$FX_DIR/run
mkdir -p "$SOCK"
chmod 755 "$SOCK"
# sock_psql [psql args...]: psql as the app through the socket folder, as root.
sock_psql()
{
	PGPASSWORD=$FX_APP_PASSWORD PGCONNECT_TIMEOUT=20 psql -qX -v ON_ERROR_STOP=1 \
		"host=$SOCK port=$FX_TUNNEL_PORT user=$FX_APP_USER dbname=$FX_APP_DB" "$@"
}

# nobody_psql SQL: the same as user nobody, from its own folder; output and rc=N.
nobody_psql()
{
	PGPASSWORD=$FX_APP_PASSWORD PGCONNECT_TIMEOUT=20 fx_as nobody \
		psql -qXAt "host=$SOCK port=$FX_TUNNEL_PORT user=$FX_APP_USER dbname=$FX_APP_DB" -c "$1" 2>&1
	echo "rc=$?"
}

# ---------------------------------------------------------------- psql, node-postgres, TCP beside
tl_section
tl_start unix TUNNEL_SOCKET_DIR="$SOCK"
tl_up
ok $? "the tunnel is up with TUNNEL_SOCKET_DIR"
path=$SOCK/.s.PGSQL.$FX_TUNNEL_PORT
[ -S "$path" ]
ok $? "the socket is $path, as PostgreSQL names it"
is "$(stat -c %a "$path")" 770 "TUNNEL_SOCKET_MODE's default: 0770"
is "$(stat -c %G "$path")" "$(id -gn)" "no TUNNEL_SOCKET_GROUP: the helper's group"
is "$(sock_psql -Atc 'SELECT 40 + 2' 2>&1)" 42 'psql "host=DIR" connects through the socket'
is "$(sock_psql -Atc "SELECT coalesce(host(client_addr), 'local') FROM pg_stat_activity WHERE pid = pg_backend_pid()")" \
	127.0.0.1 "the server sees the tunnel's connection (the socket is the helper's, not PostgreSQL's)"
node_out=$(PG_CONNECT_HOST=$SOCK node test/tools/pg_connect.js "$FX_TUNNEL_PORT" "$FX_APP_USER" \
	"$FX_APP_PASSWORD" "$FX_APP_DB" 'SELECT 7 * 6 AS v' 2>&1)
is "$node_out" '{"ok":true,"value":42}' "node-postgres (host: DIR) connects through the socket"
is "$(tl_psql -Atc 'SELECT 1' 2>&1)" 1 "TCP stays available beside the socket"

# ---------------------------------------------------------------- permissions
out=$(nobody_psql 'SELECT 1')
like "$out" 'Permission denied' "a user outside the socket's group is refused by the kernel ($(echo "$out" | head -1))"
like "$out" 'rc=2' "... psql exits 2"
tl_stop
is "$TL_RC" 0 "stop: exit 0"
[ ! -e "$path" ] && [ ! -e "$path.lock" ]
ok $? "stop: the socket and its lock file are removed"
tl_fault unix_socket_connects

# ---------------------------------------------------------------- the group, and uids for fairness
tl_section
tl_start unixgroup TUNNEL_SOCKET_DIR="$SOCK" TUNNEL_SOCKET_GROUP=nogroup TUNNEL_SOCKET_MODE=0660 \
	SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=1 TUNNEL_CLIENT_WAIT=20000 TUNNEL_LOG_LEVEL=debug
tl_up
path=$SOCK/.s.PGSQL.$FX_TUNNEL_PORT
is "$(stat -c '%a %G' "$path")" "660 nogroup" "TUNNEL_SOCKET_MODE=0660 and TUNNEL_SOCKET_GROUP=nogroup are applied"
like "$(nobody_psql 'SELECT 5')" '^5' "a user in the socket's group (nobody, of nogroup) is served"
# The pool's one channel held: the next clients wait, and the log names their users.
sock_psql -Atc 'SELECT pg_sleep(4)' >/dev/null 2>&1 &
holder=$!
fx_wait_for 20 "the holder's query" tl_backends_are 'SELECT pg_sleep(4)%' 1
nobody_psql 'SELECT 1' >"$FX_DIR/nobody.out" &
waiter=$!
sock_psql -Atc 'SELECT 2' >"$FX_DIR/root.out" 2>&1 &
waiter2=$!
fx_wait_for 20 "two clients waiting" eval '[ "$(tl_count "client_waiting .*client=\[local\]")" -ge 2 ]'
ok $? "two socket clients wait for the pool's channel"
tl_has 'client_waiting .*client=\[local\] uid=65534'
ok $? "the fairness rule sees nobody's uid (65534) through SO_PEERCRED"
tl_has 'client_waiting .*client=\[local\] uid=0 '
ok $? "... and root's (0): distinct users"
wait "$holder" "$waiter" "$waiter2"
like "$(cat "$FX_DIR/nobody.out")" '^1' "the waiting clients are served in turn"
tl_stop
tl_fault unix_socket_group_and_uids

# ---------------------------------------------------------------- TCP off
tl_section
tl_start notcp TUNNEL_SOCKET_DIR="$SOCK" TUNNEL_LISTEN_HOST=none
tl_up
ok $? "TUNNEL_LISTEN_HOST=none: the tunnel is up"
fx_port_open "$FX_TUNNEL_PORT"
is "$?" 1 "TUNNEL_LISTEN_HOST=none: nothing listens on TCP port $FX_TUNNEL_PORT"
is "$(sock_psql -Atc 'SELECT 3' 2>&1)" 3 "TUNNEL_LISTEN_HOST=none: the socket serves"
st_serving() { "$FX_HELPER" status --env-file "$TL_ENV" >"$FX_DIR/st.out" 2>&1; }
fx_wait_for 30 "status serving" st_serving
like "$(head -1 "$FX_DIR/st.out")" "^$SOCK/\\.s\\.PGSQL\\.$FX_TUNNEL_PORT - serving" "status names the socket"

# ---------------------------------------------------------------- a live socket is never removed
tl_section
first_pid=$TL_PID
first_log=$TL_LOG
first_env=$TL_ENV
port=$FX_TUNNEL_PORT
FX_TUNNEL_PORT=$port fx_env_file "$FX_DIR/second.env" TUNNEL_NAME=test-second TUNNEL_SOCKET_DIR="$SOCK" TUNNEL_LISTEN_HOST=none
"$FX_HELPER" --env-file "$FX_DIR/second.env" >"$FX_DIR/second.log" 2>&1
is "$?" 2 "a second helper on the same socket: exit 2"
like "$(cat "$FX_DIR/second.log")" 'lock file .*\.s\.PGSQL\.'"$port"'\.lock.* is held' "... the message names the lock file"
is "$(sock_psql -Atc 'SELECT 4' 2>&1)" 4 "... and the first helper's socket still serves"
TL_PID=$first_pid TL_LOG=$first_log TL_ENV=$first_env
# killed: the socket file stays behind, and the next start takes it over
kill -KILL "$TL_PID"
tl_wait_exit 10
[ -S "$SOCK/.s.PGSQL.$port" ]
ok $? "a killed helper leaves its socket file"
: >"$TL_LOG"
fx_bg "$TL_LOG" "$FX_HELPER" --env-file "$TL_ENV"
TL_PID=$FX_BG_PID
tl_up
ok $? "the next start comes up over the stale socket"
tl_has "stale_socket_removed .*\\.s\\.PGSQL\\.$port"
ok $? "... and says it removed a stale socket"
is "$(sock_psql -Atc 'SELECT 6' 2>&1)" 6 "... which serves again"
tl_stop
# another server answering there (no helper's lock): refused, its socket kept
perl -MIO::Socket::UNIX -e '
	my $s = IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 5) or die "listen: $!";
	open(my $r, ">", $ARGV[1]); print $r "ready\n"; close $r;
	sleep 30;' "$SOCK/.s.PGSQL.$port" "$FX_DIR/other.ready" &
other=$!
FX_PIDS+=("$other")
fx_wait_for 10 "the other server" test -s "$FX_DIR/other.ready" || bail_out "the other server did not start"
"$FX_HELPER" --env-file "$TL_ENV" >"$FX_DIR/third.log" 2>&1
is "$?" 2 "another server answering on the socket: exit 2"
like "$(cat "$FX_DIR/third.log")" 'something answers on' "... the message says something answers there"
[ -S "$SOCK/.s.PGSQL.$port" ]
ok $? "... and its socket is not removed"
kill "$other" 2>/dev/null
tl_fault unix_socket_stale_and_live

# ---------------------------------------------------------------- a folder that is not one
tl_section
: >"$FX_DIR/a-file"
fx_env_file "$FX_DIR/notdir.env" TUNNEL_NAME=test-notdir TUNNEL_SOCKET_DIR="$FX_DIR/a-file"
"$FX_HELPER" --env-file "$FX_DIR/notdir.env" >"$FX_DIR/notdir.log" 2>&1
is "$?" 2 "TUNNEL_SOCKET_DIR naming a file: exit 2"
like "$(cat "$FX_DIR/notdir.log")" 'TUNNEL_SOCKET_DIR \\"[^"]*a-file\\": not a directory' "... the message says it is not a directory"
fx_env_file "$FX_DIR/nodir.env" TUNNEL_NAME=test-nodir TUNNEL_SOCKET_DIR="$FX_DIR/no-such-dir"
"$FX_HELPER" --env-file "$FX_DIR/nodir.env" >"$FX_DIR/nodir.log" 2>&1
is "$?" 2 "TUNNEL_SOCKET_DIR naming nothing: exit 2"
like "$(cat "$FX_DIR/nodir.log")" 'TUNNEL_SOCKET_DIR \\"[^"]*no-such-dir\\": No such file or directory' "... the message says so"
tl_input unix_socket_dir_not_a_folder

done_testing
