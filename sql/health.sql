-- chatgenius.health() and health_summary(): the checks, their statuses, the
-- GUC thresholds, and a damaged install.
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;

-- Detail text with the measured numbers replaced, for stable output.
CREATE FUNCTION pg_temp.masked(d text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT regexp_replace(regexp_replace(d, '\(pid [0-9]+\)', '(pid N)', 'g'),
						  '[0-9]+(\.[0-9]+)?', 'N', 'g')
$$;

-- Every check, once, in order; statuses from the allowed set.
SELECT check_name, status IN ('ok', 'warn', 'critical') AS known_status
  FROM chatgenius.health();

-- A fresh cluster with no tunnel: all ok.
SELECT check_name, status, pg_temp.masked(detail) AS detail FROM chatgenius.health();
SELECT chatgenius.health_summary();

-- The settings exist with their documented defaults.
SELECT name, setting, unit FROM pg_settings WHERE name LIKE 'chatgenius.%' ORDER BY name;

-- A misspelt setting is refused: the prefix is reserved.
SET chatgenius.connection_warn_percent = 10;

-- Each threshold turns its check to warn, then critical.
SET chatgenius.connections_warn_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'connections';
SET chatgenius.connections_critical_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'connections';
SELECT chatgenius.health_summary();
RESET chatgenius.connections_warn_percent;
RESET chatgenius.connections_critical_percent;

SET chatgenius.wraparound_warn_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'wraparound';
SET chatgenius.wraparound_critical_percent = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'wraparound';
RESET chatgenius.wraparound_warn_percent;
RESET chatgenius.wraparound_critical_percent;

-- This very transaction is the oldest one at least 0 s old.
SET chatgenius.long_transaction_warn = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'long_transactions';
SET chatgenius.long_transaction_critical = '0min';
SELECT status FROM chatgenius.health() WHERE check_name = 'long_transactions';
SHOW chatgenius.long_transaction_critical;
SET chatgenius.long_transaction_critical = '2h';
SHOW chatgenius.long_transaction_critical;
RESET chatgenius.long_transaction_warn;
RESET chatgenius.long_transaction_critical;

SET chatgenius.locks_warn_blocked = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'locks';
SET chatgenius.locks_critical_blocked = 0;
SELECT status FROM chatgenius.health() WHERE check_name = 'locks';
SELECT chatgenius.health_summary();
RESET chatgenius.locks_warn_blocked;
RESET chatgenius.locks_critical_blocked;
SELECT chatgenius.health_summary();

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
SELECT status, pg_temp.masked(detail) AS detail
  FROM chatgenius.health() WHERE check_name = 'tunnel';
SELECT chatgenius.health_summary();

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
SELECT check_name, status FROM chatgenius.health();
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
