#!/usr/bin/env bash
# A change that cannot be sent never blocks the others: an outbox row whose
# payload NOTIFY refuses (over 8000 bytes, written by a superuser, as the
# triggers never would) sits between two good changes.  The notifier retries
# the batch row by row, sets the bad row aside in realtime_dead_letter with
# its error and time, names it in the log, and goes on: the changes before
# and after it arrive, in order, and so does the next one.  realtime_status()
# and health() count it; realtime_requeue() and realtime_discard() deal
# with it (superuser only).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/rt_lib.sh
. "$top/test/lib/rt_lib.sh"

fx_init realtime-poison
fx_pg_start
db=$FX_APP_DB
CHANNEL=$RT_CHANNEL
USER0=$RT_USER

insert_message()
{
	echo "INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
		VALUES ('$1', '$CHANNEL', '$USER0', 'm');"
}

ids()
{
	rt_lines a | grep -o '01M00000000000000000000P[0-9][0-9]' | tr '\n' ' '
}

realtime_health()
{
	rt_q "SELECT status || ' ' || detail FROM chatgenius.health() WHERE check_name = 'realtime'"
}

rt_seed
fx_psql -d "$db" -c "GRANT USAGE ON SCHEMA chatgenius TO \"$FX_APP_USER\"" >/dev/null
rt_listen a message_change

tl_section
rt_q "$(insert_message 01M00000000000000000000P01)" >/dev/null
fx_wait_for 20 "the first message" rt_count_is a 1 P01
pid=$(rt_q "SELECT notifier_pid FROM chatgenius.realtime_status()")
# In one transaction: the poison row (seq 0), then a good change (seq 1, the
# session's first outbox row).
fx_psql -d "$db" >/dev/null <<SQL
BEGIN;
INSERT INTO chatgenius.realtime_outbox (xid, seq, channel, payload, created_at)
VALUES (pg_current_xact_id(), 0, 'message_change', repeat('x', 9000), now());
$(insert_message 01M00000000000000000000P02)
COMMIT;
SQL
ok $? "a superuser wrote a 9000-byte payload between two changes"
rt_q "$(insert_message 01M00000000000000000000P03)" >/dev/null
fx_wait_for 30 "the changes after the poison" rt_count_is a 3 '01M00000000000000000000P'
is "$(ids)" "01M00000000000000000000P01 01M00000000000000000000P02 01M00000000000000000000P03 " \
	"the changes around the poison arrive, once each, in order"
fx_wait_for 20 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
ok $? "the outbox is empty (the rows sent last go with the notifier's next transaction)"
is "$(rt_q "SELECT channel || ' ' || length(payload) || ' ' || sqlstate || ' ' || error
	|| ' ' || (failed_at >= created_at) FROM chatgenius.realtime_dead_letter")" \
	"message_change 9000 22023 payload string too long true" \
	"the poison row is in realtime_dead_letter with its error, SQLSTATE and time"
is "$(rt_q "SELECT notifier_pid FROM chatgenius.realtime_status()")" "$pid" \
	"the notifier did not exit for it"
is "$(rt_q "SELECT errors >= 1 AND set_aside = 1 AND last_error = 'payload string too long'
	FROM chatgenius.realtime_status()")" t "realtime_status() counts the error and the change set aside"
xid=$(rt_q "SELECT xid FROM chatgenius.realtime_dead_letter")
fx_wait_for 10 "the log line" grep -q "set aside a change it cannot send" "$FX_PG_DIR/server.log"
like "$(grep -A1 'set aside a change it cannot send' "$FX_PG_DIR/server.log" | tr '\n' ' ')" \
	"transaction $xid, number 0, on channel \"message_change\" \\(9000 bytes" "the log names the row"
like "$(realtime_health)" '^warn .*1 change set aside in realtime_dead_letter' \
	"health() warns about the change set aside"
tl_fault poison_change

# Requeued, it fails again and is set aside again; discarded, it is gone.
like "$(PGPASSWORD=$FX_APP_PASSWORD psql -qX -h 127.0.0.1 -p "$FX_PG_PORT" -U "$FX_APP_USER" -d "$db" \
	-c 'SELECT chatgenius.realtime_discard()' 2>&1)" 'permission denied for function realtime_discard' \
	"an ordinary role may not discard set-aside changes"
is "$(rt_q "SELECT chatgenius.realtime_requeue('$xid', 0)")" 1 "realtime_requeue() moves it back"
fx_wait_for 20 "it to be set aside again" \
	rt_q_is "SELECT set_aside FROM chatgenius.realtime_status()" 2
ok $? "the notifier tried it again and set it aside again"
rt_q "$(insert_message 01M00000000000000000000P04)" >/dev/null
fx_wait_for 20 "the next change" rt_count_is a 4 '01M00000000000000000000P'
ok $? "delivery went on"
is "$(rt_q "SELECT chatgenius.realtime_discard()")" 1 "realtime_discard() drops it"
is "$(rt_q "SELECT count(*) FROM chatgenius.realtime_dead_letter")" 0 "the dead-letter table is empty"
like "$(realtime_health)" '^ok .*none set aside' "health() is ok again"

# A requeued change that can be sent arrives.
fx_psql -d "$db" >/dev/null <<SQL
INSERT INTO chatgenius.realtime_dead_letter VALUES ('1000', 7, 'message_change',
	'{"id" : "01M00000000000000000000P05"}', now(), now(), '53000', 'a passing fault');
SQL
is "$(rt_q "SELECT chatgenius.realtime_requeue()")" 1 "realtime_requeue() of a change that can be sent"
fx_wait_for 20 "the requeued change" rt_count_is a 1 '01M00000000000000000000P05'
ok $? "it arrives"

rt_stop_listener a
done_testing
