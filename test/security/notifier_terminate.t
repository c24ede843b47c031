#!/usr/bin/env bash
# Attack: pg_terminate_backend of the notifier in the middle of a batch,
# three times while it drains a backlog of 300,000 changes.  Each piece the
# notifier sends is one transaction that NOTIFYs and deletes the same rows,
# so a piece cut short sends nothing and keeps its rows; the postmaster
# restarts the notifier a second later and it goes on from the outbox.  The
# attack held if the listener received every change exactly once, in order
# (the documented bound for duplicates after a termination is zero).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/rt_lib.sh
. "$top/test/lib/rt_lib.sh"

fx_init security-notifier-terminate
fx_pg_start
db=$FX_APP_DB
N=300000

rt_seed
rt_listen a bulk_change
fx_psql -d "$db" >/dev/null <<SQL
INSERT INTO chatgenius.realtime_outbox (xid, seq, channel, payload, created_at)
SELECT pg_current_xact_id(), g, 'bulk_change', '{"n" : ' || g || '}', now()
  FROM generate_series(1, $N) g;
INSERT INTO chatgenius.messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000001', '01A00000000000000000000000', 'wake');
SQL

# Three terminations, each of a notifier at work on the batch (the backlog
# is one transaction's, so one batch), the next once the postmaster has
# started another.
notifier()
{
	rt_q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'chatgenius notifier'
		AND datname = current_database() AND state = 'active' AND pid <> ${last:-0}"
}
notifier_at_work()
{
	[ -n "$(notifier)" ]
}
terminated=0
last=0
for round in 1 2 3; do
	fx_wait_for 30 "a notifier at work" notifier_at_work || break
	pid=$(notifier)
	left=$(rt_q "SELECT count(*) FROM chatgenius.realtime_outbox")
	[ -n "$pid" ] && [ "$left" -gt 0 ] || continue
	[ "$(rt_q "SELECT pg_terminate_backend($pid)")" = t ] && terminated=$((terminated + 1))
	last=$pid
	diag "terminated the notifier (pid $pid) with $left changes left"
done
is "$terminated" 3 "the notifier was terminated three times while it sent"
fx_wait_for 120 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
ok $? "the restarted notifier drained the outbox"
fx_wait_for 60 "all $N at the listener" rt_count_at_least a "$N"
read -r got dups order < <(rt_bulk_tally a)
is "$got" "$N" "every change arrived"
is "$dups" 0 "none twice"
is "$order" 0 "in order"
if [ "$got" = "$N" ] && [ "$dups" = 0 ] && [ "$order" = 0 ] && [ "$terminated" = 3 ]; then
	diag "reliability: attack=notifier_terminated_mid_batch held"
else
	diag "reliability: attack=notifier_terminated_mid_batch succeeded"
fi

rt_stop_listener a
done_testing
