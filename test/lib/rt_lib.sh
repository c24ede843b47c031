# shellcheck shell=bash
# Shared by the realtime tests and the benchmark: a chat to write into,
# messages posted and recognised by their ids, the LISTEN client started in
# the background and what it got.  Sources test/lib/fixture.sh, tap.sh and
# fault_lib.sh.
#
#   rt_seed [DB [USERS]]         # the extension, RT_USER (and more users), RT_CHANNEL
#   rt_post N PREFIX             # N messages, ids rt_msg_id PREFIX 0..N-1
#   rt_build_listener            # $FX_DIR/listen
#   rt_listen NAME CHANNELS      # starts one; its output is $FX_DIR/NAME.log
#   rt_stop_listener NAME        # stops it (TERM) and waits for it
#   rt_count NAME [REGEX]        # notifications received (matching REGEX)
#   rt_ids NAME PREFIX           # the ids with PREFIX that NAME received, in order

RT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=fixture.sh
. "$RT_LIB_DIR/fixture.sh"
# shellcheck source=tap.sh
. "$RT_LIB_DIR/tap.sh"
# shellcheck source=fault_lib.sh
. "$RT_LIB_DIR/fault_lib.sh"
declare -A RT_LISTENER_PID

# The chat the tests write into (rt_seed): its first user and its channel.
RT_USER=01A00000000000000000000000
RT_CHANNEL=01C00000000000000000000001

# rt_seed [DB [USERS]]: CREATE EXTENSION chatgenius in DB (the app's) as the
# superuser, USERS users (1; ids 01A...0, 01A...1, ...; the first is
# RT_USER) and the channel RT_CHANNEL, made by RT_USER.
rt_seed()
{
	fx_psql -d "${1:-$FX_APP_DB}" >/dev/null <<-SQL
		CREATE EXTENSION chatgenius;
		INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
		SELECT '01A' || lpad(i::text, 23, '0'), 'auth0|' || i, i || '@example.com', 'u' || i, 'User ' || i
		  FROM generate_series(0, ${2:-1} - 1) i;
		INSERT INTO chatgenius.channels (id, name, type, created_by)
		VALUES ('$RT_CHANNEL', 'general', 'public', '$RT_USER');
	SQL
}

# rt_msg_id PREFIX N: the id of message N of PREFIX (two Crockford base32
# letters, so that the id is a ULID): 26 characters.
rt_msg_id()
{
	printf '01M00000000000000000%s%04d' "$1" "$2"
}

# rt_post N PREFIX [DB]: N messages in RT_CHANNEL by RT_USER, one
# transaction each, with ids rt_msg_id PREFIX 0 to N-1, committed with
# synchronous_commit on (the fixture turns it off, and an immediate stop or
# a failover may lose an asynchronous commit).
rt_post()
{
	local i sql="SET synchronous_commit = on;"
	for ((i = 0; i < $1; i++)); do
		sql+="INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
			VALUES ('$(rt_msg_id "$2" "$i")', '$RT_CHANNEL', '$RT_USER', 'm');"
	done
	psql -qX -v ON_ERROR_STOP=1 -d "${3:-$FX_APP_DB}" <<<"$sql" >/dev/null
}

# rt_ids NAME PREFIX: the message ids of PREFIX that listener NAME
# received, in order, each followed by a space.
rt_ids()
{
	rt_lines "$1" | grep -oE "01M0{17}$2[0-9]{4}" | tr '\n' ' '
}

# rt_expect_ids PREFIX N: the ids rt_post N PREFIX made, in order, as rt_ids prints them.
rt_expect_ids()
{
	local i
	for ((i = 0; i < $2; i++)); do printf '%s ' "$(rt_msg_id "$1" "$i")"; done
}

# rt_notifier_pid: the pid of the app database's notifier (empty: none runs).
rt_notifier_pid()
{
	rt_q "SELECT notifier_pid FROM chatgenius.realtime_status()"
}

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
