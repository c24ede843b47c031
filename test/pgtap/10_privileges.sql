-- Privileges: PUBLIC reads no chat data and writes no status; only ulid()
-- is callable by everyone; pg_monitor reads the status and health.
BEGIN;
SELECT plan(63);

SELECT schema_privs_are('chatgenius', 'public', ARRAY[]::text[],
	'PUBLIC has no USAGE on schema chatgenius');
SELECT schema_privs_are('chatgenius', 'pg_monitor', ARRAY['USAGE']);

SELECT table_privs_are('chatgenius', t, 'public', ARRAY[]::text[],
		'PUBLIC has no privilege on ' || t)
  FROM unnest(ARRAY['users', 'channels', 'messages', 'reactions', 'channel_members', 'files',
	'user_settings', 'user_status', 'message_reads', 'sync_state', 'schema_migrations',
	'tunnel_status', 'tunnel_events']) AS t;
SELECT sequence_privs_are('chatgenius', 'tunnel_events_id_seq', 'public', ARRAY[]::text[]);
SELECT table_privs_are('chatgenius', t, 'pg_monitor', ARRAY['SELECT'], 'pg_monitor reads ' || t)
  FROM unnest(ARRAY['tunnel_status', 'tunnel_events', 'schema_migrations']) AS t;
SELECT table_privs_are('chatgenius', t, 'pg_monitor', ARRAY[]::text[], 'pg_monitor reads no chat data in ' || t)
  FROM unnest(ARRAY['users', 'channels', 'messages', 'reactions', 'channel_members', 'files',
	'user_settings', 'user_status', 'message_reads', 'sync_state']) AS t;

SELECT function_privs_are('chatgenius', 'ulid', ARRAY[]::text[], 'public', ARRAY['EXECUTE'],
	'PUBLIC may call ulid() (column defaults run as the inserting role)');
SELECT function_privs_are('chatgenius', 'report_status', ARRAY['text', 'text', 'integer', 'integer',
	'bigint', 'text', 'integer', 'integer', 'integer', 'bigint', 'integer', 'bigint', 'bigint',
	'integer', 'text', 'text', 'timestamp with time zone', 'boolean'], 'public', ARRAY[]::text[],
	'PUBLIC may not call report_status()');
SELECT function_privs_are('chatgenius', 'report_event',
	ARRAY['text', 'text', 'text', 'timestamp with time zone', 'text'], 'public', ARRAY[]::text[],
	'PUBLIC may not call report_event()');
SELECT function_privs_are('chatgenius', f, ARRAY[]::text[], 'public', ARRAY[]::text[],
		'PUBLIC may not call ' || f || '()')
  FROM unnest(ARRAY['health', 'health_summary', 'pool_stats', 'schema_fingerprint']) AS f;
SELECT function_privs_are('chatgenius', f, ARRAY['jsonb'], 'public', ARRAY[]::text[],
		'PUBLIC may not call ' || f || '(jsonb)')
  FROM unnest(ARRAY['report_status_json', 'report_event_json']) AS f;
SELECT function_privs_are('chatgenius', 'accept_schema', ARRAY['text'], 'public', ARRAY[]::text[],
	'PUBLIC may not accept the schema');
SELECT function_privs_are('chatgenius', 'forget_tunnel', ARRAY['text', 'boolean'], 'public', ARRAY[]::text[],
	'PUBLIC may not forget a tunnel');
SELECT function_privs_are('chatgenius', 'prune_tunnel_events', ARRAY['interval'], 'public', ARRAY[]::text[],
	'PUBLIC may not prune events');
SELECT function_privs_are('chatgenius', 'hand_over_tunnel', ARRAY['text', 'name'], 'public', ARRAY[]::text[],
	'PUBLIC may not hand a tunnel over');
SELECT function_privs_are('chatgenius', 'tunnel_writer_check', ARRAY['text'], 'public', ARRAY[]::text[],
	'PUBLIC may not call tunnel_writer_check()');
SELECT function_privs_are('chatgenius', 'add_tunnel', ARRAY['text', 'name'], 'public', ARRAY[]::text[],
	'PUBLIC may not give a tunnel''s name to a role');
SELECT function_privs_are('chatgenius', 'restoring', ARRAY[]::text[], 'public', ARRAY['EXECUTE'],
	'PUBLIC may call restoring() (trigger WHEN clauses run as the writing role)');
SELECT function_privs_are('chatgenius', f, ARRAY[]::text[], 'pg_monitor', ARRAY['EXECUTE'],
		'pg_monitor may call ' || f || '()')
  FROM unnest(ARRAY['health', 'health_summary', 'pool_stats', 'schema_fingerprint']) AS f;
SELECT function_privs_are('chatgenius', f, ARRAY[]::text[], 'public', ARRAY[]::text[],
		'PUBLIC may not call trigger function ' || f || '()')
  FROM unnest(ARRAY['set_updated_at', 'messages_rules', 'messages_thread_rules', 'reactions_rules', 'channels_rules',
	'notify_message_change', 'notify_reaction_change', 'notify_channel_member_change',
	'notify_user_status_change', 'schema_migrations_merge']) AS f;

-- Acting as a role with no grant at all.
CREATE ROLE pgtap_cg_nobody;
GRANT USAGE ON SCHEMA chatgenius TO pgtap_cg_nobody;
SET LOCAL ROLE pgtap_cg_nobody;
SELECT throws_ok('SELECT * FROM chatgenius.messages', '42501', 'permission denied for table messages',
	'a stranger cannot read messages');
SELECT throws_ok($$SELECT chatgenius.report_event('t', 'connected', NULL, now(), 'k')$$, '42501',
	'permission denied for function report_event', 'a stranger cannot write tunnel events');
SELECT throws_ok($$INSERT INTO chatgenius.tunnel_status (tunnel_name, state, heartbeat_interval_ms)
	VALUES ('t', 'connected', 1)$$, '42501', 'permission denied for table tunnel_status',
	'a stranger cannot write tunnel status');
SELECT is(length(chatgenius.ulid()), 26, 'a stranger can make ULIDs');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
