/* chatgenius 1.2 -> 1.3: placeholder for the 1.3 release (no SQL changes
 * here); it records the version so that the update chain reaches 1.4. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.3'" to load this file. \quit

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.3', 'no SQL changes', 'chatgenius--1.2--1.3.sql',
	pg_catalog.round(1000 * (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		- pg_catalog.current_setting('chatgenius_migration.started_at')::float8))::integer,
	@extschema@.schema_fingerprint());
