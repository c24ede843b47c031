-- The app's own flows (1.6): leaving and re-joining a channel as the app
-- does it (soft delete, then a plain INSERT), the unique keys of the tables
-- with soft delete, and an archived channel read-only, which an admin may
-- still soft-delete (1.11: the app's softDeleteChannel).
BEGIN;
SELECT plan(32);

INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name) VALUES
	('01X00000000000000000000011', 'flows|a', 'flows-a@example.com', 'fa', 'F A'),
	('01X00000000000000000000012', 'flows|b', 'flows-b@example.com', 'fb', 'F B'),
	('01X00000000000000000000013', 'flows|c', 'flows-c@example.com', 'fc', 'F C');
INSERT INTO chatgenius.channels (id, name, type, created_by) VALUES
	('01Y00000000000000000000011', 'flows-live', 'public', '01X00000000000000000000011'),
	('01Y00000000000000000000012', 'flows-archive', 'public', '01X00000000000000000000011');
INSERT INTO chatgenius.messages (id, channel_id, user_id, content) VALUES
	('01Z00000000000000000000011', '01Y00000000000000000000012', '01X00000000000000000000011', 'before'),
	('01Z00000000000000000000012', '01Y00000000000000000000012', '01X00000000000000000000012', 'also before');
INSERT INTO chatgenius.reactions (message_id, user_id, emoji) VALUES
	('01Z00000000000000000000011', '01X00000000000000000000012', ':tada:'),
	('01Z00000000000000000000012', '01X00000000000000000000013', ':eyes:');

-- ------------------------------------------------------------ leave and re-join
INSERT INTO chatgenius.channel_members (channel_id, user_id)
VALUES ('01Y00000000000000000000011', '01X00000000000000000000012');
SELECT lives_ok($$UPDATE chatgenius.channel_members SET deleted_at = now()
	WHERE channel_id = '01Y00000000000000000000011' AND user_id = '01X00000000000000000000012'
	  AND deleted_at IS NULL$$, 'leave: the app''s soft delete');
SELECT lives_ok($$INSERT INTO chatgenius.channel_members (channel_id, user_id)
	VALUES ('01Y00000000000000000000011', '01X00000000000000000000012')$$,
	're-join: the app''s plain INSERT after a leave');
SELECT is((SELECT count(*)::int FROM chatgenius.channel_members
	WHERE channel_id = '01Y00000000000000000000011' AND user_id = '01X00000000000000000000012'), 2,
	'the old membership is kept, soft-deleted, beside the new one');
SELECT throws_ok($$INSERT INTO chatgenius.channel_members (channel_id, user_id)
	VALUES ('01Y00000000000000000000011', '01X00000000000000000000012')$$,
	'23505', NULL, 'a second live membership is refused');
SELECT lives_ok($$UPDATE chatgenius.channel_members SET deleted_at = now()
	WHERE channel_id = '01Y00000000000000000000011' AND user_id = '01X00000000000000000000012'
	  AND deleted_at IS NULL$$, 'leave again');
SELECT lives_ok($$INSERT INTO chatgenius.channel_members (channel_id, user_id)
	VALUES ('01Y00000000000000000000011', '01X00000000000000000000012')
	ON CONFLICT (channel_id, user_id) WHERE deleted_at IS NULL DO NOTHING$$,
	'an upsert names the live rows: ON CONFLICT (channel_id, user_id) WHERE deleted_at IS NULL');
SELECT is((SELECT count(*)::int FROM chatgenius.channel_members
	WHERE channel_id = '01Y00000000000000000000011' AND user_id = '01X00000000000000000000012'
	  AND deleted_at IS NULL), 1, 'one live membership');
SELECT lives_ok($$INSERT INTO chatgenius.channel_members (channel_id, user_id)
	VALUES ('01Y00000000000000000000011', '01X00000000000000000000012')
	ON CONFLICT (channel_id, user_id) WHERE deleted_at IS NULL DO NOTHING$$,
	'and the same upsert again does nothing');
SELECT is((SELECT count(*)::int FROM chatgenius.channel_members
	WHERE channel_id = '01Y00000000000000000000011' AND user_id = '01X00000000000000000000012'), 3,
	'three rows: two left, one live');
SELECT is(ARRAY(SELECT pg_get_indexdef(indexrelid) FROM pg_index
	WHERE indrelid = 'chatgenius.channel_members'::regclass AND indisunique AND NOT indisprimary),
	ARRAY['CREATE UNIQUE INDEX channel_members_channel_user_live_key ON chatgenius.channel_members USING btree (channel_id, user_id) WHERE (deleted_at IS NULL)'],
	'channel_members: the one unique key counts live rows only');
-- Every other unique key is on a table without soft delete, or (users) an
-- identity that stays one user; ON CONFLICT on it keeps its arbiter.
SELECT is_empty($$SELECT c.relname, i.indexrelid::regclass FROM pg_index i
	JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
	JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'deleted_at'
	WHERE n.nspname = 'chatgenius' AND i.indisunique AND NOT i.indisprimary
	  AND i.indpred IS NULL AND c.relname NOT IN ('users')$$,
	'no other table with soft delete has a unique key over deleted rows');
SELECT lives_ok($$INSERT INTO chatgenius.users (auth0_id, email, username, full_name)
	VALUES ('flows|a', 'flows-a@example.com', 'fa', 'F A again')
	ON CONFLICT (auth0_id) DO UPDATE SET full_name = EXCLUDED.full_name, deleted_at = NULL$$,
	'users: signing in again upserts ON CONFLICT (auth0_id)');
SELECT is((SELECT full_name FROM chatgenius.users WHERE auth0_id = 'flows|a'), 'F A again',
	'the same user row');

-- ------------------------------------------------------------ archived: read-only
UPDATE chatgenius.channels SET archived_at = now() - interval '1 second', archived_by = '01X00000000000000000000011'
 WHERE id = '01Y00000000000000000000012';
SELECT throws_ok($$INSERT INTO chatgenius.messages (channel_id, user_id, content)
	VALUES ('01Y00000000000000000000012', '01X00000000000000000000012', 'late')$$,
	'55000', 'channel "flows-archive" is archived', 'no post');
SELECT throws_ok($$UPDATE chatgenius.messages SET content = 'edited', edited = true
	WHERE id = '01Z00000000000000000000011'$$,
	'55000', 'channel "flows-archive" is archived', 'no edit');
SELECT throws_ok($$UPDATE chatgenius.messages SET thread_id = '01Z00000000000000000000011'
	WHERE id = '01Z00000000000000000000012'$$,
	'55000', 'channel "flows-archive" is archived', 'no message moved into a thread');
SELECT throws_ok($$INSERT INTO chatgenius.reactions (message_id, user_id, emoji)
	VALUES ('01Z00000000000000000000011', '01X00000000000000000000013', ':+1:')$$,
	'55000', 'channel "flows-archive" is archived', 'no reaction added');
SELECT throws_ok($$DELETE FROM chatgenius.reactions WHERE message_id = '01Z00000000000000000000011'$$,
	'55000', 'channel "flows-archive" is archived', 'no reaction taken back');
SELECT throws_ok($$UPDATE chatgenius.channels SET name = 'renamed' WHERE id = '01Y00000000000000000000012'$$,
	'55000', 'channel "flows-archive" is archived', 'the archived channel''s row: no rename');
SELECT throws_ok($$UPDATE chatgenius.channels SET description = 'new words' WHERE id = '01Y00000000000000000000012'$$,
	'55000', 'channel "flows-archive" is archived', 'no new description');
SELECT throws_ok($$DELETE FROM chatgenius.messages WHERE id = '01Z00000000000000000000012'$$,
	'55000', 'channel "flows-archive" is archived', 'no hard delete of its messages');
SELECT throws_ok($$UPDATE chatgenius.channels SET archived_at = now() WHERE id = '01Y00000000000000000000012'$$,
	'55000', 'channel "flows-archive" is archived', 'no second archiving');
SELECT throws_ok($$UPDATE chatgenius.channels SET archived_at = NULL, archived_by = NULL, name = 'sneaky'
	WHERE id = '01Y00000000000000000000012'$$,
	'55000', 'channel "flows-archive" is archived', 'unarchiving changes nothing else at once');
SELECT lives_ok($$UPDATE chatgenius.messages SET deleted_at = now() WHERE id = '01Z00000000000000000000012'$$,
	'a soft delete of a message still works (moderation)');
SELECT lives_ok($$DELETE FROM chatgenius.users WHERE id = '01X00000000000000000000013'$$,
	'a user with a reaction in the archive can still be deleted (the cascade takes the reaction)');
SELECT throws_ok($$INSERT INTO chatgenius.messages (channel_id, user_id, content, created_at)
	VALUES ('01Y00000000000000000000012', '01X00000000000000000000011', 'imported', '2024-01-01 00:00:00+00')$$,
	'55000', 'channel "flows-archive" is archived', 'a back-dated post too (only a restore loads old rows)');
SELECT lives_ok($$UPDATE chatgenius.channels SET archived_at = NULL, archived_by = NULL
	WHERE id = '01Y00000000000000000000012'$$, 'unarchiving works');
SELECT lives_ok($$INSERT INTO chatgenius.reactions (message_id, user_id, emoji)
	VALUES ('01Z00000000000000000000011', '01X00000000000000000000012', ':+1:')$$,
	'and the channel takes reactions again');
SELECT lives_ok($$UPDATE chatgenius.channels SET name = 'flows-renamed' WHERE id = '01Y00000000000000000000012'$$,
	'and its row changes again');
INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
VALUES ('01X00000000000000000000014', 'flows|d', 'flows-d@example.com', 'fd', 'F D');
UPDATE chatgenius.channels SET archived_at = now(), archived_by = '01X00000000000000000000014'
 WHERE id = '01Y00000000000000000000011';
DELETE FROM chatgenius.users WHERE id = '01X00000000000000000000014';
SELECT results_eq($$SELECT archived_at IS NOT NULL, archived_by FROM chatgenius.channels
	WHERE id = '01Y00000000000000000000011'$$, $$VALUES (true, NULL::varchar)$$,
	'deleting the archiving user clears archived_by (ON DELETE SET NULL); the channel stays archived');
-- An admin deletes the archived channel, as the app does it (softDeleteChannel).
SELECT lives_ok($$UPDATE chatgenius.channels SET deleted_at = now()
	WHERE id = '01Y00000000000000000000011' AND deleted_at IS NULL$$,
	'the app soft-deletes an archived channel');
SELECT results_eq($$SELECT archived_at IS NOT NULL, deleted_at IS NOT NULL FROM chatgenius.channels
	WHERE id = '01Y00000000000000000000011'$$, $$VALUES (true, true)$$,
	'it is deleted, and stays archived');

SELECT * FROM finish();
ROLLBACK;
