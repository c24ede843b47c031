#!/usr/bin/env bash
# The README's nightly retention schedule with pg_cron: the statement, as
# written, registers a job, and the job's command prunes tunnel events older
# than 30 days.  Needs root, an installed extension and postgresql-15-cron.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"

fx_init prune-cron
fx_pg_start
db=$FX_APP_DB
# pg_cron's settings exist only once it is loaded: into postgresql.conf.
printf "shared_preload_libraries = 'pg_cron'\ncron.database_name = '%s'\n" "$db" \
	>>"$FX_PG_DIR/data/postgresql.conf"
fx_pg_stop
fx_pg_start_again

q()
{
	fx_psql -d "$db" -At -c "$1"
}

fx_psql -d "$db" -c 'CREATE EXTENSION pg_cron' -c 'CREATE EXTENSION chatgenius' >/dev/null
ok $? "pg_cron and chatgenius installed"
q "INSERT INTO chatgenius.tunnel_events (tunnel_name, event, occurred_at, event_key)
	SELECT 'ops', 'reconnecting', now() - i * interval '1 day' + interval '1 hour', 'k' || i
	  FROM generate_series(1, 40) AS i" >/dev/null

# The statement exactly as the README shows it.
schedule=$(awk '/^    SELECT cron.schedule\(.chatgenius-prune-tunnel-events/ {on = 1}
	on {sub(/^    /, ""); print}
	on && /;$/ {exit}' "$top/README.md")
like "$schedule" "prune_tunnel_events" "the README's schedule statement is found"
q "$schedule" >/dev/null
ok $? "the README's cron.schedule statement runs"
is "$(q "SELECT schedule || ' ' || database FROM cron.job WHERE jobname = 'chatgenius-prune-tunnel-events'")" \
	"17 3 * * * $db" "a nightly job in the extension's database"
is "$(q "$(q "SELECT command FROM cron.job WHERE jobname = 'chatgenius-prune-tunnel-events'")")" 10 \
	"the job's command prunes the 10 events older than 30 days"
is "$(q "SELECT count(*) FROM chatgenius.tunnel_events")" 30 "and keeps the other 30"

done_testing
