# shellcheck shell=bash
# test/lib/attack.sh: shared by the security tests (test/security/*.t):
# the two kinds of install every attack is tried against, the attacker's
# hostile code, and the verdict line that run-tests.sh's reliability_summary counts:
#   # reliability: attack=NAME held        (or: attack=NAME succeeded)
# Sources test/lib/tap.sh and test/lib/fixture.sh; its functions need
# fx_pg_start to have run.

# shellcheck source=fixture.sh
. "$(dirname "${BASH_SOURCE[0]}")/fixture.sh"
# shellcheck source=tap.sh
. "$(dirname "${BASH_SOURCE[0]}")/tap.sh"
# shellcheck source=doc.sh
. "$(dirname "${BASH_SOURCE[0]}")/doc.sh"

# The kinds of install: a fresh CREATE EXTENSION, and 1.0 updated to the newest.
# shellcheck disable=SC2034 # used by the tests that source this file
SEC_KINDS="fresh updated"

# attack NAME RC DESCRIPTION: RC 0 means the boundary held.  One TAP test
# and one reliability line (on stderr, which prove shows and the summary reads)
attack()
{
	local name=$1 rc=$2 what=$3
	if [ "$rc" = 0 ]; then
		echo "# reliability: attack=$name held" >&2
	else
		echo "# reliability: attack=$name succeeded" >&2
	fi
	ok "$rc" "attack $name: $what"
}

# su_sql DB SQL...: psql as the superuser on the socket with a search_path
# of pg_catalog only (startup options outrank the database's and role's
# settings), so that the test's own queries run no hostile operator.
su_sql()
{
	local db=$1
	shift
	PGOPTIONS='-c search_path=pg_catalog' psql -qXAt -v ON_ERROR_STOP=1 -d "$db" "${@/#/-c}"
}

# sec_install DB KIND: the extension in DB, fresh or 1.0 updated to the newest.
sec_install()
{
	if [ "$2" = fresh ]; then
		su_sql "$1" 'CREATE EXTENSION chatgenius'
	else
		su_sql "$1" "CREATE EXTENSION chatgenius VERSION '1.0'" 'ALTER EXTENSION chatgenius UPDATE'
	fi
}

# sec_db NAME: a new database NAME owned by the app's role (as the
# fixture's own database is), with client_min_messages at warning.
sec_db()
{
	su_sql postgres "DROP DATABASE IF EXISTS \"$1\"" "CREATE DATABASE \"$1\" OWNER \"$FX_APP_USER\"" >/dev/null
}

# app_grants ROLE: APP_GRANTS, the documented grants to the app's role (the
# "-- the app's role" part of the Privileges block in doc/extension.md, read
# from it) given to ROLE (quoted as SQL wants it), one su_sql argument per
# statement.  A documentation without them is a setup error (bail_out).
app_grants()
{
	local sql stmt
	APP_GRANTS=()
	sql=$(doc_block test/security/helper_roles.t | sed -n "/^-- the app's role/,/^\$/p" | grep -v '^--')
	while IFS= read -r -d ';' stmt; do
		stmt=$(printf '%s' "$stmt" | tr '\n' ' ' | sed 's/^ *//; s/  */ /g; s/ *$//')
		[ -n "$stmt" ] || continue
		APP_GRANTS+=("${stmt% TO app} TO $1")
	done <<<"$sql"
	[ "${#APP_GRANTS[@]}" -ge 2 ] ||
		bail_out "app_grants: no grants to the app's role in the Privileges block of the documentation"
}

# sec_begin NAME ROLE: how a test of the rules as the app sees them starts:
# the fixture NAME with its cluster, and ROLE, a login that will hold only
# the documented app grants (sec_app_db).
sec_begin()
{
	fx_init "$1"
	fx_pg_start
	su_sql postgres "CREATE ROLE \"$2\" LOGIN" >/dev/null
}

# sec_app_db DB KIND ROLE [SQL...]: a new database DB with the extension
# (KIND: fresh, or 1.0 updated), the documented app grants to ROLE, and the
# statements SQL run as the superuser.  Fails as a setup error (bail_out).
sec_app_db()
{
	local db=$1 kind=$2 role=$3
	shift 3
	sec_db "$db"
	sec_install "$db" "$kind" >/dev/null 2>&1 || bail_out "install ($kind) failed"
	app_grants "$role"
	su_sql "$db" "${APP_GRANTS[@]}" "$@" >/dev/null || bail_out "could not prepare $db"
}

# sql_state ROLE DB [PSQL ARGS...]: psql as ROLE with verbose errors; sets
# OUT (what it printed), STATE (the SQLSTATE of its error, or "ok") and MSG
# (the error's primary message).
sql_state()
{
	OUT=$(as_role "$1" "$2" -v VERBOSITY=verbose "${@:3}" 2>&1)
	STATE=ok
	MSG=
	if [[ $OUT =~ ERROR:\ +([0-9A-Z]{5}):\ ([^$'\n']*) ]]; then
		STATE=${BASH_REMATCH[1]}
		MSG=${BASH_REMATCH[2]}
	fi
}

# refusal_verdict NAME CHANGED WANT_STATE WANT_MSG: the verdict on a
# statement that a rule must refuse (after sql_state): it succeeded when it
# went through or CHANGED is not 0 (what it guards changed all the same);
# it held when refused with WANT_STATE, with a message that matches the
# regular expression WANT_MSG; any other error is a setup error (the
# statement failed for another reason), never "held".
refusal_verdict()
{
	local name=$1 changed=$2 want=$3 want_msg=$4
	if [ "$STATE" = ok ] || [ "$changed" != 0 ]; then
		attack "$name" 1 "refused with $want (got $STATE${MSG:+: $MSG}; changed: $changed)"
	elif [ "$STATE" = "$want" ]; then
		attack "$name" 0 "refused with $want: $MSG"
		like "$MSG" "$want_msg" "$name: the rule's message"
	else
		ok 1 "$name: setup error, the statement failed for another reason: $STATE $MSG"
	fi
}

# as_role ROLE DB [PSQL ARGS...]: psql as ROLE (trust on the socket).
as_role()
{
	local role=$1 db=$2
	shift 2
	psql -qXAt -U "$role" -d "$db" "$@"
}

# is_superuser ROLE: "t" or "f".
is_superuser()
{
	su_sql postgres "SELECT rolsuper FROM pg_roles WHERE rolname = '$1'"
}

# The hostile code, as the attacker (a database owner, not a superuser)
# would write it: hostile_code DB SCHEMA creates in SCHEMA an evil()
# function that warns "EVIL RAN as <role>" and tries to make the attacker a
# superuser, and operators that call it before doing their honest work.
# Each operator is one that a careless script, trigger or function could
# pick up ahead of pg_catalog's: a better type match (varchar, integer *
# float8), or the same types when SCHEMA comes before pg_catalog in
# search_path.
hostile_code()
{
	local db=$1 schema=$2 attacker=${3:-$FX_APP_USER}
	as_role "$attacker" "$db" -v ON_ERROR_STOP=1 >/dev/null <<-EOF
		CREATE SCHEMA IF NOT EXISTS $schema;
		CREATE TABLE $schema.evil_log (who name, what text);
		GRANT INSERT ON $schema.evil_log TO PUBLIC;
		CREATE FUNCTION $schema.evil(what text) RETURNS void LANGUAGE plpgsql AS \$f\$
		BEGIN
			RAISE WARNING 'EVIL RAN as %: %', current_user, what;
			INSERT INTO $schema.evil_log VALUES (current_user, what);
			BEGIN
				EXECUTE 'ALTER ROLE "$attacker" SUPERUSER';
			EXCEPTION WHEN insufficient_privilege THEN NULL;
			END;
		END \$f\$;
		DO \$d\$
		DECLARE
			o record;
			fn text;
		BEGIN
			FOR o IN SELECT * FROM (VALUES
				('=', 'text', 'text', 'boolean'), ('<>', 'text', 'text', 'boolean'),
				('~', 'text', 'text', 'boolean'), ('!~', 'text', 'text', 'boolean'),
				('=', 'varchar', 'varchar', 'boolean'), ('~', 'varchar', 'varchar', 'boolean'),
				('=', 'name', 'name', 'boolean'),
				('=', 'integer', 'integer', 'boolean'), ('>', 'integer', 'integer', 'boolean'),
				('<', 'integer', 'integer', 'boolean'), ('>=', 'integer', 'integer', 'boolean'),
				('=', 'bigint', 'bigint', 'boolean'), ('>=', 'bigint', 'bigint', 'boolean'),
				('<', 'timestamptz', 'timestamptz', 'boolean'),
				('>=', 'timestamptz', 'timestamptz', 'boolean'),
				('>', 'timestamptz', 'timestamptz', 'boolean'),
				('-', 'timestamptz', 'interval', 'timestamptz'),
				('+', 'timestamptz', 'interval', 'timestamptz'),
				('-', 'timestamptz', 'timestamptz', 'interval'),
				('<', 'interval', 'interval', 'boolean'), ('>', 'interval', 'interval', 'boolean'),
				('*', 'integer', 'double precision', 'double precision'),
				('*', 'double precision', 'double precision', 'double precision'),
				('-', 'double precision', 'double precision', 'double precision'),
				('/', 'double precision', 'double precision', 'double precision'),
				('->>', 'jsonb', 'text', 'text'), ('->', 'jsonb', 'text', 'jsonb'),
				('||', 'text', 'text', 'text')) v(op, l, r, res)
			LOOP
				fn := 'evil_' || md5(o.op || o.l || o.r);
				EXECUTE format('CREATE FUNCTION $schema.%I(a %s, b %s) RETURNS %s LANGUAGE plpgsql AS %L',
					fn, o.l, o.r, o.res, format('BEGIN PERFORM $schema.evil(%L); RETURN a OPERATOR(pg_catalog.%s) b; END',
						o.op || ' ' || o.l || ', ' || o.r, o.op));
				EXECUTE format('CREATE OPERATOR $schema.%s (LEFTARG = %s, RIGHTARG = %s, FUNCTION = $schema.%I)',
					o.op, o.l, o.r, fn);
			END LOOP;
		END \$d\$;
		-- functions of the same names and types as pg_catalog's (and count(*))
		CREATE FUNCTION $schema.now() RETURNS timestamptz LANGUAGE plpgsql AS
			\$f\$ BEGIN PERFORM $schema.evil('now()'); RETURN pg_catalog.now(); END \$f\$;
		CREATE FUNCTION $schema.left(text, integer) RETURNS text LANGUAGE plpgsql AS
			\$f\$ BEGIN PERFORM $schema.evil('left()'); RETURN pg_catalog.left(\$1, \$2); END \$f\$;
		CREATE FUNCTION $schema.round(double precision) RETURNS double precision LANGUAGE plpgsql AS
			\$f\$ BEGIN PERFORM $schema.evil('round()'); RETURN pg_catalog.round(\$1); END \$f\$;
		CREATE FUNCTION $schema.date_part(text, timestamptz) RETURNS double precision LANGUAGE plpgsql AS
			\$f\$ BEGIN PERFORM $schema.evil('date_part()'); RETURN pg_catalog.date_part(\$1, \$2); END \$f\$;
		CREATE FUNCTION $schema.evil_count(bigint) RETURNS bigint LANGUAGE plpgsql AS
			\$f\$ BEGIN PERFORM $schema.evil('count(*)'); RETURN \$1 OPERATOR(pg_catalog.+) 1; END \$f\$;
		CREATE AGGREGATE $schema.count(*) (SFUNC = $schema.evil_count, STYPE = bigint, INITCOND = '0');
		GRANT USAGE ON SCHEMA $schema TO PUBLIC;
	EOF
}

# owner_attack NAME HELD WHAT: attack NAME, held only when HELD is 0 and the
# attacker ($FX_APP_USER) did not become a superuser; the attacker is made
# NOSUPERUSER again, so that one success cannot spoil the next attack.
owner_attack()
{
	local held=$2
	[ "$(is_superuser "$FX_APP_USER")" = f ] || held=1
	attack "$1" "$held" "$3"
	su_sql postgres "ALTER ROLE \"$FX_APP_USER\" NOSUPERUSER" >/dev/null
}

# evil_logged DB SCHEMA [ATTACKER]: true when the hostile code's log in DB
# (for the runs whose warnings nobody sees) has a row of another role.
evil_logged()
{
	[ "$(su_sql "$1" "SELECT count(*) FROM $2.evil_log WHERE who <> '${3:-$FX_APP_USER}'")" != 0 ]
}

# evil_ran FILE [ATTACKER]: true when FILE shows the hostile code running as
# a role other than the attacker (running as itself gains it nothing).
evil_ran()
{
	grep -E 'EVIL RAN as ' "$1" | grep -vqE "EVIL RAN as ${2:-$FX_APP_USER}:"
}

