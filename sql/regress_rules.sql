-- The rule triggers (src/rule_trigger.c: messages_rules and, at the
-- statement's end, messages_thread_rules; reactions_rules, channels_rules,
-- set_updated_at), case by case, with the SQLSTATE of each refusal: the
-- column lists of 1.9's triggers (UPDATE OF), upserts, several rows in one
-- statement, the cascades of foreign keys, updated_at, and restores.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;
SET search_path = chatgenius, public;
\set SHOW_CONTEXT never

INSERT INTO users (id, auth0_id, email, username, full_name) VALUES
	('01A00000000000000000000001', 'auth0|ann', 'ann@example.com', 'ann', 'Ann A'),
	('01A00000000000000000000002', 'auth0|bob', 'bob@example.com', 'bob', 'Bob B'),
	('01A00000000000000000000003', 'auth0|cy', 'cy@example.com', 'cy', 'Cy C');
INSERT INTO channels (id, name, created_by) VALUES
	('01C00000000000000000000001', 'general', '01A00000000000000000000001'),
	('01C00000000000000000000002', 'old', '01A00000000000000000000001'),
	('01C00000000000000000000003', 'random', '01A00000000000000000000001');
INSERT INTO messages (id, channel_id, user_id, content, created_at) VALUES
	('01M00000000000000000000001', '01C00000000000000000000001', '01A00000000000000000000001', 'top', now() - interval '1 hour'),
	('01M00000000000000000000002', '01C00000000000000000000001', '01A00000000000000000000001', 'top 2', now() - interval '1 hour'),
	('01M00000000000000000000003', '01C00000000000000000000002', '01A00000000000000000000001', 'old top', now() - interval '1 hour');
INSERT INTO messages (id, channel_id, user_id, content, thread_id, created_at) VALUES
	('01M00000000000000000000004', '01C00000000000000000000001', '01A00000000000000000000002', 'reply', '01M00000000000000000000001', now() - interval '1 hour'),
	('01M00000000000000000000005', '01C00000000000000000000002', '01A00000000000000000000002', 'old reply', '01M00000000000000000000003', now() - interval '1 hour');
INSERT INTO reactions (message_id, user_id, emoji) VALUES
	('01M00000000000000000000003', '01A00000000000000000000002', ':+1:'),
	('01M00000000000000000000003', '01A00000000000000000000003', ':eyes:'),
	('01M00000000000000000000002', '01A00000000000000000000002', ':wave:');
UPDATE channels SET archived_at = now() - interval '1 minute', archived_by = '01A00000000000000000000003'
 WHERE id = '01C00000000000000000000002';

-- Threads.
UPDATE messages SET thread_id = id WHERE id = '01M00000000000000000000002';
\echo :SQLSTATE
UPDATE messages SET thread_id = '01M00000000000000000000002' WHERE id = '01M00000000000000000000001';
\echo :SQLSTATE
UPDATE messages SET thread_id = '01M00000000000000000000003' WHERE id = '01M00000000000000000000002';
\echo :SQLSTATE
-- A parent that is not found is an error (the foreign key's, which fires
-- first at the statement's end).
INSERT INTO messages (channel_id, user_id, content, thread_id)
VALUES ('01C00000000000000000000001', '01A00000000000000000000001', 'orphan', '01M0000000000000000000000Z');
\echo :SQLSTATE
-- Several rows in one statement are checked once they are all there: a
-- reply to a reply written before its parent, a reply in another channel
-- than its parent written after it, and one message becoming a reply while
-- another becomes its reply.
INSERT INTO messages (id, channel_id, user_id, content, thread_id) VALUES
	('01M00000000000000000000007', '01C00000000000000000000001', '01A00000000000000000000001', 'grandchild', '01M00000000000000000000006'),
	('01M00000000000000000000006', '01C00000000000000000000001', '01A00000000000000000000001', 'child', '01M00000000000000000000001');
\echo :SQLSTATE
INSERT INTO messages (id, channel_id, user_id, content, thread_id) VALUES
	('01M00000000000000000000006', '01C00000000000000000000001', '01A00000000000000000000001', 'elsewhere', '01M00000000000000000000007'),
	('01M00000000000000000000007', '01C00000000000000000000003', '01A00000000000000000000001', 'parent', NULL);
\echo :SQLSTATE
UPDATE messages SET thread_id = CASE id WHEN '01M00000000000000000000001' THEN '01M00000000000000000000002'
	ELSE '01M00000000000000000000001' END
 WHERE id IN ('01M00000000000000000000001', '01M00000000000000000000004');
\echo :SQLSTATE
-- A thread written reply first is what one statement may do.
BEGIN;
INSERT INTO messages (id, channel_id, user_id, content, thread_id) VALUES
	('01M00000000000000000000007', '01C00000000000000000000001', '01A00000000000000000000001', 'reply first', '01M00000000000000000000006'),
	('01M00000000000000000000006', '01C00000000000000000000001', '01A00000000000000000000001', 'parent last', NULL);
SELECT id, thread_id FROM messages WHERE id IN ('01M00000000000000000000006', '01M00000000000000000000007') ORDER BY id;
ROLLBACK;
-- A top-level message without replies may become one.
BEGIN;
UPDATE messages SET thread_id = '01M00000000000000000000001' WHERE id = '01M00000000000000000000002';
SELECT id, thread_id FROM messages WHERE id = '01M00000000000000000000002';
ROLLBACK;

-- Archived channels: an edit is refused (any change but deleted_at), an
-- UPDATE that names columns without changing them is not, nor a soft
-- delete; a hard delete is refused.
UPDATE messages SET content = 'edited' WHERE id = '01M00000000000000000000005';
\echo :SQLSTATE
UPDATE messages SET user_id = '01A00000000000000000000001' WHERE id = '01M00000000000000000000005';
\echo :SQLSTATE
DELETE FROM messages WHERE id = '01M00000000000000000000005';
\echo :SQLSTATE
UPDATE messages SET content = content, thread_id = thread_id WHERE id = '01M00000000000000000000005';
\echo :SQLSTATE
BEGIN;
UPDATE messages SET deleted_at = now() WHERE id = '01M00000000000000000000005';
SELECT deleted_at IS NOT NULL AS deleted, updated_at = now() AS updated_now
  FROM messages WHERE id = '01M00000000000000000000005';
ROLLBACK;
-- An upsert: refused in the archived channel (as a new message: BEFORE
-- INSERT fires before the conflict is found), kept current in
-- an open one.
INSERT INTO messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000005', '01C00000000000000000000002', '01A00000000000000000000002', 'upserted')
ON CONFLICT (id) DO UPDATE SET content = excluded.content;
\echo :SQLSTATE
BEGIN;
INSERT INTO messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000004', '01C00000000000000000000001', '01A00000000000000000000002', 'upserted')
ON CONFLICT (id) DO UPDATE SET content = excluded.content;
SELECT content, updated_at = now() AS updated_now FROM messages WHERE id = '01M00000000000000000000004';
ROLLBACK;
-- A back-dated message is a new one too: only a restore loads rows into an
-- archived channel.
INSERT INTO messages (channel_id, user_id, content, created_at)
VALUES ('01C00000000000000000000002', '01A00000000000000000000001', 'imported', now() - interval '1 day');
\echo :SQLSTATE

-- Reactions: none added, changed or taken back; one that goes with its
-- message or its user (a foreign key's cascade) still goes.
INSERT INTO reactions (message_id, user_id, emoji)
VALUES ('01M00000000000000000000003', '01A00000000000000000000001', ':tada:');
\echo :SQLSTATE
INSERT INTO reactions (message_id, user_id, emoji, created_at)
VALUES ('01M00000000000000000000003', '01A00000000000000000000001', ':tada:', now() - interval '1 day');
\echo :SQLSTATE
DELETE FROM reactions WHERE message_id = '01M00000000000000000000003';
\echo :SQLSTATE
UPDATE reactions SET emoji = ':-1:' WHERE message_id = '01M00000000000000000000003';
\echo :SQLSTATE
UPDATE reactions SET message_id = '01M00000000000000000000003' WHERE message_id = '01M00000000000000000000002';
\echo :SQLSTATE
BEGIN;
DELETE FROM messages WHERE id = '01M00000000000000000000002';
SELECT count(*) AS reactions_left FROM reactions WHERE message_id = '01M00000000000000000000002';
ROLLBACK;

-- Channels: an archived channel's row changes only by unarchiving, by a
-- soft delete, or by losing archived_by when that user goes (ON DELETE SET
-- NULL, which takes their reactions too); it is not deleted.
UPDATE channels SET description = 'the old one' WHERE id = '01C00000000000000000000002';
\echo :SQLSTATE
UPDATE channels SET archived_at = now() WHERE id = '01C00000000000000000000002';
\echo :SQLSTATE
UPDATE channels SET archived_by = NULL WHERE id = '01C00000000000000000000002';
\echo :SQLSTATE
DELETE FROM channels WHERE id = '01C00000000000000000000002';
\echo :SQLSTATE
BEGIN;
DELETE FROM users WHERE id = '01A00000000000000000000003';
SELECT archived_at IS NOT NULL AS archived, archived_by FROM channels WHERE id = '01C00000000000000000000002';
SELECT count(*) AS reactions_left FROM reactions WHERE user_id = '01A00000000000000000000003';
ROLLBACK;
BEGIN;
UPDATE channels SET deleted_at = now() WHERE id = '01C00000000000000000000002' AND deleted_at IS NULL;
SELECT archived_at IS NOT NULL AS archived, deleted_at IS NOT NULL AS deleted, updated_at = now() AS updated_now
  FROM channels WHERE id = '01C00000000000000000000002';
UPDATE channels SET deleted_at = NULL WHERE id = '01C00000000000000000000002';
\echo :SQLSTATE
ROLLBACK;
BEGIN;
UPDATE channels SET archived_at = NULL, archived_by = NULL WHERE id = '01C00000000000000000000002';
SELECT archived_at, updated_at = now() AS updated_now FROM channels WHERE id = '01C00000000000000000000002';
ROLLBACK;
-- An open channel's row changes freely, and keeps updated_at.
BEGIN;
UPDATE channels SET description = 'everyone' WHERE id = '01C00000000000000000000001';
SELECT description, updated_at = now() AS updated_now FROM channels WHERE id = '01C00000000000000000000001';
ROLLBACK;

-- The tables with updated_at alone.
BEGIN;
UPDATE users SET full_name = 'Ann B' WHERE id = '01A00000000000000000000001';
SELECT full_name, updated_at = now() AS updated_now FROM users WHERE id = '01A00000000000000000000001';
ROLLBACK;

-- The rule functions look their columns up once per backend, and again
-- after the table changes: a column they need that is gone is an error that
-- names it, not a read of a dropped column.
UPDATE messages SET content = 'warm' WHERE id = '01M00000000000000000000004';
BEGIN;
ALTER TABLE messages DROP COLUMN deleted_at CASCADE;
UPDATE messages SET content = 'after the change' WHERE id = '01M00000000000000000000004';
ROLLBACK;
UPDATE messages SET content = 'reply' WHERE id = '01M00000000000000000000004';
\echo :SQLSTATE

-- A superuser's restore (check_function_bodies off): the rules stand aside,
-- updated_at is still kept.
BEGIN;
SET LOCAL check_function_bodies = off;
SELECT restoring();
UPDATE messages SET content = 'restored edit' WHERE id = '01M00000000000000000000005';
SELECT content, updated_at = now() AS updated_now FROM messages WHERE id = '01M00000000000000000000005';
INSERT INTO messages (channel_id, user_id, content, thread_id)
VALUES ('01C00000000000000000000001', '01A00000000000000000000001', 'restored reply to a reply', '01M00000000000000000000004');
UPDATE channels SET description = 'restored' WHERE id = '01C00000000000000000000002';
SELECT description FROM channels WHERE id = '01C00000000000000000000002';
ROLLBACK;

DROP EXTENSION chatgenius CASCADE;
