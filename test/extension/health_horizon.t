#!/usr/bin/env bash
# health()'s checks of what holds back the xmin horizon and of multixact
# age, on a cluster configured for them: a prepared transaction
# (max_prepared_transactions), a logical replication slot holding
# catalog_xmin (wal_level = logical), and the multixact age after row locks
# shared by two sessions.  Needs root and an installed extension.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"
# shellcheck source=../lib/health_checks.sh
. "$top/test/lib/health_checks.sh"

fx_init health-horizon
fx_pg_start
db=$FX_APP_DB
fx_psql -c 'ALTER SYSTEM SET max_prepared_transactions = 4' -c 'ALTER SYSTEM SET wal_level = logical' >/dev/null
fx_pg_stop
fx_pg_start_again
fx_psql -d "$db" -c 'CREATE EXTENSION chatgenius' -c 'CREATE TABLE t (id int PRIMARY KEY)' \
	-c 'INSERT INTO t VALUES (1)' >/dev/null

# status_is WANT CHECK SETTINGS: the check's status is WANT (for fx_wait_for).
status_is()
{
	[ "$(health_row "$2" "$3" | cut -d: -f1)" = "$1" ]
}

is "$(health_row prepared_transactions)" "ok: no prepared transaction" "no prepared transaction: ok"
is "$(health_row replication_slots)" "ok: 0 replication slots, none holds back xmin" "no slot: ok"

# ---------------------------------------------------------------- prepared
health_sql "BEGIN; INSERT INTO t VALUES (2); PREPARE TRANSACTION 'forgotten-1'" >/dev/null
like "$(health_row prepared_transactions)" '^ok: 1 prepared transaction, the oldest prepared [0-9.]+ s ago \(gid "forgotten-1"\)$' \
	"a fresh prepared transaction is reported, still ok"
fx_wait_for 10 "the prepared transaction to be 1 s old" \
	status_is warn prepared_transactions "SET chatgenius.prepared_transaction_warn = '1s'"
ok $? "older than prepared_transaction_warn = 1s: warn"
like "$(health_row prepared_transactions "SET chatgenius.prepared_transaction_critical = '1s'")" '^critical: ' \
	"older than prepared_transaction_critical = 1s: critical"
health_sql "BEGIN; INSERT INTO t VALUES (3); PREPARE TRANSACTION 'forgotten-2'" >/dev/null
like "$(health_row prepared_transactions)" '^ok: 2 prepared transactions, the oldest prepared [0-9.]+ s ago \(gid "forgotten-1"\)$' \
	"two: the oldest is named"
health_sql "COMMIT PREPARED 'forgotten-1'" >/dev/null
health_sql "ROLLBACK PREPARED 'forgotten-2'" >/dev/null
is "$(health_row prepared_transactions)" "ok: no prepared transaction" "resolved: ok again"

# ---------------------------------------------------------------- slots
health_sql "SELECT pg_create_logical_replication_slot('abandoned', 'pgoutput')" >/dev/null
health_sql "SELECT pg_create_physical_replication_slot('standby')" >/dev/null
like "$(health_row replication_slots)" '^ok: slot "abandoned" holds catalog_xmin [0-9]+ transactions old$' \
	"a logical slot's catalog_xmin is reported"
for i in 1 2 3; do health_sql "INSERT INTO t VALUES (10 + $i)" >/dev/null; done
like "$(health_row replication_slots "SET chatgenius.slot_xmin_warn_age = 3")" '^warn: slot "abandoned" holds catalog_xmin [0-9]+ transactions old$' \
	"older than slot_xmin_warn_age: warn"
like "$(health_row replication_slots "SET chatgenius.slot_xmin_critical_age = 3")" '^critical: ' \
	"older than slot_xmin_critical_age: critical"
health_sql "SELECT pg_drop_replication_slot('abandoned')" >/dev/null
is "$(health_row replication_slots)" "ok: 1 replication slot, none holds back xmin" \
	"a physical slot without a standby holds nothing"

# ---------------------------------------------------------------- multixacts
# Two sessions sharing a row lock make a multixact; with a threshold of a
# tiny share of 2^31 the check warns.
like "$(health_row multixact)" '^ok: oldest multixact ID is [0-9]+ multixacts old' "multixact ok"
mkfifo "$FX_DIR/a.in"
fx_bg "$FX_DIR/a.out" psql -qAtX -d "$db" -f "$FX_DIR/a.in"
exec {a}>"$FX_DIR/a.in"
printf '%s\n' "BEGIN; SELECT 'a:' || id FROM t WHERE id = 1 FOR SHARE;" >&"$a"
fx_wait_for 10 "the first share lock" grep -q '^a:1$' "$FX_DIR/a.out"
health_sql "BEGIN; SELECT id FROM t WHERE id = 1 FOR SHARE; COMMIT" >/dev/null
printf '%s\n' "COMMIT;" >&"$a"
exec {a}>&-
is "$(health_sql "SELECT mxid_age(datminmxid) > 0 FROM pg_database WHERE datname = current_database()")" t \
	"a multixact was made"
like "$(health_row multixact "SET chatgenius.multixact_warn_percent = 0")" '^warn: oldest multixact ID is [1-9][0-9]* multixacts old' \
	"multixact_warn_percent: warn"
like "$(health_row multixact "SET chatgenius.multixact_critical_percent = 0")" '^critical: ' \
	"multixact_critical_percent: critical"

done_testing
