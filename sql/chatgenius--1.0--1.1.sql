/* chatgenius 1.0 -> 1.1: channel archiving (the app's later migration). */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.1'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

ALTER TABLE @extschema@.channels
	ADD COLUMN archived_at timestamptz,
	ADD COLUMN archived_by varchar(26),
	ADD CONSTRAINT channels_archived_by_fkey FOREIGN KEY (archived_by)
		REFERENCES @extschema@.users (id) ON DELETE SET NULL,
	ADD CONSTRAINT channels_archived_by_needs_archived_at
		CHECK (archived_by IS NULL OR archived_at IS NOT NULL);
CREATE INDEX channels_archived_by_idx ON @extschema@.channels (archived_by);
-- Live channels (neither archived nor deleted), by name: the channel list.
CREATE INDEX channels_live_idx ON @extschema@.channels (name)
	WHERE archived_at IS NULL AND deleted_at IS NULL;
COMMENT ON COLUMN @extschema@.channels.archived_at IS
	'when the channel was archived; an archived channel takes no new messages and no edits';

/*
 * An archived channel takes no new message and no edit.  "New" means created
 * at or after the archiving: rows created before it (a pg_restore loading an
 * archived channel's history, an import of old messages) still go in.
 */
CREATE FUNCTION @extschema@.messages_refuse_archived() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	channel_name text;
	archived timestamptz;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.content IS NOT DISTINCT FROM OLD.content THEN
		RETURN NEW;
	END IF;
	SELECT c.name, c.archived_at INTO channel_name, archived
	  FROM @extschema@.channels c
	 WHERE c.id = NEW.channel_id;
	IF archived IS NOT NULL AND (TG_OP = 'UPDATE' OR NEW.created_at >= archived) THEN
		RAISE EXCEPTION 'channel "%" is archived', channel_name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = pg_catalog.format('Unarchive it first: UPDATE @extschema@.channels '
					'SET archived_at = NULL, archived_by = NULL WHERE id = %L;', NEW.channel_id);
	END IF;
	RETURN NEW;
END
$$;
REVOKE EXECUTE ON FUNCTION @extschema@.messages_refuse_archived() FROM PUBLIC;

CREATE TRIGGER messages_refuse_archived
	BEFORE INSERT OR UPDATE OF content ON @extschema@.messages
	FOR EACH ROW EXECUTE FUNCTION @extschema@.messages_refuse_archived();

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.1', 'channel archiving: channels.archived_at, archived_by; no new messages in archived channels',
	'chatgenius--1.0--1.1.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
