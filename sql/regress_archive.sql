-- Channel archiving (1.1): an archived channel takes no new message and no
-- edit; since 1.6 no reaction either, and its row changes only by
-- unarchiving (since 1.11 or a soft delete); the live channel list has its
-- partial index.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;
SET search_path = chatgenius, public;
\set SHOW_CONTEXT never

INSERT INTO users (id, auth0_id, email, username, full_name) VALUES
	('01A00000000000000000000001', 'auth0|alice', 'alice@example.com', 'alice', 'Alice A'),
	('01A00000000000000000000002', 'auth0|bob', 'bob@example.com', 'bob', 'Bob B');
INSERT INTO channels (id, name, type, created_by)
VALUES ('01C00000000000000000000001', 'old-project', 'public', '01A00000000000000000000001');
INSERT INTO messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000001', '01C00000000000000000000001', '01A00000000000000000000001', 'last words');

-- Archive it.
UPDATE channels SET archived_at = now() - interval '1 minute', archived_by = '01A00000000000000000000002'
 WHERE id = '01C00000000000000000000001';

-- No new message, no reply, no edit.
INSERT INTO messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000001', '01A00000000000000000000002', 'anyone here?');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO messages (channel_id, user_id, content, thread_id)
VALUES ('01C00000000000000000000001', '01A00000000000000000000002', 'replying', '01M00000000000000000000001');
\echo :LAST_ERROR_SQLSTATE
UPDATE messages SET content = 'rewritten history', edited = true WHERE id = '01M00000000000000000000001';
\echo :LAST_ERROR_SQLSTATE
-- Soft delete and read markers still work; a reaction does not (1.6).
UPDATE messages SET deleted_at = now() WHERE id = '01M00000000000000000000001';
INSERT INTO reactions (message_id, user_id, emoji)
VALUES ('01M00000000000000000000001', '01A00000000000000000000002', ':wave:');
-- A back-dated message is a new post too; rows from a dump load in a
-- superuser's restore (restoring(): check_function_bodies off, as pg_dump's
-- output sets it).
INSERT INTO messages (id, channel_id, user_id, content, created_at)
VALUES ('01M00000000000000000000002', '01C00000000000000000000001', '01A00000000000000000000001',
	'from the backup', '2024-12-31 23:00:00+00');
\echo :LAST_ERROR_SQLSTATE
SET check_function_bodies = off;
INSERT INTO messages (id, channel_id, user_id, content, created_at)
VALUES ('01M00000000000000000000002', '01C00000000000000000000001', '01A00000000000000000000001',
	'from the backup', '2024-12-31 23:00:00+00');
RESET check_function_bodies;
SELECT id, content, edited, deleted_at IS NOT NULL AS deleted
  FROM messages ORDER BY id;

-- archived_by without archived_at makes no sense; nothing but unarchiving
-- changes an archived channel's row (1.6).
\set VERBOSITY terse
UPDATE channels SET archived_at = NULL WHERE id = '01C00000000000000000000001';
\echo :LAST_ERROR_SQLSTATE
UPDATE channels SET archived_by = '01A00000000000000000000009' WHERE id = '01C00000000000000000000001';
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- Unarchived, it takes messages again.
UPDATE channels SET archived_at = NULL, archived_by = NULL WHERE id = '01C00000000000000000000001';
INSERT INTO messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000003', '01C00000000000000000000001', '01A00000000000000000000002', 'back again');
SELECT count(*) AS messages FROM messages;

-- Archiving and a message in the same transaction: the message is refused.
BEGIN;
UPDATE channels SET archived_at = now() WHERE id = '01C00000000000000000000001';
INSERT INTO messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000001', '01A00000000000000000000002', 'just in time?');
ROLLBACK;

-- Deleting the archiving user keeps the channel archived.
INSERT INTO users (id, auth0_id, email, username, full_name)
VALUES ('01A00000000000000000000003', 'auth0|carol', 'carol@example.com', 'carol', 'Carol C');
UPDATE channels SET archived_at = '2025-01-01 00:00:00+00', archived_by = '01A00000000000000000000003'
 WHERE id = '01C00000000000000000000001';
DELETE FROM users WHERE id = '01A00000000000000000000003';
SELECT archived_at, archived_by FROM channels;

-- The cascade check reads users through its primary key: without it (a
-- damaged install) a reaction taken back is an error with a hint.
BEGIN;
UPDATE channels SET archived_at = NULL WHERE id = '01C00000000000000000000001';
INSERT INTO reactions (message_id, user_id, emoji)
VALUES ('01M00000000000000000000001', '01A00000000000000000000001', ':eyes:');
UPDATE channels SET archived_at = now() WHERE id = '01C00000000000000000000001';
SET client_min_messages = warning;
ALTER TABLE users DROP CONSTRAINT users_pkey CASCADE;
RESET client_min_messages;
DELETE FROM reactions WHERE emoji = ':eyes:';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- The live channel list uses the partial index.
INSERT INTO channels (id, name, type, created_by, archived_at, deleted_at)
SELECT '01C' || lpad(c::text, 23, '0'), 'channel-' || lpad(c::text, 5, '0'), 'public',
	'01A00000000000000000000001',
	CASE WHEN c % 3 = 0 THEN '2025-01-01 00:00:00+00'::timestamptz END,
	CASE WHEN c % 5 = 0 THEN '2025-01-01 00:00:00+00'::timestamptz END
  FROM generate_series(2, 5000) AS c;
ANALYZE channels;
SELECT count(*) AS live_channels FROM channels WHERE archived_at IS NULL AND deleted_at IS NULL;
EXPLAIN (COSTS OFF)
SELECT id, name FROM channels
 WHERE archived_at IS NULL AND deleted_at IS NULL
 ORDER BY name
 LIMIT 20;
SELECT pg_get_indexdef('chatgenius.channels_live_idx'::regclass);
