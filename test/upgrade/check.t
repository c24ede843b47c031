#!/usr/bin/env bash
# Upgrade and dump/restore check (TimescaleDB style), TAP for prove:
#   A = fresh install of the newest version
#   B = 1.0 with data in every table, updated, then more data (an archived channel)
#   C = 1.1 with data, updated
#   F = 1.2 with data, updated;  G = 1.3 with data, updated
#   H = 1.4 with data and changes waiting in realtime_outbox, updated
#   U15 .. U19 = 1.5 .. 1.9 with data, updated
#   D = B dumped (pg_dump -Fc) and restored with pg_restore into a new database
#   E = B dumped as plain SQL and restored with psql
# The catalog description of the extension (test/upgrade/describe.sql) must
# be identical in all of them; the rows must survive every update and be
# identical in B, D and E, migration history included (tunnel_status, the
# helpers' live state, is left out of dumps from 1.3 on).
#
#   make NO_HELPER=1 install && prove test/upgrade/check.t
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
NEWEST=$(sed -nE "s/^default_version = '(.*)'/\1/p" "$TOP/chatgenius.control")
# shellcheck source=../lib/fixture.sh
. "$TOP/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$TOP/test/lib/tap.sh"

fx_init upgrade
fx_pg_start
# The notifier launcher asks for a notifier in every database some seconds
# after the start; H's waiting changes must stay where they are, so it waits
# an hour here (it rereads the setting while it waits).
fx_psql -c "ALTER SYSTEM SET chatgenius.realtime_resume_delay = 3600" -c "SELECT pg_reload_conf()" >/dev/null ||
	bail_out "could not hold the notifier launcher back"
OUT=$FX_DIR/out
mkdir -p "$OUT"

# q DB SQL: one value, unaligned.
q()
{
	fx_psql -d "$1" -At -c "$2"
}

# describe DB: the extension's catalog description into $OUT/DB.describe.
describe()
{
	fx_psql -d "$1" -f "$HERE/describe.sql" >"$OUT/$1.describe"
}

# rows DB: every row of every dumped table (and the sequence's state) as
# JSON, ordered, into $OUT/DB.rows.AT (history rows up to version UPTO if
# given).  With AT=old (before the update to
# 1.2) it writes channels.topic under its 1.2 name; channels.archived_at and
# archived_by are left out (checked on their own), so that a snapshot before
# and one after the update compare equal when every row survived.
rows()
{
	local db=$1 at=${2:-new} upto=${3:-} status_table=tunnel_status
	[ "$at" = restored ] && status_table=""
	[ "$at" = restored ] && at=new
	# accepted_* (1.3) are new, empty columns: left out, like archived_*.
	local history="SELECT (to_jsonb(t) - 'accepted_at' - 'accepted_by' - 'accepted_reason')::text
		FROM chatgenius.schema_migrations t"
	# versions compare as numbers: 1.10 comes after 1.9
	[ -n "$upto" ] && history="$history WHERE string_to_array(version, '.')::int[] <= string_to_array('$upto', '.')::int[]"
	local channels="to_jsonb(t) - 'archived_at' - 'archived_by'"
	[ "$at" = old ] &&
		channels="(to_jsonb(t) - 'topic' - 'archived_at' - 'archived_by') || jsonb_build_object('description', t.topic)"
	{
		local tbl
		for tbl in users messages reactions channel_members files user_settings user_status \
			message_reads sync_state $status_table tunnel_events; do
			echo "== $tbl"
			# written_by (1.5) is a new column, empty in rows from before it.
			q "$db" "SELECT (to_jsonb(t) - 'written_by')::text FROM chatgenius.$tbl t ORDER BY 1"
		done
		echo "== schema_migrations"
		q "$db" "$history ORDER BY 1"
		echo "== channels"
		q "$db" "SELECT ($channels)::text FROM chatgenius.channels t ORDER BY 1"
		echo "== tunnel_events_id_seq"
		q "$db" "SELECT last_value || ' ' || is_called FROM chatgenius.tunnel_events_id_seq"
	} >"$OUT/$db.rows.$at"
}

setup()
{
	fx_psql -d postgres -c "CREATE DATABASE $1" >/dev/null
}

# A: fresh.
setup a
fx_psql -d a -c 'CREATE EXTENSION chatgenius'
ok $? "A: CREATE EXTENSION chatgenius (newest)"

# B: 1.0 + data, updated, more data.
setup b
fx_psql -d b -c "CREATE EXTENSION chatgenius VERSION '1.0'" &&
	fx_psql -d b -f "$HERE/data-1.0.sql" >/dev/null
ok $? "B: 1.0 installed with data in every table"
is "$(q b "SELECT count(*) FROM chatgenius.users")" 4 "B: data loaded"
rows b old
fx_psql -d b -c 'ALTER EXTENSION chatgenius UPDATE'
ok $? "B: ALTER EXTENSION chatgenius UPDATE from 1.0"
is "$(q b "SELECT extversion FROM pg_extension WHERE extname = 'chatgenius'")" "$NEWEST" "B: at $NEWEST"
rows b survived 1.0
same "B: every row survived the update from 1.0" "$OUT/b.rows.old" "$OUT/b.rows.survived"
is "$(q b "SELECT string_agg(version, ',' ORDER BY string_to_array(version, '.')::int[]) FROM chatgenius.schema_migrations")" \
	"1.0,1.1,1.2,1.3,1.4,1.5,1.6,1.7,1.8,1.9,1.10,1.11" "B: history has 1.0 .. $NEWEST, in numeric order"
fx_psql -d b -f "$HERE/data-1.1.sql" >/dev/null
ok $? "B: an archived channel with messages"
fx_psql -d b -c "INSERT INTO chatgenius.channel_members (id, channel_id, user_id)
	VALUES ('01K00000000000000000000005', '01E00000000000000000000001', '01D00000000000000000000003')" >/dev/null
ok $? "B: a member who left (in 1.0) re-joins after the update, with a plain INSERT"

# C: 1.1 + data, updated.
setup c
fx_psql -d c -c "CREATE EXTENSION chatgenius VERSION '1.1'" &&
	fx_psql -d c -f "$HERE/data-1.0.sql" >/dev/null &&
	fx_psql -d c -f "$HERE/data-1.1.sql" >/dev/null
ok $? "C: 1.1 installed with data"
rows c old
fx_psql -d c -c 'ALTER EXTENSION chatgenius UPDATE'
ok $? "C: ALTER EXTENSION chatgenius UPDATE from 1.1"
rows c survived 1.1
same "C: every row survived the update from 1.1" "$OUT/c.rows.old" "$OUT/c.rows.survived"
is "$(q c "SELECT archived_by FROM chatgenius.channels WHERE archived_at IS NOT NULL")" \
	01D00000000000000000000001 "C: the archived channel is still archived"

# F and G: 1.2 and 1.3 with data, updated (the columns have their 1.2 names);
# U15 .. U19 the same from 1.5 .. 1.9 (H is 1.4).
OLDER_DBS="u15 u16 u17 u18 u19"
for from in 1.2:f 1.3:g 1.5:u15 1.6:u16 1.7:u17 1.8:u18 1.9:u19; do
	v=${from%%:*}
	db=${from#*:}
	setup "$db"
	fx_psql -d "$db" -c "CREATE EXTENSION chatgenius VERSION '$v'" &&
		sed 's/INSERT INTO chatgenius.channels (id, name, topic,/INSERT INTO chatgenius.channels (id, name, description,/' \
			"$HERE/data-1.0.sql" | fx_psql -d "$db" >/dev/null &&
		fx_psql -d "$db" -f "$HERE/data-1.1.sql" >/dev/null
	ok $? "${db^^}: $v installed with data"
	rows "$db" before
	fx_psql -d "$db" -c 'ALTER EXTENSION chatgenius UPDATE'
	ok $? "${db^^}: ALTER EXTENSION chatgenius UPDATE from $v"
	rows "$db" survived "$v"
	same "${db^^}: every row survived the update from $v" "$OUT/$db.rows.before" "$OUT/$db.rows.survived"
done

# H: 1.4 with data and changes waiting in the outbox (written with realtime
# off, so that no notifier starts and sends them), updated: they are kept.
setup h
fx_psql -d h -c "CREATE EXTENSION chatgenius VERSION '1.4'" &&
	sed 's/INSERT INTO chatgenius.channels (id, name, topic,/INSERT INTO chatgenius.channels (id, name, description,/' \
		"$HERE/data-1.0.sql" | PGOPTIONS='-c chatgenius.realtime=off' fx_psql -d h >/dev/null &&
	PGOPTIONS='-c chatgenius.realtime=off' fx_psql -d h -f "$HERE/data-1.1.sql" >/dev/null &&
	fx_psql -d h >/dev/null <<'SQL'
INSERT INTO chatgenius.realtime_outbox (xid, seq, channel, payload, created_at)
SELECT pg_current_xact_id(), g, 'message_change', '{"operation" : "INSERT", "n" : ' || g || '}',
	'2026-12-01 10:00:00+00'::timestamptz + g * interval '1 ms'
  FROM generate_series(1, 50) g;
SQL
ok $? "H: 1.4 installed with data and 50 changes waiting in the outbox"
rows h before
q h "SELECT to_jsonb(t)::text FROM chatgenius.realtime_outbox t ORDER BY xid, seq" >"$OUT/h.outbox.before"
fx_psql -d h -c 'ALTER EXTENSION chatgenius UPDATE'
ok $? "H: ALTER EXTENSION chatgenius UPDATE from 1.4"
rows h survived 1.4
same "H: every row survived the update from 1.4" "$OUT/h.rows.before" "$OUT/h.rows.survived"
q h "SELECT to_jsonb(t)::text FROM chatgenius.realtime_outbox t ORDER BY xid, seq" >"$OUT/h.outbox.after"
cmp_ok "$(wc -l <"$OUT/h.outbox.before")" -eq 50 "H: the outbox held 50 changes before"
same "H: realtime_outbox carried across the update, row for row" "$OUT/h.outbox.before" "$OUT/h.outbox.after"
is "$(q h "SELECT count(*) FROM chatgenius.realtime_sent")" 0 \
	"H: the notifier's record (1.9) starts empty: every carried change is still to be sent"

# D: B dumped in custom format and restored.
# pg_dump warns that messages (thread_id -> messages.id) has a circular
# foreign key: its rows are copied in one COPY, checked at its end, so the
# restore below works without --disable-triggers.
pg_dump -Fc -d b -f "$OUT/b.dump" 2>"$OUT/dump.err"
ok $? "D: pg_dump -Fc of B"
unlike "$(grep -v -e 'circular foreign-key' -e 'detail: messages' -e 'hint:' "$OUT/dump.err")" . \
	"D: pg_dump has no other warning"
setup d
pg_restore --exit-on-error -d d "$OUT/b.dump" 2>"$OUT/restore.err"
ok $? "D: pg_restore into a new database without error"
[ -s "$OUT/restore.err" ] && diag "$(cat "$OUT/restore.err")"

# E: B dumped as plain SQL and restored with psql.
setup e
pg_dump -d b -f "$OUT/b.sql" 2>/dev/null && fx_psql -d e -f "$OUT/b.sql" >/dev/null 2>"$OUT/psql-restore.err"
ok $? "E: plain pg_dump of B restored with psql (ON_ERROR_STOP)"

# Same extension everywhere.
for db in a b c d e f g h $OLDER_DBS; do
	describe "$db" || bail_out "describe.sql failed on $db"
done
cmp_ok "$(wc -l <"$OUT/a.describe")" -gt 200 "the description is not empty"
same "catalog: fresh (A) = updated from 1.0 (B)" "$OUT/a.describe" "$OUT/b.describe"
same "catalog: fresh (A) = updated from 1.1 (C)" "$OUT/a.describe" "$OUT/c.describe"
same "catalog: fresh (A) = updated from 1.2 (F)" "$OUT/a.describe" "$OUT/f.describe"
same "catalog: fresh (A) = updated from 1.3 (G)" "$OUT/a.describe" "$OUT/g.describe"
same "catalog: fresh (A) = updated from 1.4 (H)" "$OUT/a.describe" "$OUT/h.describe"
for db in $OLDER_DBS; do
	v="1.${db#u1}"
	same "catalog: fresh (A) = updated from $v (${db^^})" "$OUT/a.describe" "$OUT/$db.describe"
done
same "catalog: fresh (A) = dumped and restored (D)" "$OUT/a.describe" "$OUT/d.describe"
same "catalog: fresh (A) = plain dump restored (E)" "$OUT/a.describe" "$OUT/e.describe"
is "$(q a 'SELECT chatgenius.schema_fingerprint()')" "$(q d 'SELECT chatgenius.schema_fingerprint()')" \
	"fingerprint: fresh = restored"

# Same rows in B, D and E (the migration history too: the original rows).
rows b restored
rows d restored
rows e restored
same "rows: B = D (pg_restore), history included" "$OUT/b.rows.new" "$OUT/d.rows.new"
same "rows: B = E (psql)" "$OUT/b.rows.new" "$OUT/e.rows.new"
is "$(q d "SELECT count(*) FROM chatgenius.schema_migrations")" "$(find "$TOP/sql" -name 'chatgenius--*.sql' | wc -l)" "D: one history row per version"
is "$(q d "SELECT count(*) || ' ' || count(*) FILTER (WHERE deleted_at IS NULL) FROM chatgenius.channel_members
	WHERE channel_id = '01E00000000000000000000001' AND user_id = '01D00000000000000000000003'")" "2 1" \
	"D: the membership left before the update and the re-join after it are both restored"
is "$(q d "SELECT count(*) FROM chatgenius.tunnel_status")" 0 "D: the source's tunnel_status rows stay behind"
is "$(q d "SELECT string_agg(applied_at::text, ',' ORDER BY string_to_array(version, '.')::int[]) FROM chatgenius.schema_migrations")" \
	"$(q b "SELECT string_agg(applied_at::text, ',' ORDER BY string_to_array(version, '.')::int[]) FROM chatgenius.schema_migrations")" \
	"D: the history shows when B applied each version, not the restore"
is "$(q d "SELECT archived_at = (SELECT max(created_at) FROM chatgenius.channels) OR archived_at IS NOT NULL
	FROM chatgenius.channels WHERE id = '01E00000000000000000000002'")" t "D: the channel is still archived"

# The restored databases work.
for db in a b c d e f g h $OLDER_DBS; do
	is "$(q "$db" "SELECT status || ': ' || detail FROM chatgenius.health() WHERE check_name = 'schema'" |
		cut -d: -f1)" ok "$db: health() schema check is ok"
done
is "$(q d "SELECT chatgenius.report_event('ops@bastion:22', 'stopped', NULL, now(), 'k-after-restore')")" t \
	"D: the identity sequence continues after restore"
fx_psql -d d -c "INSERT INTO chatgenius.messages (channel_id, user_id, content)
	VALUES ('01E00000000000000000000002', '01D00000000000000000000002', 'after restore')" \
	>/dev/null 2>"$OUT/d-archived.err"
like "$(cat "$OUT/d-archived.err")" 'channel "launch" is archived' "D: the archive trigger works"
fx_psql -d d -c "INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id)
	VALUES ('01E00000000000000000000001', '01D00000000000000000000002', 'restored reply',
	'01F00000000000000000000001')" >/dev/null
ok $? "D: a reply after restore"
fx_psql -d d -c "ALTER EXTENSION chatgenius UPDATE" >/dev/null 2>&1
ok $? "D: ALTER EXTENSION chatgenius UPDATE is a no-op"

done_testing
