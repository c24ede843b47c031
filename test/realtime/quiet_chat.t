#!/usr/bin/env bash
# A quiet chat gets its changes as fast as a busy one.  Most chats are
# quiet: a message, seconds of nothing, another.  The delay a user feels is
# then that of the first change after a pause, not the p50 of a busy run.
#   - after a pause of 3 s the next change arrives within 50 ms (best of
#     three pauses: a busy neighbour can slow one, a fault slows all);
#   - the first change of a database whose notifier is not running yet (a
#     cold start: the worker is forked, connects and prepares its queries)
#     arrives within 50 ms (best of three databases);
#   - the notifier never uses JIT (its planner settings
#     must not make a one-row read look expensive);
#   - a change is not held back by an older transaction that is still open
#     and wrote no change (its xid is in the notifier's snapshot): it
#     arrives within 50 ms of its commit, and so does the change of that
#     older transaction when it commits later, in commit order.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"
# shellcheck source=../lib/rt_lib.sh
. "$top/test/lib/rt_lib.sh"

fx_init realtime-quiet-chat
fx_pg_start
CHANNEL=01C00000000000000000000001
USER0=01A00000000000000000000000
PAUSE_BOUND_MS=50
COLD_BOUND_MS=50

# prepare DB: the extension, a user and a channel in DB; the notifier's
# DEBUG1 lines (JIT's among them) go to the server log.
prepare()
{
	psql -qX -v ON_ERROR_STOP=1 -d "$1" >/dev/null <<SQL
CREATE EXTENSION chatgenius;
ALTER DATABASE "$1" SET log_min_messages = debug1;
INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
VALUES ('$USER0', 'auth0|0', '0@example.com', 'u0', 'User 0');
INSERT INTO chatgenius.channels (id, name, type, created_by) VALUES ('$CHANNEL', 'general', 'public', '$USER0');
SQL
}

# post DB LISTENER: one message in DB; waits for LISTENER to receive it and
# sets delay_ms (receipt time less the time in the message's ULID).
post()
{
	local id
	id=$(psql -qXAt -v ON_ERROR_STOP=1 -d "$1" -c "INSERT INTO chatgenius.messages (channel_id, user_id, content)
		VALUES ('$CHANNEL', '$USER0', 'quiet') RETURNING id") || return 1
	delay_ms=
	fx_wait_for 30 "message $id at $2" rt_count_at_least "$2" 1 "$id" || return 1
	delay_ms=$(rt_lines "$2" | grep -F "$id" | head -1 | perl -ne '
		my @a = split //, "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; my %v; @v{@a} = (0 .. 31);
		my ($us, $id) = /^(\d+)\t\w+\t.*"id" : "(\w{26})"/ or exit 1;
		my $ms = 0; $ms = $ms * 32 + $v{$_} for split //, substr($id, 0, 10);
		printf "%.1f\n", $us / 1000 - $ms;')
}

# best LIST: the smallest number of a space-separated list.
best()
{
	tr ' ' '\n' <<<"$1" | grep . | sort -g | head -1
}

fx_psql -d "$FX_APP_DB" -c 'SELECT 1' >/dev/null
prepare "$FX_APP_DB"
rt_listen a message_change

# ------------------------------------------------- a pause

post "$FX_APP_DB" a || bail_out "the first change never arrived"
delays=
for try in 1 2 3; do
	# The pause is the workload under test: three seconds without a change.
	sleep 3
	post "$FX_APP_DB" a || bail_out "a change after a pause never arrived"
	delays="$delays $delay_ms"
	diag "after a pause of 3 s: $delay_ms ms"
done
pause=$(best "$delays")
cmp_ok "$(printf '%.0f' "$pause")" -le "$PAUSE_BOUND_MS" \
	"the first change after a 3 s pause arrives within $PAUSE_BOUND_MS ms (best of 3: $pause ms;$delays)"

# ------------------------------------------------- a cold start

colds=
for i in 1 2 3; do
	fx_psql -d postgres -c "CREATE DATABASE cold$i" >/dev/null
	prepare "cold$i"
	rt_listen "cold$i" message_change "cold$i"
	log_from=$(stat -c %s "$FX_PG_DIR/server.log")
	post "cold$i" "cold$i" || bail_out "the first change of database cold$i never arrived"
	colds="$colds $delay_ms"
	pid=$(psql -qXAt -d "cold$i" -c 'SELECT notifier_pid FROM chatgenius.realtime_status()')
	jit=$(tail -c +"$((log_from + 1))" "$FX_PG_DIR/server.log" | grep -c "\[$pid\] DEBUG:  .*JIT\|\[$pid\] DEBUG:  time to inline")
	diag "cold start in database cold$i: $delay_ms ms (notifier $pid, $jit JIT lines)"
	rt_stop_listener "cold$i"
	is "$jit" 0 "the notifier of cold$i used no JIT"
done
cold=$(best "$colds")
cmp_ok "$(printf '%.0f' "$cold")" -le "$COLD_BOUND_MS" \
	"the first change of a database arrives within $COLD_BOUND_MS ms of a cold start (best of 3: $cold ms;$colds)"

# ------------------------------------------------- an older transaction

# A transaction with an older xid than the change, open, that wrote no
# change (a table of its own): the notifier's snapshot lists it in progress.
fx_psql -d "$FX_APP_DB" -c 'CREATE TABLE public.other (x int)' >/dev/null
mkfifo "$FX_DIR/older.in"
fx_bg "$FX_DIR/older.log" psql -qXAt -v ON_ERROR_STOP=1 -d "$FX_APP_DB" -f "$FX_DIR/older.in"
older_pid=$FX_BG_PID
exec 7>"$FX_DIR/older.in"
echo "BEGIN; INSERT INTO public.other VALUES (1); SELECT 'older', pg_current_xact_id();" >&7
fx_wait_for 20 "the older transaction" grep -q '^older' "$FX_DIR/older.log"
ok $? "an older transaction with an xid is open ($(grep '^older' "$FX_DIR/older.log"))"
post "$FX_APP_DB" a || bail_out "a change behind the older transaction never arrived"
newer=$delay_ms
cmp_ok "$(printf '%.0f' "$newer")" -le "$PAUSE_BOUND_MS" \
	"a change committed while an older transaction is open arrives within $PAUSE_BOUND_MS ms ($newer ms)"
# Now the older transaction writes a change and commits: it arrives too,
# after the newer one (its commit came later).
echo "INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$CHANNEL', '$USER0', 'older'); COMMIT; SELECT 'committed';" >&7
fx_wait_for 20 "the older transaction's commit" grep -q '^committed' "$FX_DIR/older.log"
older_id=$(rt_q "SELECT id FROM chatgenius.messages WHERE content = 'older'")
fx_wait_for 30 "the older transaction's change" rt_count_at_least a 1 "$older_id"
ok $? "the older transaction's change arrives once it commits"
last=$(rt_lines a | tail -1 | grep -c "$older_id")
is "$last" 1 "in commit order: after the newer transaction's change"
exec 7>&-
wait "$older_pid" 2>/dev/null

rt_stop_listener a
done_testing
