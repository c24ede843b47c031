/* chatgenius 1.4 -> 1.5: a tunnel that follows a primary and its standbys.
 *
 * chatgenius-tunnel may now be given several database hosts (a Patroni
 * cluster, or a plain streaming pair) and routes each client to the current
 * primary, or to a standby on its read-only port.  Its new events
 * (primary_changed, standby_down, standby_lagging, split_brain) become rows
 * and NOTIFYs like the others, and tunnel_routes shows, per tunnel, which
 * host each listener routes to right now. */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION chatgenius UPDATE TO '1.5'" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

ALTER TABLE @extschema@.tunnel_events DROP CONSTRAINT tunnel_events_event_check;
ALTER TABLE @extschema@.tunnel_events ADD CONSTRAINT tunnel_events_event_check
	CHECK (event IN ('connected', 'disconnected', 'reconnecting', 'reconnected',
		'health_check_failed', 'pool_full', 'maxRetriesExceeded', 'stopped', 'events_dropped',
		'primary_changed', 'standby_down', 'standby_lagging', 'split_brain'));

/*
 * Where each listener of a tunnel sends new clients right now, as its
 * helper last reported (with every heartbeat while it follows several
 * hosts): the primary's host:port (NULL while none is known, clients then
 * wait) and the standbys its read-only port spreads sessions over.
 */
CREATE TABLE @extschema@.tunnel_routes (
	tunnel_name text NOT NULL,
	primary_host text,
	standby_hosts text[] NOT NULL DEFAULT '{}',
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT tunnel_routes_pkey PRIMARY KEY (tunnel_name)
);
COMMENT ON TABLE @extschema@.tunnel_routes IS
	'per tunnel: the host its primary port routes to (NULL: none known) and the standbys of its read-only port, as last reported';
GRANT SELECT ON @extschema@.tunnel_routes TO pg_monitor;

CREATE FUNCTION @extschema@.report_routes(p_tunnel_name text, p_primary_host text,
	p_standby_hosts text[]) RETURNS void
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
	INSERT INTO @extschema@.tunnel_routes AS r (tunnel_name, primary_host, standby_hosts, updated_at)
	VALUES (p_tunnel_name, p_primary_host, coalesce(p_standby_hosts, '{}'), pg_catalog.now())
	ON CONFLICT (tunnel_name) DO UPDATE SET
		primary_host = excluded.primary_host,
		standby_hosts = excluded.standby_hosts,
		updated_at = excluded.updated_at;
$$;
COMMENT ON FUNCTION @extschema@.report_routes(text, text, text[]) IS
	'the tunnel helper''s routing: upserts its tunnel_routes row';
REVOKE EXECUTE ON FUNCTION @extschema@.report_routes(text, text, text[]) FROM PUBLIC;

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.5', 'tunnel routes and events for a primary with standbys', 'chatgenius--1.4--1.5.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
