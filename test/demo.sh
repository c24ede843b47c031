#!/usr/bin/env bash
# The whole chatgenius story on an embedded default, in about a minute:
# a throwaway cluster and a loopback sshd (generated keys, known_hosts), the
# tunnel up, setup from 1.0 to the newest, a little chat through the tunnel,
# verify, pool_stats(), the SSH server killed and brought back with the
# recovery shown in tunnel_events, and everything torn down.
#
# Installs missing Debian packages, builds and installs first (root).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

. test/lib/demo_lib.sh
fx_init demo

step "a throwaway PostgreSQL cluster and a loopback sshd (ed25519 keys, known_hosts)"
fx_pg_start
fx_sshd_start
env_file=$FX_DIR/.env.local
fx_env_file "$env_file" SSH_MAX_RETRIES=8 SSH_RETRY_DELAY=250 SSH_HEALTH_CHECK_INTERVAL=1000 \
	SSH_KEEPALIVE_INTERVAL=1000 TUNNEL_NAME=demo
echo "env file: $env_file"
sed 's/^POSTGRES_PASSWORD=.*/POSTGRES_PASSWORD=********/' "$env_file" | grep -v '^#' | sed 's/^/    /'

step "the database as an old ChatGenius left it: extension 1.0 with a few rows"
fx_psql -d "$FX_APP_DB" <<-'EOF'
	CREATE EXTENSION chatgenius VERSION '1.0';
	INSERT INTO chatgenius.users (auth0_id, email, username, full_name)
	VALUES ('auth0|ada', 'ada@example.com', 'ada', 'Ada Lovelace');
	INSERT INTO chatgenius.channels (name, topic, type, created_by)
	SELECT 'general', 'Company-wide', 'public', id FROM chatgenius.users WHERE username = 'ada';
EOF
fx_psql -d "$FX_APP_DB" -c "SELECT extversion FROM pg_extension WHERE extname = 'chatgenius'"

step "chatgenius-tunnel setup (as the superuser, through its own tunnel): 1.0 -> newest"
POSTGRES_USER=postgres POSTGRES_PASSWORD=$FX_SUPER_PASSWORD \
	"$FX_HELPER" setup --env-file "$env_file"

echo "real-time delivery (shared_preload_libraries = 'chatgenius', set by the fixture):"
fx_psql -d "$FX_APP_DB" -c "SELECT mode, preloaded FROM chatgenius.realtime_status()"

step "grants for the app's role (chat) and the helper's role (here the same role)"
fx_psql -d "$FX_APP_DB" <<-EOF
	GRANT USAGE ON SCHEMA chatgenius TO $FX_APP_USER;
	GRANT SELECT, INSERT, UPDATE, DELETE ON chatgenius.users, chatgenius.channels,
		chatgenius.messages, chatgenius.reactions, chatgenius.channel_members,
		chatgenius.files, chatgenius.user_settings, chatgenius.user_status,
		chatgenius.message_reads, chatgenius.sync_state TO $FX_APP_USER;
	GRANT EXECUTE ON FUNCTION chatgenius.report_status, chatgenius.report_event TO $FX_APP_USER;
	GRANT pg_monitor TO $FX_APP_USER;
EOF
echo "granted"

step "chatgenius-tunnel run: the tunnel up on 127.0.0.1:$FX_TUNNEL_PORT"
helper_log=$FX_DIR/tunnel.log
fx_bg "$helper_log" "$FX_HELPER" run --env-file "$env_file"
helper_pid=$FX_BG_PID
tunnel_connected()
{
	[ "$(fx_psql -d "$FX_APP_DB" -Atc "SELECT state FROM chatgenius.tunnel_status WHERE tunnel_name = 'demo' AND last_heartbeat IS NOT NULL")" = connected ]
}
fx_wait_for 30 "the tunnel's first heartbeat" tunnel_connected || { cat "$helper_log"; exit 1; }
sed 's/^/    /' "$helper_log"

step "a little chat traffic through the tunnel, as the app's role"
fx_app_psql <<-'EOF'
	INSERT INTO chatgenius.users (auth0_id, email, username, full_name)
	VALUES ('auth0|grace', 'grace@example.com', 'grace', 'Grace Hopper');
	WITH c AS (SELECT id FROM chatgenius.channels WHERE name = 'general'),
	     u AS (SELECT id, username FROM chatgenius.users)
	INSERT INTO chatgenius.messages (channel_id, user_id, content)
	SELECT c.id, u.id, 'hello from ' || u.username FROM c, u;
	WITH m AS (SELECT id, channel_id FROM chatgenius.messages ORDER BY created_at, id LIMIT 1),
	     g AS (SELECT id FROM chatgenius.users WHERE username = 'grace')
	INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id)
	SELECT m.channel_id, g.id, 'a reply in the thread', m.id FROM m, g;
	WITH m AS (SELECT id FROM chatgenius.messages ORDER BY created_at, id LIMIT 1),
	     g AS (SELECT id FROM chatgenius.users WHERE username = 'grace')
	INSERT INTO chatgenius.reactions (message_id, user_id, emoji) SELECT m.id, g.id, ':tada:' FROM m, g;
	\echo 'the history page of #general, newest first:'
	SELECT u.username, m.content, m.thread_id IS NOT NULL AS reply
	FROM chatgenius.messages m JOIN chatgenius.users u ON u.id = m.user_id
	JOIN chatgenius.channels c ON c.id = m.channel_id
	WHERE c.name = 'general' AND m.deleted_at IS NULL
	ORDER BY m.created_at DESC, m.id DESC LIMIT 20;
EOF

step "chatgenius-tunnel verify"
"$FX_HELPER" verify --env-file "$env_file"

step "pool_stats() under load: 6 clients at once, each on its own SSH channel"
load_pids=()
for i in 1 2 3 4 5 6; do
	fx_app_psql -c "SELECT pg_sleep(4)" >/dev/null &
	load_pids+=($!)
done
# The helper reports its pool figures with every heartbeat (each second here).
pool_busy()
{
	[ "$(fx_psql -d "$FX_APP_DB" -Atc "SELECT channels_active FROM chatgenius.pool_stats() WHERE tunnel_name = 'demo'")" -ge 6 ]
}
fx_wait_for 15 "the pool figures to show the 6 clients" pool_busy
fx_psql -d "$FX_APP_DB" -x -c "SELECT * FROM chatgenius.pool_stats()"
wait "${load_pids[@]}"

step "the SSH server killed, then brought back: the same helper process recovers"
fx_sshd_stop
echo "sshd killed"
reconnecting()
{
	grep -q 'event=reconnecting' "$helper_log"
}
fx_wait_for 30 "the helper to notice" reconnecting
echo "chatgenius-tunnel status, while the helper reconnects (the database is out of reach):"
status_rc=0
status_out=$("$FX_HELPER" status --env-file "$env_file") || status_rc=$?
printf '%s\n' "$status_out" | sed 's/^/    /'
echo "    (exit $status_rc: 0 serving, 1 degraded or reconnecting, 2 not running)"
fx_sshd_start
recovered()
{
	[ "$(fx_psql -d "$FX_APP_DB" -Atc "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'demo' AND event = 'reconnected'")" -ge 1 ]
}
fx_wait_for 60 "the reconnected event in tunnel_events" recovered || { cat "$helper_log"; exit 1; }
fx_psql -d "$FX_APP_DB" -c "SELECT occurred_at, event, detail FROM chatgenius.tunnel_events WHERE tunnel_name = 'demo' ORDER BY occurred_at, id"
fx_psql -d "$FX_APP_DB" -c "SELECT * FROM chatgenius.health()"

step "stopping the helper (SIGTERM) and tearing everything down"
kill -TERM "$helper_pid"
rc=0
wait "$helper_pid" || rc=$?
echo "chatgenius-tunnel exited with $rc"
tail -n 3 "$helper_log" | sed 's/^/    /'
[ "$rc" -eq 0 ]
echo
echo "demo finished: every step passed"
