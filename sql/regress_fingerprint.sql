-- chatgenius.schema_fingerprint(): format, stability, sensitivity, and the
-- schema check of health() built on it.
SET client_min_messages = error;	-- no preload WARNING (any server passes)
DROP EXTENSION IF EXISTS chatgenius CASCADE;
CREATE EXTENSION chatgenius VERSION '1.0';
ALTER EXTENSION chatgenius UPDATE;
RESET client_min_messages;

-- Hex SHA-256.
SELECT chatgenius.schema_fingerprint() ~ '^[0-9a-f]{64}$' AS sha256_hex;

-- Each script recorded the fingerprint it left behind; after the updates
-- the newest one is the current one.
SELECT version, fingerprint ~ '^[0-9a-f]{64}$' AS recorded,
	   fingerprint = chatgenius.schema_fingerprint() AS is_current
  FROM chatgenius.schema_migrations ORDER BY string_to_array(version, '.')::int[];
CREATE TEMP TABLE fp AS
	SELECT 'updated'::text AS install, chatgenius.schema_fingerprint() AS fingerprint;

-- The caller's settings do not change it.
SET search_path = chatgenius, public;
SET datestyle = 'SQL, DMY';
SET timezone = 'Pacific/Chatham';
SELECT chatgenius.schema_fingerprint() = (SELECT fingerprint FROM fp) AS same_with_other_settings;
RESET search_path;
RESET datestyle;
RESET timezone;

-- A fresh install of the newest version has the same fingerprint as the
-- updated one.
SET client_min_messages = error;
DROP EXTENSION chatgenius;
CREATE EXTENSION chatgenius;
RESET client_min_messages;
INSERT INTO fp SELECT 'fresh', chatgenius.schema_fingerprint();
SELECT count(DISTINCT fingerprint) AS fingerprints, count(*) AS installs FROM fp;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'schema';

-- Installed (or restored) by a superuser of another name: same fingerprint,
-- no drift (owner and grantor names are not part of it).
CREATE ROLE regress_cg_other_superuser SUPERUSER;
SET ROLE regress_cg_other_superuser;
SET client_min_messages = error;
DROP EXTENSION chatgenius;
CREATE EXTENSION chatgenius;
RESET client_min_messages;
SELECT pg_get_userbyid(relowner) AS owner FROM pg_class WHERE oid = 'chatgenius.messages'::regclass;
SELECT chatgenius.schema_fingerprint() = (SELECT fingerprint FROM fp WHERE install = 'fresh') AS same_for_other_superuser;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'schema';
RESET ROLE;
SET client_min_messages = error;
DROP EXTENSION chatgenius;
CREATE EXTENSION chatgenius;
RESET client_min_messages;
DROP ROLE regress_cg_other_superuser;

-- A deliberate change is accepted as the new baseline, with who, when and
-- why; the drift warning goes away.  A reason is required.
CREATE INDEX messages_user_created_idx ON chatgenius.messages (user_id, created_at);
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'schema';
SELECT chatgenius.accept_schema('  ');
SELECT chatgenius.accept_schema('extra index for the per-user activity page') = chatgenius.schema_fingerprint() AS accepted;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'schema';
SELECT version, accepted_at > now() - interval '1 hour' AS accepted_lately, accepted_by = session_user AS by_me, accepted_reason
  FROM chatgenius.schema_migrations WHERE accepted_at IS NOT NULL;
DROP INDEX chatgenius.messages_user_created_idx;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'schema';
SELECT chatgenius.accept_schema('index dropped again') = (SELECT fingerprint FROM fp WHERE install = 'fresh') AS back_to_fresh;
SELECT has_function_privilege('public', 'chatgenius.accept_schema(text)', 'EXECUTE') AS public_may_accept;

-- A change to a member table changes it (and is seen at once, cached or
-- not); the schema check reports the drift.
ALTER TABLE chatgenius.users ADD COLUMN nickname text;
SELECT chatgenius.schema_fingerprint() <> (SELECT fingerprint FROM fp WHERE install = 'fresh') AS changed;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'schema';
SELECT chatgenius.health_summary();

-- Dropping the column again restores it: dropped columns leave no trace.
ALTER TABLE chatgenius.users DROP COLUMN nickname;
SELECT chatgenius.schema_fingerprint() = (SELECT fingerprint FROM fp WHERE install = 'fresh') AS restored;
SELECT status FROM chatgenius.health() WHERE check_name = 'schema';

-- Indexes, constraints, triggers, defaults, privileges and functions count.
CREATE INDEX users_full_name_idx ON chatgenius.users (full_name);
SELECT chatgenius.schema_fingerprint() <> (SELECT fingerprint FROM fp WHERE install = 'fresh') AS index_counts;
DROP INDEX chatgenius.users_full_name_idx;
ALTER TABLE chatgenius.users ALTER COLUMN full_name SET DEFAULT 'anonymous';
SELECT chatgenius.schema_fingerprint() <> (SELECT fingerprint FROM fp WHERE install = 'fresh') AS default_counts;
ALTER TABLE chatgenius.users ALTER COLUMN full_name DROP DEFAULT;
GRANT SELECT ON chatgenius.users TO pg_monitor;
SELECT chatgenius.schema_fingerprint() <> (SELECT fingerprint FROM fp WHERE install = 'fresh') AS grant_counts;
REVOKE SELECT ON chatgenius.users FROM pg_monitor;
GRANT SELECT ON chatgenius.messages TO PUBLIC;
SELECT chatgenius.schema_fingerprint() <> (SELECT fingerprint FROM fp WHERE install = 'fresh') AS public_grant_counts;
REVOKE SELECT ON chatgenius.messages FROM PUBLIC;
-- The grants an operator gives the app's and the helper's roles are not drift.
CREATE ROLE fingerprint_app;
GRANT USAGE ON SCHEMA chatgenius TO fingerprint_app;
GRANT SELECT, INSERT ON chatgenius.messages TO fingerprint_app;
GRANT EXECUTE ON FUNCTION chatgenius.report_event_json(jsonb) TO fingerprint_app;
SELECT chatgenius.schema_fingerprint() = (SELECT fingerprint FROM fp WHERE install = 'fresh') AS operator_grants_ignored;
REVOKE USAGE ON SCHEMA chatgenius FROM fingerprint_app;
REVOKE SELECT, INSERT ON chatgenius.messages FROM fingerprint_app;
REVOKE EXECUTE ON FUNCTION chatgenius.report_event_json(jsonb) FROM fingerprint_app;
DROP ROLE fingerprint_app;
ALTER FUNCTION chatgenius.health_summary() STABLE;
SELECT chatgenius.schema_fingerprint() <> (SELECT fingerprint FROM fp WHERE install = 'fresh') AS function_counts;
ALTER FUNCTION chatgenius.health_summary() VOLATILE;
SELECT chatgenius.schema_fingerprint() = (SELECT fingerprint FROM fp WHERE install = 'fresh') AS all_undone;

-- A new member counts, and so does leaving the extension.
CREATE FUNCTION chatgenius.scratch() RETURNS int LANGUAGE sql AS 'SELECT 1';
SELECT chatgenius.schema_fingerprint() = (SELECT fingerprint FROM fp WHERE install = 'fresh') AS outsider_ignored;
ALTER EXTENSION chatgenius ADD FUNCTION chatgenius.scratch();
SELECT chatgenius.schema_fingerprint() <> (SELECT fingerprint FROM fp WHERE install = 'fresh') AS member_counts;
ALTER EXTENSION chatgenius DROP FUNCTION chatgenius.scratch();
DROP FUNCTION chatgenius.scratch();
SELECT chatgenius.schema_fingerprint() = (SELECT fingerprint FROM fp WHERE install = 'fresh') AS member_gone;

-- Table data does not count.
INSERT INTO chatgenius.users (auth0_id, email, username, full_name)
VALUES ('auth0|fp', 'fp@example.com', 'fp', 'Finger Print');
SELECT chatgenius.schema_fingerprint() = (SELECT fingerprint FROM fp WHERE install = 'fresh') AS data_ignored;

-- A lost history row or fingerprint is reported as incomplete history.
UPDATE chatgenius.schema_migrations SET fingerprint = NULL WHERE version = '1.11';
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'schema';
DELETE FROM chatgenius.schema_migrations WHERE version = '1.11';
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'schema';

-- An older installed version is told that an update is available.
SET client_min_messages = error;
DROP EXTENSION chatgenius;
CREATE EXTENSION chatgenius VERSION '1.1';
RESET client_min_messages;
SELECT status, detail FROM chatgenius.health() WHERE check_name = 'schema';

-- Not for everyone.
SELECT has_function_privilege('public', 'chatgenius.schema_fingerprint()', 'EXECUTE') AS public_execute,
	   has_function_privilege('pg_monitor', 'chatgenius.schema_fingerprint()', 'EXECUTE') AS monitor_execute;

DROP EXTENSION chatgenius;
