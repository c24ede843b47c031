#!/usr/bin/env bash
# Close only what is dead: the database refusing or failing is reported, and
# the tunnel keeps carrying its clients.
#  - wrong POSTGRES_PASSWORD: the first health check (at start, not one
#    interval later) is refused; an app query running through the tunnel
#    is not cut, the helper does not give up (no exit 4), no session closes,
#    and health_check_failed (cause=database) says why, once;
#  - a role without the grants: status_not_written's hint carries the
#    complete GRANTs, within seconds of the start;
#  - PostgreSQL at max_connections: only the client over the limit fails,
#    the sessions carrying the others stay, health() says why.
#
#   prove test/helper/database_faults.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"
fx_init dbfaults
fx_pg_start
# A small max_connections: 10, of which 3 reserved for superusers.
echo "max_connections = 10" >>"$FX_PG_DIR/data/postgresql.conf"
fx_pg_stop
fx_pg_start_again
fx_sshd_start
app_install_extension

# ---------------------------------------------------------------- wrong password
tl_section
tl_start badpw POSTGRES_PASSWORD=not-the-password SSH_HEALTH_CHECK_INTERVAL=500 SSH_MAX_RETRIES=1 \
	SSH_RETRY_DELAY=100
tl_up
ok $? "badpw: the SSH side connects"
fx_wait_for 5 "health_check_failed at the first check" tl_has 'event=health_check_failed .*cause=database'
ok $? "badpw: the first check (at start) reports the refused login as a database fault"
like "$(grep -m1 'event=health_check_failed ' "$TL_LOG")" 'password authentication failed' \
	"badpw: it says why (PostgreSQL's words)"
t0=$SECONDS
out=$(tl_psql -Atc "SELECT 'kept', pg_sleep(4)" 2>&1)
rc=$?
is "$rc:$out" "0:kept|" "badpw: an app query through the tunnel (4 s, 8 failed checks) is not cut"
cmp_ok $((SECONDS - t0)) -ge 4 "badpw: it really ran that long"
fx_exited "$TL_PID"
cmp_ok $? -ne 0 "badpw: the helper keeps running (no exit 4, SSH_MAX_RETRIES=1)"
is "$(tl_count 'event=(disconnected|reconnecting|maxRetriesExceeded) ')" 0 \
	"badpw: no disconnected, reconnecting or maxRetriesExceeded"
is "$(tl_count 'msg=session_closed ')" 0 "badpw: no session closed"
is "$(tl_count 'event=health_check_failed ')" 1 "badpw: one health_check_failed for the fault, not one per check"
tl_stop
is "$TL_RC" 0 "badpw: exit 0 on SIGTERM"
tl_sanitizer_clean badpw
tl_fault wrong_postgres_password

# ---------------------------------------------------------------- no password at all
# libpq's own "fe_sendauth: no password supplied" comes after the server
# asked for one: the path works, the configuration does not.
tl_section
tl_start nopw POSTGRES_PASSWORD= SSH_HEALTH_CHECK_INTERVAL=500 SSH_MAX_RETRIES=1 SSH_RETRY_DELAY=100
tl_up
ok $? "nopw: the SSH side connects"
fx_wait_for 5 "health_check_failed at the first check" tl_has 'event=health_check_failed .*cause=database'
ok $? "nopw: a password that no source supplies is a database fault"
like "$(grep -m1 'event=health_check_failed ' "$TL_LOG")" 'no password supplied' "nopw: it says why (libpq's words)"
out=$(tl_psql -Atc "SELECT 'kept', pg_sleep(2)" 2>&1)
is "$?:$out" "0:kept|" "nopw: an app query through the tunnel (2 s, 4 failed checks) is not cut"
fx_exited "$TL_PID"
cmp_ok $? -ne 0 "nopw: the helper keeps running (no exit 4, SSH_MAX_RETRIES=1)"
is "$(tl_count 'event=(disconnected|reconnecting|maxRetriesExceeded) ')" 0 \
	"nopw: no disconnected, reconnecting or maxRetriesExceeded"
tl_stop
is "$TL_RC" 0 "nopw: exit 0 on SIGTERM"
tl_fault no_postgres_password

# ---------------------------------------------------------------- missing grants
tl_section
fx_psql -d "$FX_APP_DB" -c "CREATE ROLE nogrant LOGIN PASSWORD 'nogrant-secret'"
tl_start nogrant POSTGRES_USER=nogrant POSTGRES_PASSWORD=nogrant-secret SSH_HEALTH_CHECK_INTERVAL=60000
tl_up
fx_wait_for 5 "status_not_written within seconds" tl_has 'msg=status_not_written '
ok $? "nogrant: the first check runs at start (interval 60 s): status_not_written within 5 s"
hint=$(grep -m1 'msg=status_not_written ' "$TL_LOG")
like "$hint" 'GRANT USAGE ON SCHEMA chatgenius TO \\?"nogrant\\?"' "nogrant: the hint grants USAGE on the schema"
like "$hint" 'GRANT EXECUTE ON FUNCTION chatgenius.report_status, chatgenius.report_event TO \\?"nogrant\\?"' \
	"nogrant: and EXECUTE on the report functions"
is "$(tl_count 'event=health_check_failed ')" 0 "nogrant: the round trip itself is fine: no health_check_failed"
tl_stop
is "$TL_RC" 0 "nogrant: exit 0"
tl_input missing_grants

# ---------------------------------------------------------------- max_connections
tl_section
chat_backends()
{
	fx_psql -d postgres -Atc "SELECT count(*) FROM pg_stat_activity WHERE usename = '$FX_APP_USER'
		AND query LIKE '%pg_sleep(12)%' AND state = 'active'"
}
chat_backends_are()
{
	[ "$(chat_backends)" = "$1" ]
}
# direct_settled N: N sleeping app backends, or the newest direct client gave up.
direct_settled()
{
	[ "$(chat_backends)" -ge "$1" ] || fx_exited "${direct_pids[-1]}"
}
tl_start maxconn SSH_POOL_SIZE=2 SSH_CHANNELS_PER_SESSION=8 SSH_HEALTH_CHECK_INTERVAL=500
tl_up
fx_wait_for 10 "heartbeat" app_status_is test-maxconn state connected
ok $? "maxconn: connected and reporting"
tl_clients_start 5 12
fx_wait_for 20 "five app backends" chat_backends_are 5
ok $? "maxconn: 5 clients through the tunnel"
# Direct clients fill the rest of the 7 non-superuser slots (one at a time:
# the health check takes a slot for a moment every 500 ms).
direct_pids=()
for _ in $(seq 1 20); do
	n=$(chat_backends)
	[ "$n" -ge 7 ] && break
	psql -qXAt -U "$FX_APP_USER" -d "$FX_APP_DB" -c "SELECT pg_sleep(12)" >/dev/null 2>&1 &
	direct_pids+=($!)
	fx_wait_for 5 "direct client settled" direct_settled $((n + 1))
done
is "$(chat_backends)" 7 "maxconn: direct clients fill max_connections (7 for non-superusers)"
over=$(tl_psql -Atc "SELECT 'over'" 2>&1)
like "$over" 'too many clients|remaining connection slots' "maxconn: the client over the limit fails with PostgreSQL's reason"
fx_wait_for 10 "database fault reported" tl_has 'event=health_check_failed .*cause=database'
ok $? "maxconn: the health check reports the database fault"
like "$(app_sql "SELECT status || ': ' || detail FROM chatgenius.health() WHERE check_name = 'connections'")" \
	'^critical: 10 of 7|^critical: [0-9]+ of 7' "maxconn: health() says why (connections critical)"
tl_clients_wait
is "$TL_CLIENTS_FAILED" 0 "maxconn: the 5 clients within the limit all get their answer"
wait "${direct_pids[@]}" 2>/dev/null
is "$(tl_count 'event=(disconnected|reconnecting) ')" 0 "maxconn: no disconnected or reconnecting"
is "$(tl_count 'msg=session_closed ')" 0 "maxconn: no session closed"
fx_wait_for 10 "recovered" tl_has 'msg=health_check_recovered '
ok $? "maxconn: once there is room the checks pass again (health_check_recovered)"
fx_wait_for 10 "last_error cleared" app_status_is test-maxconn "coalesce(last_error, '')" ""
ok $? "maxconn: and the status row's last_error is clear"
tl_stop
is "$TL_RC" 0 "maxconn: exit 0"
tl_sanitizer_clean maxconn
tl_fault postgres_max_connections

done_testing
