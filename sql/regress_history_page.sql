-- A channel's history page (latest live top-level messages, keyset
-- pagination on (created_at, id)) and a thread's replies: the plans use the
-- indexes made for them, and walking the pages returns every message once,
-- in order.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;
SET search_path = chatgenius, public;

INSERT INTO users (id, auth0_id, email, username, full_name) VALUES
	('01A00000000000000000000001', 'auth0|alice', 'alice@example.com', 'alice', 'Alice A'),
	('01A00000000000000000000002', 'auth0|bob', 'bob@example.com', 'bob', 'Bob B');
INSERT INTO channels (id, name, type, created_by)
SELECT '01C' || lpad(c::text, 23, '0'), 'channel-' || c, 'public', '01A00000000000000000000001'
  FROM generate_series(1, 3) AS c;

-- 3 channels x 3000 top-level messages, two per second (ties on created_at
-- are broken by id); every 7th deleted.  Then 1500 replies in channel 1.
INSERT INTO messages (id, channel_id, user_id, content, created_at, deleted_at)
SELECT '01H' || lpad((c * 100000 + i)::text, 23, '0'),
	'01C' || lpad(c::text, 23, '0'),
	'01A0000000000000000000000' || (1 + i % 2),
	'message ' || i,
	'2025-01-01 00:00:00+00'::timestamptz + (i / 2) * interval '1 second',
	CASE WHEN i % 7 = 0 THEN '2025-02-01 00:00:00+00'::timestamptz END
  FROM generate_series(1, 3) AS c, generate_series(1, 3000) AS i;
INSERT INTO messages (id, channel_id, user_id, content, thread_id, created_at)
SELECT '01J' || lpad(i::text, 23, '0'),
	'01C00000000000000000000001',
	'01A00000000000000000000002',
	'reply ' || i,
	'01H' || lpad((100000 + 3000 - (i % 5))::text, 23, '0'),
	'2025-01-01 01:00:00+00'::timestamptz + i * interval '1 second'
  FROM generate_series(1, 1500) AS i;
ANALYZE users, channels, messages;

-- The newest page.
SELECT id, content, created_at
  FROM messages
 WHERE channel_id = '01C00000000000000000000001' AND thread_id IS NULL AND deleted_at IS NULL
 ORDER BY created_at DESC, id DESC
 LIMIT 5;
EXPLAIN (COSTS OFF)
SELECT id, content, created_at
  FROM messages
 WHERE channel_id = '01C00000000000000000000001' AND thread_id IS NULL AND deleted_at IS NULL
 ORDER BY created_at DESC, id DESC
 LIMIT 50;

-- The page before the last one shown, keyset on (created_at, id).
SELECT id, content, created_at
  FROM messages
 WHERE channel_id = '01C00000000000000000000001' AND thread_id IS NULL AND deleted_at IS NULL
   AND (created_at, id) < ('2025-01-01 00:24:58+00', '01H00000000000000000102997')
 ORDER BY created_at DESC, id DESC
 LIMIT 5;
EXPLAIN (COSTS OFF)
SELECT id, content, created_at
  FROM messages
 WHERE channel_id = '01C00000000000000000000001' AND thread_id IS NULL AND deleted_at IS NULL
   AND (created_at, id) < ('2025-01-01 00:24:58+00', '01H00000000000000000102997')
 ORDER BY created_at DESC, id DESC
 LIMIT 50;

-- A thread's replies, oldest first.
SELECT count(*) AS replies
  FROM messages
 WHERE thread_id = '01H00000000000000000103000' AND deleted_at IS NULL;
EXPLAIN (COSTS OFF)
SELECT id, content, created_at
  FROM messages
 WHERE thread_id = '01H00000000000000000103000' AND deleted_at IS NULL
 ORDER BY created_at, id
 LIMIT 50;

-- Walking every page of 50 returns exactly the channel's live top-level
-- messages, newest first, each once.
CREATE FUNCTION pg_temp.walk_pages(p_channel text, p_size integer,
	OUT pages integer, OUT rows_seen integer, OUT same_as_full_scan boolean)
LANGUAGE plpgsql AS
$$
DECLARE
	walked text[] := '{}';
	page text[];
	last_at timestamptz := 'infinity';
	last_id text := '';
	expected text[];
BEGIN
	pages := 0;
	LOOP
		SELECT array_agg(m.id ORDER BY m.created_at DESC, m.id DESC)
		  INTO page
		  FROM (SELECT id, created_at
				  FROM chatgenius.messages
				 WHERE channel_id = p_channel AND thread_id IS NULL AND deleted_at IS NULL
				   AND (created_at, id) < (last_at, last_id)
				 ORDER BY created_at DESC, id DESC
				 LIMIT p_size) m;
		EXIT WHEN page IS NULL;
		pages := pages + 1;
		walked := walked || page;
		SELECT created_at, id INTO last_at, last_id
		  FROM chatgenius.messages WHERE id = page[array_upper(page, 1)];
	END LOOP;
	SET LOCAL enable_indexscan = off;
	SET LOCAL enable_bitmapscan = off;
	SELECT array_agg(id ORDER BY created_at DESC, id DESC) INTO expected
	  FROM chatgenius.messages
	 WHERE channel_id = p_channel AND thread_id IS NULL AND deleted_at IS NULL;
	rows_seen := cardinality(walked);
	same_as_full_scan := walked = expected;
END
$$;
SELECT * FROM pg_temp.walk_pages('01C00000000000000000000001', 50);
SELECT * FROM pg_temp.walk_pages('01C00000000000000000000002', 7);
