#!/usr/bin/env bash
# A backlog of 1,000,000 changes (written straight into the outbox by a
# superuser in one transaction, as an outage of the notifier would leave
# them) drains in bounded memory: the notifier reads and sends it in pieces,
# and its private memory (RssAnon: shared buffers are not counted) stays
# under 64 MB.  A listener receives every change exactly once and in order.
# The sampling stops the notifier if it passes 128 MB, to spare the machine.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/rt_lib.sh
. "$top/test/lib/rt_lib.sh"

fx_init realtime-backlog
fx_pg_start
db=$FX_APP_DB
N=${BACKLOG:-1000000}
LIMIT_KB=$((64 * 1024))
GUARD_KB=$((128 * 1024))

rt_seed
rt_listen a bulk_change
wake()
{
	rt_q "INSERT INTO chatgenius.messages (channel_id, user_id, content)
		VALUES ('01C00000000000000000000001', '01A00000000000000000000000', 'wake')" >/dev/null
}
notifier_running()
{
	[ -n "$(rt_q "SELECT notifier_pid FROM chatgenius.realtime_status()")" ]
}

tl_section
start=$(date +%s)
fx_psql -d "$db" >/dev/null <<SQL
INSERT INTO chatgenius.realtime_outbox (xid, seq, channel, payload, created_at)
SELECT pg_current_xact_id(), g, 'bulk_change', '{"n" : ' || g || '}', now()
  FROM generate_series(1, $N) g;
SQL
ok $? "$N changes committed to the outbox in one transaction"
wake
fx_wait_for 20 "the notifier" notifier_running
pid=$(rt_q "SELECT notifier_pid FROM chatgenius.realtime_status()")

# Sample the notifier's private memory until the outbox is empty.
peak=0
drained()
{
	local kb
	kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null)
	[ -n "$kb" ] && [ "$kb" -gt "$peak" ] && peak=$kb
	if [ "$peak" -gt "$GUARD_KB" ]; then
		rt_q "SELECT pg_terminate_backend($pid)" >/dev/null
		return 0
	fi
	[ "$(rt_q "SELECT count(*) = 0 FROM chatgenius.realtime_outbox")" = t ]
}
fx_wait_for 150 "the backlog to drain" drained
ok $? "the backlog drained (in $(($(date +%s) - start)) s)"
is "$(rt_q "SELECT notifier_pid FROM chatgenius.realtime_status()")" "$pid" "by the same notifier"
cmp_ok "$peak" -lt "$LIMIT_KB" "the notifier's private memory peaked at $((peak / 1024)) MB (under 64 MB)"
diag "reliability: backlog=$N notifier_peak_rss_anon_kb=$peak"
fx_wait_for 60 "all $N at the listener" rt_count_at_least a "$N"
read -r got dups order < <(rt_bulk_tally a)
is "$got" "$N" "the listener received $N changes"
is "$dups" 0 "none twice"
is "$order" 0 "in order"
tl_fault backlog_1m

rt_stop_listener a
done_testing
