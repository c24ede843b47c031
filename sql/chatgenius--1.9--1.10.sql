/* chatgenius 1.9 -> 1.10: one rule trigger per table, in C (issue 18).
 *
 * Until 1.9 a post ran up to three BEFORE triggers, each a PL/pgSQL function
 * (messages_check_thread, messages_refuse_archived, set_updated_at; two of
 * them SECURITY DEFINER with a pinned search_path).  1.10 merges them into
 * one C trigger per table (src/rule_trigger.c): messages_rules on messages,
 * reactions_rules on reactions, channels_rules on channels; the other tables
 * keep their set_updated_at trigger, whose function is now C.  The rules,
 * their error messages, SQLSTATEs, details and hints, their row locks (FOR
 * SHARE) and their restore bypass (chatgenius.restoring(), asked by the C
 * function itself, since the same trigger keeps updated_at in a restore's
 * UPDATE too) are those of 1.9.  The BEFORE triggers still fire before the
 * AFTER notify triggers, and within a table the work keeps 1.9's order:
 * the thread rule, then the archive rule, then updated_at.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.10'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

------------------------------------------------------------------ the PL/pgSQL rules go

DROP TRIGGER messages_check_thread ON @extschema@.messages;
DROP TRIGGER messages_refuse_archived ON @extschema@.messages;
DROP TRIGGER messages_set_updated_at ON @extschema@.messages;
DROP TRIGGER reactions_refuse_archived ON @extschema@.reactions;
DROP TRIGGER channels_refuse_archived ON @extschema@.channels;
DROP TRIGGER channels_set_updated_at ON @extschema@.channels;
DROP FUNCTION @extschema@.messages_check_thread();
DROP FUNCTION @extschema@.messages_refuse_archived();
DROP FUNCTION @extschema@.reactions_refuse_archived();
DROP FUNCTION @extschema@.channels_refuse_archived();
DROP FUNCTION @extschema@.refuse_archived(varchar, text, text);

------------------------------------------------------------------ the C rules come

/*
 * Not SECURITY DEFINER: the C functions run their queries as their owner
 * themselves (and only those), with every name and operator qualified.
 */
CREATE FUNCTION @extschema@.messages_rules() RETURNS trigger
	AS 'MODULE_PATHNAME', 'chatgenius_messages_rules' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.messages_rules() IS
	'BEFORE INSERT OR UPDATE on messages: threads one level deep in one channel, no post or edit in an archived channel (both unless restoring()), updated_at';
CREATE FUNCTION @extschema@.reactions_rules() RETURNS trigger
	AS 'MODULE_PATHNAME', 'chatgenius_reactions_rules' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.reactions_rules() IS
	'BEFORE INSERT OR DELETE on reactions: none added or taken back in an archived channel (unless restoring())';
CREATE FUNCTION @extschema@.channels_rules() RETURNS trigger
	AS 'MODULE_PATHNAME', 'chatgenius_channels_rules' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.channels_rules() IS
	'BEFORE UPDATE on channels: an archived channel''s row changes only by unarchiving (unless restoring()), updated_at';
CREATE OR REPLACE FUNCTION @extschema@.set_updated_at() RETURNS trigger
	AS 'MODULE_PATHNAME', 'chatgenius_set_updated_at' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.set_updated_at() IS
	'BEFORE UPDATE: updated_at := now(), on the tables without other rules';
REVOKE EXECUTE ON FUNCTION @extschema@.messages_rules(), @extschema@.reactions_rules(),
	@extschema@.channels_rules() FROM PUBLIC;

CREATE TRIGGER messages_rules BEFORE INSERT OR UPDATE ON @extschema@.messages
	FOR EACH ROW EXECUTE FUNCTION @extschema@.messages_rules();
CREATE TRIGGER reactions_rules BEFORE INSERT OR DELETE ON @extschema@.reactions
	FOR EACH ROW EXECUTE FUNCTION @extschema@.reactions_rules();
CREATE TRIGGER channels_rules BEFORE UPDATE ON @extschema@.channels
	FOR EACH ROW EXECUTE FUNCTION @extschema@.channels_rules();

COMMENT ON FUNCTION @extschema@.restoring() IS
	'true while this session loads a dump (session_replication_role = replica, or check_function_bodies off, as pg_dump''s output sets it, in a superuser''s session): the rule triggers (which ask it themselves) and the NOTIFY triggers then stand aside';

------------------------------------------------------------------ history (last)

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.10', 'one rule trigger per table, in C: threads, archived channels and updated_at in one BEFORE trigger',
	'chatgenius--1.9--1.10.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
