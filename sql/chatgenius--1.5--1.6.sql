/* chatgenius 1.5 -> 1.6: the app's own flows.
 *
 * Leaving and re-joining a channel works the way the app does it: leave is
 * UPDATE channel_members SET deleted_at = now(), re-join a plain INSERT.
 * An archived channel is read-only, as the app's own database made it: no
 * post, no edit, no reaction added or taken back, and no change to its row
 * but unarchiving. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.6'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

------------------------------------------------------------------ unique keys and soft delete

/*
 * Of the tables with soft delete (deleted_at), only channel_members has a
 * unique key that a soft-deleted row must not hold: a member who left may
 * come back.  Only live rows count now.  An upsert names the predicate too:
 *   INSERT ... ON CONFLICT (channel_id, user_id) WHERE deleted_at IS NULL DO NOTHING
 * users keeps its keys on auth0_id and email as the app's schema had them:
 * an identity stays one user, and signing in again with it finds the same
 * row (ON CONFLICT (auth0_id) keeps its arbiter).  reactions, message_reads,
 * user_settings, user_status and sync_state have no soft delete; channels,
 * messages and files no unique key but their ids.  No function of the
 * extension uses ON CONFLICT on a chat table.
 *
 * The old key held no two rows of a pair at all, so the new one holds too.
 * The foreign key index of channel_id covers every row (a cascade from
 * channels scans soft-deleted members as well).
 */
ALTER TABLE @extschema@.channel_members DROP CONSTRAINT channel_members_channel_user_key;
CREATE UNIQUE INDEX channel_members_channel_user_live_key
	ON @extschema@.channel_members (channel_id, user_id) WHERE deleted_at IS NULL;
CREATE INDEX channel_members_channel_id_idx ON @extschema@.channel_members (channel_id);
COMMENT ON TABLE @extschema@.channel_members IS
	'channel membership: at most one live row per channel and user; leave sets deleted_at, re-join inserts a new row';

------------------------------------------------------------------ archived channels are read-only

/*
 * All of 1.6's archive rules are here, in three trigger functions, each
 * locking the channel row FOR SHARE before it reads archived_at: that
 * conflicts with the archiving UPDATE (FOR NO KEY UPDATE), so a change waits
 * for an archiving in progress and then sees it, and an archiving waits for
 * the changes in progress (test/isolation/specs/archive_race.spec).  Each
 * refusal is SQLSTATE 55000 (object_not_in_prerequisite_state) with the
 * unarchiving statement as its hint.  Rows loaded by a restore do not reach
 * them (WHEN (NOT restoring())).
 *
 *   messages: no new message (created at or after the archiving: an import
 *     of older ones still loads) and no edit (content, thread); soft delete
 *     (deleted_at) still works, as in 1.1.
 *   reactions: none added (created at or after the archiving) and none taken
 *     back; a reaction that goes with its message, its user or its channel
 *     (a cascade, from inside another trigger) still goes.
 *   channels: an archived channel's row changes only by unarchiving
 *     (archived_at set to NULL, nothing else but archived_by changed), or
 *     by losing archived_by when that user is deleted (the foreign key's
 *     ON DELETE SET NULL, from inside its trigger).  A later update script
 *     that rewrites every channel's row must disable channels_refuse_archived
 *     around that statement.
 */

-- The refusal itself, the same words for every table.
CREATE FUNCTION @extschema@.refuse_archived(channel_id varchar, channel_name text, what text)
	RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
	RAISE EXCEPTION 'channel "%" is archived', channel_name
		USING ERRCODE = 'object_not_in_prerequisite_state',
			DETAIL = pg_catalog.format('An archived channel is read-only: %s.', what),
			HINT = pg_catalog.format('Unarchive it first: UPDATE @extschema@.channels '
				'SET archived_at = NULL, archived_by = NULL WHERE id = %L;', channel_id);
END
$$;
REVOKE EXECUTE ON FUNCTION @extschema@.refuse_archived(varchar, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION @extschema@.messages_refuse_archived() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	channel_name text;
	archived timestamptz;
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.content IS NOT DISTINCT FROM OLD.content
		AND NEW.thread_id IS NOT DISTINCT FROM OLD.thread_id THEN
		RETURN NEW;
	END IF;
	SELECT c.name, c.archived_at INTO channel_name, archived
	  FROM @extschema@.channels c
	 WHERE c.id = NEW.channel_id
	   FOR SHARE;
	IF archived IS NOT NULL AND (TG_OP = 'UPDATE' OR NEW.created_at >= archived) THEN
		PERFORM @extschema@.refuse_archived(NEW.channel_id, channel_name,
			CASE TG_OP WHEN 'INSERT' THEN 'no new message' ELSE 'no edit' END);
	END IF;
	RETURN NEW;
END
$$;
DROP TRIGGER messages_refuse_archived ON @extschema@.messages;
CREATE TRIGGER messages_refuse_archived
	BEFORE INSERT OR UPDATE OF content, thread_id ON @extschema@.messages
	FOR EACH ROW WHEN (NOT @extschema@.restoring())
	EXECUTE FUNCTION @extschema@.messages_refuse_archived();

CREATE FUNCTION @extschema@.reactions_refuse_archived() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	r record;
	channel varchar(26);
	channel_name text;
	archived timestamptz;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
		-- with its message, its user or its channel: the cascade's trigger
		IF pg_catalog.pg_trigger_depth() > 1 THEN
			RETURN OLD;
		END IF;
	ELSE
		r := NEW;
	END IF;
	SELECT m.channel_id INTO channel FROM @extschema@.messages m WHERE m.id = r.message_id;
	IF NOT FOUND THEN
		RETURN r;	-- the foreign key's to judge
	END IF;
	SELECT c.name, c.archived_at INTO channel_name, archived
	  FROM @extschema@.channels c
	 WHERE c.id = channel
	   FOR SHARE;
	IF archived IS NOT NULL AND (TG_OP = 'DELETE' OR NEW.created_at >= archived) THEN
		PERFORM @extschema@.refuse_archived(channel, channel_name,
			CASE TG_OP WHEN 'INSERT' THEN 'no new reaction' ELSE 'no reaction taken back' END);
	END IF;
	RETURN r;
END
$$;
REVOKE EXECUTE ON FUNCTION @extschema@.reactions_refuse_archived() FROM PUBLIC;
CREATE TRIGGER reactions_refuse_archived
	BEFORE INSERT OR DELETE ON @extschema@.reactions
	FOR EACH ROW WHEN (NOT @extschema@.restoring())
	EXECUTE FUNCTION @extschema@.reactions_refuse_archived();

-- The row is already locked by its UPDATE: no FOR SHARE needed.
CREATE FUNCTION @extschema@.channels_refuse_archived() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	rest_same boolean := (pg_catalog.to_jsonb(NEW) OPERATOR(pg_catalog.-) ARRAY['archived_at', 'archived_by', 'updated_at'])
		OPERATOR(pg_catalog.=) (pg_catalog.to_jsonb(OLD) OPERATOR(pg_catalog.-) ARRAY['archived_at', 'archived_by', 'updated_at']);
BEGIN
	IF rest_same AND NEW.archived_at IS NULL THEN
		RETURN NEW;		-- unarchiving
	END IF;
	IF rest_same AND NEW.archived_at IS NOT DISTINCT FROM OLD.archived_at
		AND NEW.archived_by IS NULL AND pg_catalog.pg_trigger_depth() > 1 THEN
		RETURN NEW;		-- the archiving user deleted: ON DELETE SET NULL
	END IF;
	PERFORM @extschema@.refuse_archived(OLD.id, OLD.name, 'its row changes only by unarchiving');
	RETURN NULL;
END
$$;
REVOKE EXECUTE ON FUNCTION @extschema@.channels_refuse_archived() FROM PUBLIC;
CREATE TRIGGER channels_refuse_archived
	BEFORE UPDATE ON @extschema@.channels
	FOR EACH ROW WHEN (OLD.archived_at IS NOT NULL AND NOT @extschema@.restoring())
	EXECUTE FUNCTION @extschema@.channels_refuse_archived();

COMMENT ON COLUMN @extschema@.channels.archived_at IS
	'when the channel was archived; an archived channel is read-only (no post, edit or reaction; its row changes only by unarchiving)';

------------------------------------------------------------------ history

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.6', 'the app''s flows: re-joining a channel (channel_members unique among live rows), archived channels read-only',
	'chatgenius--1.5--1.6.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
