#!/usr/bin/env bash
# Benchmark (not part of the test suite): a channel's history page on a
# channel with a million messages.  Prints the per-query latency of the
# newest page and of pages at random depths (keyset pagination), and a
# thread's replies, measured with pgbench on one connection.
#
#   make NO_HELPER=1 install && bash test/bench/history_page.sh [MESSAGES] [SECONDS]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$TOP/test/lib/fixture.sh"

N=${1:-1000000}
SECS=${2:-10}
CH=01C00000000000000000000001
PGBENCH=${PGBENCH:-$(pg_config --bindir)/pgbench}

fx_init bench
fx_pg_start
DB=$FX_APP_DB
fx_psql -d "$DB" -c 'CREATE EXTENSION chatgenius'

fx_log "loading $N messages into channel $CH (plus $((N / 10)) in each of two others)"
start=$SECONDS
fx_psql -d "$DB" <<-EOF
	-- Bulk load without the per-row triggers (NOTIFY, thread checks) and
	-- foreign-key checks; the rows are valid by construction.
	SET session_replication_role = replica;
	INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
	SELECT '01A' || lpad(u::text, 23, '0'), 'auth0|u' || u, 'u' || u || '@example.com', 'u' || u, 'User ' || u
	  FROM generate_series(1, 100) AS u;
	INSERT INTO chatgenius.channels (id, name, type, created_by)
	SELECT '01C' || lpad(c::text, 23, '0'), 'channel-' || c, 'public', '01A' || lpad('1', 23, '0')
	  FROM generate_series(1, 3) AS c;
	-- One message a second; every 10th a reply to the message before it,
	-- every 20th deleted.
	INSERT INTO chatgenius.messages (id, channel_id, user_id, content, thread_id, created_at, deleted_at)
	SELECT '01H' || lpad((c::bigint * 100000000 + i)::text, 23, '0'),
		'01C' || lpad(c::text, 23, '0'),
		'01A' || lpad((1 + i % 100)::text, 23, '0'),
		'message ' || i || ' ' || repeat('lorem ipsum ', 1 + i % 20),
		CASE WHEN i % 10 = 0 THEN '01H' || lpad((c::bigint * 100000000 + i - 1)::text, 23, '0') END,
		'2024-01-01 00:00:00+00'::timestamptz + i * interval '1 second',
		CASE WHEN i % 20 = 7 THEN '2025-01-01 00:00:00+00'::timestamptz END
	  FROM generate_series(1, 3) AS c,
		LATERAL generate_series(1, CASE WHEN c = 1 THEN $N ELSE $N / 10 END) AS i;
	RESET session_replication_role;
	VACUUM ANALYZE chatgenius.users, chatgenius.channels, chatgenius.messages;
EOF
fx_log "loaded in $((SECONDS - start)) s: $(fx_psql -d "$DB" -At -c "SELECT count(*) FROM chatgenius.messages") messages, $(fx_psql -d "$DB" -At -c "SELECT pg_size_pretty(pg_total_relation_size('chatgenius.messages'))")"

PAGE="SELECT id, user_id, content, created_at FROM chatgenius.messages
 WHERE channel_id = '$CH' AND thread_id IS NULL AND deleted_at IS NULL"
cat >"$FX_DIR/newest.sql" <<-EOF
	$PAGE
	 ORDER BY created_at DESC, id DESC LIMIT 50;
EOF
cat >"$FX_DIR/deep.sql" <<-EOF
	\set n random(100, $N)
	$PAGE
	   AND (created_at, id) < ('2024-01-01 00:00:00+00'::timestamptz + :n * interval '1 second', '01H99999999999999999999999')
	 ORDER BY created_at DESC, id DESC LIMIT 50;
EOF
cat >"$FX_DIR/thread.sql" <<-EOF
	\set n random(1, $N / 10 - 1)
	SELECT id, user_id, content, created_at FROM chatgenius.messages
	 WHERE thread_id = '01H' || lpad((100000000 + :n * 10 - 1)::text, 23, '0') AND deleted_at IS NULL
	 ORDER BY created_at, id LIMIT 50;
EOF

echo "== plan of a deep page"
fx_psql -d "$DB" -c "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) $PAGE
   AND (created_at, id) < ('2024-01-01 00:00:00+00'::timestamptz + $((N / 2)) * interval '1 second', '01H99999999999999999999999')
 ORDER BY created_at DESC, id DESC LIMIT 50"

for q in newest deep thread; do
	lat=$("$PGBENCH" -n -c 1 -j 1 -T "$SECS" -M prepared -f "$FX_DIR/$q.sql" "$DB" 2>&1 |
		sed -n 's/^latency average = \(.*\)$/\1/p')
	printf 'history page (%s, 50 rows, %d messages in the channel): %s per query\n' "$q" "$N" "$lat"
done
