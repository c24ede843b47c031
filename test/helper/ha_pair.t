#!/usr/bin/env bash
# The tunnel over a plain streaming pair (test/lib/standby.sh: pg_basebackup
# -R, no Patroni), probing in SQL, POSTGRES_REMOTE_HOST=primary,standby:
#  - the primary port reaches the primary, the standby port the standby;
#  - replay paused (pg_wal_replay_pause()) past TUNNEL_STANDBY_MAX_LAG:
#    standby_lagging, reads fall back to the primary, and come back;
#  - the standby stopped: standby_down, reads on the primary, nothing else
#    disturbed; started again: reads back on it;
#  - pg_ctl promote with the old primary still up (both claim primary): a
#    primary that still answers as one is never left, so the promoted node
#    is logged as split_brain (its higher timeline named), every new client
#    still goes to the old primary and the session open there is not cut;
#  - the old primary then stops (fenced, as a failover without a manager
#    must do): the promoted node, on the higher timeline, is followed
#    (primary_changed detected=sql) at once, and every new client goes
#    there.
# On a helper that takes one host only, the list is one unknown host name.
#
#   prove test/helper/ha_pair.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/standby.sh
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"
fx_init hapair
sb_pair_start
fx_sshd_start
app_install_extension
fx_psql -d "$FX_APP_DB" >/dev/null <<-EOF
	GRANT USAGE ON SCHEMA chatgenius TO "$FX_APP_USER";
	GRANT EXECUTE ON FUNCTION chatgenius.report_routes(text, text, text[]) TO "$FX_APP_USER";
	CREATE TABLE public.ha_writes (n integer PRIMARY KEY);
	ALTER TABLE public.ha_writes OWNER TO "$FX_APP_USER";
EOF
PRIMARY=$SB_PRIMARY_HOST:$SB_PRIMARY_PORT
STANDBY=$SB_STANDBY_HOST:$SB_STANDBY_PORT
STANDBY_PORT=$(fx_free_port)
tl_start pair "POSTGRES_REMOTE_HOST=$(sb_remote_hosts)" SSH_HEALTH_CHECK_INTERVAL=500 \
	TUNNEL_STANDBY_PORT="$STANDBY_PORT" TUNNEL_STANDBY_MAX_LAG=1000 TUNNEL_CLIENT_WAIT=15000
tl_up
ok $? "the helper connects"

# where_port PORT: host:port of the server that a new session on PORT reaches.
where_port()
{
	PGPASSWORD=$FX_APP_PASSWORD PGCONNECT_TIMEOUT=20 psql -qXAt -h 127.0.0.1 -p "$1" \
		-U "$FX_APP_USER" -d "$FX_APP_DB" -c "SELECT host(inet_server_addr()) || ':' || inet_server_port()" 2>/dev/null
}
primary_port_on() { [ "$(where_port "$FX_TUNNEL_PORT")" = "$1" ]; }
standby_port_on() { [ "$(where_port "$STANDBY_PORT")" = "$1" ]; }

# ---------------------------------------------------------------- routing
tl_section
fx_wait_for 10 "the primary port on the primary" primary_port_on "$PRIMARY"
ok $? "POSTGRES_PORT reaches the primary ($PRIMARY)"
fx_wait_for 10 "the standby port on the standby" standby_port_on "$STANDBY"
ok $? "TUNNEL_STANDBY_PORT reaches the standby ($STANDBY)"
tl_fault pair_routing

# ---------------------------------------------------------------- lagging
tl_section
sb_replay_pause
for i in 1 2 3 4; do
	fx_psql -d "$FX_APP_DB" -c "INSERT INTO ha_writes VALUES (-$i)" >/dev/null
	sleep 0.5
done
fx_wait_for 10 "standby_lagging" tl_has "event=standby_lagging .*host=$STANDBY"
ok $? "pg_wal_replay_pause() past TUNNEL_STANDBY_MAX_LAG: standby_lagging"
fx_wait_for 5 "reads on the primary" standby_port_on "$PRIMARY"
ok $? "lagging: the standby port falls back to the primary"
sb_replay_resume
fx_wait_for 10 "reads back on the standby" standby_port_on "$STANDBY"
ok $? "caught up: reads back on the standby"
tl_fault pair_standby_lagging

# ---------------------------------------------------------------- standby stopped
tl_section
sb_standby_stop
fx_wait_for 10 "standby_down" tl_has "event=standby_down .*host=$STANDBY"
ok $? "the standby stopped: standby_down"
served=$(fx_times 5 standby_port_on "$PRIMARY")
is "$served" 5 "standby stopped: 5 of 5 reads served on the primary"
primary_port_on "$PRIMARY"
ok $? "standby stopped: the primary port is undisturbed"
is "$(tl_count 'event=(primary_changed|disconnected|reconnecting) ')" 0 \
	"standby stopped: no primary change, no reconnection"
sb_standby_start
sb_wait_streaming 30
fx_wait_for 10 "reads back on the standby" standby_port_on "$STANDBY"
ok $? "the standby back: reads back on it"
diag "reliability: standby_stopped standby_reads_ok=$served of 5"
tl_fault pair_standby_stopped

# ---------------------------------------------------------------- both claim primary
tl_section
rm -f "$FX_DIR/stop" "$FX_DIR/acked"
(
	i=0
	while [ ! -e "$FX_DIR/stop" ]; do
		i=$((i + 1))
		PGCONNECT_TIMEOUT=15 fx_app_psql -c "INSERT INTO ha_writes VALUES ($i)" >/dev/null 2>&1 &&
			echo "$i ${EPOCHREALTIME/./}" >>"$FX_DIR/acked"
	done
) &
writer=$!
# A session open on the primary through the tunnel, as an app pool keeps one.
PGPASSWORD=$FX_APP_PASSWORD psql -qXAt -h 127.0.0.1 -p "$FX_TUNNEL_PORT" -U "$FX_APP_USER" \
	-d "$FX_APP_DB" -c "SELECT pg_sleep(120)" >"$FX_DIR/long.out" 2>&1 &
long=$!
fx_wait_for 10 "the long session" tl_backends_are 'SELECT pg_sleep(120)' 1
ok $? "promote: a session is open on the primary through the tunnel"
sleep 1
sb_promote
fx_wait_for 10 "split_brain" tl_has "event=split_brain .*host=$STANDBY"
ok $? "promote: split_brain is logged for the promoted node"
like "$(grep -m1 'event=split_brain' "$TL_LOG")" "host=$STANDBY timeline=2 followed=$PRIMARY followed_timeline=1" \
	"promote: the promoted node's higher timeline is named; the primary that still answers is followed"
sb_takes_writes
ok $? "promote: the promoted node does take writes (a real split brain)"
n=$(fx_times 5 primary_port_on "$PRIMARY")
is "$n" 5 "promote: 5 of 5 new sessions still reach the old primary"
fx_exited "$long"
ok $((!$?)) "promote: the session open on the old primary is not cut"
is "$(tl_count 'event=primary_changed ')" 0 "promote: no primary_changed while the old primary answers"
tl_fault pair_split_brain_kept

# ---------------------------------------------------------------- the old primary stops
tl_section
t0=${EPOCHREALTIME/./}
t_stopped=$SECONDS
sb_primary_crash
fx_wait_for 15 "primary_changed" tl_has "WARN event=primary_changed .*old=$PRIMARY new=$STANDBY detected=sql"
ok $? "old primary stopped: primary_changed from $PRIMARY to $STANDBY, detected=sql"
cmp_ok $((SECONDS - t_stopped)) -le 5 "old primary stopped: followed at once ($((SECONDS - t_stopped)) s)"
fx_wait_for 10 "the long session ended" fx_exited "$long"
ok $? "old primary stopped: the session left there ended with it"
n=$(fx_times 5 primary_port_on "$STANDBY")
is "$n" 5 "old primary stopped: 5 of 5 new sessions reach the promoted node"
sleep 1
touch "$FX_DIR/stop"
wait "$writer"
acked=$(wc -l <"$FX_DIR/acked")
present=$(sb_q_standby "SELECT string_agg(n::text, ' ') FROM ha_writes WHERE n > 0")
lost=$(awk -v have="$present" 'BEGIN { n = split(have, a, " "); for (i = 1; i <= n; i++) h[a[i]] = 1 }
	!($1 in h) { lost++ } END { print lost + 0 }' "$FX_DIR/acked")
gap=$(awk -v t0="$t0" '$2 >= t0 { if (prev == "") prev = t0; g = $2 - prev; if (g > m) m = g; prev = $2 }
	END { printf "%d", m / 1000 }' "$FX_DIR/acked")
diag "reliability: split_brain writes_acked=$acked writes_lost=$lost no_writable_primary_ms=$gap (asynchronous pair: writes the old primary acknowledged after the promotion, until it stopped, are not on the new one)"
tl_fault pair_old_primary_stops

tl_stop
is "$TL_RC" 0 "exit 0 on SIGTERM"
tl_sanitizer_clean pair
done_testing
