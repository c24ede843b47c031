/* chatgenius 1.7 -> 1.8: trust boundaries (issue 14).
 *  - a tunnel's status row and events are written only by the role that
 *    made the row (tunnel_status.written_by); a superuser hands it over
 *    (hand_over_tunnel());
 *  - absurd reports are refused: a heartbeat interval outside 100 ms ..
 *    24 h, an event that occurred more than 5 minutes in the future;
 *  - the chatgenius_tunnel notification carries no detail text: LISTEN has
 *    no access control, so a listener learns what happened to which tunnel
 *    and reads the detail from tunnel_events if it may;
 *  - restoring() is true for check_function_bodies = off only in a
 *    superuser's session (the library's change; its comment here);
 *  - the update refuses an extension schema that a non-superuser owns.
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.8'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

/*
 * The update runs with a superuser's rights in the extension's schema, as
 * the install did: refuse one that a role other than a superuser (or the
 * updating role) has come to own (an install from before the install
 * script checked it, into a schema the database owner had made).
 */
DO $check_schema$
DECLARE
	schema_owner name;
BEGIN
	SELECT r.rolname INTO schema_owner
	  FROM pg_catalog.pg_namespace n
	  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
	 WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	   AND NOT r.rolsuper AND r.rolname OPERATOR(pg_catalog.<>) CURRENT_USER;
	IF FOUND THEN
		RAISE EXCEPTION 'schema "%" is owned by role "%"', '@extschema@', schema_owner
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = 'The extension''s scripts run with a superuser''s rights in that schema, so only a superuser may own it.',
				HINT = 'Check what it holds, make a superuser its owner (ALTER SCHEMA @extschema@ OWNER TO a superuser), then update.';
	END IF;
END
$check_schema$;

COMMENT ON FUNCTION @extschema@.restoring() IS
	'true while this session loads a dump (session_replication_role = replica, or check_function_bodies off, as pg_dump''s output sets it, in a superuser''s session): the rule and NOTIFY triggers then stand aside';

------------------------------------------------------------------ who writes a tunnel

/*
 * The role whose session made the row (session_user: the write functions
 * are SECURITY DEFINER, so current_user inside them is their owner).  Rows
 * from before 1.8 have none: the next report claims them.
 */
ALTER TABLE @extschema@.tunnel_status ADD COLUMN written_by name;
COMMENT ON COLUMN @extschema@.tunnel_status.written_by IS
	'the role that writes this tunnel''s row and events (the one that made the row); a superuser hands it over with hand_over_tunnel()';

/*
 * Whether the session may write tunnel_name's row and events: yes for a
 * superuser, for the row's writer, and for a name with no row or a row
 * without a writer; else an error that names the writer.  Locks the row
 * (FOR UPDATE), so that two claims of an unclaimed row do not both win.
 */
CREATE FUNCTION @extschema@.tunnel_writer_check(p_tunnel_name text) RETURNS void
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	writer name;
BEGIN
	SELECT s.written_by INTO writer
	  FROM @extschema@.tunnel_status s
	 WHERE s.tunnel_name OPERATOR(pg_catalog.=) p_tunnel_name
	   FOR UPDATE;
	IF writer IS NULL OR writer OPERATOR(pg_catalog.=) SESSION_USER
		OR (SELECT r.rolsuper FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) SESSION_USER) THEN
		RETURN;
	END IF;
	RAISE EXCEPTION 'tunnel "%" is written by role "%"', p_tunnel_name, writer
		USING ERRCODE = 'insufficient_privilege',
			DETAIL = pg_catalog.format('Role "%s" may not write its status or events.', SESSION_USER),
			HINT = pg_catalog.format('Give each helper a TUNNEL_NAME of its own, or have a superuser hand the tunnel over: SELECT @extschema@.hand_over_tunnel(%L, %L);',
				p_tunnel_name, SESSION_USER);
END
$$;
COMMENT ON FUNCTION @extschema@.tunnel_writer_check(text) IS
	'raises insufficient_privilege unless this session may write the tunnel''s status and events (its writer, a superuser, or no writer yet)';

/*
 * Hands a tunnel over to another role (a helper that now logs in as a new
 * role, say).  EXECUTE is revoked from PUBLIC, and the UPDATE needs the
 * table's owner: a superuser's.  Returns whether the tunnel had a row.
 */
CREATE FUNCTION @extschema@.hand_over_tunnel(tunnel_name text, to_role name) RETURNS boolean
	LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	name_to_hand text := tunnel_name;
BEGIN
	IF to_role IS NULL OR NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) to_role) THEN
		RAISE EXCEPTION 'role "%" does not exist', to_role
			USING ERRCODE = 'undefined_object';
	END IF;
	UPDATE @extschema@.tunnel_status s SET written_by = to_role
	 WHERE s.tunnel_name OPERATOR(pg_catalog.=) name_to_hand;
	RETURN FOUND;
END
$$;
COMMENT ON FUNCTION @extschema@.hand_over_tunnel(text, name) IS
	'makes to_role the only non-superuser that may write the tunnel''s status and events; true if it had a row';

------------------------------------------------------------------ the write path

/*
 * The routes of a multi-host tunnel (1.5) are part of its status: written
 * only by the tunnel's writer or a superuser, like its row and events.
 */
CREATE OR REPLACE FUNCTION @extschema@.report_routes(p_tunnel_name text, p_primary_host text,
	p_standby_hosts text[]) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
BEGIN
	PERFORM @extschema@.tunnel_writer_check(p_tunnel_name);
	INSERT INTO @extschema@.tunnel_routes AS r (tunnel_name, primary_host, standby_hosts, updated_at)
	VALUES (p_tunnel_name, p_primary_host, coalesce(p_standby_hosts, '{}'), pg_catalog.now())
	ON CONFLICT (tunnel_name) DO UPDATE SET
		primary_host = excluded.primary_host,
		standby_hosts = excluded.standby_hosts,
		updated_at = excluded.updated_at;
END
$$;

/*
 * The helper's status report, as in 1.3, and now: only the row's writer
 * (or a superuser) reports, and the heartbeat interval is one the helper
 * accepts (SSH_HEALTH_CHECK_INTERVAL: 100 ms .. 24 h): a huge one would
 * make a stale tunnel look fresh in health().
 */
CREATE OR REPLACE FUNCTION @extschema@.report_status_json(report jsonb) RETURNS void
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	r @extschema@.tunnel_status;
	beat boolean := coalesce((report OPERATOR(pg_catalog.->>) 'heartbeat')::boolean, true);
BEGIN
	r := pg_catalog.jsonb_populate_record(NULL::@extschema@.tunnel_status, report);
	IF r.heartbeat_interval_ms IS NOT NULL
		AND (r.heartbeat_interval_ms OPERATOR(pg_catalog.<) 100
			OR r.heartbeat_interval_ms OPERATOR(pg_catalog.>) 86400000) THEN
		RAISE EXCEPTION 'heartbeat_interval_ms must be between 100 and 86400000, not %', r.heartbeat_interval_ms
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = pg_catalog.format('Tunnel "%s".', r.tunnel_name),
				HINT = 'It is the helper''s SSH_HEALTH_CHECK_INTERVAL, in milliseconds (100 ms to 24 h).';
	END IF;
	PERFORM @extschema@.tunnel_writer_check(r.tunnel_name);
	INSERT INTO @extschema@.tunnel_status AS s (tunnel_name, state, heartbeat_interval_ms,
		last_heartbeat, retries, reconnects, last_error, pool_size, sessions_open,
		channels_active, channels_total, clients_waiting, bytes_in, bytes_out,
		helper_pid, helper_host, helper_version, started_at, updated_at, written_by)
	VALUES (r.tunnel_name, r.state, r.heartbeat_interval_ms,
		CASE WHEN beat THEN pg_catalog.now() END, coalesce(r.retries, 0),
		coalesce(r.reconnects, 0), r.last_error, coalesce(r.pool_size, 0),
		coalesce(r.sessions_open, 0), coalesce(r.channels_active, 0),
		coalesce(r.channels_total, 0), coalesce(r.clients_waiting, 0),
		coalesce(r.bytes_in, 0), coalesce(r.bytes_out, 0), r.helper_pid, r.helper_host,
		r.helper_version, r.started_at, pg_catalog.now(), SESSION_USER)
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
		updated_at = pg_catalog.now(),
		written_by = coalesce(s.written_by, excluded.written_by)
	-- the check above found no row, but another session may have made one
	-- since: its writer's row is not ours to update
	WHERE s.written_by IS NULL OR s.written_by OPERATOR(pg_catalog.=) excluded.written_by
		OR (SELECT u.rolsuper FROM pg_catalog.pg_roles u WHERE u.rolname OPERATOR(pg_catalog.=) SESSION_USER);
	IF NOT FOUND THEN
		PERFORM @extschema@.tunnel_writer_check(r.tunnel_name);
	END IF;
END
$$;

/*
 * One tunnel event, as in 1.3, and now: only the tunnel's writer (or a
 * superuser) adds to its log, an event may not claim to have occurred more
 * than 5 minutes ahead of the server's clock (such rows would also outlive
 * prune_tunnel_events()), and the notification carries no detail text.
 */
CREATE OR REPLACE FUNCTION @extschema@.report_event_json(event jsonb) RETURNS boolean
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	e @extschema@.tunnel_events;
	new_id bigint;
BEGIN
	e := pg_catalog.jsonb_populate_record(NULL::@extschema@.tunnel_events, event);
	IF e.occurred_at OPERATOR(pg_catalog.>) (pg_catalog.now() OPERATOR(pg_catalog.+) interval '5 minutes') THEN
		RAISE EXCEPTION 'occurred_at % is in the future', e.occurred_at
			USING ERRCODE = 'invalid_parameter_value',
				DETAIL = pg_catalog.format('Tunnel "%s", event %s; the server''s time is %s.',
					e.tunnel_name, e.event, pg_catalog.now()),
				HINT = 'Check the clock of the helper''s host (5 minutes ahead are allowed).';
	END IF;
	PERFORM @extschema@.tunnel_writer_check(e.tunnel_name);
	INSERT INTO @extschema@.tunnel_events (tunnel_name, event, detail, occurred_at, event_key)
	VALUES (e.tunnel_name, e.event, e.detail, e.occurred_at, e.event_key)
	ON CONFLICT (tunnel_name, event_key) DO NOTHING
	RETURNING id INTO new_id;
	IF new_id IS NULL THEN
		RETURN false;
	END IF;
	PERFORM pg_catalog.pg_notify('chatgenius_tunnel', pg_catalog.json_build_object(
		'tunnel', e.tunnel_name, 'event', e.event,
		'occurred_at', pg_catalog.to_char(pg_catalog.timezone('UTC', e.occurred_at),
			'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		'id', new_id)::text);
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.report_event_json(jsonb) IS
	'the tunnel helper''s event log (keys: tunnel_name, event, detail, occurred_at, event_key): inserts once per (tunnel_name, event_key) and notifies chatgenius_tunnel (without the detail)';

------------------------------------------------------------------ privileges

REVOKE EXECUTE ON FUNCTION @extschema@.tunnel_writer_check(text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.hand_over_tunnel(text, name) FROM PUBLIC;

------------------------------------------------------------------ history (last)

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.8', 'trust boundaries: a tunnel''s rows belong to their writer, absurd reports refused, no detail in the tunnel notification',
	'chatgenius--1.7--1.8.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
