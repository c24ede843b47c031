# shellcheck shell=bash
# Shared by the realtime tests and the benchmark (after the fixture):
# build the LISTEN client, start it in the background, read what it got.
#
#   rt_build_listener            # $FX_DIR/listen
#   rt_listen NAME CHANNELS      # starts one; its output is $FX_DIR/NAME.log
#   rt_stop_listener NAME        # stops it (TERM) and waits for it
#   rt_count NAME [REGEX]        # notifications received (matching REGEX)

RT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -A RT_LISTENER_PID

rt_build_listener()
{
	[ -x "$FX_DIR/listen" ] && return 0
	gcc -Wall -Wextra -Werror -O2 -I"$(pg_config --includedir)" -o "$FX_DIR/listen" \
		"$RT_LIB_DIR/../tools/listen.c" -L"$(pg_config --libdir)" -lpq ||
		fx_die "could not build the LISTEN client"
}

# rt_listen NAME CHANNELS [DB]: a listener on the fixture's socket as the
# superuser, started in the background; returns once its LISTENs are done.
rt_listen()
{
	local name=$1 channels=$2 db=${3:-$FX_APP_DB}
	rt_build_listener
	: >"$FX_DIR/$name.log"
	fx_bg "$FX_DIR/$name.log" "$FX_DIR/listen" \
		"host=$FX_PG_DIR port=$FX_PG_PORT user=postgres dbname=$db" "$channels"
	RT_LISTENER_PID[$name]=$FX_BG_PID
	fx_wait_for 20 "listener $name" grep -q '^# listening' "$FX_DIR/$name.log" ||
		fx_die "listener $name did not start: $(cat "$FX_DIR/$name.log")"
}

rt_stop_listener()
{
	local pid=${RT_LISTENER_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	RT_LISTENER_PID[$1]=
}

# rt_lines NAME: the notifications NAME received so far (time, channel, payload).
rt_lines()
{
	grep -P '^\d+\t' "$FX_DIR/$1.log" 2>/dev/null || true
}

# rt_bulk_tally NAME: "GOT DUPLICATES OUT_OF_ORDER" for the numbered bulk
# changes ({"n" : N}, N from 1) that NAME received.
rt_bulk_tally()
{
	rt_lines "$1" | awk -F'\t' '{
		n = $3; sub(/.*: /, "", n); sub(/}.*/, "", n); n += 0
		if (seen[n]++) d++
		if (n != last + 1) o++
		last = n; c++
	} END {print c + 0, d + 0, o + 0}'
}

rt_count()
{
	rt_lines "$1" | grep -c -- "${2:-.}" || true
}

# rt_count_is NAME N [REGEX]: true when NAME has received exactly N (for fx_wait_for).
rt_count_is()
{
	[ "$(rt_count "$1" "${3:-.}")" -eq "$2" ]
}

# rt_count_at_least NAME N [REGEX]
rt_count_at_least()
{
	[ "$(rt_count "$1" "${3:-.}")" -ge "$2" ]
}

# rt_q SQL: one statement as the superuser in the app's database, in a new
# session, values unaligned; never waits more than 60 s.
rt_q()
{
	timeout 60 psql -qX -v ON_ERROR_STOP=1 -Atd "$FX_APP_DB" -c "$1"
}

# rt_q_is SQL WANT: true when SQL's output is WANT (for fx_wait_for).
rt_q_is()
{
	[ "$(rt_q "$1")" = "$2" ]
}
