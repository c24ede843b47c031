#!/usr/bin/env bash
# Realtime across a failover, on a plain streaming pair (test/lib/standby.sh)
# with the library preloaded on both and synchronous replication on.  The
# guarantee: at least once, duplicates bounded to the last batch.
#  1. a change sent and delivered whose row the notifier had not deleted yet
#     (its next transaction held on a row lock), then changes committed
#     while the notifier could not send them (paused with SIGSTOP), then the
#     primary killed (immediate stop) and the standby promoted: an app that
#     LISTENs on the new primary receives the change sent last again (its
#     old host may have died before the listener read it) and every one of
#     the others once, in order, with no further write to wake a notifier;
#     what the old notifier had deleted is not sent again;
#  2. the same under a burst with the notifier running: no notification of
#     an acknowledged change is lost; duplicates are at most the rows the
#     old notifier had sent last and not deleted (realtime_sent.unacked on
#     the standby), the tail of what it sent;
#  3. the promoted server with 73 databases crashed and restarted: the
#     backlog of the last database made is sent (more databases than
#     notifier slots and worker processes).
# Prints "# reliability:" lines (rows lost, notifications lost, duplicates,
# time to delivery).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/rt_lib.sh
. "$top/test/lib/rt_lib.sh"
# shellcheck source=../lib/standby.sh
. "$top/test/lib/standby.sh"

fx_init realtime-failover
db=$FX_APP_DB
CHANNEL=$RT_CHANNEL
USER0=$RT_USER

# pair: a fresh streaming pair with the extension, a user and a channel,
# synchronous replication on.
pair()
{
	sb_pair_start
	rt_seed
	sb_sync_on
}

# listen_on NAME SOCKETDIR PORT [DB]: a LISTEN client (the app's realtime
# connection) on message_change; returns once it listens.
listen_on()
{
	rt_build_listener
	: >"$FX_DIR/$1.log"
	fx_bg "$FX_DIR/$1.log" "$FX_DIR/listen" "host=$2 port=$3 user=postgres dbname=${4:-$db}" message_change
	RT_LISTENER_PID[$1]=$FX_BG_PID
	fx_wait_for 20 "listener $1" grep -q '^# listening' "$FX_DIR/$1.log" ||
		fx_die "listener $1 did not start: $(cat "$FX_DIR/$1.log")"
}

# ------------------------------------------------- 1. the notifier paused

pair
listen_on old "$FX_PG_DIR" "$FX_PG_PORT"
rt_post 1 AA
fx_wait_for 20 "the first change on the primary" rt_count_is old 1
ok $? "the primary's notifier delivers a change"
fx_wait_for 20 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
ok $? "and deletes its row with its next transaction"
pid=$(rt_notifier_pid)
# A change sent whose row the notifier has not deleted yet: its row locked
# (FOR UPDATE, by a session left open) while the notifier is paused, so that
# the NOTIFY goes out and the DELETE in the next transaction waits.
kill -STOP "${pid:-0}"
rt_post 1 AB
fx_bg "$FX_DIR/locker.log" psql -qX -d "$db" -c BEGIN -c "SELECT 1 FROM chatgenius.realtime_outbox FOR UPDATE" -c "SELECT pg_sleep(600)"
locker=$FX_BG_PID
locker_sleeps()
{
	rt_q_is "SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)' AND state = 'active'" 1
}
fx_wait_for 20 "the session that locks the row" locker_sleeps
kill -CONT "${pid:-0}"
fx_wait_for 20 "the change sent while its row is locked" rt_count_is old 1 AB
ok $? "a change is notified while its row stays in the outbox (the DELETE waits for the next transaction)"
fx_wait_for 20 "the notifier's next transaction to wait for the lock" \
	rt_q_is "SELECT wait_event_type FROM pg_stat_activity WHERE pid = ${pid:-0}" Lock
is "$(rt_q "SELECT unacked || ' ' || (server_id <> 0) FROM chatgenius.realtime_sent")" "1 true" \
	"realtime_sent: one row sent and not deleted, with the server that sent it"
kill -STOP "${pid:-0}"
ok $? "the notifier paused (SIGSTOP)"
rt_post 20 BB
ok $? "20 changes committed, each acknowledged after the standby flushed it"
is "$(rt_q "SELECT count(*) FROM chatgenius.realtime_outbox")" 21 "they wait in the outbox, after the one sent last"
is "$(sb_q_standby "SELECT unacked FROM chatgenius.realtime_sent")" 1 "the standby knows which row was sent last"
sb_primary_crash
ok $? "the primary killed (immediate stop) before its notifier sent them"
kill -CONT "$pid" 2>/dev/null
kill "$locker" 2>/dev/null
t0=$(date +%s%N)
sb_promote
ok $? "the standby promoted"
listen_on new "$SB_STANDBY_DIR" "$SB_STANDBY_PORT"
is "$(sb_q_standby "SELECT count(*) FROM chatgenius.messages WHERE id > '$(rt_msg_id AB 0)'")" 20 \
	"the app catching up by id since its last seen change finds all 20 on the new primary"
fx_wait_for 30 "the 20 changes on the new primary, without another write" rt_count_is new 20 BB
ok $? "the new primary's notifier starts by itself and the app receives every committed change"
t1=$(date +%s%N)
is "$(rt_ids new BB)" "$(rt_expect_ids BB 20)" "once each, in commit order"
is "$(rt_ids new AB)" "$(rt_expect_ids AB 1)" "the change sent last on the old primary is sent again (at least once), once"
like "$(rt_lines new | head -1)" "$(rt_msg_id AB 0)" "first, before the changes committed after it"
is "$(rt_count new AA)" 0 "what the old primary had delivered and deleted is not sent again"
cmp_ok "$(((t1 - t0) / 1000000))" -ge 10000 "not before chatgenius.realtime_resume_delay (10 s): the app had time to reconnect"
got=$(rt_count new BB)
diag "reliability: rows_lost=$((20 - got))"
diag "reliability: failover_paused_duplicates=$(rt_count new AB) (the change sent last, its row not yet deleted)"
diag "reliability: failover_paused_notifier_delivery_ms=$(((t1 - t0) / 1000000)) (from promote to the last change received)"
post_new()
{
	psql -qX -v ON_ERROR_STOP=1 -h "$SB_STANDBY_DIR" -p "$SB_STANDBY_PORT" -d "$db" -c \
		"INSERT INTO chatgenius.messages (id, channel_id, user_id, content) VALUES ('$(rt_msg_id CC 0)', '$CHANNEL', '$USER0', 'm')" >/dev/null
}
post_new
fx_wait_for 20 "a change written on the new primary" rt_count_is new 1 CC
ok $? "a change written on the new primary arrives"
is "$(rt_lines new | tail -1 | grep -oE "$(rt_msg_id CC 0)")" "$(rt_msg_id CC 0)" "after those of before the failover"
rt_stop_listener old
rt_stop_listener new

# ------------------------------------------------- 2. a burst, the notifier running

sb_standby_stop immediate
rm -rf "$FX_PG_DIR" "$SB_STANDBY_DIR"
unset FX_PG_PORT
pair
listen_on old2 "$FX_PG_DIR" "$FX_PG_PORT"
# The writer: one session, one transaction per message, "ack ID" printed
# once the commit returned (the standby has flushed it).
for ((i = 0; i < 5000; i++)); do
	printf "INSERT INTO chatgenius.messages (id, channel_id, user_id, content) VALUES ('01M00000000000000000DD%04d', '%s', '%s', 'm');\n%secho ack 01M00000000000000000DD%04d\n" \
		"$i" "$CHANNEL" "$USER0" '\' "$i"
done >"$FX_DIR/burst.sql"
fx_bg "$FX_DIR/acks.log" psql -qX -v ON_ERROR_STOP=1 -d "$db" -f "$FX_DIR/burst.sql"
writer=$FX_BG_PID
acked_at_least()
{
	[ "$(grep -c '^ack ' "$FX_DIR/acks.log")" -ge "$1" ]
}
fx_wait_for 60 "300 acknowledged writes" acked_at_least 300
ok $? "a burst of writes, the notifier delivering"
sb_primary_crash
ok $? "the primary killed in the middle of the burst"
fx_wait_exit "$writer" 30
[ "$FX_RC" != 0 ]
ok $? "the writer lost its connection"
grep -oE '^ack [0-9A-Z]+' "$FX_DIR/acks.log" | cut -d' ' -f2 | sort >"$FX_DIR/acked"
# What the old notifier had sent and not deleted, as the standby has it
# once it has replayed all it received (synchronous commit waits for the
# flush, not the replay).
replayed_all()
{
	[ "$(sb_q_standby "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()")" = t ]
}
fx_wait_for 30 "the standby to replay what it received" replayed_all
ok $? "the standby has replayed everything it received from the old primary"
unacked=$(sb_q_standby "SELECT coalesce((SELECT unacked FROM chatgenius.realtime_sent), 0)")
sb_promote
ok $? "the standby promoted"
listen_on new2 "$SB_STANDBY_DIR" "$SB_STANDBY_PORT"
# received: what the app got on either side, sorted, with repeats
received()
{
	{ rt_ids old2 DD; rt_ids new2 DD; } | tr ' ' '\n' | { grep . || true; } | sort
}
# missing: acknowledged changes the app got no notification of
missing()
{
	comm -23 "$FX_DIR/acked" <(received | uniq)
}
outbox_sent()
{
	[ "$(sb_q_standby 'SELECT count(*) FROM chatgenius.realtime_outbox')" = 0 ]
}
fx_wait_for 40 "the new primary's notifier to send its outbox" outbox_sent
ok $? "the new primary's notifier sends what its outbox held"
none_missing()
{
	[ -z "$(missing)" ]
}
fx_wait_for 10 "a notification of every acknowledged change" none_missing
acked=$(wc -l <"$FX_DIR/acked")
old_last=$(rt_ids old2 DD | tr ' ' '\n' | { grep . || true; } | tail -1)
# The app's catch-up after it reconnected: every message since the last it saw.
b_ids=$(sb_q_standby "SELECT id FROM chatgenius.messages WHERE id > '${old_last:-0}' ORDER BY id")
# unreached: acknowledged changes neither notified by the old primary nor
# found by the re-read on the new one
unreached()
{
	comm -23 "$FX_DIR/acked" <(sort <<<"$b_ids") | comm -23 - <(rt_ids old2 DD | tr ' ' '\n' | sort)
}
is "$(unreached | wc -l)" 0 \
	"every acknowledged change reached the app: notified by the old primary, or found by its re-read on the new one"
lost_notifications=$(missing | wc -l)
is "$lost_notifications" 0 "no acknowledged change lost its notification (at least once)"
[ "$lost_notifications" = 0 ] || diag "lost: $(missing | tr '\n' ' ')"
dups=$(received | uniq -d | wc -l)
old_got=$(rt_ids old2 DD | wc -w)
diag "reliability: rows_lost=$(unreached | wc -l)"
diag "reliability: failover_burst_acked=$acked failover_burst_sent_before=$old_got failover_burst_notifications_lost=$lost_notifications failover_burst_duplicates=$dups failover_burst_unacked=$unacked failover_burst_resent_unread=$((unacked - dups)) (sent by the old primary, not read before it died: lost before 1.9)"
# Duplicates can only be the tail of what the old primary sent: the rows of
# its last transaction, whose DELETE the standby had not received.
cmp_ok "$dups" -le "$unacked" "duplicates ($dups) are at most the rows the old notifier sent last and had not deleted ($unacked)"
cmp_ok "$unacked" -le 2000 "which are one notifier transaction at most (2000 rows)"
tail_of_old=$(rt_ids old2 DD | tr ' ' '\n' | { grep . || true; } | tail -n "$dups" | sort | tr '\n' ' ')
dup_ids=$(received | uniq -d | tr '\n' ' ')
is "$dup_ids" "$tail_of_old" "duplicates ($dups) are only the last changes the old primary sent"
is "$(rt_ids new2 DD | tr ' ' '\n' | { grep . || true; } | sort -c && echo sorted)" sorted \
	"the new primary sends the rest in order"
rt_stop_listener old2
rt_stop_listener new2

# ------------------------------------------------- 3. a server with many databases

# The promoted server, now alone, with 70 databases without the extension
# made before the app's: a restart after a crash must still send the app's
# backlog (more databases than notifier slots, and than worker processes).
b_psql()
{
	psql -qX -v ON_ERROR_STOP=1 -h "$SB_STANDBY_DIR" -p "$SB_STANDBY_PORT" "$@"
}
for ((i = 0; i < 70; i++)); do printf 'CREATE DATABASE empty_%d;\n' "$i"; done | b_psql -d postgres
b_psql -d postgres -c 'CREATE DATABASE late' >/dev/null
b_psql -d late >/dev/null <<SQL
CREATE EXTENSION chatgenius;
INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
VALUES ('$USER0', 'auth0|0', '0@example.com', 'u0', 'User 0');
INSERT INTO chatgenius.channels (id, name, type, created_by) VALUES ('$CHANNEL', 'general', 'public', '$USER0');
INSERT INTO chatgenius.messages (id, channel_id, user_id, content) VALUES ('$(rt_msg_id EE 99)', '$CHANNEL', '$USER0', 'm');
SQL
late_notifier()
{
	b_psql -Atd late -c 'SELECT notifier_pid FROM chatgenius.realtime_status()'
}
late_notifier_running()
{
	[ -n "$(late_notifier)" ]
}
fx_wait_for 20 "the notifier of database late" late_notifier_running
late_drained()
{
	[ "$(b_psql -Atd late -c 'SELECT count(*) FROM chatgenius.realtime_outbox')" = 0 ]
}
fx_wait_for 20 "the first change of database late sent and deleted" late_drained
pid=$(late_notifier)
kill -STOP "${pid:-0}"
sql="SET synchronous_commit = on;"
for ((i = 0; i < 10; i++)); do
	sql+="INSERT INTO chatgenius.messages (id, channel_id, user_id, content) VALUES ('$(rt_msg_id EE "$i")', '$CHANNEL', '$USER0', 'm');"
done
b_psql -d late <<<"$sql" >/dev/null
is "$(b_psql -Atd late -c 'SELECT count(*) FROM chatgenius.realtime_outbox')" 10 \
	"73 databases; 10 changes wait in the outbox of the last one made"
sb_standby_stop immediate
kill -CONT "$pid" 2>/dev/null
sb_standby_start
listen_on late "$SB_STANDBY_DIR" "$SB_STANDBY_PORT" late
fx_wait_for 60 "the 10 changes in database late after the restart" rt_count_is late 10 EE
ok $? "after a crash restart the backlog of the 73rd database is sent without another write"
is "$(rt_ids late EE)" "$(rt_expect_ids EE 10)" "once each, in order"
diag "reliability: rows_lost=$((10 - $(rt_count late EE)))"
rt_stop_listener late

done_testing
