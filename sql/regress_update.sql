-- ALTER EXTENSION chatgenius UPDATE through every step (1.0 -> 1.1 -> 1.2
-- -> 1.3 -> 1.4 -> 1.5 -> 1.6 -> 1.7 -> 1.8 -> 1.9 -> 1.10
-- -> 1.11):
-- rows are kept, each step adds its history row, the new behaviour works.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius VERSION '1.0';
RESET client_min_messages;
SET search_path = chatgenius, public;
\set SHOW_CONTEXT never

SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT version, script FROM schema_migrations ORDER BY string_to_array(version, '.')::int[];

INSERT INTO users (id, auth0_id, email, username, full_name) VALUES
	('01A00000000000000000000001', 'auth0|alice', 'alice@example.com', 'alice', 'Alice A'),
	('01A00000000000000000000002', 'auth0|bob', 'bob@example.com', 'bob', 'Bob B');
INSERT INTO channels (id, name, topic, type, created_by) VALUES
	('01C00000000000000000000001', 'general', 'company-wide', 'public', '01A00000000000000000000001'),
	('01C00000000000000000000002', 'launch', 'the launch', 'private', '01A00000000000000000000002');
INSERT INTO messages (id, channel_id, user_id, content) VALUES
	('01M00000000000000000000001', '01C00000000000000000000001', '01A00000000000000000000001', 'hello'),
	('01M00000000000000000000002', '01C00000000000000000000002', '01A00000000000000000000002', 'ship it');
INSERT INTO reactions (message_id, user_id, emoji)
VALUES ('01M00000000000000000000002', '01A00000000000000000000001', ':rocket:');
SELECT attname FROM pg_attribute
 WHERE attrelid = 'chatgenius.channels'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;

ALTER EXTENSION chatgenius UPDATE TO '1.1';
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT id, name, topic, archived_at, archived_by FROM channels ORDER BY id;
UPDATE channels SET archived_at = now(), archived_by = '01A00000000000000000000002'
 WHERE id = '01C00000000000000000000002';
INSERT INTO messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000002', '01A00000000000000000000001', 'after the launch');
\echo :LAST_ERROR_SQLSTATE

ALTER EXTENSION chatgenius UPDATE TO '1.2';
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT attname FROM pg_attribute
 WHERE attrelid = 'chatgenius.channels'::regclass AND attnum > 0 AND NOT attisdropped
 ORDER BY attnum;
SELECT id, name, description, archived_at IS NOT NULL AS archived, archived_by FROM channels ORDER BY id;
SELECT id, channel_id, content FROM messages ORDER BY id;
SELECT message_id, user_id, emoji FROM reactions;

-- Every trigger still runs after the rename.
BEGIN;
UPDATE channels SET description = 'everyone' WHERE id = '01C00000000000000000000001';
SELECT description, updated_at = now() AS updated_now FROM channels WHERE id = '01C00000000000000000000001';
COMMIT;
INSERT INTO messages (id, channel_id, user_id, content, thread_id)
VALUES ('01M00000000000000000000003', '01C00000000000000000000001', '01A00000000000000000000002',
	'a reply', '01M00000000000000000000001');
INSERT INTO messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000002', '01A00000000000000000000001', 'still archived');
\echo :LAST_ERROR_SQLSTATE
SELECT topic FROM channels;

-- 1.3: an operator's GRANTs to the helper's role survive the update (no
-- function is dropped), and the positional entry points keep working next
-- to the jsonb ones.
CREATE ROLE regress_cg_helper;
GRANT USAGE ON SCHEMA chatgenius TO regress_cg_helper;
GRANT EXECUTE ON FUNCTION report_status(text, text, integer, integer, bigint, text, integer,
	integer, integer, bigint, integer, bigint, bigint, integer, text, text, timestamptz, boolean),
	report_event(text, text, text, timestamptz, text) TO regress_cg_helper;
ALTER EXTENSION chatgenius UPDATE TO '1.3';
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT p.oid::regprocedure AS function, has_function_privilege('regress_cg_helper', p.oid, 'EXECUTE') AS granted
  FROM pg_proc p WHERE p.pronamespace = 'chatgenius'::regnamespace
   AND p.proname LIKE 'report\_%' ORDER BY 1::text;
SET ROLE regress_cg_helper;
SELECT report_status('old-helper', 'connected', 1000, 0, 0, NULL, 2, 1, 0, 0, 0, 0, 0, 42,
	'host', '1.2', now());
SELECT report_event('old-helper', 'connected', 'up', now(), 'k-old');
RESET ROLE;
-- The jsonb entry points have names of their own: a GRANT by name alone
-- stays unambiguous.
GRANT EXECUTE ON FUNCTION report_status_json, report_event_json TO regress_cg_helper;
SET ROLE regress_cg_helper;
SELECT report_event_json(jsonb_build_object('tunnel_name', 'old-helper', 'event', 'disconnected',
	'occurred_at', now(), 'event_key', 'k-new'));
RESET ROLE;
REVOKE EXECUTE ON FUNCTION report_status_json, report_event_json FROM regress_cg_helper;
SELECT tunnel_name, state, pool_size, helper_pid, last_heartbeat IS NOT NULL AS beat
  FROM tunnel_status;
SELECT tunnel_name, event, detail FROM tunnel_events ORDER BY id;
SELECT forget_tunnel('old-helper', true) AS forgotten;
SELECT count(*) AS status_rows, (SELECT count(*) FROM tunnel_events) AS event_rows FROM tunnel_status;
REVOKE ALL ON FUNCTION report_status(text, text, integer, integer, bigint, text, integer,
	integer, integer, bigint, integer, bigint, bigint, integer, text, text, timestamptz, boolean),
	report_event(text, text, text, timestamptz, text) FROM regress_cg_helper;
REVOKE USAGE ON SCHEMA chatgenius FROM regress_cg_helper;
DROP ROLE regress_cg_helper;
SELECT fingerprint = schema_fingerprint() AS no_drift FROM schema_migrations WHERE version = '1.3';

-- 1.4: the realtime trigger functions become C, the outbox appears; the
-- triggers and the rows stay.
SET client_min_messages = error;
ALTER EXTENSION chatgenius UPDATE TO '1.4';
RESET client_min_messages;
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT p.proname, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'chatgenius'::regnamespace AND p.proname LIKE 'notify%' ORDER BY 1;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'chatgenius.messages'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT count(*) AS messages, (SELECT count(*) FROM reactions) AS reactions FROM messages;

-- 1.5: the tunnel's events for a primary with standbys, and its routes.
ALTER EXTENSION chatgenius UPDATE TO '1.5';
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT report_event('bastion', 'primary_changed', 'old=a:5432 new=b:5432', '2025-01-01 00:00:00+00', 'pc1');
SELECT report_routes('bastion', 'b:5432', '{a:5432}');
SELECT tunnel_name, primary_host, standby_hosts FROM tunnel_routes;
SELECT count(*) AS messages, (SELECT count(*) FROM reactions) AS reactions FROM messages;

-- 1.6: memberships unique among live rows (leave and re-join), archived
-- channels read-only (channels and reactions get their rule triggers).
ALTER EXTENSION chatgenius UPDATE TO '1.6';
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT indexname, indexdef FROM pg_indexes
 WHERE schemaname = 'chatgenius' AND tablename = 'channel_members' ORDER BY 1;
SELECT tgrelid::regclass AS rel, tgname FROM pg_trigger
 WHERE tgrelid IN ('chatgenius.channels'::regclass, 'chatgenius.reactions'::regclass) AND NOT tgisinternal
 ORDER BY 1, 2;
SELECT count(*) AS members FROM channel_members;

-- 1.7: the dead-letter table and its two functions; realtime_status()
-- gains the notifier's error counts.
ALTER EXTENSION chatgenius UPDATE TO '1.7';
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT count(*) AS set_aside FROM realtime_dead_letter;
SELECT pg_typeof(errors) AS errors, pg_typeof(set_aside) AS set_aside, pg_typeof(last_error) AS last_error
  FROM realtime_status();

-- 1.8: a tunnel's row gets its writer; a row from before has none until
-- the next report claims it.
SELECT report_status('bastion-1.7', 'connected', 1000, 0, 0, NULL, 1, 1, 0, 0, 0, 0, 0,
	NULL, NULL, NULL, NULL);
ALTER EXTENSION chatgenius UPDATE TO '1.8';
SELECT tunnel_name, written_by FROM tunnel_status WHERE tunnel_name = 'bastion-1.7';
SELECT report_status('bastion-1.7', 'connected', 1000, 0, 0, NULL, 1, 1, 0, 0, 0, 0, 0,
	NULL, NULL, NULL, NULL);
SELECT tunnel_name, written_by = session_user AS claimed FROM tunnel_status WHERE tunnel_name = 'bastion-1.7';
DELETE FROM tunnel_status WHERE tunnel_name = 'bastion-1.7';

-- 1.9: the notifier records what it sent in realtime_sent.
ALTER EXTENSION chatgenius UPDATE TO '1.9';
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT to_regclass('realtime_sent') IS NOT NULL AS has_realtime_sent;

-- 1.10: one rule trigger per table, in C; the rows and the rules are kept.
ALTER EXTENSION chatgenius UPDATE TO '1.10';
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT t.tgrelid::regclass AS rel, t.tgname, l.lanname,
	t.tgtype & 2 <> 0 AS before, t.tgtype & 4 <> 0 AS ins, t.tgtype & 8 <> 0 AS del, t.tgtype & 16 <> 0 AS upd
  FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_language l ON l.oid = p.prolang
 WHERE t.tgrelid IN ('chatgenius.messages'::regclass, 'chatgenius.channels'::regclass,
	'chatgenius.reactions'::regclass) AND NOT t.tgisinternal
 ORDER BY 1, 2;
SELECT count(*) AS messages, (SELECT count(*) FROM reactions) AS reactions FROM messages;
INSERT INTO messages (channel_id, user_id, content, thread_id)
VALUES ('01C00000000000000000000001', '01A00000000000000000000001', 'reply to a reply', '01M00000000000000000000003');
\echo :LAST_ERROR_SQLSTATE
INSERT INTO messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000002', '01A00000000000000000000001', 'still archived at 1.10');
\echo :LAST_ERROR_SQLSTATE
BEGIN;
UPDATE messages SET content = 'hello at 1.10' WHERE id = '01M00000000000000000000001';
SELECT content, updated_at = now() AS updated_now FROM messages WHERE id = '01M00000000000000000000001';
COMMIT;

-- 1.11: rules per statement, assigned tunnel names, every event name, every
-- table's dump policy.
ALTER EXTENSION chatgenius UPDATE TO '1.11';
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';

-- One history row per step; the last one's fingerprint is the schema's now.
SELECT version, script, success, fingerprint ~ '^[0-9a-f]{64}$' AS fingerprinted
  FROM schema_migrations ORDER BY string_to_array(version, '.')::int[];
SELECT fingerprint = schema_fingerprint() AS no_drift FROM schema_migrations WHERE version = '1.11';
SELECT count(DISTINCT fingerprint) AS distinct_fingerprints FROM schema_migrations;

-- Already at the newest: nothing to do.
ALTER EXTENSION chatgenius UPDATE;
SELECT count(*) AS history_rows FROM schema_migrations;
-- No way back.
ALTER EXTENSION chatgenius UPDATE TO '1.0';

-- Straight from 1.0 to the newest in one command.
SET client_min_messages = error;
DROP EXTENSION chatgenius CASCADE;
CREATE EXTENSION chatgenius VERSION '1.0';
INSERT INTO users (id, auth0_id, email, username, full_name)
VALUES ('01A00000000000000000000001', 'auth0|alice', 'alice@example.com', 'alice', 'Alice A');
INSERT INTO channels (id, name, topic, type, created_by)
VALUES ('01C00000000000000000000001', 'general', 'company-wide', 'public', '01A00000000000000000000001');
ALTER EXTENSION chatgenius UPDATE;
RESET client_min_messages;
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT name, description FROM channels;
SELECT version FROM schema_migrations ORDER BY string_to_array(version, '.')::int[];
