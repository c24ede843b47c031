/* chatgenius 1.2 -> 1.3: backups and concurrency.
 *  - restores: the rule and NOTIFY triggers stand aside while a dump is
 *    loaded (restoring()); the history merge also fires in replica mode;
 *    tunnel_status (live state of the source's helpers) leaves the dump;
 *  - concurrency: the thread and archive rules lock the row they read;
 *  - drift: accept_schema() takes the current objects as the new baseline;
 *  - tunnels: forget_tunnel(), prune_tunnel_events() and its index, and a
 *    write path whose signature never changes (report_status_json(jsonb),
 *    report_event_json(jsonb)); the positional functions stay for older helpers.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.3'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

------------------------------------------------------------------ restores

CREATE FUNCTION @extschema@.restoring() RETURNS boolean
	AS 'MODULE_PATHNAME', 'chatgenius_restoring' LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.restoring() IS
	'true while this session loads a dump (check_function_bodies off, as pg_dump''s output sets it, or session_replication_role = replica): the rule and NOTIFY triggers then stand aside';

------------------------------------------------------------------ rules under concurrency

/*
 * Threads are one level deep, as in Slack: a reply (thread_id set) points at
 * a top-level message of the same channel.  Refuses a reply in another
 * channel, a reply to a reply, a message replying to itself, a message with
 * replies becoming a reply, and a message moving to another channel.  A
 * parent that is not found is left to the foreign key (which also lets
 * pg_restore load replies before their parents in the same COPY).
 *
 * The parent is read FOR SHARE: that conflicts with another session's
 * UPDATE of it (FOR NO KEY UPDATE), so a reply and a change of its parent's
 * thread_id cannot both commit unseen by each other's check.  An UPDATE of
 * a message already holds its row lock when this runs, so the "has replies"
 * check sees every reply whose insert locked it first.
 */
CREATE OR REPLACE FUNCTION @extschema@.messages_check_thread() RETURNS trigger
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	parent_channel varchar(26);
	parent_thread varchar(26);
BEGIN
	IF TG_OP = 'UPDATE' AND NEW.channel_id IS DISTINCT FROM OLD.channel_id THEN
		RAISE EXCEPTION 'message % cannot move to another channel', OLD.id
			USING ERRCODE = 'check_violation',
				DETAIL = pg_catalog.format('It belongs to channel %s.', OLD.channel_id),
				HINT = 'Post a new message in the other channel instead.';
	END IF;

	IF NEW.thread_id IS NULL THEN
		RETURN NEW;
	END IF;

	IF NEW.thread_id = NEW.id THEN
		RAISE EXCEPTION 'message % cannot be a reply to itself', NEW.id
			USING ERRCODE = 'check_violation';
	END IF;

	SELECT m.channel_id, m.thread_id INTO parent_channel, parent_thread
	  FROM @extschema@.messages m
	 WHERE m.id = NEW.thread_id
	   FOR SHARE;
	IF FOUND THEN
		IF parent_channel IS DISTINCT FROM NEW.channel_id THEN
			RAISE EXCEPTION 'reply must be in the channel of its thread'
				USING ERRCODE = 'check_violation',
					DETAIL = pg_catalog.format('Message %s is in channel %s, the reply in channel %s.',
						NEW.thread_id, parent_channel, NEW.channel_id);
		END IF;
		IF parent_thread IS NOT NULL THEN
			RAISE EXCEPTION 'message % is itself a reply', NEW.thread_id
				USING ERRCODE = 'check_violation',
					DETAIL = 'Threads are one level deep.',
					HINT = pg_catalog.format('Reply to the first message of its thread, %s.', parent_thread);
		END IF;
	END IF;

	IF TG_OP = 'UPDATE' AND OLD.thread_id IS NULL
		AND EXISTS (SELECT FROM @extschema@.messages r WHERE r.thread_id = NEW.id) THEN
		RAISE EXCEPTION 'message % has replies and cannot become a reply', NEW.id
			USING ERRCODE = 'check_violation',
				DETAIL = 'Threads are one level deep.';
	END IF;

	RETURN NEW;
END
$$;

/*
 * An archived channel takes no new message and no edit.  "New" means created
 * at or after the archiving: rows created before it (an import of old
 * messages) still go in; rows loaded from a dump do not reach this function
 * at all (the trigger's WHEN (NOT restoring())).
 *
 * The channel is read FOR SHARE, which conflicts with the archiving UPDATE
 * (FOR NO KEY UPDATE): a post waits for an archiving in progress and then
 * sees it, and an archiving waits for the posts in progress.
 */
CREATE OR REPLACE FUNCTION @extschema@.messages_refuse_archived() RETURNS trigger
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
	 WHERE c.id = NEW.channel_id
	   FOR SHARE;
	IF archived IS NOT NULL AND (TG_OP = 'UPDATE' OR NEW.created_at >= archived) THEN
		RAISE EXCEPTION 'channel "%" is archived', channel_name
			USING ERRCODE = 'object_not_in_prerequisite_state',
				HINT = pg_catalog.format('Unarchive it first: UPDATE @extschema@.channels '
					'SET archived_at = NULL, archived_by = NULL WHERE id = %L;', NEW.channel_id);
	END IF;
	RETURN NEW;
END
$$;

-- The rule and NOTIFY triggers, again, with WHEN (NOT restoring()): a
-- restore neither re-checks the rules that the source database enforced
-- when the rows were written, nor queues a trigger event or a notification
-- per row (nobody listens to a database being restored).
DROP TRIGGER messages_check_thread ON @extschema@.messages;
CREATE TRIGGER messages_check_thread
	BEFORE INSERT OR UPDATE OF channel_id, thread_id ON @extschema@.messages
	FOR EACH ROW WHEN (NOT @extschema@.restoring())
	EXECUTE FUNCTION @extschema@.messages_check_thread();
DROP TRIGGER messages_refuse_archived ON @extschema@.messages;
CREATE TRIGGER messages_refuse_archived
	BEFORE INSERT OR UPDATE OF content ON @extschema@.messages
	FOR EACH ROW WHEN (NOT @extschema@.restoring())
	EXECUTE FUNCTION @extschema@.messages_refuse_archived();

DROP TRIGGER messages_notify ON @extschema@.messages;
CREATE TRIGGER messages_notify AFTER INSERT OR UPDATE ON @extschema@.messages
	FOR EACH ROW WHEN (NOT @extschema@.restoring())
	EXECUTE FUNCTION @extschema@.notify_message_change();
DROP TRIGGER reactions_notify ON @extschema@.reactions;
CREATE TRIGGER reactions_notify AFTER INSERT OR DELETE ON @extschema@.reactions
	FOR EACH ROW WHEN (NOT @extschema@.restoring())
	EXECUTE FUNCTION @extschema@.notify_reaction_change();
DROP TRIGGER channel_members_notify ON @extschema@.channel_members;
CREATE TRIGGER channel_members_notify AFTER INSERT OR UPDATE OR DELETE ON @extschema@.channel_members
	FOR EACH ROW WHEN (NOT @extschema@.restoring())
	EXECUTE FUNCTION @extschema@.notify_channel_member_change();
DROP TRIGGER user_status_notify ON @extschema@.user_status;
CREATE TRIGGER user_status_notify AFTER INSERT OR UPDATE ON @extschema@.user_status
	FOR EACH ROW WHEN (NOT @extschema@.restoring())
	EXECUTE FUNCTION @extschema@.notify_user_status_change();

------------------------------------------------------------------ migration history

ALTER TABLE @extschema@.schema_migrations
	ADD COLUMN accepted_at timestamptz,
	ADD COLUMN accepted_by name,
	ADD COLUMN accepted_reason text;
COMMENT ON COLUMN @extschema@.schema_migrations.accepted_at IS
	'when accept_schema() took the objects as they were then as this version''s baseline (fingerprint)';

/*
 * The history merge, as in 1.0, carrying the accept_schema() columns too.
 * It fires in replica mode as well (ENABLE ALWAYS): a restore run with
 * session_replication_role = replica still keeps the original history.
 */
CREATE OR REPLACE FUNCTION @extschema@.schema_migrations_merge() RETURNS trigger
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	recorded timestamptz;
BEGIN
	SELECT m.applied_at INTO recorded
	  FROM @extschema@.schema_migrations m
	 WHERE m.version = NEW.version
	   FOR UPDATE;
	IF NOT FOUND THEN
		RETURN NEW;
	END IF;
	IF NEW.applied_at < recorded THEN
		UPDATE @extschema@.schema_migrations m
		   SET description = NEW.description, script = NEW.script,
			   applied_at = NEW.applied_at, applied_by = NEW.applied_by,
			   execution_ms = NEW.execution_ms, fingerprint = NEW.fingerprint,
			   success = NEW.success, accepted_at = NEW.accepted_at,
			   accepted_by = NEW.accepted_by, accepted_reason = NEW.accepted_reason
		 WHERE m.version = NEW.version;
	END IF;
	RETURN NULL;
END
$$;
ALTER TABLE @extschema@.schema_migrations ENABLE ALWAYS TRIGGER schema_migrations_merge;

/*
 * A deliberate change to the extension's objects (a DBA's extra index, a
 * grant to PUBLIC) makes health() report drift until someone accepts it:
 * this records the current fingerprint as the installed version's baseline,
 * with who, when and why, and returns it.
 */
CREATE FUNCTION @extschema@.accept_schema(reason text) RETURNS text
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	installed text;
	fp text := @extschema@.schema_fingerprint();
BEGIN
	IF reason IS NULL OR reason !~ '[^[:space:]]' THEN
		RAISE EXCEPTION 'accept_schema() needs a reason'
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Say what changed, e.g. accept_schema(''extra index on messages(user_id, created_at)'').';
	END IF;
	SELECT e.extversion INTO installed FROM pg_catalog.pg_extension e WHERE e.extname = 'chatgenius';
	UPDATE @extschema@.schema_migrations m
	   SET fingerprint = fp, accepted_at = pg_catalog.now(), accepted_by = session_user,
		   accepted_reason = reason
	 WHERE m.version = installed;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'no schema_migrations row for version %', installed
			USING ERRCODE = 'no_data_found';
	END IF;
	RETURN fp;
END
$$;
COMMENT ON FUNCTION @extschema@.accept_schema(text) IS
	'takes the extension''s objects as they are now as the installed version''s baseline (no more drift), recording who, when and why in schema_migrations';

------------------------------------------------------------------ tunnels

-- tunnel_status is the live state of the helpers that write into this
-- database: a restore (into staging, say) must not bring another
-- database's tunnels with it.  The helpers write their row again at their
-- next heartbeat.  tunnel_events, the log, stays in dumps.
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tunnel_status', 'WHERE false');

-- A "last hour" query over every tunnel and the retention below.
CREATE INDEX tunnel_events_occurred_at_idx ON @extschema@.tunnel_events (occurred_at);

/*
 * Retires a tunnel: removes its tunnel_status row (and, when asked, its
 * events), so that a decommissioned or renamed tunnel stops showing in
 * health() and pool_stats().  Returns whether it had a status row.  A
 * helper still running under that name writes the row again.
 */
CREATE FUNCTION @extschema@.forget_tunnel(tunnel_name text, with_events boolean DEFAULT false)
	RETURNS boolean
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	name_to_forget text := tunnel_name;
BEGIN
	IF with_events THEN
		DELETE FROM @extschema@.tunnel_events e WHERE e.tunnel_name = name_to_forget;
	END IF;
	DELETE FROM @extschema@.tunnel_status s WHERE s.tunnel_name = name_to_forget;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.forget_tunnel(text, boolean) IS
	'retires a tunnel: deletes its tunnel_status row (and its events when with_events); true if it had a row';

/*
 * Event retention: deletes the events that occurred longer ago than keep
 * and returns how many.  Meant for a schedule (pg_cron: see the README).
 */
CREATE FUNCTION @extschema@.prune_tunnel_events(keep interval DEFAULT '30 days')
	RETURNS bigint
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	pruned bigint;
BEGIN
	IF keep IS NULL OR keep < interval '0' THEN
		RAISE EXCEPTION 'keep must be a positive interval, not %', coalesce(keep::text, 'NULL')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	DELETE FROM @extschema@.tunnel_events e WHERE e.occurred_at < pg_catalog.now() - keep;
	GET DIAGNOSTICS pruned = ROW_COUNT;
	RETURN pruned;
END
$$;
COMMENT ON FUNCTION @extschema@.prune_tunnel_events(interval) IS
	'deletes tunnel events that occurred longer ago than keep (default 30 days); returns how many';

/*
 * The helper's status report as one jsonb object whose keys are
 * tunnel_status's column names (plus "heartbeat": false for a report that
 * is not a heartbeat).  Unknown keys are ignored and missing counters are
 * 0, so newer and older helpers call the same function: its signature
 * never changes, and neither do the operator's GRANTs on it.
 */
CREATE FUNCTION @extschema@.report_status_json(report jsonb) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	r @extschema@.tunnel_status;
	beat boolean := coalesce((report ->> 'heartbeat')::boolean, true);
BEGIN
	r := pg_catalog.jsonb_populate_record(NULL::@extschema@.tunnel_status, report);
	INSERT INTO @extschema@.tunnel_status AS s (tunnel_name, state, heartbeat_interval_ms,
		last_heartbeat, retries, reconnects, last_error, pool_size, sessions_open,
		channels_active, channels_total, clients_waiting, bytes_in, bytes_out,
		helper_pid, helper_host, helper_version, started_at, updated_at)
	VALUES (r.tunnel_name, r.state, r.heartbeat_interval_ms,
		CASE WHEN beat THEN pg_catalog.now() END, coalesce(r.retries, 0),
		coalesce(r.reconnects, 0), r.last_error, coalesce(r.pool_size, 0),
		coalesce(r.sessions_open, 0), coalesce(r.channels_active, 0),
		coalesce(r.channels_total, 0), coalesce(r.clients_waiting, 0),
		coalesce(r.bytes_in, 0), coalesce(r.bytes_out, 0), r.helper_pid, r.helper_host,
		r.helper_version, r.started_at, pg_catalog.now())
	ON CONFLICT (tunnel_name) DO UPDATE SET
		state = excluded.state,
		heartbeat_interval_ms = excluded.heartbeat_interval_ms,
		last_heartbeat = CASE WHEN beat THEN pg_catalog.now() ELSE s.last_heartbeat END,
		retries = excluded.retries,
		reconnects = excluded.reconnects,
		last_error = excluded.last_error,
		pool_size = excluded.pool_size,
		sessions_open = excluded.sessions_open,
		channels_active = excluded.channels_active,
		channels_total = excluded.channels_total,
		clients_waiting = excluded.clients_waiting,
		bytes_in = excluded.bytes_in,
		bytes_out = excluded.bytes_out,
		helper_pid = excluded.helper_pid,
		helper_host = excluded.helper_host,
		helper_version = excluded.helper_version,
		started_at = excluded.started_at,
		updated_at = pg_catalog.now();
END
$$;
COMMENT ON FUNCTION @extschema@.report_status_json(jsonb) IS
	'the tunnel helper''s status report (keys: tunnel_status''s columns, "heartbeat"): upserts its tunnel_status row';

-- The 1.0 entry point, kept for helpers older than 1.3: the same report.
CREATE OR REPLACE FUNCTION @extschema@.report_status(p_tunnel_name text, p_state text,
	p_heartbeat_interval_ms integer, p_retries integer, p_reconnects bigint,
	p_last_error text, p_pool_size integer, p_sessions_open integer,
	p_channels_active integer, p_channels_total bigint, p_clients_waiting integer,
	p_bytes_in bigint, p_bytes_out bigint, p_helper_pid integer, p_helper_host text,
	p_helper_version text, p_started_at timestamptz, p_heartbeat boolean DEFAULT true)
	RETURNS void
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
SELECT @extschema@.report_status_json(pg_catalog.jsonb_build_object(
	'tunnel_name', p_tunnel_name, 'state', p_state,
	'heartbeat_interval_ms', p_heartbeat_interval_ms, 'retries', p_retries,
	'reconnects', p_reconnects, 'last_error', p_last_error, 'pool_size', p_pool_size,
	'sessions_open', p_sessions_open, 'channels_active', p_channels_active,
	'channels_total', p_channels_total, 'clients_waiting', p_clients_waiting,
	'bytes_in', p_bytes_in, 'bytes_out', p_bytes_out, 'helper_pid', p_helper_pid,
	'helper_host', p_helper_host, 'helper_version', p_helper_version,
	'started_at', p_started_at, 'heartbeat', p_heartbeat));
$$;

/*
 * One tunnel event as a jsonb object (tunnel_name, event, detail,
 * occurred_at, event_key): inserted once (a replayed spool entry with the
 * same event_key is ignored, returning false), and announced on the channel
 * chatgenius_tunnel.  The announced detail is cut to 1000 characters so that
 * the payload stays under NOTIFY's limit; the row keeps all of it.
 */
CREATE FUNCTION @extschema@.report_event_json(event jsonb) RETURNS boolean
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	e @extschema@.tunnel_events;
	new_id bigint;
BEGIN
	e := pg_catalog.jsonb_populate_record(NULL::@extschema@.tunnel_events, event);
	INSERT INTO @extschema@.tunnel_events (tunnel_name, event, detail, occurred_at, event_key)
	VALUES (e.tunnel_name, e.event, e.detail, e.occurred_at, e.event_key)
	ON CONFLICT (tunnel_name, event_key) DO NOTHING
	RETURNING id INTO new_id;
	IF new_id IS NULL THEN
		RETURN false;
	END IF;
	PERFORM pg_catalog.pg_notify('chatgenius_tunnel', pg_catalog.json_build_object(
		'tunnel', e.tunnel_name, 'event', e.event,
		'detail', pg_catalog.left(e.detail, 1000),
		'occurred_at', pg_catalog.to_char(pg_catalog.timezone('UTC', e.occurred_at),
			'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		'id', new_id)::text);
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.report_event_json(jsonb) IS
	'the tunnel helper''s event log (keys: tunnel_name, event, detail, occurred_at, event_key): inserts once per (tunnel_name, event_key) and notifies chatgenius_tunnel';

-- The 1.0 entry point, kept for helpers older than 1.3: the same event.
CREATE OR REPLACE FUNCTION @extschema@.report_event(p_tunnel_name text, p_event text,
	p_detail text, p_occurred_at timestamptz, p_event_key text)
	RETURNS boolean
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
SELECT @extschema@.report_event_json(pg_catalog.jsonb_build_object(
	'tunnel_name', p_tunnel_name, 'event', p_event, 'detail', p_detail,
	'occurred_at', p_occurred_at, 'event_key', p_event_key));
$$;

COMMENT ON FUNCTION @extschema@.health() IS
	'one row per health check: connections, tunnel, schema, wraparound, multixact, long_transactions, prepared_transactions, replication_slots, locks';

------------------------------------------------------------------ privileges

-- restoring() keeps PUBLIC's EXECUTE, as ulid() does: the triggers' WHEN
-- clauses call it as the role that writes the row.

REVOKE EXECUTE ON FUNCTION @extschema@.accept_schema(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.forget_tunnel(text, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.prune_tunnel_events(interval) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.report_status_json(jsonb) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.report_event_json(jsonb) FROM PUBLIC;

------------------------------------------------------------------ history (last)

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.3', 'backups and concurrency: restores keep every row, locking rules, accept_schema, tunnel retirement and retention, jsonb status write path',
	'chatgenius--1.2--1.3.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
