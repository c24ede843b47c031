/* chatgenius 1.1 -> 1.2: rename channels.topic to description (the app's
 * later migration).  No function body or trigger mentions the column (the
 * NOTIFY payloads carry ids only, messages_refuse_archived reads name and
 * archived_at), so none needs replacing; the rename keeps the rows. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.2'" to load this file. \quit

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

ALTER TABLE @extschema@.channels RENAME COLUMN topic TO description;
COMMENT ON COLUMN @extschema@.channels.description IS 'what the channel is about (was topic before 1.2)';

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.2', 'rename channels.topic to description', 'chatgenius--1.1--1.2.sql',
	pg_catalog.round(1000 * (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		- pg_catalog.current_setting('chatgenius_migration.started_at')::float8))::integer,
	@extschema@.schema_fingerprint());
