#!/usr/bin/env bash
# Restore load: a dump with 1,000,000 messages (1,000 users, 100 channels,
# one message in ten a reply) restored three ways on the shared fixture,
# each timed, with the restoring backend's peak private memory (RssAnon of
# /proc/PID/status, polled every 20 ms: palloc'd memory such as pending
# notifications and queued trigger events, not shared buffers):
#   plain      the same rows in plain tables (no extension): pg_restore
#              creates them, COPYs, then builds indexes and foreign keys;
#   extension  a plain pg_restore --single-transaction of the extension's
#              dump (tables, indexes, triggers and foreign keys exist
#              before the COPY);
#   procedure  the documented "Backups and restores" procedure (doc/extension.md,
#              replica mode).
# The source database is at VERSION (default: the installed default
# version); run once per version, or with an older package, to compare.
#
#   [VERSION=1.2] test/bench/restore.sh [MESSAGES]   (as root; the extension must be installed)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/doc.sh
. "$top/test/lib/doc.sh"

messages=${1:-1000000}

fx_init bench-restore
fx_pg_start
work=$FX_DIR/work
mkdir -p "$work"
chown postgres: "$work"

fx_log "loading $messages messages"
fx_psql -d postgres -c 'CREATE DATABASE app' -c 'CREATE DATABASE plainsrc' >/dev/null
fx_psql -d app -c "CREATE EXTENSION chatgenius ${VERSION:+VERSION '$VERSION'}" >/dev/null
# ULID-shaped ids from a number (uppercase hex is valid Crockford base32);
# ten messages in a row share a channel, the sixth replies to the fifth.
# Loaded in replica mode: no trigger, no NOTIFY while generating.
fx_psql -d app >/dev/null <<SQL
CREATE FUNCTION pg_temp.id(p char, i bigint) RETURNS text LANGUAGE sql IMMUTABLE
	AS \$\$ SELECT '0' || p || lpad(upper(to_hex(i)), 24, '0') \$\$;
SET session_replication_role = replica;
INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
SELECT pg_temp.id('1', i), 'auth0|' || i, 'u' || i || '@example.com', 'user' || i, 'User ' || i
  FROM generate_series(1, 1000) AS i;
INSERT INTO chatgenius.channels (id, name, type, created_by)
SELECT pg_temp.id('2', i), 'channel-' || i, 'public', pg_temp.id('1', 1 + i % 1000)
  FROM generate_series(1, 100) AS i;
INSERT INTO chatgenius.messages (id, channel_id, user_id, content, thread_id, created_at)
SELECT pg_temp.id('3', i), pg_temp.id('2', 1 + (i / 10) % 100), pg_temp.id('1', 1 + i % 1000),
	   'message ' || i || ': ' || repeat('lorem ipsum ', 6),
	   CASE WHEN i % 10 = 5 THEN pg_temp.id('3', i - 1) END,
	   timestamptz '2025-01-01' + i * interval '1 s'
  FROM generate_series(1, $messages) AS i;
RESET session_replication_role;
SQL

# The same rows in plain tables of the same shape (columns, defaults,
# checks, keys, indexes and foreign keys; no triggers): their dump creates
# the tables, COPYs, then builds the indexes and keys.
fx_psql -d app -At >"$work/plain-ddl.sql" <<'SQL'
WITH t(oid) AS (VALUES ('chatgenius.users'::regclass), ('chatgenius.channels'::regclass),
	('chatgenius.messages'::regclass))
SELECT 'CREATE SCHEMA chatgenius;'
UNION ALL
(SELECT format('CREATE TABLE chatgenius.%I (%s);', c.relname,
	string_agg(format('%I %s%s%s', a.attname, format_type(a.atttypid, a.atttypmod),
		CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END,
		coalesce(' DEFAULT ' || nullif(pg_get_expr(d.adbin, d.adrelid), 'chatgenius.ulid()'), '')),
		', ' ORDER BY a.attnum))
  FROM t JOIN pg_class c ON c.oid = t.oid
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 GROUP BY c.relname, c.oid ORDER BY c.oid)
UNION ALL
(SELECT format('ALTER TABLE %s ADD CONSTRAINT %I %s;', c.conrelid::regclass, c.conname, pg_get_constraintdef(c.oid))
  FROM t JOIN pg_constraint c ON c.conrelid = t.oid
 ORDER BY c.contype = 'f', c.conname)
UNION ALL
(SELECT pg_get_indexdef(i.indexrelid) || ';'
  FROM t JOIN pg_index i ON i.indrelid = t.oid
 WHERE NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid));
SQL
fx_psql -d plainsrc -f "$work/plain-ddl.sql" >/dev/null
for t in users channels messages; do
	psql -qXd app -c "COPY chatgenius.$t TO STDOUT" | psql -qXd plainsrc -c "COPY chatgenius.$t FROM STDIN"
done
pg_dump -Fc -d plainsrc -f "$work/plain.dump"
pg_dump -Fc -d app -f "$work/app.dump" 2>/dev/null
chown postgres: "$work"/*

# peak_anon_kb DB OUT: polls the RssAnon of the backends connected to DB
# until killed, writing the largest value seen (kB) to OUT.
peak_anon_kb()
{
	local db=$1 out=$2 peak=0 pid kb
	echo 0 >"$out"
	while :; do
		for pid in $(psql -qXAtd postgres -c "SELECT pid FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid()" 2>/dev/null); do
			kb=$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
			if [ -n "$kb" ] && [ "$kb" -gt "$peak" ]; then
				peak=$kb
				echo "$peak" >"$out"
			fi
		done
		sleep 0.02
	done
}

# measure NAME DB CMD...: runs CMD (in $work), prints seconds and peak kB.
measure()
{
	local name=$1 db=$2 t0 t1 watcher status
	shift 2
	peak_anon_kb "$db" "$FX_DIR/$name.peak" &
	watcher=$!
	t0=$(date +%s.%N)
	(cd "$work" && "$@") >"$FX_DIR/$name.log" 2>&1
	status=$?
	t1=$(date +%s.%N)
	kill "$watcher" 2>/dev/null
	wait "$watcher" 2>/dev/null || true
	printf '%-10s %7.1f s  peak backend memory %7.1f MB  exit %d\n' "$name" \
		"$(echo "$t1 - $t0" | bc)" "$(echo "scale=1; $(cat "$FX_DIR/$name.peak") / 1024" | bc)" "$status"
	[ "$status" -eq 0 ] || tail -3 "$FX_DIR/$name.log"
}

version=$(fx_psql -Atd app -c "SELECT extversion FROM pg_extension WHERE extname = 'chatgenius'")
echo "chatgenius $version: restore of $messages messages ($((messages / 10)) replies), 1000 users, 100 channels"
echo "dump sizes: plain tables $(du -h "$work/plain.dump" | cut -f1), extension $(du -h "$work/app.dump" | cut -f1)"

fx_psql -d postgres -c 'CREATE DATABASE plaindst' -c 'CREATE DATABASE extdst' >/dev/null
measure plain plaindst pg_restore --exit-on-error --single-transaction -d plaindst plain.dump
measure extension extdst pg_restore --exit-on-error --single-transaction -d extdst app.dump
# The documented procedure, word for word (it restores app.dump into app_restored).
doc_block test/upgrade/restore.t | grep -v '^pg_dump ' >"$work/procedure.sh"
measure procedure app_restored bash -e procedure.sh
for db in plaindst extdst app_restored; do
	printf '%-12s %s messages\n' "$db" "$(fx_psql -Atd "$db" -c 'SELECT count(*) FROM chatgenius.messages' 2>/dev/null || echo '-')"
done
