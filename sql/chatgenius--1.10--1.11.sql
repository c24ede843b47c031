/* chatgenius 1.10 -> 1.11
 *
 * One release, several concerns, each in its own section below (in the order
 * the script runs them).  A section says what changes and why; NEWS.md has
 * the release notes.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.11'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into (see doc/security.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

------------------------------------------------------------------ rules per statement

------------------------------------------------------------------ tunnel names

------------------------------------------------------------------ event names

/*
 * Every name the helper emits is a row: channel_open_timeout (a client's
 * channel that did not open in time) was refused by the CHECK and logged
 * as discarded.  The names are helper/event_list.h's, whose "since" column
 * says in which version each one joined; test/helper/event_names.t holds
 * this CHECK, version by version, to that list.  A helper older than its
 * extension never sends a name the CHECK lacks; a newer one keeps such
 * events in its spool until the extension is updated.
 */
ALTER TABLE @extschema@.tunnel_events DROP CONSTRAINT tunnel_events_event_check;
ALTER TABLE @extschema@.tunnel_events ADD CONSTRAINT tunnel_events_event_check
	CHECK (event IN ('connected', 'disconnected', 'reconnecting', 'reconnected',
		'health_check_failed', 'pool_full', 'maxRetriesExceeded', 'stopped', 'events_dropped',
		'primary_changed', 'standby_down', 'standby_lagging', 'split_brain',
		'channel_open_timeout'));

------------------------------------------------------------------ dump policy

/*
 * Changes the notifier set aside are data an operator has to decide about
 * (requeue or discard): a restore carries them, where 1.7 left them behind.
 */
SELECT pg_catalog.pg_extension_config_dump('@extschema@.realtime_dead_letter', '');

------------------------------------------------------------------ health checks

------------------------------------------------------------------ realtime

------------------------------------------------------------------ history (last)

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.11', 'rules per statement, assigned tunnel names, every event name, every table''s dump policy',
	'chatgenius--1.10--1.11.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
