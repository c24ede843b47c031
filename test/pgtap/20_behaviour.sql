-- Bad input is refused with a clear message and SQLSTATE; good input passes.
BEGIN;
SELECT plan(26);

INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name) VALUES
	('01X00000000000000000000001', 'pgtap|a', 'pgtap-a@example.com', 'pa', 'P A'),
	('01X00000000000000000000002', 'pgtap|b', 'pgtap-b@example.com', 'pb', 'P B');
INSERT INTO chatgenius.channels (id, name, type, created_by) VALUES
	('01Y00000000000000000000001', 'pgtap-one', 'public', '01X00000000000000000000001'),
	('01Y00000000000000000000002', 'pgtap-two', 'private', '01X00000000000000000000001');
INSERT INTO chatgenius.messages (id, channel_id, user_id, content) VALUES
	('01Z00000000000000000000001', '01Y00000000000000000000001', '01X00000000000000000000001', 'root'),
	('01Z00000000000000000000002', '01Y00000000000000000000002', '01X00000000000000000000001', 'other root');
INSERT INTO chatgenius.messages (id, channel_id, user_id, content, thread_id) VALUES
	('01Z00000000000000000000003', '01Y00000000000000000000001', '01X00000000000000000000002', 'reply',
	'01Z00000000000000000000001');

SELECT throws_ok($$INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
	VALUES ('not-a-ulid', 'pgtap|c', 'c@example.com', 'c', 'C')$$,
	'23514', 'new row for relation "users" violates check constraint "users_id_is_ulid"',
	'an id that is not a ULID is refused');
SELECT lives_ok($$INSERT INTO chatgenius.users (auth0_id, email, username, full_name)
	VALUES ('pgtap|d', 'pgtap-d@example.com', 'pd', 'P D')$$, 'an id is made when none is given');
SELECT matches((SELECT id FROM chatgenius.users WHERE auth0_id = 'pgtap|d'),
	'^[0-7][0-9A-HJKMNP-TV-Z]{25}$', 'the id made is a ULID');
SELECT throws_ok($$INSERT INTO chatgenius.channels (name, type, created_by)
	VALUES ('x', 'voice', '01X00000000000000000000001')$$,
	'23514', 'new row for relation "channels" violates check constraint "channels_type_check"',
	'an unknown channel type is refused');
SELECT lives_ok($$INSERT INTO chatgenius.channels (name, type, created_by)
	VALUES ('pgtap-dm', 'dm', '01X00000000000000000000001')$$, 'a dm channel is accepted');
SELECT throws_ok($$INSERT INTO chatgenius.messages (channel_id, user_id, content)
	VALUES ('01Y00000000000000000000001', '01X00000000000000000000001', '')$$,
	'23514', 'new row for relation "messages" violates check constraint "messages_content_not_blank"',
	'empty content is refused');
SELECT throws_ok($$INSERT INTO chatgenius.messages (channel_id, user_id, content)
	VALUES ('01Y00000000000000000000001', '01X00000000000000000000001', E' \t\r\n ')$$,
	'23514', 'new row for relation "messages" violates check constraint "messages_content_not_blank"',
	'content blank after trimming is refused');
SELECT lives_ok($$INSERT INTO chatgenius.messages (channel_id, user_id, content)
	VALUES ('01Y00000000000000000000001', '01X00000000000000000000001', ' x ')$$,
	'content with one visible character is accepted');
SELECT throws_ok($$INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id)
	VALUES ('01Y00000000000000000000002', '01X00000000000000000000001', 'r', '01Z00000000000000000000001')$$,
	'23514', 'reply must be in the channel of its thread', 'a reply in another channel is refused');
SELECT throws_ok($$INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id)
	VALUES ('01Y00000000000000000000001', '01X00000000000000000000001', 'r', '01Z00000000000000000000003')$$,
	'23514', 'message 01Z00000000000000000000003 is itself a reply', 'a reply to a reply is refused');
SELECT throws_ok($$UPDATE chatgenius.messages SET thread_id = '01Z00000000000000000000002'
	WHERE id = '01Z00000000000000000000001'$$,
	'23514', NULL, 'a message with replies cannot become a reply');
SELECT throws_ok($$UPDATE chatgenius.messages SET channel_id = '01Y00000000000000000000002'
	WHERE id = '01Z00000000000000000000003'$$,
	'23514', 'message 01Z00000000000000000000003 cannot move to another channel',
	'a message cannot move between channels');
SELECT throws_ok($$INSERT INTO chatgenius.reactions (message_id, user_id, emoji) VALUES
	('01Z00000000000000000000001', '01X00000000000000000000002', ':+1:'),
	('01Z00000000000000000000001', '01X00000000000000000000002', ':+1:')$$,
	'23505', NULL, 'the same reaction twice is refused');
SELECT throws_ok($$INSERT INTO chatgenius.channel_members (channel_id, user_id) VALUES
	('01Y00000000000000000000001', '01X00000000000000000000002'),
	('01Y00000000000000000000001', '01X00000000000000000000002')$$,
	'23505', NULL, 'a member twice in a channel is refused');
SELECT throws_ok($$INSERT INTO chatgenius.message_reads (user_id, channel_id, last_read_message_id) VALUES
	('01X00000000000000000000002', '01Y00000000000000000000001', '01Z00000000000000000000001'),
	('01X00000000000000000000002', '01Y00000000000000000000001', '01Z00000000000000000000003')$$,
	'23505', NULL, 'two read markers for one user and channel are refused');

-- Archiving.
UPDATE chatgenius.channels SET archived_at = now(), archived_by = '01X00000000000000000000002'
 WHERE id = '01Y00000000000000000000002';
SELECT throws_ok($$INSERT INTO chatgenius.messages (channel_id, user_id, content)
	VALUES ('01Y00000000000000000000002', '01X00000000000000000000001', 'late')$$,
	'55000', 'channel "pgtap-two" is archived', 'no new message in an archived channel');
SELECT throws_ok($$UPDATE chatgenius.messages SET content = 'edited' WHERE id = '01Z00000000000000000000002'$$,
	'55000', 'channel "pgtap-two" is archived', 'no edit in an archived channel');
SELECT lives_ok($$UPDATE chatgenius.messages SET deleted_at = now() WHERE id = '01Z00000000000000000000002'$$,
	'soft delete in an archived channel works');
SELECT throws_ok($$UPDATE chatgenius.channels SET archived_at = NULL WHERE id = '01Y00000000000000000000002'$$,
	'23514', NULL, 'archived_by needs archived_at');

-- Triggers keep updated_at.
UPDATE chatgenius.users SET updated_at = '2020-01-01 00:00:00+00' WHERE id = '01X00000000000000000000001';
UPDATE chatgenius.users SET full_name = 'P A.' WHERE id = '01X00000000000000000000001';
SELECT is((SELECT updated_at FROM chatgenius.users WHERE id = '01X00000000000000000000001'), now(),
	'updated_at follows an UPDATE');

-- Tunnel status writes.
SELECT throws_ok($$SELECT chatgenius.report_status('pgtap', 'asleep', 1000, 0, 0, NULL, 0, 0, 0, 0, 0,
	0, 0, NULL, NULL, NULL, NULL)$$, '23514', NULL, 'an unknown tunnel state is refused');
SELECT is(chatgenius.report_event('pgtap', 'connected', NULL, '2025-01-01 00:00:00+00', 'pgtap-1'), true,
	'an event is recorded once');
SELECT is(chatgenius.report_event('pgtap', 'connected', NULL, '2025-01-01 00:00:00+00', 'pgtap-1'), false,
	'a replayed event is ignored');
SELECT is((SELECT count(*)::int FROM chatgenius.tunnel_events WHERE tunnel_name = 'pgtap'), 1,
	'one row for a replayed event');
SELECT lives_ok($$SELECT chatgenius.report_status('pgtap', 'connected', 1000, 0, 0, NULL, 1, 1, 1, 1,
	0, 0, 0, NULL, NULL, NULL, NULL)$$, 'report_status inserts');
SELECT is((SELECT last_heartbeat FROM chatgenius.tunnel_status WHERE tunnel_name = 'pgtap'), now(),
	'report_status beats the heartbeat');

SELECT * FROM finish();
ROLLBACK;
