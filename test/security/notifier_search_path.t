#!/usr/bin/env bash
# Attack: the notifier must not run another role's code with its privileges.
# Issue 14's recipe: the app's role owns the database (as in the fixture and
# the documented deployment) but is no superuser.  It creates public.>= on
# xid8 and public.= on tid (plpgsql functions that try ALTER ROLE ...
# SUPERUSER on itself) and puts public before pg_catalog in the database's
# search_path.  It then posts a message, which the notifier delivers.  The
# attack held if the app role is still no superuser, the hostile functions
# never ran, and the message was delivered.  Then the same owner sets
# database defaults that would stop every notifier transaction (read-only,
# a 1 ms statement timeout): delivery must go on.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../lib/fixture.sh
. "$top/test/lib/fixture.sh"
# shellcheck source=../lib/tap.sh
. "$top/test/lib/tap.sh"
# shellcheck source=../lib/rt_lib.sh
. "$top/test/lib/rt_lib.sh"

fx_init security-notifier-path
fx_pg_start
db=$FX_APP_DB
CHANNEL=01C00000000000000000000001
USER0=01A00000000000000000000000

# app SQL: as the app's role (the database owner), over TCP with its password.
app()
{
	PGPASSWORD=$FX_APP_PASSWORD psql -qX -v ON_ERROR_STOP=1 -Atd "$db" -h 127.0.0.1 \
		-p "$FX_PG_PORT" -U "$FX_APP_USER" "$@"
}

notifier_pid()
{
	rt_q "SELECT notifier_pid FROM chatgenius.realtime_status()"
}

no_notifier()
{
	[ -z "$(rt_q "SELECT pid FROM pg_stat_activity WHERE backend_type = 'chatgenius notifier'
		AND datname = current_database()")" ]
}

# The extension is installed by a superuser of its own, so that the role the
# notifier runs as tells the extension's owner from the bootstrap superuser.
fx_psql -d postgres -c 'CREATE ROLE chat_ext_owner SUPERUSER LOGIN' >/dev/null
psql -qX -v ON_ERROR_STOP=1 -U chat_ext_owner -d "$db" -c 'CREATE EXTENSION chatgenius' >/dev/null
ok $? "CREATE EXTENSION chatgenius (by the superuser chat_ext_owner)"
# The documented grants for the app's role (doc/extension.md, Privileges).
fx_psql -d "$db" >/dev/null <<SQL
GRANT USAGE ON SCHEMA chatgenius TO "$FX_APP_USER";
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA chatgenius TO "$FX_APP_USER";
INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
VALUES ('$USER0', 'auth0|0', '0@example.com', 'u0', 'User 0');
INSERT INTO chatgenius.channels (id, name, type, created_by) VALUES ('$CHANNEL', 'general', 'public', '$USER0');
SQL
is "$(rt_q "SELECT rolsuper FROM pg_roles WHERE rolname = '$FX_APP_USER'")" f \
	"the app's role is no superuser"
is "$(rt_q "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = current_database()")" \
	"$FX_APP_USER" "it owns the database"

# The hostile objects, made by the database owner alone.
app >"$FX_DIR/attack.out" 2>&1 <<SQL
CREATE TABLE public.attack_log (who text, at timestamptz DEFAULT clock_timestamp());
GRANT INSERT ON public.attack_log TO PUBLIC;
CREATE FUNCTION public.evil_xid8_ge(a xid8, b xid8) RETURNS boolean LANGUAGE plpgsql AS \$f\$
BEGIN
	INSERT INTO public.attack_log (who) VALUES (current_user);
	BEGIN
		EXECUTE 'ALTER ROLE "$FX_APP_USER" SUPERUSER';
	EXCEPTION WHEN OTHERS THEN NULL;
	END;
	RETURN pg_catalog.xid8ge(a, b);
END
\$f\$;
CREATE OPERATOR public.>= (LEFTARG = xid8, RIGHTARG = xid8, FUNCTION = public.evil_xid8_ge);
CREATE FUNCTION public.evil_tid_eq(a tid, b tid) RETURNS boolean LANGUAGE plpgsql AS \$f\$
BEGIN
	INSERT INTO public.attack_log (who) VALUES (current_user);
	BEGIN
		EXECUTE 'ALTER ROLE "$FX_APP_USER" SUPERUSER';
	EXCEPTION WHEN OTHERS THEN NULL;
	END;
	RETURN pg_catalog.tideq(a, b);
END
\$f\$;
CREATE OPERATOR public.= (LEFTARG = tid, RIGHTARG = tid, FUNCTION = public.evil_tid_eq);
ALTER DATABASE "$db" SET search_path = public, pg_catalog;
SQL
ok $? "the database owner made public.>= on xid8, public.= on tid and the database's search_path" ||
	diag "$(cat "$FX_DIR/attack.out")"

# A notifier started from now on connects with the database's settings.
pid=$(notifier_pid)
[ -n "$pid" ] && rt_q "SELECT pg_terminate_backend($pid)" >/dev/null
fx_wait_for 30 "no notifier running" no_notifier

rt_listen a message_change
for i in 1 2 3; do
	app -c "INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
		VALUES ('01M00000000000000000000A0$i', '$CHANNEL', '$USER0', 'hello $i')" >/dev/null
done
ok $? "the app's role posted three messages"
fx_wait_for 30 "the three messages at the listener" rt_count_is a 3 '01M00000000000000000000A0'
ok $? "the notifier delivered them"
fx_wait_for 20 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
ok $? "the outbox is empty (the rows sent last go with the notifier's next transaction)"
# Once more after a restart of the notifier (it reads the setting at start).
pid=$(notifier_pid)
[ -n "$pid" ] && rt_q "SELECT pg_terminate_backend($pid)" >/dev/null
fx_wait_for 30 "no notifier running" no_notifier
app -c "INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
	VALUES ('01M00000000000000000000A04', '$CHANNEL', '$USER0', 'hello 4')" >/dev/null
fx_wait_for 30 "the fourth message" rt_count_is a 4 '01M00000000000000000000A0'
ok $? "a new notifier delivered the next one"

super=$(rt_q "SELECT rolsuper FROM pg_roles WHERE rolname = '$FX_APP_USER'")
ran=$(rt_q "SELECT count(*) FROM public.attack_log")
is "$super" f "the app's role did not become superuser"
is "$ran" 0 "the hostile operators' functions never ran"
[ "$ran" = 0 ] || diag "they ran as: $(rt_q "SELECT string_agg(DISTINCT who, ', ') FROM public.attack_log")"
notifier_user=$(rt_q "SELECT usename FROM pg_stat_activity WHERE backend_type = 'chatgenius notifier'
	AND datname = current_database()")
owner=$(rt_q "SELECT pg_get_userbyid(extowner) FROM pg_extension WHERE extname = 'chatgenius'")
is "$notifier_user" "$owner" "the notifier runs as the extension's owner ($owner), not the bootstrap superuser"
if [ "$super" = f ] && [ "$ran" = 0 ]; then
	diag "reliability: attack=notifier_hostile_operator held"
else
	diag "reliability: attack=notifier_hostile_operator succeeded"
fi

# The same owner's other database defaults: a read-only default and a 1 ms
# statement timeout would stop every notifier transaction (delivery stops,
# the notifier restarts forever).  The test's own sessions set them back.
app -c "ALTER DATABASE \"$db\" SET default_transaction_read_only = on" \
	-c "ALTER DATABASE \"$db\" SET statement_timeout = '1ms'" >/dev/null
ok $? "the database owner set default_transaction_read_only and statement_timeout for the database"
export PGOPTIONS="-c default_transaction_read_only=off -c statement_timeout=0"
pid=$(notifier_pid)
[ -n "$pid" ] && rt_q "SELECT pg_terminate_backend($pid)" >/dev/null
fx_wait_for 30 "no notifier running" no_notifier
for i in 5 6 7; do
	app -c "INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
		VALUES ('01M00000000000000000000A0$i', '$CHANNEL', '$USER0', 'hello $i')" >/dev/null
done
fx_wait_for 30 "the three messages posted after" rt_count_is a 7 '01M00000000000000000000A0'
ok $? "the notifier delivered them anyway"
fx_wait_for 20 "the outbox to drain" rt_q_is "SELECT count(*) FROM chatgenius.realtime_outbox" 0
ok $? "the outbox is empty (the rows sent last go with the notifier's next transaction)"
if [ "$(rt_count a '01M00000000000000000000A0')" = 7 ]; then
	diag "reliability: attack=notifier_database_settings held"
else
	diag "reliability: attack=notifier_database_settings succeeded"
fi

rt_stop_listener a
done_testing
