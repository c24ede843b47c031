-- The realtime outbox: with chatgenius in shared_preload_libraries and
-- chatgenius.realtime = on (the default), the triggers put each payload in
-- realtime_outbox, in the writing transaction, for the notifier; a rollback
-- takes them back; an install updated from 1.3 does the same.  A server
-- without the preload has no outbox path (changes go out with NOTIFY, as
-- regress_notify tests): there this test stops after its first query, and
-- expected/regress_outbox_1.out is that short output.
SELECT pg_catalog.current_setting('shared_preload_libraries') ~ '(^|[ ,])chatgenius($|[ ,])' AS preloaded \gset
\if :preloaded
\else
\echo chatgenius is not preloaded: no outbox here
\quit
\endif
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius VERSION '1.3';
INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name)
VALUES ('01A00000000000000000000001', 'auth0|alice', 'alice@example.com', 'alice', 'Alice A');
INSERT INTO chatgenius.channels (id, name, type, created_by)
VALUES ('01C00000000000000000000001', 'general', 'public', '01A00000000000000000000001');
INSERT INTO chatgenius.messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000001', '01C00000000000000000000001', '01A00000000000000000000001', 'hello');
ALTER EXTENSION chatgenius UPDATE;
RESET client_min_messages;
SET search_path = chatgenius, public;

BEGIN;
SET LOCAL chatgenius.realtime = on;
SELECT mode FROM realtime_status();
UPDATE messages SET content = 'hello again' WHERE id = '01M00000000000000000000001';
INSERT INTO reactions (id, message_id, user_id, emoji)
VALUES ('01R00000000000000000000002', '01M00000000000000000000001', '01A00000000000000000000001', ':tada:');
SELECT seq - min(seq) OVER () AS seq, channel, payload FROM realtime_outbox
 WHERE xid = pg_current_xact_id() ORDER BY seq;
ROLLBACK;
SELECT count(*) AS outbox_after_rollback FROM realtime_outbox
 WHERE payload LIKE '%01R00000000000000000000002%';

SET client_min_messages = warning;
DROP EXTENSION chatgenius CASCADE;
