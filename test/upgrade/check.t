#!/usr/bin/env bash
# Upgrade and dump/restore check (TimescaleDB style), TAP for prove:
#   A = fresh install of the newest version
#   B = 1.0 with data in every table, updated, then more data (an archived channel)
#   C = 1.1 with data, updated
#   F = 1.2 with data, updated;  G = 1.3 with data, updated
#   D = B dumped (pg_dump -Fc) and restored with pg_restore into a new database
#   E = B dumped as plain SQL and restored with psql
# The catalog description of the extension (test/upgrade/describe.sql) must
# be identical in all six; the rows must survive every update and be
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
	[ -n "$upto" ] && history="$history WHERE version <= '$upto'"
	local channels="to_jsonb(t) - 'archived_at' - 'archived_by'"
	[ "$at" = old ] &&
		channels="(to_jsonb(t) - 'topic' - 'archived_at' - 'archived_by') || jsonb_build_object('description', t.topic)"
	{
		local tbl
		for tbl in users messages reactions channel_members files user_settings user_status \
			message_reads sync_state $status_table tunnel_events; do
			echo "== $tbl"
			q "$db" "SELECT to_jsonb(t)::text FROM chatgenius.$tbl t ORDER BY 1"
		done
		echo "== schema_migrations"
		q "$db" "$history ORDER BY 1"
		echo "== channels"
		q "$db" "SELECT ($channels)::text FROM chatgenius.channels t ORDER BY 1"
		echo "== tunnel_events_id_seq"
		q "$db" "SELECT last_value || ' ' || is_called FROM chatgenius.tunnel_events_id_seq"
	} >"$OUT/$db.rows.$at"
}

# same NAME FILE1 FILE2: a TAP test that the files are identical (diff shown).
same()
{
	local d
	if d=$(diff -u "$2" "$3"); then
		ok 0 "$1"
	else
		ok 1 "$1"
		diag "$(printf '%s\n' "$d" | head -60)"
	fi
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
is "$(q b "SELECT string_agg(version, ',' ORDER BY version) FROM chatgenius.schema_migrations")" \
	"1.0,1.1,1.2,1.3,1.4" "B: history has 1.0, 1.1, 1.2, 1.3, 1.4"
fx_psql -d b -f "$HERE/data-1.1.sql" >/dev/null
ok $? "B: an archived channel with messages"

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

# F and G: 1.2 and 1.3 with data, updated (the columns have their 1.2 names).
for from in 1.2:f 1.3:g; do
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
for db in a b c d e f g; do
	describe "$db" || bail_out "describe.sql failed on $db"
done
cmp_ok "$(wc -l <"$OUT/a.describe")" -gt 200 "the description is not empty"
same "catalog: fresh (A) = updated from 1.0 (B)" "$OUT/a.describe" "$OUT/b.describe"
same "catalog: fresh (A) = updated from 1.1 (C)" "$OUT/a.describe" "$OUT/c.describe"
same "catalog: fresh (A) = updated from 1.2 (F)" "$OUT/a.describe" "$OUT/f.describe"
same "catalog: fresh (A) = updated from 1.3 (G)" "$OUT/a.describe" "$OUT/g.describe"
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
is "$(q d "SELECT count(*) FROM chatgenius.schema_migrations")" 5 "D: one history row per version"
is "$(q d "SELECT count(*) FROM chatgenius.tunnel_status")" 0 "D: the source's tunnel_status rows stay behind"
is "$(q d "SELECT string_agg(applied_at::text, ',' ORDER BY version) FROM chatgenius.schema_migrations")" \
	"$(q b "SELECT string_agg(applied_at::text, ',' ORDER BY version) FROM chatgenius.schema_migrations")" \
	"D: the history shows when B applied each version, not the restore"
is "$(q d "SELECT archived_at = (SELECT max(created_at) FROM chatgenius.channels) OR archived_at IS NOT NULL
	FROM chatgenius.channels WHERE id = '01E00000000000000000000002'")" t "D: the channel is still archived"

# The restored databases work.
for db in a b c d e f g; do
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
