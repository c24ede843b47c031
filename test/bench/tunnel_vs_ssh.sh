#!/usr/bin/env bash
# pgbench -S -c 8 -T 10 side by side against the fixture's PostgreSQL:
# direct, through OpenSSH's `ssh -N -L`, and through chatgenius-tunnel, both
# tunnels against the same loopback sshd.  Prints the median TPS of each
# over a few rounds and the ratios.  Not part of the test suite.
#
#   test/bench/tunnel_vs_ssh.sh [SECONDS] [CLIENTS]      (as root; ROUNDS=3)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/fixture.sh

SECS=${1:-10}
CLIENTS=${2:-8}
ROUNDS=${ROUNDS:-3}
PGBENCH=$FX_PGBIN/pgbench
[ -x "$FX_HELPER" ] || fx_die "no helper at $FX_HELPER (make -C helper)"

fx_init bench
fx_pg_start
fx_sshd_start
export PGPASSWORD=$FX_APP_PASSWORD

"$PGBENCH" -i -q -s 10 -h 127.0.0.1 -p "$FX_PG_PORT" -U "$FX_APP_USER" "$FX_APP_DB" \
	>"$FX_DIR/init.log" 2>&1 || fx_die "pgbench -i failed: $(tail -3 "$FX_DIR/init.log")"

# bench NAME PORT: one pgbench -S run; prints the TPS.
bench()
{
	"$PGBENCH" -S -n -c "$CLIENTS" -j 2 -T "$SECS" -h 127.0.0.1 -p "$2" \
		-U "$FX_APP_USER" "$FX_APP_DB" >"$FX_DIR/$1.log" 2>&1 ||
		fx_die "pgbench $1 failed: $(tail -3 "$FX_DIR/$1.log")"
	sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$FX_DIR/$1.log" | tail -1
}

# OpenSSH's own forwarding, same sshd, same key, strict host key checking.
SSH_L_PORT=$(fx_free_port)
fx_bg "$FX_DIR/ssh.log" ssh -N -o BatchMode=yes -o StrictHostKeyChecking=yes \
	-o UserKnownHostsFile="$FX_KNOWN_HOSTS" -o ExitOnForwardFailure=yes \
	-i "$FX_SSH_KEY" -p "$FX_SSH_PORT" -L "127.0.0.1:$SSH_L_PORT:127.0.0.1:$FX_PG_PORT" \
	"$FX_SSH_USER@127.0.0.1"
fx_wait_for 20 "ssh -L port" fx_port_open "$SSH_L_PORT" || fx_die "ssh -L failed: $(cat "$FX_DIR/ssh.log")"

# chatgenius-tunnel with its defaults (pool of up to 10 sessions, 8 channels each).
fx_env_file "$FX_DIR/env" SSH_HEALTH_CHECK_INTERVAL=30000 TUNNEL_LOG_LEVEL=warn
fx_bg "$FX_DIR/tunnel.log" "$FX_HELPER" --env-file "$FX_DIR/env"
fx_wait_for 20 "chatgenius-tunnel port" fx_port_open "$FX_TUNNEL_PORT" ||
	fx_die "chatgenius-tunnel failed: $(cat "$FX_DIR/tunnel.log")"

# Each round runs the three paths in a rotated order, so that neither
# warm-up nor the machine's drift favours one; the medians are compared.
# A short unmeasured run through each path first lets the pool grow.
SECS_SAVED=$SECS
SECS=2
bench warmup_direct "$FX_PG_PORT" >/dev/null
bench warmup_ssh_l "$SSH_L_PORT" >/dev/null
bench warmup_tunnel "$FX_TUNNEL_PORT" >/dev/null
SECS=$SECS_SAVED

names=(direct ssh_l tunnel)
ports=("$FX_PG_PORT" "$SSH_L_PORT" "$FX_TUNNEL_PORT")
declare -A tps
for ((round = 0; round < ROUNDS; round++)); do
	for ((k = 0; k < 3; k++)); do
		i=$(((k + round) % 3))
		tps[${names[i]}]+="$(bench "${names[i]}_$round" "${ports[i]}") "
	done
	fx_log "round $((round + 1))/$ROUNDS: direct ${tps[direct]% } | ssh -L ${tps[ssh_l]% } | tunnel ${tps[tunnel]% }"
done

median()
{
	tr ' ' '\n' | grep . | sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'
}
direct=$(median <<<"${tps[direct]}")
sshl=$(median <<<"${tps[ssh_l]}")
tunnel=$(median <<<"${tps[tunnel]}")

printf '\npgbench -S -c %d -j 2 -T %d, scale 10, %s cores, median of %d rounds\n' \
	"$CLIENTS" "$SECS" "$(nproc)" "$ROUNDS"
printf '%-22s %12s\n' path TPS
printf '%-22s %12.0f\n' direct "$direct" "ssh -N -L" "$sshl" chatgenius-tunnel "$tunnel"
awk -v d="$direct" -v s="$sshl" -v t="$tunnel" 'BEGIN {
	printf "ratios: tunnel/direct %.2f  ssh-L/direct %.2f  tunnel/ssh-L %.2f\n", t / d, s / d, t / s }'
