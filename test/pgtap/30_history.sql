-- Migration history: one row per version up to the installed one, each with
-- its script and a fingerprint; the newest row matches the schema now.
BEGIN;
SELECT plan(8);

SELECT is((SELECT extversion FROM pg_extension WHERE extname = 'chatgenius'), '1.11',
	'the newest version is installed');
SELECT results_eq($$SELECT version, script, success FROM chatgenius.schema_migrations
	ORDER BY string_to_array(version, '.')::int[]$$,
	$$VALUES ('1.0', 'chatgenius--1.0.sql', true), ('1.1', 'chatgenius--1.0--1.1.sql', true),
		('1.2', 'chatgenius--1.1--1.2.sql', true), ('1.3', 'chatgenius--1.2--1.3.sql', true),
		('1.4', 'chatgenius--1.3--1.4.sql', true), ('1.5', 'chatgenius--1.4--1.5.sql', true),
		('1.6', 'chatgenius--1.5--1.6.sql', true), ('1.7', 'chatgenius--1.6--1.7.sql', true),
		('1.8', 'chatgenius--1.7--1.8.sql', true), ('1.9', 'chatgenius--1.8--1.9.sql', true),
		('1.10', 'chatgenius--1.9--1.10.sql', true),
		('1.11', 'chatgenius--1.10--1.11.sql', true)$$,
	'one history row per script');
SELECT is_empty($$SELECT version FROM chatgenius.schema_migrations
	WHERE fingerprint !~ '^[0-9a-f]{64}$' OR fingerprint IS NULL$$, 'every row has a fingerprint');
SELECT is((SELECT fingerprint FROM chatgenius.schema_migrations WHERE version = '1.11'),
	chatgenius.schema_fingerprint(), 'the newest row''s fingerprint is the schema''s now');
SELECT is((SELECT count(DISTINCT fingerprint)::int FROM chatgenius.schema_migrations
	WHERE description <> 'no SQL changes'),
	(SELECT count(*)::int FROM chatgenius.schema_migrations WHERE description <> 'no SQL changes'),
	'each version that changed the schema has its own fingerprint');
SELECT is((SELECT status FROM chatgenius.health() WHERE check_name = 'schema'), 'ok',
	'health() finds the history complete and no drift');

-- A row for a recorded version merges (as pg_restore's COPY does after
-- CREATE EXTENSION): the earlier row wins.
INSERT INTO chatgenius.schema_migrations (version, description, script, applied_at, applied_by, fingerprint)
VALUES ('1.1', 'from the dump', 'chatgenius--1.0--1.1.sql', '2000-01-01 00:00:00+00', 'postgres', 'x');
SELECT results_eq($$SELECT description, applied_at FROM chatgenius.schema_migrations WHERE version = '1.1'$$,
	$$VALUES ('from the dump', '2000-01-01 00:00:00+00'::timestamptz)$$, 'the earlier row replaces');
INSERT INTO chatgenius.schema_migrations (version, description, script, applied_at)
VALUES ('1.1', 'later', 'chatgenius--1.0--1.1.sql', '2100-01-01 00:00:00+00');
SELECT is((SELECT description FROM chatgenius.schema_migrations WHERE version = '1.1'), 'from the dump',
	'a later row is dropped');

SELECT * FROM finish();
ROLLBACK;
