#!/usr/bin/env bash
# Item 5 of the audit in issue 14: hostile operators and functions in
# public, put first in search_path by the database owner (ALTER DATABASE
# ... SET search_path = public, pg_catalog) or by a role for itself (ALTER
# ROLE ... SET), must never run as anyone but the role that wrote them.
#  - database: a superuser installs (or updates) the extension, writes to
#    every table, and calls every function of the extension, in sessions
#    that take the database's search_path;
#  - role: the owner, holding the documented app and tunnel grants, drives
#    every trigger and SECURITY DEFINER function with its own hostile
#    search_path.
# The hostile code warns "EVIL RAN as ROLE" and tries ALTER ROLE ...
# SUPERUSER.  (The notifier's own statements are the realtime tests'.)
# Against a fresh install and one of 1.0 updated to the newest.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
. "$TOP/test/lib/fixture.sh"
. "$TOP/test/lib/attack.sh"
fx_init sec_path
fx_pg_start
A=$FX_APP_USER

# The writes and calls, every name qualified, so that nothing but the
# extension's own code can pick up the hostile operators.  $1: superuser
# (all of it) or app (what the documented grants allow).
workload()
{
	cat <<-'EOF'
		\set ON_ERROR_STOP 0
		INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
			VALUES ('01D00000000000000000000001', 'a|1', 'a@x', 'ann', 'Ann');
		INSERT INTO chatgenius.channels (id, name, created_by)
			VALUES ('01E00000000000000000000001', 'general', '01D00000000000000000000001'),
				('01E00000000000000000000002', 'old', '01D00000000000000000000001');
		INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
			VALUES ('01F00000000000000000000001', '01E00000000000000000000001', '01D00000000000000000000001', 'top');
		INSERT INTO chatgenius.messages (id, channel_id, user_id, content, thread_id)
			VALUES ('01F00000000000000000000002', '01E00000000000000000000001', '01D00000000000000000000001', 'reply', '01F00000000000000000000001');
		INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id)
			VALUES ('01E00000000000000000000001', '01D00000000000000000000001', 'reply to reply', '01F00000000000000000000002');
		UPDATE chatgenius.messages SET content = 'edited', channel_id = '01E00000000000000000000002' WHERE id OPERATOR(pg_catalog.=) '01F00000000000000000000001';
		UPDATE chatgenius.messages SET content = 'edited' WHERE id OPERATOR(pg_catalog.=) '01F00000000000000000000001';
		UPDATE chatgenius.channels SET archived_at = pg_catalog.now(), archived_by = '01D00000000000000000000001' WHERE id OPERATOR(pg_catalog.=) '01E00000000000000000000002';
		INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('01E00000000000000000000002', '01D00000000000000000000001', 'archived');
		INSERT INTO chatgenius.reactions (message_id, user_id, emoji) VALUES ('01F00000000000000000000001', '01D00000000000000000000001', ':+1:');
		DELETE FROM chatgenius.reactions;
		INSERT INTO chatgenius.channel_members (channel_id, user_id) VALUES ('01E00000000000000000000001', '01D00000000000000000000001');
		UPDATE chatgenius.channel_members SET role = 'admin';
		INSERT INTO chatgenius.files (message_id, user_id, name, type, size, url)
			VALUES ('01F00000000000000000000001', '01D00000000000000000000001', 'a', 'text/plain', 1, 'u');
		UPDATE chatgenius.files SET size = 2;
		INSERT INTO chatgenius.user_settings (user_id) VALUES ('01D00000000000000000000001');
		UPDATE chatgenius.user_settings SET theme = 'dark';
		INSERT INTO chatgenius.user_status (user_id) VALUES ('01D00000000000000000000001');
		UPDATE chatgenius.user_status SET presence = 'online';
		INSERT INTO chatgenius.message_reads (user_id, channel_id, last_read_message_id)
			VALUES ('01D00000000000000000000001', '01E00000000000000000000001', '01F00000000000000000000001');
		UPDATE chatgenius.message_reads SET last_read_message_id = '01F00000000000000000000002';
		INSERT INTO chatgenius.sync_state (user_id, channel_id, sync_type) VALUES ('01D00000000000000000000001', '01E00000000000000000000001', 'messages');
		UPDATE chatgenius.sync_state SET sync_status = 'complete';
		UPDATE chatgenius.users SET full_name = 'Ann A';
		SELECT chatgenius.ulid();
		SELECT chatgenius.restoring();
		SELECT chatgenius.report_status_json('{"tunnel_name": "t1", "state": "connected", "heartbeat_interval_ms": 1000}');
		SELECT chatgenius.report_status('t2', 'connected', 1000, 0, 0, NULL, 1, 1, 0, 0, 0, 0, 0, 1, 'h', 'v', NULL);
		SELECT chatgenius.report_event_json('{"tunnel_name": "t1", "event": "connected", "occurred_at": "2025-01-01T00:00:00Z", "event_key": "k1"}');
		SELECT chatgenius.report_event('t2', 'connected', 'd', '2025-01-01 00:00:00+00', 'k2');
		SELECT chatgenius.report_event('t2', 'connected', 'd', '2099-01-01 00:00:00+00', 'k3');
		SELECT chatgenius.report_status_json('{"tunnel_name": "t1", "state": "connected", "heartbeat_interval_ms": 1}');
	EOF
	[ "$1" = superuser ] || return 0
	cat <<-'EOF'
		SELECT * FROM chatgenius.health();
		SELECT chatgenius.health_summary();
		SELECT * FROM chatgenius.pool_stats();
		SELECT chatgenius.schema_fingerprint();
		SELECT * FROM chatgenius.realtime_status();
		SELECT chatgenius.accept_schema('hostile search_path test');
		SELECT chatgenius.hand_over_tunnel('t1', 'postgres');
		SELECT chatgenius.prune_tunnel_events();
		SELECT chatgenius.forget_tunnel('t1', true);
		SELECT chatgenius.forget_tunnel('t2');
		DELETE FROM chatgenius.messages;
		DELETE FROM chatgenius.channels;
		DELETE FROM chatgenius.users;
	EOF
}

for kind in $SEC_KINDS; do
	# 1. The database's search_path, a superuser's sessions.
	db=dbpath_$kind
	sec_db "$db"
	hostile_code "$db" public
	as_role "$A" "$db" -c "ALTER DATABASE $db SET search_path = public, pg_catalog" >/dev/null
	# (the victim's sessions take the database's setting: no PGOPTIONS)
	if [ "$kind" = fresh ]; then
		psql -qXAt -d "$db" -c 'CREATE EXTENSION chatgenius' >"$FX_DIR/$db.out" 2>&1
	else
		psql -qXAt -d "$db" -c "CREATE EXTENSION chatgenius VERSION '1.0'" -c 'ALTER EXTENSION chatgenius UPDATE' \
			>"$FX_DIR/$db.out" 2>&1
	fi
	ok $? "$kind: the superuser installs under the database's hostile search_path"
	is "$(psql -qXAt -d "$db" -c 'SHOW search_path')" "public, pg_catalog" \
		"$kind: the session's search_path is the database's (the attack is set up)"
	workload superuser | psql -qXAt -d "$db" >>"$FX_DIR/$db.out" 2>&1
	held=0
	evil_ran "$FX_DIR/$db.out" && held=1
	owner_attack "hostile_search_path_database/$kind" $held "no hostile operator in public runs as the superuser"
	[ $held = 0 ] || diag "$(grep -m5 'EVIL RAN' "$FX_DIR/$db.out")"

	# 2. The role's own search_path, through the triggers and SECURITY
	# DEFINER functions (whose owner is a superuser).
	db=rolepath_$kind
	sec_db "$db"
	sec_install "$db" "$kind" >/dev/null 2>&1 || bail_out "install ($kind) failed"
	hostile_code "$db" public
	app_grants "\"$A\""
	su_sql "$db" "${APP_GRANTS[@]}" \
		"GRANT EXECUTE ON FUNCTION chatgenius.report_status_json, chatgenius.report_event_json,
			chatgenius.report_status, chatgenius.report_event TO \"$A\"" >/dev/null
	as_role "$A" "$db" -c "ALTER ROLE \"$A\" SET search_path = public, pg_catalog" >/dev/null
	as_role "$A" "$db" -c "SELECT 'x'::varchar = 'x'::varchar" 2>&1 | grep -q "EVIL RAN as $A:"
	ok $? "$kind: the role's own unqualified = runs its hostile operator (the attack is set up)"
	workload app | as_role "$A" "$db" >"$FX_DIR/$db.out" 2>&1
	held=0
	evil_ran "$FX_DIR/$db.out" && held=1
	owner_attack "hostile_search_path_role/$kind" $held "no hostile operator runs with the rights of a SECURITY DEFINER function's owner"
	[ $held = 0 ] || diag "$(grep -m5 'EVIL RAN' "$FX_DIR/$db.out")"
	su_sql postgres "ALTER ROLE \"$A\" RESET search_path" >/dev/null
done

done_testing
