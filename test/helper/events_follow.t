#!/usr/bin/env bash
# `chatgenius-tunnel events [--follow] [--json]`, against a real cluster
# and sshd:
#  - followers (text and JSON, several at once) get each event as it
#    happens, with tunnel_events' names and fields (compared with the
#    row), also while the database is stopped;
#  - a follower that stops reading never holds the helper up: the others
#    get every event, status answers at once, and once it reads again a
#    "dropped" line counts what it missed; a follower that writes without
#    pause holds nothing up either;
#  - at most 16 follow; events without --follow prints the last ones; not
#    running: exit 2;
#  - doc/examples/tunnel-events.js (Node.js) subscribes and sees
#    maxRetriesExceeded, as the seed's tunnel.on('maxRetriesExceeded').
#
#   prove test/helper/events_follow.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

fx_need node
tl_begin events
app_install_extension

# follow NAME [--json]: a follower in the background, its output in $FX_DIR/NAME.out
declare -A FOLLOWER
follow()
{
	local name=$1
	shift
	"$FX_HELPER" events --follow "$@" --env-file "$TL_ENV" >"$FX_DIR/$name.out" 2>"$FX_DIR/$name.err" &
	FOLLOWER[$name]=$!
	FX_PIDS+=($!)
}
# followers_are N: true once the helper counts N followers (status --json).
followers_are()
{
	[ "$("$FX_HELPER" status --json --env-file "$TL_ENV" 2>/dev/null |
		perl -MJSON::PP -e 'print decode_json(join "", <STDIN>)->{event_followers}')" = "$1" ]
}
has_line() { grep -qE "$2" "$FX_DIR/$1.out"; }

# ---------------------------------------------------------------- not running
tl_section
fx_env_file "$FX_DIR/none.env" TUNNEL_NAME=test-none
"$FX_HELPER" events --follow --env-file "$FX_DIR/none.env" >/dev/null 2>"$FX_DIR/none.err"
is "$?" 2 "not running: exit 2"
like "$(cat "$FX_DIR/none.err")" 'not running' "... and says so"

# ---------------------------------------------------------------- followers
tl_section
tl_start ev SSH_MAX_RETRIES=50 SSH_RETRY_DELAY=100
tl_up
follow text
follow json --json
follow json2 --json
fx_wait_for 10 "three followers" followers_are 3
ok $? "three followers at once"
fx_sshd_stop
fx_wait_for 20 "reconnecting followed" has_line json '"event": "reconnecting"'
ok $? "a JSON follower sees reconnecting as it happens"
fx_sshd_start
fx_wait_for 30 "reconnected followed" has_line json '"event": "reconnected"'
ok $? "... and reconnected"
fx_wait_for 10 "text follower" has_line text ' reconnected attempt='
ok $? "a text follower sees the same events, one line each"
fx_wait_for 10 "second JSON follower" has_line json2 '"event": "reconnected"'
ok $? "a second JSON follower sees them too"
line=$(grep '"event": "reconnected"' "$FX_DIR/json.out" | head -1)
fields=$(printf '%s' "$line" | perl -MJSON::PP -e 'print join ",", sort keys %{decode_json(<STDIN>)}')
is "$fields" "detail,event,occurred_at,tunnel_name" "a JSON line has tunnel_events' fields"
detail=$(printf '%s' "$line" | perl -MJSON::PP -e 'print decode_json(<STDIN>)->{detail}')
at=$(printf '%s' "$line" | perl -MJSON::PP -e 'print decode_json(<STDIN>)->{occurred_at}')
fx_wait_for 30 "the row" eval '[ "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = '"'test-ev'"' AND event = '"'reconnected'"' AND occurred_at = '"'$at'"'::timestamptz AND detail = '"'$detail'"'")" = 1 ]'
ok $? "... the same name, detail and occurred_at as its tunnel_events row"

# The database stopped: the events still reach the followers.
fx_pg_stop
fx_wait_for 30 "health_check_failed followed" has_line json '"event": "health_check_failed".*cause=database'
ok $? "the database stopped: health_check_failed (cause=database) still reaches the followers"
"$FX_HELPER" events --env-file "$TL_ENV" >"$FX_DIR/last.out" 2>&1
is "$?" 0 "events (no --follow): exit 0"
like "$(cat "$FX_DIR/last.out")" 'health_check_failed cause=database' "events prints the last events, the database stopped"
fx_pg_start_again
tl_fault events_follow

# ---------------------------------------------------------------- at most 16
tl_section
for i in $(seq 4 16); do follow "f$i"; done
fx_wait_for 10 "sixteen followers" followers_are 16
ok $? "sixteen followers at once"
"$FX_HELPER" events --follow --env-file "$TL_ENV" >/dev/null 2>"$FX_DIR/f17.err"
is "$?" 3 "a 17th follower: exit 3 (at most 16 follow)"
for i in $(seq 4 16); do kill "${FOLLOWER[f$i]}" 2>/dev/null; done
tl_stop
is "$TL_RC" 0 "stop: exit 0"
fx_wait_for 10 "followers end" eval '! kill -0 '"${FOLLOWER[json]}"' 2>/dev/null'
wait "${FOLLOWER[json]}"
is "$?" 0 "a follower exits 0 when the helper stops"
like "$(tail -1 "$FX_DIR/json.out")" '"event": "stopped"' "... after the stopped event"
tl_input events_follower_limit

# ---------------------------------------------------------------- a follower that stops reading
tl_section
CHATGENIUS_FOLLOWER_BUFFER=4096 tl_start slow SSH_MAX_RETRIES=50 SSH_RETRY_DELAY=50
tl_up
follow fast --json
follow slow --json
fx_wait_for 10 "two followers" followers_are 2
kill -STOP "${FOLLOWER[slow]}"
# sshd down and up again until far more than the slow one's buffers hold was sent
before=$(tl_count 'event=')
cycles=0
while [ "$(tl_count 'event=')" -lt $((before + 80)) ] && [ "$cycles" -lt 40 ]; do
	fx_sshd_stop
	fx_wait_for 20 "reconnecting" eval '[ "$(tl_count "event=reconnecting")" -gt '"$(tl_count 'event=reconnecting')"' ]'
	fx_sshd_start
	fx_wait_for 30 "reconnected" eval '[ "$(tl_count "event=reconnected")" -gt '"$(tl_count 'event=reconnected')"' ]'
	cycles=$((cycles + 1))
done
sent=$(($(tl_count 'event=') - before))
cmp_ok "$sent" -ge 80 "the helper sent $sent events in $cycles outages while a follower was stopped"
t0=$(date +%s%N)
"$FX_HELPER" status --env-file "$TL_ENV" >/dev/null 2>&1
st_ms=$((($(date +%s%N) - t0) / 1000000))
cmp_ok "$st_ms" -lt 1000 "status answers at once meanwhile ($st_ms ms)"
fx_wait_for 10 "the fast follower" eval '[ "$(grep -c "\"event\": \"reconnected\"" "$FX_DIR/fast.out")" -ge "$(tl_count "event=reconnected")" ]'
ok $? "the reading follower got every reconnected event ($(grep -c '"event": "reconnected"' "$FX_DIR/fast.out"))"
unlike "$(cat "$FX_DIR/fast.out")" '"event": "dropped"' "... and no dropped marker"
kill -CONT "${FOLLOWER[slow]}"
fx_wait_for 20 "the marker" has_line slow '"event": "dropped", "count": [1-9]'
ok $? "the follower that stopped reading gets a dropped marker once it reads again"
missed=$(grep -o '"event": "dropped", "count": [0-9]*' "$FX_DIR/slow.out" | awk '{ s += $NF } END { print s + 0 }')
got=$(grep -vc '"event": "dropped"' "$FX_DIR/slow.out")
diag "measured: slow follower: $got events read, $missed counted as dropped, of $sent sent"
cmp_ok "$((got + missed))" -ge "$sent" "... what it read and what it was told it missed account for every event"
tl_stop
is "$TL_RC" 0 "stop: exit 0"
tl_sanitizer_clean slow
tl_fault events_slow_follower

# ---------------------------------------------------------------- a follower that writes
# A follower that writes without pause (what it sends is read and ignored)
# never holds the helper up either: status, which counts the followers,
# answers at once, and another follower gets the events.
tl_section
tl_start chatty SSH_MAX_RETRIES=50 SSH_RETRY_DELAY=50
tl_up
follow listener --json
fx_wait_for 10 "one follower" followers_are 1
sock=$(find "$FX_DIR/state" -name 'test-chatty-*.sock')
[ -S "$sock" ] || bail_out "setup error: no status socket for test-chatty"
perl -MIO::Socket::UNIX -MTime::HiRes=time -e '
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "connect: $!\n";
	syswrite($s, "follow text\n");
	my ($junk, $end, $n) = ("x" x 65536, time + $ARGV[1], 0);
	$| = 1;
	while (time < $end) {
		defined syswrite($s, $junk) or last;
		print "flooding\n" if ++$n == 64;
	}' "$sock" 8 >"$FX_DIR/chatty.out" 2>&1 &
chatty=$!
FX_PIDS+=("$chatty")
fx_wait_for 10 "the flood" has_line chatty flooding || bail_out "setup error: the follower could not flood"
t0=$(date +%s%N)
"$FX_HELPER" status --env-file "$TL_ENV" >"$FX_DIR/chatty_status.out" 2>&1
st_rc=$?
st_ms=$((($(date +%s%N) - t0) / 1000000))
is "$st_rc" 0 "status answers while a follower floods the socket (exit $st_rc)"
cmp_ok "$st_ms" -lt 1000 "... at once ($st_ms ms)"
reconnected=$(tl_count 'event=reconnected')
fx_sshd_stop
fx_sshd_start
fx_wait_for 30 "reconnected" eval '[ "$(tl_count "event=reconnected")" -gt '"$reconnected"' ]'
fx_wait_for 10 "the other follower" has_line listener '"event": "reconnected"'
ok $? "the other follower gets the events meanwhile"
kill "$chatty" 2>/dev/null
wait "$chatty" 2>/dev/null
tl_stop
is "$TL_RC" 0 "stop: exit 0"
tl_fault events_writing_follower

# ---------------------------------------------------------------- the Node.js example
tl_section
tl_start node SSH_MAX_RETRIES=2 SSH_RETRY_DELAY=100
tl_up
CHATGENIUS_TUNNEL=$FX_HELPER node doc/examples/tunnel-events.js "$TL_ENV" >"$FX_DIR/node.out" 2>&1 &
node_pid=$!
FX_PIDS+=("$node_pid")
fx_wait_for 10 "the example follows" followers_are 1
fx_sshd_stop
fx_wait_for 30 "maxRetriesExceeded in node" has_line node '^maxRetriesExceeded: '
ok $? "the Node.js example sees maxRetriesExceeded (tunnel.on('maxRetriesExceeded', ...))"
like "$(cat "$FX_DIR/node.out")" 'reconnecting: attempt=1' "... after the reconnecting events"
tl_wait_exit 20
is "$TL_RC" 4 "the helper gave up: exit 4"
fx_wait_for 10 "node ends" eval '! kill -0 '"$node_pid"' 2>/dev/null'
wait "$node_pid"
is "$?" 0 "the example's stream ends with the helper (exit 0)"
diag "$(cat "$FX_DIR/node.out")"
tl_fault events_node_example

done_testing
