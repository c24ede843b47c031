/* chatgenius 1.3 -> 1.4: real-time delivery that scales with writers.
 *
 * The four realtime trigger functions become C (same names, channels and
 * payloads).  With chatgenius in shared_preload_libraries they append each
 * change to realtime_outbox, and the database's notifier (a background
 * worker) sends the NOTIFYs in batches, so writers no longer queue behind
 * PostgreSQL's one-at-a-time NOTIFY commit.  Without it they NOTIFY in the
 * writing transaction, as before.  chatgenius.realtime switches between the
 * two or turns notifications off. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.4'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

/*
 * Changes committed but not yet sent.  The notifier deletes the rows it
 * sends in the transaction that sends them, and reads from the xmin of its
 * previous snapshot on through the index, so the dead rows of a queue cost
 * it nothing until vacuum removes them.  Vacuumed often, being a queue.
 * Not dumped: a restored database has no listener waiting for them.
 */
CREATE TABLE @extschema@.realtime_outbox (
	xid xid8 NOT NULL,
	seq bigint NOT NULL,
	channel text NOT NULL,
	payload text NOT NULL,
	created_at timestamptz NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
	autovacuum_vacuum_insert_scale_factor = 0, autovacuum_vacuum_insert_threshold = 1000);
CREATE INDEX realtime_outbox_xid_seq_idx ON @extschema@.realtime_outbox (xid, seq);
COMMENT ON TABLE @extschema@.realtime_outbox IS
	'changes committed and not yet sent by the notifier: writer''s transaction, order within it, channel, payload';
GRANT SELECT ON @extschema@.realtime_outbox TO pg_monitor;

CREATE OR REPLACE FUNCTION @extschema@.notify_message_change() RETURNS trigger
	AS 'MODULE_PATHNAME', 'chatgenius_notify_message_change' LANGUAGE C;
CREATE OR REPLACE FUNCTION @extschema@.notify_reaction_change() RETURNS trigger
	AS 'MODULE_PATHNAME', 'chatgenius_notify_reaction_change' LANGUAGE C;
CREATE OR REPLACE FUNCTION @extschema@.notify_channel_member_change() RETURNS trigger
	AS 'MODULE_PATHNAME', 'chatgenius_notify_channel_member_change' LANGUAGE C;
CREATE OR REPLACE FUNCTION @extschema@.notify_user_status_change() RETURNS trigger
	AS 'MODULE_PATHNAME', 'chatgenius_notify_user_status_change' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.notify_message_change() IS
	'trigger messages_notify: message_change, ids only (through the outbox unless chatgenius.realtime says otherwise)';
COMMENT ON FUNCTION @extschema@.notify_reaction_change() IS
	'trigger reactions_notify: reaction_change with the reaction''s ids and emoji';
COMMENT ON FUNCTION @extschema@.notify_channel_member_change() IS
	'trigger channel_members_notify: channel_member_change with who, where and the role';
COMMENT ON FUNCTION @extschema@.notify_user_status_change() IS
	'trigger user_status_notify: user_status_change with the user and the presence';

CREATE FUNCTION @extschema@.realtime_status(OUT mode text, OUT preloaded boolean,
	OUT notifier_pid integer, OUT delivered bigint, OUT batches bigint,
	OUT last_batch_at timestamptz)
	RETURNS record AS 'MODULE_PATHNAME', 'chatgenius_realtime_status' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.realtime_status() IS
	'the delivery path of this session (notifier, direct or off), whether the library is preloaded, and this database''s notifier: pid, changes delivered and batches since server start';
REVOKE EXECUTE ON FUNCTION @extschema@.realtime_status() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION @extschema@.realtime_status() TO pg_monitor;

-- Without the preloaded library the notifier cannot run: say so once.
DO $$
BEGIN
	IF NOT (SELECT preloaded FROM @extschema@.realtime_status()) THEN
		RAISE WARNING 'chatgenius is not in shared_preload_libraries: changes are sent with NOTIFY in each writing transaction'
			USING DETAIL = 'Such transactions commit one at a time.',
				HINT = 'Add chatgenius to shared_preload_libraries and restart the server.';
	END IF;
END
$$;

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.4', 'realtime outbox and notifier', 'chatgenius--1.3--1.4.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
