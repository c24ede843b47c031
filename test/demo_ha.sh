#!/usr/bin/env bash
# The high-availability act, in about a minute: a Patroni cluster (etcd and
# two PostgreSQL nodes on 127.0.0.2 and 127.0.0.3, synchronous_mode), one
# chatgenius-tunnel given both hosts and Patroni's API port, an app writing
# through it, a planned switchover while it writes, and what the tunnel saw:
# its events, where its ports route now, and the writes that went through.
#
# Installs missing Debian packages, builds and installs first (root).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

. test/lib/demo_lib.sh
. test/lib/patroni.sh
fx_init demoha

step "a Patroni cluster: etcd, node 1 (leader) on $PT_HOST1, node 2 (replica) on $PT_HOST2"
fx_sshd_start
PT_SYNC=1 pt_cluster_start
pt_patronictl list

step "one tunnel for both hosts, asking Patroni who leads"
STANDBY_PORT=$(fx_free_port)
env_file=$FX_DIR/.env.local
pt_env_file "$env_file" TUNNEL_NAME=demo-ha SSH_HEALTH_CHECK_INTERVAL=1000 \
	TUNNEL_STANDBY_PORT="$STANDBY_PORT" TUNNEL_CLIENT_WAIT=30000
grep -E '^(POSTGRES_REMOTE|POSTGRES_PATRONI|TUNNEL_STANDBY|POSTGRES_PORT)' "$env_file" | sed 's/^/    /'
POSTGRES_USER=postgres POSTGRES_PASSWORD=$FX_SUPER_PASSWORD \
	"$FX_HELPER" setup --env-file "$env_file" 2>/dev/null | tail -3
pt_psql 1 -d "$FX_APP_DB" >/dev/null <<-EOF
	GRANT USAGE ON SCHEMA chatgenius TO $FX_APP_USER;
	GRANT EXECUTE ON FUNCTION chatgenius.report_status, chatgenius.report_event,
		chatgenius.report_routes TO $FX_APP_USER;
	CREATE TABLE public.demo_writes (n integer PRIMARY KEY, at timestamptz DEFAULT now());
	ALTER TABLE public.demo_writes OWNER TO $FX_APP_USER;
EOF
fx_bg "$FX_DIR/tunnel.log" "$FX_HELPER" --env-file "$env_file"
fx_wait_for 30 "the tunnel" grep -q 'event=connected' "$FX_DIR/tunnel.log"
sleep 1.5
export PGPASSWORD=$FX_APP_PASSWORD
echo "primary port  -> $(psql -qXAt -h 127.0.0.1 -p "$FX_TUNNEL_PORT" -U "$FX_APP_USER" -d "$FX_APP_DB" -c 'SELECT inet_server_addr()')"
echo "standby port  -> $(psql -qXAt -h 127.0.0.1 -p "$STANDBY_PORT" -U "$FX_APP_USER" -d "$FX_APP_DB" -c 'SELECT inet_server_addr()')"

step "the app writes through the tunnel (a new connection per write); patronictl switchover"
(
	i=0
	while [ ! -e "$FX_DIR/stop" ]; do
		i=$((i + 1))
		psql -qXAt -h 127.0.0.1 -p "$FX_TUNNEL_PORT" -U "$FX_APP_USER" -d "$FX_APP_DB" \
			-c "INSERT INTO demo_writes VALUES ($i)" >/dev/null 2>&1 && echo "$i" >>"$FX_DIR/acked"
	done
) &
writer=$!
sleep 3
pt_switchover
pt_wait_leader 2 30
sleep 4
touch "$FX_DIR/stop"
wait "$writer"
pt_patronictl list

step "what the tunnel saw"
grep -E 'event=(primary_changed|standby_down)|msg=(routes|primary_lost)' "$FX_DIR/tunnel.log" | cut -c1-200
sleep 1.5
pt_psql 2 -d "$FX_APP_DB" -c "SELECT tunnel_name, primary_host, standby_hosts FROM chatgenius.tunnel_routes"
pt_psql 2 -d "$FX_APP_DB" -c "SELECT event, detail FROM chatgenius.tunnel_events
	WHERE event = 'primary_changed' ORDER BY id"
echo "writes acknowledged: $(wc -l <"$FX_DIR/acked"); in the table on the new primary: $(pt_psql 2 -d "$FX_APP_DB" -Atc 'SELECT count(*) FROM demo_writes')"
pt_psql 2 -d "$FX_APP_DB" -c "SELECT min(at) AS first, max(at) AS last,
	max(gap) AS longest_gap FROM (SELECT at, at - lag(at) OVER (ORDER BY n) AS gap FROM demo_writes) g"

step "done: tearing everything down"
