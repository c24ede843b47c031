#!/usr/bin/env bash
# Every restore path brings back every row, with pg_restore's
# --exit-on-error and --single-transaction:
#   - a plain pg_restore of a dump of the newest version, whose channel was
#     archived in the same transaction as its last message, and which holds
#     a thread two levels deep (as the race of 1.0-1.2 could leave);
#   - the documented procedure (doc/extension.md, "Backups and restores"),
#     run word for word,
#     from dumps taken at 1.0, 1.1, 1.2 and the newest version;
#   - the same procedure run by a superuser of another name.
# Each restored database must hold the source's rows, describe as a fresh
# install (test/upgrade/describe.sql) and report no drift.
#
#   make NO_HELPER=1 install && prove test/upgrade/restore.t
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$TOP/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$TOP/test/lib/tap.sh"
# shellcheck source=../lib/doc.sh
. "$TOP/test/lib/doc.sh"

fx_init restore
fx_pg_start
OUT=$FX_DIR/out
mkdir -p "$OUT"
chmod 777 "$OUT"
NEWEST=$(sed -nE "s/^default_version = '(.*)'/\1/p" "$TOP/chatgenius.control")

# The documented block, exactly as written.
PROCEDURE=$OUT/procedure.sh
doc_block test/upgrade/restore.t >"$PROCEDURE"
cmp_ok "$(wc -l <"$PROCEDURE")" -gt 5 "the documented restore procedure is found"

q()
{
	fx_psql -d "$1" -At -c "$2"
}

# rows DB: every row of every dumped table (tunnel_status too: from
# versions before 1.3 its rows are in the dump), with channels.topic under
# its 1.2 name, history rows of versions up to UPTO; into stdout.
rows()
{
	local db=$1 upto=$2 tbl
	local has_topic
	has_topic=$(q "$db" "SELECT count(*) FROM pg_attribute WHERE attrelid = 'chatgenius.channels'::regclass AND attname = 'topic'")
	for tbl in users messages reactions channel_members files user_settings user_status \
		message_reads sync_state tunnel_events; do
		echo "== $tbl"
		q "$db" "SELECT to_jsonb(t)::text FROM chatgenius.$tbl t ORDER BY 1"
	done
	echo "== channels"
	if [ "$has_topic" = 1 ]; then
		q "$db" "SELECT ((to_jsonb(t) - 'topic') || jsonb_build_object('description', t.topic))::text
			FROM chatgenius.channels t ORDER BY 1"
	else
		q "$db" "SELECT to_jsonb(t)::text FROM chatgenius.channels t ORDER BY 1"
	fi
	echo "== schema_migrations"
	q "$db" "SELECT jsonb_build_object('version', version, 'applied_at', applied_at, 'applied_by', applied_by)::text
		FROM chatgenius.schema_migrations WHERE string_to_array(version, '.')::int[] <= string_to_array('$upto', '.')::int[]
		ORDER BY 1"
	echo "== tunnel_events_id_seq"
	q "$db" "SELECT last_value || ' ' || is_called FROM chatgenius.tunnel_events_id_seq"
}

# source VERSION: database app with data in every table (loaded at 1.0),
# updated to VERSION; from
# 1.1 on a channel archived in the same transaction as its last message.
source_db()
{
	local v=$1
	fx_psql -d postgres -c 'SET client_min_messages = warning' -c 'DROP DATABASE IF EXISTS app' \
		-c 'DROP DATABASE IF EXISTS app_restored' -c 'CREATE DATABASE app' >/dev/null &&
		fx_psql -d app -c "CREATE EXTENSION chatgenius VERSION '1.0'" >/dev/null &&
		fx_psql -d app -f "$HERE/data-1.0.sql" >/dev/null &&
		fx_psql -d app -c "ALTER EXTENSION chatgenius UPDATE TO '$v'" >/dev/null || return 1
	[ "$v" = 1.0 ] && return 0
	fx_psql -d app >/dev/null <<-'EOF'
		BEGIN;
		INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
		VALUES ('01F00000000000000000000009', '01E00000000000000000000001',
			'01D00000000000000000000001', 'last words before the archiving');
		UPDATE chatgenius.channels SET archived_at = now(), archived_by = '01D00000000000000000000001'
		 WHERE id = '01E00000000000000000000001';
		COMMIT;
	EOF
}

# A fresh install of the newest version, for the catalog description.
fx_psql -d postgres -c 'CREATE DATABASE fresh' >/dev/null
fx_psql -d fresh -c 'CREATE EXTENSION chatgenius' >/dev/null
# sort_acls: each "acl=a,b" and "privs=a,b" list in sorted order (role
# names were renamed).
sort_acls()
{
	perl -pe 's/(acl|privs)=(\S+)/"$1=" . join(",", sort split(",", $2))/ge'
}
fx_psql -d fresh -f "$HERE/describe.sql" | sort_acls >"$OUT/fresh.describe"

# restored_ok LABEL UPTO [OWNER]: the checks shared by every restore into
# app_restored (made by OWNER: its name, in the description, reads postgres).
restored_ok()
{
	local label=$1 upto=$2 owner=${3:-postgres}
	rows app "$upto" >"$OUT/$label.source.rows"
	rows app_restored "$upto" >"$OUT/$label.restored.rows"
	same "$label: every row is back" "$OUT/$label.source.rows" "$OUT/$label.restored.rows"
	is "$(q app_restored "SELECT extversion FROM pg_extension WHERE extname = 'chatgenius'")" "$NEWEST" \
		"$label: at $NEWEST"
	fx_psql -d app_restored -f "$HERE/describe.sql" |
		sed -E "s/(^|[ =,{/])$owner([ =,}/]|$)/\1postgres\2/g" | sort_acls >"$OUT/$label.describe"
	same "$label: catalog equals a fresh install" "$OUT/fresh.describe" "$OUT/$label.describe"
	is "$(q app_restored "SELECT status || ': ' || detail FROM chatgenius.health() WHERE check_name = 'schema'")" \
		"ok: version $NEWEST; history complete; no drift" "$label: health() schema check is ok"
	is "$(q app_restored "SELECT count(*) FROM chatgenius.messages m JOIN chatgenius.messages p ON p.id = m.thread_id")" \
		"$(q app "SELECT count(*) FROM chatgenius.messages m JOIN chatgenius.messages p ON p.id = m.thread_id")" \
		"$label: threads intact"
}

# 1. A plain pg_restore of a dump of the newest version.
source_db "$NEWEST" || bail_out "could not make the source database"
fx_psql -d app -c "SET session_replication_role = replica" -c "
	INSERT INTO chatgenius.messages (id, channel_id, user_id, content, thread_id)
	VALUES ('01F0000000000000000000000A', '01E00000000000000000000001', '01D00000000000000000000001',
		'a reply to a reply, from before 1.3', '01F00000000000000000000002')" >/dev/null
pg_dump -Fc -d app -f "$OUT/plain.dump"
fx_psql -d postgres -c 'CREATE DATABASE app_restored' >/dev/null
pg_restore --exit-on-error --single-transaction -d app_restored "$OUT/plain.dump" 2>"$OUT/plain.err"
ok $? "plain pg_restore --exit-on-error --single-transaction of $NEWEST"
[ -s "$OUT/plain.err" ] && diag "$(head -5 "$OUT/plain.err")"
restored_ok plain "$NEWEST"
is "$(q app_restored "SELECT count(*) FROM chatgenius.tunnel_status")" 0 \
	"plain: the source's tunnel_status rows stay behind"
fx_psql -d app_restored -c "INSERT INTO chatgenius.messages (channel_id, user_id, content)
	VALUES ('01E00000000000000000000001', '01D00000000000000000000002', 'after restore')" \
	>/dev/null 2>"$OUT/plain-archived.err"
like "$(cat "$OUT/plain-archived.err")" 'channel "general" is archived' "plain: the archive rule holds again after the restore"

# 2. The documented procedure from every shipped version, and 3. by a
# superuser of another name.
fx_psql -d postgres -c 'CREATE ROLE dba LOGIN SUPERUSER' >/dev/null
for run in 1.0 1.1 1.2 "$NEWEST" 1.1:dba; do
	v=${run%%:*}
	user=postgres
	[ "$run" != "$v" ] && user=${run#*:}
	label="from $v as $user"
	source_db "$v" || bail_out "could not make the $v source database"
	work=$OUT/work-$v-$user
	mkdir -p "$work"
	chmod 777 "$work"
	(cd "$work" && PGUSER=$user bash -e "$PROCEDURE") >"$work/log" 2>&1
	ok $? "$label: the documented procedure runs without error"
	grep -q ERROR "$work/log" && diag "$(grep -m5 ERROR "$work/log")"
	fx_psql -d app -c 'ALTER EXTENSION chatgenius UPDATE' >/dev/null
	restored_ok "$label" "$v" "$user"
	is "$(q app_restored "SELECT string_agg(version, ',' ORDER BY string_to_array(version, '.')::int[]) FROM chatgenius.schema_migrations")" \
		"$(q app "SELECT string_agg(version, ',' ORDER BY string_to_array(version, '.')::int[]) FROM chatgenius.schema_migrations")" \
		"$label: one history row per version"
done

done_testing
