-- Tunnels: the jsonb write path (a signature that never changes), retiring
-- a tunnel, event retention and the index behind it, and what a dump keeps.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;
SET search_path = chatgenius, public;
-- Errors without DETAIL (it shows the failing row with its timestamps).
\set VERBOSITY terse

-- report_status_json(jsonb): keys are tunnel_status's columns; unknown keys are
-- ignored (a newer helper), missing counters are 0 (an older one).
SELECT report_status_json('{"tunnel_name": "west", "state": "connected", "heartbeat_interval_ms": 1000,
	"pool_size": 4, "sessions_open": 2, "bytes_in": 10, "helper_pid": 7, "from_the_future": 1}');
SELECT tunnel_name, state, pool_size, sessions_open, bytes_in, bytes_out, retries, helper_pid,
	   last_heartbeat IS NOT NULL AS beat
  FROM tunnel_status;
-- A report that is not a heartbeat keeps the last one.
SELECT last_heartbeat AS beat_before FROM tunnel_status WHERE tunnel_name = 'west' \gset
SELECT report_status_json('{"tunnel_name": "west", "state": "reconnecting", "heartbeat_interval_ms": 1000,
	"last_error": "Connection refused", "heartbeat": false}');
SELECT state, last_error, last_heartbeat = :'beat_before' AS beat_kept, pool_size
  FROM tunnel_status WHERE tunnel_name = 'west';
-- Required keys are required.
SELECT report_status_json('{"tunnel_name": "east"}');

-- report_event_json(jsonb): once per event_key, announced on chatgenius_tunnel.
LISTEN chatgenius_tunnel;
\o | sed -E 's/PID [0-9]+/PID N/'
SELECT report_event_json('{"tunnel_name": "west", "event": "connected", "detail": "up",
	"occurred_at": "2025-01-01T00:00:00Z", "event_key": "j1"}') AS first,
	   report_event_json('{"tunnel_name": "west", "event": "connected", "detail": "up",
	"occurred_at": "2025-01-01T00:00:00Z", "event_key": "j1"}') AS replayed;
\o
UNLISTEN chatgenius_tunnel;
SELECT report_event_json('{"tunnel_name": "west", "event": "exploded", "occurred_at": "2025-01-01T00:00:00Z",
	"event_key": "j2"}');

-- Retention: events older than keep go, newer ones stay.
INSERT INTO tunnel_events (tunnel_name, event, occurred_at, event_key)
SELECT 'west', 'reconnecting', now() - i * interval '1 day' + interval '1 hour', 'old' || i
  FROM generate_series(1, 40) AS i;
SELECT prune_tunnel_events(interval '30 days') AS pruned;
SELECT count(*) AS kept, min(occurred_at) >= now() - interval '30 days' AS none_older FROM tunnel_events;
SELECT prune_tunnel_events() AS pruned_again;
SELECT prune_tunnel_events(interval '-1 day');
SELECT prune_tunnel_events(NULL);

-- The index serves the pruning and a "last hour" query across tunnels.
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT * FROM tunnel_events WHERE occurred_at > now() - interval '1 hour';
EXPLAIN (COSTS OFF) DELETE FROM tunnel_events WHERE occurred_at < now() - interval '30 days';
RESET enable_seqscan;

-- Retiring a tunnel: its status row goes (events only when asked).
SELECT report_status_json('{"tunnel_name": "east", "state": "stopped", "heartbeat_interval_ms": 1000}');
SELECT forget_tunnel('east') AS forgotten, forget_tunnel('east') AS again;
SELECT tunnel_name FROM tunnel_status ORDER BY 1;
SELECT count(*) > 0 AS west_events_kept FROM tunnel_events WHERE tunnel_name = 'west';
SELECT forget_tunnel('west', with_events => true) AS forgotten;
SELECT count(*) AS west_events FROM tunnel_events WHERE tunnel_name = 'west';
SELECT split_part(detail, ':', 1) AS tunnel_row FROM chatgenius.health() WHERE check_name = 'tunnel';

-- Dumps: the tunnels' live state stays behind, the event log goes along.
SELECT c.relname, coalesce(e.extcondition[cfg.n], '') AS condition
  FROM pg_extension e, unnest(e.extconfig) WITH ORDINALITY AS cfg(oid, n) JOIN pg_class c ON c.oid = cfg.oid
 WHERE e.extname = 'chatgenius' AND c.relname LIKE 'tunnel%'
 ORDER BY 1;

-- Neither PUBLIC nor pg_monitor may retire, prune or report.
SELECT p.proname, has_function_privilege('public', p.oid, 'EXECUTE') AS public_execute,
	   has_function_privilege('pg_monitor', p.oid, 'EXECUTE') AS monitor_execute
  FROM pg_proc p
 WHERE p.pronamespace = 'chatgenius'::regnamespace
   AND p.proname IN ('forget_tunnel', 'prune_tunnel_events', 'report_status', 'report_event',
	'report_status_json', 'report_event_json')
 ORDER BY p.oid::regprocedure::text;

DROP EXTENSION chatgenius;
