#!/usr/bin/env bash
# Tunnel names are assigned: a tunnel's role writes the names it was given,
# and no other.
#  - Two roles hold the README's tunnel grants; a superuser gives "west" to
#    tunnel_a (chatgenius.add_tunnel).  tunnel_b tries to make a name of
#    its own that nobody gave it, through every write path
#    (report_status_json, report_status, report_event, report_event_json,
#    report_routes), with state "failed" (1.10 made the row, and
#    health_summary() turned critical for everyone); to write west; to take
#    a row that has no writer (a tunnel that has not reported since 1.8);
#    to give itself a name (add_tunnel, hand_over_tunnel).  Each must be
#    refused (42501, with a hint that says how a name is given), leave no
#    row and no event, and leave health_summary() as it was.
#  - What works: a superuser's add_tunnel (the name's first row, "stopped"
#    until its helper reports; again for the same role: nothing to do; for
#    another role's name: refused, the hint names hand_over_tunnel), the
#    name's writer, hand_over_tunnel of a row without writer.
#  - The real helper, as a role whose TUNNEL_NAME is not assigned, keeps
#    running: it logs the refusal once with the server's hint, keeps its
#    events in the spool, and writes its row and those events once a
#    superuser assigns the name.
# Against a fresh install and one of 1.0 updated to the newest.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tunnel_lib.sh"
. "$TOP/test/lib/attack.sh"
tl_begin sec_names
su_sql postgres "CREATE ROLE tunnel_a LOGIN PASSWORD 'a-pw'" "CREATE ROLE tunnel_b LOGIN PASSWORD 'b-pw'" >/dev/null

# tunnel_grants DB ROLE: the README's grants to the helper's role.
tunnel_grants()
{
	su_sql "$1" "GRANT USAGE ON SCHEMA chatgenius TO $2" \
		"GRANT EXECUTE ON FUNCTION chatgenius.report_status_json, chatgenius.report_event_json,
			chatgenius.report_routes, chatgenius.report_status, chatgenius.report_event,
			chatgenius.health TO $2" \
		"GRANT SELECT ON chatgenius.tunnel_status, chatgenius.schema_migrations TO $2" >/dev/null
}

# try ROLE DB SQL: SQL as ROLE; sets STATE (the SQLSTATE, or "ok"), MSG and
# HINT (the error's primary message and hint).
try()
{
	sql_state "$1" "$2" -c "$3"
	HINT=
	if [[ $OUT =~ HINT:\ +([^$'\n']*) ]]; then
		HINT=${BASH_REMATCH[1]}
	fi
}

status_json()
{
	printf '{"tunnel_name": "%s", "state": "%s", "heartbeat_interval_ms": 1000, "last_error": "forged"}' "$1" "$2"
}

# traces DB NAME: the rows NAME has (status, events, routes).
traces()
{
	su_sql "$1" "SELECT (SELECT count(*) FROM chatgenius.tunnel_status WHERE tunnel_name = '$2')
		+ (SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = '$2')
		+ (SELECT count(*) FROM chatgenius.tunnel_routes WHERE tunnel_name = '$2')"
}

# verdict NAME DB TUNNEL: held when the write was refused with 42501 and
# TUNNEL has no row; succeeded when it went through or left a row; any
# other error is a setup error.
verdict()
{
	local name=$1 db=$2 tunnel=$3 rows
	rows=$(traces "$db" "$tunnel")
	if [ "$STATE" = ok ] || [ "$rows" != 0 ]; then
		attack "$name" 1 "refused with 42501 (got $STATE${MSG:+: $MSG}; $rows row(s) of $tunnel)"
	elif [ "$STATE" = 42501 ]; then
		attack "$name" 0 "refused with 42501: $MSG"
	else
		ok 1 "$name: setup error, the write failed for another reason: $STATE $MSG"
	fi
}

for kind in $SEC_KINDS; do
	db=names_$kind
	sec_db "$db"
	sec_install "$db" "$kind" >/dev/null 2>&1 || bail_out "install ($kind) failed"
	tunnel_grants "$db" tunnel_a
	tunnel_grants "$db" tunnel_b

	# A superuser gives west to tunnel_a.
	is "$(su_sql "$db" "SELECT chatgenius.add_tunnel('west', 'tunnel_a')" 2>&1)" t "$kind: a superuser assigns west to tunnel_a"
	is "$(su_sql "$db" "SELECT state || ' ' || written_by || ' ' || (last_heartbeat IS NULL) FROM chatgenius.tunnel_status WHERE tunnel_name = 'west'")" \
		"stopped tunnel_a true" "$kind: west's first row: stopped, no heartbeat yet, written by tunnel_a"
	try tunnel_a "$db" "SELECT chatgenius.report_status_json('$(status_json west connected)')"
	is "$STATE" ok "$kind: tunnel_a writes west's status"
	try tunnel_a "$db" "SELECT chatgenius.report_event('west', 'connected', 'up', now(), 'a1'), chatgenius.report_routes('west', 'db1:5432', '{}')"
	is "$STATE" ok "$kind: and its events and routes"
	summary=$(su_sql "$db" "SELECT chatgenius.health_summary()")

	# Names nobody gave tunnel_b, through every write path.
	try tunnel_b "$db" "SELECT chatgenius.report_status_json('$(status_json ghost1 failed)')"
	verdict "unassigned_status_json/$kind" "$db" ghost1
	like "$MSG" 'tunnel "ghost1" is not assigned to role "tunnel_b"' "$kind: the refusal names the tunnel and the role"
	like "$HINT" "add_tunnel\('ghost1', 'tunnel_b'\).*chatgenius-tunnel setup" "$kind: the hint says how a name is given"
	try tunnel_b "$db" "SELECT chatgenius.report_status('ghost2', 'failed', 1000, 0, 0, 'forged', 1, 1, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL)"
	verdict "unassigned_status/$kind" "$db" ghost2
	try tunnel_b "$db" "SELECT chatgenius.report_event('ghost3', 'disconnected', 'forged', now(), 'b1')"
	verdict "unassigned_event/$kind" "$db" ghost3
	try tunnel_b "$db" "SELECT chatgenius.report_event_json('{\"tunnel_name\": \"ghost4\", \"event\": \"stopped\", \"occurred_at\": \"$(date -u +%FT%TZ)\", \"event_key\": \"b2\"}')"
	verdict "unassigned_event_json/$kind" "$db" ghost4
	try tunnel_b "$db" "SELECT chatgenius.report_routes('ghost5', 'evil:5432', '{}')"
	verdict "unassigned_routes/$kind" "$db" ghost5
	is "$(su_sql "$db" "SELECT chatgenius.health_summary()")" "$summary" "$kind: health_summary() is as it was ($summary)"

	# Another name's row.
	try tunnel_b "$db" "SELECT chatgenius.report_status_json('$(status_json west failed)')"
	if [ "$STATE" = 42501 ] && [ "$(su_sql "$db" "SELECT state FROM chatgenius.tunnel_status WHERE tunnel_name = 'west'")" = connected ]; then
		attack "overwrite_other_name/$kind" 0 "west's row is tunnel_a's: $MSG"
	else
		attack "overwrite_other_name/$kind" 1 "tunnel_b wrote west's row ($STATE)"
	fi

	# A row without writer (a tunnel that has not reported since 1.8).
	su_sql "$db" "INSERT INTO chatgenius.tunnel_status (tunnel_name, state, heartbeat_interval_ms, updated_at)
		VALUES ('orphan', 'stopped', 30000, now())" >/dev/null
	try tunnel_b "$db" "SELECT chatgenius.report_status_json('$(status_json orphan failed)')"
	if [ "$STATE" = 42501 ] && [ "$(su_sql "$db" "SELECT state || ' ' || coalesce(written_by, '-') FROM chatgenius.tunnel_status WHERE tunnel_name = 'orphan'")" = "stopped -" ]; then
		attack "orphan_row_claimed/$kind" 0 "a row without writer is not the first comer's: $MSG"
	else
		attack "orphan_row_claimed/$kind" 1 "tunnel_b took the orphan row ($STATE)"
	fi

	# Giving itself a name.
	n=0 other=
	for sql in "SELECT chatgenius.add_tunnel('ghost6', 'tunnel_b')" "SELECT chatgenius.hand_over_tunnel('west', 'tunnel_b')"; do
		try tunnel_b "$db" "$sql"
		[ "$STATE" = ok ] && n=$((n + 1))
		[ "$STATE" = ok ] || [ "$STATE" = 42501 ] || other="$other $STATE"
	done
	[ "$(traces "$db" ghost6)" = 0 ] || n=$((n + 1))
	[ "$(su_sql "$db" "SELECT written_by FROM chatgenius.tunnel_status WHERE tunnel_name = 'west'")" = tunnel_a ] || n=$((n + 1))
	if [ -n "$other" ] && [ $n = 0 ]; then
		ok 1 "self_assigned_name/$kind: setup error, refused for another reason:$other"
	else
		attack "self_assigned_name/$kind" "$n" "only a superuser assigns a name ($n of 2 went through)"
	fi

	# What a superuser does.
	is "$(su_sql "$db" "SELECT chatgenius.add_tunnel('west', 'tunnel_a')")" f "$kind: add_tunnel again for the same role: nothing to do"
	like "$(su_sql "$db" "SELECT chatgenius.add_tunnel('west', 'tunnel_b')" 2>&1)" \
		'tunnel "west" is written by role "tunnel_a".*hand_over_tunnel' "$kind: another role's name is refused, the hint names hand_over_tunnel"
	is "$(su_sql "$db" "SELECT chatgenius.hand_over_tunnel('orphan', 'tunnel_b')")" t "$kind: a superuser hands the orphan row over"
	try tunnel_b "$db" "SELECT chatgenius.report_status_json('$(status_json orphan connected)')"
	is "$STATE" ok "$kind: and tunnel_b writes it"
	su_sql "$db" "SELECT chatgenius.forget_tunnel('west', true)" >/dev/null
	try tunnel_a "$db" "SELECT chatgenius.report_status_json('$(status_json west connected)')"
	is "$STATE" 42501 "$kind: a forgotten name is no longer tunnel_a's"

	# The real helper under a name nobody gave its role.
	name=unassigned-$kind
	APP_PORT=$(fx_free_port)
	FX_TUNNEL_PORT=$APP_PORT fx_env_file "$FX_DIR/$name.env" "TUNNEL_NAME=$name" "POSTGRES_DB=$db" \
		POSTGRES_USER=tunnel_b POSTGRES_PASSWORD=b-pw
	: >"$FX_DIR/$name.log"
	fx_bg "$FX_DIR/$name.log" "$FX_HELPER" --env-file "$FX_DIR/$name.env"
	pid=$FX_BG_PID
	fx_wait_for 60 "the helper's refused status" grep -q 'status_not_written' "$FX_DIR/$name.log"
	refused=$?
	if [ $refused = 0 ] && [ "$(traces "$db" "$name")" = 0 ]; then
		attack "helper_unassigned_name/$kind" 0 "the helper's role made no row of its own name"
	else
		attack "helper_unassigned_name/$kind" 1 "the helper's role made its name's row ($(traces "$db" "$name") rows)"
	fi
	like "$(grep -m1 status_not_written "$FX_DIR/$name.log")" "not assigned.*add_tunnel" \
		"$kind: the helper logs the refusal with the server's hint"
	fx_wait_for 60 "the spooled connected event" grep -q 'events_not_written' "$FX_DIR/$name.log"
	ok $? "$kind: its events wait in the spool (events_not_written)"
	su_sql "$db" "SELECT chatgenius.add_tunnel('$name', 'tunnel_b')" >/dev/null
	fx_wait_for 60 "the assigned name's row" bash -c "[ \"\$(PGOPTIONS='-c search_path=pg_catalog' psql -qXAt -d $db -c \
		\"SELECT count(*) FROM chatgenius.tunnel_status s JOIN chatgenius.tunnel_events e USING (tunnel_name)
		  WHERE s.tunnel_name = '$name' AND s.state = 'connected' AND e.event = 'connected'\")\" -ge 1 ]"
	ok $? "$kind: once assigned, the same helper writes its row and the spooled connected event"
	fx_exited "$pid"
	is $? 1 "$kind: the helper kept running throughout"
	cmp_ok "$(grep -c 'status_not_written' "$FX_DIR/$name.log")" -le 1 "$kind: the refusal is logged once, not per check"
	kill -TERM "$pid"
	fx_wait_exit "$pid" 30
	is "$FX_RC" 0 "$kind: the helper stops cleanly"
done

done_testing
