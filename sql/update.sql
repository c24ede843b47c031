-- ALTER EXTENSION chatgenius UPDATE through every step (1.0 -> 1.1 -> 1.2
-- -> 1.3 -> 1.4):
-- rows are kept, each step adds its history row, the new behaviour works.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius VERSION '1.0';
RESET client_min_messages;
SET search_path = chatgenius, public;
\set SHOW_CONTEXT never

SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT version, script FROM schema_migrations ORDER BY version;

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
ALTER EXTENSION chatgenius UPDATE TO '1.4';
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT p.proname, l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'chatgenius'::regnamespace AND p.proname LIKE 'notify%' ORDER BY 1;
SELECT tgname FROM pg_trigger WHERE tgrelid = 'chatgenius.messages'::regclass AND NOT tgisinternal ORDER BY 1;
SELECT count(*) AS messages, (SELECT count(*) FROM reactions) AS reactions FROM messages;
BEGIN;
SET LOCAL chatgenius.realtime = on;
INSERT INTO reactions (id, message_id, user_id, emoji)
VALUES ('01R00000000000000000000009', '01M00000000000000000000003', '01A00000000000000000000001', ':wave:');
SELECT channel, payload FROM realtime_outbox WHERE xid = pg_current_xact_id();
ROLLBACK;

-- One history row per step; the last one's fingerprint is the schema's now.
SELECT version, script, success, fingerprint ~ '^[0-9a-f]{64}$' AS fingerprinted
  FROM schema_migrations ORDER BY version;
SELECT fingerprint = schema_fingerprint() AS no_drift FROM schema_migrations WHERE version = '1.4';
SELECT count(DISTINCT fingerprint) AS distinct_fingerprints FROM schema_migrations;

-- Already at the newest: nothing to do.
ALTER EXTENSION chatgenius UPDATE;
SELECT count(*) AS history_rows FROM schema_migrations;
-- No way back.
ALTER EXTENSION chatgenius UPDATE TO '1.0';

-- Straight from 1.0 to the newest in one command.
SET client_min_messages = warning;
DROP EXTENSION chatgenius CASCADE;
CREATE EXTENSION chatgenius VERSION '1.0';
RESET client_min_messages;
INSERT INTO users (id, auth0_id, email, username, full_name)
VALUES ('01A00000000000000000000001', 'auth0|alice', 'alice@example.com', 'alice', 'Alice A');
INSERT INTO channels (id, name, topic, type, created_by)
VALUES ('01C00000000000000000000001', 'general', 'company-wide', 'public', '01A00000000000000000000001');
ALTER EXTENSION chatgenius UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'chatgenius';
SELECT name, description FROM channels;
SELECT version FROM schema_migrations ORDER BY version;
