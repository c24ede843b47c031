#!/usr/bin/env bash
# Realtime delivery across failures, against a real cluster: the notifier
# terminated (the postmaster restarts it; changes committed meanwhile wait in
# the outbox), a server crash (pg_ctl stop -m immediate) with changes
# committed but not yet sent, the change sent last (its row not deleted yet:
# the notifier deletes it with its next transaction) across a notifier
# restart (not sent again: the listeners still read the queue it went into)
# and a crash restart (sent again: every listener was cut), the notifier
# killed with SIGKILL (a crash restart of the server), DROP DATABASE with a
# notifier, and a server without chatgenius in
# shared_preload_libraries (CREATE EXTENSION warns; the triggers NOTIFY in the
# writing transaction).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/rt_lib.sh
. "$top/test/lib/rt_lib.sh"

fx_init realtime-recovery
fx_pg_start
db=$FX_APP_DB
CHANNEL=$RT_CHANNEL
USER0=$RT_USER

notifier_running()
{
	[ -n "$(rt_notifier_pid)" ]
}

notifier_other_than()
{
	local pid
	pid=$(rt_notifier_pid)
	[ -n "$pid" ] && [ "$pid" != "$1" ]
}

rt_seed
rt_listen a message_change

# ------------------------------------------------- the notifier terminated

rt_post 1 AA
fx_wait_for 20 "the first message" rt_count_is a 1
ok $? "a change is delivered (the first commit starts the notifier)"
pid=$(rt_notifier_pid)
cmp_ok "${pid:-0}" -gt 0 "realtime_status() shows the notifier's pid"
is "$(rt_q "SELECT backend_type FROM pg_stat_activity WHERE pid = ${pid:-0}")" "chatgenius notifier" \
	"pg_stat_activity shows it as a chatgenius notifier"
is "$(rt_q "SELECT pg_terminate_backend(${pid:-0})")" t "the notifier terminated"
rt_post 10 BB
fx_wait_for 30 "a new notifier" notifier_other_than "$pid"
ok $? "the postmaster started a new notifier"
fx_wait_for 30 "the messages posted meanwhile" rt_count_is a 11
is "$(rt_ids a BB)" "$(rt_expect_ids BB 10)" "the changes committed while it was down arrive once, in order"
fx_wait_for 20 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
ok $? "the outbox is empty (the rows sent last are deleted with the notifier's next transaction)"

# ------------------------------------------------- a server crash

pid=$(rt_notifier_pid)
kill -STOP "$pid"
rt_post 10 CC
is "$(rt_q "SELECT count(*) FROM chatgenius.realtime_outbox")" 10 \
	"with the notifier stopped, committed changes wait in the outbox"
rt_stop_listener a
fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$FX_PG_DIR/data" -m immediate -w -t 60 stop >/dev/null
ok $? "pg_ctl stop -m immediate"
kill -CONT "$pid" 2>/dev/null
fx_pg_start_again
is "$(rt_q "SELECT count(*) FROM chatgenius.realtime_outbox")" 10 \
	"after crash recovery the committed changes are still in the outbox"
rt_listen b message_change
rt_post 1 DD
fx_wait_for 30 "the messages of before the crash and the new one" rt_count_is b 11
ok $? "after the restart the listener receives them, with the next change"
is "$(rt_ids b CC)" "$(rt_expect_ids CC 10)" "the changes committed before the crash arrive once, in order"
is "$(rt_lines b | tail -1 | grep -o "$(rt_msg_id DD 0)")" "$(rt_msg_id DD 0)" \
	"and before the change committed after the restart"
is "$(rt_count b '01M0+BB')" 0 "nothing delivered before the crash is sent again"
rt_stop_listener b

# ------------------------------------------------- the change sent last

# sent_unacked WARM PREFIX: one change PREFIX00 sent and its row not deleted
# (after a change WARM00 sent and deleted, so that a notifier runs): the
# notifier paused, the change committed, its row locked by a session left
# open (LOCKER), the notifier let go; it sends the change and its next
# transaction waits for the lock to delete the row.
sent_unacked()
{
	local pid
	rt_post 1 "$1"
	fx_wait_for 20 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
	pid=$(rt_notifier_pid)
	kill -STOP "${pid:-0}"
	rt_post 1 "$2"
	fx_bg "$FX_DIR/locker.log" psql -qX -d "$db" -c BEGIN \
		-c "SELECT 1 FROM chatgenius.realtime_outbox FOR UPDATE" -c "SELECT pg_sleep(600)"
	LOCKER=$FX_BG_PID
	fx_wait_for 20 "the session that locks the row" rt_q_is \
		"SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)' AND state = 'active'" 1
	kill -CONT "${pid:-0}"
	fx_wait_for 20 "the notifier's next transaction to wait for the lock" \
		rt_q_is "SELECT wait_event_type FROM pg_stat_activity WHERE pid = ${pid:-0}" Lock
}
unlock()
{
	rt_q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(600)'" >/dev/null
	kill "$LOCKER" 2>/dev/null
}

rt_listen e message_change
sent_unacked GA HH
fx_wait_for 20 "the change sent last" rt_count_is e 1 HH
ok $? "a change is delivered while its row waits in the outbox"
is "$(rt_q "SELECT count(*) || ' ' || (SELECT unacked FROM chatgenius.realtime_sent) FROM chatgenius.realtime_outbox")" "1 1" \
	"realtime_sent names its row as sent and not deleted"
pid=$(rt_notifier_pid)
is "$(rt_q "SELECT pg_terminate_backend(${pid:-0})")" t "the notifier terminated while it waits to delete it"
fx_wait_for 30 "a new notifier" notifier_other_than "$pid"
ok $? "the postmaster started a new notifier"
unlock
fx_wait_for 20 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
ok $? "the new notifier deletes the row"
rt_post 1 MM
fx_wait_for 20 "the next change" rt_count_is e 1 MM
ok $? "the next change is delivered"
is "$(rt_ids e HH)" "$(rt_expect_ids HH 1)" "the change sent last is not sent again by a notifier of the same server (exactly once)"

sent_unacked GB JJ
fx_wait_for 20 "the change sent last" rt_count_is e 1 JJ
ok $? "another change delivered while its row waits in the outbox"
rt_stop_listener e
kill "$LOCKER" 2>/dev/null
fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$FX_PG_DIR/data" -m immediate -w -t 60 stop >/dev/null
ok $? "pg_ctl stop -m immediate (the listeners cut, the notification queue gone)"
fx_pg_start_again
rt_listen f message_change
rt_post 1 KK
fx_wait_for 30 "the change sent last before the crash and the next one" rt_count_is f 1 KK
is "$(rt_ids f JJ)" "$(rt_expect_ids JJ 1)" "after a crash restart the change sent last is sent again (at least once)"
is "$(rt_lines f | head -1 | grep -o "$(rt_msg_id JJ 0)")" "$(rt_msg_id JJ 0)" \
	"first, before the change committed after the restart"
is "$(rt_count f '01M0+HH')" 0 "what was deleted before the crash is not sent again"
diag "reliability: crash_restart_duplicates=$(rt_count f JJ) (the change sent last, its row not yet deleted)"
rt_stop_listener f

# ------------------------------------------------- the notifier killed (SIGKILL)

# The postmaster treats a killed worker as a crash of the whole server:
# every session ends, shared memory is reset, the server recovers and starts
# the notifier again at once (no listener can have stayed connected).
fx_wait_for 20 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
pid=$(rt_notifier_pid)
kill -STOP "$pid"
rt_post 5 FF
kill -KILL "$pid"
gone()
{
	! kill -0 "$1" 2>/dev/null
}
fx_wait_for 60 "the killed notifier to be gone" gone "$pid"
fx_wait_for 60 "the server back and the outbox sent" \
	rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
ok $? "after the crash restart a new notifier sends what the killed one had not"
is "$(rt_q "SELECT delivered FROM chatgenius.realtime_status()")" 5 \
	"it sent those 5 changes once (its counters start at the crash)"
rt_listen d message_change
rt_post 1 GG
fx_wait_for 30 "the next change" rt_count_is d 1
ok $? "and delivers the next change"
rt_stop_listener d

# ------------------------------------------------- DROP DATABASE

# dbstart DB: a database with the extension, a user, a channel and one
# message, so that its notifier runs.
dbstart()
{
	fx_psql -d postgres -c "CREATE DATABASE $1" >/dev/null && rt_seed "$1" &&
		psql -qX -v ON_ERROR_STOP=1 -d "$1" -c \
			"INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$CHANNEL', '$USER0', 'hi')" >/dev/null
}
db_notifier_running()
{
	[ -n "$(psql -qXAt -d "$1" -c 'SELECT notifier_pid FROM chatgenius.realtime_status()')" ]
}
dbstart doomed
fx_wait_for 20 "the notifier of doomed" db_notifier_running doomed
ok $? "a second database has its own notifier"
fx_psql -d postgres -c 'DROP DATABASE doomed' >/dev/null
ok $? "DROP DATABASE right after a change succeeds (the idle notifier leaves in time)"
dbstart forced
fx_wait_for 20 "the notifier of forced" db_notifier_running forced
fx_psql -d postgres -c 'DROP DATABASE forced WITH (FORCE)' >/dev/null
ok $? "DROP DATABASE WITH (FORCE) while the notifier runs"
fx_wait_for 30 "the notifier to stop restarting" \
	grep -q 'chatgenius notifier for database [0-9]* stops restarting' "$FX_PG_DIR/server.log"
ok $? "the notifier of the dropped database stops restarting (no endless FATAL loop)"

# ------------------------------------------------- not preloaded

fx_pg_stop
sed -i '/^shared_preload_libraries/d' "$FX_PG_DIR/data/postgresql.conf"
fx_pg_start_again
fx_psql -d postgres -c 'CREATE DATABASE plain' >/dev/null
warning=$(psql -qX -d plain -c 'CREATE EXTENSION chatgenius' 2>&1)
ok $? "CREATE EXTENSION works without shared_preload_libraries"
like "$warning" 'WARNING:  chatgenius is not in shared_preload_libraries' "and warns that it falls back"
is "$(psql -qXAt -d plain -c "SELECT mode || ' ' || preloaded FROM chatgenius.realtime_status()")" \
	"direct false" "realtime_status(): direct NOTIFY, not preloaded"
like "$(psql -qXAt -d plain -c "SELECT status || ' ' || detail FROM chatgenius.health() WHERE check_name = 'realtime'")" \
	"^warn direct: chatgenius is not in shared_preload_libraries" "health() warns: direct, the library not preloaded"
rt_listen c message_change plain
psql -qX -v ON_ERROR_STOP=1 -d plain >/dev/null <<SQL
INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
VALUES ('$USER0', 'auth0|0', '0@example.com', 'u0', 'User 0');
INSERT INTO chatgenius.channels (id, name, type, created_by) VALUES ('$CHANNEL', 'general', 'public', '$USER0');
INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
VALUES ('$(rt_msg_id EE 0)', '$CHANNEL', '$USER0', 'direct');
SQL
fx_wait_for 20 "the direct notification" rt_count_is c 1
ok $? "the change is delivered by NOTIFY in the writing transaction"
is "$(psql -qXAt -d plain -c 'SELECT count(*) FROM chatgenius.realtime_outbox')" 0 "the outbox stays empty"
rt_stop_listener c

done_testing
