#!/usr/bin/env bash
# Item 4 and part of item 5 of issue 14: a tunnel's status belongs to its
# writer, and LISTEN tells no secrets.
#  - Two helpers' roles hold the documented grants.  One writes tunnel
#    "west" (a superuser gave it the name, 1.11); the other must not
#    overwrite its status row or add to its events (through either write
#    path), until a superuser hands it over.  (Names nobody was given:
#    tunnel_names.t.)
#  - The writer itself is refused absurd values: a heartbeat interval
#    outside 100 ms .. 24 h (2147483647 would make a stale tunnel look
#    fresh), an event that occurred in 2099 (it would outlive every prune).
#  - A role with CONNECT only (no USAGE on the schema) that LISTENs on
#    chatgenius_tunnel learns no detail text.
# Against a fresh install and one of 1.0 updated to the newest.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/attack.sh"
. "$TOP/test/lib/rt_lib.sh"
fx_init sec_tunnel
fx_pg_start
rt_build_listener
su_sql postgres 'CREATE ROLE tunnel_a LOGIN' 'CREATE ROLE tunnel_b LOGIN' 'CREATE ROLE nosy LOGIN' >/dev/null

# st ROLE DB SQL: one statement as ROLE; prints the error's first line, if any.
st()
{
	as_role "$1" "$2" -v ON_ERROR_STOP=1 -c "$3" 2>&1 >/dev/null | sed -n 's/^ERROR:  //p' | head -1
}

status_json()
{
	printf '{"tunnel_name": "%s", "state": "connected", "heartbeat_interval_ms": %s, "pool_size": 1}' "$1" "$2"
}

for kind in $SEC_KINDS; do
	db=tunnel_$kind
	sec_db "$db"
	sec_install "$db" "$kind" >/dev/null 2>&1 || bail_out "install ($kind) failed"
	for r in tunnel_a tunnel_b; do
		su_sql "$db" "GRANT USAGE ON SCHEMA chatgenius TO $r" \
			"GRANT EXECUTE ON FUNCTION chatgenius.report_status_json, chatgenius.report_event_json,
				chatgenius.report_status, chatgenius.report_event, chatgenius.report_routes TO $r" >/dev/null
	done
	su_sql "$db" "SELECT chatgenius.add_tunnel('west', 'tunnel_a')" "SELECT chatgenius.add_tunnel('east', 'tunnel_b')" >/dev/null
	is "$(st tunnel_a "$db" "SELECT chatgenius.report_status_json('$(status_json west 1000)')")" "" \
		"$kind: tunnel_a writes tunnel west"
	is "$(st tunnel_a "$db" "SELECT chatgenius.report_event('west', 'connected', 'up', now(), 'a1')")" "" \
		"$kind: tunnel_a logs an event of west"

	# The other role, both write paths.
	n=0
	e=$(st tunnel_b "$db" "SELECT chatgenius.report_status_json('$(status_json west 1000)')")
	[ -z "$e" ] && n=$((n + 1))
	st tunnel_b "$db" "SELECT chatgenius.report_status('west', 'connected', 1000, 0, 0, NULL, 1, 1, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL)" | grep -q . || n=$((n + 1))
	attack "forged_status_row/$kind" "$n" "another tunnel's role cannot write west's status ($n of 2 went through)"
	like "$e" 'tunnel "west" is written by role "tunnel_a"' "$kind: the refusal names the writer"
	n=0
	st tunnel_b "$db" "SELECT chatgenius.report_event('west', 'disconnected', 'forged', now(), 'b1')" | grep -q . || n=$((n + 1))
	st tunnel_b "$db" "SELECT chatgenius.report_event_json('{\"tunnel_name\": \"west\", \"event\": \"stopped\", \"occurred_at\": \"$(date -u +%FT%TZ)\", \"event_key\": \"b2\"}')" | grep -q . || n=$((n + 1))
	attack "forged_events/$kind" "$n" "another tunnel's role cannot add to west's events ($n of 2 went through)"
	is "$(su_sql "$db" "SELECT count(*) FROM chatgenius.tunnel_events WHERE event_key LIKE 'b%'")" 0 "$kind: no forged event is in the log"
	is "$(st tunnel_b "$db" "SELECT chatgenius.report_status_json('$(status_json east 1000)')")" "" \
		"$kind: tunnel_b writes a tunnel of its own"
	# The routes of a multi-host tunnel (tunnel_routes) are status too.
	is "$(st tunnel_a "$db" "SELECT chatgenius.report_routes('west', 'db1:5432', '{db2:5432}')")" "" \
		"$kind: tunnel_a reports west's routes"
	n=0
	st tunnel_b "$db" "SELECT chatgenius.report_routes('west', 'evil:5432', '{}')" | grep -q . || n=$((n + 1))
	attack "forged_routes/$kind" "$n" "another tunnel's role cannot rewrite west's routes ($n of 1 went through)"
	is "$(su_sql "$db" "SELECT primary_host FROM chatgenius.tunnel_routes WHERE tunnel_name = 'west'")" db1:5432 \
		"$kind: west's routes are tunnel_a's"

	# Absurd values, from the writer itself.
	n=0
	for ms in 2147483647 86400001 99 0; do
		e=$(st tunnel_a "$db" "SELECT chatgenius.report_status_json('$(status_json west "$ms")')")
		[ -z "$e" ] && n=$((n + 1))
	done
	attack "absurd_heartbeat_interval/$kind" "$n" "intervals outside 100 ms .. 24 h are refused ($n of 4 went through)"
	like "$e" 'heartbeat_interval_ms must be between 100 and 86400000, not 0' "$kind: the refusal gives the range"
	is "$(su_sql "$db" "SELECT heartbeat_interval_ms FROM chatgenius.tunnel_status WHERE tunnel_name = 'west'")" 1000 \
		"$kind: the row keeps its interval"
	is "$(st tunnel_a "$db" "SELECT chatgenius.report_status_json('$(status_json west 100)'), chatgenius.report_status_json('$(status_json west 86400000)')")" "" \
		"$kind: 100 ms and 24 h are taken"
	n=0
	e=$(st tunnel_a "$db" "SELECT chatgenius.report_event('west', 'connected', 'from the future', '2099-01-01 00:00:00+00', 'a2')")
	[ -z "$e" ] && n=$((n + 1))
	st tunnel_a "$db" "SELECT chatgenius.report_event_json('{\"tunnel_name\": \"west\", \"event\": \"connected\", \"occurred_at\": \"2099-01-01T00:00:00Z\", \"event_key\": \"a3\"}')" | grep -q . || n=$((n + 1))
	attack "future_event/$kind" "$n" "an event in 2099 is refused ($n of 2 went through)"
	like "$e" 'occurred_at .* is in the future' "$kind: the refusal says why"
	is "$(st tunnel_a "$db" "SELECT chatgenius.report_event('west', 'connected', 'clock a bit ahead', now() + interval '1 minute', 'a4')")" "" \
		"$kind: a minute ahead (clock skew) is taken"

	# A superuser hands west over.
	is "$(su_sql "$db" "SELECT chatgenius.hand_over_tunnel('west', 'tunnel_b')")" t "$kind: a superuser hands west over"
	is "$(st tunnel_b "$db" "SELECT chatgenius.report_status_json('$(status_json west 1000)')")" "" "$kind: the new writer writes"
	like "$(st tunnel_a "$db" "SELECT chatgenius.report_status_json('$(status_json west 1000)')")" 'written by role "tunnel_b"' \
		"$kind: the old one no longer does"
	like "$(st tunnel_a "$db" "SELECT chatgenius.hand_over_tunnel('west', 'tunnel_a')")" 'permission denied' \
		"$kind: only a superuser hands a tunnel over"

	# LISTEN without USAGE on the schema.
	su_sql "$db" "REVOKE ALL ON SCHEMA chatgenius FROM nosy" >/dev/null
	: >"$FX_DIR/nosy.log"
	fx_bg "$FX_DIR/nosy.log" "$FX_DIR/listen" "host=$FX_PG_DIR port=$FX_PG_PORT user=nosy dbname=$db" chatgenius_tunnel
	pid=$FX_BG_PID
	fx_wait_for 20 "nosy listens" grep -q '^# listening' "$FX_DIR/nosy.log" || bail_out "listener did not start"
	st tunnel_b "$db" "SELECT chatgenius.report_event('west', 'health_check_failed', 'could not connect to db-secret.internal:5432: password authentication failed', now(), 'b9')" >/dev/null
	fx_wait_for 20 "the notification" grep -q 'health_check_failed' "$FX_DIR/nosy.log"
	got=$?
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	is "$got" 0 "$kind: a listener still learns that west's health check failed"
	grep -q 'db-secret' "$FX_DIR/nosy.log"
	attack "listen_detail/$kind" $((1 - $?)) "a listener without USAGE reads no detail text"
	# The documented way (doc/security.md, Listeners) to close LISTEN to other roles: CONNECT for the app's roles only.
	su_sql "$db" "REVOKE CONNECT ON DATABASE $db FROM PUBLIC" "GRANT CONNECT ON DATABASE $db TO tunnel_a, tunnel_b" >/dev/null
	like "$(as_role nosy "$db" -c 'LISTEN chatgenius_tunnel' 2>&1)" 'permission denied for database' \
		"$kind: after REVOKE CONNECT ... FROM PUBLIC the other role cannot listen"
	is "$(st tunnel_a "$db" 'SELECT 1')" "" "$kind: the granted roles still connect"
done

done_testing
