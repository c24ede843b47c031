#!/usr/bin/env bash
# chatgenius-tunnel against OpenSSH's `ssh -N -L` (default cipher, same key,
# same loopback sshd) and against a direct connection, over a matrix of
# workloads on a pgbench scale-10 database:
#   S1, S8, S32   pgbench -S with 1, 8 and 32 clients
#   S16           pgbench -S with 16 clients (the latency workload)
#   C1, C4        pgbench -S -C (a new connection per transaction), 1 and 4 clients
#   COPY_OUT      COPY of 1M rows out through psql (server to client)
#   COPY_IN       COPY of the same 1M rows in (client to server)
# Each round runs every path in a rotated order; ROUNDS (5) rounds.  For
# every run it records:
#   - throughput (TPS, or rows/s for COPY);
#   - CPU µs per transaction (per 1000 rows for COPY) of the helper, of
#     OpenSSH's client, and of sshd: every process below the fixture's sshd
#     (the per-connection children), read from /proc/PID/stat;
#   - p50, p99 and worst latency from pgbench -l;
#   - the machine: the 1-minute load average before and after the run, and
#     the CPU that other work took meanwhile (the machine's busy time from
#     /proc/stat less every process of the bench: this shell and its
#     children, the helpers, ssh, sshd and PostgreSQL with their reaped
#     children), as a percentage of one core.  A run where other work took
#     more than OTHER_BUSY_PCT (20) of a core is flagged busy.
# Then the helper's RSS with 100 clients connected at once.
#
# Prints a table: per workload and path the median of the rounds with the
# spread (min-max) beside it, the tunnel/ssh -L ratio of every round (each
# tunnel run against the ssh -L run of the same round) with its median and
# minimum, CPU, latency and the busy runs; then the targets, each met or
# missed.  Writes the table to test/bench/results/tunnel_vs_ssh.txt, every
# run on its own line to test/bench/results/tunnel_vs_ssh.rounds (so that
# one slow round cannot hide behind a median), and a chart to
# test/bench/results/tunnel_vs_ssh.svg (gnuplot).  Not part of the test
# suite.  CPU per transaction is the robust figure on a busy machine;
# throughput ratios move with whatever else runs: only a run without busy
# rounds describes the code.
#
#   test/bench/tunnel_vs_ssh.sh                  (as root; about 15 minutes)
#   SECS=10 ROUNDS=7 test/bench/tunnel_vs_ssh.sh (longer)
#   WORKLOADS="S8 S16" test/bench/tunnel_vs_ssh.sh
#   STALL=1 test/bench/tunnel_vs_ssh.sh          (also the stall test, long:
#                                                 STALL_ROUNDS=10 STALL_SECS=10)
#   FX_HELPER=/path/to/other/chatgenius-tunnel test/bench/tunnel_vs_ssh.sh
#   TUNNEL_ENV="SSH_POOL_SIZE=2 SSH_CHANNELS_PER_SESSION=64" test/bench/tunnel_vs_ssh.sh
#   VARIANTS="one:SSH_POOL_SIZE=1,SSH_CHANNELS_PER_SESSION=120" test/bench/tunnel_vs_ssh.sh
#       (more helpers, each with its settings, as paths tunnel_NAME in the
#        same rounds: settings compared side by side)
#   HTTP=1 test/bench/tunnel_vs_ssh.sh           (a path tunnel_http: a helper
#                                                 with TUNNEL_HTTP_ADDR, /metrics
#                                                 scraped every second, in the
#                                                 same rotation)
set -u
cd "$(dirname "$0")/../.." || exit 1
# From a fresh clone: the test packages, gnuplot for the chart, the helper.
bash test/deps.sh || exit 1
if ! command -v gnuplot >/dev/null; then
	DEBIAN_FRONTEND=noninteractive flock /tmp/apt.lock sh -c \
		'apt-get update -qq && apt-get install -y -qq --no-install-recommends gnuplot-nox' \
		>/dev/null || exit 1
fi
export PATH="$(pg_config --bindir):$PATH"
[ -n "${FX_HELPER:-}" ] || make -s -C helper || exit 1
. test/lib/fixture.sh
. test/lib/cpu.sh

SECS=${SECS:-5}
ROUNDS=${ROUNDS:-5}
WORKLOADS=${WORKLOADS:-"S1 S8 S16 S32 C1 C4 COPY_OUT COPY_IN"}
COPY_ROWS=${COPY_ROWS:-1000000}
OTHER_BUSY_PCT=${OTHER_BUSY_PCT:-20}
OUT=${OUT:-test/bench/results}
PGBENCH=$FX_PGBIN/pgbench
[ -x "$FX_HELPER" ] || fx_die "no helper at $FX_HELPER (make -C helper)"
mkdir -p "$OUT"

fx_init bench
fx_pg_start
# 100 clients at once for the RSS figure, plus the helper's own.
fx_psql -c "ALTER SYSTEM SET max_connections = 200" >/dev/null
fx_pg_stop
fx_pg_start_again
fx_sshd_start
export PGPASSWORD=$FX_APP_PASSWORD

"$PGBENCH" -i -q -s 10 -h 127.0.0.1 -p "$FX_PG_PORT" -U "$FX_APP_USER" "$FX_APP_DB" \
	>"$FX_DIR/init.log" 2>&1 || fx_die "pgbench -i failed: $(tail -3 "$FX_DIR/init.log")"
# COPY_IN's table and rows (the rows COPY_OUT sends).
fx_psql -d "$FX_APP_DB" -c "CREATE TABLE copy_in (i int, t text)" \
	-c "ALTER TABLE copy_in OWNER TO \"$FX_APP_USER\"" >/dev/null
psql -qXAt -d "$FX_APP_DB" -c "COPY (SELECT i, md5(i::text) FROM generate_series(1, $COPY_ROWS) i) TO STDOUT" \
	>"$FX_DIR/copy.in"

# OpenSSH's own forwarding, same sshd, same key, strict host key checking.
fx_ssh_l || fx_die "ssh -L failed"

# start_helper NAME PORT SETTINGS...: chatgenius-tunnel with its defaults,
# but room for the 100-client RSS run and no idle reaping during the bench
# (a reaped session's CPU would leave the sshd sum), plus SETTINGS; sets
# HELPER_PIDS[NAME].
declare -A HELPER_PIDS
start_helper()
{
	local name=$1 port=$2
	shift 2
	# shellcheck disable=SC2086
	fx_env_file "$FX_DIR/env.$name" SSH_HEALTH_CHECK_INTERVAL=30000 TUNNEL_LOG_LEVEL=info \
		SSH_POOL_SIZE=16 SSH_IDLE_TIMEOUT=3600000 POSTGRES_PORT="$port" \
		TUNNEL_STATE_DIR="$FX_DIR/state.$name" TUNNEL_NAME="bench-$name" "$@"
	fx_bg "$FX_DIR/$name.log" "$FX_HELPER" --env-file "$FX_DIR/env.$name"
	HELPER_PIDS[$name]=$FX_BG_PID
	fx_wait_for 20 "chatgenius-tunnel $name port" fx_port_open "$port" ||
		fx_die "chatgenius-tunnel $name failed: $(cat "$FX_DIR/$name.log")"
}

names=(direct ssh_l tunnel)
FX_TUNNEL_PORT=$(fx_free_port)
ports=("$FX_PG_PORT" "$SSH_L_PORT" "$FX_TUNNEL_PORT")
# TUNNEL_ENV adds settings (e.g. "SSH_POOL_SIZE=2 SSH_CHANNELS_PER_SESSION=64").
# shellcheck disable=SC2086
start_helper tunnel "$FX_TUNNEL_PORT" ${TUNNEL_ENV:-}
for v in ${VARIANTS:-}; do
	vname=tunnel_${v%%:*}
	vport=$(fx_free_port)
	# shellcheck disable=SC2046
	start_helper "$vname" "$vport" $(tr ',' ' ' <<<"${v#*:}")
	names+=("$vname")
	ports+=("$vport")
done
# HTTP=1: a helper with its HTTP endpoint on, scraped every second for the
# whole bench (as Prometheus would), measured in the same rotation.
if [ "${HTTP:-0}" = 1 ]; then
	HTTP_PORT=$(fx_free_port)
	HTTP_TUNNEL_PORT=$(fx_free_port)
	# shellcheck disable=SC2086
	start_helper tunnel_http "$HTTP_TUNNEL_PORT" TUNNEL_HTTP_ADDR=127.0.0.1:$HTTP_PORT ${TUNNEL_ENV:-}
	names+=(tunnel_http)
	ports+=("$HTTP_TUNNEL_PORT")
	fx_bg "$FX_DIR/scrape.log" bash -c 'while :; do
		curl -s -o /dev/null -w "%{http_code} %{time_total}\n" "http://127.0.0.1:$1/metrics"; sleep 1; done' \
		scraper "$HTTP_PORT"
fi
HELPER_PID=${HELPER_PIDS[tunnel]}
npaths=${#names[@]}

# sshd_ticks: ticks of every process below the fixture's sshd (the
# per-connection monitor and session processes), the daemon excluded.
# Every helper's sessions and ssh -L's are below it: each run has one path.
sshd_ticks()
{
	# shellcheck disable=SC2046
	cpu_ticks $(fx_descendants "$FX_SSHD_PID" | grep -vx "$FX_SSHD_PID")
}

# helper_ticks PATH: ticks of PATH's helper (0 for direct and ssh_l).
helper_ticks()
{
	local pid=${HELPER_PIDS[$1]:-}
	if [ -n "$pid" ]; then cpu_ticks "$pid"; else echo 0; fi
}

# bench_ticks: every tick the bench's own processes have taken so far.
bench_ticks()
{
	# shellcheck disable=SC2068
	cpu_tree_ticks $$ "$FX_SSHD_PID" "$(head -1 "$FX_PG_DIR/data/postmaster.pid")" ${HELPER_PIDS[@]}
}

# run_one WORKLOAD PATH PORT TAG ROUND: one measured run; appends a result
# line "workload path tps txns helper_ticks ssh_ticks sshd_ticks p50 p99 max
# round load_before load_after other_pct busy sessions spread" (latencies in
# ms; for a helper, its sessions open after the run and its msg=pool_spread
# lines so far).
run_one()
{
	local w=$1 path=$2 port=$3 tag=$4 round=$5 args h0 s0 d0 h1 s1 d1 tps txns lat
	local l0 l1 m0 m1 b0 b1 t0ns t1ns other busy
	case $w in
		S1) args="-c 1 -j 1" ;;
		S8) args="-c 8 -j 2" ;;
		S16) args="-c 16 -j 2" ;;
		S32) args="-c 32 -j 2" ;;
		C1) args="-C -c 1 -j 1" ;;
		C4) args="-C -c 4 -j 2" ;;
		COPY_OUT | COPY_IN) args="" ;;
		*) fx_die "unknown workload $w" ;;
	esac
	[ "$w" = COPY_IN ] && psql -qX -d "$FX_APP_DB" -c "TRUNCATE copy_in" >/dev/null
	l0=$(cpu_loadavg) m0=$(cpu_machine_ticks) b0=$(bench_ticks) t0ns=$(date +%s%N)
	h0=$(helper_ticks "$path") s0=$(cpu_ticks "$SSH_PID") d0=$(sshd_ticks)
	if [ "$w" = COPY_OUT ] || [ "$w" = COPY_IN ]; then
		local t0 t1
		t0=$(date +%s%N)
		if [ "$w" = COPY_OUT ]; then
			psql -X -h 127.0.0.1 -p "$port" -U "$FX_APP_USER" -d "$FX_APP_DB" -c \
				"COPY (SELECT i, md5(i::text) FROM generate_series(1, $COPY_ROWS) i) TO STDOUT" \
				>"$FX_DIR/copy.out" 2>"$FX_DIR/$tag.err" || fx_die "COPY $tag failed: $(cat "$FX_DIR/$tag.err")"
		else
			psql -qX -h 127.0.0.1 -p "$port" -U "$FX_APP_USER" -d "$FX_APP_DB" -c \
				"COPY copy_in FROM STDIN" <"$FX_DIR/copy.in" >/dev/null 2>"$FX_DIR/$tag.err" ||
				fx_die "COPY $tag failed: $(cat "$FX_DIR/$tag.err")"
		fi
		t1=$(date +%s%N)
		if [ "$w" = COPY_OUT ]; then
			[ "$(wc -l <"$FX_DIR/copy.out")" -eq "$COPY_ROWS" ] || fx_die "COPY $tag: short output"
		else
			[ "$(psql -qXAt -d "$FX_APP_DB" -c "SELECT count(*) FROM copy_in")" -eq "$COPY_ROWS" ] ||
				fx_die "COPY $tag: rows missing"
		fi
		# Rows per second; "transactions" are thousands of rows.
		tps=$(awk -v n="$COPY_ROWS" -v ns=$((t1 - t0)) 'BEGIN {printf "%.0f", n / (ns / 1e9)}')
		txns=$((COPY_ROWS / 1000))
		lat="$(awk -v ns=$((t1 - t0)) 'BEGIN {printf "%.1f", ns / 1e6}') - -"
	else
		# shellcheck disable=SC2086
		"$PGBENCH" -S -n $args -T "$SECS" -l --log-prefix="$FX_DIR/$tag" -h 127.0.0.1 -p "$port" \
			-U "$FX_APP_USER" "$FX_APP_DB" >"$FX_DIR/$tag.out" 2>&1 ||
			fx_die "pgbench $tag failed: $(tail -3 "$FX_DIR/$tag.out")"
		tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$FX_DIR/$tag.out" | tail -1)
		txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$FX_DIR/$tag.out")
		# pgbench -l: client, transaction, latency (µs), ...
		lat=$(cat "$FX_DIR/$tag".[0-9]* | awk '{print $3}' | sort -n | awk '
			{v[NR] = $1} END {
				i50 = int(NR * 0.50); if (i50 < 1) i50 = 1
				i99 = int(NR * 0.99); if (i99 < 1) i99 = 1
				printf "%.2f %.2f %.2f", v[i50] / 1000, v[i99] / 1000, v[NR] / 1000 }')
		rm -f "$FX_DIR/$tag".[0-9]*
	fi
	h1=$(helper_ticks "$path") s1=$(cpu_ticks "$SSH_PID") d1=$(sshd_ticks)
	m1=$(cpu_machine_ticks) b1=$(bench_ticks) t1ns=$(date +%s%N) l1=$(cpu_loadavg)
	# Other work: the machine's busy time less the bench's, in % of one core.
	other=$(cpu_other_pct "$m0" "$m1" "$b0" "$b1" $((t1ns - t0ns)))
	busy=0
	[ "$other" -gt "$OTHER_BUSY_PCT" ] && busy=1
	# ssh's ticks count only on its own path.
	[ "$path" = ssh_l ] || s1=$s0
	# A helper's sessions open after the run, and whether its pool spread yet.
	local sessions=- spread=-
	if [ -n "${HELPER_PIDS[$path]:-}" ]; then
		sessions=$(($(grep -c 'msg=session_open' "$FX_DIR/$path.log") -
			$(grep -cE 'msg=session_closed|event=disconnected' "$FX_DIR/$path.log")))
		spread=$(grep -c 'msg=pool_spread' "$FX_DIR/$path.log")
	fi
	echo "$w $path $tps $txns $((h1 - h0)) $((s1 - s0)) $((d1 - d0)) $lat $round $l0 $l1 $other $busy $sessions $spread" \
		>>"$FX_DIR/results"
}

: >"$FX_DIR/results"

# A short unmeasured run through each path first lets the pool grow.
for ((k = 0; k < npaths; k++)); do
	"$PGBENCH" -S -n -c 32 -j 2 -T 2 -h 127.0.0.1 -p "${ports[k]}" -U "$FX_APP_USER" \
		"$FX_APP_DB" >/dev/null 2>&1
done

for w in $WORKLOADS; do
	for ((round = 0; round < ROUNDS; round++)); do
		for ((k = 0; k < npaths; k++)); do
			i=$(((k + round) % npaths))
			run_one "$w" "${names[i]}" "${ports[i]}" "$w.${names[i]}.$round" "$round"
		done
	done
	fx_log "$w done"
done

# ------------------------------------------------------------- RSS with 100 clients
rss_kb()
{
	awk '/^VmRSS/ {print $2}' "/proc/$HELPER_PID/status"
}
rss_idle=$(rss_kb)
pids=()
for i in $(seq 1 100); do
	PGCONNECT_TIMEOUT=30 psql -qX -h 127.0.0.1 -p "$FX_TUNNEL_PORT" -U "$FX_APP_USER" -d "$FX_APP_DB" \
		-Atc "SELECT pg_sleep(4)" >/dev/null 2>&1 &
	pids+=($!)
done
busy()
{
	[ "$(fx_psql -d postgres -Atc "SELECT count(*) FROM pg_stat_activity
		WHERE query LIKE 'SELECT pg_sleep(4)%' AND state = 'active'")" -ge 100 ]
}
fx_wait_for 60 "100 clients through the tunnel" busy || fx_log "not all 100 clients got through"
rss_100=$(rss_kb)
clients_failed=0
for p in "${pids[@]}"; do wait "$p" || clients_failed=$((clients_failed + 1)); done
hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$HELPER_PID/status")

# ------------------------------------------------------------- report
table=$OUT/tunnel_vs_ssh.txt
data=$OUT/tunnel_vs_ssh.dat
{
	printf '# chatgenius-tunnel vs ssh -N -L vs direct: %s, %s, %d cores, %s\n' \
		"$(date -u +%Y-%m-%d)" "$(uname -m)" "$(nproc)" "$(ssh -V 2>&1)"
	printf '# pgbench -S scale 10, %d s runs, %d interleaved rounds: median [min-max]; CPU in µs per transaction\n' \
		"$SECS" "$ROUNDS"
	printf '# (COPY: per 1000 rows, throughput in rows/s, latency = the whole copy)\n'
	printf '# vs_ssh_L: this path / ssh -L in the same round, median [lowest]; rounds: every round'"'"'s ratio\n'
	printf '# busy: runs during which other work took over %d%% of a core (of %d runs); every run: tunnel_vs_ssh.rounds\n' \
		"$OTHER_BUSY_PCT" "$(wc -l <"$FX_DIR/results")"
	[ -n "${TUNNEL_ENV:-}" ] && printf '# tunnel: %s\n' "$TUNNEL_ENV"
	for v in ${VARIANTS:-}; do printf '# tunnel_%s: %s\n' "${v%%:*}" "${v#*:}"; done
	perl test/bench/tunnel_report.pl "$CPU_HZ" "$WORKLOADS" "${names[*]}" <"$FX_DIR/results" "$data"
	printf 'load average (1 min) over the runs: %s to %s; other work: median %s%% of a core, most %s%%\n' \
		"$(awk '{print $12}' "$FX_DIR/results" | sort -g | head -1)" \
		"$(awk '{print $13}' "$FX_DIR/results" | sort -g | tail -1)" \
		"$(awk '{print $14}' "$FX_DIR/results" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')" \
		"$(awk '{print $14}' "$FX_DIR/results" | sort -g | tail -1)"
	if [ "${HTTP:-0}" = 1 ]; then
		printf 'tunnel_http: /metrics scraped every second meanwhile: %d scrapes, %d not 200, median %s ms, most %s ms\n' \
			"$(wc -l <"$FX_DIR/scrape.log")" "$(awk '$1 != 200' "$FX_DIR/scrape.log" | wc -l)" \
			"$(awk '{print $2 * 1000}' "$FX_DIR/scrape.log" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')" \
			"$(awk '{print $2 * 1000}' "$FX_DIR/scrape.log" | sort -g | tail -1)"
	fi
	printf '\nhelper RSS: %d KiB idle after the runs, %d KiB with 100 clients connected (peak %d KiB); %d of 100 clients failed\n' \
		"$rss_idle" "$rss_100" "$hwm" "$clients_failed"
} | tee "$table"

cp "$FX_DIR/results" "$OUT/tunnel_vs_ssh.raw"
# Every run, readable: CPU in µs per transaction, latencies in ms.
{
	printf '# %s, %d cores; other = CPU other work took during the run, %% of one core\n' \
		"$(date -u +%Y-%m-%dT%H:%MZ)" "$(nproc)"
	printf '%-8s %-12s %5s %10s %8s %8s %8s %8s %9s %9s %7s %7s %6s %5s\n' work path round tps \
		helper ssh sshd p50_ms p99_ms worst_ms load0 load1 other busy
	awk -v hz="$CPU_HZ" '{
		printf "%-8s %-12s %5d %10.0f %8.1f %8.1f %8.1f %8s %9s %9s %7s %7s %6s %5s\n",
			$1, $2, $11, $3, $5 * 1e6 / hz / $4, $6 * 1e6 / hz / $4, $7 * 1e6 / hz / $4,
			$8, $9, $10, $12, $13, $14, ($15 ? "busy" : "-") }' "$FX_DIR/results"
} >"$OUT/tunnel_vs_ssh.rounds"

gnuplot <<EOF
set terminal svg size 900,420 font "sans,11" background rgb "white"
set output "$OUT/tunnel_vs_ssh.svg"
set multiplot layout 1,2 title "chatgenius-tunnel vs ssh -N -L ($(date -u +%Y-%m-%d), $(nproc) cores, median of $ROUNDS)"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key top right
set grid ytics
set title "Throughput relative to ssh -L (higher is better)"
set yrange [0:*]
plot "$data" using 2:xtic(1) title "tunnel / ssh -L", \
     "" using 3 title "direct / ssh -L", \
     1 with lines lc rgb "black" dt 2 notitle
set title "CPU µs per transaction (COPY: per 1000 rows; lower is better)"
set key top left
set logscale y
set yrange [*:*]
plot "$data" using 4:xtic(1) title "helper", "" using 5 title "ssh client", \
     "" using 6 title "sshd (tunnel)", "" using 7 title "sshd (ssh -L)"
unset multiplot
EOF
fx_log "table: $table, every run: $OUT/tunnel_vs_ssh.rounds, chart: $OUT/tunnel_vs_ssh.svg"

if [ "${STALL:-0}" = 1 ]; then
	STALL_ROUNDS=${STALL_ROUNDS:-10} STALL_SECS=${STALL_SECS:-10} prove -v test/helper/stall.t
fi
