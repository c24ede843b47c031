-- chatgenius.pool_stats(): one row per tunnel with the figures the helper
-- reported, the heartbeat age and the server's client backends.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;

-- No tunnel, no row.
SELECT count(*) FROM chatgenius.pool_stats();

INSERT INTO chatgenius.tunnel_status
	(tunnel_name, state, heartbeat_interval_ms, last_heartbeat, pool_size,
	 sessions_open, channels_active, channels_total, clients_waiting,
	 bytes_in, bytes_out, reconnects)
VALUES
	('west', 'connected', 30000, now() - interval '5 s', 10, 3, 7, 1234567890123, 2,
	 9876543210, 123456789, 4),
	('east', 'reconnecting', 30000, NULL, 5, 0, 0, 0, 9, 0, 0, 1);

SELECT tunnel_name, state, pool_size, sessions_open, channels_active,
	   channels_total, clients_waiting, bytes_in, bytes_out, reconnects,
	   last_heartbeat IS NULL AS never_beat
  FROM chatgenius.pool_stats();

-- The heartbeat age is measured from now (the clock, not the transaction
-- start): at least the 5 s the row says, and not much more.
SELECT tunnel_name, heartbeat_age >= interval '5 s' AND heartbeat_age < interval '5 min' AS plausible_age,
	   heartbeat_age IS NULL AS no_age
  FROM chatgenius.pool_stats();

-- The backends as the server sees them: this session is one active client.
SELECT backends_total >= 1 AS has_clients,
	   backends_active >= 1 AS this_one_active,
	   backends_active + backends_idle + backends_idle_in_transaction <= backends_total AS parts_add_up
  FROM chatgenius.pool_stats() WHERE tunnel_name = 'west';
-- Compared with pg_stat_activity within one transaction: PostgreSQL reads
-- the backend status array once per transaction, so both see the same
-- backends even while other clients come and go.
BEGIN;
SELECT count(*) AS clients FROM pg_stat_activity WHERE backend_type = 'client backend' \gset
SELECT backends_total = :clients AS matches_pg_stat_activity
  FROM chatgenius.pool_stats() WHERE tunnel_name = 'west';
COMMIT;

-- Only pg_monitor (and superusers) may call it.
CREATE ROLE regress_chatgenius_pool_nobody;
CREATE ROLE regress_chatgenius_pool_monitor IN ROLE pg_monitor;
GRANT USAGE ON SCHEMA chatgenius TO regress_chatgenius_pool_nobody;
SET ROLE regress_chatgenius_pool_nobody;
SELECT count(*) FROM chatgenius.pool_stats();
RESET ROLE;
SET ROLE regress_chatgenius_pool_monitor;
SELECT tunnel_name, state FROM chatgenius.pool_stats();
RESET ROLE;
REVOKE USAGE ON SCHEMA chatgenius FROM regress_chatgenius_pool_nobody;
DROP ROLE regress_chatgenius_pool_nobody;
DROP ROLE regress_chatgenius_pool_monitor;

-- A damaged install is an error with a hint, not a crash.
ALTER TABLE chatgenius.tunnel_status RENAME TO tunnel_status_moved;
SELECT count(*) FROM chatgenius.pool_stats();
ALTER TABLE chatgenius.tunnel_status_moved RENAME TO tunnel_status;
ALTER TABLE chatgenius.tunnel_status ALTER COLUMN pool_size TYPE bigint;
SELECT count(*) FROM chatgenius.pool_stats();

DROP EXTENSION chatgenius;
