#!/usr/bin/env bash
# The tunnel's event names are one list, helper/event_list.h (name, level,
# and the extension version whose tunnel_events first takes the name), and
# every copy is held to it:
#  - the EVENTS section of chatgenius-tunnel(8) and the event_emit calls
#    (test/tools/settings_agree.pl events);
#  - the CHECK constraint of chatgenius.tunnel_events, read from the catalog
#    of a fresh install of every shipped version: version V takes exactly
#    the names whose "since" is at or below V, and the newest takes them all;
#  - a spool replay of every name: the helper stopped, one spooled line per
#    name appended to its spool, the helper started: every name reaches
#    tunnel_events, none is dropped as a corrupt line or discarded;
#  - against an older extension (1.10) a name it does not take yet is kept
#    in the spool, neither dropped nor discarded, and written once
#    ALTER EXTENSION chatgenius UPDATE has run; kept too when the CHECK
#    refuses a name the version should take (23514 on the event's CHECK).
#
#   prove test/helper/event_names.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"

# The list's rows: "name since" a line.
ROWS=$(perl -ne 'print "$1 $2\n" if /^EVENT_NAME\(EV_\w+,\s*"(\w+)",\s*LOG_\w+,\s*"([\d.]+)"\)/' \
	helper/event_list.h)
[ -n "$ROWS" ] || bail_out "no EVENT_NAME rows in helper/event_list.h"
ALL=$(cut -d' ' -f1 <<<"$ROWS" | sort | tr '\n' ' ')

# names_since VERSION: the names an extension at VERSION takes, sorted.
names_since()
{
	local name since
	while read -r name since; do
		[ "$(printf '%s\n%s\n' "$since" "$1" | sort -V | tail -1)" = "$1" ] && echo "$name"
	done <<<"$ROWS" | sort | tr '\n' ' '
}

# ---------------------------------------------------------------- the manual and the calls
out=$(perl test/tools/settings_agree.pl "$FX_HELPER" "$PWD" events 2>&1)
is "$out" "" "chatgenius-tunnel(8)'s EVENTS and the event_emit calls agree with helper/event_list.h"

tl_begin eventnames
mkdir -p "$FX_DIR/state"
chmod 700 "$FX_DIR/state"

# ---------------------------------------------------------------- the CHECK of every version
# check_names DB: the names the CHECK constraint on tunnel_events.event takes.
check_names()
{
	psql -qXAt -d "$1" -c "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
		WHERE c.conrelid = 'chatgenius.tunnel_events'::regclass AND c.contype = 'c'
		AND a.attname = 'event'" | grep -oE "'[A-Za-z_]+'" | tr -d "'" | sort | tr '\n' ' '
}
fx_psql -qc "CREATE DATABASE evcheck" >/dev/null
newest=$(psql -qXAt -d evcheck -c "SELECT default_version FROM pg_available_extensions WHERE name = 'chatgenius'")
for v in $(psql -qXAt -d evcheck -c "SELECT version FROM pg_available_extension_versions
		WHERE name = 'chatgenius'" | sort -V); do
	psql -qXAt -d evcheck -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" \
		-c "CREATE EXTENSION chatgenius VERSION '$v'" >"$FX_DIR/create.log" 2>&1 ||
		bail_out "CREATE EXTENSION chatgenius VERSION '$v': $(cat "$FX_DIR/create.log")"
	is "$(check_names evcheck)" "$(names_since "$v")" \
		"a fresh install of $v: tunnel_events' CHECK takes the names listed since $v or before"
	psql -qXAt -d evcheck -c "DROP EXTENSION chatgenius CASCADE" >/dev/null 2>&1
done
psql -qXAt -d evcheck -c "CREATE EXTENSION chatgenius" >/dev/null 2>&1
is "$(check_names evcheck)" "$ALL" "a fresh install of the newest ($newest): its CHECK takes every listed name"

# ---------------------------------------------------------------- a spool replay of every name
# spool_file NAME: the spool file of tunnel NAME (the helper made it).
spool_file()
{
	ls "$FX_DIR"/state/"$1"-*.spool 2>/dev/null | head -1
}
# spool_append NAME EVENT...: one line per EVENT in tunnel NAME's spool, as
# an earlier run writes them (v1, key, time, name, detail).
spool_append()
{
	local file now ev
	file=$(spool_file "$1")
	shift
	now=$(date -u +%Y-%m-%dT%H:%M:%S.%6NZ)
	for ev in "$@"; do
		printf 'v1\treplay-%s\t%s\t%s\treplayed=1 note="from the spool"\n' "$ev" "$now" "$ev" >>"$file"
	done
}
# replayed NAME: the names of the replayed rows of tunnel NAME, sorted.
replayed()
{
	app_sql "SELECT string_agg(event, ' ' ORDER BY event) || ' ' FROM chatgenius.tunnel_events
		WHERE tunnel_name = '$1' AND event_key LIKE 'replay-%'"
}

app_install_extension
tl_start replay
tl_up || bail_out "the helper did not connect: $(tail -3 "$TL_LOG")"
tl_stop
is "$TL_RC" 0 "replay: the first run stops cleanly"
[ -n "$(spool_file test-replay)" ] || bail_out "replay: no spool file in $FX_DIR/state"
# shellcheck disable=SC2086
spool_append test-replay $ALL
fx_bg "$TL_LOG" "$FX_HELPER" --env-file "$TL_ENV"
TL_PID=$FX_BG_PID
fx_wait_output 60 "every replayed name in tunnel_events" "$ALL" replayed test-replay
is "$(replayed test-replay)" "$ALL" "replay: every listed name, spooled and replayed, reaches tunnel_events"
is "$(grep -c 'msg=spool_corrupt_line' "$TL_LOG")" 0 "replay: no spooled line dropped as corrupt"
is "$(grep -c 'msg=event_discarded' "$TL_LOG")" 0 "replay: no event discarded"
tl_stop
is "$TL_RC" 0 "replay: clean exit"
tl_sanitizer_clean replay

# ---------------------------------------------------------------- an older extension
old=1.10
newer=$(comm -23 <(tr ' ' '\n' <<<"$ALL" | grep .) <(names_since "$old" | tr ' ' '\n' | grep .) | tr '\n' ' ')
[ -n "$newer" ] || bail_out "no listed name is newer than $old: pick an older version here"
fx_psql -d "$FX_APP_DB" -qc "DROP EXTENSION chatgenius CASCADE" >/dev/null 2>&1
fx_psql -d "$FX_APP_DB" -qc "SET client_min_messages = warning" -c "CREATE EXTENSION chatgenius VERSION '$old'" >/dev/null
app_install_extension
tl_start older TUNNEL_LOG_LEVEL=debug
tl_up || bail_out "the helper did not connect: $(tail -3 "$TL_LOG")"
tl_stop
# shellcheck disable=SC2086
spool_append test-older $ALL
fx_bg "$TL_LOG" "$FX_HELPER" --env-file "$TL_ENV"
TL_PID=$FX_BG_PID
fx_wait_output 60 "the names $old takes in tunnel_events" "$(names_since "$old")" replayed test-older
is "$(replayed test-older)" "$(names_since "$old")" "older ($old): the names it takes are written"
checks=$(tl_count 'msg=health_check ')
fx_wait_for 30 "two more health checks" eval '[ "$(tl_count "msg=health_check ")" -ge $((checks + 2)) ]'
is "$(replayed test-older)" "$(names_since "$old")" "older ($old): two health checks later, nothing else was written"
spooled=$(grep -c '^v1	replay-' "$(spool_file test-older)")
acked=$(grep -c '^a1	replay-' "$(spool_file test-older)")
is "$((spooled - acked))" "$(wc -w <<<"$newer")" "older ($old): the names it does not take ($newer) stay in the spool"
is "$(grep -c 'msg=spool_corrupt_line' "$TL_LOG")" 0 "older ($old): no spooled line dropped as corrupt"
is "$(grep -c 'msg=event_discarded' "$TL_LOG")" 0 "older ($old): no event discarded"
like "$(grep 'msg=events_held' "$TL_LOG" | head -1)" "extversion=$old .*${newer%% *}" \
	"older ($old): the log says which events wait for ALTER EXTENSION chatgenius UPDATE"
# The CHECK itself says so too: with the catalog claiming $newest (a hand
# edit, for the test's sake) the helper sends the name, the CHECK refuses
# it (23514), and the event is still kept, not discarded.
fx_psql -d "$FX_APP_DB" -qc "UPDATE pg_extension SET extversion = '$newest' WHERE extname = 'chatgenius'"
fx_wait_for 30 "the CHECK's refusal noticed" tl_has "msg=events_held .*extversion=$newest "
ok $? "older, claiming $newest: the CHECK's refusal (23514) holds the event (events_held extversion=$newest)"
is "$(grep -c 'msg=event_discarded' "$TL_LOG")" 0 "older, claiming $newest: no event discarded"
is "$(replayed test-older)" "$(names_since "$old")" "older, claiming $newest: the refused names are not written"
fx_psql -d "$FX_APP_DB" -qc "UPDATE pg_extension SET extversion = '$old' WHERE extname = 'chatgenius'"
fx_psql -d "$FX_APP_DB" -qc "SET client_min_messages = warning" -c "ALTER EXTENSION chatgenius UPDATE" >/dev/null
fx_wait_output 60 "every replayed name after the update" "$ALL" replayed test-older
is "$(replayed test-older)" "$ALL" "older, updated to $newest: the kept events are written"
fx_wait_for 20 "the spool emptied" test ! -s "$(spool_file test-older)"
ok $? "older, updated: the spool file is empty"
tl_stop
is "$TL_RC" 0 "older: clean exit"
tl_sanitizer_clean older

done_testing
