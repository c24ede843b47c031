-- Data that needs 1.1 or newer (and names no column that 1.2 renamed):
-- an archived channel with its messages.  Run after data-1.0.sql.
\set ON_ERROR_STOP 1
UPDATE chatgenius.channels SET archived_at = now(), archived_by = '01D00000000000000000000001'
 WHERE id = '01E00000000000000000000002';
SELECT chatgenius.report_event('ops@bastion:22', 'reconnected', 'after 1 attempt',
	'2025-01-01 06:00:05+00', 'k-0003');
