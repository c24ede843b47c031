#!/usr/bin/env bash
# chatgenius-tunnel's configuration: --help, --version, every bad setting
# (exit 2 naming the variable and the value), missing required settings and
# key file, ~ expansion, and the precedence flags > environment > env file
# (--env-file, else ./.env.local) > defaults.  No server is needed: the
# settings a run took are read from its "msg=starting" log line.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
. "$TOP/test/lib/fixture.sh"
fx_init config

[ -x "$FX_HELPER" ] || bail_out "build the helper first: make -C helper"

# Run the helper with a clean environment (only PATH and HOME, plus the
# given NAME=VALUE words), capturing stdout, stderr and the exit code.
H_HOME=$FX_DIR/home
mkdir -p "$H_HOME/.ssh"
ssh-keygen -q -t ed25519 -N '' -f "$H_HOME/.ssh/id_ed25519"
KEY=$H_HOME/.ssh/id_ed25519
WORK=$FX_DIR/work
mkdir -p "$WORK"

hrun()
{
	local envs=()
	while [ $# -gt 0 ] && [[ $1 == *=* ]] && [[ $1 != -* ]]; do
		envs+=("$1")
		shift
	done
	(cd "$WORK" && exec timeout -k 5 20 env -i PATH="$PATH" HOME="$H_HOME" "${envs[@]}" "$FX_HELPER" "$@") \
		>"$FX_DIR/out" 2>"$FX_DIR/err"
	RC=$?
	OUT=$(cat "$FX_DIR/out")
	ERR=$(cat "$FX_DIR/err")
}

# A closed port: runs started below never reach an SSH server; they are
# stopped once their settings have been logged.
CLOSED_PORT=$(fx_free_port)
BASE=(SSH_HOST=127.0.0.1 SSH_USER=tester "SSH_KEY_PATH=$KEY" "SSH_PORT=$CLOSED_PORT"
	SSH_MAX_RETRIES=1000 SSH_RETRY_DELAY=1000 "TUNNEL_STATE_DIR=$FX_DIR/state" POSTGRES_PORT=0)

# start_and_read_settings [NAME=VALUE...] [ARGS...]: start a run, wait for its
# starting line, stop it; STARTING holds that line.
start_and_read_settings()
{
	local envs=() log=$FX_DIR/run.log pid
	while [ $# -gt 0 ] && [[ $1 == *=* ]] && [[ $1 != -* ]]; do
		envs+=("$1")
		shift
	done
	: >"$log"
	(cd "$WORK" && exec env -i PATH="$PATH" HOME="$H_HOME" "${envs[@]}" "$FX_HELPER" "$@") >>"$log" 2>&1 &
	pid=$!
	fx_wait_for 10 "starting line" grep -q 'msg=starting' "$log"
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	STARTING=$(grep -m1 'msg=starting' "$log")
}

# ---------------------------------------------------------------- --help, --version

hrun --help
is "$RC" 0 "--help exits 0"
like "$OUT" "Exit status:" "--help lists the exit codes"
for code in 0 1 2 3 4; do
	like "$OUT" $'\n'"  $code  " "--help explains exit code $code"
done
# Every variable of .env.example: a commented-out line shows the default
# (the same as --help); a line to fill in names a variable --help knows.
while IFS= read -r line; do
	commented=no
	[[ $line == '# '* ]] && commented=yes && line=${line#\# }
	name=${line%%=*}
	def=${line#*=}
	hl=$(printf '%s\n' "$OUT" | grep -E "^  $name +(--|\(no flag)")
	if [ $commented = no ]; then
		ok "$([ -n "$hl" ] && echo 0 || echo 1)" "--help lists $name (a line of .env.example to fill in)"
		continue
	fi
	case $name in
	TUNNEL_NAME) def='SSH_USER@SSH_HOST:SSH_PORT' ;;
	POSTGRES_PASSFILE | POSTGRES_SERVICE | SSH_KEY_PASSPHRASE | POSTGRES_PATRONI_PORT | TUNNEL_STANDBY_PORT | \
		TUNNEL_SOCKET_DIR | TUNNEL_SOCKET_GROUP | TUNNEL_HTTP_ADDR) def='(none)' ;;
	esac
	is "${hl##*default: }" "$def" "--help lists $name with its default ($def)"
done < <(grep -E '^(# )?[A-Z_]+=' "$TOP/helper/.env.example")
is "$(grep -cE '^(# )?[A-Z_]+=' "$TOP/helper/.env.example")" 39 ".env.example documents all 39 variables"
hrun -h
is "$RC" 0 "-h exits 0"

VERSION=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$TOP/chatgenius.control")
hrun --version
is "$RC" 0 "--version exits 0"
like "$OUT" "^chatgenius-tunnel $VERSION \\(libssh2 1\\.10" "--version prints the version ($VERSION) and libssh2's"

# ---------------------------------------------------------------- usage errors

hrun "${BASE[@]}" --no-such-flag
is "$RC" 2 "an unknown flag exits 2"
like "$ERR" "unknown option: --no-such-flag" "and names the flag"
hrun "${BASE[@]}" frobnicate
is "$RC" 2 "an unknown command exits 2"
like "$ERR" 'unknown command: "frobnicate"' "and names the command"
hrun "${BASE[@]}" --ssh-port
is "$RC" 2 "a flag without its value exits 2"
like "$ERR" "option --ssh-port needs a value" "and says so"
hrun "${BASE[@]}" --env-file "$FX_DIR/does-not-exist"
is "$RC" 2 "a missing --env-file exits 2"
like "$ERR" "cannot read env file \"$FX_DIR/does-not-exist\": No such file or directory" "and names the file"

# ---------------------------------------------------------------- required settings

hrun
is "$RC" 2 "no settings at all exits 2"
like "$ERR" "Missing required environment variables: SSH_HOST, SSH_USER, SSH_KEY_PATH" \
	"and lists the missing required variables"
hrun SSH_HOST=h SSH_KEY_PATH="$KEY"
is "$RC" 2 "a missing SSH_USER exits 2"
like "$ERR" "Missing required environment variables: SSH_USER"$'\n' "and names only SSH_USER"

hrun "${BASE[@]}" "SSH_KEY_PATH=$FX_DIR/nokey"
is "$RC" 2 "a missing key file exits 2"
like "$ERR" "SSH key file not found at path: $FX_DIR/nokey" "with OpenSSH-like words and the path"
hrun "${BASE[@]}" "SSH_KEY_PATH=~/.ssh/nokey"
is "$RC" 2 "a missing key file given with ~ exits 2"
like "$ERR" "SSH key file not found at path: $H_HOME/.ssh/nokey" "and the message shows the expanded path"
hrun "${BASE[@]}" "SSH_KEY_PATH=$H_HOME/.ssh"
is "$RC" 2 "a key path that is a folder exits 2"
like "$ERR" "invalid value for SSH_KEY_PATH: \"$H_HOME/.ssh\"" "and names the variable and value"

# ---------------------------------------------------------------- every bad setting

BAD=(
	"SSH_PORT=abc" "SSH_PORT=0" "SSH_PORT=65536" "SSH_PORT=22x" "SSH_PORT=-1"
	"POSTGRES_PORT=-1" "POSTGRES_PORT=70000" "POSTGRES_PORT=five"
	"POSTGRES_REMOTE_PORT=0" "POSTGRES_REMOTE_PORT=x"
	"SSH_MAX_RETRIES=-1" "SSH_MAX_RETRIES=three"
	"SSH_RETRY_DELAY=0" "SSH_RETRY_DELAY=1.5"
	"SSH_HEALTH_CHECK_INTERVAL=10" "SSH_HEALTH_CHECK_INTERVAL=soon"
	"SSH_KEEPALIVE_INTERVAL=abc" "SSH_KEEPALIVE_COUNT_MAX=0"
	"SSH_CONNECT_TIMEOUT=99" "SSH_CONNECT_TIMEOUT=10s"
	"SSH_POOL_SIZE=0" "SSH_POOL_SIZE=1001" "SSH_CHANNELS_PER_SESSION=0"
	"SSH_IDLE_TIMEOUT=x" "TUNNEL_CLIENT_WAIT=-5" "TUNNEL_MAX_WAITING=many"
	"TUNNEL_SPOOL_MAX=0" "TUNNEL_LOG_LEVEL=loud"
	"SSH_HOST=bad host" "SSH_USER=a b" "TUNNEL_LISTEN_HOST=local host"
	"POSTGRES_REMOTE_HOST=db host"
)
for kv in "${BAD[@]}"; do
	name=${kv%%=*}
	value=${kv#*=}
	# through the environment
	hrun "${BASE[@]}" "$kv"
	is "$RC" 2 "environment $name=\"$value\" exits 2"
	like "$ERR" "^chatgenius-tunnel: invalid value for $name: \"$value\"" "and names $name and \"$value\""
	# through the env file
	fx_env_file_plain="$FX_DIR/bad.env"
	{
		printf '%s\n' "${BASE[@]}"
		printf '%s="%s"\n' "$name" "$value"
	} >"$fx_env_file_plain"
	hrun --env-file "$fx_env_file_plain"
	is "$RC" 2 "env file $name=\"$value\" exits 2"
	like "$ERR" "invalid value for $name: \"$value\"" "and names it too"
done
# through flags
for kv in "SSH_PORT=abc" "SSH_POOL_SIZE=0" "TUNNEL_LOG_LEVEL=loud"; do
	name=${kv%%=*}
	value=${kv#*=}
	flag=--$(printf '%s' "$name" | tr 'A-Z_' 'a-z-')
	hrun "${BASE[@]}" "$flag" "$value"
	is "$RC" 2 "flag $flag $value exits 2"
	like "$ERR" "invalid value for $name: \"$value\"" "and names $name and the value"
	hrun "${BASE[@]}" "$flag=$value"
	is "$RC" 2 "flag $flag=$value exits 2"
done

# An env file line that is not KEY=VALUE.
printf '%s\n' "${BASE[@]}" "this is not a setting" >"$FX_DIR/garbled.env"
hrun --env-file "$FX_DIR/garbled.env"
is "$RC" 2 "a garbled env file line exits 2"
like "$ERR" "invalid line 9 in env file \"$FX_DIR/garbled.env\"" "and names the file and line"

# ---------------------------------------------------------------- precedence

# env file values: an inline comment, quotes and export are understood
cat >"$FX_DIR/prec.env" <<EOF
# a comment
export SSH_HOST=127.0.0.1
SSH_USER='from-file'
SSH_KEY_PATH="$KEY"
SSH_PORT=$CLOSED_PORT   # the port
SSH_MAX_RETRIES=1000
TUNNEL_STATE_DIR=$FX_DIR/state
POSTGRES_PORT=0
OTHER_APP_SETTING=ignored
EOF
cat >"$WORK/.env.local" <<EOF
SSH_HOST=127.0.0.1
SSH_USER=from-dotenv
SSH_KEY_PATH=$KEY
SSH_PORT=$CLOSED_PORT
SSH_MAX_RETRIES=1000
TUNNEL_STATE_DIR=$FX_DIR/state
POSTGRES_PORT=0
EOF

start_and_read_settings
like "$STARTING" "ssh=from-dotenv@127.0.0.1:$CLOSED_PORT " "./.env.local is read when present"
like "$STARTING" "tunnel=from-dotenv@127.0.0.1:$CLOSED_PORT " "TUNNEL_NAME defaults to user@host:port"
like "$STARTING" "env_file=$WORK/.env.local\$" "the log names the env file read"
like "$STARTING" "listen=127.0.0.1:0 " "TUNNEL_LISTEN_HOST defaults to 127.0.0.1"
like "$STARTING" "remote=localhost:5432 " "POSTGRES_REMOTE_HOST/PORT default to localhost:5432"

start_and_read_settings --env-file "$FX_DIR/prec.env"
like "$STARTING" "ssh=from-file@" "--env-file wins over ./.env.local (which is then not read)"

start_and_read_settings SSH_USER=from-env --env-file "$FX_DIR/prec.env"
like "$STARTING" "ssh=from-env@" "the environment wins over the env file"

start_and_read_settings SSH_USER=from-env --env-file "$FX_DIR/prec.env" --ssh-user from-flag
like "$STARTING" "ssh=from-flag@" "a flag wins over the environment"

start_and_read_settings SSH_USER=from-env --ssh-user=from-flag2
like "$STARTING" "ssh=from-flag2@" "--flag=value works too"

start_and_read_settings TUNNEL_NAME="my tunnel"
like "$STARTING" 'tunnel="my tunnel" ' "TUNNEL_NAME is taken as is (quoted in logs)"

rm -f "$WORK/.env.local"
start_and_read_settings "${BASE[@]}" "SSH_KEY_PATH=~/.ssh/id_ed25519" "SSH_KNOWN_HOSTS=~/kh" \
	"TUNNEL_STATE_DIR=~/state"
like "$STARTING" "key=$H_HOME/.ssh/id_ed25519 " "~ in SSH_KEY_PATH is expanded"
like "$STARTING" "known_hosts=$H_HOME/kh " "~ in SSH_KNOWN_HOSTS is expanded"
like "$STARTING" "state_dir=$H_HOME/state " "~ in TUNNEL_STATE_DIR is expanded"
like "$STARTING" "env_file=none\$" "no env file when ./.env.local is absent"

start_and_read_settings "${BASE[@]}"
like "$STARTING" "known_hosts=$H_HOME/.ssh/known_hosts " "SSH_KNOWN_HOSTS defaults to ~/.ssh/known_hosts"

# Passwords never appear in the log.
start_and_read_settings "${BASE[@]}" POSTGRES_PASSWORD=pw-S3cr3t-1 SSH_KEY_PASSPHRASE=pp-S3cr3t-2
unlike "$(cat "$FX_DIR/run.log")" "S3cr3t" "neither password nor passphrase is logged"

# ---------------------------------------------------------------- names the helper does not know

# env_with LINE...: an env file of BASE plus the given lines.
env_with()
{
	{
		printf '%s\n' "${BASE[@]}"
		printf '%s\n' "$@"
	} >"$FX_DIR/names.env"
}
for typo in "POSTGRES_PASWORD=pw:POSTGRES_PASSWORD" "SSH_POOL_SIZ=4:SSH_POOL_SIZE" \
	"ssh_port=2222:SSH_PORT" "TUNNEL_CLIENT_WIAT=5:TUNNEL_CLIENT_WAIT" "export Ssh_User=x:SSH_USER"; do
	line=${typo%:*}
	want=${typo##*:}
	env_with "$line"
	hrun --env-file "$FX_DIR/names.env"
	name=${line#export }
	name=${name%%=*}
	is "$RC" 2 "env file: unknown $name under the helper's prefixes exits 2"
	like "$ERR" "unknown variable $name at line 9 in env file \"$FX_DIR/names.env\" \\(did you mean $want\\?\\)" \
		"and names it, the line and the closest known name ($want)"
done
env_with "SSH_FROBNICATE=1"
hrun --env-file "$FX_DIR/names.env"
is "$RC" 2 "env file: an unknown SSH_ name with no close match exits 2"
like "$ERR" 'unknown variable SSH_FROBNICATE at line 9 .*\(see --help for the names\)' "and points at --help"

env_with "DATABASE_URL=postgres://x" "PGPASSFILE=/tmp/pgpass" "POSTGRESS_DB=typo"
start_and_read_settings --env-file "$FX_DIR/names.env"
log=$(cat "$FX_DIR/run.log")
like "$log" "WARN msg=config_warning .*file=$FX_DIR/names.env line=9 variable=DATABASE_URL reason=\"not a chatgenius-tunnel setting, ignored\"" \
	"env file: another program's name is reported at start and ignored"
like "$log" "variable=PGPASSFILE .* hint=\"did you mean POSTGRES_PASSFILE\\?\"" \
	"env file: libpq's PGPASSFILE is reported with the helper's own name"
like "$log" "variable=POSTGRESS_DB .* hint=\"did you mean POSTGRES_DB\\?\"" \
	"env file: a near miss outside the prefixes gets the closest name"

start_and_read_settings "${BASE[@]}" POSTGRES_PASWORD=x ssh_port=1
unlike "$(cat "$FX_DIR/run.log")" "POSTGRES_PASWORD|ssh_port" "the process environment is not checked"

# ---------------------------------------------------------------- secrets and limits

for flag in --postgres-password --ssh-key-passphrase; do
	hrun "${BASE[@]}" "$flag" s3cret
	is "$RC" 2 "$flag (a secret visible to ps) exits 2"
	like "$ERR" "option $flag was removed: a secret on the command line is visible to every user through ps; set (POSTGRES_PASSWORD|SSH_KEY_PASSPHRASE) in the env file" \
		"and says where the secret goes instead"
	hrun "${BASE[@]}" "$flag=s3cret"
	is "$RC" 2 "$flag=VALUE exits 2 too"
done

# A refused value is quoted escaped: the control characters it holds are
# shown (\x1B, \x07), never obeyed by the terminal.
hrun "${BASE[@]}" "TUNNEL_NAME=evil"$'\e]0;owned\a'
is "$RC" 2 "a TUNNEL_NAME with control characters exits 2"
like "$ERR" 'invalid value for TUNNEL_NAME: "evil\\x1B\]0;owned\\x07"' "and quotes the value escaped"
is "$(printf '%s' "$ERR" | tr -d '\n' | LC_ALL=C grep -c '[[:cntrl:]]')" 0 "no control byte on stderr"

# TUNNEL_MAX_WAITING=0 means "no waiting" (pool_saturation.t); below it, an error.
hrun "${BASE[@]}" TUNNEL_MAX_WAITING=-1
is "$RC" 2 "TUNNEL_MAX_WAITING=-1 exits 2"
like "$ERR" 'invalid value for TUNNEL_MAX_WAITING: "-1" \(expected an integer from 0 to 1000000\)' "and gives the range"
hrun "${BASE[@]}" SSH_POOL_SIZE=65
is "$RC" 2 "SSH_POOL_SIZE above the pool's 64 slots exits 2"
like "$ERR" 'invalid value for SSH_POOL_SIZE: "65" \(expected an integer from 1 to 64\)' "and the message gives the real limit"
start_and_read_settings "${BASE[@]}" SSH_POOL_SIZE=64
like "$STARTING" "msg=starting" "SSH_POOL_SIZE=64 is taken"

# ---------------------------------------------------------------- libpq's sources, systemd's state folder

start_and_read_settings "${BASE[@]}" STATE_DIRECTORY=$FX_DIR/unit-state TUNNEL_STATE_DIR=
like "$STARTING" "state_dir=$FX_DIR/unit-state " "under systemd the state folder defaults to \$STATE_DIRECTORY"
start_and_read_settings "${BASE[@]}" STATE_DIRECTORY=$FX_DIR/unit-state
like "$STARTING" "state_dir=$FX_DIR/state " "TUNNEL_STATE_DIR still wins over \$STATE_DIRECTORY"

# A password belongs to its role: --postgres-user naming another one drops it.
printf '%s\n' "${BASE[@]}" POSTGRES_USER=app POSTGRES_PASSWORD=app-pw >"$FX_DIR/roles.env"
chmod 600 "$FX_DIR/roles.env"	# it holds a password
start_and_read_settings --env-file "$FX_DIR/roles.env" --postgres-user postgres
like "$(cat "$FX_DIR/run.log")" "WARN msg=config_warning .*variable=POSTGRES_PASSWORD source=$FX_DIR/roles.env for_role=app role=postgres" \
	"a password written for POSTGRES_USER=app is not sent for --postgres-user postgres"
start_and_read_settings --env-file "$FX_DIR/roles.env" --postgres-user app
unlike "$(cat "$FX_DIR/run.log")" "config_warning" "the same role keeps its password"

# ---------------------------------------------------------------- leaks

if command -v valgrind >/dev/null; then
	for args in "--help" "--version" "--env-file $FX_DIR/prec.env --ssh-port abc" \
		"--env-file $FX_DIR/garbled.env" "--env-file $FX_DIR/prec.env --ssh-key-path /nonexistent" \
		"--env-file $FX_DIR/names.env --ssh-port abc" "--env-file $FX_DIR/roles.env --postgres-user x --ssh-port abc"; do
		# shellcheck disable=SC2086
		(cd "$WORK" && env -i PATH="$PATH" HOME="$H_HOME" valgrind -q --leak-check=full \
			--show-leak-kinds=all --errors-for-leak-kinds=all --error-exitcode=99 \
			"$FX_HELPER" $args) >/dev/null 2>"$FX_DIR/vg.log"
		rc=$?
		cmp_ok "$rc" -ne 99 "valgrind: no leak or memory error for: $args"
		[ "$rc" -ne 99 ] || diag "$(head -30 "$FX_DIR/vg.log")"
	done
else
	diag "valgrind not installed: leak checks skipped"
fi

done_testing
