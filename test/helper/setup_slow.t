#!/usr/bin/env bash
# "chatgenius-tunnel setup" is bounded by its own limit (300 s), not by the
# connect deadline (10 s): an ALTER EXTENSION ... UPDATE that waits longer
# than 10 s for a lock held by another session still completes.
#
#   prove test/helper/setup_slow.t   (as root; FX_HELPER=... for another build)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tunnel_lib.sh"
tl_begin setupslow
NEWEST=$FX_NEWEST

dbsql()
{
	psql -qXAt -v ON_ERROR_STOP=1 -d "$1" -c "$2"
}

lock_held()
{
	[ "$(dbsql postgres "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
		WHERE d.datname = 'slow' AND l.relation IS NOT NULL AND l.granted
		AND l.pid <> pg_backend_pid() AND l.mode = 'AccessShareLock'")" -gt 0 ]
}

fault_begin
dbsql postgres "CREATE DATABASE slow OWNER $FX_APP_USER"
dbsql slow "CREATE EXTENSION chatgenius VERSION '1.0'"

# Another session reads chatgenius.channels for 14 s: the update's ALTER
# TABLE waits for it.
fx_bg "$FX_DIR/locker.log" psql -qX -d slow -c "BEGIN; LOCK TABLE chatgenius.channels IN ACCESS SHARE MODE; SELECT pg_sleep(14); COMMIT;"
fx_wait_for 20 "the reader holds its lock" lock_held
ok $? "another session holds a lock on chatgenius.channels"

fx_env_file "$FX_DIR/slow.env" POSTGRES_DB=slow POSTGRES_USER=postgres \
	"POSTGRES_PASSWORD=$FX_SUPER_PASSWORD" TUNNEL_NAME=setup-slow
t0=$(date +%s%N)
(cd "$FX_DIR" && timeout 120 "$FX_HELPER" setup --env-file "$FX_DIR/slow.env") \
	>"$FX_DIR/out" 2>"$FX_DIR/err"
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
is "$rc" 0 "setup waits for the lock and succeeds" || diag "$(cat "$FX_DIR/err")"
cmp_ok "$ms" -ge 10000 "it waited past the old 10 s ceiling (${ms} ms)"
like "$(cat "$FX_DIR/out")" "Updating chatgenius 1.0 -> $NEWEST" "it updated"
is "$(dbsql slow "SELECT extversion FROM pg_extension WHERE extname = 'chatgenius'")" "$NEWEST" "the extension is at $NEWEST"
unlike "$(cat "$FX_DIR/err")" 'lock timeout|statement timeout' "no timeout cancelled it"
fault_end fault setup-slow-update

done_testing
