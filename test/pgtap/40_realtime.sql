-- Realtime (1.4, 1.7): the outbox, the C trigger functions behind the same
-- triggers, realtime_status(), the dead-letter table and its functions, and
-- who may read or call them.
BEGIN;
SELECT plan(28);

SELECT columns_are('chatgenius', 'realtime_outbox', ARRAY['xid', 'seq', 'channel', 'payload', 'created_at']);
SELECT col_type_is('chatgenius', 'realtime_outbox', 'xid', 'xid8', 'outbox xid is the writer''s xid8');
SELECT col_type_is('chatgenius', 'realtime_outbox', 'seq', 'bigint', 'outbox seq is a bigint');
SELECT hasnt_pk('chatgenius', 'realtime_outbox');
SELECT indexes_are('chatgenius', 'realtime_outbox', ARRAY['realtime_outbox_xid_seq_idx'],
	'the outbox has one index, on (xid, seq): the notifier''s order');
SELECT triggers_are('chatgenius', 'realtime_outbox', ARRAY[]::name[]);
SELECT is((SELECT count(*)::int FROM pg_extension e, unnest(e.extconfig) AS x(oid)
	WHERE e.extname = 'chatgenius' AND x.oid = 'chatgenius.realtime_outbox'::regclass), 0,
	'the outbox is not dumped');
SELECT is((SELECT relpersistence FROM pg_class WHERE oid = 'chatgenius.realtime_outbox'::regclass), 'p',
	'the outbox is WAL-logged (not unlogged)');

SELECT results_eq($$SELECT p.proname::text COLLATE "default", l.lanname::text COLLATE "default" FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
	WHERE p.pronamespace = 'chatgenius'::regnamespace AND p.proname LIKE 'notify%' ORDER BY 1$$,
	$$VALUES ('notify_channel_member_change', 'c'), ('notify_message_change', 'c'),
		('notify_reaction_change', 'c'), ('notify_user_status_change', 'c')$$,
	'the four realtime trigger functions are C');
SELECT trigger_is('chatgenius', 'messages', 'messages_notify', 'chatgenius', 'notify_message_change');
SELECT trigger_is('chatgenius', 'reactions', 'reactions_notify', 'chatgenius', 'notify_reaction_change');

SELECT table_privs_are('chatgenius', 'realtime_outbox', 'public', ARRAY[]::text[],
	'PUBLIC has no privilege on realtime_outbox');
SELECT table_privs_are('chatgenius', 'realtime_outbox', 'pg_monitor', ARRAY['SELECT'],
	'pg_monitor reads realtime_outbox');
SELECT function_privs_are('chatgenius', 'realtime_status', ARRAY[]::text[], 'public', ARRAY[]::text[],
	'PUBLIC may not call realtime_status()');
SELECT function_privs_are('chatgenius', 'realtime_status', ARRAY[]::text[], 'pg_monitor', ARRAY['EXECUTE'],
	'pg_monitor may call realtime_status()');
SELECT columns_are('chatgenius', 'realtime_dead_letter', ARRAY['xid', 'seq', 'channel', 'payload',
	'created_at', 'failed_at', 'sqlstate', 'error']);
SELECT table_privs_are('chatgenius', 'realtime_dead_letter', 'public', ARRAY[]::text[],
	'PUBLIC has no privilege on realtime_dead_letter');
SELECT table_privs_are('chatgenius', 'realtime_dead_letter', 'pg_monitor', ARRAY['SELECT'],
	'pg_monitor reads realtime_dead_letter');
SELECT is((SELECT count(*)::int FROM pg_extension e, unnest(e.extconfig) x
	WHERE e.extname = 'chatgenius' AND x.oid = 'chatgenius.realtime_dead_letter'::regclass), 1,
	'the dead-letter table is dumped (1.11): set-aside changes are the operator''s to decide about');
SELECT columns_are('chatgenius', 'realtime_sent', ARRAY['one', 'server_id', 'timeline', 'sent_at',
	'prev_xmax', 'prev_xip', 'batch_xmax', 'batch_xip', 'part', 'first_xid', 'first_seq', 'last_xid', 'last_seq', 'unacked']);
SELECT table_privs_are('chatgenius', 'realtime_sent', 'public', ARRAY[]::text[],
	'PUBLIC has no privilege on realtime_sent');
SELECT table_privs_are('chatgenius', 'realtime_sent', 'pg_monitor', ARRAY['SELECT'],
	'pg_monitor reads realtime_sent');
SELECT is((SELECT count(*)::int FROM pg_extension e, unnest(e.extconfig) x
	WHERE e.extname = 'chatgenius' AND x.oid = 'chatgenius.realtime_sent'::regclass), 0,
	'the notifier''s record is not dumped (its xids mean nothing in another cluster)');
SELECT function_privs_are('chatgenius', 'realtime_requeue', ARRAY['xid8', 'bigint'], 'public', ARRAY[]::text[],
	'PUBLIC may not call realtime_requeue()');
SELECT function_privs_are('chatgenius', 'realtime_discard', ARRAY['xid8', 'bigint'], 'public', ARRAY[]::text[],
	'PUBLIC may not call realtime_discard()');
SELECT function_privs_are('chatgenius', 'realtime_requeue', ARRAY['xid8', 'bigint'], 'pg_monitor', ARRAY[]::text[],
	'pg_monitor may not call realtime_requeue()');
SELECT is((SELECT errors::int + set_aside::int FROM chatgenius.realtime_status()), 0,
	'realtime_status() counts errors and changes set aside (none here)');
SELECT is((SELECT mode FROM chatgenius.realtime_status()), 'notifier',
	'with the library preloaded, changes go through the notifier');

SELECT * FROM finish();
ROLLBACK;
