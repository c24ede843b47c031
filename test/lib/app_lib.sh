# shellcheck shell=bash
# Helpers shared by the helper's application-side tests (signals.t,
# reporter.t, setup_verify.t), on top of test/lib/fixture.sh, which it
# sources.

# shellcheck source=fixture.sh
. "$(dirname "${BASH_SOURCE[0]}")/fixture.sh"

# app_install_extension [DB]: CREATE EXTENSION chatgenius as the superuser and
# grant the app role what the helper needs: the write path and pg_monitor.
app_install_extension()
{
	local db=${1:-$FX_APP_DB}
	fx_psql -d "$db" >/dev/null <<-EOF
		SET client_min_messages = warning;
		CREATE EXTENSION IF NOT EXISTS chatgenius;
		GRANT EXECUTE ON FUNCTION chatgenius.report_status(text, text, integer, integer, bigint, text,
			integer, integer, integer, bigint, integer, bigint, bigint, integer, text, text,
			timestamptz, boolean) TO "$FX_APP_USER";
		GRANT EXECUTE ON FUNCTION chatgenius.report_event(text, text, text, timestamptz, text)
			TO "$FX_APP_USER";
		GRANT pg_monitor TO "$FX_APP_USER";
	EOF
}

# app_sql SQL: one value (unaligned, no header) as the superuser in the app db.
app_sql()
{
	psql -qXAt -v ON_ERROR_STOP=1 -d "$FX_APP_DB" -c "$1"
}

# app_start NAME [KEY=VALUE...]: an env file $FX_DIR/NAME.env (fixture's, with
# its own free port and TUNNEL_NAME=NAME, plus the extras), the name given to
# its role (as setup would, fx_give_tunnel) and a helper run in the
# background logging to $FX_DIR/NAME.log.  Sets APP_PID and APP_PORT.
app_start()
{
	local name=$1
	shift
	APP_PORT=$(fx_free_port)
	FX_TUNNEL_PORT=$APP_PORT fx_env_file "$FX_DIR/$name.env" "TUNNEL_NAME=$name" "$@"
	fx_give_tunnel "$FX_DIR/$name.env"
	: >"$FX_DIR/$name.log"
	fx_bg "$FX_DIR/$name.log" "$FX_HELPER" --env-file "$FX_DIR/$name.env"
	APP_PID=$FX_BG_PID
}

# app_restart NAME: start the helper again with the env file it had.
app_restart()
{
	local name=$1
	fx_bg "$FX_DIR/$name.log" "$FX_HELPER" --env-file "$FX_DIR/$name.env"
	APP_PID=$FX_BG_PID
}

# app_log_has NAME REGEX: the helper's log has a line matching REGEX.
app_log_has()
{
	grep -qE "$2" "$FX_DIR/$1.log"
}

# app_log_count NAME REGEX: how many log lines match.
app_log_count()
{
	grep -cE "$2" "$FX_DIR/$1.log"
}

# app_gone PID: the process has exited.
app_gone()
{
	! kill -0 "$1" 2>/dev/null
}

# app_wait_exit PID TIMEOUT: wait for PID (a child) to exit within TIMEOUT
# seconds; APP_RC is its exit code (or "timeout").
app_wait_exit()
{
	fx_wait_exit "$1" "$2"
	APP_RC=$FX_RC
	return 0
}

# app_status_is NAME COLUMN VALUE: the tunnel_status row's column equals VALUE.
app_status_is()
{
	[ "$(app_sql "SELECT $2 FROM chatgenius.tunnel_status WHERE tunnel_name = '$1'")" = "$3" ]
}

# app_event_count NAME [EVENT]: rows in tunnel_events for the tunnel.
app_event_count()
{
	local where="tunnel_name = '$1'"
	[ -n "${2:-}" ] && where="$where AND event = '$2'"
	app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE $where"
}

app_has_event()
{
	[ "$(app_event_count "$1" "$2")" -ge "${3:-1}" ]
}

# app_tunnel_psql PORT [ARGS...]: psql as the app role through a tunnel port,
# one value per line (unaligned, no header).
app_tunnel_psql()
{
	local port=$1
	shift
	FX_TUNNEL_PORT=$port PGCONNECT_TIMEOUT=5 fx_app_psql -At "$@"
}
