#!/usr/bin/env bash
# Realtime delivery through the outbox and the notifier, against a real
# cluster with chatgenius preloaded: every committed change reaches a
# listener connected throughout exactly once and in commit order under
# concurrent writers, a rolled-back change never does, identical payloads
# of different transactions both arrive, a late listener gets nothing from
# before, and chatgenius.realtime switches between on, direct and off.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"
# shellcheck source=../lib/rt_lib.sh
. "$top/test/lib/rt_lib.sh"

fx_init realtime-delivery
fx_pg_start
db=$FX_APP_DB
WRITERS=8
CHANNEL=01C00000000000000000000001
USER0=01A00000000000000000000000

# post ID CONTENT: one message by USER0 with a known id.
post()
{
	rt_q "INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
		VALUES ('$1', '$CHANNEL', '$USER0', '$2')" >/dev/null
}

fx_psql -d "$db" -c 'CREATE EXTENSION chatgenius' >/dev/null
ok $? "CREATE EXTENSION chatgenius"
is "$(rt_q "SELECT mode || ' ' || preloaded FROM chatgenius.realtime_status()")" "notifier true" \
	"preloaded: changes go through the notifier"

fx_psql -d "$db" >/dev/null <<SQL
INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
SELECT '01A' || lpad(i::text, 23, '0'), 'auth0|' || i, i || '@example.com', 'u' || i, 'User ' || i
  FROM generate_series(0, $WRITERS) i;
INSERT INTO chatgenius.channels (id, name, type, created_by)
VALUES ('$CHANNEL', 'general', 'public', '$USER0');
INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000001', '$CHANNEL', '$USER0', 'edit me');
CREATE TABLE public.edits (at timestamptz NOT NULL DEFAULT clock_timestamp());
SQL

# ------------------------------------------------- concurrent writers

rt_listen all message_change,reaction_change,channel_member_change,user_status_change
user="'01A' || lpad(:client_id::text, 23, '0')"
cat >"$FX_DIR/post.sql" <<SQL
INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$CHANNEL', $user, 'post');
SQL
cat >"$FX_DIR/pair.sql" <<SQL
WITH m AS (INSERT INTO chatgenius.messages (channel_id, user_id, content)
	VALUES ('$CHANNEL', $user, 'pair') RETURNING id, user_id)
INSERT INTO chatgenius.reactions (message_id, user_id, emoji) SELECT id, user_id, ':+1:' FROM m;
SQL
cat >"$FX_DIR/edit.sql" <<SQL
BEGIN;
UPDATE chatgenius.messages SET edited = true WHERE id = '01M00000000000000000000001';
INSERT INTO public.edits DEFAULT VALUES;
COMMIT;
SQL
cat >"$FX_DIR/rollback.sql" <<SQL
BEGIN;
INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$CHANNEL', $user, 'rolled back');
ROLLBACK;
SQL
pgbench -n -d "$db" -c "$WRITERS" -j 2 -T 6 -f "$FX_DIR/post.sql@6" -f "$FX_DIR/pair.sql@2" \
	-f "$FX_DIR/edit.sql@1" -f "$FX_DIR/rollback.sql@1" >"$FX_DIR/pgbench.log" 2>&1
rc=$?
ok $rc "$WRITERS writers posted, reacted, edited and rolled back for 6 s"
[ $rc -eq 0 ] || diag "$(tail -20 "$FX_DIR/pgbench.log")"

posts=$(rt_q "SELECT count(*) FROM chatgenius.messages WHERE content IN ('post', 'pair')")
reactions=$(rt_q "SELECT count(*) FROM chatgenius.reactions")
edits=$(rt_q "SELECT count(*) FROM public.edits")
total=$((posts + reactions + edits))
diag "committed: $posts messages, $reactions reactions, $edits edits"
cmp_ok "$posts" -gt 100 "the writers committed messages"
cmp_ok "$edits" -gt 1 "the writers edited one message several times"
fx_wait_for 60 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
ok $? "the notifier emptied the outbox"
fx_wait_for 30 "all $total changes at the listener" rt_count_at_least all "$total"
is "$(rt_count all)" "$total" "the listener received one notification per committed change"
rt_q "SELECT user_id, id FROM chatgenius.messages WHERE content IN ('post', 'pair')" |
	tr '|' '\t' >"$FX_DIR/expected"
perl "$top/test/tools/check_delivery.pl" "$FX_DIR/all.log" "$FX_DIR/expected" >"$FX_DIR/check"
figure()
{
	awk -v k="$1" '$1 == k {print $2}' "$FX_DIR/check"
}
is "$(figure duplicates)" 0 "no change delivered twice"
is "$(figure missing)" 0 "no committed message missing"
is "$(figure extra)" 0 "nothing delivered that did not commit (rolled-back posts included)"
is "$(figure out_of_order)" 0 "each writer's messages arrive in the order it committed them"
is "$(figure reaction_first)" 0 "a transaction's changes arrive in statement order"
is "$(rt_count all '"operation" : "UPDATE"')" "$edits" \
	"identical payloads of different transactions (edits of one message) all arrive"
is "$(rt_q "SELECT count(*) FROM chatgenius.messages WHERE content = 'rolled back'")" 0 \
	"the rolled-back posts are not in the table"
cmp_ok "$(rt_q "SELECT batches FROM chatgenius.realtime_status()")" -lt "$total" \
	"the notifier sent them in batches (fewer batches than changes)"

# A rolled-back change with a known id: never delivered; the next commit is.
rt_q "BEGIN; INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
	VALUES ('01M000000000000000000000RB', '$CHANNEL', '$USER0', 'no'); ROLLBACK;" >/dev/null
post 01M000000000000000000000C1 yes
fx_wait_for 20 "the committed message" rt_count_is all 1 '01M000000000000000000000C1'
ok $? "the message committed after a rollback arrives"
is "$(rt_count all '01M000000000000000000000RB')" 0 "the rolled-back message never arrives"

# ------------------------------------------------- a late listener

rt_listen late message_change
post 01M000000000000000000000S1 late
fx_wait_for 20 "the late listener's first message" rt_count_at_least late 1
is "$(rt_count late)" 1 "a listener that connects late gets only what commits after (as NOTIFY)"

# ------------------------------------------------- the switch

before=$(rt_count all)
psql -qX -v ON_ERROR_STOP=1 -Atd "$db" >"$FX_DIR/switch.out" 2>&1 <<SQL
SET chatgenius.realtime = off;
SELECT mode FROM chatgenius.realtime_status();
INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
VALUES ('01M000000000000000000000F1', '$CHANNEL', '$USER0', 'off');
SELECT count(*) FROM chatgenius.realtime_outbox WHERE payload LIKE '%F1"%';
SET chatgenius.realtime = direct;
SELECT mode FROM chatgenius.realtime_status();
INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
VALUES ('01M000000000000000000000D1', '$CHANNEL', '$USER0', 'direct');
SELECT count(*) FROM chatgenius.realtime_outbox WHERE payload LIKE '%D1"%';
RESET chatgenius.realtime;
SELECT mode FROM chatgenius.realtime_status();
INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
VALUES ('01M000000000000000000000N1', '$CHANNEL', '$USER0', 'on');
SQL
is "$(tr '\n' ' ' <"$FX_DIR/switch.out")" "off 0 direct 0 notifier " \
	"realtime_status() shows the switch; off and direct write nothing to the outbox"
fx_wait_for 20 "the message posted with the switch on" rt_count_is all 1 '01M000000000000000000000N1'
ok $? "on: delivered"
is "$(rt_count all '01M000000000000000000000D1')" 1 "direct: delivered once"
is "$(rt_count all '01M000000000000000000000F1')" 0 "off: never delivered"
is "$(rt_lines all | tail -n +$((before + 1)) | grep -o '01M000000000000000000000[DN]1' | tr '\n' ' ')" \
	"01M000000000000000000000D1 01M000000000000000000000N1 " "direct and on arrive in commit order"
like "$(PGPASSWORD=$FX_APP_PASSWORD psql -qX -h 127.0.0.1 -p "$FX_PG_PORT" -U "$FX_APP_USER" -d "$db" \
	-c 'SET chatgenius.realtime = off' 2>&1)" 'permission denied to set parameter "chatgenius.realtime"' \
	"an ordinary role cannot turn it off for its session"

rt_stop_listener all
rt_stop_listener late
done_testing
