# shellcheck shell=bash
# The shared test fixture: a throwaway PostgreSQL cluster and a loopback sshd,
# each in a temp folder, on free ports, torn down on exit.  The tests, the demo
# and the benchmarks all source this file; nothing here touches system
# services.
#
#   . test/lib/fixture.sh
#   fx_init                 # temp folder + cleanup trap
#   fx_pg_start             # cluster; exports PGHOST PGPORT PGUSER PGDATABASE
#   fx_sshd_start           # sshd; exports FX_SSH_PORT FX_SSH_KEY FX_KNOWN_HOSTS
#   fx_env_file PATH        # a .env.local for chatgenius-tunnel pointing at both
#
# Must run as root: the cluster runs as user postgres (initdb refuses root),
# sshd needs root to authenticate.

# Sourced once (the libraries below source it too): a second time would
# forget the processes to clean up.
[ -n "${FX_FIXTURE_SH:-}" ] && return 0
FX_FIXTURE_SH=1

FX_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
FX_PGBIN=${FX_PGBIN:-$(pg_config --bindir)}
# The extension's newest version: chatgenius.control's default_version.
FX_NEWEST=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$FX_TOP/chatgenius.control")
FX_SSHD=${FX_SSHD:-/usr/sbin/sshd}
# The role and database the app (and the tunnel's health check) uses.
FX_APP_USER=${FX_APP_USER:-chat}
FX_APP_PASSWORD=${FX_APP_PASSWORD:-chat-secret}
FX_APP_DB=${FX_APP_DB:-chatgenius}
# The superuser's password over TCP (setup through the tunnel needs a superuser:
# the extension is superuser-installed).
FX_SUPER_PASSWORD=${FX_SUPER_PASSWORD:-postgres-secret}
FX_PIDS=()
# Functions that fx_cleanup calls first (say, to stop a second cluster).
FX_CLEANUP_HOOKS=()

fx_log()
{
	printf '%s %s\n' "$(date +%H:%M:%S)" "$*" >&2
}

fx_die()
{
	fx_log "FATAL: $*"
	exit 1
}

# fx_init [NAME]: make the fixture's temp folder and arrange cleanup on exit.
fx_init()
{
	[ "$(id -u)" -eq 0 ] || fx_die "the fixture must run as root"
	FX_DIR=$(mktemp -d "/tmp/chatgenius-${1:-fx}.XXXXXX")
	chmod 755 "$FX_DIR"
	export FX_DIR
	trap fx_cleanup EXIT
	trap 'exit 130' INT TERM
}

# fx_free_port: print a TCP port on 127.0.0.1 that nothing is bound to now,
# reserved for this test until it ends.
FX_PORT_DIR=${FX_PORT_DIR:-/tmp/chatgenius-ports}
fx_free_port()
{
	# Below the kernel's ephemeral range (ip_local_port_range, 32768 and up
	# by default; above it where it is set below 21000), so that no
	# outgoing connection's source port and no bind to port 0 (of this
	# test or of one running beside it) can take the port between this
	# pick and the server's bind; and reserved in
	# FX_PORT_DIR (one folder per port, naming the test's shell), so that
	# two tests running at once never pick the same one.  A reservation
	# whose shell is gone is taken over.
	perl -MIO::Socket::INET -e '
		my ($dir, $owner) = @ARGV;
		mkdir $dir; chmod 01777, $dir;
		my ($lo, $hi) = (20000, 32767);
		if (open(my $r, "<", "/proc/sys/net/ipv4/ip_local_port_range")) {
			my ($e, $h) = split " ", scalar <$r>;
			if ($e && $e - 1 < $hi && $e - 1 > $lo + 1000) {
				$hi = $e - 1;
			} elsif ($e && $e <= $lo + 1000 && $h && $h < 64535) {
				($lo, $hi) = ($h + 1, 65535);	# a range set low: the ports above it
			}
		}
		for (1 .. 2000) {
			my $p = $lo + int(rand($hi - $lo + 1));
			my $lock = "$dir/$p";
			if (!mkdir $lock) {
				open(my $f, "<", "$lock/owner") or next;
				my $pid = <$f>;
				close $f;
				next if !defined $pid || $pid !~ /^\d+$/ || kill(0, $pid);
				unlink "$lock/owner";
				rmdir $lock;
				mkdir $lock or next;
			}
			my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => "127.0.0.1",
				LocalPort => $p, ReuseAddr => 0);
			if (!$s) { rmdir $lock; next; }
			close $s;
			open(my $f, ">", "$lock/owner") or die "reserve port $p: $!";
			print $f "$owner\n";
			close $f;
			print "$p\n";
			exit 0;
		}
		die "no free port in $lo-$hi\n";' "$FX_PORT_DIR" "$$"
}

# fx_release_ports: give back the ports this test reserved (fx_cleanup).
fx_release_ports()
{
	local lock
	for lock in "$FX_PORT_DIR"/*; do
		[ "$(cat "$lock/owner" 2>/dev/null)" = "$$" ] || continue
		rm -f "$lock/owner"
		rmdir "$lock" 2>/dev/null
	done
}

# fx_wait_for TIMEOUT_SECONDS DESCRIPTION CMD...: poll CMD every 50 ms until it
# succeeds; fail (return 1) with a message after the timeout.
fx_wait_for()
{
	local timeout=$1 what=$2
	shift 2
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			fx_log "timed out after ${timeout}s waiting for: $what"
			return 1
		fi
		sleep 0.05
	done
}

# fx_need CMD...: the commands a test runs, each on PATH, else the test
# ends as a setup error that says how to get them (test/deps.sh installs
# every package the tests need).
fx_need()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null || bail_out "$c missing (bash test/deps.sh)"
	done
}

# fx_node_path: NODE_PATH exported so that node finds node-postgres,
# Debian's (/usr/share/nodejs) or npm's global one, for the tests that
# connect as a Node.js app does.
fx_node_path()
{
	NODE_PATH=/usr/share/nodejs:$(npm root -g 2>/dev/null || echo /usr/lib/node_modules)
	export NODE_PATH
}

# fx_times N CMD...: run CMD N times (each a new client, say); prints how
# many of them succeeded.
fx_times()
{
	local n=$1 i good=0
	shift
	for ((i = 0; i < n; i++)); do
		"$@" && good=$((good + 1))
	done
	echo "$good"
}

# fx_wait_output TIMEOUT WHAT WANT CMD...: poll until CMD prints WANT.
# (fx_wait_for with `test "$(CMD)" = WANT` would run CMD once, when the
# arguments are built, and then wait on that one answer.)
fx_output_is()
{
	local want=$1
	shift
	[ "$("$@" 2>/dev/null)" = "$want" ]
}
fx_wait_output()
{
	local timeout=$1 what=$2
	shift 2
	fx_wait_for "$timeout" "$what" fx_output_is "$@"
}

# fx_port_open PORT: true when something accepts TCP connections on it.
fx_port_open()
{
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# fx_bg LOGFILE CMD...: start CMD in the background, remember its pid in
# FX_BG_PID and in the list of processes that cleanup kills.
fx_bg()
{
	local log=$1
	shift
	"$@" >>"$log" 2>&1 &
	FX_BG_PID=$!
	FX_PIDS+=("$FX_BG_PID")
}

# ---------------------------------------------------------------- PostgreSQL

# ------------------------------------------------------- other users' work
# A checkout may be readable by its owner alone (a clone in /root, mode
# 0700), so nothing that runs as another user (postgres, nobody, a service
# user) may read it or start in it.  Such work starts in a folder of that
# user's own under FX_DIR, and any file of the checkout it needs is copied
# there first (fx_copy_for).

# fx_user_dir USER: print USER's own folder under FX_DIR (made on first use,
# mode 0700, owned by USER).
fx_user_dir()
{
	local d=$FX_DIR/as-$1
	if [ ! -d "$d" ]; then
		mkdir -p "$d" && chown "$1": "$d" && chmod 700 "$d" ||
			fx_die "cannot make a folder for user $1"
	fi
	printf '%s\n' "$d"
}

# fx_copy_for USER FILE: copy FILE (a tool of the checkout) into USER's
# folder, readable by USER; print the copy's path.
fx_copy_for()
{
	local d
	d=$(fx_user_dir "$1") || return 1
	install -o "$1" -m 0500 "$2" "$d/$(basename "$2")" || fx_die "cannot copy $2 for user $1"
	printf '%s\n' "$d/$(basename "$2")"
}

# fx_as USER CMD...: run CMD as USER, started in USER's own folder.
fx_as()
{
	fx_as_prefix "$1" || return 1
	"${FX_AS[@]}" "${@:2}"
}

# fx_as_prefix USER: set FX_AS to the words that run a command as USER in
# USER's own folder, for a caller that starts it in the background and keeps
# its pid: fx_bg LOG "${FX_AS[@]}" CMD... gives runuser's pid (env executes
# it), whose child is CMD, and runuser passes a TERM on to CMD.
fx_as_prefix()
{
	local d
	d=$(fx_user_dir "$1") || return 1
	FX_AS=(env -C "$d" runuser -u "$1" --)
}

# fx_as_postgres CMD...: run CMD as user postgres (see fx_as).
fx_as_postgres()
{
	fx_as postgres "$@"
}

# fx_pg_start: initdb (as postgres) and start a cluster on a free port,
# listening on its socket folder and on 127.0.0.1 (password auth over TCP,
# trust on the socket).  Creates the app's role and database.  FX_PG_PORT and
# FX_PG_LISTEN (listen_addresses), when set, replace the free port and
# 127.0.0.1 (test/lib/standby.sh sets both).
fx_pg_start()
{
	FX_PG_DIR=$FX_DIR/pg
	FX_PG_PORT=${FX_PG_PORT:-$(fx_free_port)}
	mkdir -p "$FX_PG_DIR"
	chown postgres: "$FX_PG_DIR"
	fx_as_postgres "$FX_PGBIN/initdb" -D "$FX_PG_DIR/data" -U postgres \
		-A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$FX_DIR/initdb.log" 2>&1 ||
		fx_die "initdb failed: $(tail -5 "$FX_DIR/initdb.log")"
	cat >>"$FX_PG_DIR/data/postgresql.conf" <<-EOF
		port = $FX_PG_PORT
		listen_addresses = '${FX_PG_LISTEN:-127.0.0.1}'
		unix_socket_directories = '$FX_PG_DIR'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		max_connections = 100
		log_min_messages = warning
		timezone = 'UTC'
		# the realtime notifier (a background worker) needs the library at
		# start; FX_PG_PRELOAD= (empty) starts a server without it
		shared_preload_libraries = '${FX_PG_PRELOAD-chatgenius}'
	EOF
	cat >"$FX_PG_DIR/data/pg_hba.conf" <<-EOF
		local all all trust
		host all all 127.0.0.1/32 scram-sha-256
		host all all ::1/128 scram-sha-256
	EOF
	fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$FX_PG_DIR/data" -l "$FX_PG_DIR/server.log" \
		-w -t 60 start >/dev/null || fx_die "postgres did not start: $(tail -5 "$FX_PG_DIR/server.log")"
	export PGHOST=$FX_PG_DIR PGPORT=$FX_PG_PORT PGUSER=postgres PGDATABASE=postgres
	psql -qX -v ON_ERROR_STOP=1 >/dev/null <<-EOF || fx_die "could not create the app role"
		ALTER ROLE postgres PASSWORD '$FX_SUPER_PASSWORD';
		CREATE ROLE "$FX_APP_USER" LOGIN PASSWORD '$FX_APP_PASSWORD';
		CREATE DATABASE "$FX_APP_DB" OWNER "$FX_APP_USER";
	EOF
	fx_log "postgres up on 127.0.0.1:$FX_PG_PORT (socket $FX_PG_DIR)"
}

# fx_pg_stop: fast shutdown of the cluster.
fx_pg_stop()
{
	[ -n "${FX_PG_DIR:-}" ] && [ -f "$FX_PG_DIR/data/postmaster.pid" ] || return 0
	fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$FX_PG_DIR/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
		fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$FX_PG_DIR/data" -m immediate stop >/dev/null 2>&1
}

# fx_pg_start_again: start the cluster that fx_pg_stop stopped, with the same
# data folder and port (a database server coming back after an outage).
# Waits until it accepts connections.
fx_pg_start_again()
{
	[ -n "${FX_PG_DIR:-}" ] || fx_die "fx_pg_start_again before fx_pg_start"
	[ -f "$FX_PG_DIR/data/postmaster.pid" ] && return 0
	fx_as_postgres "$FX_PGBIN/pg_ctl" -D "$FX_PG_DIR/data" -l "$FX_PG_DIR/server.log" \
		-w -t 60 start >/dev/null || fx_die "postgres did not start again: $(tail -5 "$FX_PG_DIR/server.log")"
	fx_log "postgres up again on 127.0.0.1:$FX_PG_PORT"
}

# fx_psql [ARGS...]: psql as superuser on the socket, quiet, stop on error.
fx_psql()
{
	psql -qX -v ON_ERROR_STOP=1 "$@"
}

# ---------------------------------------------------------------- sshd

# fx_ssh_keys: the host key, the user's ed25519 key (0600), authorized_keys
# and a known_hosts line for [127.0.0.1]:port.  Called by fx_sshd_start.
fx_ssh_keys()
{
	FX_SSH_DIR=$FX_DIR/ssh
	mkdir -p "$FX_SSH_DIR"
	chmod 700 "$FX_SSH_DIR"
	[ -f "$FX_SSH_DIR/host_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C chatgenius-test-host -f "$FX_SSH_DIR/host_ed25519"
	[ -f "$FX_SSH_DIR/id_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C chatgenius-test-user -f "$FX_SSH_DIR/id_ed25519"
	cp "$FX_SSH_DIR/id_ed25519.pub" "$FX_SSH_DIR/authorized_keys"
	export FX_SSH_KEY=$FX_SSH_DIR/id_ed25519
	export FX_KNOWN_HOSTS=$FX_SSH_DIR/known_hosts
	export FX_SSH_USER=root
}

# fx_sshd_config FILE [EXTRA sshd_config LINES...]: write a config for a
# loopback sshd on FX_SSH_PORT that takes keys only.
fx_sshd_config()
{
	local file=$1
	shift
	{
		cat <<-EOF
			Port $FX_SSH_PORT
			ListenAddress 127.0.0.1
			HostKey $FX_SSH_DIR/host_ed25519
			PidFile $FX_SSH_DIR/sshd-$FX_SSH_PORT.pid
			AuthorizedKeysFile $FX_SSH_DIR/authorized_keys
			StrictModes no
			UsePAM no
			PermitRootLogin prohibit-password
			AllowTcpForwarding yes
			LogLevel DEBUG1
			MaxStartups 100:30:200
			MaxSessions 100
		EOF
		local line
		for line in "$@"; do printf '%s\n' "$line"; done
		# First value wins in sshd_config, so defaults come after the extras.
		cat <<-EOF
			PubkeyAuthentication yes
			PasswordAuthentication no
			KbdInteractiveAuthentication no
		EOF
	} >"$file"
}

# fx_sshd_start [EXTRA sshd_config LINES...]: keys, config, and an sshd on a
# free loopback port (the same port again after fx_sshd_stop).  Waits until
# the port accepts.  FX_SSHD_PID is the daemon's pid.
fx_sshd_start()
{
	[ -n "${FX_SSH_DIR:-}" ] || fx_ssh_keys
	FX_SSH_PORT=${FX_SSH_PORT:-$(fx_free_port)}
	export FX_SSH_PORT
	mkdir -p /run/sshd
	chmod 755 /run/sshd
	printf '[127.0.0.1]:%s %s\n' "$FX_SSH_PORT" "$(cut -d' ' -f1-2 "$FX_SSH_DIR/host_ed25519.pub")" \
		>"$FX_KNOWN_HOSTS"
	fx_sshd_config "$FX_SSH_DIR/sshd_config" "$@"
	"$FX_SSHD" -t -f "$FX_SSH_DIR/sshd_config" >"$FX_SSH_DIR/sshd-t.log" 2>&1 ||
		fx_die "bad sshd config: $(grep -v debug "$FX_SSH_DIR/sshd-t.log")"
	fx_bg "$FX_SSH_DIR/sshd.log" "$FX_SSHD" -D -e -f "$FX_SSH_DIR/sshd_config"
	FX_SSHD_PID=$FX_BG_PID
	fx_wait_for 20 "sshd on port $FX_SSH_PORT" fx_port_open "$FX_SSH_PORT" ||
		fx_die "sshd did not start: $(tail -5 "$FX_SSH_DIR/sshd.log")"
	fx_log "sshd up on 127.0.0.1:$FX_SSH_PORT (pid $FX_SSHD_PID)"
}

# fx_descendants PID: print PID and every process below it.
fx_descendants()
{
	local pid=$1 child
	echo "$pid"
	for child in $(pgrep -P "$pid" 2>/dev/null); do
		fx_descendants "$child"
	done
}

# fx_sshd_signal SIGNAL: send SIGNAL to this fixture's sshd and every session
# process it forked (collected first, so that none escapes by re-parenting).
fx_sshd_signal()
{
	[ -n "${FX_SSHD_PID:-}" ] || return 0
	local pids
	pids=$(fx_descendants "$FX_SSHD_PID")
	# shellcheck disable=SC2086
	kill "-$1" $pids 2>/dev/null
	return 0
}

# fx_sshd_stop: kill sshd and every session it forked (as a crashed bastion
# would), and wait until the port is free.
fx_sshd_stop()
{
	[ -n "${FX_SSHD_PID:-}" ] || return 0
	fx_sshd_signal CONT
	fx_sshd_signal KILL
	wait "$FX_SSHD_PID" 2>/dev/null || true
	FX_SSHD_PID=
	fx_wait_for 10 "sshd port $FX_SSH_PORT to close" fx_port_closed "$FX_SSH_PORT"
}

fx_port_closed()
{
	! fx_port_open "$1"
}

# fx_ssh_l: OpenSSH's own forwarding to this fixture's cluster, for a
# comparison: ssh -N -L on a free port (SSH_L_PORT), same sshd, same key,
# strict host key checking, in the background (SSH_PID).  Returns once the
# port accepts, or 1 with ssh's words on stderr.
fx_ssh_l()
{
	SSH_L_PORT=$(fx_free_port)
	fx_bg "$FX_DIR/ssh.log" ssh -N -o BatchMode=yes -o StrictHostKeyChecking=yes \
		-o UserKnownHostsFile="$FX_KNOWN_HOSTS" -o ExitOnForwardFailure=yes \
		-i "$FX_SSH_KEY" -p "$FX_SSH_PORT" -L "127.0.0.1:$SSH_L_PORT:127.0.0.1:$FX_PG_PORT" \
		"$FX_SSH_USER@127.0.0.1"
	SSH_PID=$FX_BG_PID
	fx_wait_for 20 "ssh -L port" fx_port_open "$SSH_L_PORT" || {
		cat "$FX_DIR/ssh.log" >&2
		return 1
	}
}

# fx_sshd_freeze / fx_sshd_thaw: SIGSTOP / SIGCONT this fixture's sshd and its
# sessions: the TCP connections stay up, nothing answers.
fx_sshd_freeze()
{
	fx_sshd_signal STOP
}

fx_sshd_thaw()
{
	fx_sshd_signal CONT
}

# ---------------------------------------------------------------- the helper

FX_HELPER=${FX_HELPER:-$FX_TOP/helper/chatgenius-tunnel}

# fx_env_file PATH [KEY=VALUE...]: a .env.local for chatgenius-tunnel pointing
# at this fixture's sshd and cluster, with a free local port; extra
# assignments replace the defaults of the same name.
fx_env_file()
{
	local path=$1
	shift
	FX_TUNNEL_PORT=${FX_TUNNEL_PORT:-$(fx_free_port)}
	{
		cat <<-EOF
			# written by test/lib/fixture.sh
			POSTGRES_DB=$FX_APP_DB
			POSTGRES_USER=$FX_APP_USER
			POSTGRES_PASSWORD=$FX_APP_PASSWORD
			POSTGRES_PORT=$FX_TUNNEL_PORT
			SSH_HOST=127.0.0.1
			SSH_PORT=$FX_SSH_PORT
			SSH_USER=$FX_SSH_USER
			SSH_KEY_PATH=$FX_SSH_KEY
			SSH_KNOWN_HOSTS=$FX_KNOWN_HOSTS
			POSTGRES_REMOTE_HOST=127.0.0.1
			POSTGRES_REMOTE_PORT=$FX_PG_PORT
			SSH_MAX_RETRIES=3
			SSH_RETRY_DELAY=200
			SSH_HEALTH_CHECK_INTERVAL=1000
			TUNNEL_STATE_DIR=$FX_DIR/state
		EOF
	} >"$path"
	# Extra assignments replace a default of the same name (so the file reads
	# as the helper will take it); anything else is appended as given.
	local kv key
	for kv in "$@"; do
		key=${kv%%=*}
		if [ "$key" != "$kv" ] && [[ $key =~ ^[A-Z_][A-Z0-9_]*$ ]]; then
			grep -v "^$key=" "$path" >"$path.tmp" || true
			mv "$path.tmp" "$path"
		fi
		printf '%s\n' "$kv" >>"$path"
	done
	chmod 600 "$path"
}

# fx_give_tunnel ENV_FILE [PSQL...]: what setup does for a deployment since
# 1.11: give the env file's TUNNEL_NAME to its POSTGRES_USER, in its
# POSTGRES_DB, as the superuser (chatgenius.add_tunnel), so that the helper
# may write its status and events; PSQL (default: psql, the fixture's
# cluster) reaches the server.  Nothing when that database has no
# add_tunnel(), when the role is a superuser (it writes every name), or when
# another role writes the name already (the tests of that refusal need it so).
fx_give_tunnel()
{
	local env=$1 name user db
	shift
	[ $# -gt 0 ] || set -- psql
	name=$(sed -n 's/^TUNNEL_NAME=//p' "$env" | tail -n 1)
	user=$(sed -n 's/^POSTGRES_USER=//p' "$env" | tail -n 1)
	db=$(sed -n 's/^POSTGRES_DB=//p' "$env" | tail -n 1)
	[ -n "$name" ] && [ -n "$user" ] && [ -n "$db" ] || return 0
	# (a refusal or an absent extension is no failure: set -e callers go on)
	PGOPTIONS='-c search_path=pg_catalog' "$@" -qXAt -d "$db" -v "name=$name" -v "role=$user" \
		>/dev/null 2>&1 <<-'EOF' || true
		SELECT chatgenius.add_tunnel(:'name', :'role')
		 WHERE NOT coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = :'role'), true);
	EOF
	return 0
}

# fx_app_psql [ARGS...]: psql as the app role through the tunnel on
# FX_TUNNEL_PORT (PGCONNECT_TIMEOUT from the caller's environment applies).
fx_app_psql()
{
	PGPASSWORD=$FX_APP_PASSWORD psql -qX -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$FX_TUNNEL_PORT" \
		-U "$FX_APP_USER" -d "$FX_APP_DB" "$@"
}

# fx_exited PID: true once the child PID has exited (a zombie or gone).
fx_exited()
{
	local state
	state=$(ps -o stat= -p "$1" 2>/dev/null) || return 0
	[[ $state == Z* ]]
}

# fx_wait_exit PID TIMEOUT: wait up to TIMEOUT seconds for the child PID to
# exit; FX_RC is its exit status, or "timeout" (and return 1).  Must run in
# the shell that started PID: wait(1) needs the parent.
fx_wait_exit()
{
	FX_RC=timeout
	fx_wait_for "$2" "pid $1 to exit" fx_exited "$1" || return 1
	wait "$1" 2>/dev/null
	FX_RC=$?
}

# ---------------------------------------------------------------- cleanup

fx_cleanup()
{
	local rc=$?
	local pid hook
	# Processes may be gone already: nothing here may abort the cleanup.
	set +e
	for hook in "${FX_CLEANUP_HOOKS[@]}"; do
		"$hook"
	done
	fx_sshd_signal CONT
	fx_sshd_signal KILL
	for pid in "${FX_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	for pid in "${FX_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	fx_pg_stop
	fx_release_ports
	if [ -n "${FX_DIR:-}" ] && [ -d "$FX_DIR" ]; then
		if [ "$rc" -ne 0 ] && [ -n "${FX_KEEP_ON_FAILURE:-}" ]; then
			fx_log "kept $FX_DIR for inspection"
		else
			rm -rf "$FX_DIR"
		fi
	fi
	return "$rc"
}
