#!/usr/bin/env bash
# The event spool under faults, against a real cluster and sshd:
# - durability: every event line is fdatasync'ed before the helper goes on,
#   a rename is followed by an fsync of the folder, and acknowledgements
#   append a line instead of rewriting the file (seen with strace);
# - a symlink planted at the spool's .tmp name is never followed;
# - a corrupt spool file (garbage, a line cut short): the good records
#   survive, each bad line is reported, the helper starts;
# - a state folder the service user cannot write, and one that group or
#   others can write: a clear warning, events kept in memory, tunnel up.
#
#   prove test/helper/spool_faults.t   (as root; FX_HELPER=... for another build)
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
. "$TOP/test/lib/fixture.sh"
. "$TOP/test/lib/app_lib.sh"
. "$TOP/test/lib/fault_lib.sh"
fx_init spoolfaults

[ -x "$FX_HELPER" ] || bail_out "build the helper first: make -C helper"
command -v strace >/dev/null || bail_out "strace is needed"
fx_pg_start
fx_sshd_start
app_install_extension

stop_helper()
{
	kill -TERM "$APP_PID" 2>/dev/null
	app_wait_exit "$APP_PID" 15
}

traced()
{
	grep -q 'TracerPid:[[:space:]]*[1-9]' "/proc/$1/status"
}

spool_empty()
{
	[ ! -s "$1" ]
}

# ---------------------------------------------------------------- durability
fault_begin
app_start dur SSH_MAX_RETRIES=20
fx_wait_for 20 "dur connected" app_has_event dur connected
ok $? "durability: tunnel up, first events written"
spool=$(ls "$FX_DIR"/state/dur-*.spool)
fx_bg "$FX_DIR/strace.log" strace -f -qq -y -s 64 -p "$APP_PID" \
	-e trace=write,fdatasync,fsync,rename,ftruncate -o "$FX_DIR/trace"
tracer=$FX_BG_PID
fx_wait_for 10 "strace attached" traced "$APP_PID"
ok $? "durability: strace attached to the helper"
# An outage of sshd: disconnected, reconnecting, reconnected are spooled,
# then written to the database and acknowledged.
fx_sshd_stop
fx_wait_for 30 "reconnecting" app_log_has dur 'event=reconnecting'
fx_sshd_start
fx_wait_for 30 "reconnected written" app_has_event dur reconnected
ok $? "durability: the outage's events reached the database"
fx_wait_for 15 "spool emptied" spool_empty "$spool"
ok $? "durability: the spool file is empty once everything is written"
kill "$tracer" 2>/dev/null
wait "$tracer" 2>/dev/null
report=$(perl -ne '
	next unless m{^\d+\s+(\w+)\((\d+)<([^>]*)>(?:, "(..))?};
	my ($call, $fd, $path, $head) = ($1, $2, $3, $4 // "");
	next unless $path =~ /\.spool$/;
	if ($call eq "write" && $head eq "v1") { $events++; $unsynced++ }
	if ($call eq "write" && $head eq "a1") { $acks++ }
	if ($call eq "ftruncate") { $acks++ }
	if ($call eq "fdatasync" || $call eq "fsync") { $unsynced = 0 if $unsynced; $syncs++ }
	END { printf "events=%d acks=%d syncs=%d unsynced=%d\n", $events, $acks, $syncs, $unsynced }
' "$FX_DIR/trace")
renames=$(grep -c 'rename(.*\.spool\.tmp' "$FX_DIR/trace")
diag "spool syscalls during the outage: $report, renames=$renames"
like "$report" 'events=[1-9]' "durability: event lines were appended"
like "$report" 'unsynced=0' "durability: every appended event line was followed by fdatasync"
like "$report" 'acks=[1-9]' "durability: acknowledgements append a line (or empty the file once nothing is pending)"
is "$renames" 0 "durability: no acknowledgement rewrote the file (no rename)"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 1')" 1 "durability: the tunnel works"
stop_helper
is "$APP_RC" 0 "durability: clean stop"
fault_end fault spool-durability

# ---------------------------------------------------------------- .tmp symlink
fault_begin
echo precious >"$FX_DIR/victim"
ln -s "$FX_DIR/victim" "$spool.tmp"
printf 'garbage that forces a rewrite\n' >>"$spool"
app_restart dur
fx_wait_for 20 "dur connected again" app_log_has dur 'event=connected.*'
ok $? "tmp symlink: the helper starts"
is "$(cat "$FX_DIR/victim")" precious "tmp symlink: the symlink's target is untouched"
ok "$([ -f "$spool" ] && [ ! -L "$spool" ] && echo 0 || echo 1)" "tmp symlink: the spool is a regular file"
stop_helper
fault_end fault spool-tmp-symlink

# ---------------------------------------------------------------- corrupt spool
fault_begin
app_start corrupt
fx_wait_for 20 "corrupt connected" app_has_event corrupt connected
stop_helper
cspool=$(ls "$FX_DIR"/state/corrupt-*.spool)
{
	printf 'v1\tgood-1\t2020-01-02 03:04:05.123456+00\tconnected\tdetail=first\n'
	printf '\x01\x02 binary garbage \xff\n'
	printf 'v1\tgood-2\t2020-01-02 03:04:06.123456+00\tdisconnected\tdetail=second\n'
	printf 'v1\tcut-1\t2020-01-02 03:04:07.1'
} >>"$cspool"
app_restart corrupt
good_written()
{
	[ "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE event_key IN ('good-1', 'good-2')")" = 2 ]
}
fx_wait_for 20 "good records" good_written
ok $? "corrupt spool: the good records reach the database"
is "$(app_log_count corrupt 'WARN msg=spool_corrupt_line .*reason=unparsable')" 1 "corrupt spool: the garbage line is reported"
is "$(app_log_count corrupt 'WARN msg=spool_corrupt_line .*reason=truncated')" 1 "corrupt spool: the cut line is reported"
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE event_key = 'cut-1'")" 0 "corrupt spool: the cut record is not invented"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 2')" 2 "corrupt spool: the tunnel works"
stop_helper
is "$APP_RC" 0 "corrupt spool: clean stop"
fault_end fault corrupt-spool

# ---------------------------------------------------------------- acknowledgements across a restart
fault_begin
# A spool left by a run that stopped with 1,500 events, 1,490 of them
# acknowledged: only the 10 others are sent, and the file is compacted.
perl -e '
	for my $i (1 .. 1500) { printf "v1\tack-%04d\t2020-01-02 03:04:05.123456+00\tconnected\tn=%d\n", $i, $i }
	for my $i (1 .. 1490) { printf "a1\tack-%04d\n", $i }' >>"$cspool"
app_restart corrupt
ten_written()
{
	[ "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE event_key LIKE 'ack-%'")" -ge 10 ]
}
fx_wait_for 20 "the 10 pending events" ten_written
ok $? "acks: the pending events are written"
is "$(app_sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE event_key LIKE 'ack-%'")" 10 \
	"acks: no acknowledged event is sent again"
is "$(app_sql "SELECT min(event_key) FROM chatgenius.tunnel_events WHERE event_key LIKE 'ack-%'")" ack-1491 \
	"acks: the first pending one is the 1,491st"
fx_wait_for 15 "spool emptied" spool_empty "$cspool"
ok $? "acks: the spool file is empty once everything is written"
stop_helper
is "$APP_RC" 0 "acks: clean stop"
fault_end fault spool-acks-restart

# ---------------------------------------------------------------- unwritable state folder
fault_begin
mkdir -p "$FX_DIR/svc" "$FX_DIR/rootonly"
cp "$FX_SSH_KEY" "$FX_DIR/svc/id_ed25519"
cp "$FX_KNOWN_HOSTS" "$FX_DIR/svc/known_hosts"
chown -R postgres:postgres "$FX_DIR/svc"
chmod 700 "$FX_DIR/svc"
chmod 600 "$FX_DIR/svc/id_ed25519"
chmod 755 "$FX_DIR/rootonly"
APP_PORT=$(fx_free_port)
FX_TUNNEL_PORT=$APP_PORT fx_env_file "$FX_DIR/unwritable.env" TUNNEL_NAME=unwritable \
	SSH_KEY_PATH="$FX_DIR/svc/id_ed25519" SSH_KNOWN_HOSTS="$FX_DIR/svc/known_hosts" \
	TUNNEL_STATE_DIR="$FX_DIR/rootonly/state"
fx_give_tunnel "$FX_DIR/unwritable.env"
chown postgres "$FX_DIR/unwritable.env"	# 0600: it holds a password
fx_bg "$FX_DIR/unwritable.log" setpriv --reuid=postgres --regid=postgres --init-groups \
	"$FX_HELPER" --env-file "$FX_DIR/unwritable.env"
APP_PID=$FX_BG_PID
fx_wait_for 20 "unwritable connected" app_has_event unwritable connected
ok $? "unwritable state folder: events still reach the database (kept in memory)"
like "$(grep 'msg=spool_unwritable' "$FX_DIR/unwritable.log")" \
	"dir=$FX_DIR/rootonly/state error=\"Permission denied\" detail=\"events kept in memory only, not across a restart; TUNNEL_STATE_DIR must be a folder writable by the user chatgenius-tunnel runs as \\(postgres, uid" \
	"unwritable state folder: the warning says what, why and for whom"
is "$(app_log_count unwritable 'msg=spool_unwritable')" 1 "unwritable state folder: one warning"
is "$(app_tunnel_psql "$APP_PORT" -c 'SELECT 3')" 3 "unwritable state folder: the tunnel works"
stop_helper
is "$APP_RC" 0 "unwritable state folder: clean stop (exit 0)"
fault_end fault unwritable-state-dir

# ---------------------------------------------------------------- group-writable state folder
fault_begin
mkdir -p "$FX_DIR/shared"
chmod 775 "$FX_DIR/shared"
app_start groupw TUNNEL_STATE_DIR="$FX_DIR/shared"
fx_wait_for 20 "groupw connected" app_has_event groupw connected
ok $? "group-writable state folder: the tunnel comes up, events kept in memory"
like "$(grep 'msg=spool_unwritable' "$FX_DIR/groupw.log")" \
	"Bad owner or permissions on $FX_DIR/shared \\(owner uid 0, mode 0775\\)" \
	"group-writable state folder: refused as OpenSSH refuses ~/.ssh"
is "$(find "$FX_DIR/shared" -name '*.spool' | wc -l)" 0 "group-writable state folder: no spool written there"
stop_helper
is "$APP_RC" 0 "group-writable state folder: clean stop"
fault_end refused-input state-dir-group-writable

done_testing
