#!/usr/bin/env bash
# health() and pool_stats() against real concurrent sessions of the fixture
# cluster: a lock wait, a transaction left idle (an aborted one too), a
# transaction growing old,
# and a schema fingerprint cached in one session while another changes a
# member table.  Needs root and an installed extension (make install).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"
# shellcheck source=../lib/session.sh
. "$top/test/lib/session.sh"

fx_init health-sessions
fx_pg_start
db=$FX_APP_DB
fx_psql -d "$db" -c 'CREATE EXTENSION chatgenius'

# q SQL: one statement in a new session; never waits more than 30 s, so
# that a health() blocked by a lock fails the test instead of hanging it.
q()
{
	timeout 30 psql -qX -v ON_ERROR_STOP=1 -Atd "$db" -c "$1"
}

# q_is SQL WANT: true when SQL's output is WANT (for fx_wait_for, which
# re-runs it until then).
q_is()
{
	[ "$(q "$1")" = "$2" ]
}

# long_transactions_is STATUS: the long_transactions status with a 1 s
# warning threshold is STATUS.
long_transactions_is()
{
	[ "$(timeout 30 psql -qXAtd "$db" -c "SET chatgenius.long_transaction_warn = '1s'" \
		-c "SELECT status FROM chatgenius.health() WHERE check_name = 'long_transactions'")" = "$1" ]
}

check()
{
	q "SELECT status FROM chatgenius.health() WHERE check_name = '$1'"
}

# ---------------------------------------------------------------- locks
is "$(check locks)" "ok" "no lock wait: locks ok"

sess_open holder "$db"
sess_send holder "SELECT 'holder:' || pg_backend_pid();"
sess_send holder "BEGIN; LOCK TABLE chatgenius.users IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
fx_wait_for 10 "the lock holder" grep -q '^locked$' "$FX_DIR/holder.out"

sess_open waiter "$db"
sess_send waiter "SELECT count(*) FROM chatgenius.users;"
fx_wait_for 10 "a backend waiting on the lock" \
	q_is "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'" 1
is "$(check locks)" "warn" "one backend waits on a lock: locks warn (locks_warn_blocked = 1)"
like "$(q "SELECT status || ': ' || detail FROM chatgenius.health() WHERE check_name = 'schema'")" \
	'^warn: version [0-9.]+; history complete; drift not checked: relation chatgenius\.users is locked by another transaction$' \
	"a new session's health() does not wait for the locked member table"
is "$(q "SELECT detail FROM chatgenius.health() WHERE check_name = 'locks'")" \
	"1 backend waiting on a lock" "the detail counts it"
is "$(timeout 30 psql -qXAtd "$db" -c "SET chatgenius.locks_critical_blocked = 1" \
	-c "SELECT status FROM chatgenius.health() WHERE check_name = 'locks'")" \
	"critical" "locks_critical_blocked = 1 makes it critical"

# The holder is idle in transaction: pool_stats sees it.
fx_psql -d "$db" -c "INSERT INTO chatgenius.tunnel_status (tunnel_name, state, heartbeat_interval_ms, last_heartbeat) VALUES ('t', 'connected', 30000, now())"
is "$(q "SELECT backends_idle_in_transaction FROM chatgenius.pool_stats()")" "1" \
	"pool_stats counts the idle-in-transaction holder"
is "$(q "SELECT backends_total = (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')
		AND backends_active = (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'active')
		AND backends_idle = (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND state = 'idle')
		FROM chatgenius.pool_stats()")" "t" "pool_stats agrees with pg_stat_activity"

# The holder's transaction grows older than a 1 s threshold.
ok "$(fx_wait_for 10 "the holder's transaction to be 1 s old" long_transactions_is warn; echo $?)" \
	"a transaction older than long_transaction_warn = 1s: long_transactions warn"
holder_pid=$(sed -n 's/^holder://p' "$FX_DIR/holder.out")
like "$(timeout 30 psql -qXAtd "$db" -c "SET chatgenius.long_transaction_warn = '1s'" \
	-c "SELECT detail FROM chatgenius.health() WHERE check_name = 'long_transactions'")" \
	"\\(pid $holder_pid\\)$" "long_transactions names the holder's pid"
is "$(check long_transactions)" "ok" "under the default 300 s it is still ok"

# ---------------------------------------------------------------- idle in transaction
# The holder is also idle in its transaction.  A second session sits in an
# aborted one ("idle in transaction (aborted)"), which holds as much.
idle_row()
{
	timeout 30 psql -qXAtd "$db" ${1:+-c "$1"} \
		-c "SELECT status || ': ' || detail FROM chatgenius.health() WHERE check_name = 'idle_in_transaction'"
}
idle_status_is()
{
	[ "$(idle_row "$2" | cut -d: -f1)" = "$1" ]
}
fx_wait_for 10 "the holder to be idle in its transaction for 1 s" \
	idle_status_is warn "SET chatgenius.idle_in_transaction_warn = '1s'"
ok $? "a session idle in transaction longer than idle_in_transaction_warn = 1s: warn"
like "$(idle_row "SET chatgenius.idle_in_transaction_warn = '1s'")" \
	"^warn: 1 session idle in transaction, the oldest for [0-9.]+ s \\(pid $holder_pid\\)" \
	"idle_in_transaction counts it and names the holder's pid"
like "$(idle_row "SET chatgenius.idle_in_transaction_critical = '1s'")" '^critical: ' \
	"longer than idle_in_transaction_critical = 1s: critical"
like "$(idle_row)" '^ok: 1 session idle in transaction' "under the default thresholds it is still ok"
sess_open aborted "$db"
sess_send aborted "BEGIN; SELECT 1/0;"
fx_wait_for 10 "the aborted session" \
	q_is "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction (aborted)'" 1
like "$(idle_row)" '^ok: 2 sessions idle in transaction, the oldest for [0-9.]+ s' \
	"an aborted transaction left open counts too"
like "$(idle_row)" "\\(pid $holder_pid\\)" "the oldest is still the holder"
sess_send aborted "ROLLBACK;"
fx_wait_for 10 "the aborted session to roll back" \
	q_is "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction (aborted)'" 0
sess_close aborted
like "$(idle_row)" 'holding back the xmin horizon$' \
	"an ACCESS EXCLUSIVE lock takes a transaction ID: the holder holds back the xmin horizon"
# A reader idle in a READ COMMITTED transaction holds no snapshot between
# its statements; once it has a transaction ID it holds the horizon.
sess_open reader "$db"
sess_send reader "BEGIN; SELECT 'reader:' || pg_backend_pid();"
fx_wait_for 10 "the reader's transaction" grep -q '^reader:' "$FX_DIR/reader.out"
reader_pid=$(sed -n 's/^reader://p' "$FX_DIR/reader.out")

sess_send holder "COMMIT;"
fx_wait_for 10 "the waiter to get the lock" \
	q_is "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'" 0
is "$(check locks)" "ok" "lock released: locks ok again"
like "$(idle_row)" "^ok: 1 session idle in transaction, the oldest for [0-9.]+ s \\(pid $reader_pid\\)\$" \
	"the holder gone, the oldest is the reader: it holds back nothing"
sess_send reader "SELECT 'xid:' || txid_current();"
fx_wait_for 10 "the reader's transaction ID" grep -q '^xid:' "$FX_DIR/reader.out"
like "$(idle_row)" "\\(pid $reader_pid\\), holding back the xmin horizon\$" \
	"with a transaction ID it holds back the xmin horizon"
sess_send reader "ROLLBACK;"
sess_close reader
fx_wait_for 10 "the reader to end" q_is "SELECT count(*) FROM pg_stat_activity WHERE pid = $reader_pid" 0
is "$(idle_row "SET chatgenius.idle_in_transaction_warn = 0")" "warn: no session idle in transaction" \
	"no session idle in transaction any more (a threshold of 0 still counts none)"
is "$(idle_row)" "ok: no session idle in transaction" "idle_in_transaction ok again"
is "$(check schema)" "ok" "and the schema check is complete again"

# A locked tunnel_status: health() warns instead of waiting.
sess_send holder "BEGIN; LOCK TABLE chatgenius.tunnel_status IN ACCESS EXCLUSIVE MODE; SELECT 'locked2';"
fx_wait_for 10 "the tunnel_status lock" grep -q '^locked2$' "$FX_DIR/holder.out"
is "$(q "SELECT status || ': ' || detail FROM chatgenius.health() WHERE check_name = 'tunnel'")" \
	'warn: relation "chatgenius.tunnel_status" is locked by another transaction' \
	"health() reports a locked tunnel_status as warn"
sess_send holder "COMMIT;"
fx_wait_for 10 "the tunnel_status lock to go" \
	q_is "SELECT count(*) FROM pg_locks WHERE relation = 'chatgenius.tunnel_status'::regclass AND mode = 'AccessExclusiveLock'" 0
is "$(check tunnel)" "ok" "tunnel ok again"
sess_close waiter
sess_close holder

# ---------------------------------------------------------------- fingerprint cache
sess_open watcher "$db"
sess_send watcher "SELECT 'fp1:' || chatgenius.schema_fingerprint();"
fx_wait_for 10 "the first fingerprint" grep -q '^fp1:' "$FX_DIR/watcher.out"
fx_psql -d "$db" -c 'ALTER TABLE chatgenius.channels ADD COLUMN color text'
sess_send watcher "SELECT 'fp2:' || chatgenius.schema_fingerprint();"
sess_send watcher "SELECT 'schema:' || status FROM chatgenius.health() WHERE check_name = 'schema';"
fx_wait_for 10 "the second fingerprint" grep -q '^schema:' "$FX_DIR/watcher.out"
fp1=$(sed -n 's/^fp1://p' "$FX_DIR/watcher.out")
fp2=$(sed -n 's/^fp2://p' "$FX_DIR/watcher.out")
isnt_fp=$([ -n "$fp1" ] && [ "$fp1" != "$fp2" ] && echo changed || echo same)
is "$isnt_fp" "changed" "a session's cached fingerprint follows another session's ALTER TABLE"
is "$(sed -n 's/^schema://p' "$FX_DIR/watcher.out")" "warn" "and its schema check reports the drift"
is "$fp2" "$(q 'SELECT chatgenius.schema_fingerprint()')" "it equals a new session's fingerprint"

fx_psql -d "$db" -c 'ALTER TABLE chatgenius.channels DROP COLUMN color'
sess_send watcher "GRANT SELECT ON chatgenius.channels TO pg_monitor;"
sess_send watcher "SELECT 'fp3:' || chatgenius.schema_fingerprint();"
sess_send watcher "REVOKE SELECT ON chatgenius.channels FROM pg_monitor;"
sess_send watcher "SELECT 'fp4:' || chatgenius.schema_fingerprint();"
fx_wait_for 10 "the fourth fingerprint" grep -q '^fp4:' "$FX_DIR/watcher.out"
fp3=$(sed -n 's/^fp3://p' "$FX_DIR/watcher.out")
fp4=$(sed -n 's/^fp4://p' "$FX_DIR/watcher.out")
is "$fp4" "$fp1" "dropping the column and revoking the grant give the first fingerprint back"
ok "$([ "$fp3" != "$fp1" ] && echo 0 || echo 1)" "a grant changes it"
is "$(check schema)" "ok" "schema ok again"
sess_close watcher

done_testing
