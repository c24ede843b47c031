-- chatgenius.health() and health_summary(): the checks, their statuses, the
-- GUC thresholds, and a damaged install.  Runs on a cluster shared with
-- other sessions, as contrib's tests do: the checks that other sessions can
-- move (connections, locks, long and prepared transactions, slots) are
-- compared against raised thresholds, and only this session's own effect on
-- them is tested.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;

-- Detail text with the measured numbers and the database's name replaced,
-- for stable output.
CREATE FUNCTION pg_temp.masked(d text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT regexp_replace(regexp_replace(regexp_replace(d, '\(pid [0-9]+\)', '(pid N)', 'g'),
						  '[0-9]+(\.[0-9]+)?', 'N', 'g'), 'in database "[^"]*"', 'in database "D"')
$$;

-- Thresholds that other sessions of the cluster cannot reach.
CREATE FUNCTION pg_temp.raise_session_thresholds() RETURNS void LANGUAGE sql AS $$
	SELECT set_config('chatgenius.' || name, '1000000', false)
	  FROM unnest(ARRAY['locks_warn_blocked', 'locks_critical_blocked',
						'long_transaction_warn', 'long_transaction_critical',
						'prepared_transaction_warn', 'prepared_transaction_critical',
						'idle_in_transaction_warn', 'idle_in_transaction_critical']) AS name;
	SELECT set_config('chatgenius.notify_queue_' || name, '100', false)
	  FROM unnest(ARRAY['warn_percent', 'critical_percent']) AS name;
	SELECT set_config('chatgenius.connections_' || name, '100', false)
	  FROM unnest(ARRAY['warn_percent', 'critical_percent']) AS name;
$$;

-- Every check, once, in order; statuses from the allowed set.
SELECT check_name, status IN ('ok', 'warn', 'critical') AS known_status
  FROM chatgenius.health();

-- The settings exist with their documented defaults.
SELECT name, setting, unit FROM pg_settings WHERE name LIKE 'chatgenius.%' ORDER BY name;

-- No tunnel: all ok (details that depend on other sessions are not shown).
SELECT pg_temp.raise_session_thresholds();
SELECT check_name, status,
	   CASE WHEN check_name IN ('tunnel', 'schema', 'triggers', 'wraparound', 'multixact', 'replication')
			THEN pg_temp.masked(detail) END AS detail
  FROM chatgenius.health();
SELECT chatgenius.health_summary();

-- A misspelt setting is refused: the prefix is reserved.
SET chatgenius.connection_warn_percent = 10;

-- Each threshold turns its check to warn, then critical.
SET chatgenius.connections_warn_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'connections';
SET chatgenius.connections_critical_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'connections';
SELECT chatgenius.health_summary();
SELECT pg_temp.raise_session_thresholds();

SET chatgenius.wraparound_warn_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'wraparound';
SET chatgenius.wraparound_critical_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'wraparound';
RESET chatgenius.wraparound_warn_percent;
RESET chatgenius.wraparound_critical_percent;

-- A primary without standbys: a standby expected and missing is critical
-- (test/extension/replication.t runs the check on a real streaming pair).
SET chatgenius.replication_expected_standbys = 1;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'replication';
RESET chatgenius.replication_expected_standbys;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'replication';

-- This very transaction is the oldest one at least 0 s old.
SET chatgenius.long_transaction_warn = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'long_transactions';
SET chatgenius.long_transaction_critical = '0min';
SELECT status FROM chatgenius.health() WHERE check_name = 'long_transactions';
SHOW chatgenius.long_transaction_critical;
SET chatgenius.long_transaction_critical = '2h';
SHOW chatgenius.long_transaction_critical;
SELECT pg_temp.raise_session_thresholds();

-- Prepared transactions: none here (max_prepared_transactions may be 0);
-- at threshold 0 even none counts, as for every threshold.
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'prepared_transactions'
   AND detail = 'no prepared transaction';
SET chatgenius.prepared_transaction_warn = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'prepared_transactions'
   AND detail = 'no prepared transaction';
SET chatgenius.prepared_transaction_critical = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'prepared_transactions';
SELECT pg_temp.raise_session_thresholds();

-- Replication slots and multixact age: same shape (a slot holding xmin and
-- a prepared transaction are tested against a configured cluster in
-- test/extension/health_horizon.t).
SET chatgenius.slot_xmin_warn_age = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'replication_slots';
SET chatgenius.slot_xmin_critical_age = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'replication_slots';
RESET chatgenius.slot_xmin_warn_age;
RESET chatgenius.slot_xmin_critical_age;
SET chatgenius.multixact_warn_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'multixact';
SET chatgenius.multixact_critical_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'multixact';
RESET chatgenius.multixact_warn_percent;
RESET chatgenius.multixact_critical_percent;

SET chatgenius.locks_warn_blocked = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'locks';
SET chatgenius.locks_critical_blocked = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'locks';
SELECT chatgenius.health_summary();
SELECT pg_temp.raise_session_thresholds();
SELECT chatgenius.health_summary();

-- Sessions idle in a transaction: this one is running, not idle; at
-- threshold 0 even none counts (test/extension/health_sessions.t holds a
-- real idle session).
SET chatgenius.idle_in_transaction_warn = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'idle_in_transaction';
SET chatgenius.idle_in_transaction_critical = '0s';
SELECT status FROM chatgenius.health() WHERE check_name = 'idle_in_transaction';
SHOW chatgenius.idle_in_transaction_critical;
SELECT pg_temp.raise_session_thresholds();

-- The NOTIFY queue, in percent of its size (real numbers: 1% is 80 MB);
-- test/extension/health_notify_queue.t fills it with a listener that never
-- reads.
SET chatgenius.notify_queue_warn_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'notify_queue';
SET chatgenius.notify_queue_critical_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'notify_queue';
SET chatgenius.notify_queue_critical_percent = 0.001;
SHOW chatgenius.notify_queue_critical_percent;
SET chatgenius.notify_queue_critical_percent = 101;
SELECT pg_temp.raise_session_thresholds();

-- Triggers: every trigger of the extension's tables fires.
SELECT status, pg_temp.masked(detail) FROM chatgenius.health() WHERE check_name = 'triggers';
-- One disabled: critical, named with its table and what stops working.
ALTER TABLE chatgenius.messages DISABLE TRIGGER messages_notify;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'triggers';
SELECT chatgenius.health_summary();
-- ENABLE REPLICA: it fires only where session_replication_role = replica,
-- so not for the app: critical too.
ALTER TABLE chatgenius.messages ENABLE REPLICA TRIGGER messages_notify;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'triggers';
ALTER TABLE chatgenius.messages ENABLE TRIGGER messages_notify;
SELECT status, pg_temp.masked(detail) FROM chatgenius.health() WHERE check_name = 'triggers';
-- Every trigger the extension made, disabled at once: one row each, and
-- each says what stops (none falls back to naming the bare function).
CREATE FUNCTION pg_temp.user_triggers(how text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
	t regclass;
BEGIN
	FOR t IN SELECT d.objid::regclass FROM pg_depend d
			  WHERE d.classid = 'pg_class'::regclass AND d.deptype = 'e'
				AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'chatgenius')
				AND (SELECT relkind FROM pg_class WHERE oid = d.objid) = 'r'
	LOOP
		EXECUTE format('ALTER TABLE %s %s TRIGGER USER', t, how);
	END LOOP;
END
$$;
SELECT pg_temp.user_triggers('DISABLE');
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'triggers';
SELECT pg_temp.user_triggers('ENABLE');
ALTER TABLE chatgenius.schema_migrations ENABLE ALWAYS TRIGGER schema_migrations_merge;
SELECT status, pg_temp.masked(detail) FROM chatgenius.health() WHERE check_name IN ('triggers', 'schema');
-- DISABLE TRIGGER ALL (superuser) turns the foreign keys' triggers off too:
-- each named by its constraint.
ALTER TABLE chatgenius.reactions DISABLE TRIGGER ALL;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'triggers';
ALTER TABLE chatgenius.reactions ENABLE TRIGGER ALL;
-- A table of the user's own in the schema is not the extension's.
CREATE TABLE chatgenius.regress_own (id int);
CREATE TRIGGER regress_own_updated BEFORE UPDATE ON chatgenius.regress_own
	FOR EACH ROW EXECUTE FUNCTION chatgenius.set_updated_at();
ALTER TABLE chatgenius.regress_own DISABLE TRIGGER regress_own_updated;
SELECT status, pg_temp.masked(detail) FROM chatgenius.health() WHERE check_name = 'triggers';
DROP TABLE chatgenius.regress_own;

-- Tunnels: one row each, by name, graded by state and heartbeat age.
INSERT INTO chatgenius.tunnel_status
	(tunnel_name, state, heartbeat_interval_ms, last_heartbeat, last_error)
VALUES
	('a-fresh', 'connected', 60000, now(), NULL),
	('b-late', 'connected', 60000, now() - interval '150 s', NULL),
	('c-stale', 'connected', 1000, now() - interval '10 min', NULL),
	('d-failed', 'failed', 60000, now(), 'max retries exceeded'),
	('e-stopped', 'stopped', 1000, now() - interval '1 day', NULL),
	('f-reconnecting', 'reconnecting', 60000, now(), 'Connection refused'),
	('g-connecting', 'connecting', 60000, NULL, NULL);
INSERT INTO chatgenius.tunnel_status
	(tunnel_name, state, heartbeat_interval_ms, last_heartbeat, updated_at)
VALUES ('h-stopped-long', 'stopped', 1000, now() - interval '2 h', now() - interval '2 h');
SELECT status, pg_temp.masked(detail) AS detail
  FROM chatgenius.health() WHERE check_name = 'tunnel';
SELECT chatgenius.health_summary();

-- A stopped tunnel whose helper did not come back turns critical after
-- chatgenius.stopped_critical_after (1h by default).
SET chatgenius.stopped_critical_after = '3h';
SELECT split_part(detail, ':', 1) AS tunnel, status
  FROM chatgenius.health() WHERE check_name = 'tunnel' AND detail LIKE '%stopped%';
SET chatgenius.stopped_critical_after = 0;
SELECT split_part(detail, ':', 1) AS tunnel, status
  FROM chatgenius.health() WHERE check_name = 'tunnel' AND detail LIKE '%stopped%';
RESET chatgenius.stopped_critical_after;

-- The interval multiples are settings.
SET chatgenius.tunnel_warn_intervals = 1000;
SET chatgenius.tunnel_critical_intervals = 1000;
SELECT split_part(detail, ':', 1) AS tunnel, status
  FROM chatgenius.health() WHERE check_name = 'tunnel';
SET chatgenius.tunnel_warn_intervals = 0;
SET chatgenius.tunnel_critical_intervals = 1000;
SELECT split_part(detail, ':', 1) AS tunnel, status
  FROM chatgenius.health() WHERE check_name = 'tunnel' AND detail LIKE 'a-fresh:%';
RESET chatgenius.tunnel_warn_intervals;
RESET chatgenius.tunnel_critical_intervals;
DELETE FROM chatgenius.tunnel_status WHERE tunnel_name <> 'a-fresh';
SELECT chatgenius.health_summary();

-- Only pg_monitor (and superusers) may call them.
CREATE ROLE regress_chatgenius_monitor IN ROLE pg_monitor;
CREATE ROLE regress_chatgenius_nobody;
GRANT USAGE ON SCHEMA chatgenius TO regress_chatgenius_nobody;
SET ROLE regress_chatgenius_nobody;
SELECT count(*) FROM chatgenius.health();
SELECT chatgenius.health_summary();
RESET ROLE;
SET ROLE regress_chatgenius_monitor;
SELECT check_name FROM chatgenius.health();
SELECT chatgenius.health_summary();
RESET ROLE;
-- EXECUTE alone does not open tunnel_status to a role that may not read it.
GRANT EXECUTE ON FUNCTION chatgenius.health() TO regress_chatgenius_nobody;
SET ROLE regress_chatgenius_nobody;
SELECT count(*) FROM chatgenius.health();
RESET ROLE;
REVOKE EXECUTE ON FUNCTION chatgenius.health() FROM regress_chatgenius_nobody;
REVOKE USAGE ON SCHEMA chatgenius FROM regress_chatgenius_nobody;
DROP ROLE regress_chatgenius_nobody;
DROP ROLE regress_chatgenius_monitor;

-- A damaged install: a renamed table or column gives a critical row, not
-- a crash.
ALTER TABLE chatgenius.tunnel_status RENAME TO tunnel_status_moved;
SELECT check_name, status, detail FROM chatgenius.health()
 WHERE check_name IN ('tunnel', 'schema');
SELECT chatgenius.health_summary();
ALTER TABLE chatgenius.tunnel_status_moved RENAME TO tunnel_status;
ALTER TABLE chatgenius.tunnel_status RENAME COLUMN last_heartbeat TO heartbeat;
SELECT check_name, status, detail FROM chatgenius.health() WHERE check_name = 'tunnel';
ALTER TABLE chatgenius.tunnel_status RENAME COLUMN heartbeat TO last_heartbeat;
ALTER TABLE chatgenius.schema_migrations RENAME COLUMN fingerprint TO fp;
SELECT check_name, status, detail FROM chatgenius.health() WHERE check_name = 'schema';
ALTER TABLE chatgenius.schema_migrations RENAME COLUMN fp TO fingerprint;
SELECT chatgenius.health_summary();

DROP EXTENSION chatgenius;
