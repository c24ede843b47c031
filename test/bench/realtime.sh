#!/usr/bin/env bash
# Benchmark (not part of the test suite): the chat workload's write path
# with real-time delivery, against bare tables, in one run.
#
# Each transaction is one of: posting a message (a fifth are thread
# replies), a reaction, a read marker (upsert), a channel's history page or
# a thread page; ten reads per write.  At 1, 4 and 16 writers (pgbench
# clients) it runs, one after the other:
#   bare    the same tables (columns, defaults, checks, indexes, foreign
#           keys) without any trigger, in schema bare;
#   on      the extension, chatgenius.realtime = on: outbox and notifier;
#   direct  the extension, chatgenius.realtime = direct: NOTIFY in the
#           writing transaction (the C triggers);
#   v1.2    the extension at version 1.2, in another database: today's
#           PL/pgSQL triggers with NOTIFY in the writing transaction;
#   off     the extension, chatgenius.realtime = off: no notification;
#   norules the extension as on, with the rule triggers of messages
#           disabled for the run (1.11: messages_rules and the statement-end
#           messages_thread_rules; 1.10: messages_rules; before it
#           messages_check_thread, messages_refuse_archived and
#           messages_set_updated_at): what the rules cost;
#   held    the extension as on, with a transaction held open (it has an
#           xid, so it holds back vacuum and every snapshot's xmin) from
#           before the run to after it: the outbox's dead rows pile up.
#   logical capture through logical decoding instead of the outbox, as a
#           prototype: the writers run with chatgenius.realtime = off (no
#           outbox row), a slot (test_decoding) is made before the run,
#           and a session reads it every 2 ms (pg_logical_slot_get_changes),
#           builds each message's and reaction's payload from the decoded
#           row and sends it with NOTIFY, one transaction per read, until
#           the listener has every change.  Needs WAL_LEVEL=logical, which
#           the whole run then uses (every target, bare included).
#   decode  what decoding alone costs: the writers as in logical, and
#           pg_recvlogical streams the slot (test_decoding, a C plugin, in
#           a walsender) to /dev/null until it has confirmed all the WAL
#           the run wrote; nothing is sent.
# Each round runs every target at every writer count, so the ratios of a
# round are measured side by side; ROUNDS rounds interleave.  A listener on
# each database counts what arrives.  Printed per writer count and target:
# write transactions per second (median), its ratio to bare's median and
# each round's ratio to the bare run of the same round (min-max); the
# server's CPU per transaction (every process of the cluster, the notifier
# and the listener's backend included, from /proc); the delivery delay
# (p50, and p99 of every round: receive time minus the ULID time of the
# row); whether every committed change arrived exactly once; and how many
# runs were busy (other work took over OTHER_BUSY_PCT, 20, percent of a
# core).  Then where the delay is spent, per run: each change's commit time
# (track_commit_timestamp), the notifier's batch snapshot, its read and the
# commit of its NOTIFYs (the notifier's DEBUG1 trace) and the listener's
# receipt, joined by xid (realtime_stages.pl).
#
# Commits are durable as in production (synchronous_commit = on; the
# fixture's cluster has fsync off, the disk being shared).  MIX=post runs
# message posts alone, as the issue's first measurement did.
#
#   make install && bash test/bench/realtime.sh [SECONDS] [ROUNDS] [TARGETS]
#   (defaults: 8 s per run, 1 round, "bare on direct v1.2 off"; add held,
#    norules;
#    environment: WRITERS="1 4 16", MIX=chat|post, SYNC_COMMIT=on|off,
#    BATCH_DELAY=ms for chatgenius.realtime_batch_delay, RAW=DIR to keep
#    the raw results, the listener's log and the server log,
#    WAL_LEVEL=replica|logical)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$TOP/test/lib/fixture.sh"
# shellcheck source=../lib/rt_lib.sh
. "$TOP/test/lib/rt_lib.sh"
# shellcheck source=../lib/cpu.sh
. "$TOP/test/lib/cpu.sh"

SECS=${1:-8}
ROUNDS=${2:-1}
TARGETS=${3:-bare on direct v1.2 off}
WRITERS=${WRITERS:-1 4 16}
PGBENCH=${PGBENCH:-$(pg_config --bindir)/pgbench}
MIX=${MIX:-chat}
SYNC_COMMIT=${SYNC_COMMIT:-on}

OTHER_BUSY_PCT=${OTHER_BUSY_PCT:-20}

fx_init bench-realtime
fx_pg_start
# Each change's commit time (track_commit_timestamp), for where its delay
# is spent; the same settings for every path.
WAL_LEVEL=${WAL_LEVEL:-replica}
case " $TARGETS " in
*" logical "* | *" decode "*) [ "$WAL_LEVEL" = logical ] || fx_die "the logical and decode targets need WAL_LEVEL=logical" ;;
esac
printf 'track_commit_timestamp = on\nwal_level = %s\n' "$WAL_LEVEL" >>"$FX_PG_DIR/data/postgresql.conf"
fx_pg_stop
fx_pg_start_again
DB=$FX_APP_DB
DB12=bench12
PM_PID=$(head -1 "$FX_PG_DIR/data/postmaster.pid")

# seed DB SCHEMA: 100 users, 50 channels, 1000 top-level messages (20 per
# channel; message m is in channel (m - 1) % 50 + 1).
seed()
{
	fx_psql -d "$1" <<-EOF
		INSERT INTO $2.users (id, auth0_id, email, username, full_name)
		SELECT '01A' || lpad(i::text, 23, '0'), 'auth0|' || i, i || '@example.com', 'u' || i, 'User ' || i
		  FROM generate_series(1, 100) i;
		INSERT INTO $2.channels (id, name, type, created_by)
		SELECT '01C' || lpad(i::text, 23, '0'), 'channel ' || i, 'public', '01A' || lpad(i::text, 23, '0')
		  FROM generate_series(1, 50) i;
		INSERT INTO $2.messages (id, channel_id, user_id, content, created_at)
		SELECT '01M' || lpad(m::text, 23, '0'), '01C' || lpad(((m - 1) % 50 + 1)::text, 23, '0'),
			'01A' || lpad(((m - 1) % 100 + 1)::text, 23, '0'), 'seed message ' || m,
			now() - interval '1 day' + m * interval '1 second'
		  FROM generate_series(1, 1000) m;
		ANALYZE;
	EOF
}

fx_psql -d "$DB" -c 'CREATE EXTENSION chatgenius' >/dev/null
# The notifier's trace (a DEBUG1 line per notifier transaction: its
# snapshot, read and NOTIFY times and the xids it sent).
fx_psql -d "$DB" -c "ALTER DATABASE $DB SET log_min_messages = debug1" >/dev/null
if [ -n "${BATCH_DELAY:-}" ]; then
	fx_psql -d postgres -c "ALTER SYSTEM SET chatgenius.realtime_batch_delay = '${BATCH_DELAY}ms'" \
		-c 'SELECT pg_reload_conf()' >/dev/null
fi
fx_psql -d postgres -c "CREATE DATABASE $DB12" >/dev/null
fx_psql -d "$DB12" -c "CREATE EXTENSION chatgenius VERSION '1.2'" >/dev/null
# The bare tables: LIKE ... INCLUDING ALL copies columns, defaults, checks
# and indexes; the foreign keys are added as the extension has them.
fx_psql -d "$DB" >/dev/null <<-'EOF'
	CREATE SCHEMA bare;
	CREATE SCHEMA bench;
	CREATE TABLE bare.users (LIKE chatgenius.users INCLUDING ALL);
	CREATE TABLE bare.channels (LIKE chatgenius.channels INCLUDING ALL,
		FOREIGN KEY (created_by) REFERENCES bare.users (id));
	CREATE TABLE bare.messages (LIKE chatgenius.messages INCLUDING ALL,
		FOREIGN KEY (channel_id) REFERENCES bare.channels (id) ON DELETE CASCADE,
		FOREIGN KEY (user_id) REFERENCES bare.users (id),
		FOREIGN KEY (thread_id) REFERENCES bare.messages (id) ON DELETE CASCADE);
	CREATE TABLE bare.reactions (LIKE chatgenius.reactions INCLUDING ALL,
		FOREIGN KEY (message_id) REFERENCES bare.messages (id) ON DELETE CASCADE,
		FOREIGN KEY (user_id) REFERENCES bare.users (id) ON DELETE CASCADE);
	CREATE TABLE bare.message_reads (LIKE chatgenius.message_reads INCLUDING ALL,
		FOREIGN KEY (user_id) REFERENCES bare.users (id) ON DELETE CASCADE,
		FOREIGN KEY (channel_id) REFERENCES bare.channels (id) ON DELETE CASCADE,
		FOREIGN KEY (last_read_message_id) REFERENCES bare.messages (id) ON DELETE CASCADE);
EOF
# The logical target's reader: reads the slot every 2 ms and sends each
# decoded message and reaction insert as its payload would be, until
# bench.stop has a row.
fx_psql -d "$DB" >/dev/null <<-'EOF'
	CREATE TABLE bench.stop (at timestamptz);
	CREATE FUNCTION bench.col(data text, col text) RETURNS text LANGUAGE sql IMMUTABLE AS
	$$SELECT substring(data FROM ' ' || col || '\[[^]]*\]:''([^'']*)''')$$;
	CREATE PROCEDURE bench.logical_notifier() LANGUAGE plpgsql AS $$
	BEGIN
		LOOP
			PERFORM pg_notify(CASE WHEN data LIKE 'table chatgenius.messages:%' THEN 'message_change'
					ELSE 'reaction_change' END,
				CASE WHEN data LIKE 'table chatgenius.messages:%' THEN
					json_build_object('operation', 'INSERT', 'table', 'messages', 'id', bench.col(data, 'id'),
						'channel_id', bench.col(data, 'channel_id'), 'thread_id', bench.col(data, 'thread_id'),
						'user_id', bench.col(data, 'user_id'), 'deleted', false)::text
				ELSE
					json_build_object('operation', 'INSERT', 'table', 'reactions', 'id', bench.col(data, 'id'),
						'message_id', bench.col(data, 'message_id'), 'user_id', bench.col(data, 'user_id'),
						'emoji', bench.col(data, 'emoji'))::text
				END)
			  FROM pg_logical_slot_get_changes('bench', NULL, NULL)
			 WHERE data LIKE 'table chatgenius.messages: INSERT:%'
				OR data LIKE 'table chatgenius.reactions: INSERT:%';
			COMMIT;
			EXIT WHEN EXISTS (SELECT FROM bench.stop);
			PERFORM pg_sleep(0.002);
		END LOOP;
	END $$;
EOF
seed "$DB" chatgenius >/dev/null
seed "$DB" bare >/dev/null
seed "$DB12" chatgenius >/dev/null
fx_psql -d "$DB" -c "SELECT count(*) FROM chatgenius.realtime_outbox" >/dev/null

# scripts SCHEMA DIR: the workload's pgbench scripts for SCHEMA; writes are
# w_*.sql, reads r_*.sql.
scripts()
{
	local s=$1 d=$2
	mkdir -p "$d"
	local user="'01A' || lpad(:u::text, 23, '0')"
	local msg="'01M' || lpad(:m::text, 23, '0')"
	local chan="'01C' || lpad(((:m - 1) % 50 + 1)::text, 23, '0')"
	cat >"$d/w_post.sql" <<-EOF
		\set u random(1, 100)
		\set m random(1, 1000)
		\set reply random(1, 5)
		\if :reply = 1
		INSERT INTO $s.messages (channel_id, user_id, content, thread_id)
		VALUES ($chan, $user, 'a reply in the thread', $msg);
		\else
		INSERT INTO $s.messages (channel_id, user_id, content)
		VALUES ($chan, $user, 'hello everyone, this is a chat message of ordinary length');
		\endif
	EOF
	cat >"$d/w_reaction.sql" <<-EOF
		\set u random(1, 100)
		\set m random(1, 1000)
		\set e random(1, 8)
		INSERT INTO $s.reactions (message_id, user_id, emoji)
		VALUES ($msg, $user, 'emoji' || :e::text) ON CONFLICT DO NOTHING;
	EOF
	cat >"$d/w_read_marker.sql" <<-EOF
		\set u random(1, 100)
		\set m random(1, 1000)
		INSERT INTO $s.message_reads (user_id, channel_id, last_read_message_id)
		VALUES ($user, $chan, $msg)
		ON CONFLICT (user_id, channel_id) DO UPDATE SET last_read_message_id = excluded.last_read_message_id;
	EOF
	cat >"$d/r_history.sql" <<-EOF
		\set m random(1, 1000)
		SELECT id, user_id, content, created_at FROM $s.messages
		 WHERE channel_id = $chan AND thread_id IS NULL AND deleted_at IS NULL
		 ORDER BY created_at DESC, id DESC LIMIT 50;
	EOF
	cat >"$d/r_thread.sql" <<-EOF
		\set m random(1, 1000)
		SELECT id, user_id, content, created_at FROM $s.messages
		 WHERE thread_id = $msg ORDER BY created_at, id LIMIT 50;
	EOF
}
scripts bare "$FX_DIR/bare"
scripts chatgenius "$FX_DIR/ext"

rt_listen main message_change,reaction_change,channel_member_change,user_status_change "$DB"
rt_listen v12 message_change,reaction_change,channel_member_change,user_status_change "$DB12"

# changes DB SCHEMA: the rows whose insert notifies (messages, reactions).
changes()
{
	psql -qXAt -d "$1" -c "SELECT (SELECT count(*) FROM $2.messages) + (SELECT count(*) FROM $2.reactions)"
}

lines()
{
	rt_lines "$1" | wc -l
}

# hold_open: a transaction with an xid, left open (in the background) until
# release_held; returns once it holds.
hold_open()
{
	fx_bg "$FX_DIR/held.log" psql -qX -d "$DB" -c "BEGIN" -c "CREATE TEMP TABLE held (x int)" \
		-c "SELECT pg_sleep(3600)"
	HELD_PID=$FX_BG_PID
	fx_wait_for 20 "the held-open transaction" held_is_open || fx_die "could not hold a transaction open"
}
held_is_open()
{
	[ "$(psql -qXAt -d "$DB" -c "SELECT count(*) FROM pg_stat_activity
		WHERE query = 'SELECT pg_sleep(3600)' AND backend_xid IS NOT NULL")" = 1 ]
}
release_held()
{
	kill -TERM "$HELD_PID" 2>/dev/null
	wait "$HELD_PID" 2>/dev/null || true
	psql -qXAt -d "$DB" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query = 'SELECT pg_sleep(3600)'" >/dev/null
}

# rule_triggers ENABLE|DISABLE: every BEFORE trigger of chatgenius.messages,
# and the rules' AFTER trigger.
rule_triggers()
{
	fx_psql -d "$DB" -c "DO \$\$DECLARE t name; BEGIN
		FOR t IN SELECT tgname FROM pg_trigger WHERE tgrelid = 'chatgenius.messages'::regclass
			AND NOT tgisinternal AND (tgtype & 2 <> 0 OR tgname = 'messages_thread_rules') LOOP
			EXECUTE format('ALTER TABLE chatgenius.messages $1 TRIGGER %I', t);
		END LOOP; END\$\$" >/dev/null
}

# run TARGET WRITERS: one pgbench run; appends a result line to $FX_DIR/results.
run()
{
	local target=$1 n=$2 db=$DB schema=chatgenius dir=$FX_DIR/ext listener=main opts=
	case $target in
	bare) schema=bare dir=$FX_DIR/bare listener= ;;
	on) ;;
	direct) opts='-c chatgenius.realtime=direct' ;;
	off) opts='-c chatgenius.realtime=off' ;;
	v1.2) db=$DB12 listener=v12 ;;
	norules) rule_triggers DISABLE ;;
	held) hold_open ;;
	logical) opts='-c chatgenius.realtime=off' ;;
	decode) opts='-c chatgenius.realtime=off' listener= ;;
	esac
	local mix
	case $MIX in
	chat) mix="-f $dir/w_post.sql@2 -f $dir/w_reaction.sql@1 -f $dir/w_read_marker.sql@1
		-f $dir/r_history.sql@20 -f $dir/r_thread.sql@20" ;;
	post) mix="-f $dir/w_post.sql" ;;
	*) fx_die "MIX must be chat or post" ;;
	esac
	local before_rows before_lines after_rows expected log=$FX_DIR/pgbench-$target-$n.log
	local log_from t_start m0 b0 t0ns c0
	fx_psql -d "$db" -c CHECKPOINT >/dev/null
	before_rows=$(changes "$db" "$schema")
	before_lines=0
	[ -n "$listener" ] && before_lines=$(lines "$listener")
	log_from=$(stat -c %s "$FX_PG_DIR/server.log")
	t_start=$(psql -qXAt -d "$db" -c "SELECT now()")
	[ "$target" = logical ] && logical_start
	[ "$target" = decode ] && decode_start
	m0=$(cpu_machine_ticks) b0=$(bench_ticks) t0ns=$(date +%s%N) c0=$(cpu_tree_ticks "$PM_PID")
	local n0
	n0=$(notifier_ticks)
	# shellcheck disable=SC2086
	PGOPTIONS="-c synchronous_commit=$SYNC_COMMIT $opts" "$PGBENCH" -n -M prepared -d "$db" -c "$n" \
		-j "$((n < 2 ? 1 : 2))" -T "$SECS" $mix >"$log" 2>&1 ||
		fx_die "pgbench failed: $(tail -5 "$log")"
	[ "$target" = norules ] && rule_triggers ENABLE
	[ "$target" = held ] && release_held
	after_rows=$(changes "$db" "$schema")
	expected=$((after_rows - before_rows))
	# write tps: the sum of the w_ scripts' tps.
	local wtps
	if [ "$MIX" = post ]; then
		wtps=$(awk '/^tps = / {printf "%.0f", $3}' "$log")
	else
		wtps=$(awk '/^SQL script [0-9]+:/ {w = ($0 ~ /\/w_/)} w && /tps = / {
			sub(/.*tps = /, ""); sub(/\).*/, ""); s += $0} END {printf "%.0f", s}' "$log")
	fi
	local exactly=n/a p50=- p99=- got=- txns
	txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
	if [ "$target" = off ]; then
		got=$(($(lines main) - before_lines))
		exactly=$([ "$got" -eq 0 ] && echo "none sent" || echo "NO: $got sent")
	elif [ -n "$listener" ]; then
		fx_wait_for 120 "$expected changes at the listener" \
			rt_count_at_least "$listener" "$((before_lines + expected))" || true
		local stats
		stats=$(perl "$HERE/realtime_delay.pl" "$FX_DIR/$listener.log" "$((before_lines + 1))")
		got=$(awk '$1 == "received" {print $2}' <<<"$stats")
		p50=$(awk '$1 == "p50" {print $2}' <<<"$stats")
		p99=$(awk '$1 == "p99" {print $2}' <<<"$stats")
		if [ "$got" -eq "$expected" ] && [ "$(awk '$1 == "duplicates" {print $2}' <<<"$stats")" -eq 0 ]; then
			exactly=yes
		else
			exactly="NO ($got of $expected)"
		fi
	fi
	[ "$target" = logical ] && logical_stop
	[ "$target" = decode ] && decode_stop
	# The server's CPU (every process of the cluster, the notifier and the
	# listener's backend included, up to the last change received) per
	# transaction, once the writers' backends are gone; and what other
	# work took meanwhile.
	# The notifier's share is read first: it exits 2 s after its last batch.
	local cpu ncpu other busy=0 m1 b1
	ncpu=$(cpu_us_per "$(notifier_ticks_since "$n0")" "$txns")
	fx_wait_for 30 "the writers' backends to exit" writers_gone "$db" || true
	m1=$(cpu_machine_ticks) b1=$(bench_ticks)
	cpu=$(cpu_us_per $(($(cpu_tree_ticks "$PM_PID") - c0)) "$txns")
	other=$(cpu_other_pct "$m0" "$m1" "$b0" "$b1" $(($(date +%s%N) - t0ns)))
	[ "$other" -gt "$OTHER_BUSY_PCT" ] && busy=1
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$target" "$wtps" "$p50" "$p99" \
		"$expected" "$exactly" "$round" "$cpu" "$other" "$busy" "$ncpu" >>"$FX_DIR/results"
	[ -n "$listener" ] && [ "$target" != off ] && [ "$target" != logical ] &&
		stages "$db" "$schema" "$t_start" "$listener" "$((before_lines + 1))" "$log_from" "$n" "$target"
	fx_log "$n writers, $target: $wtps write tps, server CPU $cpu µs per transaction (notifier $ncpu), delay p50 $p50 ms p99 $p99 ms, $expected changes, exactly once: $exactly, other work ${other}% of a core"
}

# logical_start: a fresh slot (so that no earlier run's WAL is decoded)
# and its reader in the background.
logical_start()
{
	fx_psql -d "$DB" -c "DELETE FROM bench.stop" \
		-c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'bench'" \
		-c "SELECT pg_create_logical_replication_slot('bench', 'test_decoding')" >/dev/null
	fx_bg "$FX_DIR/logical.log" psql -qX -v ON_ERROR_STOP=1 -d "$DB" -c "CALL bench.logical_notifier()"
	LOGICAL_PID=$FX_BG_PID
}

# logical_stop: the reader stops after its next read.
logical_stop()
{
	fx_psql -d "$DB" -c "INSERT INTO bench.stop VALUES (now())" >/dev/null
	wait "$LOGICAL_PID" || fx_die "the logical reader failed: $(tail -3 "$FX_DIR/logical.log")"
}

# notifier_ticks: "PID TICKS" of each of the cluster's notifiers.
notifier_ticks()
{
	local p
	for p in $(pgrep -P "$PM_PID" -f 'chatgenius notifier( for database|$)'); do
		echo "$p $(cpu_ticks "$p")"
	done
}

# notifier_ticks_since BEFORE: the ticks the notifiers took since BEFORE
# (notifier_ticks' output): a notifier started since counts whole, one
# that exited since is not counted.
notifier_ticks_since()
{
	awk 'NR == FNR {t0[$1] = $2; next} {s += $2 - t0[$1]} END {print s + 0}' \
		<(echo "$1") <(notifier_ticks)
}

# decode_start: a fresh slot streamed by pg_recvlogical (test_decoding, a
# C plugin, in a walsender) to /dev/null: what decoding alone costs.
decode_start()
{
	fx_psql -d "$DB" -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'bench'" \
		-c "SELECT pg_create_logical_replication_slot('bench', 'test_decoding')" >/dev/null
	fx_bg "$FX_DIR/decode.log" "$(pg_config --bindir)/pg_recvlogical" -d "$DB" -S bench --start \
		-F 1 -s 1 -f /dev/null
	DECODE_PID=$FX_BG_PID
}

# decode_stop: stops pg_recvlogical once it has confirmed the WAL written so far.
decode_stop()
{
	local lsn
	lsn=$(psql -qXAt -d "$DB" -c "SELECT pg_current_wal_lsn()")
	fx_wait_for 120 "decoding to catch up" decoded_to "$lsn" || true
	kill -INT "$DECODE_PID" 2>/dev/null
	wait "$DECODE_PID" 2>/dev/null || true
}
decoded_to()
{
	[ "$(psql -qXAt -d "$DB" -c "SELECT confirmed_flush_lsn >= '$1' FROM pg_replication_slots WHERE slot_name = 'bench'")" = t ]
}

# writers_gone DB: true when no pgbench session is left in DB.
writers_gone()
{
	[ "$(psql -qXAt -d "$1" -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgbench'")" = 0 ]
}

# bench_ticks: every tick the bench's own processes have taken so far
# (this shell and its children, the cluster with its reaped children).
bench_ticks()
{
	cpu_tree_ticks $$ "$PM_PID"
}

# stages DB SCHEMA SINCE LISTENER FROM_LINE LOG_FROM N TARGET: where the
# delay of this run's changes was spent (realtime_stages.pl); appends a line
# to $FX_DIR/stages.
stages()
{
	local db=$1 schema=$2 since=$3 listener=$4 from=$5 log_from=$6 n=$7 target=$8
	psql -qXAt -F $'\t' -d "$db" -c "
		SELECT id, xmin, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1e6)::bigint
		  FROM $schema.messages WHERE created_at >= '$since'
		UNION ALL
		SELECT id, xmin, (extract(epoch FROM pg_xact_commit_timestamp(xmin)) * 1e6)::bigint
		  FROM $schema.reactions WHERE created_at >= '$since'" >"$FX_DIR/commits"
	perl "$HERE/realtime_stages.pl" "$FX_DIR/commits" "$FX_DIR/$listener.log" "$from" \
		"$FX_PG_DIR/server.log" "$log_from" >"$FX_DIR/stages.out"
	awk -v n="$n" -v t="$target" -v r="$round" '
		$1 == "stage" {s = s "\t" $2 "=" $3 "/" $4 "/" $5}
		$1 == "passed_over" || $1 == "matched" || $1 == "slow_woken_by" {s = s "\t" $1 "=" $2}
		END {print n "\t" t "\t" r s}' "$FX_DIR/stages.out" >>"$FX_DIR/stages"
}

: >"$FX_DIR/results"
: >"$FX_DIR/stages"
for ((round = 1; round <= ROUNDS; round++)); do
	for n in $WRITERS; do
		for target in $TARGETS; do
			run "$target" "$n"
		done
	done
done

# The table: per writer count and path, the median write tps over the
# rounds and its ratio to bare's median, with each round's ratio to the
# bare run of the same round beside it (min-max); the server's CPU per
# transaction (median); the median p50 and every round's p99; the changes
# of all rounds; exactly once if every round was; the runs during which
# other work took over OTHER_BUSY_PCT of a core.
echo
if [ "$MIX" = post ]; then
	echo "message posts only, ${SECS} s per run, ${ROUNDS} interleaved round(s), $(nproc) cores, synchronous_commit=$SYNC_COMMIT"
else
	echo "chat workload, ${SECS} s per run, ${ROUNDS} interleaved round(s), $(nproc) cores, synchronous_commit=$SYNC_COMMIT; writes: message 2, reaction 1, read marker 1; reads: history 20, thread 20"
fi
echo
echo "| writers | path | write tps | ratio to bare | per round (min-max) | server CPU µs/txn (notifier) | delivery p50 ms | p99 ms per round | changes | exactly once | busy |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
perl -e '
	my (%rows, @order, %seen, %bare_round);
	while (<STDIN>) {
		chomp;
		my @f = split /\t/;
		my $k = "$f[0]\t$f[1]";
		push @order, $k unless $seen{$k}++;
		push @{$rows{$k}}, \@f;
		$bare_round{"$f[0]\t$f[7]"} = $f[2] if $f[1] eq "bare";
	}
	sub median {
		my @v = sort { $a <=> $b } grep { $_ ne "-" } @_;
		return "-" unless @v;
		return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
	}
	my %bare;
	for my $k (@order) {
		my ($n, $t) = split /\t/, $k;
		$bare{$n} = median(map { $_->[2] } @{$rows{$k}}) if $t eq "bare";
	}
	for my $k (@order) {
		my ($n, $t) = split /\t/, $k;
		my @r = @{$rows{$k}};
		my $tps = median(map { $_->[2] } @r);
		my $ratio = $bare{$n} ? sprintf("%.2f", $tps / $bare{$n}) : "-";
		my @per = map { $bare_round{"$n\t$_->[7]"} ? $_->[2] / $bare_round{"$n\t$_->[7]"} : () } @r;
		my @sp = sort { $a <=> $b } @per;
		my $per = @per ? join(" ", map { sprintf "%.2f", $_ } @per) . sprintf(" (%.2f-%.2f)", $sp[0], $sp[-1]) : "-";
		my $p50 = median(map { $_->[3] } @r);
		my $p99 = join(" ", map { $_->[4] } @r);
		my $changes = 0;
		$changes += $_->[5] for @r;
		my @ex = map { $_->[6] } @r;
		my $ex = (grep { $_ ne $ex[0] } @ex) ? join("; ", @ex) : $ex[0];
		my $busy = grep { $_->[10] } @r;
		printf "| %s | %s | %.0f | %s | %s | %s (%s) | %s | %s | %d | %s | %d/%d |\n", $n, $t, $tps, $ratio, $per,
			median(map { $_->[8] } @r), median(map { $_->[11] } @r), $p50, $p99, $changes, $ex, $busy, scalar @r;
	}' <"$FX_DIR/results"
printf '\nother work during the runs: median %s%% of a core, most %s%%; load average (1 min) now %s\n' \
	"$(awk -F'\t' '{print $10}' "$FX_DIR/results" | sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')" \
	"$(awk -F'\t' '{print $10}' "$FX_DIR/results" | sort -g | tail -1)" "$(cpu_loadavg)"

# Where the delay is spent, per run: each stage's p50 / p99 / median among
# the slowest 1% of changes, in ms: write (insert to commit), to snapshot
# (commit to the notifier's batch snapshot), read (snapshot to the rows
# read), NOTIFY (read to the NOTIFYs committed), listener (to the
# listener's receipt); changes passed over by a snapshot taken over 1 ms
# after their commit; what woke the notifier for the slowest 1%.
if [ -s "$FX_DIR/stages" ]; then
	echo
	echo "where the delivery delay is spent, per run: p50 / p99 / median of the slowest 1%, ms"
	echo
	echo "| writers | path | round | total | write | to snapshot | read | NOTIFY | listener | passed over | slowest 1% woken by |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|"
	awk -F'\t' '{
		delete v
		for (i = 4; i <= NF; i++) {split($i, kv, "="); v[kv[1]] = kv[2]}
		printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s of %s | %s |\n", $1, $2, $3,
			v["total"], v["write"], v["to_snapshot"], v["read"], v["notify"], v["listener"],
			v["passed_over"], v["matched"], v["slow_woken_by"]
	}' "$FX_DIR/stages"
fi
rt_stop_listener main
rt_stop_listener v12
# RAW=DIR keeps the raw material: every run's results and stages, the
# listener's log and the server log with the notifier's trace.
if [ -n "${RAW:-}" ]; then
	mkdir -p "$RAW"
	cp "$FX_DIR/results" "$FX_DIR/stages" "$FX_DIR/main.log" "$FX_PG_DIR/server.log" "$RAW/"
fi
