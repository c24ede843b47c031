#!/usr/bin/env bash
# Hole 2 of issue 14: a schema "chatgenius" made before CREATE EXTENSION.
# The control file names schema = chatgenius, and CREATE EXTENSION uses a
# schema of that name that already exists.  A database owner (not a
# superuser) who creates it, with operators that the scripts would pick up,
# must not get a superuser's CREATE EXTENSION to run them: the install is
# refused, with an error that says why and what to do.  Tried against a
# fresh install and one of 1.0 updated to the newest; also a schema that a
# superuser made but let the owner fill.  A schema that a superuser or the
# installing role made and nobody else wrote into (what pg_restore makes)
# is still taken.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
. "$TOP/test/lib/fixture.sh"
. "$TOP/test/lib/attack.sh"
fx_init sec_schema
fx_pg_start
A=$FX_APP_USER

# refused_install NAME DB KIND WHAT: the superuser's install (KIND: fresh or
# updated) into DB, whose schema chatgenius the owner laid a trap in, must
# fail without running the owner's code as anyone else; output in $OUT.
refused_install()
{
	local name=$1 db=$2 kind=$3 what=$4 held=0
	OUT=$FX_DIR/$db.out
	sec_install "$db" "$kind" >"$OUT" 2>&1 && held=1
	evil_ran "$OUT" && held=1
	owner_attack "$name" $held "$what"
	[ $held = 0 ] || diag "$(head -5 "$OUT")"
}

for kind in $SEC_KINDS; do
	# 1. The owner makes the schema and fills it.
	db=pre_$kind
	sec_db "$db"
	hostile_code "$db" chatgenius
	refused_install "precreated_schema/$kind" "$db" "$kind" \
		"a schema chatgenius owned by the database owner is refused"
	like "$(cat "$OUT")" 'schema "chatgenius" already exists and is owned by role "'"$A"'"' \
		"$kind: the error names the schema and its owner"
	like "$(cat "$OUT")" 'HINT:  .*DROP SCHEMA chatgenius' "$kind: the hint says how to go on"

	# Once the schema is gone, the install goes through.
	su_sql "$db" 'DROP SCHEMA chatgenius CASCADE' >/dev/null 2>&1
	sec_install "$db" "$kind" >/dev/null 2>&1
	ok $? "$kind: after DROP SCHEMA the install goes through"

	# 2. A superuser makes the schema, but the owner may create in it.
	db=pre_granted_$kind
	sec_db "$db"
	su_sql "$db" 'CREATE SCHEMA chatgenius' "GRANT CREATE, USAGE ON SCHEMA chatgenius TO \"$A\"" >/dev/null
	hostile_code "$db" chatgenius
	refused_install "precreated_schema_objects/$kind" "$db" "$kind" \
		"a superuser's schema holding the owner's operators is refused"
	like "$(cat "$OUT")" 'schema "chatgenius" already holds objects owned by role "'"$A"'"' \
		"$kind: the error names the objects' owner"

	# 3. An empty schema made by a superuser (pg_restore makes one so) is taken.
	db=pre_clean_$kind
	sec_db "$db"
	su_sql "$db" 'CREATE SCHEMA chatgenius' >/dev/null
	sec_install "$db" "$kind" >"$FX_DIR/$db.out" 2>&1
	ok $? "$kind: an empty schema made by a superuser is taken"
	[ -s "$FX_DIR/$db.out" ] && diag "$(head -3 "$FX_DIR/$db.out")"
done

# 4. An install from before the check, in the owner's schema (made as 1.4
# would have: the schema taken over afterwards); the update refuses it.
db=pre_old
sec_db "$db"
su_sql "$db" "CREATE EXTENSION chatgenius VERSION '1.4'" "ALTER SCHEMA chatgenius OWNER TO \"$A\"" >/dev/null
hostile_code "$db" chatgenius
held=0
su_sql "$db" 'ALTER EXTENSION chatgenius UPDATE' >"$FX_DIR/$db.out" 2>&1 && held=1
evil_ran "$FX_DIR/$db.out" && held=1
owner_attack precreated_schema_update $held "ALTER EXTENSION UPDATE refuses an extension schema that the owner owns"
like "$(cat "$FX_DIR/$db.out")" 'schema "chatgenius" is owned by role "'"$A"'"' "the update says why"

done_testing
