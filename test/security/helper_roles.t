#!/usr/bin/env bash
# The helper against hostile databases, and with the least privilege that
# doc/extension.md grants (Privileges; items 2 and 5 of issue 14), through a
# real tunnel:
#  - setup (a superuser) refuses a pre-created schema chatgenius of the
#    database owner's, in its own words, before CREATE EXTENSION runs;
#  - setup runs no hostile operator of the database owner's when the
#    database's search_path puts public first;
#  - with the documented grants block run word for word and nothing more,
#    and setup run as the superuser with the service's env file (which
#    gives TUNNEL_NAME to the tunnel role, 1.11), the tunnel role keeps
#    the tunnel up (run: status row and events) and verify passes; it is
#    not pg_monitor and reads no other session's query text.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
. "$TOP/test/lib/fixture.sh"
. "$TOP/test/lib/app_lib.sh"
. "$TOP/test/lib/attack.sh"
fx_init sec_helper
[ -x "$FX_HELPER" ] || bail_out "build the helper first: make -C helper"
fx_pg_start
fx_sshd_start
A=$FX_APP_USER

# hcmd COMMAND DB USER PASSWORD [KEY=VALUE...]: one helper command; OUT, ERR, RC.
hcmd()
{
	local cmd=$1 db=$2 user=$3 pw=$4
	shift 4
	fx_env_file "$FX_DIR/$db.env" "POSTGRES_DB=$db" "POSTGRES_USER=$user" \
		"POSTGRES_PASSWORD=$pw" "TUNNEL_NAME=$cmd-$db" "$@"
	(cd "$FX_DIR" && timeout 120 "$FX_HELPER" "$cmd" --env-file "$FX_DIR/$db.env") \
		>"$FX_DIR/out" 2>"$FX_DIR/err"
	RC=$?
	OUT=$(cat "$FX_DIR/out")
	ERR=$(cat "$FX_DIR/err")
}

# 1. setup and a schema chatgenius of the owner's.
sec_db pre
hostile_code pre chatgenius
hcmd setup pre postgres "$FX_SUPER_PASSWORD"
held=0
[ "$RC" = 1 ] || held=1
[ "$(su_sql pre "SELECT count(*) FROM pg_extension WHERE extname = 'chatgenius'")" = 0 ] || held=1
owner_attack setup_precreated_schema $held "setup refuses the owner's schema chatgenius (exit $RC)"
like "$ERR" 'schema "chatgenius" already exists and belongs to role "'"$A"'", which is not a superuser' \
	"setup names the schema and its owner"
like "$ERR" 'HINT:  .*DROP SCHEMA chatgenius CASCADE' "and says what to do"

# 2. setup under the owner's search_path.
sec_db hpath
hostile_code hpath public
as_role "$A" hpath -c "ALTER DATABASE hpath SET search_path = public, pg_catalog" >/dev/null
hcmd setup hpath postgres "$FX_SUPER_PASSWORD"
is "$RC" 0 "setup installs under the database's hostile search_path"
[ "$RC" = 0 ] || diag "$ERR"
held=0
evil_logged hpath public && held=1
owner_attack setup_hostile_search_path $held "setup runs none of the owner's operators as the superuser"
[ $held = 0 ] || diag "$(su_sql hpath 'SELECT who, what FROM public.evil_log LIMIT 5')"
hcmd verify hpath postgres "$FX_SUPER_PASSWORD"
is "$RC" 0 "verify (as the superuser) under the database's hostile search_path"
held=0
evil_logged hpath public && held=1
owner_attack verify_hostile_search_path $held "verify runs none of the owner's operators as the superuser"
[ $held = 0 ] || diag "$(su_sql hpath 'SELECT who, what FROM public.evil_log LIMIT 5')"
# run as the superuser (not what the documentation advises, but an operator may):
# the health check's status writes and event flushes.
APP_PORT=$(fx_free_port)
FX_TUNNEL_PORT=$APP_PORT fx_env_file "$FX_DIR/hrun.env" TUNNEL_NAME=hrun POSTGRES_DB=hpath \
	POSTGRES_USER=postgres "POSTGRES_PASSWORD=$FX_SUPER_PASSWORD"
: >"$FX_DIR/hrun.log"
fx_bg "$FX_DIR/hrun.log" "$FX_HELPER" --env-file "$FX_DIR/hrun.env"
pid=$FX_BG_PID
fx_wait_for 30 "hrun's connected event" bash -c \
	"[ \"\$(PGOPTIONS='-c search_path=pg_catalog' psql -qXAt -d hpath -c \"SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'hrun' AND event = 'connected'\")\" -ge 1 ]"
ok $? "run (as the superuser) writes its status and events under the hostile search_path"
kill -TERM "$pid"
fx_wait_exit "$pid" 30
held=0
evil_logged hpath public && held=1
owner_attack run_hostile_search_path $held "run's own statements use none of the owner's operators"
[ $held = 0 ] || diag "$(su_sql hpath 'SELECT who, what FROM public.evil_log LIMIT 5')"

# 3. The documented grants (doc/extension.md, Privileges), and nothing more.
GRANTS=$FX_DIR/grants.sql
doc_block test/security/helper_roles.t >"$GRANTS"
cmp_ok "$(grep -c GRANT "$GRANTS")" -ge 4 "the documented grants block is found"
hcmd setup "$FX_APP_DB" postgres "$FX_SUPER_PASSWORD"
is "$RC" 0 "setup (as the superuser) installs the extension"
su_sql postgres "CREATE ROLE app LOGIN" "CREATE ROLE tunnel LOGIN PASSWORD 'tunnel-pw'" >/dev/null
su_sql "$FX_APP_DB" "\\i $GRANTS" >/dev/null 2>"$FX_DIR/grants.err"
ok $? "the documented grants run as written"
[ -s "$FX_DIR/grants.err" ] && diag "$(cat "$FX_DIR/grants.err")"
is "$(su_sql "$FX_APP_DB" "SELECT pg_has_role('tunnel', 'pg_monitor', 'MEMBER')")" f "the tunnel role is not pg_monitor"

# setup as the superuser with the service's env file (doc/operations.md's
# Deploying): it gives TUNNEL_NAME to the env file's role.
APP_PORT=$(fx_free_port)
FX_TUNNEL_PORT=$APP_PORT fx_env_file "$FX_DIR/lp.env" TUNNEL_NAME=lp POSTGRES_USER=tunnel POSTGRES_PASSWORD=tunnel-pw
printf '127.0.0.1:*:%s:postgres:%s\n' "$FX_APP_DB" "$FX_SUPER_PASSWORD" >"$FX_DIR/pgpass"
chmod 600 "$FX_DIR/pgpass"
(cd "$FX_DIR" && PGPASSFILE=$FX_DIR/pgpass timeout 120 "$FX_HELPER" setup --env-file "$FX_DIR/lp.env" \
	--postgres-user postgres) >"$FX_DIR/lp-setup.out" 2>&1
is "$?" 0 "setup --postgres-user postgres with the service's env file"
like "$(cat "$FX_DIR/lp-setup.out")" 'Tunnel "lp" is given to role "tunnel"' "setup gives the tunnel's name to the tunnel role"

# run: the tunnel comes up and writes its row and events.
: >"$FX_DIR/lp.log"
fx_bg "$FX_DIR/lp.log" "$FX_HELPER" --env-file "$FX_DIR/lp.env"
pid=$FX_BG_PID
row_ok()
{
	[ "$(su_sql "$FX_APP_DB" "SELECT state || ' ' || written_by FROM chatgenius.tunnel_status WHERE tunnel_name = 'lp' AND last_heartbeat IS NOT NULL")" = "connected tunnel" ]
}
fx_wait_for 30 "lp's status row" row_ok
ok $? "run as the tunnel role: its status row is written (connected, written_by tunnel)"
fx_wait_for 30 "lp's connected event" \
	bash -c "[ \"\$(PGOPTIONS='-c search_path=pg_catalog' psql -qXAt -d '$FX_APP_DB' -c \"SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'lp' AND event = 'connected'\")\" -ge 1 ]"
ok $? "and its connected event"
PGPASSWORD=$FX_APP_PASSWORD psql -qXAt -h 127.0.0.1 -p "$APP_PORT" -U "$A" -d "$FX_APP_DB" -c 'SELECT 1' >/dev/null 2>&1
ok $? "a client gets through the tunnel"
unlike "$(cat "$FX_DIR/lp.log")" 'permission denied|42501' "the helper's log shows no refused write"
kill -TERM "$pid"
fx_wait_exit "$pid" 30
is "$FX_RC" 0 "the helper stops cleanly"

# Another role's helper under the same TUNNEL_NAME is refused, and says how
# to go on.
su_sql "$FX_APP_DB" "GRANT USAGE ON SCHEMA chatgenius TO \"$A\"" \
	"GRANT EXECUTE ON FUNCTION chatgenius.report_status, chatgenius.report_event TO \"$A\"" >/dev/null
APP_PORT=$(fx_free_port)
FX_TUNNEL_PORT=$APP_PORT fx_env_file "$FX_DIR/other.env" TUNNEL_NAME=lp
: >"$FX_DIR/other.log"
fx_bg "$FX_DIR/other.log" "$FX_HELPER" --env-file "$FX_DIR/other.env"
pid=$FX_BG_PID
fx_wait_for 30 "the refused status" grep -q 'status_not_written' "$FX_DIR/other.log"
like "$(grep -m1 status_not_written "$FX_DIR/other.log")" 'is written by role .*tunnel.*hand_over_tunnel' \
	"a helper of another role on the same tunnel logs the writer and the hand-over"
kill -TERM "$pid"
fx_wait_exit "$pid" 30
is "$(su_sql "$FX_APP_DB" "SELECT written_by FROM chatgenius.tunnel_status WHERE tunnel_name = 'lp'")" tunnel \
	"the tunnel's row still belongs to its writer"

# verify with the same role.
hcmd verify "$FX_APP_DB" tunnel tunnel-pw
is "$RC" 0 "verify as the tunnel role: exit 0"
[ "$RC" = 0 ] || diag "$ERR"
like "$OUT" 'connections +\| ok' "verify prints the health() table"

# What pg_monitor would have given away.
PGPASSWORD=secret-in-flight psql -qXAt -d "$FX_APP_DB" -c "SELECT pg_sleep(30) /* ALTER ROLE x PASSWORD 'hunter2' */" >/dev/null 2>&1 &
sleeper=$!
fx_wait_for 20 "the superuser's statement" bash -c \
	"[ \"\$(PGOPTIONS='-c search_path=pg_catalog' psql -qXAt -d postgres -c \"SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%hunter2%' AND pid <> pg_backend_pid()\")\" = 1 ]"
seen=$(PGPASSWORD=tunnel-pw psql -qXAt -h 127.0.0.1 -p "$FX_PG_PORT" -U tunnel -d "$FX_APP_DB" \
	-c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%hunter2%' AND pid <> pg_backend_pid()" \
	-c 'SHOW data_directory' 2>&1)
kill "$sleeper" 2>/dev/null
wait "$sleeper" 2>/dev/null
held=0
case $seen in 0*"must be superuser or have privileges of pg_read_all_settings"*) ;; *) held=1 ;; esac
attack tunnel_role_reads_secrets $held "the tunnel role reads no other session's query and no superuser setting"
[ $held = 0 ] || diag "$seen"

done_testing
