/* chatgenius 1.1 -> 1.2: rename channels.topic to description (the app's
 * later migration).  No function body or trigger mentions the column (the
 * NOTIFY payloads carry ids only, messages_refuse_archived reads name and
 * archived_at), so none needs replacing; the rename keeps the rows. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.2'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

ALTER TABLE @extschema@.channels RENAME COLUMN topic TO description;
COMMENT ON COLUMN @extschema@.channels.description IS 'what the channel is about (was topic before 1.2)';

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.2', 'rename channels.topic to description', 'chatgenius--1.1--1.2.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
