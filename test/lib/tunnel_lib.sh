# shellcheck shell=bash
# Shared steps of the tunnel tests (test/helper/*.t): start the helper
# against the fixture, talk through it, read its log, stop it.  Sources
# test/lib/fixture.sh, tap.sh and fault_lib.sh.
#
#   tl_begin NAME      the helper built, a fixture NAME: its cluster and sshd

# shellcheck source=fixture.sh
. "$(dirname "${BASH_SOURCE[0]}")/fixture.sh"
# shellcheck source=tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"
# shellcheck source=fault_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/fault_lib.sh"

TL_N=0

# tl_sanitized_build KIND WHAT: the helper built apart with `make
# SANITIZE=KIND` (1: ASan and UBSan; thread: TSan) in a temp folder of its
# own, TL_BUILD (removed at exit; the normal build is left alone), and
# FX_HELPER exported to name it.  One TAP test; a build that fails ends the
# file, with the compiler's last lines.
tl_sanitized_build()
{
	TL_BUILD=$(mktemp -d /tmp/chatgenius-sanitize.XXXXXX)
	# shellcheck disable=SC2064 # the folder is known now
	trap "rm -rf '$TL_BUILD'" EXIT
	mkdir -p "$TL_BUILD/helper"
	cp "$FX_TOP"/helper/*.c "$FX_TOP"/helper/*.h "$FX_TOP"/helper/Makefile "$TL_BUILD/helper/"
	cp "$FX_TOP/chatgenius.control" "$TL_BUILD/"
	make -s -C "$TL_BUILD/helper" SANITIZE="$1" >"$TL_BUILD/make.log" 2>&1
	ok $? "$2 build of the helper" || { diag "$(tail -20 "$TL_BUILD/make.log")"; done_testing; exit 1; }
	export FX_HELPER=$TL_BUILD/helper/chatgenius-tunnel
}

# tl_begin NAME [SSHD_CONFIG_LINE...]: how a tunnel test starts: the helper
# must be built (FX_HELPER), then a fixture named NAME with its cluster and
# its sshd (with these sshd_config lines).
tl_begin()
{
	local name=$1
	shift
	[ -x "$FX_HELPER" ] || bail_out "no helper at $FX_HELPER (make -C helper)"
	fx_init "$name"
	fx_pg_start
	fx_sshd_start "$@"
}

# tl_pgbench_init: pgbench's tables (scale 1) in the app's database, as its
# role, straight to the server; a failure is a setup error.
tl_pgbench_init()
{
	PGPASSWORD=$FX_APP_PASSWORD "$FX_PGBIN/pgbench" -i -q -s 1 -h 127.0.0.1 -p "$FX_PG_PORT" \
		-U "$FX_APP_USER" "$FX_APP_DB" >"$FX_DIR/init.log" 2>&1 ||
		bail_out "setup error: pgbench -i failed: $(tail -3 "$FX_DIR/init.log")"
}

# tl_start NAME [KEY=VALUE...]: write an env file, give its tunnel name to
# its role (as setup would, fx_give_tunnel) and start the helper in the
# background; TL_PID, TL_LOG, TL_ENV.  The port is fresh each time.
tl_start()
{
	local name=$1
	shift
	TL_N=$((TL_N + 1))
	TL_ENV=$FX_DIR/$name.env
	TL_LOG=$FX_DIR/$name.log
	FX_TUNNEL_PORT=$(fx_free_port)
	fx_env_file "$TL_ENV" "TUNNEL_NAME=test-$name" "$@"
	fx_give_tunnel "$TL_ENV"
	fx_bg "$TL_LOG" "$FX_HELPER" --env-file "$TL_ENV"
	TL_PID=$FX_BG_PID
}

# On a failed check, the newest helper log's last lines go to the output
# (a file may define its own tap_on_failure after sourcing this one).
tap_on_failure()
{
	[ -n "${TL_LOG:-}" ] && [ -f "$TL_LOG" ] || return 0
	echo "after \"$1\" failed, the last lines of $TL_LOG:"
	tail -n 25 "$TL_LOG"
}

# tl_up: wait until the helper logged event=connected.
tl_up()
{
	fx_wait_for 30 "event=connected in $TL_LOG" grep -q 'event=connected' "$TL_LOG"
}

# tl_count REGEX: lines of the helper's log matching REGEX.
tl_count()
{
	grep -cE "$1" "$TL_LOG"
}

# tl_has REGEX: true when the log has a line matching REGEX.
tl_has()
{
	grep -qE "$1" "$TL_LOG"
}

# tl_wait_exit [TIMEOUT]: wait for the helper to exit; its status in TL_RC
# ("timeout" when it did not exit in time).
tl_wait_exit()
{
	fx_wait_exit "$TL_PID" "${1:-30}"
	local r=$?
	TL_RC=$FX_RC
	return "$r"
}

# tl_stop: SIGTERM and wait (status in TL_RC); TL_STOP_MS is how long it took.
tl_stop()
{
	local t0
	t0=$(date +%s%N)
	kill -TERM "$TL_PID" 2>/dev/null
	tl_wait_exit 15
	TL_STOP_MS=$((($(date +%s%N) - t0) / 1000000))
}

# tl_sanitizer_clean NAME: TAP check that the log has no sanitizer report.
tl_sanitizer_clean()
{
	local found
	found=$(grep -E 'AddressSanitizer|LeakSanitizer|runtime error:|ThreadSanitizer' "$TL_LOG" | head -3)
	is "$found" "" "$1: no sanitizer report in the helper's log"
}

# tl_psql ARGS...: psql as the app role through the current tunnel.
tl_psql()
{
	PGCONNECT_TIMEOUT=20 fx_app_psql "$@"
}

# tl_stats_field FIELD: ask for the pool figures (SIGUSR1) and print the
# FIELD value of the newest pool_stats line.
tl_stats_field()
{
	local before
	before=$(tl_count 'msg=pool_stats')
	kill -USR1 "$TL_PID"
	fx_wait_for 5 "pool_stats line" tl_stats_newer "$before" || return 1
	grep 'msg=pool_stats' "$TL_LOG" | tail -1 | grep -oE "(^| )$1=[^ ]*" | cut -d= -f2
}

tl_stats_newer()
{
	[ "$(tl_count 'msg=pool_stats')" -gt "$1" ]
}

# tl_stats_is FIELD VALUE: true when the pool figure FIELD equals VALUE now.
tl_stats_is()
{
	[ "$(tl_stats_field "$1")" = "$2" ]
}

# tl_backends QUERY_LIKE: app backends whose current query matches.
tl_backends()
{
	fx_psql -d postgres -Atc "SELECT count(*) FROM pg_stat_activity
		WHERE usename = '$FX_APP_USER' AND query LIKE '$1' AND state = 'active'"
}

tl_backends_are()
{
	[ "$(tl_backends "$1")" = "$2" ]
}

# tl_get_in: a new client as root, through the tunnel, waiting up to 30 s
# to connect; TL_GOT is what it printed ("in" once it got in), TL_MS how
# long it took in ms.
tl_get_in()
{
	local t0
	t0=$(date +%s%N)
	TL_GOT=$(PGCONNECT_TIMEOUT=30 fx_app_psql -Atc "SELECT 'in'" 2>&1)
	TL_MS=$((($(date +%s%N) - t0) / 1000000))
}

# tl_inflight TABLE SECONDS: a transaction through the tunnel, in the
# background, that inserts 1 into TABLE, sleeps SECONDS and inserts 2
# before it commits (psql's pid in TL_TX, its output in $FX_DIR/tx.out);
# returns once its sleep runs on the server (fx_wait_for's status).
tl_inflight()
{
	tl_psql -v ON_ERROR_STOP=1 >"$FX_DIR/tx.out" 2>&1 <<-EOF &
		BEGIN;
		INSERT INTO $1 VALUES (1);
		SELECT pg_sleep($2);
		INSERT INTO $1 VALUES (2);
		COMMIT;
	EOF
	TL_TX=$!
	fx_wait_for 20 "the transaction's sleep" tl_backends_are "SELECT pg_sleep($2)%" 1
}

# tl_clients_start N SECONDS: N clients at once through the tunnel, each
# running "SELECT i, pg_sleep(SECONDS)" in the background (pids in
# TL_CLIENT_PIDS, output in $FX_DIR/client.i).
tl_clients_start()
{
	local n=$1 secs=$2 i
	TL_CLIENT_PIDS=()
	for i in $(seq 1 "$n"); do
		tl_psql -Atc "SELECT $i, pg_sleep($secs)" >"$FX_DIR/client.$i" 2>&1 &
		TL_CLIENT_PIDS+=($!)
	done
}

# tl_clients_wait: wait for the clients of tl_clients_start; TL_CLIENTS_FAILED
# is how many failed or did not get their own answer.  Not in a subshell:
# wait(1) needs the parent shell.
tl_clients_wait()
{
	local i
	TL_CLIENTS_FAILED=0
	for i in $(seq 1 "${#TL_CLIENT_PIDS[@]}"); do
		wait "${TL_CLIENT_PIDS[$((i - 1))]}" || TL_CLIENTS_FAILED=$((TL_CLIENTS_FAILED + 1))
		grep -q "^$i|" "$FX_DIR/client.$i" || TL_CLIENTS_FAILED=$((TL_CLIENTS_FAILED + 1))
	done
}
