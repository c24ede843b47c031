#!/usr/bin/env bash
# The queries file for Debian's prometheus-postgres-exporter
# (sql/chatgenius-postgres-exporter.yaml), run by the real exporter against
# the fixture's cluster: make install puts it beside the extension's
# scripts; the exporter, as user nobody in a folder of its own with a copy of
# the file, connects as a pg_monitor role the way README.Debian sets one up;
# its /metrics carries health() (a state set and a row count per check and
# status), pool_stats(), realtime_status() and the migration version, with
# the values SQL reads; doc/operations.md lists exactly its families;
# promtool check metrics finds nothing to say about them.  Needs root, an installed extension (make install) and the
# prometheus and prometheus-postgres-exporter packages (test/deps.sh).
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"
# shellcheck source=../lib/health_checks.sh
. "$top/test/lib/health_checks.sh"

EXPORTER=${EXPORTER:-prometheus-postgres-exporter}
command -v "$EXPORTER" >/dev/null ||
	bail_out "no $EXPORTER: install prometheus-postgres-exporter (test/deps.sh)"
fx_need promtool

fx_init exporter
fx_pg_start
db=$FX_APP_DB
NEWEST=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$top/chatgenius.control")

# ---------------------------------------------------------------- installed
QUERIES=$(pg_config --sharedir)/extension/chatgenius-postgres-exporter.yaml
ok "$([ -f "$QUERIES" ] && cmp -s "$QUERIES" "$top/sql/chatgenius-postgres-exporter.yaml"; echo $?)" \
	"make install put sql/chatgenius-postgres-exporter.yaml in $(dirname "$QUERIES")"

# ---------------------------------------------------------------- what the metrics should show
# Two tunnels (one connected with pool figures, one failed), a disabled
# trigger (triggers: critical), one change delivered by the notifier.
fx_psql -d "$db" >/dev/null <<SQL
CREATE EXTENSION chatgenius;
CREATE ROLE cg_exporter LOGIN PASSWORD 'exporter-secret' IN ROLE pg_monitor;
INSERT INTO chatgenius.tunnel_status
	(tunnel_name, state, heartbeat_interval_ms, last_heartbeat, pool_size, sessions_open,
	 channels_active, channels_total, clients_waiting, bytes_in, bytes_out, reconnects)
VALUES ('app1', 'connected', 30000, now(), 10, 2, 3, 42, 1, 1000, 2000, 5),
	   ('app2', 'failed', 30000, now(), 4, 0, 0, 7, 0, 0, 0, 3);
ALTER TABLE chatgenius.user_settings DISABLE TRIGGER user_settings_set_updated_at;
INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
VALUES ('01A00000000000000000000000', 'auth0|0', '0@example.com', 'u0', 'User 0');
INSERT INTO chatgenius.channels (id, name, type, created_by)
VALUES ('01C00000000000000000000001', 'general', 'public', '01A00000000000000000000000');
INSERT INTO chatgenius.messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000001', '01A00000000000000000000000', 'hello');
SQL
fx_wait_for 30 "the notifier to deliver the message" \
	fx_output_is t health_sql "SELECT delivered >= 1 FROM chatgenius.realtime_status()"

# ---------------------------------------------------------------- the exporter, as nobody
# Its own folder, with its own copy of the file: it never reads the checkout
# (which may be a clone closed to other users).
EXP_DIR=$FX_DIR/exporter
mkdir "$EXP_DIR"
cp "$QUERIES" "$EXP_DIR/queries.yaml"
chown -R nobody:nogroup "$EXP_DIR"
PORT=$(fx_free_port)
fx_bg "$FX_DIR/exporter.log" env -C "$EXP_DIR" \
	DATA_SOURCE_NAME="postgresql://cg_exporter:exporter-secret@127.0.0.1:$FX_PG_PORT/$db?sslmode=disable" \
	setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
	"$EXPORTER" --web.listen-address="127.0.0.1:$PORT" --extend.query-path="$EXP_DIR/queries.yaml"
EXPORTER_PID=$FX_BG_PID

scrape()
{
	curl -sf --max-time 20 "http://127.0.0.1:$PORT/metrics" >"$FX_DIR/scrape.new" &&
		mv "$FX_DIR/scrape.new" "$FX_DIR/scrape"
}
# has_metrics: a scrape holds the chatgenius families (the exporter
# connects on the first scrape).
has_metrics()
{
	scrape && grep -q '^chatgenius_migration_info{' "$FX_DIR/scrape"
}
fx_wait_for 60 "the exporter's chatgenius metrics" has_metrics
ok $? "the exporter serves /metrics with the chatgenius families" ||
	diag "$(tail -5 "$FX_DIR/exporter.log")"
is "$(stat -c %U /proc/"$EXPORTER_PID")" nobody "the exporter runs as nobody"
is "$(readlink /proc/"$EXPORTER_PID"/cwd)" "$EXP_DIR" "in its own folder"

# value NAME [LABEL=VALUE...]: the value of the one series of NAME with
# these labels (others ignored); empty unless exactly one matches.
value()
{
	local name=$1
	shift
	perl -e '
		my ($name, @want) = @ARGV;
		my @hits;
		open my $f, "<", $ENV{SCRAPE} or die;
		while (<$f>) {
			next unless /^\Q$name\E\{(.*)\} (\S+)$/;
			my ($labels, $v) = ($1, $2);
			my %l = $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
			next if grep { my ($k, $x) = split /=/, $_, 2; ($l{$k} // "\0") ne $x } @want;
			push @hits, $v;
		}
		print $hits[0] if @hits == 1;
	' "$name" "$@"
}
export SCRAPE=$FX_DIR/scrape

# ---------------------------------------------------------------- health()
# Every check of src/health_checks.h: three series of each family, one status
# set, and the one set is the worst status SQL reads.
checks_ok=0
for check in $(health_check_names); do
	want=$(health_sql "SELECT CASE max(CASE status WHEN 'critical' THEN 2 WHEN 'warn' THEN 1 ELSE 0 END)
		WHEN 2 THEN 'critical' WHEN 1 THEN 'warn' ELSE 'ok' END
		FROM chatgenius.health() WHERE check_name = '$check'")
	got=""
	for status in ok warn critical; do
		[ "$(value chatgenius_health_status check_name="$check" status="$status")" = 1 ] && got+="$status"
		[ -n "$(value chatgenius_health_rows check_name="$check" status="$status")" ] || got+="(no rows series for $status)"
	done
	if [ "$got" = "$want" ]; then
		checks_ok=$((checks_ok + 1))
	else
		diag "$check: the scrape says '$got', health() says '$want'"
	fi
done
is "$checks_ok" "$(health_check_names | wc -l)" \
	"chatgenius_health_status: every check, its worst status as health() gives it"
is "$(grep -c '^chatgenius_health_status{' "$SCRAPE")" "$(($(health_check_names | wc -l) * 3))" \
	"chatgenius_health_status: three series per check, no other"
is "$(value chatgenius_health_status check_name=triggers status=critical)" 1 \
	"the disabled trigger: triggers critical"
is "$(value chatgenius_health_rows check_name=tunnel status=critical) $(value chatgenius_health_rows check_name=tunnel status=ok)" \
	"1 1" "chatgenius_health_rows: tunnel has one critical row (app2 failed) and one ok row"
is "$(value chatgenius_health_status check_name=connections status=ok)" 1 "connections ok"

# ---------------------------------------------------------------- pool_stats()
is "$(for m in size sessions_open channels_active clients_waiting channels_total in_bytes_total out_bytes_total reconnects_total; do
	printf '%s=%s ' "$m" "$(value "chatgenius_pool_$m" tunnel_name=app1)"; done)" \
	"size=10 sessions_open=2 channels_active=3 clients_waiting=1 channels_total=42 in_bytes_total=1000 out_bytes_total=2000 reconnects_total=5 " \
	"chatgenius_pool_*: app1's pool_stats() figures"
is "$(value chatgenius_pool_state_current tunnel_name=app1 state=connected) $(value chatgenius_pool_state_current tunnel_name=app1 state=failed)" \
	"1 0" "chatgenius_pool_state_current: app1 connected"
is "$(value chatgenius_pool_state_current tunnel_name=app2 state=failed) $(grep -c '^chatgenius_pool_state_current{.*tunnel_name="app2"' "$SCRAPE")" \
	"1 5" "app2 failed, one series per state"
age=$(value chatgenius_pool_heartbeat_age_seconds tunnel_name=app1)
is "$(health_sql "SELECT '$age'::float8 BETWEEN 0 AND extract(epoch FROM heartbeat_age) FROM chatgenius.pool_stats() WHERE tunnel_name = 'app1'")" t \
	"chatgenius_pool_heartbeat_age_seconds: app1's heartbeat age ($age s)"

# ---------------------------------------------------------------- realtime_status()
is "$(value chatgenius_realtime_preloaded) $(value chatgenius_realtime_notifier_running) $(value chatgenius_realtime_mode_current mode=notifier) $(value chatgenius_realtime_mode_current mode=direct)" \
	"1 1 1 0" "chatgenius_realtime_*: preloaded, the notifier running, mode notifier"
is "$(value chatgenius_realtime_delivered_total)" "$(health_sql 'SELECT delivered FROM chatgenius.realtime_status()')" \
	"chatgenius_realtime_delivered_total: realtime_status().delivered"
is "$(value chatgenius_realtime_set_aside_total) $(value chatgenius_realtime_errors_total) $(value chatgenius_realtime_last_error_timestamp_seconds)" \
	"0 0 NaN" "no error, nothing set aside, no last error (NaN)"

# ---------------------------------------------------------------- migration
is "$(value chatgenius_migration_info version="$NEWEST" available_version="$NEWEST")" 1 \
	"chatgenius_migration_info: version $NEWEST, nothing newer available"
applied=$(value chatgenius_migration_applied_timestamp_seconds)
is "$(health_sql "SELECT abs('$applied'::float8 - extract(epoch FROM applied_at)) < 0.001 FROM chatgenius.schema_migrations WHERE version = '$NEWEST'")" t \
	"chatgenius_migration_applied_timestamp_seconds: when $NEWEST was applied"

# ---------------------------------------------------------------- the documented list
# doc/operations.md's exporter-metrics block names every chatgenius family of
# the scrape, and no other.
documented=$(awk '/^<!-- exporter-metrics/ { f = 1; next } /^<!-- \/exporter-metrics/ { f = 0 } f' \
	"$top/doc/operations.md" | cut -d'|' -f2 | grep -o 'chatgenius_[a-z_]*' | sort -u | paste -sd ' ')
scraped=$(sed -n 's/^# TYPE \(chatgenius_[a-z_]*\) .*/\1/p' "$SCRAPE" | sort -u | paste -sd ' ')
is "$documented" "$scraped" "doc/operations.md lists the scrape's chatgenius families, and no other"

# ---------------------------------------------------------------- promtool
grep -E '^(# (HELP|TYPE) )?chatgenius_' "$SCRAPE" >"$FX_DIR/chatgenius.prom"
out=$(promtool check metrics <"$FX_DIR/chatgenius.prom" 2>&1)
rc=$?
is "$rc:$out" "0:" "promtool check metrics: the chatgenius families pass, with nothing to say"
out=$(promtool check metrics <"$SCRAPE" 2>&1)
is "$(printf '%s\n' "$out" | grep -c -e chatgenius_ -e 'error while linting')" 0 \
	"promtool check metrics on the whole scrape: no finding about chatgenius_ metrics, no parse error"
diag "promtool on the whole scrape: $(printf '%s\n' "$out" | grep -c .) findings, all about the exporter's own pg_* metrics"
is "$(grep -c 'level=error' "$FX_DIR/exporter.log")" 0 "the exporter logged no error running the queries" ||
	diag "$(grep 'level=error' "$FX_DIR/exporter.log" | head -3)"

done_testing
