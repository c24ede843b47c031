#!/usr/bin/env bash
# Benchmark (not part of the test suite): what the outbox's history costs
# the notifier's read, three ways, under the conditions of issue 18: a
# transaction held open (with an xid: it holds back vacuum and every
# snapshot's xmin) and 200,000 changes sent since it began.
#
#   1.4     the read of 1.4: every row from the previous snapshot's xmin on,
#           through the index (the xmin stays at the held transaction's);
#   1.7     the read of 1.7: the xids the previous snapshot saw in progress,
#           then xid >= its xmax (notifier.c);
#   rotated what PgQ's rotation would give: the same read on a queue table
#           that was emptied by TRUNCATE (which a held transaction does not
#           stop), measured on a second table with the same layout;
#   1.4+rot 1.4's read on that rotated table.
# Each read runs on an outbox of 200,000 dead rows and 10 live ones, with
# EXPLAIN (ANALYZE, BUFFERS): time and buffers per read, median of 20.
#
#   make install && bash test/bench/realtime_queue.sh [DEAD_ROWS]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$TOP/test/lib/fixture.sh"

DEAD=${1:-200000}
fx_init bench-realtime-queue
fx_pg_start
DB=$FX_APP_DB
q()
{
	psql -qXAt -v ON_ERROR_STOP=1 -d "$DB" -c "$1"
}
fx_psql -d "$DB" -c 'CREATE EXTENSION chatgenius' >/dev/null
fx_psql -d "$DB" >/dev/null <<'SQL'
CREATE TABLE public.rotated (LIKE chatgenius.realtime_outbox INCLUDING ALL);
SQL

# The held transaction.
fx_bg "$FX_DIR/held.log" psql -qX -d "$DB" -c "BEGIN" -c "CREATE TEMP TABLE held (x int)" \
	-c "SELECT pg_sleep(3600)"
held=$FX_BG_PID
held_open()
{
	[ "$(q "SELECT count(*) FROM pg_stat_activity
		WHERE query = 'SELECT pg_sleep(3600)' AND backend_xid IS NOT NULL")" = 1 ]
}
fx_wait_for 20 "the held transaction" held_open
horizon=$(q "SELECT pg_snapshot_xmin(pg_current_snapshot())")

# 200,000 changes written and deleted (as the notifier does) in 200
# transactions, then 10 live ones; the rotated table gets the same, then
# TRUNCATE, then the 10 live ones.
for t in chatgenius.realtime_outbox public.rotated; do
	for ((i = 0; i < DEAD / 1000; i++)); do
		echo "INSERT INTO $t SELECT pg_current_xact_id(), g, 'c', '{}', now() FROM generate_series(1, 1000) g;"
		echo "DELETE FROM $t;"
	done | psql -qX -v ON_ERROR_STOP=1 -d "$DB" >/dev/null
done
t0=$(date +%s%N)
q "TRUNCATE public.rotated" >/dev/null
t1=$(date +%s%N)
for t in chatgenius.realtime_outbox public.rotated; do
	q "INSERT INTO $t SELECT pg_current_xact_id(), g, 'c', '{}', now() FROM generate_series(1, 10) g" >/dev/null
done
q "VACUUM chatgenius.realtime_outbox" >/dev/null
snap=$(q "SELECT pg_snapshot_xmax(s) || ' ' || coalesce((SELECT string_agg(x::text, ',') FROM pg_snapshot_xip(s) x), '')
	FROM pg_current_snapshot() s")
xmax=${snap%% *}
xip=${snap#* }
# Make "the previous snapshot" the one before the 10 live rows: its xmax is
# below them, its in-progress list the held transaction.
prev_xmax=$((xmax - 2))

read_old="SELECT ctid, xid, seq, channel, payload FROM TBL WHERE xid >= '$horizon' ORDER BY xid, seq"
read_new1="SELECT ctid, xid, seq, channel, payload FROM TBL WHERE xid = ANY ('{$xip}'::xid8[])
	AND NOT (xid = ANY ('{$xip}'::xid8[])) AND ROW(xid, seq) > ROW('0'::xid8, 0) ORDER BY xid, seq LIMIT 2000"
read_new2="SELECT ctid, xid, seq, channel, payload FROM TBL WHERE xid >= '$prev_xmax' AND xid < '$xmax'
	AND NOT (xid = ANY ('{$xip}'::xid8[])) AND ROW(xid, seq) > ROW('$((prev_xmax - 1))'::xid8, 9223372036854775807)
	ORDER BY xid, seq LIMIT 2000"

# measure LABEL TABLE SQL...: median time (ms) and buffers of the reads.
measure()
{
	local label=$1 tbl=$2
	shift 2
	local i sql out ms bufs
	for ((i = 0; i < 20; i++)); do
		ms=0 bufs=0
		for sql in "$@"; do
			out=$(psql -qXAt -d "$DB" -c "SET enable_seqscan = off" -c "SET enable_bitmapscan = off" \
				-c "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql//TBL/$tbl}")
			ms=$(perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>); print $ARGV[0] + $j->[0]{"Execution Time"}' "$ms" <<<"$out")
			bufs=$(perl -MJSON::PP -e 'my $j = decode_json(join "", <STDIN>); my $p = $j->[0]{Plan};
				print $ARGV[0] + $p->{"Shared Hit Blocks"} + $p->{"Shared Read Blocks"}' "$bufs" <<<"$out")
		done
		echo "$ms $bufs"
	done | sort -n | awk -v l="$label" 'NR == 10 {printf "%-8s %10.3f ms %8d buffers\n", l, $1, $2}'
}
echo "# the notifier's read with $DEAD dead rows and 10 live ones, a transaction held open"
echo "# (median of 20; TRUNCATE of the rotated table took $(((t1 - t0) / 1000000)) ms)"
measure 1.4 chatgenius.realtime_outbox "$read_old"
measure 1.7 chatgenius.realtime_outbox "$read_new1" "$read_new2"
measure rotated public.rotated "$read_new1" "$read_new2"
measure 1.4+rot public.rotated "$read_old"
echo "# outbox size: $(q "SELECT pg_size_pretty(pg_total_relation_size('chatgenius.realtime_outbox'))"), rotated: $(q "SELECT pg_size_pretty(pg_total_relation_size('public.rotated'))")"
kill -TERM "$held" 2>/dev/null || true
