#!/usr/bin/env bash
# No stalls under concurrency: repeated 8- and 16-client pgbench -S runs
# through chatgenius-tunnel with per-transaction logging (-l); any single
# transaction over 1 s fails.  Two clients connecting anew for every
# transaction (-C) run alongside, so channel opens and closes interleave
# with the traffic.  One layout spreads clients over sessions (8 channels a
# session, the default before sessions filled to 32), the other puts all 18
# channels on one session, where one channel's
# libssh2 call (a read, a write, an open, a close) drains the socket for the
# others: the lost wakeup this test was written for, which left a reply
# inside libssh2 until the keepalive deadline (15 s by default).
#
# The burst layout compares with OpenSSH's own forwarding (ssh -N -L, same
# sshd, same key): each round starts a fresh helper (a cold pool: one
# session) and sends it 16 clients at once with the connect-per-transaction
# clients alongside, then the same through ssh -L.  Over the rounds, the
# tunnel's worst transaction must stay within BURST_RATIO (2) times ssh
# -L's worst: a client that waits behind a handshake, or a worker busy
# opening a session or a channel while its other channels wait, shows up
# as a transaction ssh -L never has.  A stall of that kind shows in every
# burst, a scheduler hiccup in one: up to STALL_BURST_TRIES (3) tries, the
# first within the ratio passes.
#
#   prove test/helper/stall.t                 (as root; short)
#   STALL_ROUNDS=10 STALL_SECS=10 prove test/helper/stall.t   (longer)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh

ROUNDS=${STALL_ROUNDS:-2}
SECS=${STALL_SECS:-3}
LIMIT_US=1000000
PGBENCH=$FX_PGBIN/pgbench

tl_begin stall
tl_pgbench_init
export PGPASSWORD=$FX_APP_PASSWORD

# run_layout NAME KEY=VALUE...: a helper with these settings, then ROUNDS
# rounds of 8 and 16 clients; checks every transaction's latency.
run_layout()
{
	local name=$1 round c prefix worst count over churn
	shift
	tl_start "$name" SSH_HEALTH_CHECK_INTERVAL=1000 TUNNEL_LOG_LEVEL=info "$@"
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

# worst_of PREFIX: "count worst_us" over pgbench -l files PREFIX.N.
worst_of()
{
	cat "$1".[0-9]* 2>/dev/null | awk '$3 ~ /^[0-9]+$/ { n++; if ($3 > w) w = $3 }
		END { printf "%d %d\n", n, w }'
}

# burst_run NAME PORT PREFIX: 16 clients at once and 2 connect-per-transaction
# clients for SECS through PORT, both logged; TAP checks that they ran.
burst_run()
{
	local name=$1 port=$2 prefix=$3 churn
	timeout $((SECS + 60)) "$PGBENCH" -S -n -C -c 2 -j 1 -T "$SECS" -l --log-prefix="$prefix.c" \
		-h 127.0.0.1 -p "$port" -U "$FX_APP_USER" "$FX_APP_DB" >"$prefix.churn" 2>&1 &
	churn=$!
	timeout $((SECS + 60)) "$PGBENCH" -S -n -c 16 -j 2 -T "$SECS" -l --log-prefix="$prefix.s" \
		-h 127.0.0.1 -p "$port" -U "$FX_APP_USER" "$FX_APP_DB" >"$prefix.out" 2>&1
	is "$?" 0 "$name: 16 clients at once finished without error"
	wait "$churn"
	is "$?" 0 "$name: the connect-per-transaction clients too"
}

# The burst layout: ROUNDS rounds, tunnel (fresh helper) and ssh -L in turn.
run_burst()
{
	local round order path prefix n w worst_t=0 worst_s=0 ratio
	fx_ssh_l 2>"$FX_DIR/ssh_l.err" || bail_out "ssh -L failed: $(cat "$FX_DIR/ssh_l.err")"
	for ((round = 1; round <= ROUNDS; round++)); do
		if ((round % 2)); then order="tunnel ssh_l"; else order="ssh_l tunnel"; fi
		for path in $order; do
			prefix=$FX_DIR/burst.$round.$path
			if [ "$path" = tunnel ]; then
				tl_start "burst$round" SSH_HEALTH_CHECK_INTERVAL=1000 TUNNEL_LOG_LEVEL=debug
				tl_up || bail_out "burst: the helper did not connect: $(tail -3 "$TL_LOG")"
				burst_run "burst round $round, tunnel" "$FX_TUNNEL_PORT" "$prefix"
				grep 'msg=stall' "$TL_LOG" | sort -t= -k4 | head -5 | sed 's/^/# /'
				# The cause, as the helper's own log says it, whatever the
				# machine's load: each session opened during the burst is a
				# handshake (key exchange, sshd's fork and authentication)
				# competing for the CPU with the clients' traffic.
				cmp_ok "$(tl_count 'msg=health_check .*result=ok')" -ge 2 \
					"burst round $round: the health check ran beside the burst (every second, as the fixture's default)"
				cmp_ok "$(tl_count 'msg=session_open ')" -le 2 \
					"burst round $round: at most 2 sessions opened, the first and the spare ($(tl_count 'msg=session_open '))"
				tl_stop
				is "$TL_RC" 0 "burst round $round: clean exit"
			else
				burst_run "burst round $round, ssh -L" "$SSH_L_PORT" "$prefix"
			fi
			for kind in s c; do
				read -r n w < <(worst_of "$prefix.$kind")
				cmp_ok "$n" -gt 10 "burst round $round, $path: transactions logged ($kind: $n)"
				if [ "$path" = tunnel ]; then
					((w > worst_t)) && worst_t=$w
				else
					((w > worst_s)) && worst_s=$w
				fi
				diag "burst round $round, $path ($kind): worst $((w / 1000)) ms"
			done
		done
	done
	kill "$SSH_PID" 2>/dev/null
	ratio=$(awk -v t="$worst_t" -v s="$worst_s" 'BEGIN { printf "%.2f", (s > 0) ? t / s : 99 }')
	BURST_OK=$(awk -v r="$ratio" -v lim="$BURST_RATIO" 'BEGIN { print (r <= lim) ? 0 : 1 }')
	BURST_SAID="the tunnel's worst transaction ($((worst_t / 1000)) ms) within ${BURST_RATIO}x ssh -L's ($((worst_s / 1000)) ms): ${ratio}x"
}

BURST_RATIO=${STALL_BURST_RATIO:-2}
BURST_ONLY=${STALL_BURST_ONLY:-0}
if [ "$BURST_ONLY" != 1 ]; then
	run_layout spread SSH_CHANNELS_PER_SESSION=8
	run_layout one_session SSH_POOL_SIZE=1 SSH_CHANNELS_PER_SESSION=20
fi
# A stall of the pool's making (clients behind a handshake) shows in every
# burst; one scheduler hiccup on a shared machine shows in one.  So the
# burst is tried up to BURST_TRIES times and passes at the first try
# within the ratio; each try's figures are printed.
BURST_TRIES=${STALL_BURST_TRIES:-3}
for ((try = 1; try <= BURST_TRIES; try++)); do
	run_burst
	diag "burst try $try of $BURST_TRIES: $BURST_SAID"
	[ "$BURST_OK" = 0 ] && break
done
ok "$BURST_OK" "burst (try $((try > BURST_TRIES ? BURST_TRIES : try)) of $BURST_TRIES): $BURST_SAID"

done_testing
