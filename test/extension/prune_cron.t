#!/usr/bin/env bash
# The documented nightly retention schedule with pg_cron (doc/extension.md,
# the block marked for this file): the statement, as written, registers a job, and the job's command prunes tunnel events older
# than 30 days.  Needs root, an installed extension and postgresql-15-cron.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"
# shellcheck source=../lib/doc.sh
. "$top/test/lib/doc.sh"

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

# The statement exactly as the documentation shows it.
schedule=$(doc_block test/extension/prune_cron.t)
like "$schedule" "^SELECT cron.schedule\\('chatgenius-prune-tunnel-events'.*prune_tunnel_events" \
	"the documented schedule statement is found"
q "$schedule" >/dev/null
ok $? "the documented cron.schedule statement runs"
is "$(q "SELECT schedule || ' ' || database FROM cron.job WHERE jobname = 'chatgenius-prune-tunnel-events'")" \
	"17 3 * * * $db" "a nightly job in the extension's database"
is "$(q "$(q "SELECT command FROM cron.job WHERE jobname = 'chatgenius-prune-tunnel-events'")")" 10 \
	"the job's command prunes the 10 events older than 30 days"
is "$(q "SELECT count(*) FROM chatgenius.tunnel_events")" 30 "and keeps the other 30"

done_testing
