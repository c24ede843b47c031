#!/usr/bin/env bash
# make installcheck (pg_regress and the isolation specs) passes on a cluster
# that other sessions are using at the same time, as contrib's tests must:
# a transaction left idle holding a lock, a backend waiting on that lock, a
# busy query, and clients connecting and disconnecting in a loop.  Needs
# root, the built tree and an installed extension (make install).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"

fx_init installcheck-busy
fx_pg_start
db=$FX_APP_DB
fx_psql -d "$db" -c 'CREATE TABLE busy_lock (id int)'

q()
{
	timeout 30 psql -qXAtd "$db" -c "$1"
}

# A session that holds a lock, idle in transaction, and one that waits on it.
mkfifo "$FX_DIR/holder.in" "$FX_DIR/waiter.in"
fx_bg "$FX_DIR/holder.out" psql -qAtX -d "$db" -f "$FX_DIR/holder.in"
exec {holder}>"$FX_DIR/holder.in"
printf '%s\n' "BEGIN; LOCK TABLE busy_lock IN ACCESS EXCLUSIVE MODE; SELECT 'locked';" >&"$holder"
fx_wait_for 10 "the lock holder" grep -q '^locked$' "$FX_DIR/holder.out"
fx_bg "$FX_DIR/waiter.out" psql -qAtX -d "$db" -f "$FX_DIR/waiter.in"
exec {waiter}>"$FX_DIR/waiter.in"
printf '%s\n' "SELECT count(*) FROM busy_lock;" >&"$waiter"
# A query that keeps a backend active, and clients coming and going.
fx_bg "$FX_DIR/active.out" psql -qAtX -d "$db" -c 'SELECT pg_sleep(600)'
fx_bg "$FX_DIR/churn.out" bash -c "while :; do psql -qAtX -d '$db' -c 'SELECT 1' >/dev/null; done"
# busy: true once one backend waits on the lock and one runs the query
# (fx_wait_for runs it again until then).
busy()
{
	[ "$(q "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock') || ' '
		|| count(*) FILTER (WHERE query LIKE '%pg_sleep(600)%' AND state = 'active')
		FROM pg_stat_activity WHERE pid <> pg_backend_pid()")" = "1 1" ]
}
fx_wait_for 60 "a backend waiting on a lock and a busy one" busy
ok $? "other sessions are busy: one waits on a lock, one runs a query, clients come and go"

(cd "$top" && make -s NO_HELPER=1 installcheck) >"$FX_DIR/installcheck.log" 2>&1
status=$?
ok "$status" "make installcheck passes while they run"
if [ "$status" -ne 0 ]; then
	diag "$(grep -E 'FAILED|failed' "$FX_DIR/installcheck.log")"
	diag "$(head -80 "$top/regression.diffs" 2>/dev/null)"
fi
like "$(cat "$FX_DIR/installcheck.log")" 'All [0-9]+ tests passed' "pg_regress ran"
is "$(grep -cE 'All [0-9]+ tests passed' "$FX_DIR/installcheck.log")" 2 "and so did the isolation specs"
is "$(q "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%busy_lock%'")" 1 \
	"the waiter was still waiting at the end"

printf '%s\n' "COMMIT;" >&"$holder"
exec {holder}>&- {waiter}>&-
done_testing
