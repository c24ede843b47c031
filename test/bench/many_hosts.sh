#!/usr/bin/env bash
# Many app hosts, on one machine: HOSTS (20) helpers, each with its own
# listener, clients and tunnel name, through one sshd to one Patroni
# cluster (etcd and two PostgreSQL nodes, test/lib/patroni.sh), with
# POSTGRES_PATRONI_PORT probing on, at each health check interval of
# INTERVALS (the default 30 s, and 2 s).  Each helper serves CLIENTS pgbench
# -S clients at RATE transactions a second (the app host's traffic).  Over a
# window of SECS seconds of that steady state it measures:
#   - sshd's CPU: every process below the fixture's sshd (one monitor and
#     one session process per SSH session), % of a core and per helper;
#   - the helpers' CPU, % of a core per helper;
#   - the status writes: tunnel_status rows updated (heartbeats and pool
#     figures) and tunnel_events rows inserted, a second, on the primary
#     (pg_stat_user_tables);
#   - the probes Patroni's REST API receives, a second, per node and in all
#     (its DEBUG log's "API thread" lines), with their latency as Patroni
#     logs it;
# and then health()'s latency with the HOSTS tunnel rows and EVENTS
# (1,000,000) rows in tunnel_events, while the helpers run: in-server (a DO
# loop, the backend status array re-read on every call) and end to end
# (pgbench, one call a transaction, over the primary's socket).
# The machine is measured too: the CPU other work took during the window
# (the machine's busy time less the bench's processes), flagged busy over
# OTHER_BUSY_PCT (20) percent of a core.  Prints one table.  Not part of
# the test suite.
#
#   test/bench/many_hosts.sh                      (as root; about 4 minutes)
#   HOSTS=50 INTERVALS=2000 SECS=30 test/bench/many_hosts.sh
set -u
cd "$(dirname "$0")/../.." || exit 1
export PATH="$(pg_config --bindir):$PATH"
[ -n "${FX_HELPER:-}" ] || make -s -C helper || exit 1
. test/lib/fixture.sh
. test/lib/patroni.sh
. test/lib/cpu.sh

HOSTS=${HOSTS:-20}
INTERVALS=${INTERVALS:-"30000 2000"}
SECS=${SECS:-60}
CLIENTS=${CLIENTS:-2}
RATE=${RATE:-20}
EVENTS=${EVENTS:-1000000}
CALLS=${CALLS:-2000}
OTHER_BUSY_PCT=${OTHER_BUSY_PCT:-20}
command -v patroni >/dev/null || fx_die "patroni is not installed (test/deps.sh)"
[ -x "$FX_HELPER" ] || fx_die "no helper at $FX_HELPER (make -C helper)"

fx_init bench-hosts
fx_sshd_start
PT_LOG_LEVEL=DEBUG pt_cluster_start
export PGPASSWORD=$FX_APP_PASSWORD

# The extension and the tunnel role's rights (pt_install_extension), HOSTS
# tunnel names given to the tunnel role (add_tunnel, as a superuser
# registers a deployment's names), EVENTS events spread over them, and
# pgbench's tables for the clients.
fx_log "loading $HOSTS tunnels and $EVENTS tunnel events"
pt_install_extension || fx_die "could not install the extension"
pt_psql 1 -d "$FX_APP_DB" >/dev/null <<-EOF || fx_die "could not prepare the database"
	SELECT chatgenius.add_tunnel('host-' || lpad(i::text, 3, '0'), '$FX_APP_USER')
	  FROM generate_series(1, $HOSTS) i;
	INSERT INTO chatgenius.tunnel_events (tunnel_name, event, detail, occurred_at, event_key)
	SELECT 'host-' || lpad((1 + i % $HOSTS)::text, 3, '0'),
		(ARRAY['connected', 'disconnected', 'reconnecting', 'reconnected', 'health_check_failed'])[1 + i % 5],
		'event ' || i, now() - i * interval '1 s', 'key-' || i
	  FROM generate_series(1, $EVENTS) i;
	VACUUM ANALYZE chatgenius.tunnel_status;
	VACUUM ANALYZE chatgenius.tunnel_events;
EOF
leader=$(pt_leader)
pgbench -i -q -s 1 -h "$(pt_host "$leader")" -p "$PT_PG_PORT" -U "$FX_APP_USER" "$FX_APP_DB" \
	>"$FX_DIR/init.log" 2>&1 || fx_die "pgbench -i failed: $(tail -3 "$FX_DIR/init.log")"

# api_requests: "NODE1 NODE2" REST API requests logged so far.
api_requests()
{
	echo "$(grep -c 'API thread' "$PT_DIR/n1.log") $(grep -c 'API thread' "$PT_DIR/n2.log")"
}

# api_latency_p50 FROM1 FROM2: the median latency (ms) Patroni logged for
# the requests after line counts FROM1, FROM2.
api_latency_p50()
{
	{
		grep 'API thread' "$PT_DIR/n1.log" | tail -n +"$(($1 + 1))"
		grep 'API thread' "$PT_DIR/n2.log" | tail -n +"$(($2 + 1))"
	} | sed -n 's/.*latency: \([0-9.]*\) ms.*/\1/p' | sort -g |
		awk '{v[NR] = $1} END {if (NR) printf "%.1f", v[int((NR + 1) / 2)]; else print "-"}'
}

# writes: "WRITTEN INSERTED" rows of tunnel_status and tunnel_events so
# far (each helper's reporter commits every interval, and a commit flushes
# its backend's counters when a second has passed since the last).
writes()
{
	pt_psql "$leader" -d "$FX_APP_DB" -Atc "SELECT
		(SELECT n_tup_upd + n_tup_ins FROM pg_stat_user_tables WHERE relid = 'chatgenius.tunnel_status'::regclass),
		(SELECT n_tup_ins FROM pg_stat_user_tables WHERE relid = 'chatgenius.tunnel_events'::regclass)" |
		tr '|' ' '
}

sshd_ticks()
{
	# shellcheck disable=SC2046
	cpu_ticks $(fx_descendants "$FX_SSHD_PID" | grep -vx "$FX_SSHD_PID")
}

# bench_ticks: every tick of this shell's descendants (sshd, etcd, Patroni
# and its PostgreSQL nodes, the helpers, the clients) and what they reaped.
bench_ticks()
{
	cpu_tree_ticks $$ "$FX_SSHD_PID"
}

connected()
{
	local i
	for ((i = 1; i <= HOSTS; i++)); do
		grep -q 'event=connected' "$FX_DIR/host-$i.log" || return 1
	done
}

# health_us: µs per health() call in-server, as test/bench/health.sh
# measures it (the loop's own cost taken away).
health_us()
{
	pt_psql "$leader" -d "$FX_APP_DB" -Atc "DO \$\$
		DECLARE t0 timestamptz; loop_us float8; total_us float8;
		BEGIN
			PERFORM count(*) FROM chatgenius.health();
			t0 := clock_timestamp();
			FOR i IN 1 .. $CALLS LOOP PERFORM pg_stat_clear_snapshot(); END LOOP;
			loop_us := extract(epoch FROM clock_timestamp() - t0) * 1e6;
			t0 := clock_timestamp();
			FOR i IN 1 .. $CALLS LOOP
				PERFORM pg_stat_clear_snapshot();
				PERFORM count(*) FROM chatgenius.health();
			END LOOP;
			total_us := extract(epoch FROM clock_timestamp() - t0) * 1e6;
			RAISE NOTICE '%', round(((total_us - loop_us) / $CALLS)::numeric, 1);
		END \$\$" 2>&1 | sed -n 's/.*NOTICE: *//p'
}

# health_pgbench: "TPS P50_MS P99_MS" of SELECT * FROM health() end to end.
health_pgbench()
{
	echo 'SELECT * FROM chatgenius.health();' >"$FX_DIR/health.sql"
	pgbench -n -f "$FX_DIR/health.sql" -c 1 -T 5 -l --log-prefix="$FX_DIR/hlog" -h "$PT_DIR/n$leader" \
		-p "$PT_PG_PORT" -U postgres "$FX_APP_DB" >"$FX_DIR/health.out" 2>&1
	printf '%s ' "$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$FX_DIR/health.out" | cut -d. -f1)"
	cat "$FX_DIR"/hlog.* | awk '{print $3}' | sort -n |
		awk '{v[NR] = $1} END {printf "%.2f %.2f", v[int(NR * 0.5)] / 1000, v[int(NR * 0.99)] / 1000}'
	rm -f "$FX_DIR"/hlog.*
}

: >"$FX_DIR/results"
for interval in $INTERVALS; do
	fx_log "$HOSTS helpers, health check every $interval ms"
	HELPERS=()
	PORTS=()
	for ((i = 1; i <= HOSTS; i++)); do
		port=$(fx_free_port)
		FX_TUNNEL_PORT=$port pt_env_file "$FX_DIR/host-$i.env" "TUNNEL_NAME=host-$(printf %03d "$i")" \
			"SSH_HEALTH_CHECK_INTERVAL=$interval" "TUNNEL_STATE_DIR=$FX_DIR/state-$i" \
			TUNNEL_LOG_LEVEL=info
		: >"$FX_DIR/host-$i.log"
		fx_bg "$FX_DIR/host-$i.log" "$FX_HELPER" --env-file "$FX_DIR/host-$i.env"
		HELPERS+=("$FX_BG_PID")
		PORTS+=("$port")
	done
	fx_wait_for 120 "$HOSTS helpers connected" connected || fx_die "not every helper connected"
	CLIENT_PIDS=()
	for port in "${PORTS[@]}"; do
		pgbench -S -n -c "$CLIENTS" -j 1 -R "$RATE" -T $((SECS + 30)) -h 127.0.0.1 -p "$port" \
			-U "$FX_APP_USER" "$FX_APP_DB" >"$FX_DIR/clients-$port.log" 2>&1 &
		CLIENT_PIDS+=($!)
	done
	# Past the start: every helper connected, probing, its clients served.
	sleep 10
	read -r a1 a2 <<<"$(api_requests)"
	read -r u0 e0 <<<"$(writes)"
	s0=$(sshd_ticks) h0=$(cpu_ticks "${HELPERS[@]}") m0=$(cpu_machine_ticks) b0=$(bench_ticks)
	t0=$(date +%s%N)
	# The window: the helpers and their clients at work.
	sleep "$SECS"
	s1=$(sshd_ticks) h1=$(cpu_ticks "${HELPERS[@]}") m1=$(cpu_machine_ticks) b1=$(bench_ticks)
	t1=$(date +%s%N)
	read -r u1 e1 <<<"$(writes)"
	read -r b_1 b_2 <<<"$(api_requests)"
	lat=$(api_latency_p50 "$a1" "$a2")
	hus=$(health_us)
	hpg=$(health_pgbench)
	sessions=$(($(fx_descendants "$FX_SSHD_PID" | wc -l) - 1))
	other=$(cpu_other_pct "$m0" "$m1" "$b0" "$b1" $((t1 - t0)))
	awk -v iv="$interval" -v ns=$((t1 - t0)) -v hz="$CPU_HZ" -v n="$HOSTS" \
		-v s=$((s1 - s0)) -v h=$((h1 - h0)) -v u=$((u1 - u0)) -v e=$((e1 - e0)) \
		-v r1=$((b_1 - a1)) -v r2=$((b_2 - a2)) -v lat="$lat" -v hus="$hus" -v hpg="$hpg" \
		-v procs="$sessions" -v other="$other" 'BEGIN {
			sec = ns / 1e9
			split(hpg, p, " ")
			printf "%d\t%.1f\t%.2f\t%.2f\t%.2f\t%.2f\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
				iv, s * 100 / hz / sec, s * 100 / hz / sec / n, h * 100 / hz / sec / n,
				u / sec, e / sec, r1 / sec, r2 / sec, (r1 + r2) / sec, lat, hus, p[2], p[3], p[1],
				procs, other
		}' >>"$FX_DIR/results"
	kill -INT "${CLIENT_PIDS[@]}" 2>/dev/null
	wait "${CLIENT_PIDS[@]}" 2>/dev/null
	kill -TERM "${HELPERS[@]}" 2>/dev/null
	wait "${HELPERS[@]}" 2>/dev/null
done

echo
printf '%d app hosts (helpers) on one machine, %d cores, one sshd, a Patroni cluster of 2 nodes; %d pgbench -S clients a host at %d tps; %d s windows; %s rows in tunnel_events\n' \
	"$HOSTS" "$(nproc)" "$CLIENTS" "$RATE" "$SECS" "$EVENTS"
echo
echo "| health check interval | sshd CPU (% of a core) | per helper | helper CPU per helper | sshd processes | status rows written /s | events /s | API requests /s (node 1, node 2, all) | API latency p50 ms | health() µs in-server | health() p50 / p99 ms end to end | other work % of a core |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
awk -F'\t' '{
	printf "| %s ms | %s | %s | %s | %s | %s | %s | %s, %s, %s | %s | %s | %s / %s | %s%s |\n",
		$1, $2, $3, $4, $15, $5, $6, $7, $8, $9, $10, $11, $12, $13, $16, ($16 > '"$OTHER_BUSY_PCT"') ? " (busy)" : ""
}' "$FX_DIR/results"
