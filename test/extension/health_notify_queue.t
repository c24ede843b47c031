#!/usr/bin/env bash
# health()'s notify_queue row against the real NOTIFY queue of the fixture
# cluster.  The queue holds 8 GB, and its tail moves only when every
# listener has read past it, so one listener that does not read fills it;
# once it is full, every NOTIFY fails at commit (the realtime notifier's
# and the tunnel's events too).  Two listeners that do not read, as apps
# leave them:
#  - a connection that LISTENed and then waits for something else: psql
#    waiting on its input reads nothing from its socket, so its backend
#    blocks once the socket's buffers are full;
#  - a LISTEN session idle in a transaction: a backend reads the queue only
#    between transactions.
# A few MB of notifications are a few hundredths of a percent of 8 GB: the
# thresholds are set that low here (they are real numbers for that).
# Needs root and an installed extension (make install).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"
# shellcheck source=../lib/health_checks.sh
. "$top/test/lib/health_checks.sh"
# shellcheck source=../lib/session.sh
. "$top/test/lib/session.sh"

fx_init health-notify-queue
fx_pg_start
db=$FX_APP_DB
fx_psql -d "$db" -c 'CREATE EXTENSION chatgenius'

# row [SETTINGS]: "status: detail" of notify_queue, SET statements first.
row()
{
	health_row notify_queue "$@"
}

# usage_percent: pg_notification_queue_usage() in percent.
usage_percent()
{
	health_sql "SELECT pg_notification_queue_usage() * 100"
}

# usage_below PERCENT: the queue is emptier than PERCENT (for fx_wait_for).
usage_below()
{
	[ "$(health_sql "SELECT pg_notification_queue_usage() * 100 < $1")" = t ]
}

# notify N: N notifications of about 8 kB each on channel cg_test, in one
# transaction (distinct payloads: NOTIFY folds duplicates).
notify()
{
	health_sql "SELECT count(pg_notify('cg_test', i || repeat('x', 7900))) FROM generate_series(1, $1) AS i"
}

LOW="SET chatgenius.notify_queue_warn_percent = 0.05; SET chatgenius.notify_queue_critical_percent = 0.5"

# held WHO: 2000 notifications sent while WHO listens without reading: the
# queue holds them (16 MB, over 0.05 %) and, past the low thresholds, the
# check warns.
held()
{
	notify 2000 >/dev/null
	usage=$(usage_percent)
	cmp_ok "$(health_sql "SELECT ($usage * 1000)::int")" -ge 50 "$1 holds 16 MB of notifications in the queue ($usage %)"
	like "$(row "$LOW")" '^warn: the NOTIFY queue is 0\.[0-9]+% full' "$1: past notify_queue_warn_percent = 0.05, warn"
}

# emptied WHY: the next commit moves the queue's tail past what nobody
# listens to any more (WHY), and the check is ok again.
emptied()
{
	notify 1 >/dev/null
	fx_wait_for 30 "the queue to empty" usage_below 0.01
	ok $? "$1, the queue empties"
	like "$(row "$LOW")" '^ok: ' "notify_queue ok again"
}

is "$(row)" "ok: the NOTIFY queue is empty" "no listener: the queue is empty, ok"
notify 2000 >/dev/null
fx_wait_for 30 "the queue to empty (no listener)" usage_below 0.01
like "$(row "$LOW")" '^ok: ' "notifications nobody listens to do not stay in the queue"

# ---------------------------------------------------------------- a listener that does not read
sess_open deaf "$db"
sess_send deaf "LISTEN cg_test; SELECT 'listening:' || pg_backend_pid();"
fx_wait_for 10 "the listener" grep -q '^listening:' "$FX_DIR/deaf.out"
deaf_pid=$(sed -n 's/^listening://p' "$FX_DIR/deaf.out")
held "a listener that does not read"
like "$(row "$LOW")" "a listener is not reading" "the detail says why it fills"
like "$(row "SET chatgenius.notify_queue_critical_percent = 0.05")" '^critical: ' \
	"past notify_queue_critical_percent = 0.05: critical"
like "$(row)" '^ok: the NOTIFY queue is 0\.[0-9]+% full' "under the default thresholds (10%, 50%) it is ok"
shown=$(row "$LOW" | sed -n 's/^[a-z]*: the NOTIFY queue is \([0-9.]*\)% full.*/\1/p')
is "$(health_sql "SELECT abs($shown - pg_notification_queue_usage() * 100) < 0.001")" t \
	"the percentage shown is pg_notification_queue_usage()'s ($shown %)"
is "$(health_sql "SELECT chatgenius.health_summary() = 'ok'")" t "health_summary() under the defaults: ok"
is "$(timeout 30 psql -qXAtd "$db" -c "SET chatgenius.notify_queue_critical_percent = 0.05" \
	-c "SELECT chatgenius.health_summary()")" critical "health_summary() follows it to critical"

# The listener goes away (its backend ends): the queue empties.
sess_close deaf
fx_wait_for 30 "the listener's backend to end" \
	fx_output_is 0 health_sql "SELECT count(*) FROM pg_stat_activity WHERE pid = $deaf_pid"
emptied "the listener gone"

# ---------------------------------------------------------------- a listener in a transaction
sess_open held "$db"
sess_send held "LISTEN cg_test; BEGIN; SELECT 'in-transaction';"
fx_wait_for 10 "the listener's transaction" grep -q '^in-transaction$' "$FX_DIR/held.out"
held "a LISTEN session idle in a transaction"
sess_send held "COMMIT; SELECT 'committed';"
fx_wait_for 10 "the listener's commit" grep -q '^committed$' "$FX_DIR/held.out"
sess_close held
emptied "its transaction ended and its session closed"

done_testing
