#!/usr/bin/env bash
# A switchover and a failover of a Patroni cluster (test/lib/patroni.sh:
# etcd + two nodes, synchronous_mode, ttl=10 loop_wait=2 retry_timeout=4),
# each under three writers side by side, one connection per write (an app
# pool reconnecting):
#   - tunnel:  through chatgenius-tunnel (POSTGRES_PATRONI_PORT, probes every
#              SSH_HEALTH_CHECK_INTERVAL=500 ms), and a reader on its
#              TUNNEL_STANDBY_PORT;
#   - haproxy: HAProxy checking Patroni's /primary every 500 ms with
#              on-marked-down shutdown-sessions (Patroni's template, fall 3 rise 2);
#   - direct:  libpq with host=both target_session_attrs=read-write, a
#              client that knows the new primary at once: the physical limit.
# For each: ms from the action's start to the first write acknowledged by
# the new primary, and the longest stretch without an acknowledged write;
# for the standby port, the reads refused during the window.  Prints a
# Markdown table (kept in test/bench/results/failover.txt).
#
#   test/bench/failover.sh      (as root; make install first)
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$top"
# shellcheck source=../lib/fixture.sh
. test/lib/fixture.sh
# shellcheck source=../lib/patroni.sh
. test/lib/patroni.sh

fx_init failbench
fx_sshd_start
PT_SYNC=1 pt_cluster_start
pt_psql 1 -d "$FX_APP_DB" >/dev/null <<-EOF
	CREATE TABLE public.bench_writes (id bigserial PRIMARY KEY, who text, at timestamptz DEFAULT now());
	ALTER TABLE public.bench_writes OWNER TO "$FX_APP_USER";
EOF

STANDBY_PORT=$(fx_free_port)
FX_TUNNEL_PORT=$(fx_free_port)
pt_env_file "$FX_DIR/bench.env" TUNNEL_NAME=bench SSH_HEALTH_CHECK_INTERVAL=500 \
	TUNNEL_STANDBY_PORT="$STANDBY_PORT" TUNNEL_CLIENT_WAIT=30000
fx_bg "$FX_DIR/tunnel.log" "$FX_HELPER" --env-file "$FX_DIR/bench.env"
fx_wait_for 30 "the tunnel" grep -q 'event=connected' "$FX_DIR/tunnel.log" || fx_die "no tunnel"

HA_PORT=$(fx_free_port)
cat >"$FX_DIR/haproxy.cfg" <<-EOF
	global
	    maxconn 200
	defaults
	    mode tcp
	    timeout connect 4s
	    timeout client 30m
	    timeout server 30m
	listen primary
	    bind 127.0.0.1:$HA_PORT
	    option httpchk GET /primary
	    http-check expect status 200
	    default-server inter 500ms fall 3 rise 2 on-marked-down shutdown-sessions
	    server n1 $PT_HOST1:$PT_PG_PORT check port $PT_API_PORT
	    server n2 $PT_HOST2:$PT_PG_PORT check port $PT_API_PORT
EOF
HAPROXY=$(command -v haproxy || true)
if [ -n "$HAPROXY" ]; then
	fx_bg "$FX_DIR/haproxy.log" "$HAPROXY" -db -f "$FX_DIR/haproxy.cfg"
	fx_wait_for 10 "haproxy" fx_port_open "$HA_PORT" || HAPROXY=
fi

export PGPASSWORD=$FX_APP_PASSWORD PGCONNECT_TIMEOUT=10
conninfo_tunnel="host=127.0.0.1 port=$FX_TUNNEL_PORT"
conninfo_haproxy="host=127.0.0.1 port=$HA_PORT"
conninfo_direct="host=$PT_HOST1,$PT_HOST2 port=$PT_PG_PORT target_session_attrs=read-write"

# writer NAME OUT: "microseconds server_address" per acknowledged write.
writer()
{
	local name=$1 out=$2 ci addr
	ci=conninfo_$name
	while [ ! -e "$FX_DIR/stop" ]; do
		if addr=$(psql -qXAt "${!ci} user=$FX_APP_USER dbname=$FX_APP_DB" \
			-c "INSERT INTO bench_writes (who) VALUES ('$name') RETURNING inet_server_addr()" 2>/dev/null); then
			echo "${EPOCHREALTIME/./} ${addr%%/*}" >>"$out"
		else
			sleep 0.02
		fi
	done
}
reader()
{
	while [ ! -e "$FX_DIR/stop" ]; do
		if psql -qXAt "host=127.0.0.1 port=$STANDBY_PORT user=$FX_APP_USER dbname=$FX_APP_DB" \
			-c 'SELECT 1' >/dev/null 2>&1; then
			echo "${EPOCHREALTIME/./} ok" >>"$1"
		else
			echo "${EPOCHREALTIME/./} refused" >>"$1"
			sleep 0.02
		fi
	done
}

# measure OUT NEW_HOST T0: "first_ms longest_gap_ms" after T0.
measure()
{
	awk -v t0="$3" -v new="$2" '
		$1 >= t0 { if (prev == "") prev = t0; g = $1 - prev; if (g > gap) gap = g; prev = $1
			if (first == "" && $2 == new) first = $1 - t0 }
		END { printf "%d %d", first == "" ? -1 : first / 1000, gap / 1000 }' "$1"
}

declare -A RESULT
run()
{
	local what=$1 new=$2 pids=() w
	shift 2
	rm -f "$FX_DIR/stop" "$FX_DIR"/*."$what"
	for w in tunnel direct ${HAPROXY:+haproxy}; do
		writer "$w" "$FX_DIR/$w.$what" &
		pids+=($!)
	done
	reader "$FX_DIR/reads.$what" &
	pids+=($!)
	sleep 3
	local t0=${EPOCHREALTIME/./}
	"$@"
	fx_wait_for 60 "writes on $new through the tunnel" grep -q " $new\$" "$FX_DIR/tunnel.$what" || true
	sleep 3
	touch "$FX_DIR/stop"
	wait "${pids[@]}" 2>/dev/null || true
	for w in tunnel direct ${HAPROXY:+haproxy}; do
		RESULT[$what.$w]=$(measure "$FX_DIR/$w.$what" "$new" "$t0")
	done
	RESULT[$what.reads]=$(awk -v t0="$t0" '$1 >= t0 { n++; if ($2 == "refused") r++ } END { printf "%d %d", r + 0, n + 0 }' "$FX_DIR/reads.$what")
}

fx_log "switchover n1 -> n2"
run switchover "$PT_HOST2" pt_switchover
pt_wait_leader 2 30
fx_wait_for 60 "node 1 back as a replica" pt_is_replica 1
fx_log "failover: SIGKILL of n2"
run failover "$PT_HOST1" pt_kill 2

# Patroni's REST API rate: GET /primary in a loop for 3 s on the leader.
api_rate=$(perl -MIO::Socket::INET -MTime::HiRes=time -e '
	my ($h, $p) = @ARGV; my $n = 0; my $end = time + 3;
	while (time < $end) {
		my $s = IO::Socket::INET->new(PeerAddr => $h, PeerPort => $p) or next;
		print $s "GET /primary HTTP/1.0\r\n\r\n"; my $l = <$s>; $n++ if $l =~ / 200 /; close $s;
	}
	printf "%d", $n / 3;' "$PT_HOST1" "$PT_API_PORT")

out=test/bench/results/failover.txt
{
	echo "# failover benchmark: $(date -u +%Y-%m-%d), $(uname -m), $(nproc) cores, $(patroni --version), $(${HAPROXY:-false} -v 2>/dev/null | head -1 | awk '{print $1, $3}')"
	echo "# ms from the action's start to the first write acknowledged by the new primary (longest stretch without an acknowledged write)"
	echo
	echo "| | switchover | failover (SIGKILL) |"
	echo "|---|---|---|"
	for w in direct tunnel ${HAPROXY:+haproxy}; do
		read -r sf sg <<<"${RESULT[switchover.$w]}"
		read -r ff fg <<<"${RESULT[failover.$w]}"
		echo "| $w | $sf ($sg) | $ff ($fg) |"
	done
	read -r sr sn <<<"${RESULT[switchover.reads]}"
	read -r fr fn <<<"${RESULT[failover.reads]}"
	echo "| standby port: reads refused | $sr of $sn | $fr of $fn |"
	echo
	echo "Patroni REST API, GET /primary one connection at a time: $api_rate requests/s"
} | tee "$out"
