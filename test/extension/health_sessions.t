#!/usr/bin/env bash
# health() and pool_stats() against real concurrent sessions of the fixture
# cluster: a lock wait, a transaction left idle, a transaction growing old,
# and a schema fingerprint cached in one session while another changes a
# member table.  Needs root and an installed extension (make install).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"

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

# session NAME: a psql kept open on a fifo; SQL goes in with send NAME SQL,
# its output lands in $FX_DIR/NAME.out.
session()
{
	mkfifo "$FX_DIR/$1.in"
	fx_bg "$FX_DIR/$1.out" psql -qAtX -d "$db" -f "$FX_DIR/$1.in"
	eval "exec {fd_$1}>\"$FX_DIR/$1.in\""
}

send()
{
	local fd="fd_$1"
	printf '%s\n' "$2" >&"${!fd}"
}

close_session()
{
	local fd="fd_$1"
	exec {fd}>&-
}

check()
{
	q "SELECT status FROM chatgenius.health() WHERE check_name = '$1'"
}

# ---------------------------------------------------------------- locks
is "$(check locks)" "ok" "no lock wait: locks ok"

session holder
send holder "SELECT 'holder:' || pg_backend_pid();"
send holder "BEGIN; LOCK TABLE chatgenius.users IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
fx_wait_for 10 "the lock holder" grep -q '^locked$' "$FX_DIR/holder.out"

session waiter
send waiter "SELECT count(*) FROM chatgenius.users;"
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

send holder "COMMIT;"
fx_wait_for 10 "the waiter to get the lock" \
	q_is "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'" 0
is "$(check locks)" "ok" "lock released: locks ok again"
is "$(check schema)" "ok" "and the schema check is complete again"

# A locked tunnel_status: health() warns instead of waiting.
send holder "BEGIN; LOCK TABLE chatgenius.tunnel_status IN ACCESS EXCLUSIVE MODE; SELECT 'locked2';"
fx_wait_for 10 "the tunnel_status lock" grep -q '^locked2$' "$FX_DIR/holder.out"
is "$(q "SELECT status || ': ' || detail FROM chatgenius.health() WHERE check_name = 'tunnel'")" \
	'warn: relation "chatgenius.tunnel_status" is locked by another transaction' \
	"health() reports a locked tunnel_status as warn"
send holder "COMMIT;"
fx_wait_for 10 "the tunnel_status lock to go" \
	q_is "SELECT count(*) FROM pg_locks WHERE relation = 'chatgenius.tunnel_status'::regclass AND mode = 'AccessExclusiveLock'" 0
is "$(check tunnel)" "ok" "tunnel ok again"
close_session waiter
close_session holder

# ---------------------------------------------------------------- fingerprint cache
session watcher
send watcher "SELECT 'fp1:' || chatgenius.schema_fingerprint();"
fx_wait_for 10 "the first fingerprint" grep -q '^fp1:' "$FX_DIR/watcher.out"
fx_psql -d "$db" -c 'ALTER TABLE chatgenius.channels ADD COLUMN color text'
send watcher "SELECT 'fp2:' || chatgenius.schema_fingerprint();"
send watcher "SELECT 'schema:' || status FROM chatgenius.health() WHERE check_name = 'schema';"
fx_wait_for 10 "the second fingerprint" grep -q '^schema:' "$FX_DIR/watcher.out"
fp1=$(sed -n 's/^fp1://p' "$FX_DIR/watcher.out")
fp2=$(sed -n 's/^fp2://p' "$FX_DIR/watcher.out")
isnt_fp=$([ -n "$fp1" ] && [ "$fp1" != "$fp2" ] && echo changed || echo same)
is "$isnt_fp" "changed" "a session's cached fingerprint follows another session's ALTER TABLE"
is "$(sed -n 's/^schema://p' "$FX_DIR/watcher.out")" "warn" "and its schema check reports the drift"
is "$fp2" "$(q 'SELECT chatgenius.schema_fingerprint()')" "it equals a new session's fingerprint"

fx_psql -d "$db" -c 'ALTER TABLE chatgenius.channels DROP COLUMN color'
send watcher "GRANT SELECT ON chatgenius.channels TO pg_monitor;"
send watcher "SELECT 'fp3:' || chatgenius.schema_fingerprint();"
send watcher "REVOKE SELECT ON chatgenius.channels FROM pg_monitor;"
send watcher "SELECT 'fp4:' || chatgenius.schema_fingerprint();"
fx_wait_for 10 "the fourth fingerprint" grep -q '^fp4:' "$FX_DIR/watcher.out"
fp3=$(sed -n 's/^fp3://p' "$FX_DIR/watcher.out")
fp4=$(sed -n 's/^fp4://p' "$FX_DIR/watcher.out")
is "$fp4" "$fp1" "dropping the column and revoking the grant give the first fingerprint back"
ok "$([ "$fp3" != "$fp1" ] && echo 0 || echo 1)" "a grant changes it"
is "$(check schema)" "ok" "schema ok again"
close_session watcher

done_testing
