#!/usr/bin/env bash
# Hole 3 of issue 14, and every setting the extension reads.
#  - chatgenius.restoring() lets a restore past the rule and NOTIFY
#    triggers.  An app role holding only the documented grants, with
#    check_function_bodies off (SET, PGOPTIONS, or its own ALTER ROLE ...
#    SET), must still be refused a post into an archived channel, a reply
#    to a reply and a move to another channel; session_replication_role,
#    the other restore signal, is refused to it by PostgreSQL.
#  - Each chatgenius.* setting, SET by that role, by its ALTER ROLE ... SET
#    and by the database owner's ALTER DATABASE ... SET, to a value that
#    silences a rule or a health check, is refused.
# Against a fresh install and one of 1.0 updated to the newest.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/attack.sh"
. "$TOP/test/lib/rt_lib.sh"
fx_init sec_restore
fx_pg_start
OWNER=$FX_APP_USER
su_sql postgres 'CREATE ROLE chat LOGIN' >/dev/null

U=01D00000000000000000000001
ARCHIVED=01E00000000000000000000001
OPEN=01E00000000000000000000002
OTHER=01E00000000000000000000003
TOP_MSG=01F00000000000000000000001
REPLY=01F00000000000000000000002

# prepare DB KIND: the extension, the documented grants to chat, an archived
# channel, and a thread of two messages in an open one.
prepare()
{
	sec_db "$1"
	sec_install "$1" "$2" >/dev/null 2>&1 || bail_out "install ($2) failed"
	app_grants chat
	su_sql "$1" "${APP_GRANTS[@]}" \
		"INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name) VALUES ('$U', 'a|1', 'a@x', 'ann', 'Ann')" \
		"INSERT INTO chatgenius.channels (id, name, created_by) VALUES ('$ARCHIVED', 'old', '$U'), ('$OPEN', 'general', '$U'), ('$OTHER', 'random', '$U')" \
		"UPDATE chatgenius.channels SET archived_at = now() - interval '1 day', archived_by = '$U' WHERE id = '$ARCHIVED'" \
		"INSERT INTO chatgenius.messages (id, channel_id, user_id, content) VALUES ('$TOP_MSG', '$OPEN', '$U', 'top')" \
		"INSERT INTO chatgenius.messages (id, channel_id, user_id, content, thread_id) VALUES ('$REPLY', '$OPEN', '$U', 'reply', '$TOP_MSG')" \
		>/dev/null || bail_out "could not prepare $1"
}

# breaks DB [PSQL ARGS]: chat's three rule breaks, each in its own
# statement; prints how many went through.
breaks()
{
	local db=$1 n=0
	shift
	as_role chat "$db" "$@" -c "INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$ARCHIVED', '$U', 'into the archive')" >/dev/null 2>&1 && n=$((n + 1))
	as_role chat "$db" "$@" -c "INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id) VALUES ('$OPEN', '$U', 'reply to a reply', '$REPLY')" >/dev/null 2>&1 && n=$((n + 1))
	as_role chat "$db" "$@" -c "UPDATE chatgenius.messages SET channel_id = '$OTHER' WHERE id = '$TOP_MSG'" >/dev/null 2>&1 && n=$((n + 1))
	echo $n
}

for kind in $SEC_KINDS; do
	db=restore_$kind
	prepare "$db" "$kind"
	is "$(breaks "$db")" 0 "$kind: the three rule breaks are refused in a plain session"

	n=$(breaks "$db" -c 'SET check_function_bodies = off')
	attack "restore_signal_set/$kind" "$n" "SET check_function_bodies = off does not lift the rules ($n of 3 went through)"
	n=$(PGOPTIONS='-c check_function_bodies=off' breaks "$db")
	attack "restore_signal_pgoptions/$kind" "$n" "PGOPTIONS check_function_bodies=off does not lift the rules ($n of 3 went through)"
	as_role chat "$db" -c 'ALTER ROLE chat SET check_function_bodies = off' >/dev/null 2>&1
	n=$(breaks "$db")
	su_sql "$db" 'ALTER ROLE chat RESET check_function_bodies' >/dev/null
	attack "restore_signal_alter_role/$kind" "$n" "ALTER ROLE chat SET check_function_bodies = off does not lift the rules ($n of 3 went through)"
	as_role "$OWNER" "$db" -c "ALTER DATABASE $db SET check_function_bodies = off" >/dev/null 2>&1
	n=$(breaks "$db")
	su_sql "$db" "ALTER DATABASE $db RESET check_function_bodies" >/dev/null
	attack "restore_signal_alter_database/$kind" "$n" "the owner's ALTER DATABASE SET check_function_bodies = off does not lift the rules ($n of 3 went through)"
	as_role chat "$db" -c 'SET session_replication_role = replica' >/dev/null 2>&1
	attack "restore_signal_replica/$kind" $((1 - $?)) "session_replication_role = replica is refused to the app role"
	is "$(su_sql "$db" "SELECT count(*) FROM chatgenius.messages")" 2 "$kind: no row of an attack is in the table"

	# A write the rules allow is still announced: the switch does not
	# silence a writer's changes either.
	rt_listen "l_$kind" message_change "$db"
	id=01F0000000000000000000000A
	[ "$kind" = fresh ] || id=01F0000000000000000000000B
	as_role chat "$db" -v ON_ERROR_STOP=1 -c 'SET check_function_bodies = off' \
		-c "INSERT INTO chatgenius.messages (id, channel_id, user_id, content) VALUES ('$id', '$OPEN', '$U', 'announced')" >/dev/null
	ok $? "$kind: chat posts a message the rules allow, with check_function_bodies off"
	fx_wait_for 20 "the notification of $id" bash -c "grep -q '$id' '$FX_DIR/l_$kind.log'"
	got=$?
	rt_stop_listener "l_$kind"
	attack "restore_signal_silence/$kind" "$got" "a post with check_function_bodies off is still announced"

	# A superuser's restore still loads what the rules would refuse.
	out=$(su_sql "$db" 'SET check_function_bodies = off' \
		"INSERT INTO chatgenius.messages (id, channel_id, user_id, content, created_at) VALUES ('01F00000000000000000000009', '$ARCHIVED', '$U', 'from a dump', now())" \
		'SELECT chatgenius.restoring()' 2>&1)
	is "$out" t "$kind: a superuser's session with check_function_bodies off still loads a dump"

	# Every chatgenius.* setting the server knows, as chat (SET, ALTER
	# ROLE ... SET) and as the database owner (ALTER DATABASE ... SET), to
	# a value that weakens what it governs.
	while IFS='|' read -r name vartype max; do
		case $name in
			chatgenius.realtime) value=off ;;
			*) [ "$vartype" = enum ] && value=off || value=$max ;;
		esac
		n=0
		as_role chat "$db" -c "SET $name = '$value'" >/dev/null 2>&1 && n=$((n + 1))
		as_role chat "$db" -c "ALTER ROLE chat SET $name = '$value'" >/dev/null 2>&1 && n=$((n + 1))
		as_role "$OWNER" "$db" -c "ALTER DATABASE $db SET $name = '$value'" >/dev/null 2>&1 && n=$((n + 1))
		su_sql "$db" "ALTER ROLE chat RESET $name" "ALTER DATABASE $db RESET $name" >/dev/null
		attack "guc_set/$name/$kind" "$n" "$name = $value is refused to the app role and the database owner ($n of 3 went through)"
	done < <(su_sql "$db" "SELECT name, vartype, coalesce(max_val, '') FROM pg_settings WHERE name LIKE 'chatgenius.%' ORDER BY name")
done

done_testing
