#!/usr/bin/env bash
# An archived channel is read-only to the app, with no back door, and an
# admin can still delete it.
#  - Back doors a role holding only the README's app grants tries:
#    a reaction taken back, archived_by cleared and a message deleted from
#    an AFTER trigger on its own temporary table (pg_trigger_depth() > 1 was
#    taken for a foreign key's cascade); a post, a reaction and a COPY with
#    a back-dated created_at (the import exception); a hard DELETE of a
#    message, of a reply and of the channel itself; a reaction moved in
#    from an open channel or edited; a message given to another author; a
#    user's or a message's id changed in the statement that takes a
#    reaction back (so that its parent row looks gone); and posts and edits
#    in every statement shape (multi-row INSERT, INSERT ... SELECT, a
#    writable CTE, UPDATE ... FROM, ON CONFLICT DO UPDATE).  Each must be
#    refused with 55000 'channel "design" is archived' and change nothing.
#  - What must work: the app's soft delete of the channel (UPDATE channels
#    SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL, refused
#    by 1.6 to 1.10), unarchiving, a message's soft delete, and the real
#    cascades: a user deleted takes their reactions, the archiving user
#    deleted clears archived_by.
#  - The table of doc/extension.md ("The archived channel": operation,
#    statement, allowed or refused) is the rule's one description: each of
#    its statements is run against the archive and must do what it says.
# A statement refused for another reason (rights, syntax) is a setup error,
# never "held".  Against a fresh install and one of 1.0 updated to the newest.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/attack.sh"
sec_begin sec_archive member

U=01D00000000000000000000001	# posts in both channels
V=01D00000000000000000000002	# only reacted, in the archive
W=01D00000000000000000000003	# archived the channel, nothing else
ARCH=01E00000000000000000000001
OPEN=01E00000000000000000000002
M1=01F00000000000000000000001
M2=01F00000000000000000000002
M3=01F00000000000000000000003	# a reply to M1
O1=01F00000000000000000000004
RU1=01H00000000000000000000001	# U on M1
RV2=01H00000000000000000000002	# V on M2
RO=01H00000000000000000000003	# U on O1, in the open channel

# prepare DB KIND: the extension, the README's grants to member, the
# channel "design" with a thread and reactions, archived by W a day ago,
# and an open channel.
prepare()
{
	sec_app_db "$1" "$2" member \
		"INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name) VALUES
			('$U', 'a|1', 'u@x', 'ursula', 'U'), ('$V', 'a|2', 'v@x', 'victor', 'V'), ('$W', 'a|3', 'w@x', 'wanda', 'W')" \
		"INSERT INTO chatgenius.channels (id, name, created_by) VALUES ('$ARCH', 'design', '$U'), ('$OPEN', 'general', '$U')" \
		"INSERT INTO chatgenius.messages (id, channel_id, user_id, content, created_at) VALUES
			('$M1', '$ARCH', '$U', 'the plan', now() - interval '2 days'),
			('$M2', '$ARCH', '$U', 'the other plan', now() - interval '2 days'),
			('$O1', '$OPEN', '$U', 'hello', now() - interval '2 days')" \
		"INSERT INTO chatgenius.messages (id, channel_id, user_id, content, thread_id, created_at) VALUES
			('$M3', '$ARCH', '$U', 'agreed', '$M1', now() - interval '2 days')" \
		"INSERT INTO chatgenius.reactions (id, message_id, user_id, emoji, created_at) VALUES
			('$RU1', '$M1', '$U', ':+1:', now() - interval '2 days'), ('$RV2', '$M2', '$V', ':eyes:', now() - interval '2 days'),
			('$RO', '$O1', '$U', ':wave:', now() - interval '2 days')" \
		"UPDATE chatgenius.channels SET archived_at = now() - interval '1 day', archived_by = '$W' WHERE id = '$ARCH'"
}

# The archive's state as one digest: its row but updated_at, its messages,
# their reactions, and how many reactions there are at all.
STATE_SQL="SELECT 'state=' || md5(concat_ws('|',
	(SELECT row(c.name, c.description, c.type, c.created_by, c.created_at, c.deleted_at, c.archived_at, c.archived_by)::text
	   FROM chatgenius.channels c WHERE c.id = '$ARCH'),
	(SELECT string_agg(row(m.*)::text, ',' ORDER BY m.id) FROM chatgenius.messages m WHERE m.channel_id = '$ARCH'),
	(SELECT string_agg(row(r.*)::text, ',' ORDER BY r.id) FROM chatgenius.reactions r
	   JOIN chatgenius.messages m ON m.id = r.message_id WHERE m.channel_id = '$ARCH'),
	(SELECT count(*) FROM chatgenius.reactions)))"

# try DB SQL [STDIN]: SQL as member in a transaction that is rolled back
# (so that an attack that goes through spoils none of the next ones); sets
# STATE (the SQLSTATE, or "ok"), MSG (the error's primary message) and
# CHANGED (1 when the archive's state differed after the statement).
try()
{
	local before after
	before=$(as_role member "$1" -c "$STATE_SQL")
	sql_state member "$1" -c BEGIN -c "$2" -c "$STATE_SQL" -c ROLLBACK <<<"${3:-}"
	after=$(grep -o 'state=.*' <<<"$OUT")
	CHANGED=0
	[ -z "$after" ] || [ "$after" = "$before" ] || CHANGED=1
}

# run DB SQL: SQL as member, committed; sets STATE and MSG.
run()
{
	sql_state member "$1" -c "$2"
}

# verdict NAME: held when refused with 55000 'channel "design" is
# archived' and the archive unchanged; succeeded when the statement went
# through or changed the archive; any other error is a setup error.
verdict()
{
	refusal_verdict "$1" "$CHANGED" 55000 '^channel "design" is archived$'
}

# from_temp_trigger SQL: SQL run by an AFTER trigger on member's own
# temporary table (pg_trigger_depth() is 2 there, as in a cascade).
from_temp_trigger()
{
	printf '%s\n' "CREATE FUNCTION pg_temp.poke() RETURNS trigger LANGUAGE plpgsql AS \$f\$
		BEGIN $1; RETURN NULL; END \$f\$;
		CREATE TEMP TABLE poke (x int);
		CREATE TRIGGER poke AFTER INSERT ON poke FOR EACH ROW EXECUTE FUNCTION pg_temp.poke();
		INSERT INTO poke VALUES (1)"
}

# doc_rows: the documented table's rows, one "OPERATION<TAB>STATEMENT<TAB>VERDICT"
# line each (the statement without its backquotes; rows without SQL left out).
doc_rows()
{
	awk '/^<!-- test\/security\/archived_channel.t runs each statement/ {on = 1; next}
		on && /^\|/ {print; next}
		on && !/^\|/ && seen {exit}
		on {seen = 1}' "$TOP/doc/extension.md" |
		perl -ne 'next if /^\|---/ || /^\| operation \|/;
			my @c = map { s/^\s+|\s+$//gr } (split /\|/)[1 .. 3];
			next unless $c[1] =~ /^`((?:INSERT|UPDATE|DELETE)[^`]*)`$/;
			my $sql = $1; my ($v) = $c[2] =~ /^(allowed|refused)/;
			print "$c[0]\t$sql\t$v\n";'
}

# documented DB KIND: each statement of the documented table, as member,
# does what the table says.
documented()
{
	local db=$1 kind=$2 n=0 op sql verdict
	while IFS=$'\t' read -r op sql verdict; do
		n=$((n + 1))
		sql=${sql//\$channel/\'$ARCH\'}
		sql=${sql//\$message/\'$M1\'}
		sql=${sql//\$reaction/\'$RU1\'}
		sql=${sql//\$reactor/\'$V\'}
		sql=${sql//\$archiver/\'$W\'}
		sql=${sql//\$user/\'$U\'}
		try "$db" "$sql"
		if [ "$verdict" = refused ]; then
			is "$STATE $MSG" '55000 channel "design" is archived' "$kind: as documented, refused: $op"
		else
			is "$STATE${MSG:+ $MSG}" ok "$kind: as documented, allowed: $op"
		fi
	done < <(doc_rows)
	cmp_ok "$n" -ge 14 "$kind: the documented table is found ($n statements)"
}

msgs="chatgenius.messages (id, channel_id, user_id, content, created_at)"
for kind in $SEC_KINDS; do
	db=archive_$kind
	prepare "$db" "$kind"

	# One row, for the record.
	try "$db" "INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$ARCH', '$U', 'hello?')"
	is "$STATE $MSG" '55000 channel "design" is archived' "$kind: a post is refused"
	try "$db" "DELETE FROM chatgenius.reactions WHERE id = '$RU1'"
	is "$STATE $MSG" '55000 channel "design" is archived' "$kind: a reaction taken back is refused"

	# A cascade, as pg_trigger_depth() saw it.
	try "$db" "$(from_temp_trigger "DELETE FROM chatgenius.reactions WHERE id = '$RU1'")"
	verdict "temp_trigger_takes_back_reaction/$kind" "$db"
	try "$db" "$(from_temp_trigger "UPDATE chatgenius.channels SET archived_by = NULL WHERE id = '$ARCH'")"
	verdict "temp_trigger_clears_archived_by/$kind" "$db"
	try "$db" "$(from_temp_trigger "DELETE FROM chatgenius.messages WHERE id = '$M2'")"
	verdict "temp_trigger_deletes_message/$kind" "$db"

	# The import exception.
	try "$db" "INSERT INTO $msgs VALUES ('01G00000000000000000000001', '$ARCH', '$U', 'back-dated', '2020-01-01 00:00:00+00')"
	verdict "backdated_post/$kind" "$db"
	try "$db" "INSERT INTO chatgenius.reactions (message_id, user_id, emoji, created_at) VALUES ('$M1', '$V', ':tada:', '2020-01-01 00:00:00+00')"
	verdict "backdated_reaction/$kind" "$db"
	try "$db" "COPY $msgs FROM STDIN" "$(printf '%s\t%s\t%s\t%s\t%s\n\\.\n' 01G00000000000000000000002 "$ARCH" "$U" 'copied in' '2020-01-01 00:00:00+00')"
	verdict "backdated_copy/$kind" "$db"

	# Hard deletes.
	try "$db" "DELETE FROM chatgenius.messages WHERE id = '$M2'"
	verdict "hard_delete_message/$kind" "$db"
	try "$db" "DELETE FROM chatgenius.messages WHERE id = '$M3'"
	verdict "hard_delete_reply/$kind" "$db"
	try "$db" "DELETE FROM chatgenius.channels WHERE id = '$ARCH'"
	verdict "hard_delete_channel/$kind" "$db"

	# Reactions changed in place, messages given away.
	try "$db" "UPDATE chatgenius.reactions SET message_id = '$M1' WHERE id = '$RO'"
	verdict "reaction_moved_in/$kind" "$db"
	try "$db" "UPDATE chatgenius.reactions SET emoji = ':-1:' WHERE id = '$RU1'"
	verdict "reaction_edited/$kind" "$db"
	try "$db" "UPDATE chatgenius.reactions SET message_id = '$O1' WHERE id = '$RU1'"
	verdict "reaction_moved_out/$kind" "$db"
	try "$db" "UPDATE chatgenius.messages SET user_id = '$V' WHERE id = '$M1'"
	verdict "message_reattributed/$kind" "$db"

	# The parent made to look gone: its id changed by the same statement.
	try "$db" "WITH u AS (UPDATE chatgenius.users SET id = '01D00000000000000000000009' WHERE id = '$V' RETURNING id)
		DELETE FROM chatgenius.reactions r USING u WHERE r.id = '$RV2'"
	verdict "user_id_change_poses_as_cascade/$kind" "$db"
	try "$db" "WITH u AS (UPDATE chatgenius.messages SET id = '01F00000000000000000000009' WHERE id = '$M2' RETURNING id)
		DELETE FROM chatgenius.reactions r USING u WHERE r.id = '$RV2'"
	verdict "message_id_change_poses_as_cascade/$kind" "$db"

	# Every statement shape.
	try "$db" "INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$OPEN', '$U', 'fine'), ('$ARCH', '$U', 'not fine')"
	verdict "multi_row_post/$kind" "$db"
	try "$db" "INSERT INTO chatgenius.messages (channel_id, user_id, content) SELECT c.id, '$U', 'to every channel' FROM chatgenius.channels c"
	verdict "insert_select_post/$kind" "$db"
	try "$db" "WITH o AS (INSERT INTO chatgenius.messages (channel_id, user_id, content) VALUES ('$OPEN', '$U', 'fine') RETURNING id)
		INSERT INTO chatgenius.messages (channel_id, user_id, content) SELECT '$ARCH', '$U', 'after ' || o.id FROM o"
	verdict "cte_post/$kind" "$db"
	try "$db" "UPDATE chatgenius.messages m SET content = v.c FROM (VALUES ('$O1', 'edited'), ('$M1', 'rewritten')) v(id, c) WHERE m.id = v.id"
	verdict "update_from_edit/$kind" "$db"
	try "$db" "INSERT INTO $msgs VALUES ('$M1', '$ARCH', '$U', 'rewritten', '2020-01-01 00:00:00+00')
		ON CONFLICT (id) DO UPDATE SET content = excluded.content"
	verdict "on_conflict_edit/$kind" "$db"

	documented "$db" "$kind"

	# What works: the app's flows, and the real cascades.
	run "$db" "UPDATE chatgenius.messages SET deleted_at = now() WHERE id = '$M2'"
	is "$STATE" ok "$kind: a message's soft delete works in the archive"
	run "$db" "DELETE FROM chatgenius.users WHERE id = '$V'"
	is "$STATE" ok "$kind: a user who only reacted is deleted, the cascade takes the reaction"
	is "$(su_sql "$db" "SELECT count(*) FROM chatgenius.reactions WHERE id = '$RV2'")" 0 "$kind: the reaction went with its user"
	run "$db" "DELETE FROM chatgenius.users WHERE id = '$W'"
	is "$STATE" ok "$kind: the archiving user is deleted"
	is "$(su_sql "$db" "SELECT archived_at IS NOT NULL, archived_by IS NULL FROM chatgenius.channels WHERE id = '$ARCH'")" "t|t" \
		"$kind: archived_by is cleared (ON DELETE SET NULL), the channel stays archived"
	run "$db" "UPDATE chatgenius.channels SET deleted_at = now() WHERE id = '$ARCH' AND deleted_at IS NULL"
	is "$STATE${MSG:+ $MSG}" ok "$kind: the app soft-deletes the archived channel (softDeleteChannel)"
	is "$(su_sql "$db" "SELECT deleted_at IS NOT NULL, archived_at IS NOT NULL FROM chatgenius.channels WHERE id = '$ARCH'")" "t|t" \
		"$kind: it is soft-deleted and still archived"
	run "$db" "UPDATE chatgenius.channels SET archived_at = NULL, archived_by = NULL WHERE id = '$ARCH'"
	is "$STATE${MSG:+ $MSG}" ok "$kind: unarchiving works"
	run "$db" "DELETE FROM chatgenius.reactions WHERE id = '$RU1'"
	is "$STATE${MSG:+ $MSG}" ok "$kind: and the channel is writable again"
done

done_testing
