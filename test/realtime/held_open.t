#!/usr/bin/env bash
# The queue's cost does not grow with its history: with a transaction held
# open for the whole run (it has an xid, so it holds back both vacuum and
# every snapshot's xmin) and 200,000 changes sent through the outbox since
# it began (200,000 dead rows vacuum cannot remove), the delivery delay of
# new changes stays what it was before: p50 within 1.5 times (plus the 1 ms
# resolution of the ULID clock the delay is read from).  Also: every change
# arrives exactly once and in order.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/rt_lib.sh
. "$top/test/lib/rt_lib.sh"

fx_init realtime-held-open
fx_pg_start
db=$FX_APP_DB
CHANNEL=$RT_CHANNEL
DEAD=${DEAD_ROWS:-200000}

rt_seed "$db" 5
cat >"$FX_DIR/post.sql" <<SQL
INSERT INTO chatgenius.messages (channel_id, user_id, content)
VALUES ('$CHANNEL', '01A' || lpad(:client_id::text, 23, '0'), 'post');
SQL
rt_listen a message_change

# measure NAME: 4 s of posts at 100 a second by 2 writers; sets p50, p99
# (ms) and n (posts) of what arrived; asserts that each arrived.
measure()
{
	local from total stats
	from=$(($(rt_count a) + 1))
	pgbench -n -d "$db" -c 2 -j 1 -R 100 -T 4 -f "$FX_DIR/post.sql" >"$FX_DIR/pgbench-$1.log" 2>&1 ||
		diag "pgbench: $(tail -3 "$FX_DIR/pgbench-$1.log")"
	total=$(rt_q "SELECT count(*) FROM chatgenius.messages WHERE content = 'post'")
	fx_wait_for 60 "the posts of $1" rt_count_at_least a "$total"
	is "$(rt_count a "\"operation\" : \"INSERT\"")" "$((total + wakes))" "$1: every committed post arrived"
	stats=$(perl "$top/test/bench/realtime_delay.pl" "$FX_DIR/a.log" "$from")
	p50=$(awk '$1 == "p50" {print $2}' <<<"$stats")
	p99=$(awk '$1 == "p99" {print $2}' <<<"$stats")
	n=$(awk '$1 == "received" {print $2}' <<<"$stats")
}

wakes=0
measure baseline
base_p50=$p50 base_p99=$p99 base_n=$n
diag "baseline: $base_n posts, delivery p50 $base_p50 ms, p99 $base_p99 ms"

# The transaction held open: it has written (an xid), and stays open.
fx_bg "$FX_DIR/held.log" psql -qX -d "$db" -c "BEGIN" -c "CREATE TEMP TABLE held (x int)" \
	-c "SELECT 'held open', pg_current_xact_id()" -c "SELECT pg_sleep(3600)"
held_pid=$FX_BG_PID
fx_wait_for 20 "the held-open transaction" rt_q_is \
	"SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(3600)' AND backend_xid IS NOT NULL" 1
ok $? "a transaction with an xid is held open"

# 200,000 changes through the outbox (on a channel nobody listens to), sent
# by the notifier while the transaction is open: dead rows vacuum cannot remove.
tl_section
fx_psql -d "$db" >/dev/null <<SQL
INSERT INTO chatgenius.realtime_outbox (xid, seq, channel, payload, created_at)
SELECT pg_current_xact_id(), g, 'bulk_change', '{"n" : ' || g || '}', now()
  FROM generate_series(1, $DEAD) g;
SQL
rt_q "INSERT INTO chatgenius.messages (channel_id, user_id, content)
	VALUES ('$CHANNEL', '01A00000000000000000000000', 'wake')" >/dev/null
wakes=1
fx_wait_for 120 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
ok $? "the notifier sent the $DEAD changes"
fx_psql -d "$db" -c 'VACUUM chatgenius.realtime_outbox' >/dev/null
dead=$(rt_q "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relid = 'chatgenius.realtime_outbox'::regclass")
cmp_ok "${dead:-0}" -ge "$DEAD" "after VACUUM the outbox still holds $DEAD dead rows ($dead)"

# Two latency samples taken a minute apart on a shared machine: a busy
# neighbour in one window adds milliseconds to a p50 of two.  A cost that
# grows with the dead rows shows in every window (1.4: 2.2 ms, then 138), a
# neighbour in one, so the held-open figure is the best of up to 3 windows.
bound=$(awk -v b="$base_p50" 'BEGIN {printf "%.1f", 1.5 * b + 1}')
held_p50=
for try in 1 2 3; do
	measure "held-open-$try"
	diag "held open, $dead dead rows, window $try: $n posts, delivery p50 $p50 ms, p99 $p99 ms"
	if [ -z "$held_p50" ] || awk -v a="$p50" -v b="$held_p50" 'BEGIN {exit !(a < b)}'; then
		held_p50=$p50
	fi
	awk -v h="$held_p50" -v b="$bound" 'BEGIN {exit !(h <= b)}' && break
done
ok "$(awk -v h="$held_p50" -v b="$bound" 'BEGIN {print (h <= b) ? 0 : 1}')" \
	"delivery p50 with the transaction held open ($held_p50 ms) within 1.5 x $base_p50 + 1 ms ($bound)"
diag "reliability: delivery_p50_ms=$base_p50 delivery_p50_held_open_ms=$held_p50"
tl_fault held_open_dead_rows

rt_q "SELECT count(*) FROM chatgenius.messages WHERE content = 'post'" >/dev/null
rt_q "SELECT user_id, id FROM chatgenius.messages WHERE content IN ('post')" | tr '|' '\t' >"$FX_DIR/expected"
perl "$top/test/tools/check_delivery.pl" "$FX_DIR/a.log" "$FX_DIR/expected" >"$FX_DIR/check"
is "$(awk '$1 == "duplicates" || $1 == "missing" || $1 == "out_of_order" {s += $2} END {print s + 0}' "$FX_DIR/check")" 0 \
	"exactly once and in each writer's commit order"

kill -TERM "$held_pid" 2>/dev/null
rt_stop_listener a
done_testing
