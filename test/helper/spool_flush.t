#!/usr/bin/env bash
# The event spool leaves the liveness path: 10,000 spooled events (left by an
# earlier run, with details full of quotes, backslashes, braces, commas and
# escaped tabs and newlines) reach chatgenius.tunnel_events in a few
# statements, one per batch (counted by the helper and in the server's own
# statement log), in order, byte-exact, with no health check failing; an
# event the database can never take is discarded alone, the rest of its
# batch kept.
#
#   prove test/helper/spool_flush.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin spoolflush
app_install_extension
mkdir -p "$FX_DIR/state"
chmod 700 "$FX_DIR/state"

# spool_path NAME: the spool file of tunnel NAME (spool.c's name: the name
# with unsafe characters replaced, plus its FNV-1a hash).
spool_path()
{
	perl -e '
		my $n = shift; my $h = 2166136261;
		for my $c (unpack("C*", $n)) { $h = (($h ^ $c) * 16777619) % 4294967296; }
		(my $s = $n) =~ s/[^0-9A-Za-z.-]/_/g;
		printf "%s/%s-%08x.spool\n", shift, $s, $h;' "$1" "$FX_DIR/state"
}

# write_spool NAME N [BAD_AT]: N pool_full events spooled by an "earlier
# run" (key old-<i>, one microsecond apart, detail with every character
# that needs quoting); event BAD_AT gets an impossible date.
write_spool()
{
	perl -e '
		my ($n, $bad) = @ARGV;
		for my $i (1 .. $n) {
			my $us = sprintf("%06d", $i % 1000000);
			my $t = $i == $bad ? "2026-13-45 25:61:61.000000+00" : "2026-11-26 10:00:00.$us+00";
			my $d = qq(refused=$i note="q\\\\"uo{te},x\\\\y\\tz\\n end);
			print "v1\told-$i\t$t\tpool_full\t$d\n";
		}' "$2" "${3:-0}" >"$(spool_path "$1")"
	chmod 600 "$(spool_path "$1")"
}

count_rows()
{
	app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = '$1' AND event_key LIKE 'old-%'"
}
rows_are()
{
	[ "$(count_rows "$1")" = "$2" ]
}

# ---------------------------------------------------------------- 10,000 events
write_spool bulk 10000
fx_psql -d "$FX_APP_DB" -c "ALTER ROLE \"$FX_APP_USER\" SET log_statement = 'all'"
log_before=$(wc -l <"$FX_PG_DIR/server.log")
t0=$(date +%s%N)
app_start bulk TUNNEL_SPOOL_MAX=20000 SSH_HEALTH_CHECK_INTERVAL=1000 TUNNEL_LOG_LEVEL=debug
fx_wait_for 60 "10,000 rows" rows_are bulk 10000
ok $? "bulk: 10,000 spooled events reach tunnel_events"
ms=$((($(date +%s%N) - t0) / 1000000))
statements=$(grep 'msg=events_flushed ' "$FX_DIR/bulk.log" | grep -oE 'statements=[0-9]+' |
	cut -d= -f2 | awk '{s += $1} END {print s + 0}')
server=$(tail -n +"$((log_before + 1))" "$FX_PG_DIR/server.log" | grep -c 'unnest(\$2::text\[\]')
single=$(tail -n +"$((log_before + 1))" "$FX_PG_DIR/server.log" |
	grep 'report_event(\$1, \$2, \$3' | grep -vc unnest)
diag "bulk: 10,000 events in $statements statements (server log: $server batch statements, $single single-event statements), ${ms} ms from the helper's start"
cmp_ok "$statements" -le 12 "bulk: in a few statements (the helper counts $statements)"
cmp_ok "$server" -le 12 "bulk: the server's statement log agrees ($server batch statements)"
is "$single" 0 "bulk: no statement per event"
is "$(app_sql "SELECT count(*) FROM (SELECT event_key, lag(occurred_at) OVER (ORDER BY id) > occurred_at AS back
	FROM chatgenius.tunnel_events WHERE tunnel_name = 'bulk' AND event_key LIKE 'old-%') s WHERE back")" 0 \
	"bulk: written in spool order (ids follow occurred_at)"
# The detail as the spool decodes it: q\"uo{te},x\y<tab>z<newline> end
want_detail='format(E'"'"'refused=%s note="q\\"uo{te},x\\y\tz\n end'"'"', substr(event_key, 5))'
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'bulk' AND event_key LIKE 'old-%'
	AND detail IS DISTINCT FROM $want_detail")" 0 \
	"bulk: every detail byte-exact (quotes, backslashes, braces, commas, tabs, newlines)"
is "$(app_log_count bulk 'event=health_check_failed ')" 0 "bulk: no health check failed meanwhile"
fx_wait_for 10 "spool empty" test ! -s "$(spool_path bulk)"
ok $? "bulk: the spool file is empty afterwards"
lost=$((10000 - $(count_rows bulk)))
diag "reliability: rows_lost=$lost"
kill -TERM "$APP_PID"
app_wait_exit "$APP_PID" 15
is "$APP_RC" 0 "bulk: exit 0"
fx_psql -d "$FX_APP_DB" -c "ALTER ROLE \"$FX_APP_USER\" RESET log_statement"

# ---------------------------------------------------------------- one bad event in a batch
tl_section
write_spool onebad 5 3
app_start onebad SSH_HEALTH_CHECK_INTERVAL=1000
fx_wait_for 20 "4 rows" rows_are onebad 4
ok $? "onebad: the four good events of the batch are written"
like "$(grep -m1 'msg=event_discarded ' "$FX_DIR/onebad.log")" 'key=old-3 ' "onebad: the bad one is discarded, with a warning"
is "$(app_sql "SELECT string_agg(event_key, ',' ORDER BY id) FROM chatgenius.tunnel_events
	WHERE tunnel_name = 'onebad' AND event_key LIKE 'old-%'")" "old-1,old-2,old-4,old-5" "onebad: in order"
kill -TERM "$APP_PID"
app_wait_exit "$APP_PID" 15
is "$APP_RC" 0 "onebad: exit 0"
tl_input unstorable_event

for name in bulk onebad; do
	is "$(grep -E 'AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer' "$FX_DIR/$name.log" | head -3)" "" \
		"$name: no sanitizer report in the helper's log"
done

done_testing
