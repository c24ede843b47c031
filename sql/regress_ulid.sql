-- chatgenius.ulid(): format, time part, uniqueness and monotonicity.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius;
RESET client_min_messages;

-- 26 characters of Crockford base32; the first one is at most 7 (128 bits).
SELECT length(u) AS length, u ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$' AS crockford
  FROM chatgenius.ulid() AS u;

-- The first 10 characters are the Unix time in milliseconds: within a
-- minute of the clock.
CREATE FUNCTION pg_temp.ulid_ms(u text) RETURNS bigint LANGUAGE sql IMMUTABLE AS $$
	SELECT sum((strpos('0123456789ABCDEFGHJKMNPQRSTVWXYZ', substr(u, i, 1)) - 1)::numeric
			   * 32::numeric ^ (10 - i))::bigint
	  FROM generate_series(1, 10) AS i
$$;
SELECT abs(pg_temp.ulid_ms(chatgenius.ulid())
		   - (extract(epoch FROM clock_timestamp()) * 1000)::bigint) < 60000 AS time_part_is_now;

-- 20000 ids in one statement (many per millisecond): all distinct, each
-- greater than the one before, time parts never going back.
CREATE TEMP TABLE ids AS
	SELECT n, chatgenius.ulid() AS u FROM generate_series(1, 20000) AS n;
SELECT count(*) AS made, count(DISTINCT u) AS distinct_ids FROM ids;
SELECT count(*) FILTER (WHERE u COLLATE "C" <= prev COLLATE "C") AS out_of_order,
	   count(*) FILTER (WHERE pg_temp.ulid_ms(u) < pg_temp.ulid_ms(prev)) AS time_went_back,
	   count(*) FILTER (WHERE pg_temp.ulid_ms(u) = pg_temp.ulid_ms(prev)) > 0 AS same_ms_seen
  FROM (SELECT u, lag(u) OVER (ORDER BY n) AS prev FROM ids) s
 WHERE prev IS NOT NULL;

-- Within one millisecond the random part counts up by one: the last 16
-- characters of consecutive ids of the same millisecond differ in the
-- last character or carry into the one before.
SELECT count(*) FILTER (WHERE right(u, 1) = right(prev, 1)) AS same_last_char
  FROM (SELECT u, lag(u) OVER (ORDER BY n) AS prev FROM ids) s
 WHERE prev IS NOT NULL AND left(u, 10) = left(prev, 10);

-- Monotonic across statements of the same backend too.
SELECT chatgenius.ulid() COLLATE "C" > (SELECT max(u COLLATE "C") FROM ids) AS after_all;

-- Anyone may call it (column defaults run as the inserting role).
SELECT has_function_privilege('public', 'chatgenius.ulid()', 'EXECUTE') AS public_execute;

DROP EXTENSION chatgenius;
