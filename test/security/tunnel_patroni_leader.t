#!/usr/bin/env bash
# With POSTGRES_PATRONI_PORT the tunnel follows the leader that the
# cluster's DCS names, never a node's word about itself.  A Patroni cluster
# of one node leads on 127.0.0.2 (etcd, test/lib/patroni.sh); on 127.0.0.3's
# API port user nobody runs an HTTP server of its own
# (test/tools/fake_patroni_api.pl), and POSTGRES_REMOTE_HOST lists both.
# In each attack an app session is open on the real leader through the
# tunnel; it must survive, every new session must still reach 127.0.0.2,
# tunnel_routes must say so, and no primary_changed may be logged:
#   claim   GET /primary (and every other path) answers 200 with
#           "timeline": 999999, in the body and in a header;
#   liar    the same, and GET /cluster names 127.0.0.3 the leader;
#   flip    the liar's view, /primary flipping between 200 and 503;
#   slow    a 200 whose body comes one byte every 300 ms, past the bound;
#   huge    a 200 with a 20 MB body;
#   chunked a 200 whose chunked body starts with the chunk size "-1".
# A node that says 200 on /primary while the cluster names another leader
# is logged as split_brain.
#
#   prove test/security/tunnel_patroni_leader.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/patroni.sh
. test/lib/tunnel_lib.sh
. test/lib/attack.sh

pt_begin patronileader
PT_NODES=1 pt_cluster_start
pt_prepare "stop_flag (n integer)"

# The attacker: its own folder, user nobody, 127.0.0.3's API port.
fx_copy_for nobody test/tools/fake_patroni_api.pl >/dev/null || bail_out "setup error: no folder for the attacker"
ATTACKER_DIR=$(fx_user_dir nobody)
echo neutral >"$ATTACKER_DIR/mode"
fx_as nobody perl ./fake_patroni_api.pl "$PT_HOST2" "$PT_API_PORT" "$PT_PG_PORT" \
	>"$FX_DIR/fake.out" 2>"$FX_DIR/fake.err" &
FX_PIDS+=("$!")
fake_stop()
{
	local pgid
	pgid=$(cat "$ATTACKER_DIR/pid" 2>/dev/null)
	[ -n "$pgid" ] && kill -TERM -- "-$pgid" 2>/dev/null
	true
}
FX_CLEANUP_HOOKS+=(fake_stop)
fx_wait_for 10 "the fake API" grep -q listening "$FX_DIR/fake.err" ||
	bail_out "setup error: the attacker's API did not start: $(cat "$FX_DIR/fake.err")"

TL_ENV=$FX_DIR/leader.env
TL_LOG=$FX_DIR/leader.log
FX_TUNNEL_PORT=$(fx_free_port)
pt_env_file "$TL_ENV" TUNNEL_NAME=test-leader SSH_HEALTH_CHECK_INTERVAL=500 TUNNEL_CLIENT_WAIT=15000
fx_bg "$TL_LOG" "$FX_HELPER" --env-file "$TL_ENV"
TL_PID=$FX_BG_PID
tl_up || bail_out "setup error: the helper did not connect"

primary_is()
{
	[ "$(tl_psql -Atc "SELECT host(inet_server_addr())" 2>/dev/null)" = "$1" ]
}
# app_sessions: the app's sessions on the leader that run the long DO.
app_sessions()
{
	pt_psql 1 -Atc "SELECT count(*) FROM pg_stat_activity WHERE usename = '$FX_APP_USER'
		AND query LIKE 'DO %' AND state = 'active'"
}
# routed_to_fake: the helper's routing lines that name 127.0.0.3 primary.
routed_to_fake()
{
	grep -c "msg=routes .*primary=$PT_HOST2:" "$TL_LOG"
}
fx_wait_for 20 "the primary port on the leader" primary_is "$PT_HOST1" ||
	bail_out "setup error: the tunnel never reached the leader"

# requests_in MODE: how many requests the fake served in MODE.
requests_in()
{
	grep -c "^$1 " "$ATTACKER_DIR/requests" 2>/dev/null || true
}
requests_at_least()
{
	[ "$(requests_in "$1")" -ge "$2" ]
}

# attack NAME MODE REQUESTS: the fake in MODE until it served REQUESTS
# requests (several probe rounds), an app session open on the leader all
# the while.
patroni_attack()
{
	local name=$1 mode=$2 want=$3 long changed_before routed_before sessions
	tl_section
	echo neutral >"$ATTACKER_DIR/mode"
	fx_wait_for 30 "the primary port back on the leader" primary_is "$PT_HOST1" ||
		bail_out "setup error: before $name, the tunnel is not on the leader"
	pt_psql 1 -d "$FX_APP_DB" -c "TRUNCATE stop_flag" >/dev/null
	tl_psql -v ON_ERROR_STOP=1 -Atc "DO \$\$ BEGIN
		WHILE NOT EXISTS (SELECT 1 FROM public.stop_flag) LOOP PERFORM pg_sleep(0.1); END LOOP; END \$\$" \
		-c "SELECT 'survived on ' || host(inet_server_addr())" >"$FX_DIR/$name.long" 2>&1 &
	long=$!
	fx_wait_output 20 "the app session" 1 app_sessions ||
		bail_out "setup error: $name: the app session did not start"
	changed_before=$(tl_count 'event=primary_changed ')
	routed_before=$(routed_to_fake)
	rm -f "$ATTACKER_DIR/requests"
	echo "$mode" >"$ATTACKER_DIR/mode"
	fx_wait_for 60 "$want $mode requests" requests_at_least "$mode" "$want"
	ok $? "$name: the fake API was asked $(requests_in "$mode") times"
	sessions=$(fx_times 5 primary_is "$PT_HOST1")
	is "$sessions" 5 "$name: 5 of 5 new sessions reach the real leader"
	is "$(($(routed_to_fake) - routed_before))" 0 "$name: the helper never routed the primary port to 127.0.0.3"
	is "$(($(tl_count 'event=primary_changed ') - changed_before))" 0 "$name: no primary_changed"
	echo neutral >"$ATTACKER_DIR/mode"
	pt_psql 1 -d "$FX_APP_DB" -c "INSERT INTO stop_flag VALUES (1)" >/dev/null
	fx_wait_exit "$long" 20
	is "$FX_RC" 0 "$name: the app session on the leader survived"
	is "$(tail -1 "$FX_DIR/$name.long")" "survived on $PT_HOST1" "$name: and ended on the leader"
	[ "$FX_RC" = 0 ] || diag "$name: the app session: $(cat "$FX_DIR/$name.long")"
	diag "reliability: patroni_leader mode=$mode requests=$(requests_in "$mode") new_sessions_on_leader=$sessions of 5 session=$([ "$FX_RC" = 0 ] && echo survived || echo cut)"
	tl_attack "patroni_$name"
}

patroni_attack claim claim 12
diag "claim: $(grep -m1 'event=split_brain' "$TL_LOG")"
like "$(grep -m1 'event=split_brain' "$TL_LOG")" "host=$PT_HOST2:$PT_PG_PORT .*followed=$PT_HOST1:$PT_PG_PORT" \
	"claim: 127.0.0.3 is logged as split_brain, the real leader followed"
patroni_attack liar liar 12
tl_has "msg=cluster_views_disagree .*kept=$PT_HOST1:$PT_PG_PORT"
ok $? "liar: the disagreeing views are logged, the leader kept"
patroni_attack flip flip 16
patroni_attack slow slow 3
patroni_attack huge huge 6
patroni_attack chunked chunked 6
n=$(grep -c "event=split_brain .*host=$PT_HOST2:" "$TL_LOG")
cmp_ok "$n" -le 2 "split_brain for 127.0.0.3 is not repeated at every flip ($n lines)"

tl_stop
is "$TL_RC" 0 "exit 0"
tl_sanitizer_clean leader
done_testing
