# shellcheck shell=bash
# A plain streaming pair (no Patroni): the fixture's cluster as the primary and
# a hot standby made from it with pg_basebackup -R, on two loopback addresses
# with the same port, standing for two database hosts.  Sources
# test/lib/fixture.sh; everything runs as user postgres in FX_DIR and is
# stopped by fx_cleanup.
#
#   . test/lib/standby.sh
#   fx_init NAME
#   sb_pair_start            # primary + standby, streaming; see the variables below
#   sb_primary_psql ARGS...  # psql as postgres on the primary's socket (= fx_psql)
#   sb_standby_psql ARGS...  # psql as postgres on the standby's socket
#   sb_wait_streaming        # the standby streams and has replayed all the primary wrote
#   sb_sync_on [NAMES]       # synchronous_standby_names = NAMES (default: the standby),
#                            # synchronous_commit = on; waits until the standby is sync
#   sb_sync_off              # both back to the fixture's defaults
#   sb_replay_pause          # pg_wal_replay_pause() on the standby, waits until paused
#   sb_replay_resume         # pg_wal_replay_resume()
#   sb_standby_stop [MODE]   # pg_ctl stop (fast, or MODE: immediate, smart)
#   sb_standby_start         # start it again (same folder, same address and port)
#   sb_primary_crash         # pg_ctl stop -m immediate on the primary (a dead host)
#   sb_promote               # pg_ctl promote on the standby; waits until it takes writes
#   sb_remote_hosts          # prints "PRIMARY:PORT,STANDBY:PORT" (POSTGRES_REMOTE_HOST's form)
#   sb_q_primary SQL / sb_q_standby SQL   # one value, in the app's database
#   fx_pg_stop / fx_pg_start_again        # the primary is the fixture's cluster
#
# Variables (set by sb_pair_start):
#   SB_PRIMARY_HOST SB_PRIMARY_PORT   the primary over TCP: 127.0.0.2, FX_PG_PORT (it also
#                                     listens on 127.0.0.1 as the fixture's cluster does)
#   SB_STANDBY_HOST SB_STANDBY_PORT   the standby over TCP: 127.0.0.3, the same port
#   SB_STANDBY_DIR                    its folder: data/, its socket, server.log
#   SB_STANDBY_NAME                   its application_name on the primary (standby1)
# When 127.0.0.2 and 127.0.0.3 cannot be bound (or SB_ONE_ADDRESS=1), both
# run on 127.0.0.1 on two free ports (SB_PRIMARY_HOST = SB_STANDBY_HOST).
# pg_hba on both: the app role and the superuser by password from 127.0.0.0/8,
# replication as role "replicator" (password SB_REPL_PASSWORD).
# After sb_promote the standby is a primary and the old primary, if still up,
# a second one (a split brain); the names keep meaning the two hosts.

# shellcheck source=fixture.sh
. "$(dirname "${BASH_SOURCE[0]}")/fixture.sh"

SB_STANDBY_NAME=${SB_STANDBY_NAME:-standby1}
SB_REPL_PASSWORD=${SB_REPL_PASSWORD:-replicator-secret}

# sb_port_free_on PORT ADDR...: true when PORT can be bound on every ADDR.
sb_port_free_on()
{
	perl -MIO::Socket::INET -e '
		my $port = shift;
		for my $a (@ARGV) {
			IO::Socket::INET->new(Listen => 1, LocalAddr => $a, LocalPort => $port,
				ReuseAddr => 0) or exit 1;
		}' "$@"
}

# sb_choose_addresses: SB_*_HOST and one port free on all three loopback
# addresses (another test may use 127.0.0.2/3 at the same time), or the
# 127.0.0.1 fallback.
sb_choose_addresses()
{
	local port
	if [ "${SB_ONE_ADDRESS:-0}" != 1 ] && sb_port_free_on 0 127.0.0.2 127.0.0.3; then
		for _ in 1 2 3 4 5 6 7 8 9 10; do
			port=$(fx_free_port)
			if sb_port_free_on "$port" 127.0.0.2 127.0.0.3; then
				SB_PRIMARY_HOST=127.0.0.2 SB_STANDBY_HOST=127.0.0.3
				SB_PRIMARY_PORT=$port SB_STANDBY_PORT=$port
				FX_PG_LISTEN=127.0.0.1,127.0.0.2
				return 0
			fi
		done
	fi
	SB_PRIMARY_HOST=127.0.0.1 SB_STANDBY_HOST=127.0.0.1
	SB_PRIMARY_PORT=$(fx_free_port)
	SB_STANDBY_PORT=$(fx_free_port)
	[ "$SB_STANDBY_PORT" != "$SB_PRIMARY_PORT" ] || SB_STANDBY_PORT=$(fx_free_port)
	FX_PG_LISTEN=127.0.0.1
}

sb_remote_hosts()
{
	printf '%s:%s,%s:%s\n' "$SB_PRIMARY_HOST" "$SB_PRIMARY_PORT" "$SB_STANDBY_HOST" "$SB_STANDBY_PORT"
}

sb_primary_psql()
{
	fx_psql "$@"
}

sb_standby_psql()
{
	psql -qX -v ON_ERROR_STOP=1 -h "$SB_STANDBY_DIR" -p "$SB_STANDBY_PORT" "$@"
}

# sb_q_primary / sb_q_standby SQL: one value (unaligned, tuples only), in a new
# session of the app's database; never waits more than 30 s.
sb_q_primary()
{
	timeout 30 psql -qXAt -v ON_ERROR_STOP=1 -h "$FX_PG_DIR" -p "$FX_PG_PORT" -d "$FX_APP_DB" -c "$1"
}

sb_q_standby()
{
	timeout 30 psql -qXAt -v ON_ERROR_STOP=1 -h "$SB_STANDBY_DIR" -p "$SB_STANDBY_PORT" -d "$FX_APP_DB" -c "$1"
}

# sb_pair_start: the fixture's cluster as a primary that accepts replication,
# and a streaming hot standby of it.  Waits until the standby streams.
sb_pair_start()
{
	sb_choose_addresses
	FX_PG_PORT=$SB_PRIMARY_PORT
	export FX_PG_LISTEN
	fx_pg_start
	cat >>"$FX_PG_DIR/data/pg_hba.conf" <<-EOF
		host all all 127.0.0.0/8 scram-sha-256
		host replication replicator 127.0.0.0/8 scram-sha-256
	EOF
	fx_psql -c "CREATE ROLE replicator REPLICATION LOGIN PASSWORD '$SB_REPL_PASSWORD'" \
		-c 'SELECT pg_reload_conf()' >/dev/null || fx_die "could not prepare the primary for replication"

	SB_STANDBY_DIR=$FX_DIR/standby
	mkdir -p "$SB_STANDBY_DIR"
	chown postgres: "$SB_STANDBY_DIR"
	chmod 700 "$SB_STANDBY_DIR"
	# -R writes primary_conninfo (with the password given here) and standby.signal.
	fx_as_postgres "$FX_PGBIN/pg_basebackup" -D "$SB_STANDBY_DIR/data" -R -X stream -c fast \
		-d "host=$SB_PRIMARY_HOST port=$SB_PRIMARY_PORT user=replicator password=$SB_REPL_PASSWORD" \
		>"$SB_STANDBY_DIR/basebackup.log" 2>&1 ||
		fx_die "pg_basebackup failed: $(tail -5 "$SB_STANDBY_DIR/basebackup.log")"
	# Later lines win: the standby's own address, port, socket and name.
	cat >>"$SB_STANDBY_DIR/data/postgresql.conf" <<-EOF
		# the standby (test/lib/standby.sh)
		port = $SB_STANDBY_PORT
		listen_addresses = '$SB_STANDBY_HOST'
		unix_socket_directories = '$SB_STANDBY_DIR'
		cluster_name = '$SB_STANDBY_NAME'
		hot_standby = on
		wal_receiver_status_interval = 1s
		hot_standby_feedback = on
	EOF
	FX_CLEANUP_HOOKS+=(sb_cleanup)
	sb_standby_start
	sb_wait_streaming 60 || fx_die "the standby does not stream: $(tail -5 "$SB_STANDBY_DIR/server.log")"
	fx_log "standby up on $SB_STANDBY_HOST:$SB_STANDBY_PORT, streaming from $SB_PRIMARY_HOST:$SB_PRIMARY_PORT"
}

# sb_standby_start: start the standby (again); waits until it accepts
# connections (read-only).
sb_standby_start()
{
	[ -f "$SB_STANDBY_DIR/data/postmaster.pid" ] && return 0
	fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$SB_STANDBY_DIR/data" -l "$SB_STANDBY_DIR/server.log" \
		-w -t 60 start >/dev/null || fx_die "the standby did not start: $(tail -5 "$SB_STANDBY_DIR/server.log")"
}

# sb_standby_stop [MODE]: stop the standby (fast unless MODE says otherwise).
sb_standby_stop()
{
	[ -n "${SB_STANDBY_DIR:-}" ] && [ -f "$SB_STANDBY_DIR/data/postmaster.pid" ] || return 0
	fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$SB_STANDBY_DIR/data" -m "${1:-fast}" -w -t 30 stop >/dev/null 2>&1 ||
		fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$SB_STANDBY_DIR/data" -m immediate stop >/dev/null 2>&1
}

sb_cleanup()
{
	sb_standby_stop immediate
}

# sb_caught_up: true when the primary sees the standby streaming with
# everything it wrote replayed.
sb_caught_up()
{
	[ "$(timeout 10 psql -qXAt -h "$FX_PG_DIR" -p "$FX_PG_PORT" -d postgres -c "
		SELECT state = 'streaming' AND replay_lsn >= pg_current_wal_lsn()
		  FROM pg_stat_replication WHERE application_name = '$SB_STANDBY_NAME'")" = t ]
}

# sb_wait_streaming [TIMEOUT]: wait until sb_caught_up.
sb_wait_streaming()
{
	fx_wait_for "${1:-60}" "the standby to stream and catch up" sb_caught_up
}

# sb_set_on_primary NAME VALUE: ALTER SYSTEM SET on the primary, reloaded.
sb_set_on_primary()
{
	fx_psql -d postgres -c "ALTER SYSTEM SET $1 = '$2'" -c 'SELECT pg_reload_conf()' >/dev/null
}

sb_is_sync()
{
	[ "$(timeout 10 psql -qXAt -h "$FX_PG_DIR" -p "$FX_PG_PORT" -d postgres -c "
		SELECT sync_state FROM pg_stat_replication WHERE application_name = '$SB_STANDBY_NAME'")" = sync ]
}

# sb_sync_on [NAMES]: synchronous replication to NAMES (default: the standby)
# with synchronous_commit = on (the fixture turns it off); waits until the
# primary sees the standby as sync.
sb_sync_on()
{
	sb_set_on_primary synchronous_commit on
	sb_set_on_primary synchronous_standby_names "${1:-$SB_STANDBY_NAME}"
	[ -n "${1:-}" ] && [ "$1" != "$SB_STANDBY_NAME" ] && return 0
	fx_wait_for 30 "the standby to be synchronous" sb_is_sync
}

sb_sync_off()
{
	fx_psql -d postgres -c 'ALTER SYSTEM RESET synchronous_standby_names' \
		-c 'ALTER SYSTEM RESET synchronous_commit' -c 'SELECT pg_reload_conf()' >/dev/null
}

sb_replay_paused()
{
	[ "$(sb_standby_psql -Atd postgres -c 'SELECT pg_get_wal_replay_pause_state()')" = paused ]
}

# sb_replay_pause: pause replay on the standby (WAL still arrives); waits
# until it is paused.
sb_replay_pause()
{
	sb_standby_psql -d postgres -c 'SELECT pg_wal_replay_pause()' >/dev/null &&
		fx_wait_for 30 "replay to pause" sb_replay_paused
}

sb_replay_resume()
{
	sb_standby_psql -d postgres -c 'SELECT pg_wal_replay_resume()' >/dev/null
}

# sb_primary_crash: the primary dies (immediate stop: no shutdown checkpoint,
# sessions cut), as a lost host would.
sb_primary_crash()
{
	fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$FX_PG_DIR/data" -m immediate -w -t 60 stop >/dev/null
}

sb_takes_writes()
{
	[ "$(sb_standby_psql -Atd postgres -c 'SELECT NOT pg_is_in_recovery()')" = t ]
}

# sb_promote: promote the standby; waits until it is out of recovery.
sb_promote()
{
	fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$SB_STANDBY_DIR/data" -w -t 60 promote >/dev/null &&
		fx_wait_for 60 "the promoted standby to take writes" sb_takes_writes
}
