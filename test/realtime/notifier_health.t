#!/usr/bin/env bash
# health() watches the realtime path: its realtime row is ok while the
# notifier delivers; a notifier stopped with SIGSTOP while changes wait is
# seen by the first health() call once the oldest change is
# chatgenius.realtime_delay_warn old (critical at
# chatgenius.realtime_delay_critical); a notifier that fails on every start
# (a crash loop) is seen by the first call after its first failure, and is
# critical after three in a minute.  Both recover to ok.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/rt_lib.sh
. "$top/test/lib/rt_lib.sh"

fx_init realtime-health
fx_pg_start
db=$FX_APP_DB
CHANNEL=$RT_CHANNEL
USER0=$RT_USER

# post N: N messages, one transaction each.
post()
{
	local i sql=
	for ((i = 0; i < $1; i++)); do
		sql+="INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$CHANNEL', '$USER0', 'm');"
	done
	psql -qX -v ON_ERROR_STOP=1 -d "$db" <<<"$sql" >/dev/null
}

realtime_health()
{
	rt_q "${1:-} SELECT status || ' ' || detail FROM chatgenius.health() WHERE check_name = 'realtime'"
}

realtime_ok()
{
	[[ $(realtime_health) == ok* ]]
}

rt_seed
rt_listen a message_change
post 1
fx_wait_for 20 "the first change" rt_count_is a 1
pid=$(rt_q "SELECT notifier_pid FROM chatgenius.realtime_status()")
like "$(realtime_health)" "^ok notifier pid $pid, no change waiting, none set aside" \
	"health(): realtime ok while the notifier runs"

# ------------------------------------------------- a stopped notifier

tl_section
fx_wait_for 20 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
kill -STOP "$pid"
post 200
is "$(rt_q "SELECT count(*) FROM chatgenius.realtime_outbox")" 200 "200 changes wait for the stopped notifier"
fx_wait_for 30 "the oldest change to be 5 s old" rt_q_is \
	"SELECT clock_timestamp() - min(created_at) >= interval '5 s' FROM chatgenius.realtime_outbox" t
first=$(realtime_health)
like "$first" "^warn the notifier \\(pid $pid\\) has not run for [0-9.]+ s; oldest change waiting [0-9]+\\.[0-9] s" \
	"the first health() call after 5 s warns: the notifier has not run, the oldest change waits"
is "$(rt_q 'SELECT chatgenius.health_summary()')" warn "health_summary() is no longer ok"
like "$(realtime_health "SET chatgenius.realtime_delay_critical = '5s';")" '^critical ' \
	"past chatgenius.realtime_delay_critical it is critical"
kill -CONT "$pid"
fx_wait_for 30 "the 200 changes" rt_count_is a 201
ok $? "once resumed, the notifier sends them"
fx_wait_for 10 "realtime ok" realtime_ok
ok $? "and health() is ok again"
tl_fault notifier_stopped

# ------------------------------------------------- a crash loop

tl_section
# Every start fails: the notifier's query names a column that is gone.
fx_psql -d "$db" -c 'ALTER TABLE chatgenius.realtime_outbox RENAME COLUMN payload TO payload_gone' >/dev/null
post 1
fx_wait_for 20 "the notifier's first failure" rt_q_is \
	"SELECT last_error LIKE '%payload%' FROM chatgenius.realtime_status()" t
like "$(realtime_health)" '^(warn|critical) the notifier failed [0-9]+ times? in the last minute, [0-9]+ s ago: .*payload' \
	"the first health() call after its first failure shows it, with the error"
crit()
{
	[[ $(realtime_health) == critical\ the\ notifier\ failed* ]]
}
fx_wait_for 30 "three failures" crit
ok $? "after three failures in a minute it is critical (a crash loop)"
fx_psql -d "$db" -c 'ALTER TABLE chatgenius.realtime_outbox RENAME COLUMN payload_gone TO payload' >/dev/null
fx_wait_for 30 "the change of the loop" rt_count_is a 202
ok $? "once mended, the notifier sends what waited"
fx_wait_for 10 "realtime ok" realtime_ok
ok $? "and health() is ok again"
tl_fault notifier_crash_loop

rt_stop_listener a
done_testing
