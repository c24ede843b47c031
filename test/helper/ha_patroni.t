#!/usr/bin/env bash
# The tunnel follows a Patroni cluster (etcd + two nodes on 127.0.0.2 and
# 127.0.0.3, synchronous_mode on), one helper with
# POSTGRES_REMOTE_HOST=127.0.0.2,127.0.0.3 and POSTGRES_PATRONI_PORT:
#  - reads on TUNNEL_STANDBY_PORT go to the replica, and to the primary
#    while the replica lags past TUNNEL_STANDBY_MAX_LAG (standby_lagging;
#    its replay is held back by recovery_min_apply_delay);
#  - a planned patronictl switchover under a write load through the tunnel:
#    writes resume on the new primary, none acknowledged is lost,
#    primary_changed says old, new, how it was detected and for how long
#    there was no primary; the status row is written on the new primary;
#  - the primary's Patroni and PostgreSQL SIGKILLed (failover): the same,
#    and standby_down for the dead host (the SSH server cannot reach it).
# Each prints "# reliability:" lines: writes acknowledged and lost, the time
# without a writable primary, reads served on the standby port.  On a
# single-host tunnel the writes would stay on the demoted node.
#
#   prove test/helper/ha_patroni.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/patroni.sh
. test/lib/tunnel_lib.sh

pt_begin hapatroni
PT_SYNC=1 pt_cluster_start
pt_prepare "ha_writes (n integer PRIMARY KEY, at timestamptz DEFAULT now())"

STANDBY_PORT=$(fx_free_port)
TL_ENV=$FX_DIR/ha.env
TL_LOG=$FX_DIR/ha.log
FX_TUNNEL_PORT=$(fx_free_port)
pt_env_file "$TL_ENV" TUNNEL_NAME=test-ha SSH_HEALTH_CHECK_INTERVAL=500 \
	TUNNEL_STANDBY_PORT="$STANDBY_PORT" TUNNEL_STANDBY_MAX_LAG=1500 TUNNEL_CLIENT_WAIT=15000
fx_bg "$TL_LOG" "$FX_HELPER" --env-file "$TL_ENV"
TL_PID=$FX_BG_PID
tl_up
ok $? "the helper connects"
# A second helper asks PostgreSQL itself (no POSTGRES_PATRONI_PORT).
SQL_ENV=$FX_DIR/ha-sql.env
SQL_LOG=$FX_DIR/ha-sql.log
SQL_PORT=$(fx_free_port)
FX_TUNNEL_PORT=$SQL_PORT pt_env_file "$SQL_ENV" TUNNEL_NAME=test-ha-sql SSH_HEALTH_CHECK_INTERVAL=500 \
	POSTGRES_PATRONI_PORT= TUNNEL_CLIENT_WAIT=15000
sed -i '/^POSTGRES_PATRONI_PORT=/d' "$SQL_ENV"
fx_bg "$SQL_LOG" "$FX_HELPER" --env-file "$SQL_ENV"
SQL_PID=$FX_BG_PID
fx_wait_for 30 "the SQL-probing helper" grep -q 'event=connected' "$SQL_LOG"
ok $? "a second helper, probing in SQL, connects"
sql_primary_is()
{
	[ "$(FX_TUNNEL_PORT=$SQL_PORT tl_psql -Atc "SELECT inet_server_addr()" 2>/dev/null)" = "$1" ]
}

# standby_psql ARGS...: psql as the app role through the standby port.
standby_psql()
{
	PGPASSWORD=$FX_APP_PASSWORD PGCONNECT_TIMEOUT=20 psql -qXAt -h 127.0.0.1 -p "$STANDBY_PORT" \
		-U "$FX_APP_USER" -d "$FX_APP_DB" "$@"
}
standby_reads_on()
{
	[ "$(standby_psql -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = "$1" ]
}
primary_is()
{
	[ "$(tl_psql -Atc "SELECT inet_server_addr()" 2>/dev/null)" = "$1" ]
}

# ---------------------------------------------------------------- routing
tl_section
fx_wait_for 10 "the primary port reaching node 1" primary_is "$PT_HOST1"
ok $? "POSTGRES_PORT reaches the leader ($PT_HOST1)"
fx_wait_for 10 "the standby port reaching the replica" standby_reads_on t
ok $? "TUNNEL_STANDBY_PORT reaches the replica (in recovery)"
tl_fault ha_routing

# ---------------------------------------------------------------- lagging standby
tl_section
# Patroni resumes a paused replay by itself, a stopped startup process may
# hold a lock that new standby sessions wait on, and Patroni takes its
# recovery settings out of ALTER SYSTEM's file: the replica is made to lag by
# recovery_min_apply_delay in the cluster's own configuration (applied by a
# reload), which keeps its WAL receiver receiving and its sessions answering.
apply_delay_is()
{
	[ "$(pt_psql 2 -Atc "SHOW recovery_min_apply_delay" 2>/dev/null)" = "$1" ]
}
pt_patronictl edit-config --force -p recovery_min_apply_delay=60s >/dev/null
fx_wait_for 20 "the replica applying with a delay" apply_delay_is 1min
for i in 1 2 3 4 5 6; do
	pt_psql 1 -d "$FX_APP_DB" -c "INSERT INTO ha_writes VALUES (-$i)" >/dev/null
	sleep 0.5
done
fx_wait_for 10 "standby_lagging" tl_has 'event=standby_lagging .*host=127.0.0.3'
ok $? "a replica whose replay is held back, past TUNNEL_STANDBY_MAX_LAG: standby_lagging"
fx_wait_for 5 "reads on the primary" standby_reads_on f
ok $? "reads on the standby port fall back to the primary while it lags"
pt_patronictl edit-config --force -p recovery_min_apply_delay=0 >/dev/null
fx_wait_for 20 "reads back on the replica" standby_reads_on t
ok $? "reads return to the replica once it caught up"
tl_fault standby_lagging

# ---------------------------------------------------------------- load
# writer OUT: one connection per write through the tunnel (as an app pool
# reconnecting), "n microseconds" per acknowledged write, until $FX_DIR/stop.
writer()
{
	local i=0
	while [ ! -e "$FX_DIR/stop" ]; do
		i=$((i + 1))
		if PGCONNECT_TIMEOUT=15 fx_app_psql -c "INSERT INTO ha_writes VALUES ($i)" >/dev/null 2>&1; then
			echo "$i ${EPOCHREALTIME/./}" >>"$1"
		else
			echo "$i ${EPOCHREALTIME/./}" >>"$1.failed"
			sleep 0.05
		fi
	done
}
# reader OUT: SELECT through the standby port, "ok|failed microseconds".
reader()
{
	while [ ! -e "$FX_DIR/stop" ]; do
		if standby_psql -c 'SELECT 1' >/dev/null 2>&1; then
			echo "ok ${EPOCHREALTIME/./}" >>"$1"
		else
			echo "failed ${EPOCHREALTIME/./}" >>"$1"
			sleep 0.05
		fi
		sleep 0.02
	done
}

# lines_at_least FILE N: FILE exists and has N lines or more.
lines_at_least()
{
	[ -e "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# load_run NAME ACTION...: run the writer and reader, ACTION in the middle,
# then report.  Sets LOST, ACKED, GAP_MS, READS_OK, READS_FAILED.
load_run()
{
	local name=$1 w=$FX_DIR/$1.writes r=$FX_DIR/$1.reads wp rp
	shift
	rm -f "$FX_DIR/stop" "$w" "$w.failed" "$r"
	tl_psql -c "TRUNCATE ha_writes" >/dev/null
	writer "$w" &
	wp=$!
	reader "$r" &
	rp=$!
	fx_wait_for 20 "writes before $name" lines_at_least "$w" 20
	T_ACTION=${EPOCHREALTIME/./}
	"$@"
	local before
	before=$(wc -l <"$w")
	fx_wait_for 30 "writes after $name" lines_at_least "$w" $((before + 20))
	touch "$FX_DIR/stop"
	wait "$wp" "$rp"
	ACKED=$(wc -l <"$w")
	local present
	present=$(tl_psql -Atc "SELECT string_agg(n::text, ' ') FROM ha_writes WHERE n > 0")
	LOST=$(awk -v have="$present" 'BEGIN { n = split(have, a, " "); for (i = 1; i <= n; i++) h[a[i]] = 1 }
		!($1 in h) { lost++ } END { print lost + 0 }' "$w")
	# the longest stretch without an acknowledged write, from the action on
	GAP_MS=$(awk -v t0="$T_ACTION" '{ if (prev == "" ) prev = t0; if ($2 >= t0) { g = $2 - prev; if (g > max) max = g; prev = $2 } }
		END { printf "%d", max / 1000 }' "$w")
	READS_OK=$(awk -v t0="$T_ACTION" '$1 == "ok" && $2 >= t0' "$r" | wc -l)
	READS_FAILED=$(awk -v t0="$T_ACTION" '$1 == "failed" && $2 >= t0' "$r" | wc -l)
	diag "reliability: $name writes_acked=$ACKED writes_lost=$LOST no_writable_primary_ms=$GAP_MS standby_reads_ok=$READS_OK standby_reads_failed=$READS_FAILED"
}

# ---------------------------------------------------------------- switchover
tl_section
switchover()
{
	pt_switchover
	pt_wait_leader 2 30
}
load_run switchover switchover
pt_is_leader 2
ok $? "patronictl switchover: node 2 leads"
is "$LOST" 0 "switchover: no acknowledged write lost ($ACKED acknowledged)"
cmp_ok "$GAP_MS" -lt 15000 "switchover: writes resumed through the tunnel (${GAP_MS} ms without)"
like "$(grep 'WARN event=primary_changed' "$TL_LOG" | tail -1)" \
	'old=127.0.0.2:[0-9]+ new=127.0.0.3:[0-9]+ detected=patroni .*without_primary_ms=[0-9]+ timeline=[1-9]' \
	"switchover: primary_changed names old, new, how detected, the time without a primary"
fresh_heartbeat_on()
{
	[ "$(pt_psql "$1" -d "$FX_APP_DB" -Atc "SELECT count(*) FROM chatgenius.tunnel_status
		WHERE tunnel_name = 'test-ha' AND last_heartbeat > now() - interval '2 s'")" = 1 ]
}
fx_wait_for 10 "the status row on the new primary" fresh_heartbeat_on 2
ok $? "switchover: the helper's heartbeat is written on the new primary"
cmp_ok "$READS_OK" -gt 0 "switchover: the standby port kept serving reads"
routes_on_2()
{
	[ "$(pt_psql 2 -d "$FX_APP_DB" -Atc "SELECT primary_host FROM chatgenius.tunnel_routes
		WHERE tunnel_name = 'test-ha'")" = "$PT_HOST2:$PT_PG_PORT" ]
}
fx_wait_for 10 "tunnel_routes naming node 2" routes_on_2
ok $? "switchover: chatgenius.tunnel_routes shows the primary port routed to node 2"
event_row_on_2()
{
	[ "$(pt_psql 2 -d "$FX_APP_DB" -Atc "SELECT count(*) FROM chatgenius.tunnel_events
		WHERE tunnel_name = 'test-ha' AND event = 'primary_changed' AND detail LIKE 'old=$PT_HOST1:% new=$PT_HOST2:%'")" = 1 ]
}
fx_wait_for 10 "the primary_changed row" event_row_on_2
ok $? "switchover: primary_changed is a row in tunnel_events on the new primary"
grep -q 'WARN event=primary_changed .*new=127.0.0.3:[0-9]* detected=sql' "$SQL_LOG"
ok $? "switchover: the SQL-probing helper follows too (detected=sql)"
sql_primary_is "$PT_HOST2"
ok $? "switchover: through it, the new primary"
tl_fault patroni_switchover

# ---------------------------------------------------------------- failover
tl_section
fx_wait_for 30 "node 1 streaming again" pt_is_replica 1
failover()
{
	pt_kill 2
	pt_wait_leader 1 40
}
load_run failover failover
pt_is_leader 1
ok $? "SIGKILL of the leader: node 1 takes over"
is "$LOST" 0 "failover: no acknowledged write lost with synchronous_mode ($ACKED acknowledged)"
cmp_ok "$GAP_MS" -lt 40000 "failover: writes resumed through the tunnel (${GAP_MS} ms without)"
like "$(grep 'WARN event=primary_changed' "$TL_LOG" | tail -1)" \
	'old=127.0.0.3:[0-9]+ new=127.0.0.2:[0-9]+ detected=patroni' \
	"failover: primary_changed from the dead node to the new leader"
tl_has 'event=standby_down .*host=127.0.0.3'
ok $? "failover: the dead host is reported as standby_down (the SSH server cannot reach it)"
fx_wait_for 5 "reads on the primary" standby_reads_on f
ok $? "no replica left: the standby port falls back to the primary"
fx_wait_for 5 "the SQL helper on node 1" sql_primary_is "$PT_HOST1"
ok $? "failover: the SQL-probing helper follows too"
tl_fault patroni_failover

# ---------------------------------------------------------------- split brain
# The dead node's PostgreSQL started by hand, without Patroni: it comes back
# as the primary it was, on the older timeline, while node 1 leads on a
# newer one.  Two hosts claim to be primary.
tl_section
fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$PT_DIR/n2/data" -l "$PT_DIR/n2/split.log" -w -t 30 start >/dev/null
n2_writable() { [ "$(pt_psql 2 -Atc "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]; }
fx_wait_for 30 "node 2 up as a primary" n2_writable
ok $? "split brain: node 2 accepts writes beside node 1"
fx_wait_for 10 "split_brain" grep -q 'event=split_brain .*host=127.0.0.3' "$SQL_LOG"
ok $? "split brain: the SQL-probing helper logs the other primary as split_brain"
like "$(grep -m1 'event=split_brain' "$SQL_LOG")" 'followed=127.0.0.2:[0-9]+ followed_timeline=[0-9]+' \
	"split brain: it says whom it follows (the higher timeline)"
for i in 1 2 3 4 5; do
	sql_primary_is "$PT_HOST1" || break
done
is "$i" 5 "split brain: every new client still reaches node 1, never node 2"
pt_is_leader 2
ok $((!$?)) "split brain: Patroni names no second leader"
primary_is "$PT_HOST1"
ok $? "split brain: the Patroni-probing helper stays on the leader"
fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$PT_DIR/n2/data" -m immediate -w -t 30 stop >/dev/null
tl_fault split_brain

kill -TERM "$SQL_PID"
fx_wait_exit "$SQL_PID" 15
is "$FX_RC" 0 "the SQL-probing helper: exit 0 on SIGTERM"
tl_stop
is "$TL_RC" 0 "exit 0 on SIGTERM"
tl_sanitizer_clean ha
done_testing
