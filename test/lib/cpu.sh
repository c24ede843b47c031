# shellcheck shell=bash
# CPU accounting for the benchmarks, read from /proc: what a process tree
# took, and what other work took on the machine meanwhile (the machine is
# shared, so a figure must say whether it was measured alone).
#
#   cpu_ticks PID...          user + system ticks of these processes
#   cpu_tree_ticks PID...     the same for them, everything below them and
#                             the children they reaped (cutime, cstime)
#   cpu_machine_ticks         busy ticks of the whole machine (/proc/stat)
#   cpu_other_pct M0 M1 B0 B1 NS
#                             other work in % of one core: the machine's
#                             busy ticks (M0..M1) less the bench's (B0..B1)
#                             over NS nanoseconds
#   cpu_us_per TICKS N        µs of CPU per unit (N transactions)
#   cpu_loadavg               the 1-minute load average

CPU_HZ=$(getconf CLK_TCK)

cpu_ticks()
{
	local p t=0 v
	for p in "$@"; do
		v=$(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null) || v=0
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

cpu_tree_ticks()
{
	local p
	# shellcheck disable=SC2046
	for p in $(for p in "$@"; do fx_descendants "$p"; done | sort -u); do
		awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || true
	done | awk '{t += $1} END {print t + 0}'
}

cpu_machine_ticks()
{
	awk '$1 == "cpu" {print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat
}

cpu_other_pct()
{
	awk -v m=$(($2 - $1)) -v b=$(($4 - $3)) -v ns="$5" -v hz="$CPU_HZ" \
		'BEGIN {o = (m - b) * 100 / hz / (ns / 1e9); printf "%.0f", (o < 0) ? 0 : o}'
}

cpu_us_per()
{
	awk -v t="$1" -v n="$2" -v hz="$CPU_HZ" 'BEGIN {printf "%.1f", (n > 0) ? t * 1e6 / hz / n : 0}'
}

cpu_loadavg()
{
	cut -d' ' -f1 /proc/loadavg
}
