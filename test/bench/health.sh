#!/usr/bin/env bash
# Benchmark of chatgenius.health() on the shared fixture: 100 tunnels in
# tunnel_status and a million rows in tunnel_events (which health() must
# never read).  Prints the time per call, measured three ways:
#   - in-server: a DO loop timed with clock_timestamp(), re-reading the
#     backend status array on every call (pg_stat_clear_snapshot), so that
#     nothing but the function itself is measured;
#   - health_summary() the same way;
#   - end to end: pgbench, one statement per transaction over the socket;
#   - the alternative to the C fingerprint: hashing the SQL description of
#     test/upgrade/describe.sql on every call (pgbench).
# Exits 1 when health() takes 1000 µs or more per call in-server.
#
#   test/bench/health.sh [CALLS]      (as root; the extension must be installed)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"

calls=${1:-5000}
budget_us=1000

fx_init bench
fx_pg_start
db=$FX_APP_DB

fx_log "loading 100 tunnels and 1000000 tunnel events"
fx_psql -d "$db" <<'SQL'
CREATE EXTENSION chatgenius;
INSERT INTO chatgenius.tunnel_status
	(tunnel_name, state, heartbeat_interval_ms, last_heartbeat, pool_size,
	 sessions_open, channels_active, channels_total, bytes_in, bytes_out)
SELECT 'tunnel-' || lpad(i::text, 3, '0'),
	   (ARRAY['connected', 'connected', 'connected', 'reconnecting', 'stopped'])[1 + i % 5],
	   30000, now() - (i % 7) * interval '20 s', 10, i % 10, i % 30, i * 1000,
	   i * 123456, i * 654321
  FROM generate_series(1, 100) AS i;
INSERT INTO chatgenius.tunnel_events (tunnel_name, event, detail, occurred_at, event_key)
SELECT 'tunnel-' || lpad((1 + i % 100)::text, 3, '0'),
	   (ARRAY['connected', 'disconnected', 'reconnecting', 'reconnected', 'health_check_failed'])[1 + i % 5],
	   'event ' || i, now() - i * interval '1 s', 'key-' || i
  FROM generate_series(1, 1000000) AS i;
VACUUM ANALYZE chatgenius.tunnel_status;
VACUUM ANALYZE chatgenius.tunnel_events;
SQL

rows=$(fx_psql -Atd "$db" -c "SELECT count(*) FROM chatgenius.health()")
events=$(fx_psql -Atd "$db" -c "SELECT count(*) FROM chatgenius.tunnel_events")
fx_log "health() returns $rows rows; tunnel_events holds $events rows"

# per_call_us FUNCTION_CALL: µs per call of a statement in a DO loop, minus
# the loop's own cost (the same loop calling pg_stat_clear_snapshot alone).
per_call_us()
{
	fx_psql -Atd "$db" <<-SQL
		DO \$\$
		DECLARE
			n int := $calls;
			t0 timestamptz;
			loop_us float8;
			total_us float8;
			first_us float8;
		BEGIN
			t0 := clock_timestamp();
			PERFORM count(*) FROM (SELECT $1) AS s;
			first_us := extract(epoch FROM clock_timestamp() - t0) * 1e6;
			t0 := clock_timestamp();
			FOR i IN 1 .. n LOOP
				PERFORM pg_stat_clear_snapshot();
			END LOOP;
			loop_us := extract(epoch FROM clock_timestamp() - t0) * 1e6;
			t0 := clock_timestamp();
			FOR i IN 1 .. n LOOP
				PERFORM pg_stat_clear_snapshot();
				PERFORM count(*) FROM (SELECT $1) AS s;
			END LOOP;
			total_us := extract(epoch FROM clock_timestamp() - t0) * 1e6;
			RAISE NOTICE '%', format('%s %s', round(((total_us - loop_us) / n)::numeric, 1),
									 round(first_us::numeric, 1));
		END
		\$\$;
	SQL
}

read -r health_us health_first_us < <(per_call_us '* FROM chatgenius.health()' 2>&1 | sed -n 's/^NOTICE: *//p')
read -r summary_us summary_first_us < <(per_call_us 'chatgenius.health_summary()' 2>&1 | sed -n 's/^NOTICE: *//p')

printf 'SELECT * FROM chatgenius.health();\n' >"$FX_DIR/health.sql"
chown postgres: "$FX_DIR/health.sql"
pgbench_latency=$("$FX_PGBIN/pgbench" -n -M prepared -c 1 -t "$calls" -f "$FX_DIR/health.sql" "$db" 2>&1 |
	sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p')

# The SQL description, hashed as the fingerprint would be, once per call.
{
	sed -n '/^WITH ext AS/,$p' "$top/test/upgrade/describe.sql" |
		sed 's/^SELECT line FROM lines ORDER BY line COLLATE "C";$/SELECT sha256(convert_to(string_agg(line, E'"'"'\\n'"'"' ORDER BY line COLLATE "C"), '"'"'UTF8'"'"')) FROM lines;/'
} >"$FX_DIR/describe.sql"
chown postgres: "$FX_DIR/describe.sql"
describe_latency=$("$FX_PGBIN/pgbench" -n -M simple -c 1 -t 50 -f "$FX_DIR/describe.sql" "$db" 2>&1 |
	sed -n 's/^latency average = \([0-9.]*\) ms$/\1/p')

echo "chatgenius health() benchmark: 100 tunnels, $events tunnel_events, $calls calls"
echo "health():         ${health_us} µs per call in-server (first call in the session: ${health_first_us} µs)"
echo "health_summary(): ${summary_us} µs per call in-server (first call in the session: ${summary_first_us} µs)"
echo "health() via pgbench, one call per transaction: $(awk -v ms="$pgbench_latency" 'BEGIN { printf "%.1f", ms * 1000 }') µs per call"
echo "the SQL description of the extension hashed per call (the alternative to the C fingerprint): ${describe_latency} ms per call"

if awk -v us="$health_us" -v budget="$budget_us" 'BEGIN { exit !(us + 0 >= budget) }'; then
	echo "FAIL: health() takes ${health_us} µs per call, the budget is ${budget_us} µs"
	exit 1
fi
