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

/*
 * The thread rules hold for every statement shape as for one row.  Until
 * 1.10 the row trigger read a reply's parent as each row was written, and
 * skipped one not written yet: a multi-row INSERT, COPY, a writable CTE or
 * ON CONFLICT DO UPDATE that wrote a reply before its parent stored a reply
 * to a reply, or one in another channel than its parent.  The row trigger
 * (messages_rules) now checks what the row decides alone or with its
 * channel; messages_thread_rules, fired once the statement's rows are all
 * there (AFTER ... FOR EACH ROW), checks each reply's parent: it exists, is
 * in the reply's channel, is no reply itself; and a message that becomes a
 * reply has none.  Same SQLSTATEs and messages, same
 * locks (the parent FOR SHARE), now taken at the statement's end.
 *
 * An archived channel, as an admin expects it: its row may be unarchived
 * or soft-deleted (the app's UPDATE ... SET deleted_at = now(), refused
 * since 1.6); posts, edits (any change but a soft delete), reactions added,
 * changed or taken back, and hard deletes of its messages or of the channel
 * are refused, 55000 'channel "NAME" is archived'.  No exception reachable
 * by the app: no import of back-dated rows but a superuser's restore
 * (restoring()); a cascade is recognised by what it did (the parent row is
 * gone in this transaction), not by pg_trigger_depth(), which an AFTER
 * trigger on a temporary table raises.
 *
 * The C entry point of 1.10's messages_rules stays (it also reads the
 * parent as the row is written), for a database that runs the new library
 * before it is updated.
 */
CREATE OR REPLACE FUNCTION @extschema@.messages_rules() RETURNS trigger
	AS 'MODULE_PATHNAME', 'chatgenius_messages_row_rules' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.messages_rules() IS
	'BEFORE INSERT OR UPDATE OR DELETE on messages: a message stays in its channel and replies to another; no post, edit or hard delete in an archived channel (unless restoring()); updated_at';
CREATE FUNCTION @extschema@.messages_thread_rules() RETURNS trigger
	AS 'MODULE_PATHNAME', 'chatgenius_messages_thread_rules' LANGUAGE C;
COMMENT ON FUNCTION @extschema@.messages_thread_rules() IS
	'AFTER INSERT OR UPDATE OF thread_id on messages, at the statement''s end: a reply''s parent exists, is in its channel and is no reply; a message that becomes a reply has none';
REVOKE EXECUTE ON FUNCTION @extschema@.messages_thread_rules() FROM PUBLIC;
COMMENT ON FUNCTION @extschema@.reactions_rules() IS
	'BEFORE INSERT OR UPDATE OR DELETE on reactions: none added, changed or taken back in an archived channel (unless restoring(), or its user is deleted)';
COMMENT ON FUNCTION @extschema@.channels_rules() IS
	'BEFORE UPDATE OR DELETE on channels: an archived channel''s row changes only by unarchiving or soft delete, and is not deleted (unless restoring()); updated_at';

DROP TRIGGER messages_rules ON @extschema@.messages;
CREATE TRIGGER messages_rules BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.messages
	FOR EACH ROW EXECUTE FUNCTION @extschema@.messages_rules();
-- No WHEN clause: the function returns at once for a top-level message and
-- in a restore, which costs a post less than a WHEN clause, read and
-- compiled again for every statement.
CREATE TRIGGER messages_thread_rules AFTER INSERT OR UPDATE OF thread_id ON @extschema@.messages
	FOR EACH ROW EXECUTE FUNCTION @extschema@.messages_thread_rules();
DROP TRIGGER reactions_rules ON @extschema@.reactions;
CREATE TRIGGER reactions_rules BEFORE INSERT OR UPDATE OR DELETE ON @extschema@.reactions
	FOR EACH ROW EXECUTE FUNCTION @extschema@.reactions_rules();
DROP TRIGGER channels_rules ON @extschema@.channels;
CREATE TRIGGER channels_rules BEFORE UPDATE OR DELETE ON @extschema@.channels
	FOR EACH ROW EXECUTE FUNCTION @extschema@.channels_rules();

COMMENT ON COLUMN @extschema@.channels.archived_at IS
	'when the channel was archived; an archived channel is read-only (no post, edit, reaction or hard delete; its row changes only by unarchiving or soft delete)';

------------------------------------------------------------------ tunnel names

/*
 * A tunnel's name is given to its role: a superuser makes the name's first
 * row (add_tunnel(), which "chatgenius-tunnel setup" runs for its
 * TUNNEL_NAME and the helper's role) or hands an existing row over
 * (hand_over_tunnel()); the role then writes that name's status, events
 * and routes, and no other.  Until 1.10 any role with the write path made
 * a row for any name that had none (and took one without writer), in any
 * state: a "failed" row made health_summary() critical for everyone.
 * Rows that have a writer keep it; a row without one (its tunnel has not
 * reported since 1.8) waits for a superuser's add_tunnel() or hand-over.
 * A refused write is 42501, with a hint that says how the name is given;
 * the helper logs it once and keeps its events spooled until then.
 */
CREATE OR REPLACE FUNCTION @extschema@.tunnel_writer_check(p_tunnel_name text) RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	writer name;
	has_row boolean;
BEGIN
	SELECT s.written_by INTO writer
	  FROM @extschema@.tunnel_status s
	 WHERE s.tunnel_name OPERATOR(pg_catalog.=) p_tunnel_name
	   FOR UPDATE;
	has_row := FOUND;
	IF writer OPERATOR(pg_catalog.=) SESSION_USER
		OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) SESSION_USER) THEN
		RETURN;
	END IF;
	IF writer IS NOT NULL THEN
		RAISE EXCEPTION 'tunnel "%" is written by role "%"', p_tunnel_name, writer
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = pg_catalog.format('Role "%s" may not write its status or events.', SESSION_USER),
				HINT = pg_catalog.format('Give each helper a TUNNEL_NAME of its own, or have a superuser hand the tunnel over: SELECT @extschema@.hand_over_tunnel(%L, %L);',
					p_tunnel_name, SESSION_USER);
	END IF;
	RAISE EXCEPTION 'tunnel "%" is not assigned to role "%"', p_tunnel_name, SESSION_USER
		USING ERRCODE = 'insufficient_privilege',
			DETAIL = CASE WHEN has_row THEN 'Its row has no writer: its tunnel has not reported since 1.8.'
				ELSE 'A tunnel''s name is given to its role by a superuser, who makes its first row.' END,
			HINT = pg_catalog.format('As a superuser: SELECT @extschema@.add_tunnel(%L, %L); or run "chatgenius-tunnel setup" as one, with this TUNNEL_NAME.',
				p_tunnel_name, SESSION_USER);
END
$$;
COMMENT ON FUNCTION @extschema@.tunnel_writer_check(text) IS
	'raises insufficient_privilege unless this session may write the tunnel''s status and events (its writer, or a superuser)';

/*
 * Gives a tunnel's name to a role: makes its first row ("stopped", no
 * heartbeat yet, until its helper reports; the helper's default interval),
 * or gives a row without writer to the role.  Returns true when it did,
 * false when the name is the role's already; another role's name is an
 * error (hand_over_tunnel() moves it).  EXECUTE is revoked from PUBLIC,
 * and the INSERT needs the table's owner: a superuser's.
 */
CREATE FUNCTION @extschema@.add_tunnel(tunnel_name text, writer name) RETURNS boolean
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	name_to_add text := tunnel_name;
	current_writer name;
BEGIN
	IF name_to_add IS NULL OR name_to_add OPERATOR(pg_catalog.=) '' THEN
		RAISE EXCEPTION 'a tunnel''s name must not be empty'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF writer IS NULL OR NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) writer) THEN
		RAISE EXCEPTION 'role "%" does not exist', writer
			USING ERRCODE = 'undefined_object',
				HINT = 'Create the helper''s role first (CREATE ROLE ... LOGIN), then give it its tunnel.';
	END IF;
	INSERT INTO @extschema@.tunnel_status AS s (tunnel_name, state, heartbeat_interval_ms, updated_at, written_by)
	VALUES (name_to_add, 'stopped', 30000, pg_catalog.now(), writer)
	ON CONFLICT ON CONSTRAINT tunnel_status_pkey DO UPDATE SET written_by = excluded.written_by
	WHERE s.written_by IS NULL;
	IF FOUND THEN
		RETURN true;
	END IF;
	SELECT s.written_by INTO current_writer
	  FROM @extschema@.tunnel_status s
	 WHERE s.tunnel_name OPERATOR(pg_catalog.=) name_to_add;
	IF current_writer OPERATOR(pg_catalog.=) writer THEN
		RETURN false;
	END IF;
	RAISE EXCEPTION 'tunnel "%" is written by role "%"', name_to_add, current_writer
		USING ERRCODE = 'duplicate_object',
			DETAIL = pg_catalog.format('add_tunnel() gives a name that no role writes yet, not role "%s"''s.', current_writer),
			HINT = pg_catalog.format('Hand it over to role "%s" if that is meant: SELECT @extschema@.hand_over_tunnel(%L, %L);',
				writer, name_to_add, writer);
END
$$;
COMMENT ON FUNCTION @extschema@.add_tunnel(text, name) IS
	'gives a tunnel''s name to a role (its first row, stopped until the helper reports): true if it did, false if the role had it';
REVOKE EXECUTE ON FUNCTION @extschema@.add_tunnel(text, name) FROM PUBLIC;
COMMENT ON COLUMN @extschema@.tunnel_status.written_by IS
	'the role that writes this tunnel''s row and events, given by a superuser (add_tunnel(), hand_over_tunnel(), chatgenius-tunnel setup)';
COMMENT ON TABLE @extschema@.tunnel_status IS
	'one row per SSH tunnel: made by a superuser (add_tunnel()), written by its role''s chatgenius-tunnel through report_status()';

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
