-- Rows loaded from a dump: the rule and NOTIFY triggers stand aside while
-- the session loads a dump (pg_dump's output sets check_function_bodies =
-- off; the documented procedure also sets session_replication_role =
-- replica), and apply again afterwards.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;
SET search_path = chatgenius, public;
\set SHOW_CONTEXT never

INSERT INTO users (id, auth0_id, email, username, full_name)
VALUES ('01A00000000000000000000001', 'auth0|alice', 'alice@example.com', 'alice', 'Alice');
INSERT INTO channels (id, name, type, created_by, archived_at, archived_by)
VALUES ('01C00000000000000000000001', 'general', 'public', '01A00000000000000000000001',
	'2025-01-01 00:00:00+00', '01A00000000000000000000001');

SELECT restoring();
-- An application's write is refused...
INSERT INTO messages (id, channel_id, user_id, content, created_at)
VALUES ('01M00000000000000000000001', '01C00000000000000000000001', '01A00000000000000000000001',
	'posted with the archiving', '2025-01-01 00:00:00+00');
\echo :LAST_ERROR_SQLSTATE

-- ...while the same row from a dump (the archiving and the message in one
-- transaction: equal times) is loaded, with no notification queued.
-- NOTIFY in the writing transaction, so that psql shows what was sent.
SET chatgenius.realtime = direct;
LISTEN message_change;
SET check_function_bodies = off;
SELECT restoring();
INSERT INTO messages (id, channel_id, user_id, content, created_at)
VALUES ('01M00000000000000000000001', '01C00000000000000000000001', '01A00000000000000000000001',
	'posted with the archiving', '2025-01-01 00:00:00+00');
-- A thread two levels deep that an older version let in is loaded too.
INSERT INTO messages (id, channel_id, user_id, content, thread_id, created_at) VALUES
	('01M00000000000000000000002', '01C00000000000000000000001', '01A00000000000000000000001',
	 'reply', '01M00000000000000000000001', '2024-12-31 00:00:00+00'),
	('01M00000000000000000000003', '01C00000000000000000000001', '01A00000000000000000000001',
	 'reply to a reply', '01M00000000000000000000002', '2024-12-31 00:00:00+00');
RESET check_function_bodies;
SELECT count(*) AS loaded FROM messages;

-- Only in a superuser's session: any role may turn check_function_bodies
-- off, so for another session user (SET ROLE keeps the session's) it is
-- no restore.
CREATE ROLE regress_cg_not_restoring;
GRANT USAGE ON SCHEMA chatgenius TO regress_cg_not_restoring;
SET check_function_bodies = off;
SET ROLE regress_cg_not_restoring;
SELECT chatgenius.restoring() AS under_set_role;
RESET ROLE;
SET SESSION AUTHORIZATION regress_cg_not_restoring;
SELECT chatgenius.restoring() AS as_another_session_user;
RESET SESSION AUTHORIZATION;
RESET check_function_bodies;
REVOKE USAGE ON SCHEMA chatgenius FROM regress_cg_not_restoring;
DROP ROLE regress_cg_not_restoring;

-- Replica mode (what the documented procedure uses) is a restore as well.
SET session_replication_role = replica;
SELECT restoring();
RESET session_replication_role;

-- Afterwards the rules apply again, and notifications are sent.
SELECT restoring();
INSERT INTO messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000001', '01A00000000000000000000001', 'after the restore');
\echo :LAST_ERROR_SQLSTATE
UPDATE channels SET archived_at = NULL, archived_by = NULL;
INSERT INTO messages (id, channel_id, user_id, content, thread_id)
VALUES ('01M00000000000000000000004', '01C00000000000000000000001', '01A00000000000000000000001',
	'reply to a reply', '01M00000000000000000000003');
\echo :LAST_ERROR_SQLSTATE
\o | sed -E 's/PID [0-9]+/PID N/'
INSERT INTO messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000005', '01C00000000000000000000001', '01A00000000000000000000001',
	'announced');
\o
UNLISTEN message_change;

-- The history merge fires in replica mode too (ENABLE ALWAYS).
SELECT tgname, tgenabled FROM pg_trigger
 WHERE tgrelid = 'chatgenius.schema_migrations'::regclass AND NOT tgisinternal;
-- Every NOTIFY trigger asks restoring() first, in its WHEN clause; the rule
-- triggers (C since 1.10, which also keep updated_at) ask it themselves, as
-- the writes above show.
SELECT tgrelid::regclass AS rel, tgname
  FROM pg_trigger
 WHERE tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'chatgenius'::regnamespace)
   AND NOT tgisinternal
   AND pg_get_triggerdef(oid) LIKE '%WHEN ((NOT restoring()))%'
 ORDER BY tgrelid::regclass::text, tgname;

DROP EXTENSION chatgenius CASCADE;
