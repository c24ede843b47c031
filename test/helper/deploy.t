#!/usr/bin/env bash
# The "Deploying" section of doc/operations.md, word for word, in a temporary root (its
# /etc and /var/lib), against the fixture's sshd and cluster.  The commands
# of each fenced block marked <!-- deploy:NAME --> are run as written, with
# the site's facts put in (host, ports, key, roles) and paths moved under the
# temporary root.  systemd is emulated from the unit file itself: its
# Environment= lines, then EnvironmentFile= as systemd reads it (if any),
# StateDirectory= ($STATE_DIRECTORY, owned by User=), ExecStart in
# WorkingDirectory as User= and Group=, and ExecReload.  The files are owned
# as the section says (the service user, made by its adduser line when
# missing, and left in place, as that line leaves it), and setup runs as
# root, as the section says.
# Covers the tunnel coming up, setup as a superuser while the env file holds
# the unprivileged role, a reload that changes a setting, a reload of a
# broken file, a stop, and each operator mistake with its message and exit
# code.
#
# DEPLOY_SRC (default: this tree) gives helper/.env.example and the unit;
# DEPLOY_HELPER (default: $(pg_config --bindir)/chatgenius-tunnel) the program.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
. "$TOP/test/lib/fixture.sh"
. "$TOP/test/lib/doc.sh"
fx_init deploy

SRC=${DEPLOY_SRC:-$TOP}
HELPER=${DEPLOY_HELPER:-$(pg_config --bindir)/chatgenius-tunnel}
[ -x "$HELPER" ] || bail_out "install the helper first: make install"
fx_pg_start
fx_sshd_start
ROOT=$FX_DIR/root
mkdir -p "$ROOT/etc/systemd/system" "$ROOT/var/lib"
UNIT_LOG=$FX_DIR/journal.log
TUNNEL_PORT=$(fx_free_port)
UNIT_PID=

# deploy_block NAME: the commands of the block marked <!-- deploy:NAME -->.
deploy_block()
{
	doc_block "deploy:$1"
}

# site LINE: a documented line with this site's facts and the temporary root.
site()
{
	local l=$1
	l=${l//\/etc\//$ROOT/etc/}
	l=${l//helper\//$SRC/helper/}
	l=${l//tunnel_ed25519 /$FX_SSH_KEY }
	l=${l//-p 22 db.example.com/-p $FX_SSH_PORT 127.0.0.1}
	l=${l//chatgenius-tunnel setup/$HELPER setup}
	printf '%s\n' "$l"
}

# run_block NAME: run the block's commands in this shell (systemctl and
# journalctl are the emulations below).  make install was run by the test
# command: that line is checked, not run.
run_block()
{
	local line
	while IFS= read -r line; do
		case $line in
		'make install'*)
			[ -x "$(pg_config --bindir)/chatgenius-tunnel" ] || return 1
			continue
			;;
		esac
		eval "$(site "$line")" || {
			diag "failed: $(site "$line")"
			return 1
		}
	done < <(deploy_block "$1")
}

# ---------------------------------------------------------------- the unit, emulated

# The unit make install put under the tree's /usr/local (ExecStart= names
# the installed program by its full path).
unit_file()
{
	printf '%s\n' "${PG_TREE:-$(pg_config --bindir)/../../../../..}/usr/local/lib/systemd/system/chatgenius-tunnel.service"
}

# unit_values KEY: the values of KEY= in the [Service] section, in order,
# with %S (the state root) expanded.
unit_values()
{
	sed -n "s/^$1=//p" "$(unit_file)" | sed "s|%S|$ROOT/var/lib|g"
}

# systemd_env_file PATH: KEY=VALUE words as systemd's EnvironmentFile=
# reads them: # and ; comments, no "export", quotes around the whole value
# removed, everything else (an inline " # note") kept.
systemd_env_file()
{
	local line key value
	while IFS= read -r line || [ -n "$line" ]; do
		[[ $line =~ ^[[:space:]]*([#\;]|$) ]] && continue
		[[ $line =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)[[:space:]]*=(.*)$ ]] || continue
		key=${BASH_REMATCH[1]}
		value=${BASH_REMATCH[2]}
		value=${value#"${value%%[![:space:]]*}"}
		if [[ $value =~ ^\'(.*)\'(.*)$ ]] || [[ $value =~ ^\"(.*)\"(.*)$ ]]; then
			value=${BASH_REMATCH[1]}${BASH_REMATCH[2]}
		fi
		printf '%s=%s\n' "$key" "$value"
	done <"$1"
}

# unit_start [EXTRA ARGS...]: start the service as systemd would; UNIT_PID.
unit_start()
{
	local envs=() e f wd cmd
	local state=$ROOT/var/lib/$(unit_values StateDirectory)
	mkdir -p "$state"
	chmod "$(unit_values StateDirectoryMode)" "$state"
	chown "$(unit_values User):$(unit_values Group)" "$state"
	envs=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
		HOME="$ROOT/var/lib/chatgenius-tunnel" USER=chatgenius-tunnel LOGNAME=chatgenius-tunnel
		STATE_DIRECTORY="$state")
	while IFS= read -r e; do
		[ -n "$e" ] && envs+=("$(site "$e")")
	done < <(unit_values Environment)
	while IFS= read -r f; do
		[ -n "$f" ] || continue
		f=$(site "$f")
		[[ $f == -* ]] && { f=${f#-}; [ -r "$f" ] || continue; }
		mapfile -t -O "${#envs[@]}" envs < <(systemd_env_file "$f")
	done < <(unit_values EnvironmentFile)
	wd=$(unit_values WorkingDirectory)
	cmd=$(site "$(unit_values ExecStart)")
	# systemd finds a bare name on its search path: /usr/local/bin is the
	# link make install made to $(pg_config --bindir)/chatgenius-tunnel.
	read -r -a cmd <<<"$cmd"
	[[ ${cmd[0]} == */* ]] || cmd[0]=$HELPER
	[[ ${cmd[0]} == */chatgenius-tunnel ]] && cmd[0]=$HELPER
	: >"$UNIT_LOG"
	(cd "$wd" && exec env -i "${envs[@]}" setpriv --reuid="$(unit_values User)" \
		--regid="$(unit_values Group)" --init-groups "${cmd[@]}" "$@") >>"$UNIT_LOG" 2>&1 &
	UNIT_PID=$!
	FX_PIDS+=("$UNIT_PID")
}

systemctl()
{
	case $1 in
	daemon-reload) [ -f "$(unit_file)" ] ;;
	enable) [ "${2:-}" = --now ] && unit_start ;;
	reload)
		local MAINPID=$UNIT_PID
		eval "$(unit_values ExecReload | sed 's/\$MAINPID/$MAINPID/')"
		;;
	stop) kill -TERM "$UNIT_PID" ;;
	esac
}

journalctl()
{
	tail -n 20 "$UNIT_LOG"
}

journal_has()
{
	grep -qE -- "$1" "$UNIT_LOG"
}

sql()
{
	psql -qXAt -v ON_ERROR_STOP=1 -d "$FX_APP_DB" -c "$1"
}

# the site's facts for /etc/chatgenius-tunnel/env, in the documented forms
fill_env()
{
	local env=$ROOT/etc/chatgenius-tunnel/env line key value
	while IFS= read -r line; do
		key=${line%%=*}
		case $key in
		POSTGRES_DB) value="export POSTGRES_DB=$FX_APP_DB" ;;
		POSTGRES_USER) value="POSTGRES_USER=$FX_APP_USER" ;;
		POSTGRES_PASSWORD) value="POSTGRES_PASSWORD='$FX_APP_PASSWORD'   # ${line#*# }" ;;
		SSH_HOST) value="SSH_HOST=127.0.0.1" ;;
		SSH_USER) value="SSH_USER=$FX_SSH_USER" ;;
		*) continue ;;
		esac
		sed -i "s|^$key=\$|$value|" "$env"
		grep -qxF -- "$value" "$env" || diag "could not fill in $key"
	done < <(deploy_block env)
	# facts of this site that differ from the defaults: uncomment and set
	sed -i -e "s|^# SSH_PORT=22\$|SSH_PORT=$FX_SSH_PORT|" \
		-e "s|^# POSTGRES_PORT=5432\$|POSTGRES_PORT=$TUNNEL_PORT|" \
		-e "s|^# POSTGRES_REMOTE_HOST=localhost\$|POSTGRES_REMOTE_HOST=127.0.0.1|" \
		-e "s|^# POSTGRES_REMOTE_PORT=5432\$|POSTGRES_REMOTE_PORT=$FX_PG_PORT|" \
		-e "s|^# SSH_HEALTH_CHECK_INTERVAL=30000\$|SSH_HEALTH_CHECK_INTERVAL=1000|" \
		-e "s|^# TUNNEL_NAME=\$|TUNNEL_NAME=deployed|" "$env"
}

# ---------------------------------------------------------------- install, as written

for b in install env setup start reload; do
	[ -n "$(deploy_block "$b")" ]
	ok $? "Deploying: the block deploy:$b is found"
done
run_block install
ok $? "Deploying: the install steps run as written"
ok "$([ -L "${PG_TREE:-$(pg_config --bindir)/../../../../..}/usr/local/bin/chatgenius-tunnel" ] && echo 0 || echo 1)" \
	"make install linked chatgenius-tunnel into <tree>/usr/local/bin (on PATH)"
is "$(stat -c %a "$ROOT/etc/chatgenius-tunnel")" 700 "/etc/chatgenius-tunnel is 0700"
is "$(stat -c %a "$ROOT/etc/chatgenius-tunnel/env")" 600 "the env file is 0600"
is "$(stat -c %U "$ROOT/etc/chatgenius-tunnel" "$ROOT"/etc/chatgenius-tunnel/{env,id_ed25519,known_hosts} | sort -u)" \
	chatgenius-tunnel "the folder, env file, key and known_hosts belong to the service user, as Deploying says"
is "$(unit_values User)" chatgenius-tunnel "the unit runs the helper as the service user"
like "$(cat "$ROOT/etc/chatgenius-tunnel/known_hosts")" "^\\[127.0.0.1\\]:$FX_SSH_PORT ssh-ed25519 " \
	"ssh-keyscan wrote the [host]:port entry"
is "$(unit_values EnvironmentFile)" "" "the unit has no EnvironmentFile= (the helper alone reads the env file)"
is "$(unit_values Environment)" "" "the unit sets no Environment= that the env file could contradict"
like "$(unit_values ExecStart)" "--env-file /etc/chatgenius-tunnel/env" "ExecStart passes --env-file (reload re-reads it)"
is "$(unit_values RestartPreventExitStatus)" "2 3" "exits 2 and 3 are not restarted"
if command -v systemd-analyze >/dev/null; then
	out=$(systemd-analyze verify "$(unit_file)" 2>&1)
	is "$?:$out" "0:" "systemd-analyze verify accepts the unit"
	out=$(systemd-analyze verify "$(dirname "$(unit_file)")/chatgenius-tunnel.socket" 2>&1)
	is "$?:$out" "0:" "systemd-analyze verify accepts the socket unit"
fi
# The temporary root stands for /: the example's paths move with it.
sed -i "s|/etc/chatgenius-tunnel/|$ROOT/etc/chatgenius-tunnel/|g" "$ROOT/etc/chatgenius-tunnel/env"
cp "$ROOT/etc/chatgenius-tunnel/env" "$FX_DIR/env.as-copied"

# ---------------------------------------------------------------- mistakes at start

# mistake DESCRIPTION CODE REGEX EDIT...: a fresh env file (filled in, then
# the sed EDITs), start the unit, expect exit CODE and a journal line.
mistake()
{
	local what=$1 code=$2 re=$3
	shift 3
	put_env
	local e
	for e in "$@"; do
		eval "$e"
	done
	unit_start
	fx_wait_exit "$UNIT_PID" 30
	cp "$UNIT_LOG" "$FX_DIR/journal.$UNIT_PID.log"
	is "$FX_RC" "$code" "mistake: $what: exit $code"
	journal_has "$re"
	ok $? "mistake: $what: the journal says: $(grep -m1 -oE -- "$re" "$UNIT_LOG" || tail -2 "$UNIT_LOG")"
}

ENV=$ROOT/etc/chatgenius-tunnel/env
# put_env: the filled-in env file back, owned and moded as Deploying installs it.
put_env()
{
	install -m 0600 -o chatgenius-tunnel -g chatgenius-tunnel "$FX_DIR/env.filled" "$ENV"
}
cp "$FX_DIR/env.as-copied" "$FX_DIR/env.filled"
mistake ".env.example copied, nothing filled in" 2 \
	'chatgenius-tunnel: Missing required environment variables: SSH_HOST, SSH_USER$'
fill_env
cp "$ENV" "$FX_DIR/env.filled"
mistake "a misspelled POSTGRES_PASWORD" 2 \
	'unknown variable POSTGRES_PASWORD at line [0-9]+ in env file ".*/etc/chatgenius-tunnel/env" \(did you mean POSTGRES_PASSWORD\?\)' \
	"sed -i 's/^POSTGRES_PASSWORD=/POSTGRES_PASWORD=/' \"\$ENV\""
mistake "a misspelled SSH_POOL_SIZ" 2 'unknown variable SSH_POOL_SIZ at line [0-9]+ .*\(did you mean SSH_POOL_SIZE\?\)' \
	"sed -i 's/^# SSH_POOL_SIZE=10/SSH_POOL_SIZ=4/' \"\$ENV\""
mistake "a lowercase ssh_port" 2 'unknown variable ssh_port at line [0-9]+ .*\(did you mean SSH_PORT\?\)' \
	"sed -i 's/^SSH_PORT=/ssh_port=/' \"\$ENV\""
mistake "TUNNEL_MAX_WAITING=-1" 2 'invalid value for TUNNEL_MAX_WAITING: "-1" \(expected an integer from 0 to 1000000\)' \
	"sed -i 's/^# TUNNEL_MAX_WAITING=64/TUNNEL_MAX_WAITING=-1/' \"\$ENV\""
mistake "SSH_POOL_SIZE=100" 2 'invalid value for SSH_POOL_SIZE: "100" \(expected an integer from 1 to 64\)' \
	"sed -i 's/^# SSH_POOL_SIZE=10/SSH_POOL_SIZE=100/' \"\$ENV\""
mistake "no env file" 2 "cannot read env file \".*/etc/chatgenius-tunnel/env\": No such file or directory" \
	"rm -f \"\$ENV\""
mistake "the host key not in known_hosts" 3 "No ED25519 host key is known for \\[127.0.0.1\\]:$FX_SSH_PORT" \
	"cp \"\$ROOT/etc/chatgenius-tunnel/known_hosts\" \"\$FX_DIR/kh\"" ": >\"\$ROOT/etc/chatgenius-tunnel/known_hosts\""
cp "$FX_DIR/kh" "$ROOT/etc/chatgenius-tunnel/known_hosts"
mistake "a key readable by others" 3 "Permissions 0644 for '.*/etc/chatgenius-tunnel/id_ed25519' are too open" \
	"chmod 0644 \"\$ROOT/etc/chatgenius-tunnel/id_ed25519\""
chmod 0600 "$ROOT/etc/chatgenius-tunnel/id_ed25519"
put_env

# ---------------------------------------------------------------- setup as a superuser

printf '127.0.0.1:*:%s:postgres:%s\n' "$FX_APP_DB" "$FX_SUPER_PASSWORD" >"$FX_DIR/pgpass"
chmod 600 "$FX_DIR/pgpass"
(export PGPASSFILE=$FX_DIR/pgpass; cd "$FX_DIR" && run_block setup) >"$FX_DIR/setup.out" 2>&1
ok $? "Deploying: setup --postgres-user postgres (password from PGPASSFILE) runs as written" ||
	diag "$(tail -5 "$FX_DIR/setup.out")"
is "$(sql "SELECT extversion FROM pg_extension WHERE extname = 'chatgenius'")" \
	"$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$TOP/chatgenius.control")" "setup created the extension"
SETUP=$(cat "$FX_DIR/setup.out")
# 1.11: a tunnel's role writes only the names a superuser gave it; setup,
# run as one, gives TUNNEL_NAME to the env file's role.
like "$SETUP" "Tunnel \"deployed\" is given to role \"$FX_APP_USER\"" "setup gives TUNNEL_NAME to the env file's role"
is "$(sql "SELECT state || ' ' || written_by FROM chatgenius.tunnel_status WHERE tunnel_name = 'deployed'")" \
	"stopped $FX_APP_USER" "the tunnel's first row is there, stopped until the service reports"
like "$SETUP" "msg=starting .*command=setup .*listen=127.0.0.1:ephemeral " "setup's first line does not claim the daemon's port"
like "$SETUP" "msg=listening .*listen=127.0.0.1:[0-9]+" "setup's listening line names its real port"
unlike "$SETUP" "listen=127.0.0.1:$TUNNEL_PORT" "setup never shows the daemon's port"
like "$SETUP" "config_warning .*variable=POSTGRES_PASSWORD .*for_role=$FX_APP_USER role=postgres" \
	"the env file's password (another role's) is not sent for postgres"

# No source holds the superuser's password and there is no terminal: the
# message names each source tried, and what it held.
(cd "$FX_DIR" && PGPASSFILE=$FX_DIR/no-such-pgpass timeout 120 "$HELPER" setup --env-file "$ENV" \
	--postgres-user postgres </dev/null) >"$FX_DIR/nopass.out" 2>&1
is "$?" 1 "setup without any password source: exit 1"
NOPASS=$(grep 'setup failed' "$FX_DIR/nopass.out")
like "$NOPASS" "setup failed: the database refused the login through the tunnel: " \
	"a missing password is a refused login, not an unreachable database"
like "$NOPASS" "fe_sendauth: no password supplied; tried for role postgres: POSTGRES_PASSWORD \\(not set for this role\\), PGPASSWORD \\(not set\\)" \
	"it names the role, POSTGRES_PASSWORD and PGPASSWORD"
like "$NOPASS" "PGPASSFILE $FX_DIR/no-such-pgpass \\(absent\\)" "and the password file PGPASSFILE names, absent"
like "$NOPASS" "the terminal prompt \\(stdin is not a terminal: run it on one to be asked\\)" "and that it prompts on a terminal"
(cd "$FX_DIR" && env -u PGPASSFILE HOME=/nonexistent timeout 120 "$HELPER" setup --env-file "$ENV" \
	--postgres-user postgres </dev/null) >"$FX_DIR/nopass-home.out" 2>&1
like "$(grep 'setup failed' "$FX_DIR/nopass-home.out")" "~/\\.pgpass $(getent passwd "$(id -un)" | cut -d: -f6)/\\.pgpass of user $(id -un) \\(" \
	"without PGPASSFILE, the ~/.pgpass of the user it runs as (libpq reads the user's home, not \$HOME)"

# A password typed at the prompt on a terminal (no .pgpass, nothing in the environment).
sql "DROP EXTENSION chatgenius" >/dev/null
mkfifo "$FX_DIR/tty.in"
: >"$FX_DIR/prompt.out"
(cd "$FX_DIR" && exec script -qec "$HELPER setup --env-file $ENV --postgres-user postgres" /dev/null \
	<"$FX_DIR/tty.in" >"$FX_DIR/prompt.out" 2>&1) &
PROMPT_PID=$!
exec 7<>"$FX_DIR/tty.in"
fx_wait_for 30 "password prompt" grep -q "Password for user postgres: " "$FX_DIR/prompt.out"
ok $? "setup asks for the superuser's password on the terminal, with psql's words"
printf '%s\n' "$FX_SUPER_PASSWORD" >&7
exec 7>&-
fx_wait_exit "$PROMPT_PID" 60
is "$FX_RC" 0 "setup goes on with the password typed at the prompt" || diag "$(tail -5 "$FX_DIR/prompt.out")"
is "$(sql "SELECT count(*) FROM pg_extension WHERE extname = 'chatgenius'")" 1 "the extension is back"

# libpq's own sources: a service from PGSERVICEFILE names the database, the
# role and its password; no POSTGRES_DB, POSTGRES_USER or POSTGRES_PASSWORD.
printf '[chatsetup]\ndbname=%s\nuser=postgres\npassword=%s\n' "$FX_APP_DB" "$FX_SUPER_PASSWORD" >"$FX_DIR/pg_service.conf"
grep -vE '^(export )?POSTGRES_(DB|USER|PASSWORD)=' "$ENV" >"$FX_DIR/service.env"
(cd "$FX_DIR" && PGSERVICEFILE=$FX_DIR/pg_service.conf timeout 120 "$HELPER" setup \
	--env-file "$FX_DIR/service.env" --postgres-service chatsetup) >"$FX_DIR/service.out" 2>&1
is "$?" 0 "setup with a libpq service (PGSERVICEFILE): database, role and password from the service file" ||
	diag "$(tail -3 "$FX_DIR/service.out")"
like "$(cat "$FX_DIR/service.out")" "chatgenius [0-9.]+ is up to date" "and it reached the database as the superuser"

# POSTGRES_PASSFILE in the env file: libpq's password file, named by the helper.
{ cat "$ENV"; printf 'POSTGRES_PASSFILE=%s\n' "$FX_DIR/pgpass"; } >"$FX_DIR/passfile.env"
chmod 600 "$FX_DIR/passfile.env"	# it holds the env file's POSTGRES_PASSWORD
(cd "$FX_DIR" && timeout 120 "$HELPER" setup --env-file "$FX_DIR/passfile.env" --postgres-user postgres) \
	>"$FX_DIR/passfile.out" 2>&1
is "$?" 0 "setup with POSTGRES_PASSFILE: the superuser's password from libpq's password file" ||
	diag "$(tail -3 "$FX_DIR/passfile.out")"

# the documented grants for the helper's role (doc/extension.md, Privileges)
doc_block test/security/helper_roles.t | sed -n '/^-- the helper.s role/,$p' |
	grep -v '^--' | sed "s/ TO tunnel;/ TO $FX_APP_USER;/" >"$FX_DIR/grants.sql"
is "$(grep -c '^GRANT' "$FX_DIR/grants.sql")" 3 "Privileges: three grants for the helper's role"
psql -qX -v ON_ERROR_STOP=1 -d "$FX_APP_DB" -f "$FX_DIR/grants.sql" >/dev/null
ok $? "Privileges: the grants run"
# verify as root, as Deploying runs it, with the service user's env file and key
(cd "$FX_DIR" && timeout 120 "$HELPER" verify --env-file "$ENV") >"$FX_DIR/verify.out" 2>&1
is "$?" 0 "verify as root reads the service user's env file and key (0600, as OpenSSH's root may)" ||
	diag "$(tail -3 "$FX_DIR/verify.out")"

# ---------------------------------------------------------------- start, reload, stop

run_block start >"$FX_DIR/start.out" 2>&1
ok $? "Deploying: systemctl enable --now, as written"
connected()
{
	[ "$(sql "SELECT state FROM chatgenius.tunnel_status WHERE tunnel_name = 'deployed' AND last_heartbeat IS NOT NULL")" = connected ]
}
fx_wait_for 30 "deployed tunnel connected" connected
ok $? "the tunnel comes up under the unit with the filled-in .env.example (export, quotes and # note understood)"
refusals_recorded()
{
	[ "$(sql "SELECT count(*) FROM chatgenius.tunnel_events WHERE tunnel_name = 'deployed' AND event = 'stopped' AND detail LIKE '%refused_at_start%'")" -ge 2 ]
}
fx_wait_for 15 "start refusals recorded" refusals_recorded ||
	diag "$(grep -E 'spool|refused_at_start' "$UNIT_LOG" "$FX_DIR"/journal.*.log)"
is "$(sql "SELECT string_agg(DISTINCT substr(detail, 1, 6), ',') FROM chatgenius.tunnel_events WHERE tunnel_name = 'deployed' AND event = 'stopped' AND detail LIKE '%refused_at_start%'")" \
	"exit=3" "the earlier refusals at start (exit 3) were kept in the spool and recorded once the database was reachable"
like "$(sql "SELECT string_agg(detail, ' | ') FROM chatgenius.tunnel_events WHERE tunnel_name = 'deployed' AND event = 'stopped' AND detail LIKE '%refused_at_start%'")" \
	"No ED25519 host key is known.*Permissions 0644|Permissions 0644.*No ED25519 host key is known" "with their reasons"
is "$(PGPASSWORD=$FX_APP_PASSWORD psql -qXAt -h 127.0.0.1 -p "$TUNNEL_PORT" -U "$FX_APP_USER" -d "$FX_APP_DB" -c 'SELECT 1')" 1 \
	"a client goes through the tunnel on POSTGRES_PORT"
like "$(grep -m1 msg=starting "$UNIT_LOG")" "state_dir=$ROOT/var/lib/chatgenius-tunnel " "the spool is in the unit's StateDirectory"
unlike "$(cat "$UNIT_LOG")" "config_warning" "no warning about the filled-in .env.example"

sed -i 's/^SSH_HEALTH_CHECK_INTERVAL=1000$/SSH_HEALTH_CHECK_INTERVAL=700/' "$ENV"
run_block reload
fx_wait_for 10 "reload logged" journal_has 'msg=config_changed .*variable=SSH_HEALTH_CHECK_INTERVAL old=1000 new=700'
ok $? "Deploying: systemctl reload takes over the changed setting"
interval_is()
{
	[ "$(sql "SELECT heartbeat_interval_ms FROM chatgenius.tunnel_status WHERE tunnel_name = 'deployed'")" = "$1" ]
}
fx_wait_for 10 "interval 700 in tunnel_status" interval_is 700
ok $? "the new interval reaches chatgenius.tunnel_status"

printf 'SSH_POOL_SIZ=4\n' >>"$ENV"
run_block reload
fx_wait_for 10 "broken reload refused" journal_has 'WARN msg=config_reload_failed .*unknown variable SSH_POOL_SIZ .*did you mean SSH_POOL_SIZE\?.*the running configuration is kept'
ok $? "a reload of an env file with a typo is refused, and the journal says why"
sed -i 's/^SSH_POOL_SIZ=4$/SSH_HEALTH_CHECK_INTERVAL=fast/' "$ENV"
run_block reload
fx_wait_for 10 "bad value refused" journal_has 'WARN msg=config_reload_failed .*invalid value for SSH_HEALTH_CHECK_INTERVAL: \\"fast\\".*the running configuration is kept'
ok $? "a reload with a bad value is refused, and the journal says why"
ok "$(kill -0 "$UNIT_PID" 2>/dev/null && echo 0 || echo 1)" "the helper keeps running after refused reloads"
hb=$(sql "SELECT last_heartbeat FROM chatgenius.tunnel_status WHERE tunnel_name = 'deployed'")
beat_after()
{
	[ "$(sql "SELECT last_heartbeat > '$1' FROM chatgenius.tunnel_status WHERE tunnel_name = 'deployed'")" = t ]
}
fx_wait_for 10 "heartbeat after refused reloads" beat_after "$hb"
ok $? "heartbeats go on with the old configuration"
ok "$(interval_is 700 && echo 0 || echo 1)" "the interval is still 700 ms"

systemctl stop chatgenius-tunnel
fx_wait_exit "$UNIT_PID" 20
is "$FX_RC" 0 "systemctl stop: exit 0"
is "$(sql "SELECT state || ' ' || sessions_open FROM chatgenius.tunnel_status WHERE tunnel_name = 'deployed'")" "stopped 0" \
	"the stopped row shows zero sessions"

done_testing
