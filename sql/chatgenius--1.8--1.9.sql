/* chatgenius 1.8 -> 1.9: realtime across a failover, at least once (issue 15).
 *
 * The notifier no longer deletes the outbox rows it sends in the transaction
 * that sends them: it records what it sent in realtime_sent and deletes those
 * rows in its next transaction (the next rows it sends, or a delete alone a
 * batch interval later, so that an idle outbox still drains).  Killed right
 * after a commit, a primary used to leave its standby with the rows deleted
 * and the NOTIFYs unread; now the promoted standby's notifier finds them, and
 * the record says they went into another server's notification queue, so it
 * sends them again.  A notifier that restarts on the same server, whose
 * listeners still read the queue, does not.  At most the rows of the last
 * batch arrive twice; apps dedupe by the change's id.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.9'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

/*
 * Where the notifier's delivery stands, one row, written in the transaction
 * of each NOTIFY: the snapshots of the previous batch (prev_*) and of the
 * current one (batch_*), the part of it being read and the last row sent, and the rows
 * sent but not deleted yet (first_*..last_*, unacked of them; none when
 * first_xid is NULL).  server_id is drawn when a server's shared memory is
 * made (start, crash restart, promotion's server alike): a notifier that
 * reads another one sends those rows again.  The timeline is the one they
 * were sent on.  Not dumped: the xids mean nothing in another cluster.
 */
CREATE TABLE @extschema@.realtime_sent (
	one boolean PRIMARY KEY DEFAULT true CHECK (one),
	server_id bigint NOT NULL,
	timeline bigint NOT NULL,
	sent_at timestamptz NOT NULL,
	prev_xmax xid8 NOT NULL,
	prev_xip xid8[] NOT NULL,
	batch_xmax xid8 NOT NULL,
	batch_xip xid8[] NOT NULL,
	part integer NOT NULL CHECK (part IN (1, 2)),
	first_xid xid8,
	first_seq bigint,
	last_xid xid8 NOT NULL,
	last_seq bigint NOT NULL,
	unacked integer NOT NULL CHECK (unacked >= 0)
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
COMMENT ON TABLE @extschema@.realtime_sent IS
	'the notifier''s record of what it sent: its position in the outbox and the rows sent but not yet deleted, with the server and timeline that sent them (sent again by a notifier on another server, or after a restart)';
GRANT SELECT ON @extschema@.realtime_sent TO pg_monitor;

COMMENT ON TABLE @extschema@.realtime_outbox IS
	'changes committed and not yet sent by the notifier, and those it sent last (see realtime_sent): writer''s transaction, order within it, channel, payload';

------------------------------------------------------------------ history (last)

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.9', 'realtime at least once across a failover: the notifier records what it sent (realtime_sent) and deletes it with its next batch',
	'chatgenius--1.8--1.9.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
