#!/usr/bin/env bash
# `chatgenius-tunnel status [--json]` asks the running helper through the
# unix socket in its state folder, and answers from memory:
#  - serving (exit 0): state, sessions, the pool table, the last events;
#  - the database away: still answers, degraded (exit 1) with the last error;
#  - sshd down: reconnecting (exit 1) with "Connection refused";
#  - not running (exit 2), unknown (exit 3: no attempt, or no answer);
#  - the socket is 0600 in a 0700 folder, and other uids are refused.
#
#   prove test/helper/status.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin status
app_install_extension

# st [ARGS...]: the status command for the current tunnel; output in ST_OUT,
# exit code in ST_RC, time taken in ST_MS.
st()
{
	local t0
	t0=$(date +%s%N)
	ST_OUT=$("$FX_HELPER" status --env-file "$TL_ENV" "$@" 2>&1)
	ST_RC=$?
	ST_MS=$((($(date +%s%N) - t0) / 1000000))
}

# st_is CODE [ARGS...]: true once status exits CODE.
st_is()
{
	local want=$1
	shift
	st "$@"
	[ "$ST_RC" = "$want" ]
}

# st_valgrind WHAT [ARGS...]: the status command under valgrind: no leak, no memory error.
st_valgrind()
{
	local what=$1 rc
	shift
	if ! command -v valgrind >/dev/null; then
		diag "valgrind not installed: $what not checked"
		return
	fi
	# A sanitizer build (asan.t, tsan.t) checks itself; valgrind cannot run it.
	if ldd "$FX_HELPER" 2>/dev/null | grep -qE 'lib(asan|tsan)'; then
		diag "sanitizer build: $what checked by the sanitizer, not valgrind"
		return
	fi
	valgrind -q --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99 \
		"$FX_HELPER" status --env-file "$TL_ENV" "$@" >/dev/null 2>"$FX_DIR/vg.log"
	rc=$?
	cmp_ok "$rc" -ne 99 "valgrind: $what: no leak or memory error"
	[ "$rc" -ne 99 ] || diag "$(head -30 "$FX_DIR/vg.log")"
}

# json_get PATH: a field of ST_OUT (JSON), e.g. json_get status, json_get pool.sessions.
json_get()
{
	printf '%s' "$ST_OUT" | perl -MJSON::PP -e '
		my $j = decode_json(join "", <STDIN>); my $v = $j;
		for my $k (split /\./, $ARGV[0]) { $v = ref $v eq "ARRAY" ? $v->[$k] : $v->{$k} }
		print defined $v ? (ref $v ? encode_json($v) : $v) : "null";' "$1"
}

# ---------------------------------------------------------------- serving
tl_section
tl_start st SSH_HEALTH_CHECK_INTERVAL=500 SSH_MAX_RETRIES=20
tl_up
ok $? "serving: connected"
fx_wait_for 20 "status: serving" st_is 0
ok $? "serving: status exits 0"
diag "$ST_OUT"
like "$ST_OUT" '^127\.0\.0\.1:[0-9]+ - serving' "serving: first line as pg_isready's"
like "$ST_OUT" 'state: +connected' "serving: the state"
like "$ST_OUT" 'pool_size \| sessions \| cl_active \| cl_waiting \| refused' "serving: the pool table (SHOW POOLS style)"
like "$ST_OUT" 'last events:.*connected' "serving: the last events"
tl_psql -Atc 'SELECT 1' >/dev/null
st --json
is "$ST_RC" 0 "serving: --json exits 0"
is "$(json_get status)" serving "serving: --json status"
is "$(json_get state)" connected "serving: --json state"
is "$(json_get pool.sessions)" 1 "serving: --json pool.sessions"
cmp_ok "$(json_get pool.channels_total)" -ge 1 "serving: --json pool.channels_total counts the client"
is "$(json_get last_check.result)" ok "serving: --json last_check.result"
is "$(json_get events.0.event)" connected "serving: --json the first event is connected"
is "$(json_get pid)" "$TL_PID" "serving: --json pid is the helper's"
st_valgrind "status --json, serving" --json

sock=$(find "$FX_DIR/state" -name '*.sock')
is "$(stat -c %a "$sock")" 600 "socket: mode 0600"
is "$(stat -c %a "$FX_DIR/state")" 700 "socket: in a 0700 folder"
# Opened up by hand, the socket still answers only root and the helper's user.
chmod 755 "$FX_DIR/state"
chmod 666 "$sock"
other=$(fx_as nobody perl -MIO::Socket::UNIX -e '$SIG{PIPE} = "IGNORE";
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or do { print "connect: $!"; exit };
	print $s "text\n"; local $/; my $a = <$s>; print defined $a && length $a ? $a : "no answer";' "$sock")
chmod 700 "$FX_DIR/state"
chmod 600 "$sock"
is "$other" "no answer" "socket: another uid gets no answer"
tl_has 'status_refused .*uid=65534'
ok $? "socket: the refusal is logged with the uid"
tl_fault status_serving

# ---------------------------------------------------------------- the database away
tl_section
fx_pg_stop
# (Under load a check may time out first and the tunnel reconnect once; it
# is degraded when a check gets through to the stopped server's refusal.)
fx_wait_for 30 "status: degraded, the database's error" \
	eval 'st_is 1 && [[ $ST_OUT == *" - degraded"* && $ST_OUT == *"last error:  database: "* ]]'
ok $? "db away: status exits 1"
like "$ST_OUT" ' - degraded' "db away: degraded"
like "$ST_OUT" 'last error: +database: ' "db away: the last error is the database's"
cmp_ok "$ST_MS" -lt 1000 "db away: answered in ${ST_MS} ms"
st --json
is "$(json_get status)" degraded "db away: --json status degraded"
is "$(json_get last_check.result)" database "db away: --json last_check.result database"
fx_pg_start_again
fx_wait_for 30 "status: serving again" st_is 0
ok $? "db back: serving again (exit 0)"
tl_fault status_database_away

# ---------------------------------------------------------------- sshd down
tl_section
fx_sshd_stop
fx_wait_for 30 "status: reconnecting with Connection refused" \
	eval 'st_is 1 && [[ $ST_OUT == *"Connection refused"* ]]'
ok $? "sshd down: exit 1, with Connection refused"
like "$ST_OUT" ' - reconnecting' "sshd down: reconnecting"
like "$ST_OUT" 'retries: +[0-9]+ of 20' "sshd down: the attempts"
fx_sshd_start
fx_wait_for 30 "status: serving after reconnecting" st_is 0
ok $? "sshd back: serving (exit 0)"
st --json
cmp_ok "$(json_get reconnects)" -ge 1 "sshd back: --json reconnects counted"
tl_stop
is "$TL_RC" 0 "stop: exit 0"
tl_sanitizer_clean st
tl_fault status_sshd_down

# ---------------------------------------------------------------- not running, unknown
tl_section
st
is "$ST_RC" 2 "not running: exit 2"
like "$ST_OUT" 'test-st - not running' "not running: says so"
st --json
is "$(json_get status)" "not running" "not running: --json status"
is "$(find "$FX_DIR/state" -name '*.sock' | wc -l)" 0 "not running: the socket was removed at stop"
st_valgrind "status, not running"
"$FX_HELPER" status --env-file "$FX_DIR/missing.env" >/dev/null 2>&1
is "$?" 3 "unknown: no attempt (an env file that is not there) exits 3"
# A socket that accepts and never answers (a stuck helper): unknown, in bounded time.
perl -MIO::Socket::UNIX -e '
	my $l = IO::Socket::UNIX->new(Local => $ARGV[0], Listen => 1) or die "$!";
	my $c = $l->accept; sleep 10;' "$sock" &
stuck=$!
fx_wait_for 5 "the stuck socket" test -S "$sock"
st
is "$ST_RC" 3 "unknown: a helper that does not answer exits 3"
cmp_ok "$ST_MS" -lt 5000 "unknown: in ${ST_MS} ms"
kill "$stuck" 2>/dev/null
wait "$stuck" 2>/dev/null
rm -f "$sock"
tl_fault status_not_running

# ---------------------------------------------------------------- a loose state folder
tl_section
mkdir -p "$FX_DIR/loose"
chmod 777 "$FX_DIR/loose"
tl_start loose "TUNNEL_STATE_DIR=$FX_DIR/loose"
tl_up
ok $? "loose: connected"
tl_has 'status_socket_unavailable .*not writable by group or others'
ok $? "loose: a state folder others can write gets no status socket (logged)"
is "$(find "$FX_DIR/loose" -name '*.sock' | wc -l)" 0 "loose: no socket there"
st
is "$ST_RC" 2 "loose: status says not running (exit 2)"
tl_stop
tl_input loose_state_folder

done_testing
