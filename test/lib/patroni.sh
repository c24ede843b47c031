# shellcheck shell=bash
# A Patroni cluster on loopback: one etcd member and two Patroni-managed
# PostgreSQL 15 nodes on 127.0.0.2 and 127.0.0.3 with the same PostgreSQL and
# REST API ports, standing for two database hosts.  Sources
# test/lib/fixture.sh; everything runs as user postgres in FX_DIR (no systemd)
# and is killed by fx_cleanup (the processes are in FX_PIDS).
#
#   . test/lib/patroni.sh
#   fx_init NAME
#   pt_cluster_start          # etcd + node 1 (leader) + node 2 (streaming replica);
#                             # PT_NODES=1: node 1 alone (127.0.0.3 left free)
#   pt_leader                 # prints 1 or 2: who holds the leader lock (GET /primary)
#   pt_psql N ARGS...         # psql as postgres on node N's socket
#   pt_switchover             # patronictl switchover to the other node (no wait)
#   pt_wait_leader N SECONDS  # until node N answers /primary with 200
#   pt_kill N                 # SIGKILL node N's Patroni and PostgreSQL (a dead host)
#   pt_env_file PATH [K=V...] # fx_env_file for both hosts with POSTGRES_PATRONI_PORT
#
# Variables: PT_HOST1 PT_HOST2 (127.0.0.2, 127.0.0.3), PT_PG_PORT, PT_API_PORT,
# PT_ETCD_PORT, PT_DIR.  PT_SYNC=1 before pt_cluster_start turns on Patroni's
# synchronous_mode; PT_LOG_LEVEL=DEBUG logs every REST API request ("API
# thread: ...").  Timing (ttl=10, loop_wait=2, retry_timeout=4): up in
# 5-10 s, a switchover ~2.5 s, a failover 8-10 s.

# shellcheck source=fixture.sh
. "$(dirname "${BASH_SOURCE[0]}")/fixture.sh"
# shellcheck source=tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"

PT_HOST1=127.0.0.2
PT_HOST2=127.0.0.3
PT_SCOPE=chatgenius-test
PT_REPL_PASSWORD=${PT_REPL_PASSWORD:-replicator-secret}

# pt_port_free_everywhere PORT: true when PORT can be bound on both hosts.
pt_port_free_everywhere()
{
	perl -MIO::Socket::INET -e '
		my $port = shift;
		for my $a ("127.0.0.2", "127.0.0.3") {
			IO::Socket::INET->new(Listen => 1, LocalAddr => $a, LocalPort => $port,
				ReuseAddr => 0) or exit 1;
		}' "$1"
}

# pt_shared_port: a port free on 127.0.0.1, .2 and .3.
pt_shared_port()
{
	local p try
	for try in 1 2 3 4 5 6 7 8 9 10; do
		p=$(fx_free_port)
		if pt_port_free_everywhere "$p"; then
			echo "$p"
			return 0
		fi
	done
	fx_die "no port free on 127.0.0.2 and 127.0.0.3"
}

pt_host() { if [ "$1" = 1 ]; then echo "$PT_HOST1"; else echo "$PT_HOST2"; fi; }

# pt_node_config N: node N's Patroni YAML.
pt_node_config()
{
	local n=$1 host
	host=$(pt_host "$n")
	mkdir -p "$PT_DIR/n$n"
	cat >"$PT_DIR/n$n.yml" <<-EOF
		scope: $PT_SCOPE
		name: n$n
		log:
		  level: ${PT_LOG_LEVEL:-WARNING}
		restapi:
		  listen: $host:$PT_API_PORT
		  connect_address: $host:$PT_API_PORT
		etcd3:
		  host: 127.0.0.1:$PT_ETCD_PORT
		bootstrap:
		  dcs:
		    ttl: 10
		    loop_wait: 2
		    retry_timeout: 4
		    maximum_lag_on_failover: 16777216
		    synchronous_mode: ${PT_SYNC:+true}${PT_SYNC:-false}
		    postgresql:
		      use_pg_rewind: true
		      parameters:
		        wal_level: replica
		        hot_standby: 'on'
		        max_wal_senders: 5
		        max_replication_slots: 5
		        wal_log_hints: 'on'
		  initdb:
		    - encoding: UTF8
		    - locale: C.UTF-8
		    - auth-local: trust
		    - auth-host: scram-sha-256
		postgresql:
		  listen: $host:$PT_PG_PORT
		  connect_address: $host:$PT_PG_PORT
		  use_unix_socket: true
		  data_dir: $PT_DIR/n$n/data
		  bin_dir: $FX_PGBIN
		  pgpass: $PT_DIR/n$n/pgpass
		  basebackup:
		    - checkpoint: fast
		  authentication:
		    superuser:
		      username: postgres
		      password: $FX_SUPER_PASSWORD
		    replication:
		      username: replicator
		      password: $PT_REPL_PASSWORD
		  parameters:
		    unix_socket_directories: $PT_DIR/n$n
		    fsync: 'off'
		    full_page_writes: 'off'
		    max_connections: 100
		    timezone: UTC
		    log_min_messages: warning
		    shared_preload_libraries: chatgenius
		  pg_hba:
		    - local all all trust
		    - host replication replicator 127.0.0.0/8 scram-sha-256
		    - host all all 127.0.0.0/8 scram-sha-256
	EOF
}

# pt_api N PATH: the HTTP status of GET PATH on node N's REST API (000: none).
pt_api()
{
	curl -s -o /dev/null -m 2 -w '%{http_code}' "http://$(pt_host "$1"):$PT_API_PORT$2" || true
}

pt_is_leader() { [ "$(pt_api "$1" /primary)" = 200 ]; }
pt_is_replica() { [ "$(pt_api "$1" /replica)" = 200 ]; }

# pt_leader: 1 or 2, the node that answers /primary with 200 (nothing: none).
pt_leader()
{
	if pt_is_leader 1; then echo 1; elif pt_is_leader 2; then echo 2; fi
}

# pt_wait_leader N SECONDS
pt_wait_leader()
{
	fx_wait_for "$2" "node $1 to lead" pt_is_leader "$1"
}

# pt_node_start N: start node N's Patroni (as postgres), its pid in PT_PID_N.
pt_node_start()
{
	fx_as_prefix postgres
	fx_bg "$PT_DIR/n$1.log" "${FX_AS[@]}" patroni "$PT_DIR/n$1.yml"
	eval "PT_PID_$1=$FX_BG_PID"
}

# pt_psql N ARGS...: psql as postgres on node N's socket.
pt_psql()
{
	local n=$1
	shift
	psql -qX -v ON_ERROR_STOP=1 -h "$PT_DIR/n$n" -p "$PT_PG_PORT" -U postgres -d postgres "$@"
}

# pt_begin NAME: how a tunnel test over Patroni starts: the helper built
# and patroni installed, then a fixture named NAME with its sshd (the
# cluster is pt_cluster_start's, with the settings the test gives it).
pt_begin()
{
	[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"
	command -v patroni >/dev/null || bail_out "patroni is not installed (test/deps.sh)"
	fx_init "$1"
	fx_sshd_start
}

# pt_install_extension: CREATE EXTENSION chatgenius on node 1 (the leader)
# and the grants the tunnel's role needs there (the write path,
# tunnel_routes, the schema), as app_install_extension does on the
# fixture's cluster.  Returns psql's status.
pt_install_extension()
{
	pt_psql 1 -d "$FX_APP_DB" >/dev/null <<-EOF
		SET client_min_messages = warning;
		CREATE EXTENSION chatgenius;
		GRANT EXECUTE ON FUNCTION chatgenius.report_status(text, text, integer, integer, bigint, text,
			integer, integer, integer, bigint, integer, bigint, bigint, integer, text, text,
			timestamptz, boolean) TO "$FX_APP_USER";
		GRANT EXECUTE ON FUNCTION chatgenius.report_event(text, text, text, timestamptz, text)
			TO "$FX_APP_USER";
		GRANT EXECUTE ON FUNCTION chatgenius.report_routes(text, text, text[]) TO "$FX_APP_USER";
		GRANT USAGE ON SCHEMA chatgenius TO "$FX_APP_USER";
	EOF
}

# pt_prepare TABLE: the extension on node 1 (pt_install_extension) and
# public.TABLE ("name (columns)"), owned by the app's role, for the test's
# clients to write; either failing is a setup error.
pt_prepare()
{
	pt_install_extension || bail_out "setup error: could not install the extension on node 1"
	pt_psql 1 -d "$FX_APP_DB" >/dev/null <<-EOF || bail_out "setup error: could not create public.${1%% *}"
		CREATE TABLE public.$1;
		ALTER TABLE public.${1%% *} OWNER TO "$FX_APP_USER";
	EOF
}

# pt_streaming: node 2 (or whichever is the replica) streams from the leader.
pt_streaming()
{
	local l
	l=$(pt_leader)
	[ -n "$l" ] || return 1
	[ "$(pt_psql "$l" -Atc "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" -ge 1 ]
}

pt_cluster_start()
{
	command -v patroni >/dev/null || fx_die "patroni is not installed (test/deps.sh)"
	command -v etcd >/dev/null || fx_die "etcd is not installed (test/deps.sh)"
	# A leader asks the other nodes through a thread pool, whose locks are
	# POSIX semaphores in /dev/shm: without them every switchover fails.
	fx_as postgres python3 -c 'import multiprocessing; multiprocessing.Lock()' 2>/dev/null ||
		bail_out "setup error: user postgres cannot make a POSIX semaphore (is /dev/shm a tmpfs of mode 1777?)"
	PT_DIR=$FX_DIR/patroni
	mkdir -p "$PT_DIR"
	FX_CLEANUP_HOOKS+=(pt_cluster_stop)
	PT_ETCD_PORT=$(fx_free_port)
	PT_ETCD_PEER=$(fx_free_port)
	PT_PG_PORT=$(pt_shared_port)
	PT_API_PORT=$(pt_shared_port)
	[ "$PT_API_PORT" != "$PT_PG_PORT" ] || PT_API_PORT=$(pt_shared_port)
	pt_node_config 1
	pt_node_config 2
	chown -R postgres: "$PT_DIR"
	chmod 700 "$PT_DIR"/n1 "$PT_DIR"/n2
	fx_as_prefix postgres
	fx_bg "$PT_DIR/etcd.log" "${FX_AS[@]}" etcd --name e0 --data-dir "$PT_DIR/etcd" \
		--listen-client-urls "http://127.0.0.1:$PT_ETCD_PORT" \
		--advertise-client-urls "http://127.0.0.1:$PT_ETCD_PORT" \
		--listen-peer-urls "http://127.0.0.1:$PT_ETCD_PEER" \
		--initial-advertise-peer-urls "http://127.0.0.1:$PT_ETCD_PEER" \
		--initial-cluster "e0=http://127.0.0.1:$PT_ETCD_PEER"
	fx_wait_for 20 "etcd" fx_port_open "$PT_ETCD_PORT" ||
		fx_die "etcd did not start: $(tail -5 "$PT_DIR/etcd.log")"
	pt_node_start 1
	pt_wait_leader 1 60 || fx_die "node 1 did not lead: $(tail -5 "$PT_DIR/n1.log")"
	pt_psql 1 >/dev/null <<-EOF || fx_die "could not create the app role"
		CREATE ROLE "$FX_APP_USER" LOGIN PASSWORD '$FX_APP_PASSWORD';
		CREATE DATABASE "$FX_APP_DB" OWNER "$FX_APP_USER";
	EOF
	if [ "${PT_NODES:-2}" = 1 ]; then
		fx_log "patroni cluster up: leader $PT_HOST1 alone, postgres :$PT_PG_PORT, api :$PT_API_PORT"
		return 0
	fi
	pt_node_start 2
	fx_wait_for 60 "node 2 to stream" pt_streaming ||
		fx_die "node 2 did not stream: $(tail -5 "$PT_DIR/n2.log")"
	fx_wait_for 20 "node 2 to be a replica" pt_is_replica 2 || fx_die "node 2 is no replica"
	fx_log "patroni cluster up: leader $PT_HOST1, replica $PT_HOST2, postgres :$PT_PG_PORT, api :$PT_API_PORT"
}

# pt_patronictl ARGS...: patronictl against this cluster's etcd.
pt_patronictl()
{
	fx_as postgres patronictl -c "$PT_DIR/n1.yml" "$@"
}

# pt_switchover: a planned switchover from the leader to the other node.
pt_switchover()
{
	local l c
	l=$(pt_leader)
	c=$((3 - l))
	pt_patronictl switchover "$PT_SCOPE" --leader "n$l" --candidate "n$c" --force >"$PT_DIR/switchover.log" 2>&1
}

# pt_pg_pid N: node N's postmaster pid.
pt_pg_pid()
{
	head -1 "$PT_DIR/n$1/data/postmaster.pid" 2>/dev/null
}

# pt_kill N: SIGKILL node N's Patroni, then its PostgreSQL (every backend).
pt_kill()
{
	local pp pgpid
	pp=$(eval echo "\$PT_PID_$1")
	pgpid=$(pt_pg_pid "$1")
	# runuser's child is patroni itself
	pkill -KILL -P "$pp" 2>/dev/null || true
	kill -KILL "$pp" 2>/dev/null || true
	wait "$pp" 2>/dev/null || true	# reaped here: no "Killed" line from the shell
	if [ -n "$pgpid" ]; then
		kill -KILL "$pgpid" 2>/dev/null || true
		pkill -KILL -P "$pgpid" 2>/dev/null || true
	fi
}

# pt_cluster_stop: Patroni first (it stops its PostgreSQL), then whatever
# PostgreSQL is left (immediate), then etcd.  A cleanup hook.
pt_cluster_stop()
{
	local n pp
	[ -n "${PT_DIR:-}" ] || return 0
	for n in 1 2; do
		pp=$(eval echo "\${PT_PID_$n:-}")
		[ -n "$pp" ] && kill -TERM "$pp" 2>/dev/null
	done
	for n in 1 2; do
		pp=$(eval echo "\${PT_PID_$n:-}")
		[ -n "$pp" ] && fx_wait_for 15 "patroni n$n to stop" fx_exited "$pp"
	done
	for n in 1 2; do
		[ -f "$PT_DIR/n$n/data/postmaster.pid" ] &&
			fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$PT_DIR/n$n/data" -m immediate -w -t 10 stop >/dev/null 2>&1
	done
	true
}

# pt_env_file PATH [K=V...]: the helper's env file for both hosts, its
# tunnel name given to its role on the leader (as setup would).
pt_env_file()
{
	local path=$1
	shift
	FX_PG_PORT=${FX_PG_PORT:-$PT_PG_PORT} fx_env_file "$path" "POSTGRES_REMOTE_HOST=$PT_HOST1,$PT_HOST2" \
		"POSTGRES_REMOTE_PORT=$PT_PG_PORT" "POSTGRES_PATRONI_PORT=$PT_API_PORT" "$@"
	fx_give_tunnel "$path" pt_psql "$(pt_leader)"
}
