#!/usr/bin/env bash
# health() on a real streaming pair (test/lib/standby.sh): the replication
# check on the primary (each standby's state, lags and sync state, the
# expected number of standbys) and on the standby (its WAL receiver and
# replay lag), every other check working on the read-only standby, what a
# role without pg_read_all_stats sees, a lagging standby (replay paused,
# writes on the primary) turning warn then critical on both sides, a stopped
# standby with one expected, the standby while its primary is gone and back,
# and the standby promoted with the old primary still up (both say primary).  Needs root and an installed extension.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/standby.sh
. "$top/test/lib/standby.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"
# shellcheck source=../lib/health_checks.sh
. "$top/test/lib/health_checks.sh"

fx_init replication
sb_pair_start
db=$FX_APP_DB
fx_psql -d "$db" >/dev/null <<SQL
CREATE EXTENSION chatgenius;
CREATE TABLE filler (id serial PRIMARY KEY, pad text);
CREATE ROLE watcher LOGIN;
GRANT pg_monitor TO watcher;
-- health() granted directly, without pg_monitor's pg_read_all_stats
CREATE ROLE outsider LOGIN;
GRANT USAGE ON SCHEMA chatgenius TO outsider;
GRANT EXECUTE ON FUNCTION chatgenius.health() TO outsider;
GRANT SELECT ON chatgenius.tunnel_status, chatgenius.schema_migrations TO outsider;
SQL
sb_wait_streaming

# rows_on primary|standby [SETTINGS] [ROLE]: "status: detail" of every
# replication row, one a line.
rows_on()
{
	local q=sb_q_$1 sql="SELECT status || ': ' || detail FROM chatgenius.health() WHERE check_name = 'replication'"
	if [ -n "${3:-}" ]; then
		sql="SET ROLE $3; $sql"
	fi
	"$q" "${2:+$2; }$sql"
}

# status_on SIDE WANT [SETTINGS] [LINE]: the replication row number LINE
# (default: the first) has status WANT (for fx_wait_for).
status_is()
{
	[ "$(rows_on "$1" "${3:-}" | sed -n "${4:-1}p" | cut -d: -f1)" = "$2" ]
}

# standby_row_matches REGEX: the standby's replication rows match REGEX.
# Polled: a record just streamed (a checkpoint's, say) waits for replay a
# moment, so "everything received is replayed" holds only once replay caught up.
standby_row_matches()
{
	STANDBY_ROWS=$(rows_on standby)
	[[ $STANDBY_ROWS =~ $1 ]]
}

# standby_caught_up LABEL [FROM_REGEX]: ok when the standby's row says
# streaming (from the primary's address, or FROM_REGEX) and caught up
# within 30 s; otherwise not ok, with the last row seen.
standby_caught_up()
{
	local from=${2:-"$SB_PRIMARY_HOST:$SB_PRIMARY_PORT"}
	local re="^ok: standby: WAL receiver streaming from $from; replay lag 0\.0 s, everything received is replayed\$"
	fx_wait_for 30 "the standby to replay what it received" standby_row_matches "$re"
	ok $? "$1" || diag "last row: $STANDBY_ROWS"
}

# ---------------------------------------------------------------- a healthy pair

out=$(rows_on primary)
like "$(sed -n 1p <<<"$out")" '^ok: primary: 1 standby connected, 1 streaming, none expected$' \
	"primary: the summary row counts the standby"
like "$(sed -n 2p <<<"$out")" "^ok: standby \"$SB_STANDBY_NAME\" \\(pid [0-9]+\\): streaming, async; write lag [-0-9. s]+, flush lag [-0-9. s]+, replay lag [-0-9. s]+; replay [0-9]+ bytes behind$" \
	"primary: a row for the standby with its state, lags and sync state"
is "$(wc -l <<<"$out")" 2 "primary: two rows"
like "$(rows_on primary 'SET chatgenius.replication_expected_standbys = 1')" '^ok: primary: 1 standby connected, 1 streaming, 1 expected' \
	"one expected, one there: ok"

standby_caught_up "standby: health() says it is a standby, streaming, caught up"
is "$(sb_q_standby 'SELECT pg_is_in_recovery()')" t "(the standby is in recovery)"

# Every check works read-only on the hot standby.
is "$(sb_q_standby "SELECT string_agg(check_name, ' ' ORDER BY check_name) FROM chatgenius.health()")" \
	"$(health_check_names_sorted)" "standby: every check of src/health_checks.h runs"
is "$(sb_q_standby "SELECT string_agg(DISTINCT status, ' ') FROM chatgenius.health()")" ok "standby: all ok"
like "$(sb_q_standby "SELECT detail FROM chatgenius.health() WHERE check_name = 'schema'")" \
	'^version [0-9.]+; history complete; no drift$' "standby: the schema check reads history and fingerprint"
is "$(sb_q_standby 'SELECT chatgenius.health_summary()')" ok "standby: health_summary() works"
is "$(sb_q_standby 'SELECT count(*) FROM chatgenius.pool_stats()')" 0 "standby: pool_stats() works"
like "$(rows_on standby '' watcher)" '^ok: standby: WAL receiver streaming from ' "standby, as a pg_monitor member: the same"

# ---------------------------------------------------------------- privileges

out=$(rows_on primary '' watcher)
like "$(sed -n 2p <<<"$out")" "^ok: standby \"$SB_STANDBY_NAME\" \\(pid [0-9]+\\): streaming, async; " \
	"a pg_monitor member sees the standby's details"
out=$(rows_on primary '' outsider)
like "$(sed -n 1p <<<"$out")" '^ok: primary: 1 standby connected, none expected$' \
	"without pg_read_all_stats: the count still"
like "$(sed -n 2p <<<"$out")" '^warn: standby \(pid [0-9]+\): details hidden: they need the privileges of pg_read_all_stats$' \
	"without pg_read_all_stats: the standby's details are hidden, and it warns"
like "$(rows_on standby '' outsider)" '^ok: standby: WAL receiver streaming; replay lag' \
	"standby, without pg_read_all_stats: state and lag, not the primary's address"

# ---------------------------------------------------------------- a lagging standby

sb_replay_pause
ok $? "replay paused on the standby"
fx_psql -d "$db" -c "SET synchronous_commit = on" \
	-c "INSERT INTO filler (pad) SELECT repeat('x', 1000) FROM generate_series(1, 2000)" >/dev/null
lagging_bytes()
{
	[ "$(sb_q_primary "SELECT pg_current_wal_lsn() - replay_lsn > 1024 * 1024 FROM pg_stat_replication")" = t ]
}
fx_wait_for 30 "the primary to see the standby 1 MB behind" lagging_bytes
like "$(rows_on primary "SET chatgenius.replication_lag_warn_size = '1MB'" | sed -n 2p)" \
	'^warn: standby "[^"]+" \(pid [0-9]+\): streaming, async; .*; replay [0-9]+ bytes behind$' \
	"primary: a standby more than replication_lag_warn_size behind warns"
like "$(rows_on primary "SET chatgenius.replication_lag_critical_size = '1MB'" | sed -n 2p)" '^critical: ' \
	"primary: more than replication_lag_critical_size: critical"
like "$(rows_on primary "SET chatgenius.replication_lag_warn = '1h'; SET chatgenius.replication_lag_critical = '1h'" | sed -n 2p)" '^ok: ' \
	"primary: under the default sizes (and an hour's lag): ok"
fx_wait_for 30 "the primary's replay lag of the paused standby to pass 1 s" \
	status_is primary warn "SET chatgenius.replication_lag_warn = '1s'" 2
ok $? "primary: a replay lag over replication_lag_warn warns (it grows while replay is stuck)"
like "$(rows_on primary "SET chatgenius.replication_lag_critical = '1s'" | sed -n 2p)" '^critical: ' \
	"primary: over replication_lag_critical: critical"

fx_wait_for 30 "the standby to have received 1 MB it has not replayed" \
	status_is standby warn "SET chatgenius.replication_lag_warn_size = '1MB'; SET chatgenius.replication_lag_warn = '1h'; SET chatgenius.replication_lag_critical = '1h'"
like "$(rows_on standby "SET chatgenius.replication_lag_warn_size = '1MB'")" \
	'^warn: standby: WAL receiver streaming from [^;]+; replay lag [0-9.]+ s, [0-9]+ bytes received not replayed; replay paused$' \
	"standby: more than replication_lag_warn_size not replayed warns, and says replay is paused"
fx_wait_for 30 "the standby's replay lag to pass 1 s" \
	status_is standby warn "SET chatgenius.replication_lag_warn = '1s'"
ok $? "standby: a replay lag over replication_lag_warn warns"
like "$(rows_on standby "SET chatgenius.replication_lag_critical = '1s'")" '^critical: ' \
	"standby: over replication_lag_critical: critical"

sb_replay_resume
sb_wait_streaming
ok $? "replay resumed, the standby caught up"
fx_wait_for 30 "the primary's row of the standby to be ok again" status_is primary ok "" 2
ok $? "primary: ok again"
standby_caught_up "standby: ok again" '[^;]+'

# ---------------------------------------------------------------- synchronous

sb_sync_on
ok $? "synchronous_standby_names = the standby"
out=$(rows_on primary)
like "$(sed -n 1p <<<"$out")" "^ok: primary: 1 standby connected, 1 streaming, none expected; synchronous_standby_names '$SB_STANDBY_NAME', 1 synchronous$" \
	"primary: the summary names synchronous_standby_names and counts the synchronous standby"
like "$(sed -n 2p <<<"$out")" '^ok: standby "[^"]+" \(pid [0-9]+\): streaming, sync; ' "primary: the standby's row says sync"

# ---------------------------------------------------------------- a stopped standby

sb_standby_stop
gone()
{
	[ "$(sb_q_primary 'SELECT count(*) FROM pg_stat_replication')" = 0 ]
}
fx_wait_for 30 "the walsender to leave" gone
like "$(rows_on primary 'SET chatgenius.replication_expected_standbys = 1')" \
	"^critical: primary: no standby connected, 1 expected; synchronous_standby_names '$SB_STANDBY_NAME', no synchronous standby: commits that wait for one hang$" \
	"a stopped standby, one expected, synchronous: critical, both said"
sb_sync_off
like "$(rows_on primary 'SET chatgenius.replication_expected_standbys = 1')" '^critical: primary: no standby connected, 1 expected$' \
	"a stopped standby, one expected: critical"
is "$(rows_on primary)" "ok: primary: no standby connected, none expected" "none expected: ok"
sb_standby_start
sb_wait_streaming
like "$(rows_on primary 'SET chatgenius.replication_expected_standbys = 1' | sed -n 1p)" '^ok: primary: 1 standby connected, 1 streaming, 1 expected$' \
	"the standby back: ok"

# ---------------------------------------------------------------- the primary gone, then promoted

sb_primary_crash
fx_wait_for 60 "the standby to notice that its primary is gone" status_is standby critical
ok $? "standby without its primary: critical"
# The startup process relaunches a WAL receiver every few seconds; while
# one starts the row says so (a warning): the state to wait for is the other.
fx_wait_for 30 "no WAL receiver" standby_row_matches '^critical: standby: no WAL receiver \(not streaming from a primary\)'
like "$STANDBY_ROWS" '^critical: standby: no WAL receiver \(not streaming from a primary\)' \
	"and it says it streams from nobody"
fx_pg_start_again
sb_wait_streaming
ok $? "the primary back: the standby streams again"
like "$(rows_on standby)" '^ok: standby: WAL receiver streaming from ' "standby: ok again"

# Promoted while the old primary is up: both say primary (the split brain
# that test/lib/standby.sh lets the tunnel's tests build).
sb_promote
ok $? "the standby promoted, the old primary still up"
is "$(rows_on standby)" "ok: primary: no standby connected, none expected" "once promoted, health() says primary"
fx_wait_for 30 "the old primary's walsender to leave" gone
like "$(rows_on primary 'SET chatgenius.replication_expected_standbys = 1')" '^critical: primary: no standby connected, 1 expected$' \
	"the old primary says primary too, its standby gone"
is "$(sb_q_primary 'SELECT pg_is_in_recovery()')$(sb_q_standby 'SELECT pg_is_in_recovery()')" ff \
	"(both take writes)"

done_testing
