#!/usr/bin/env bash
# Attack: the C rule triggers (1.10, src/rule_trigger.c) must run no code of
# the writer's choosing.  Their queries (a reply's parent, a channel's
# archiving, a message's channel, its replies) are prepared once per backend
# and run as the trigger function's owner, a superuser; a careless one would
# pick up an operator or function from a schema first in search_path.  The
# attacker, the database's owner (no superuser), writes hostile operators
# and functions into public (test/lib/attack.sh) and writes through every
# rule:
#  - prepared: public first in search_path from the session's start, so
#    that the backend prepares the rules' queries under it;
#  - replanned: the queries prepared under pg_catalog, then SET search_path
#    = public, pg_catalog and the same writes again (a saved plan is
#    replanned when search_path changes);
#  - poster: a role with only INSERT on messages (no right on channels)
#    posts: the FOR SHARE lock on the channel is taken with the owner's
#    rights, as the SECURITY DEFINER functions of 1.9 took it.
# The attack held if no hostile code ran as another role, the attacker did
# not become a superuser, and every rule still refused what it refuses.
# Against a fresh install and one of 1.0 updated to the newest.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/tap.sh"
. "$TOP/test/lib/fixture.sh"
. "$TOP/test/lib/attack.sh"
fx_init sec_rules
fx_pg_start
A=$FX_APP_USER
su_sql postgres 'CREATE ROLE poster LOGIN' >/dev/null

U=01D00000000000000000000001
OPEN=01E00000000000000000000001
ARCHIVED=01E00000000000000000000002
OTHER=01E00000000000000000000003
TOP_MSG=01F00000000000000000000001
REPLY=01F00000000000000000000002
OLD_MSG=01F00000000000000000000003
TOP2=01F00000000000000000000004

# prepare DB KIND: the extension, the documented grants to the attacker, a
# thread in an open channel, a message in a channel then archived.
prepare()
{
	sec_db "$1"
	sec_install "$1" "$2" >/dev/null 2>&1 || bail_out "install ($2) failed"
	app_grants "\"$A\""
	su_sql "$1" "${APP_GRANTS[@]}" \
		'GRANT USAGE ON SCHEMA chatgenius TO poster' 'GRANT INSERT ON chatgenius.messages TO poster' \
		"INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name) VALUES ('$U', 'a|1', 'a@x', 'ann', 'Ann')" \
		"INSERT INTO chatgenius.channels (id, name, created_by) VALUES ('$OPEN', 'general', '$U'), ('$ARCHIVED', 'old', '$U'), ('$OTHER', 'random', '$U')" \
		"INSERT INTO chatgenius.messages (id, channel_id, user_id, content) VALUES ('$TOP_MSG', '$OPEN', '$U', 'top'), ('$TOP2', '$OPEN', '$U', 'top 2'), ('$OLD_MSG', '$ARCHIVED', '$U', 'old')" \
		"INSERT INTO chatgenius.messages (id, channel_id, user_id, content, thread_id) VALUES ('$REPLY', '$OPEN', '$U', 'reply', '$TOP_MSG')" \
		"INSERT INTO chatgenius.reactions (message_id, user_id, emoji) VALUES ('$OLD_MSG', '$U', ':+1:')" \
		"UPDATE chatgenius.channels SET archived_at = pg_catalog.now() - interval '1 day', archived_by = '$U' WHERE id = '$ARCHIVED'" \
		>/dev/null || bail_out "could not prepare $1"
	hostile_code "$1" public
}

# writes TAG: the statements that drive every query of the rule triggers,
# every name qualified (the attacker's own statements pick up nothing), each
# followed by its SQLSTATE; a first line that sets the search_path when TAG
# is "replanned" (after the same writes under pg_catalog).
writes()
{
	cat <<-EOF
		\\set ON_ERROR_STOP 0
		\\set VERBOSITY terse
		INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id) VALUES ('$OPEN', '$U', 'a reply', '$TOP_MSG');
		\\echo $1 reply :SQLSTATE
		INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id) VALUES ('$OPEN', '$U', 'reply to a reply', '$REPLY');
		\\echo $1 reply_to_reply :SQLSTATE
		INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id) VALUES ('$OTHER', '$U', 'elsewhere', '$TOP_MSG');
		\\echo $1 other_channel :SQLSTATE
		UPDATE chatgenius.messages SET thread_id = '$TOP2' WHERE id OPERATOR(pg_catalog.=) '$TOP_MSG';
		\\echo $1 has_replies :SQLSTATE
		UPDATE chatgenius.messages SET channel_id = '$OTHER' WHERE id OPERATOR(pg_catalog.=) '$TOP_MSG';
		\\echo $1 move :SQLSTATE
		UPDATE chatgenius.messages SET content = 'edited' WHERE id OPERATOR(pg_catalog.=) '$TOP_MSG';
		\\echo $1 edit :SQLSTATE
		INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$ARCHIVED', '$U', 'into the archive');
		\\echo $1 archived_post :SQLSTATE
		UPDATE chatgenius.messages SET content = 'edited' WHERE id OPERATOR(pg_catalog.=) '$OLD_MSG';
		\\echo $1 archived_edit :SQLSTATE
		INSERT INTO chatgenius.reactions (message_id, user_id, emoji) VALUES ('$OLD_MSG', '$U', ':-1:');
		\\echo $1 archived_reaction :SQLSTATE
		DELETE FROM chatgenius.reactions WHERE message_id OPERATOR(pg_catalog.=) '$OLD_MSG';
		\\echo $1 archived_unreact :SQLSTATE
		INSERT INTO chatgenius.reactions (message_id, user_id, emoji) VALUES ('$TOP_MSG', '$U', ':$1:');
		\\echo $1 reaction :SQLSTATE
		UPDATE chatgenius.channels SET name = 'renamed' WHERE id OPERATOR(pg_catalog.=) '$ARCHIVED';
		\\echo $1 archived_rename :SQLSTATE
		UPDATE chatgenius.channels SET description = 'all of us' WHERE id OPERATOR(pg_catalog.=) '$OPEN';
		\\echo $1 describe :SQLSTATE
	EOF
}

# The SQLSTATE of each write, as 1.9's PL/pgSQL functions answered.
expected()
{
	cat <<-EOF
		$1 reply 00000
		$1 reply_to_reply 23514
		$1 other_channel 23514
		$1 has_replies 23514
		$1 move 23514
		$1 edit 00000
		$1 archived_post 55000
		$1 archived_edit 55000
		$1 archived_reaction 55000
		$1 archived_unreact 55000
		$1 reaction 00000
		$1 archived_rename 55000
		$1 describe 00000
	EOF
}

for kind in $SEC_KINDS; do
	db=rules_$kind
	prepare "$db" "$kind"
	as_role "$A" "$db" -c "SELECT 'x'::varchar = 'x'::varchar" 2>&1 | grep -q "EVIL RAN as $A:"
	ok $? "$kind: the attacker's own unqualified = runs its hostile operator (the attack is set up)"

	# 1. Prepared under the hostile search_path.
	out=$FX_DIR/$db.prepared.out
	writes prepared | PGOPTIONS='-c search_path=public,pg_catalog' as_role "$A" "$db" >"$out" 2>&1
	held=0
	evil_ran "$out" && held=1
	owner_attack "rule_trigger_search_path_prepared/$kind" $held \
		"no hostile operator runs in the rule triggers' queries prepared under public, pg_catalog"
	[ $held = 0 ] || diag "$(grep -m5 'EVIL RAN' "$out")"
	is "$(grep '^prepared ' "$out")" "$(expected prepared)" "$kind: every rule answers as before (prepared)"

	# 2. Prepared under pg_catalog, then replanned under the hostile path.
	out=$FX_DIR/$db.replanned.out
	{
		writes first
		echo 'SET search_path = public, pg_catalog;'
		writes replanned
	} | PGOPTIONS='-c search_path=pg_catalog' as_role "$A" "$db" >"$out" 2>&1
	held=0
	evil_ran "$out" && held=1
	owner_attack "rule_trigger_search_path_replanned/$kind" $held \
		"no hostile operator runs in the rule triggers' queries after SET search_path = public, pg_catalog"
	[ $held = 0 ] || diag "$(grep -m5 'EVIL RAN' "$out")"
	is "$(grep '^replanned ' "$out")" "$(expected replanned)" "$kind: every rule answers as before (replanned)"

	evil_logged "$db" public && held=1 || held=0
	owner_attack "rule_trigger_search_path_logged/$kind" $held "the hostile code's log has no row of another role"

	# 3. A role with INSERT on messages alone: the rules read and lock what
	# it may not.
	out=$(PGOPTIONS='-c search_path=public,pg_catalog' as_role poster "$db" -v VERBOSITY=terse \
		-c "INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id) VALUES ('$OPEN', '$U', 'poster''s reply', '$TOP_MSG')" \
		-c "INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$ARCHIVED', '$U', 'poster into the archive')" 2>&1)
	like "$out" 'channel "old" is archived' "$kind: a role without rights on channels is refused a post into an archived one"
	unlike "$out" 'permission denied' "$kind: the rules read channels and messages with their owner's rights"
	is "$(su_sql "$db" "SELECT count(*) FROM chatgenius.messages WHERE content = 'poster''s reply'")" 1 \
		"$kind: its reply in an open channel went in"
	unlike "$out" 'EVIL RAN' "$kind: no hostile code ran for poster either"
done

done_testing
