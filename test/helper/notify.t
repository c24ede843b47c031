#!/usr/bin/env bash
# systemd readiness without systemd: NOTIFY_SOCKET names a unix datagram
# socket that this test reads (notify_recv.pl), as systemd would.
#  - READY=1 once, after the first health check got through, with STATUS=;
#  - STATUS= follows the state: connected with sessions and channels,
#    reconnecting with the attempts and the last error, connected again;
#  - WATCHDOG=1 at half of WATCHDOG_USEC while the janitor runs;
#  - SIGHUP: RELOADING=1 then READY=1; SIGTERM: STOPPING=1;
#  - without NOTIFY_SOCKET, nothing is sent and the helper serves as before.
#
#   prove test/helper/notify.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin notify
app_install_extension

NSOCK=$FX_DIR/notify.sock
NLOG=$FX_DIR/notify.log
: >"$NLOG"
fx_bg "$NLOG" perl test/tools/notify_recv.pl "$NSOCK"
fx_wait_for 10 "the notification socket" test -S "$NSOCK"

# n_count REGEX: datagrams received matching REGEX.
n_count()
{
	grep -cE "$1" "$NLOG"
}

n_has()
{
	grep -qE "$1" "$NLOG"
}

# n_line REGEX: number of the first datagram matching REGEX (0: none).
n_line()
{
	local n
	n=$(grep -nE "$1" "$NLOG" | head -1 | cut -d: -f1)
	echo "${n:-0}"
}

# ---------------------------------------------------------------- start, readiness, watchdog
tl_section
# SSH_MAX_RETRIES=20: sshd's restart below may take seconds on a loaded
# machine, past the fixture's 3 attempts (about 1.5 s).
NOTIFY_SOCKET=$NSOCK WATCHDOG_USEC=1000000 tl_start nt SSH_HEALTH_CHECK_INTERVAL=500 SSH_MAX_RETRIES=20
fx_wait_for 30 "READY=1" n_has 'READY=1'
ok $? "ready: READY=1 received"
is "$(n_count 'READY=1')" 1 "ready: sent once"
like "$(grep -E 'READY=1' "$NLOG")" 'STATUS=Connected: 1 of 10 SSH sessions, [0-9]+ channels active, 0 clients waiting' \
	"ready: with STATUS= connected, sessions and channels"
tl_has 'event=connected'
ok $? "ready: the log says connected"
# READY=1 comes after the first check: the status row was written by then.
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_status WHERE tunnel_name = 'test-nt'")" 1 \
	"ready: the first health check wrote the status row before READY=1"
fx_wait_for 10 "three watchdog pings" eval '[ "$(n_count WATCHDOG=1)" -ge 3 ]'
ok $? "watchdog: WATCHDOG=1 keeps coming (WATCHDOG_USEC=1000000)"
tl_psql -Atc 'SELECT 1' >/dev/null
ok $? "ready: clients are served"
tl_fault notify_ready

# ---------------------------------------------------------------- state changes
tl_section
fx_sshd_stop
fx_wait_for 30 "STATUS=Reconnecting ... Connection refused" \
	n_has 'STATUS=Reconnecting to .* \([0-9]+ of 20 attempts failed\), last error: .*Connection refused'
ok $? "reconnecting: STATUS= with the attempts and the last error (Connection refused)"
fx_sshd_start
mark=$(wc -l <"$NLOG")
fx_wait_for 30 "STATUS=Connected again" eval 'tail -n +$((mark + 1)) "$NLOG" | grep -q "STATUS=Connected: "'
ok $? "reconnected: STATUS=Connected again"
is "$(n_count 'READY=1')" 1 "reconnected: READY=1 is not sent again"
tl_fault notify_state

# ---------------------------------------------------------------- reload and stop
tl_section
mark=$(wc -l <"$NLOG")
kill -HUP "$TL_PID"
fx_wait_for 10 "READY=1 after RELOADING=1" eval 'tail -n +$((mark + 1)) "$NLOG" | grep -q "READY=1"'
after=$(tail -n +$((mark + 1)) "$NLOG" | grep -E 'RELOADING=1|READY=1' | sed 's/^[0-9.]* //; s/|.*//' | tr '\n' ' ')
is "$after" "RELOADING=1 READY=1 " "reload: SIGHUP sends RELOADING=1 then READY=1"
tl_has 'msg=config_reloaded'
ok $? "reload: the configuration was reloaded"
tl_stop
is "$TL_RC" 0 "stop: exit 0"
tl_sanitizer_clean nt
n_has 'STOPPING=1'
ok $? "stop: STOPPING=1 sent on SIGTERM"
cmp_ok "$(n_line 'STOPPING=1')" -gt "$(n_line 'READY=1')" "stop: after READY=1"
tl_fault notify_reload_stop

# ---------------------------------------------------------------- no NOTIFY_SOCKET
# Under strace: the helper never even makes a datagram socket.
tl_section
mark=$(wc -l <"$NLOG")
TL_LOG=$FX_DIR/plain.log
FX_TUNNEL_PORT=$(fx_free_port)
fx_env_file "$FX_DIR/plain.env" TUNNEL_NAME=test-plain
# (LeakSanitizer cannot run under ptrace: off for this run of an ASan build.)
fx_bg "$TL_LOG" env -u NOTIFY_SOCKET WATCHDOG_USEC=1000000 ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	strace -f -qq -e trace=socket -o "$FX_DIR/plain.strace" "$FX_HELPER" --env-file "$FX_DIR/plain.env"
strace_pid=$FX_BG_PID
tl_up
ok $? "plain: connected without NOTIFY_SOCKET"
is "$(tl_psql -Atc 'SELECT 6 * 7')" 42 "plain: serves clients"
helper_pid=$(pgrep -P "$strace_pid" -x chatgenius-tunn | head -1)
[ -n "$helper_pid" ] || helper_pid=$(pgrep -P "$strace_pid" | head -1)
kill -TERM "$helper_pid"
wait "$strace_pid"
is "$?" 0 "plain: exit 0"
is "$(grep -c 'AF_UNIX, SOCK_DGRAM' "$FX_DIR/plain.strace")" 0 "plain: no datagram socket was made"
cmp_ok "$(grep -c 'AF_INET' "$FX_DIR/plain.strace")" -gt 0 "plain: (strace saw the helper's sockets)"
is "$(tail -n +$((mark + 1)) "$NLOG" | wc -l)" 0 "plain: nothing was sent"
tl_fault notify_off

done_testing
