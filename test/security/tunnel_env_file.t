#!/usr/bin/env bash
# The env file is treated like a key (issue 14, hole "loose env file"): one
# that holds a secret (POSTGRES_PASSWORD, SSH_KEY_PASSPHRASE) and is
# readable by group or others is refused with exit 2, in OpenSSH's words
# ("Bad permissions"), naming the file, the secret and the mode; on SIGHUP
# the running configuration is kept.  An env file without secrets may stay
# readable (the password then comes from the environment or ~/.pgpass).
#
#   prove test/security/tunnel_env_file.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh

tl_begin envfile
app_install_extension

# refused MODE FILE SECRET: the helper, run on FILE at MODE, exits 2 naming
# FILE, SECRET and MODE, and never connects.
refused()
{
	local mode=$1 file=$2 secret=$3 out rc
	chmod "$mode" "$file"
	out=$(timeout 20 "$FX_HELPER" --env-file "$file" 2>&1)
	rc=$?
	is "$rc" 2 "$secret in a $mode env file: exit 2"
	like "$out" "Bad permissions on env file \"$file\": it holds $secret, and permissions $mode are too open" \
		"$mode: the message names the file, the secret and the mode, in OpenSSH's words"
	unlike "$out" 'event=connected' "$mode: no tunnel was brought up"
}

tl_section
fx_env_file "$FX_DIR/pw.env"
refused 0644 "$FX_DIR/pw.env" POSTGRES_PASSWORD
refused 0640 "$FX_DIR/pw.env" POSTGRES_PASSWORD
refused 0604 "$FX_DIR/pw.env" POSTGRES_PASSWORD
fx_env_file "$FX_DIR/pp.env" POSTGRES_PASSWORD= SSH_KEY_PASSPHRASE=not-logged
refused 0640 "$FX_DIR/pp.env" SSH_KEY_PASSPHRASE
out=$(timeout 20 "$FX_HELPER" --env-file "$FX_DIR/pp.env" 2>&1)
unlike "$out" 'not-logged' "the passphrase itself is not in the message"

# ./.env.local, read when no --env-file is given, is held to the same rule.
mkdir -p "$FX_DIR/work"
fx_env_file "$FX_DIR/work/.env.local"
chmod 0644 "$FX_DIR/work/.env.local"
out=$(cd "$FX_DIR/work" && timeout 20 "$FX_HELPER" 2>&1)
rc=$?
is "$rc" 2 "a loose ./.env.local holding POSTGRES_PASSWORD: exit 2"
like "$out" "Bad permissions on env file \"$FX_DIR/work/.env.local\"" "and it is named"
tl_attack loose_env_file

# ---------------------------------------------------------------- SIGHUP keeps the running configuration
tl_section
tl_start hup
tl_up
ok $? "hup: connected with a 0600 env file"
chmod 0644 "$TL_ENV"
kill -HUP "$TL_PID"
fx_wait_for 10 "reload refused" tl_has 'msg=config_reload_failed .*Bad permissions on env file'
ok $? "hup: a reload of the file made 0644 is refused (Bad permissions)"
tl_has 'the running configuration is kept'
ok $? "hup: the running configuration is kept"
is "$(tl_psql -Atc "SELECT 'still'" 2>&1)" still "hup: the tunnel still serves"
tl_stop
is "$TL_RC" 0 "hup: exit 0"
tl_attack loose_env_file_on_reload

# ---------------------------------------------------------------- without secrets it may stay readable
tl_section
fx_env_file "$FX_DIR/open.env" POSTGRES_PASSWORD= TUNNEL_NAME=test-open TUNNEL_LOG_LEVEL=debug
chmod 0644 "$FX_DIR/open.env"
TL_ENV=$FX_DIR/open.env
TL_LOG=$FX_DIR/open.log
POSTGRES_PASSWORD=$FX_APP_PASSWORD fx_bg "$TL_LOG" "$FX_HELPER" --env-file "$TL_ENV"
TL_PID=$FX_BG_PID
tl_up
ok $? "open: a 0644 env file without secrets is accepted (the password from the environment)"
fx_wait_for 10 "a health check passed" tl_has 'msg=health_check .*result=ok'
ok $? "open: the health check logs in with the environment's password"
tl_stop
is "$TL_RC" 0 "open: exit 0"
tl_fault readable_env_file_without_secrets

done_testing
