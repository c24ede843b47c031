#!/usr/bin/env bash
# No stalls under concurrency: repeated 8- and 16-client pgbench -S runs
# through chatgenius-tunnel with per-transaction logging (-l); any single
# transaction over 1 s fails.  Two clients connecting anew for every
# transaction (-C) run alongside, so channel opens and closes interleave
# with the traffic.  One layout spreads clients over sessions (the
# defaults), the other puts all 18 channels on one session, where one channel's
# libssh2 call (a read, a write, an open, a close) drains the socket for the
# others: the lost wakeup this test was written for, which left a reply
# inside libssh2 until the keepalive deadline (15 s by default).
#
#   prove test/helper/stall.t                 (as root; short)
#   STALL_ROUNDS=10 STALL_SECS=10 prove test/helper/stall.t   (longer)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/fixture.sh
. test/lib/tap.sh
. test/helper/tunnel_lib.sh

ROUNDS=${STALL_ROUNDS:-2}
SECS=${STALL_SECS:-3}
LIMIT_US=1000000
PGBENCH=$FX_PGBIN/pgbench

[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"
fx_init stall
fx_pg_start
fx_sshd_start
export PGPASSWORD=$FX_APP_PASSWORD
"$PGBENCH" -i -q -s 1 -h 127.0.0.1 -p "$FX_PG_PORT" -U "$FX_APP_USER" "$FX_APP_DB" \
	>"$FX_DIR/init.log" 2>&1 || bail_out "pgbench -i failed: $(tail -3 "$FX_DIR/init.log")"

# run_layout NAME KEY=VALUE...: a helper with these settings, then ROUNDS
# rounds of 8 and 16 clients; checks every transaction's latency.
run_layout()
{
	local name=$1 round c prefix worst count over churn
	shift
	tl_start "$name" SSH_HEALTH_CHECK_INTERVAL=60000 TUNNEL_LOG_LEVEL=info "$@"
	tl_up || bail_out "$name: the helper did not connect: $(tail -3 "$TL_LOG")"
	for ((round = 1; round <= ROUNDS; round++)); do
		for c in 8 16; do
			prefix=$FX_DIR/$name.$round.$c
			timeout $((SECS + 60)) "$PGBENCH" -S -n -C -c 2 -j 1 -T "$SECS" \
				-h 127.0.0.1 -p "$FX_TUNNEL_PORT" -U "$FX_APP_USER" "$FX_APP_DB" \
				>"$prefix.churn" 2>&1 &
			churn=$!
			timeout $((SECS + 60)) "$PGBENCH" -S -n -c "$c" -j 2 -T "$SECS" -l --log-prefix="$prefix" \
				-h 127.0.0.1 -p "$FX_TUNNEL_PORT" -U "$FX_APP_USER" "$FX_APP_DB" \
				>"$prefix.out" 2>&1
			is "$?" 0 "$name round $round, $c clients: pgbench finished without error"
			wait "$churn"
			is "$?" 0 "$name round $round: the connect-per-transaction clients too"
			# pgbench -l: client, transaction, latency (us), script, epoch, us.
			read -r count worst over < <(cat "$prefix".[0-9]* 2>/dev/null | awk -v lim=$LIMIT_US '
				$3 ~ /^[0-9]+$/ { n++; if ($3 > w) w = $3; if ($3 > lim) o++ }
				END { printf "%d %d %d\n", n, w, o }')
			cmp_ok "$count" -gt 100 "$name round $round, $c clients: transactions logged ($count)"
			is "$over" 0 "$name round $round, $c clients: none over 1 s (worst $((worst / 1000)) ms)"
		done
	done
	tl_stop
	is "$TL_RC" 0 "$name: clean exit"
	tl_sanitizer_clean "$name"
}

run_layout spread
run_layout one_session SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=20

done_testing
