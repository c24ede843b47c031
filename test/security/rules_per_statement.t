#!/usr/bin/env bash
# The thread rules hold for every statement shape, as for one row.
#  - A role holding only the README's app grants writes, in one statement,
#    a reply to a reply (the reply first, its parent second) or a reply in
#    another channel than its parent.  The row trigger of 1.10 skipped a
#    parent it did not find yet and left it to the foreign key, which sees
#    the parent at the statement's end but checks neither depth nor
#    channel.  Tried with a multi-row INSERT, INSERT ... SELECT, COPY, a
#    writable CTE, INSERT ... ON CONFLICT DO UPDATE moving a reply, an
#    UPDATE of thread_id on many rows at once, UPDATE ... FROM, and an
#    UPDATE whose new parent a CTE of the same statement inserts.
#  - Each must be refused with the SQLSTATE and message of the one-row
#    statement (23514), leaving no reply to a reply and no reply in another
#    channel than its thread's; a reply whose parent does not exist is an
#    error (23503).
# A statement refused for another reason (rights, syntax) is a setup error,
# never "held".  Against a fresh install and one of 1.0 updated to the newest.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
. "$TOP/test/lib/attack.sh"
sec_begin sec_stmt member

U=01D00000000000000000000001
ONE=01E00000000000000000000001
TWO=01E00000000000000000000002
T1=01F00000000000000000000001	# top-level, channel one
T2=01F00000000000000000000002	# top-level, channel two
R1=01F00000000000000000000003	# a reply to T1

# prepare DB KIND: the extension, the README's grants to member, two
# channels, a thread in channel one and a top-level message in two.
prepare()
{
	sec_app_db "$1" "$2" member \
		"INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name) VALUES ('$U', 'a|1', 'a@x', 'ann', 'Ann')" \
		"INSERT INTO chatgenius.channels (id, name, created_by) VALUES ('$ONE', 'one', '$U'), ('$TWO', 'two', '$U')" \
		"INSERT INTO chatgenius.messages (id, channel_id, user_id, content) VALUES ('$T1', '$ONE', '$U', 'top one'), ('$T2', '$TWO', '$U', 'top two')" \
		"INSERT INTO chatgenius.messages (id, channel_id, user_id, content, thread_id) VALUES ('$R1', '$ONE', '$U', 'reply', '$T1')"
}

# nid VAR...: a new message id (ULID-shaped text) in each VAR.
N=0
nid()
{
	local v
	for v in "$@"; do
		N=$((N + 1))
		printf -v "$v" '01G%023d' "$N"
	done
}

# broken DB: replies whose parent is itself a reply, or in another channel.
broken()
{
	su_sql "$1" "SELECT count(*) FROM chatgenius.messages r JOIN chatgenius.messages p ON p.id = r.thread_id
		WHERE p.thread_id IS NOT NULL OR p.channel_id <> r.channel_id"
}

# try DB SQL [STDIN]: SQL as member; sets STATE (the SQLSTATE, or "ok") and
# MSG (the error's primary message), and BROKEN0, the broken threads before.
try()
{
	BROKEN0=$(broken "$1")
	sql_state member "$1" -c "$2" <<<"${3:-}"
}

# verdict NAME DB WANT_STATE WANT_MSG: the attack held when the statement was
# refused with WANT_STATE (the one-row statement's message matching WANT_MSG)
# and stored no broken thread; it succeeded when it went through or stored
# one; any other error is a setup error.
verdict()
{
	refusal_verdict "$1" "$(($(broken "$2") - BROKEN0))" "$3" "$4"
}

for kind in $SEC_KINDS; do
	db=stmt_$kind
	prepare "$db" "$kind"
	cols="chatgenius.messages (id, channel_id, user_id, content, thread_id)"

	# One row, for the record: what every shape below must match.
	nid x y
	try "$db" "INSERT INTO $cols VALUES ('$x', '$ONE', '$U', 'one row', '$R1')"
	is "$STATE $MSG" "23514 message $R1 is itself a reply" "$kind: one row, a reply to a reply: 23514"
	try "$db" "INSERT INTO $cols VALUES ('$y', '$ONE', '$U', 'one row', '$T2')"
	is "$STATE $MSG" "23514 reply must be in the channel of its thread" "$kind: one row, a reply in another channel: 23514"

	# Multi-row INSERT: the reply to a reply first, its parent second.
	nid g b
	try "$db" "INSERT INTO $cols VALUES ('$g', '$ONE', '$U', 'grandchild', '$b'), ('$b', '$ONE', '$U', 'child', '$T1')"
	verdict "multi_row_reply_to_reply/$kind" "$db" 23514 "message $b is itself a reply"
	# The same shape, the parent in channel two.
	nid r p
	try "$db" "INSERT INTO $cols VALUES ('$r', '$ONE', '$U', 'reply in one', '$p'), ('$p', '$TWO', '$U', 'parent in two', NULL)"
	verdict "multi_row_other_channel/$kind" "$db" 23514 "reply must be in the channel of its thread"

	# INSERT ... SELECT, in the order given.
	nid g b
	try "$db" "INSERT INTO $cols SELECT id, c, u, t, th FROM (VALUES (1, '$g', '$ONE', '$U', 'grandchild', '$b'),
		(2, '$b', '$ONE', '$U', 'child', '$T1')) v(n, id, c, u, t, th) ORDER BY v.n"
	verdict "insert_select_reply_to_reply/$kind" "$db" 23514 "message $b is itself a reply"

	# COPY, the reply to a reply first.
	nid g b
	try "$db" "COPY $cols FROM STDIN" "$(printf '%s\t%s\t%s\t%s\t%s\n%s\t%s\t%s\t%s\t%s\n\\.\n' \
		"$g" "$ONE" "$U" grandchild "$b" "$b" "$ONE" "$U" child "$T1")"
	verdict "copy_reply_to_reply/$kind" "$db" 23514 "message $b is itself a reply"
	nid r p
	try "$db" "COPY $cols FROM STDIN" "$(printf '%s\t%s\t%s\t%s\t%s\n%s\t%s\t%s\t%s\t\\N\n\\.\n' \
		"$r" "$ONE" "$U" 'reply in one' "$p" "$p" "$TWO" "$U" 'parent in two')"
	verdict "copy_other_channel/$kind" "$db" 23514 "reply must be in the channel of its thread"

	# A writable CTE: the outer INSERT reads the CTE, so the reply to a
	# reply is written before its parent.
	nid g b
	try "$db" "WITH g AS (INSERT INTO $cols VALUES ('$g', '$ONE', '$U', 'grandchild', '$b') RETURNING thread_id)
		INSERT INTO $cols SELECT g.thread_id, '$ONE', '$U', 'child', '$T1' FROM g"
	verdict "cte_reply_to_reply/$kind" "$db" 23514 "message $b is itself a reply"

	# INSERT ... ON CONFLICT DO UPDATE moves the existing reply R1 under a
	# message that the same statement inserts as a reply.
	nid p
	try "$db" "INSERT INTO $cols VALUES ('$R1', '$ONE', '$U', 'reply', '$p'), ('$p', '$ONE', '$U', 'new reply', '$T1')
		ON CONFLICT (id) DO UPDATE SET thread_id = excluded.thread_id"
	verdict "on_conflict_moves_reply/$kind" "$db" 23514 "message $p is itself a reply"
	# ... and under a top-level message of the other channel.
	try "$db" "INSERT INTO $cols VALUES ('$R1', '$ONE', '$U', 'reply', '$T2')
		ON CONFLICT (id) DO UPDATE SET thread_id = excluded.thread_id"
	verdict "on_conflict_other_channel/$kind" "$db" 23514 "reply must be in the channel of its thread"

	# UPDATE of thread_id on many rows at once: two top-level messages, the
	# first becomes a reply to the second, the second a reply to T1.
	nid a b
	su_sql "$db" "INSERT INTO $cols VALUES ('$a', '$ONE', '$U', 'a', NULL), ('$b', '$ONE', '$U', 'b', NULL)" >/dev/null
	try "$db" "UPDATE chatgenius.messages SET thread_id = CASE id WHEN '$a' THEN '$b' ELSE '$T1' END WHERE id IN ('$a', '$b')"
	verdict "update_many_thread_ids/$kind" "$db" 23514 "message $b (is itself a reply|has replies and cannot become a reply)"
	try "$db" "UPDATE chatgenius.messages m SET thread_id = v.t FROM (VALUES ('$b', '$T1'), ('$a', '$b')) v(id, t) WHERE m.id = v.id"
	verdict "update_from/$kind" "$db" 23514 "message $b (is itself a reply|has replies and cannot become a reply)"
	# An UPDATE whose new parent, a reply, a CTE of the same statement inserts.
	nid p
	try "$db" "WITH p AS (INSERT INTO $cols VALUES ('$p', '$ONE', '$U', 'new reply', '$T1') RETURNING id)
		UPDATE chatgenius.messages SET thread_id = '$p' WHERE id = '$a'"
	verdict "update_cte_new_parent/$kind" "$db" 23514 "message $p is itself a reply"

	# A reply whose parent does not exist: an error, in any shape.
	nid x y
	try "$db" "INSERT INTO $cols VALUES ('$x', '$ONE', '$U', 'orphan', '01G99999999999999999999999')"
	is "$STATE" 23503 "$kind: a reply to a message that does not exist is refused (23503)"
	try "$db" "COPY $cols FROM STDIN" "$(printf '%s\t%s\t%s\t%s\t%s\n\\.\n' "$y" "$ONE" "$U" orphan 01G99999999999999999999998)"
	is "$STATE" 23503 "$kind: and by COPY"

	# What the rules allow still goes through in one statement: a thread
	# written parent last, and a reply moved to another top-level message.
	nid r p
	try "$db" "INSERT INTO $cols VALUES ('$r', '$ONE', '$U', 'reply first', '$p'), ('$p', '$ONE', '$U', 'parent last', NULL)"
	is "$STATE" ok "$kind: a thread written reply first, parent second, in one statement"
	try "$db" "UPDATE chatgenius.messages SET thread_id = '$p' WHERE id = '$R1'"
	is "$STATE" ok "$kind: a reply moved to another thread of its channel"
	is "$(broken "$db")" 0 "$kind: no broken thread is stored by any attack"
done

done_testing
