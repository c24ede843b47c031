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
# A listener on each database counts what arrives.  Printed per run: write
# transactions per second, the ratio to bare at the same writer count, the
# delivery delay (p50, p99: receive time minus the ULID time of the row) and
# whether every committed change arrived exactly once.
#
# Commits are durable as in production (synchronous_commit = on; the
# fixture's cluster has fsync off, the disk being shared).  MIX=post runs
# message posts alone, as the issue's first measurement did.
#
#   make install && bash test/bench/realtime.sh [SECONDS] [ROUNDS] [TARGETS]
#   (defaults: 8 s per run, 1 round, "bare on direct v1.2 off"; add held,
#    norules;
#    environment: WRITERS="1 4 16", MIX=chat|post, SYNC_COMMIT=on|off,
#    BATCH_DELAY=ms for chatgenius.realtime_batch_delay)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$TOP/test/lib/fixture.sh"
# shellcheck source=../lib/rt_lib.sh
. "$TOP/test/lib/rt_lib.sh"

SECS=${1:-8}
ROUNDS=${2:-1}
TARGETS=${3:-bare on direct v1.2 off}
WRITERS=${WRITERS:-1 4 16}
PGBENCH=${PGBENCH:-$(pg_config --bindir)/pgbench}
MIX=${MIX:-chat}
SYNC_COMMIT=${SYNC_COMMIT:-on}

fx_init bench-realtime
fx_pg_start
DB=$FX_APP_DB
DB12=bench12

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
	esac
	local mix
	case $MIX in
	chat) mix="-f $dir/w_post.sql@2 -f $dir/w_reaction.sql@1 -f $dir/w_read_marker.sql@1
		-f $dir/r_history.sql@20 -f $dir/r_thread.sql@20" ;;
	post) mix="-f $dir/w_post.sql" ;;
	*) fx_die "MIX must be chat or post" ;;
	esac
	local before_rows before_lines after_rows expected log=$FX_DIR/pgbench-$target-$n.log
	fx_psql -d "$db" -c CHECKPOINT >/dev/null
	before_rows=$(changes "$db" "$schema")
	before_lines=0
	[ -n "$listener" ] && before_lines=$(lines "$listener")
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
	local exactly=n/a p50=- p99=- got=-
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
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$target" "$wtps" "$p50" "$p99" "$expected" "$exactly" \
		>>"$FX_DIR/results"
	fx_log "$n writers, $target: $wtps write tps, delay p50 $p50 ms p99 $p99 ms, $expected changes, exactly once: $exactly"
}

: >"$FX_DIR/results"
for ((round = 1; round <= ROUNDS; round++)); do
	for n in $WRITERS; do
		for target in $TARGETS; do
			run "$target" "$n"
		done
	done
done

# The table: per writer count and path, the median write tps over the
# rounds and its ratio to bare's median; the median p50 and the highest p99
# of the rounds; the changes of all rounds; exactly once if every round was.
echo
if [ "$MIX" = post ]; then
	echo "message posts only, ${SECS} s per run, ${ROUNDS} round(s), $(nproc) cores, synchronous_commit=$SYNC_COMMIT"
else
	echo "chat workload, ${SECS} s per run, ${ROUNDS} round(s), $(nproc) cores, synchronous_commit=$SYNC_COMMIT; writes: message 2, reaction 1, read marker 1; reads: history 20, thread 20"
fi
echo
echo "| writers | path | write tps | ratio to bare | delivery p50 ms | p99 ms | changes | exactly once |"
echo "|---|---|---|---|---|---|---|---|"
perl -e '
	my (%rows, @order, %seen);
	while (<STDIN>) {
		chomp;
		my @f = split /\t/;
		my $k = "$f[0]\t$f[1]";
		push @order, $k unless $seen{$k}++;
		push @{$rows{$k}}, \@f;
	}
	sub median {
		my @v = sort { $a <=> $b } grep { $_ ne "-" } @_;
		return "-" unless @v;
		return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
	}
	sub highest { my @v = sort { $b <=> $a } grep { $_ ne "-" } @_; return @v ? $v[0] : "-"; }
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
		my $p50 = median(map { $_->[3] } @r);
		my $p99 = highest(map { $_->[4] } @r);
		my $changes = 0;
		$changes += $_->[5] for @r;
		my @ex = map { $_->[6] } @r;
		my $ex = (grep { $_ ne $ex[0] } @ex) ? join("; ", @ex) : $ex[0];
		printf "| %s | %s | %.0f | %s | %s | %s | %d | %s |\n", $n, $t, $tps, $ratio, $p50, $p99, $changes, $ex;
	}' <"$FX_DIR/results"
rt_stop_listener main
rt_stop_listener v12
