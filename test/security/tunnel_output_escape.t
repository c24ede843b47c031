#!/usr/bin/env bash
# What the database or a peer wrote reaches the operator's terminal escaped,
# never as control sequences.  The hostile text: ESC ]0;owned BEL (sets the
# terminal's title), CR and ESC [2K (rewind and erase the line), a forged
# "verify: ok (0 warnings)", a line feed and a second forged "verify: ok",
# and a C1 CSI (U+009B).  It is put
#  - in a tunnel row's last_error, which health()'s tunnel check quotes:
#    `verify` prints it in its health table;
#  - in a migration history row: `setup` prints the history table;
#  - in the error the database returns to the running helper's health
#    check (its login fails loading a session_preload_libraries entry named
#    with the text): `status` and `status --json` print it, and GET
#    /readiness gives it as its reason;
#  - as the owner of a schema chatgenius that setup refuses to install
#    into: setup names that role in its refusal;
#  - and, with a quote, in a tunnel name setup cannot give (the role is a
#    libpq service's): the statement it prints to paste quotes it as SQL.
# Each output's bytes are checked: no control character but the line feeds
# of the layout, no line that starts with the forged verdict, the escapes
# as psql writes them, and --json valid JSON that carries the text intact.
#
#   prove test/security/tunnel_output_escape.t   (as root; FX_HELPER=... for another build)
set -u
cd "$(dirname "$0")/../.." || exit 1
. test/lib/tunnel_lib.sh
. test/lib/app_lib.sh
. test/lib/attack.sh
. test/lib/http_lib.sh

tl_begin escape
app_install_extension
fx_psql -d "$FX_APP_DB" >/dev/null <<-EOF || bail_out "setup error: grants"
	GRANT USAGE ON SCHEMA chatgenius TO "$FX_APP_USER";
	GRANT SELECT ON chatgenius.tunnel_status, chatgenius.schema_migrations TO "$FX_APP_USER";
	GRANT EXECUTE ON FUNCTION chatgenius.health() TO "$FX_APP_USER";
EOF

# The hostile text as an SQL literal, and the escaped form that must show.
HOSTILE="E'\\x1b]0;owned\\x07\\r\\x1b[2Kverify: ok (0 warnings)\\nverify: ok \\u009b2J'"
SHOWN='\x1B]0;owned\x07\r\x1B[2Kverify: ok (0 warnings)\nverify: ok \u009B2J'

# raw_controls FILE: how many control bytes FILE holds, line feeds aside
# (C0, DEL, and C1 as UTF-8).
raw_controls()
{
	perl -0777 -ne 'my $n = () = /[\x00-\x09\x0b-\x1f\x7f]|\xc2[\x80-\x9f]/g; print $n' "$1"
}

# forged FILE: lines that start with the forged verdict.
forged()
{
	grep -c '^verify: ok' "$1"
}

# not_obeyed WHAT FILE [TEXT]: three checks of a command's stdout in FILE:
# no control byte, no line that starts with the forged verdict, and the
# hostile text shown escaped (TEXT, by default all of it: $SHOWN).
not_obeyed()
{
	is "$(raw_controls "$2")" 0 "$1: no control byte on stdout"
	is "$(forged "$2")" 0 "$1: no line starts with the forged 'verify: ok'"
	grep -qF "${3:-$SHOWN}" "$2"
	ok $? "$1: the text is shown escaped, as psql shows it"
}

# hcmd NAME COMMAND [KEY=VALUE...]: run a one-shot COMMAND through the
# tunnel; stdout in $FX_DIR/NAME.out, stderr in .err, the status in RC.
hcmd()
{
	local name=$1 cmd=$2
	shift 2
	fx_env_file "$FX_DIR/$name.env" "TUNNEL_NAME=esc-$name" "$@"
	(cd "$FX_DIR" && timeout 120 "$FX_HELPER" "$cmd" --env-file "$FX_DIR/$name.env") \
		>"$FX_DIR/$name.out" 2>"$FX_DIR/$name.err"
	RC=$?
}

# ---------------------------------------------------------------- verify
tl_section
fx_psql -d "$FX_APP_DB" -c "SELECT chatgenius.report_status_json(jsonb_build_object(
	'tunnel_name', 'evil', 'state', 'failed', 'heartbeat_interval_ms', 1000,
	'last_error', $HOSTILE::text))" >/dev/null || bail_out "setup error: the hostile tunnel row"
hcmd verify verify
diag "verify printed (cat -v):" "$(cat -v "$FX_DIR/verify.out")"
is "$RC" 1 "verify: exit 1 (the hostile tunnel row is critical)"
grep -qF "evil: failed" "$FX_DIR/verify.out"
ok $? "verify: the health table shows the hostile row"
not_obeyed verify "$FX_DIR/verify.out"
is "$(raw_controls "$FX_DIR/verify.err")" 0 "verify: none on stderr"
tl_attack verify_output_control_sequences

# ---------------------------------------------------------------- setup's history
tl_section
fx_psql -d "$FX_APP_DB" -c "INSERT INTO chatgenius.schema_migrations (version, description, script)
	VALUES ('0.0', $HOSTILE, 'none')" >/dev/null || bail_out "setup error: the hostile history row"
hcmd setup setup POSTGRES_USER=postgres "POSTGRES_PASSWORD=$FX_SUPER_PASSWORD"
diag "setup printed (cat -v):" "$(cat -v "$FX_DIR/setup.out")"
is "$RC" 0 "setup: exit 0"
grep -qF "0.0" "$FX_DIR/setup.out"
ok $? "setup: the history shows the hostile row"
not_obeyed setup "$FX_DIR/setup.out"
fx_psql -d "$FX_APP_DB" -c "DELETE FROM chatgenius.schema_migrations WHERE version = '0.0'" >/dev/null
tl_attack setup_history_control_sequences

# ---------------------------------------------------------------- setup's errors
# The server's words in a refusal reach stderr escaped: here the name of the
# role that holds the tunnel name setup was told to give (42710), a name that
# carries the hostile text.
tl_section
fx_psql -c "DO \$\$BEGIN EXECUTE format('CREATE ROLE %I NOLOGIN', $HOSTILE); END\$\$" >/dev/null ||
	bail_out "setup error: the hostile role"
fx_psql -d "$FX_APP_DB" -c "SELECT chatgenius.add_tunnel('esc-taken', $HOSTILE)" >/dev/null ||
	bail_out "setup error: the name given to the hostile role"
# super_setup NAME [KEY=VALUE...]: setup as the superuser, which the
# environment names (it outranks the env file, whose POSTGRES_USER is the
# app's role, the one setup gives the tunnel name to); its output in
# $FX_DIR/NAME.out and .err, its status in RC.
super_setup()
{
	local name=$1
	shift
	fx_env_file "$FX_DIR/$name.env" "$@"
	(cd "$FX_DIR" && POSTGRES_USER=postgres POSTGRES_PASSWORD=$FX_SUPER_PASSWORD \
		timeout 120 "$FX_HELPER" setup --env-file "$FX_DIR/$name.env") >"$FX_DIR/$name.out" 2>"$FX_DIR/$name.err"
	RC=$?
	diag "setup's refusal (cat -v):" "$(cat -v "$FX_DIR/$name.err")"
}
super_setup taken TUNNEL_NAME=esc-taken
is "$RC" 1 "setup, name taken: exit 1"
grep -qF "owned" "$FX_DIR/taken.err"
ok $? "setup, name taken: the refusal names the role"
is "$(raw_controls "$FX_DIR/taken.err")" 0 "setup, name taken: no control byte on stderr"
is "$(raw_controls "$FX_DIR/taken.out")" 0 "setup, name taken: none on stdout"
tl_attack setup_error_control_sequences

# The tunnel's role is a libpq service's (the env file names no
# POSTGRES_USER): setup cannot give the name and prints the statement to
# paste.  The name goes in as an SQL literal, its quote doubled, so the
# pasted line adds the tunnel and runs nothing else.
tl_section
printf '[super]\nuser=postgres\npassword=%s\ndbname=%s\n' "$FX_SUPER_PASSWORD" "$FX_APP_DB" \
	>"$FX_DIR/pg_service.conf" || bail_out "setup error: the service file"
fx_env_file "$FX_DIR/service.env" "TUNNEL_NAME=o'brien'); DROP TABLE x; --" POSTGRES_SERVICE=super
sed -i '/^POSTGRES_\(USER\|DB\|PASSWORD\)=/d' "$FX_DIR/service.env" || bail_out "setup error: the env file"
(cd "$FX_DIR" && PGSERVICEFILE=$FX_DIR/pg_service.conf timeout 120 "$FX_HELPER" setup --env-file "$FX_DIR/service.env") \
	>"$FX_DIR/service.out" 2>"$FX_DIR/service.err"
is "$?" 0 "setup, service's role: exit 0"
diag "setup printed (cat -v):" "$(cat -v "$FX_DIR/service.out")" "$(cat -v "$FX_DIR/service.err")"
grep -qxF "  SELECT chatgenius.add_tunnel('o''brien''); DROP TABLE x; --', 'ROLE');" "$FX_DIR/service.out"
ok $? "setup, service's role: the statement to paste quotes the name as a literal"
tl_attack setup_statement_quotes_name

# The same role owns a schema chatgenius where setup is to install: setup
# refuses, naming the owner (escaped).
tl_section
fx_psql -c "CREATE DATABASE escschema" >/dev/null || bail_out "setup error: the database"
fx_psql -d escschema -c "DO \$\$BEGIN EXECUTE format('CREATE SCHEMA chatgenius AUTHORIZATION %I', $HOSTILE); END\$\$" \
	>/dev/null || bail_out "setup error: the hostile role's schema"
super_setup schema TUNNEL_NAME=esc-schema POSTGRES_DB=escschema
is "$RC" 1 "setup, schema of another role: exit 1"
grep -q 'belongs to role ".*owned' "$FX_DIR/schema.err"
ok $? "setup, schema of another role: the refusal names the owner"
is "$(raw_controls "$FX_DIR/schema.err")" 0 "setup, schema of another role: no control byte on stderr"
tl_attack setup_schema_owner_control_sequences

# ---------------------------------------------------------------- status
tl_section
fx_psql -c "ALTER ROLE \"$FX_APP_USER\" SET session_preload_libraries = $HOSTILE" >/dev/null ||
	bail_out "setup error: the hostile login error"
HP=$(fx_free_port)
tl_start esc-run TUNNEL_NAME=esc-run SSH_HEALTH_CHECK_INTERVAL=500 TUNNEL_HTTP_ADDR=127.0.0.1:$HP
tl_up || bail_out "setup error: the helper did not connect"
status_cmd()
{
	(cd "$FX_DIR" && timeout 30 "$FX_HELPER" status "$@" --env-file "$TL_ENV")
}
status_has_error()
{
	status_cmd --json | grep -q owned
}
fx_wait_for 20 "the hostile error in status" status_has_error ||
	bail_out "setup error: the database's error did not reach the status"
status_cmd >"$FX_DIR/status.out" 2>&1
status_cmd --json >"$FX_DIR/status.json" 2>&1
diag "status printed (cat -v):" "$(cat -v "$FX_DIR/status.out")"
grep -q owned "$FX_DIR/status.out"
ok $? "status: shows the database's error"
not_obeyed status "$FX_DIR/status.out" '\x1B]0;owned\x07'
is "$(raw_controls "$FX_DIR/status.json")" 0 "status --json: no control byte"
got=$(perl -MJSON::PP -0777 -e 'my $j = eval { JSON::PP->new->utf8->decode(<STDIN>) };
	print $j ? (index($j->{last_check}{error} // "", "\e]0;owned\a") >= 0 ? "intact" : "altered") : "invalid"' \
	<"$FX_DIR/status.json")
is "$got" intact "status --json: valid JSON, the error carried intact in JSON escapes"
# /readiness tells the same error as its reason, to a prober or a curl on a terminal
http_get "$HP" /readiness
cp "$FX_DIR/http_body" "$FX_DIR/readiness.out"
diag "readiness answered $HTTP_CODE (cat -v):" "$(cat -v "$FX_DIR/readiness.out")"
is "$HTTP_CODE" 503 "readiness: 503 while the health check fails"
grep -q owned "$FX_DIR/readiness.out"
ok $? "readiness: the reason shows the database's error"
is "$(raw_controls "$FX_DIR/readiness.out")" 0 "readiness: no control byte in the body"
tl_stop
fx_psql -c "ALTER ROLE \"$FX_APP_USER\" RESET session_preload_libraries" >/dev/null
tl_attack status_output_control_sequences

done_testing
