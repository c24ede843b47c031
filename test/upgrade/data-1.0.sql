-- A little data in every table of chatgenius 1.0 (valid at 1.0 and 1.1:
-- channels still have topic).  Used by test/upgrade/check.t and
-- test/pgtap/run.sh before they update the extension.
\set ON_ERROR_STOP 1
BEGIN;
INSERT INTO chatgenius.users (id, auth0_id, email, username, full_name, avatar_url, deleted_at) VALUES
	('01D00000000000000000000001', 'auth0|ada', 'ada@example.com', 'ada', 'Ada Lovelace', 'https://a/ada.png', NULL),
	('01D00000000000000000000002', 'auth0|bo', 'bo@example.com', 'bo', 'Bo Diddley', NULL, NULL),
	('01D00000000000000000000003', 'auth0|cy', 'cy@example.com', 'cy', 'Cy Twombly', NULL, '2025-01-03 00:00:00+00');
INSERT INTO chatgenius.users (auth0_id, email, username, full_name)
VALUES ('auth0|dee', 'dee@example.com', 'dee', 'Dee Dee');
INSERT INTO chatgenius.channels (id, name, topic, type, created_by) VALUES
	('01E00000000000000000000001', 'general', 'everything', 'public', '01D00000000000000000000001'),
	('01E00000000000000000000002', 'launch', 'the launch', 'private', '01D00000000000000000000002'),
	('01E00000000000000000000003', 'ada-bo', NULL, 'dm', '01D00000000000000000000001');
INSERT INTO chatgenius.messages (id, channel_id, user_id, content, thread_id, edited, created_at, deleted_at) VALUES
	('01F00000000000000000000001', '01E00000000000000000000001', '01D00000000000000000000001', 'hello all', NULL, false, '2025-01-01 10:00:00+00', NULL),
	('01F00000000000000000000002', '01E00000000000000000000001', '01D00000000000000000000002', 'hi ada', '01F00000000000000000000001', true, '2025-01-01 10:01:00+00', NULL),
	('01F00000000000000000000003', '01E00000000000000000000001', '01D00000000000000000000003', 'spam', NULL, false, '2025-01-01 10:02:00+00', '2025-01-02 00:00:00+00'),
	('01F00000000000000000000004', '01E00000000000000000000002', '01D00000000000000000000002', 'ship it', NULL, false, '2025-01-01 11:00:00+00', NULL),
	('01F00000000000000000000005', '01E00000000000000000000003', '01D00000000000000000000001', E'multi\nline \u00e9t\u00e9 \U0001F680', NULL, false, '2025-01-01 12:00:00+00', NULL);
INSERT INTO chatgenius.reactions (id, message_id, user_id, emoji) VALUES
	('01G00000000000000000000001', '01F00000000000000000000001', '01D00000000000000000000002', ':wave:'),
	('01G00000000000000000000002', '01F00000000000000000000004', '01D00000000000000000000001', ':rocket:');
INSERT INTO chatgenius.channel_members (id, channel_id, user_id, role, deleted_at) VALUES
	('01K00000000000000000000001', '01E00000000000000000000001', '01D00000000000000000000001', 'owner', NULL),
	('01K00000000000000000000002', '01E00000000000000000000001', '01D00000000000000000000002', 'member', NULL),
	('01K00000000000000000000003', '01E00000000000000000000001', '01D00000000000000000000003', 'member', '2025-01-03 00:00:00+00'),
	('01K00000000000000000000004', '01E00000000000000000000002', '01D00000000000000000000002', 'admin', NULL);
INSERT INTO chatgenius.files (id, message_id, user_id, name, type, size, url) VALUES
	('01N00000000000000000000001', '01F00000000000000000000004', '01D00000000000000000000002', 'plan.pdf', 'application/pdf', 123456, 's3://files/plan.pdf');
INSERT INTO chatgenius.user_settings (id, user_id, theme, notifications, muted_channels) VALUES
	('01P00000000000000000000001', '01D00000000000000000000001', 'dark', '{"desktop": true}', '{01E00000000000000000000002}'),
	('01P00000000000000000000002', '01D00000000000000000000002', 'light', '{}', '{}');
INSERT INTO chatgenius.user_status (id, user_id, presence, status_text, status_emoji, status_expiry) VALUES
	('01Q00000000000000000000001', '01D00000000000000000000001', 'online', 'shipping', ':ship:', '2025-01-05 00:00:00+00'),
	('01Q00000000000000000000002', '01D00000000000000000000002', 'away', NULL, NULL, NULL);
INSERT INTO chatgenius.message_reads (id, user_id, channel_id, last_read_message_id) VALUES
	('01R00000000000000000000001', '01D00000000000000000000002', '01E00000000000000000000001', '01F00000000000000000000002');
INSERT INTO chatgenius.sync_state (id, user_id, channel_id, last_synced_at, sync_type, sync_status, error_details) VALUES
	('01S00000000000000000000001', '01D00000000000000000000001', '01E00000000000000000000001', '2025-01-04 00:00:00+00', 'messages', 'complete', NULL),
	('01S00000000000000000000002', '01D00000000000000000000001', '01E00000000000000000000002', NULL, 'files', 'error', '{"code": 507}');
SELECT chatgenius.report_status('ops@bastion:22', 'connected', 30000, 0, 2, NULL, 10, 3, 4, 57, 0,
	1048576, 2097152, 4242, 'app-1', '1.0.0', '2025-01-01 00:00:00+00');
SELECT chatgenius.report_event('ops@bastion:22', 'connected', NULL, '2025-01-01 00:00:00+00', 'k-0001');
SELECT chatgenius.report_event('ops@bastion:22', 'health_check_failed', 'timeout after 5000 ms',
	'2025-01-01 06:00:00+00', 'k-0002');
UPDATE chatgenius.messages SET content = 'hi ada!' WHERE id = '01F00000000000000000000002';
COMMIT;
