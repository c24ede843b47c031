/* chatgenius 1.6 -> 1.7: a change that cannot be sent no longer stops the
 * others.
 *
 * The notifier retries a failed batch row by row and moves a row that still
 * fails (say a payload NOTIFY refuses) to realtime_dead_letter with its
 * error and time; delivery goes on.  realtime_requeue() sends such rows
 * again, realtime_discard() drops them.  realtime_status() gains the
 * notifier's error counts and its last error.  The outbox itself is
 * unchanged (its rows are kept as they are); what changed is how the
 * notifier reads it.  The 1.4 script said that its dead rows cost the
 * notifier nothing: while a transaction held vacuum back they did, every
 * batch (see the README, "The queue and its history"). */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.7'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

/*
 * Changes the notifier set aside: the outbox row as it was, when and why it
 * could not be sent.  Not dumped, like the outbox.
 */
CREATE TABLE @extschema@.realtime_dead_letter (
	xid xid8 NOT NULL,
	seq bigint NOT NULL,
	channel text NOT NULL,
	payload text NOT NULL,
	created_at timestamptz NOT NULL,
	failed_at timestamptz NOT NULL,
	sqlstate text NOT NULL,
	error text NOT NULL
);
COMMENT ON TABLE @extschema@.realtime_dead_letter IS
	'changes the notifier could not send, set aside so that delivery goes on: the outbox row, when and why; see realtime_requeue() and realtime_discard()';
GRANT SELECT ON @extschema@.realtime_dead_letter TO pg_monitor;

DROP FUNCTION @extschema@.realtime_status();
CREATE FUNCTION @extschema@.realtime_status(OUT mode text, OUT preloaded boolean,
	OUT notifier_pid integer, OUT delivered bigint, OUT batches bigint,
	OUT last_batch_at timestamptz, OUT errors bigint, OUT set_aside bigint,
	OUT last_error text, OUT last_error_at timestamptz)
	RETURNS record AS 'MODULE_PATHNAME', 'chatgenius_realtime_status' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.realtime_status() IS
	'the delivery path of this session (notifier, direct or off), whether the library is preloaded, and this database''s notifier since server start: pid, changes delivered, batches, failed transactions, changes set aside, the last error';
REVOKE EXECUTE ON FUNCTION @extschema@.realtime_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.realtime_status() TO pg_monitor;

CREATE FUNCTION @extschema@.realtime_requeue(xid xid8 DEFAULT NULL, seq bigint DEFAULT NULL)
	RETURNS bigint AS 'MODULE_PATHNAME', 'chatgenius_realtime_requeue' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.realtime_requeue(xid8, bigint) IS
	'moves set-aside changes (all, those of one transaction, or one) back to the outbox, to be sent after what is pending now; returns how many';
REVOKE EXECUTE ON FUNCTION @extschema@.realtime_requeue(xid8, bigint) FROM PUBLIC;

CREATE FUNCTION @extschema@.realtime_discard(xid xid8 DEFAULT NULL, seq bigint DEFAULT NULL)
	RETURNS bigint AS 'MODULE_PATHNAME', 'chatgenius_realtime_discard' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION @extschema@.realtime_discard(xid8, bigint) IS
	'drops set-aside changes (all, those of one transaction, or one) for good; returns how many';
REVOKE EXECUTE ON FUNCTION @extschema@.realtime_discard(xid8, bigint) FROM PUBLIC;

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.7', 'realtime dead letters and notifier errors', 'chatgenius--1.6--1.7.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::float8))::integer,
	@extschema@.schema_fingerprint());
