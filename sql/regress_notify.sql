-- The realtime NOTIFY triggers: channels, operations and JSON payloads (ids,
-- never a message's content: a 100 kB message still notifies).  psql prints
-- each notification with the sending backend's pid, so the block's output
-- goes through sed to make it stable; sed -z reads it whole and writes it
-- at the end, after psql's own echo of \o (a streaming sed flushed part of
-- it in between whenever it passed one buffer).  The payloads are sent here with
-- chatgenius.realtime = direct (NOTIFY in the writing transaction), so that
-- each arrives right after its statement; the same payloads through the
-- outbox are tested in regress_outbox, and with the notifier in test/realtime/.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;
SET search_path = chatgenius, public;
SET chatgenius.realtime = direct;

INSERT INTO users (id, auth0_id, email, username, full_name) VALUES
	('01A00000000000000000000001', 'auth0|alice', 'alice@example.com', 'alice', 'Alice A'),
	('01A00000000000000000000002', 'auth0|bob', 'bob@example.com', 'bob', 'Bob B');
INSERT INTO channels (id, name, type, created_by)
VALUES ('01C00000000000000000000001', 'general', 'public', '01A00000000000000000000001');

LISTEN message_change;
LISTEN reaction_change;
LISTEN channel_member_change;
LISTEN user_status_change;
LISTEN chatgenius_tunnel;

\o | sed -zE 's/PID [0-9]+/PID N/g; s/y{1000}/<1000 y>/g'
INSERT INTO messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000001', '01C00000000000000000000001', '01A00000000000000000000001', 'hello');
INSERT INTO messages (id, channel_id, user_id, content, thread_id)
VALUES ('01M00000000000000000000002', '01C00000000000000000000001', '01A00000000000000000000002',
	'a reply', '01M00000000000000000000001');
UPDATE messages SET content = 'hello!', edited = true WHERE id = '01M00000000000000000000001';
UPDATE messages SET deleted_at = now() WHERE id = '01M00000000000000000000002';
INSERT INTO reactions (id, message_id, user_id, emoji)
VALUES ('01R00000000000000000000001', '01M00000000000000000000001', '01A00000000000000000000002', ':+1:');
DELETE FROM reactions WHERE id = '01R00000000000000000000001';
INSERT INTO channel_members (id, channel_id, user_id, role)
VALUES ('01B00000000000000000000001', '01C00000000000000000000001', '01A00000000000000000000002', 'member');
UPDATE channel_members SET role = 'admin' WHERE id = '01B00000000000000000000001';
DELETE FROM channel_members WHERE id = '01B00000000000000000000001';
INSERT INTO user_status (id, user_id) VALUES ('01T00000000000000000000001', '01A00000000000000000000001');
UPDATE user_status SET presence = 'online' WHERE id = '01T00000000000000000000001';
-- 100 kB of content: the payload stays the same size.
INSERT INTO messages (id, channel_id, user_id, content)
VALUES ('01M00000000000000000000003', '01C00000000000000000000001', '01A00000000000000000000001',
	repeat('x', 100000));
-- Tables without realtime triggers stay silent.
INSERT INTO files (message_id, user_id, name, type, size, url)
VALUES ('01M00000000000000000000001', '01A00000000000000000000001', 'a.png', 'image/png', 1, 's3://a');
-- A rolled-back change notifies nobody.
BEGIN;
INSERT INTO messages (channel_id, user_id, content)
VALUES ('01C00000000000000000000001', '01A00000000000000000000001', 'never sent');
ROLLBACK;
-- The tunnel helper's events, detail cut to 1000 characters in the payload.
SELECT report_event('bastion', 'reconnecting', 'attempt 1', '2025-01-01 12:00:00+00', 'e1');
SELECT report_event('bastion', 'reconnecting', 'attempt 1', '2025-01-01 12:00:00+00', 'e1');
SELECT report_event('bastion', 'health_check_failed', repeat('y', 20000), '2025-01-01 12:00:01+00', 'e2');
\o

SELECT length(content) AS stored_length FROM messages WHERE id = '01M00000000000000000000003';
SELECT length(detail) AS stored_detail FROM tunnel_events WHERE event_key = 'e2';

UNLISTEN *;

-- off: nothing at all.
BEGIN;
SET LOCAL chatgenius.realtime = off;
INSERT INTO reactions (id, message_id, user_id, emoji)
VALUES ('01R00000000000000000000003', '01M00000000000000000000001', '01A00000000000000000000001', ':eyes:');
SELECT count(*) AS outbox_rows FROM realtime_outbox WHERE xid = pg_current_xact_id();
ROLLBACK;
