-- The newest schema's behaviour: ULID ids, constraints and their messages,
-- triggers, indexes for foreign keys, privileges, migration history.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;
SET search_path = chatgenius, public;
\set SHOW_CONTEXT never

SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';

-- The ten chat tables and the three of the extension itself.
SELECT c.relname
  FROM pg_class c
 WHERE c.relnamespace = 'chatgenius'::regnamespace AND c.relkind = 'r'
 ORDER BY 1;

-- Ids: a ULID by default, the app's own ULID when given, nothing else.
INSERT INTO users (auth0_id, email, username, full_name)
VALUES ('auth0|zoe', 'zoe@example.com', 'zoe', 'Zoe Z')
RETURNING length(id) AS id_length, id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$' AS id_is_ulid;
INSERT INTO users (id, auth0_id, email, username, full_name) VALUES
	('01A00000000000000000000001', 'auth0|alice', 'alice@example.com', 'alice', 'Alice A'),
	('01A00000000000000000000002', 'auth0|bob', 'bob@example.com', 'bob', 'Bob B');
\set VERBOSITY terse
INSERT INTO users (id, auth0_id, email, username, full_name)
VALUES ('01a00000000000000000000003', 'auth0|carol', 'carol@example.com', 'carol', 'Carol C');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO users (id, auth0_id, email, username, full_name)
VALUES ('01I00000000000000000000003', 'auth0|carol', 'carol@example.com', 'carol', 'Carol C');
INSERT INTO users (auth0_id, email, username, full_name)
VALUES ('auth0|alice2', 'alice@example.com', 'alice2', 'Alice Again');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO users (auth0_id, email, username, full_name)
VALUES ('auth0|blank', 'blank@example.com', '  ', 'Blank');

-- Channels: the three types, a name that is not blank.
INSERT INTO channels (id, name, description, type, created_by) VALUES
	('01C00000000000000000000001', 'general', 'company-wide', 'public', '01A00000000000000000000001'),
	('01C00000000000000000000002', 'random', NULL, 'private', '01A00000000000000000000001'),
	('01C00000000000000000000003', 'alice-bob', NULL, 'dm', '01A00000000000000000000001');
INSERT INTO channels (name, type, created_by) VALUES ('voice-room', 'voice', '01A00000000000000000000001');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO channels (name, type, created_by) VALUES (E' \t\n', 'public', '01A00000000000000000000001');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO channels (name, created_by) VALUES ('no-type-given', '01A00000000000000000000001')
RETURNING type;
INSERT INTO channels (name, type, created_by) VALUES ('orphan', 'public', '01A00000000000000000000009');
\echo :LAST_ERROR_SQLSTATE

-- Messages: content must not be blank after trimming.
INSERT INTO messages (id, channel_id, user_id, content) VALUES
	('01M00000000000000000000001', '01C00000000000000000000001', '01A00000000000000000000001', 'hello'),
	('01M00000000000000000000002', '01C00000000000000000000002', '01A00000000000000000000002', 'elsewhere');
INSERT INTO messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000001', '01A00000000000000000000001', '');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000001', '01A00000000000000000000001', E'  \n\t  ');
INSERT INTO messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000001', '01A00000000000000000000001', NULL);
\echo :LAST_ERROR_SQLSTATE
SELECT edited, deleted_at IS NULL AS live FROM messages WHERE id = '01M00000000000000000000001';
\set VERBOSITY default

-- Threads: a reply lives in its thread's channel, one level deep.
INSERT INTO messages (id, channel_id, user_id, content, thread_id)
VALUES ('01M00000000000000000000003', '01C00000000000000000000001', '01A00000000000000000000002',
	'a reply', '01M00000000000000000000001');
INSERT INTO messages (channel_id, user_id, content, thread_id)
VALUES ('01C00000000000000000000002', '01A00000000000000000000002', 'reply elsewhere',
	'01M00000000000000000000001');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO messages (channel_id, user_id, content, thread_id)
VALUES ('01C00000000000000000000001', '01A00000000000000000000002', 'reply to a reply',
	'01M00000000000000000000003');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO messages (id, channel_id, user_id, content, thread_id)
VALUES ('01M00000000000000000000009', '01C00000000000000000000001', '01A00000000000000000000002',
	'me, myself', '01M00000000000000000000009');
\echo :LAST_ERROR_SQLSTATE
UPDATE messages SET channel_id = '01C00000000000000000000002' WHERE id = '01M00000000000000000000003';
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
INSERT INTO messages (channel_id, user_id, content, thread_id)
VALUES ('01C00000000000000000000001', '01A00000000000000000000002', 'to nowhere',
	'01M00000000000000000000099');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000004', '01C00000000000000000000001', '01A00000000000000000000002', 'oops');
\set VERBOSITY default
UPDATE messages SET thread_id = '01M00000000000000000000004' WHERE id = '01M00000000000000000000001';
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
-- A top-level message without replies may become a reply.
UPDATE messages SET thread_id = '01M00000000000000000000001' WHERE id = '01M00000000000000000000004';
SELECT id, thread_id FROM messages WHERE channel_id = '01C00000000000000000000001' ORDER BY id;

-- Reactions, members and read markers are unique per (thing, user).
INSERT INTO reactions (message_id, user_id, emoji)
VALUES ('01M00000000000000000000001', '01A00000000000000000000002', ':tada:');
INSERT INTO reactions (message_id, user_id, emoji)
VALUES ('01M00000000000000000000001', '01A00000000000000000000002', ':tada:');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO reactions (message_id, user_id, emoji)
VALUES ('01M00000000000000000000001', '01A00000000000000000000001', ':tada:');
INSERT INTO channel_members (channel_id, user_id, role)
VALUES ('01C00000000000000000000001', '01A00000000000000000000001', 'owner'),
	('01C00000000000000000000001', '01A00000000000000000000002', 'member');
INSERT INTO channel_members (channel_id, user_id)
VALUES ('01C00000000000000000000001', '01A00000000000000000000002');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO channel_members (channel_id, user_id, role)
VALUES ('01C00000000000000000000002', '01A00000000000000000000002', 'king');
\echo :LAST_ERROR_SQLSTATE
-- Leaving is a soft delete, re-joining a plain INSERT, as the app does it
-- (1.6: only live memberships are unique).  An upsert names the live rows.
UPDATE channel_members SET deleted_at = now()
 WHERE channel_id = '01C00000000000000000000001' AND user_id = '01A00000000000000000000002';
INSERT INTO channel_members (channel_id, user_id)
VALUES ('01C00000000000000000000001', '01A00000000000000000000002')
RETURNING role, deleted_at;
INSERT INTO channel_members (channel_id, user_id)
VALUES ('01C00000000000000000000001', '01A00000000000000000000002')
ON CONFLICT (channel_id, user_id) WHERE deleted_at IS NULL DO UPDATE SET role = 'admin'
RETURNING role, deleted_at;
INSERT INTO message_reads (user_id, channel_id, last_read_message_id)
VALUES ('01A00000000000000000000002', '01C00000000000000000000001', '01M00000000000000000000001');
INSERT INTO message_reads (user_id, channel_id, last_read_message_id)
VALUES ('01A00000000000000000000002', '01C00000000000000000000001', '01M00000000000000000000003');
\echo :LAST_ERROR_SQLSTATE

-- The other tables: defaults and checks.
INSERT INTO files (message_id, user_id, name, type, size, url)
VALUES ('01M00000000000000000000001', '01A00000000000000000000001', 'a.png', 'image/png', -1, 's3://a');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO files (message_id, user_id, name, type, size, url)
VALUES ('01M00000000000000000000001', '01A00000000000000000000001', 'a.png', 'image/png', 1024, 's3://a');
INSERT INTO user_settings (user_id) VALUES ('01A00000000000000000000001')
RETURNING theme, notifications, muted_channels, offline_sync;
INSERT INTO user_settings (user_id, theme) VALUES ('01A00000000000000000000002', 'sepia');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO user_settings (user_id) VALUES ('01A00000000000000000000001');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO user_status (user_id) VALUES ('01A00000000000000000000001') RETURNING presence;
INSERT INTO user_status (user_id, presence) VALUES ('01A00000000000000000000002', 'busy');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO sync_state (user_id, channel_id, sync_type)
VALUES ('01A00000000000000000000001', '01C00000000000000000000001', 'messages')
RETURNING sync_status, last_synced_at;
INSERT INTO sync_state (user_id, channel_id, sync_type)
VALUES ('01A00000000000000000000001', '01C00000000000000000000001', 'emails');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default

-- updated_at follows every UPDATE; created_at does not move.
UPDATE messages SET created_at = '2025-01-01 00:00:00+00', updated_at = '2025-01-01 00:00:00+00'
 WHERE id = '01M00000000000000000000001';
BEGIN;
UPDATE messages SET content = 'hello, edited', edited = true WHERE id = '01M00000000000000000000001';
SELECT updated_at = now() AS updated_now, created_at = '2025-01-01 00:00:00+00' AS created_kept
  FROM messages WHERE id = '01M00000000000000000000001';
COMMIT;
SELECT t.tgrelid::regclass AS "table"
  FROM pg_trigger t
 WHERE t.tgfoid IN ('chatgenius.set_updated_at'::regproc, 'chatgenius.messages_rules'::regproc,
	'chatgenius.channels_rules'::regproc) AND NOT t.tgisinternal
 ORDER BY 1;

-- Deletes: a channel takes its messages (and their reactions) along; a user
-- who wrote messages cannot be deleted (soft delete instead).
\set VERBOSITY terse
DELETE FROM users WHERE id = '01A00000000000000000000002';
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
DELETE FROM channels WHERE id = '01C00000000000000000000001';
SELECT (SELECT count(*) FROM messages) AS messages, (SELECT count(*) FROM reactions) AS reactions,
	(SELECT count(*) FROM channel_members) AS members, (SELECT count(*) FROM files) AS files;

-- Every foreign key has an index that starts with its columns.
SELECT c.conrelid::regclass AS "table", c.conname
  FROM pg_constraint c
 WHERE c.contype = 'f' AND c.connamespace = 'chatgenius'::regnamespace
   AND NOT EXISTS (
	SELECT FROM pg_index i
	 WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
	   AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] = c.conkey);

-- Every index, by name (the same names in a fresh and an updated install).
SELECT i.indrelid::regclass AS "table", i.indexrelid::regclass AS index
  FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
 WHERE t.relnamespace = 'chatgenius'::regnamespace
 ORDER BY 1, 2;

-- Privileges: PUBLIC reads no chat data, writes no status, calls only ulid().
CREATE ROLE regress_cg_nobody;
GRANT USAGE ON SCHEMA chatgenius TO regress_cg_nobody;
SET ROLE regress_cg_nobody;
SELECT count(*) FROM chatgenius.messages;
SELECT count(*) FROM chatgenius.users;
SELECT chatgenius.report_event('t', 'connected', NULL, now(), 'k1');
SELECT chatgenius.report_status('t', 'connected', 1000, 0, 0, NULL, 0, 0, 0, 0, 0, 0, 0,
	NULL, NULL, NULL, NULL);
INSERT INTO chatgenius.tunnel_status (tunnel_name, state, heartbeat_interval_ms)
VALUES ('t', 'connected', 1000);
SELECT * FROM chatgenius.health();
SELECT length(chatgenius.ulid()) AS ulid_length;
RESET ROLE;
SELECT p.proname
  FROM pg_proc p
 WHERE p.pronamespace = 'chatgenius'::regnamespace
   AND has_function_privilege('regress_cg_nobody', p.oid, 'EXECUTE')
 ORDER BY 1;
SELECT c.relname
  FROM pg_class c
 WHERE c.relnamespace = 'chatgenius'::regnamespace AND c.relkind IN ('r', 'S')
   AND (has_table_privilege('regress_cg_nobody', c.oid, 'SELECT')
	 OR has_table_privilege('regress_cg_nobody', c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'))
 ORDER BY 1;
-- A role granted the chat tables (as the app's is) writes through every
-- trigger without any EXECUTE on the trigger functions.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA chatgenius TO regress_cg_nobody;
REVOKE SELECT ON chatgenius.messages, chatgenius.channels FROM regress_cg_nobody;
SET ROLE regress_cg_nobody;
INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000005', '01C00000000000000000000002', '01A00000000000000000000002',
	'written by the app role');
INSERT INTO chatgenius.messages (channel_id, user_id, content, thread_id)
VALUES ('01C00000000000000000000002', '01A00000000000000000000002', 'and a reply',
	'01M00000000000000000000005');
RESET ROLE;
SELECT count(*) AS in_random FROM messages WHERE channel_id = '01C00000000000000000000002';
REVOKE ALL ON ALL TABLES IN SCHEMA chatgenius FROM regress_cg_nobody;
REVOKE USAGE ON SCHEMA chatgenius FROM regress_cg_nobody;
DROP ROLE regress_cg_nobody;

-- Tunnel status: written through report_status() / report_event() only.
BEGIN;
SELECT report_status('bastion', 'connected', 1000, 0, 0, NULL, 4, 2, 3, 10, 0, 100, 200,
	4242, 'host-a', '1.0.0', '2025-01-01 00:00:00+00');
SELECT state, pool_size, sessions_open, last_heartbeat = now() AS beat, updated_at = now() AS updated
  FROM tunnel_status;
COMMIT;
BEGIN;
UPDATE tunnel_status SET last_heartbeat = '2025-01-01 00:00:00+00';
SELECT report_status('bastion', 'reconnecting', 1000, 1, 1, 'Connection refused', 4, 0, 0, 10, 2,
	100, 200, 4242, 'host-a', '1.0.0', '2025-01-01 00:00:00+00', false);
SELECT state, retries, last_error, last_heartbeat = '2025-01-01 00:00:00+00' AS beat_kept
  FROM tunnel_status;
COMMIT;
\set VERBOSITY terse
SELECT report_status('bastion', 'sleeping', 1000, 0, 0, NULL, 0, 0, 0, 0, 0, 0, 0,
	NULL, NULL, NULL, NULL);
SELECT report_status('bastion', 'connected', 0, 0, 0, NULL, 0, 0, 0, 0, 0, 0, 0,
	NULL, NULL, NULL, NULL);
SELECT report_event('bastion', 'exploded', NULL, now(), 'k0');
\set VERBOSITY default
SELECT report_event('bastion', 'connected', 'up', '2025-01-01 00:00:01+00', 'k1') AS first,
	report_event('bastion', 'connected', 'up', '2025-01-01 00:00:01+00', 'k1') AS replayed,
	report_event('bastion', 'disconnected', NULL, '2025-01-01 00:00:02+00', 'k2') AS second;
SELECT tunnel_name, event, detail, occurred_at, event_key FROM tunnel_events ORDER BY id;
SELECT p.proname, p.prosecdef, p.proconfig
  FROM pg_proc p
 WHERE p.pronamespace = 'chatgenius'::regnamespace AND p.proname LIKE 'report_%'
 ORDER BY 1;

-- Migration history: one row per script, the last one's fingerprint is now's.
SELECT version, script, applied_by = current_user AS by_me, success,
	fingerprint ~ '^[0-9a-f]{64}$' AS fingerprinted, execution_ms >= 0 AS timed
  FROM schema_migrations ORDER BY string_to_array(version, '.')::int[];
SELECT fingerprint = schema_fingerprint() AS no_drift
  FROM schema_migrations WHERE version = '1.11';
-- A second row for a recorded version merges: the earlier one wins whole.
BEGIN;
INSERT INTO schema_migrations (version, description, script, applied_at, applied_by, fingerprint)
VALUES ('1.0', 'restored', 'chatgenius--1.0.sql', '2024-06-01 00:00:00+00', 'olduser', 'f0');
INSERT INTO schema_migrations (version, description, script, applied_at, applied_by, fingerprint)
VALUES ('1.1', 'later copy', 'chatgenius--1.0--1.1.sql', '2999-01-01 00:00:00+00', 'nobody', 'f1');
SELECT version, description, applied_at = '2024-06-01 00:00:00+00' AS restored_time, applied_by,
	fingerprint = 'f0' AS f0
  FROM schema_migrations ORDER BY string_to_array(version, '.')::int[];
ROLLBACK;

-- Every data table and the identity sequence are dumped with their rows.
SELECT c.relname, e.extcondition[array_position(e.extconfig, c.oid)] AS condition
  FROM pg_extension e, unnest(e.extconfig) AS cfg(oid) JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'chatgenius'
 ORDER BY 1;

-- Column defaults do not depend on the session's time zone.
SET timezone = 'Pacific/Kiritimati';
INSERT INTO users (id, auth0_id, email, username, full_name)
VALUES ('01A00000000000000000000007', 'auth0|kiri', 'kiri@example.com', 'kiri', 'Kiri');
RESET timezone;
SELECT abs(extract(epoch FROM now() - created_at)) < 3600 AS same_instant
  FROM users WHERE id = '01A00000000000000000000007';
