/* chatgenius 1.0: the ChatGenius chat schema, its migration history, the
 * tunnel status tables and the functions the tunnel helper writes through. */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION chatgenius" to load this file. \quit

-- Names in this script resolve in pg_catalog and never in a schema that
-- another role can write into: PostgreSQL's "Security Considerations for
-- Extension Scripts" (see Security in README.md).  SET LOCAL: CREATE and
-- ALTER EXTENSION restore the caller's search_path after the script.
SET LOCAL search_path = pg_catalog, pg_temp;

/*
 * Never trust a schema this script did not make.  The control file names
 * schema = chatgenius, and CREATE EXTENSION takes a schema of that name that
 * already exists.  Whoever owns it, or owns an object in it, could have left
 * operators and functions there for this script, run with a superuser's
 * rights, to pick up.  So the schema must be one that CREATE EXTENSION made
 * now, or one that a superuser made (pg_restore does), holding nothing of
 * anyone else's.  (pg_cron makes its schema inside its script for the same
 * reason; this extension's name for its schema is older than this check.)
 */
DO $check_schema$
DECLARE
	schema_owner name;
	object_owner name;
BEGIN
	SELECT r.rolname INTO schema_owner
	  FROM pg_catalog.pg_namespace n
	  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner
	 WHERE n.oid OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
	   AND NOT r.rolsuper AND r.rolname OPERATOR(pg_catalog.<>) CURRENT_USER;
	IF FOUND THEN
		RAISE EXCEPTION 'schema "%" already exists and is owned by role "%"', '@extschema@', schema_owner
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = 'The extension''s scripts run with a superuser''s rights in that schema, so only a superuser may own it.',
				HINT = 'Drop it first (DROP SCHEMA @extschema@ CASCADE, after saving what it holds), or check what it holds and make a superuser its owner (ALTER SCHEMA @extschema@ OWNER TO a superuser).';
	END IF;

	SELECT r.rolname INTO object_owner
	  FROM (SELECT relowner FROM pg_catalog.pg_class WHERE relnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
			UNION ALL SELECT proowner FROM pg_catalog.pg_proc WHERE pronamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
			UNION ALL SELECT oprowner FROM pg_catalog.pg_operator WHERE oprnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
			UNION ALL SELECT typowner FROM pg_catalog.pg_type WHERE typnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
			UNION ALL SELECT collowner FROM pg_catalog.pg_collation WHERE collnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
			UNION ALL SELECT conowner FROM pg_catalog.pg_conversion WHERE connamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
			UNION ALL SELECT opcowner FROM pg_catalog.pg_opclass WHERE opcnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
			UNION ALL SELECT opfowner FROM pg_catalog.pg_opfamily WHERE opfnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
			UNION ALL SELECT stxowner FROM pg_catalog.pg_statistic_ext WHERE stxnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
			UNION ALL SELECT cfgowner FROM pg_catalog.pg_ts_config WHERE cfgnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace
			UNION ALL SELECT dictowner FROM pg_catalog.pg_ts_dict WHERE dictnamespace OPERATOR(pg_catalog.=) '@extschema@'::pg_catalog.regnamespace) o(owner)
	  JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) o.owner
	 WHERE NOT r.rolsuper AND r.rolname OPERATOR(pg_catalog.<>) CURRENT_USER
	 LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'schema "%" already holds objects owned by role "%"', '@extschema@', object_owner
			USING ERRCODE = 'insufficient_privilege',
				DETAIL = 'The extension''s scripts run with a superuser''s rights in that schema, so it may hold nothing of a role that is not a superuser.',
				HINT = 'Drop it first (DROP SCHEMA @extschema@ CASCADE, after saving what it holds), then retry.';
	END IF;
END
$check_schema$;

-- Start of this script, for schema_migrations.execution_ms.
SELECT pg_catalog.set_config('chatgenius_migration.started_at',
	pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())::text, true);

------------------------------------------------------------------ C functions

CREATE FUNCTION @extschema@.ulid() RETURNS text
	AS 'MODULE_PATHNAME', 'chatgenius_ulid' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.ulid() IS
	'a new 26-character ULID (Crockford base32, millisecond time + 80 random bits), monotonic within a backend';

CREATE FUNCTION @extschema@.schema_fingerprint() RETURNS text
	AS 'MODULE_PATHNAME', 'chatgenius_schema_fingerprint' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION @extschema@.schema_fingerprint() IS
	'hex SHA-256 over a description of every object of the extension (not table data)';

CREATE FUNCTION @extschema@.health(OUT check_name text, OUT status text, OUT detail text)
	RETURNS SETOF record AS 'MODULE_PATHNAME', 'chatgenius_health' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.health() IS
	'one row per health check: connections, tunnel, schema, wraparound, long_transactions, locks';

CREATE FUNCTION @extschema@.health_summary() RETURNS text
	AS 'MODULE_PATHNAME', 'chatgenius_health_summary' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.health_summary() IS
	'the worst status over health(): ok, warn or critical';

CREATE FUNCTION @extschema@.pool_stats(
	OUT tunnel_name text, OUT state text, OUT pool_size integer, OUT sessions_open integer,
	OUT channels_active integer, OUT channels_total bigint, OUT clients_waiting integer,
	OUT bytes_in bigint, OUT bytes_out bigint, OUT reconnects bigint,
	OUT last_heartbeat timestamptz, OUT heartbeat_age interval,
	OUT backends_total integer, OUT backends_active integer, OUT backends_idle integer,
	OUT backends_idle_in_transaction integer)
	RETURNS SETOF record AS 'MODULE_PATHNAME', 'chatgenius_pool_stats' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION @extschema@.pool_stats() IS
	'one row per tunnel: its pool figures, heartbeat age and the server''s view of backends';

------------------------------------------------------------------ trigger functions

-- Keeps updated_at current on every UPDATE (BEFORE UPDATE, FOR EACH ROW).
CREATE FUNCTION @extschema@.set_updated_at() RETURNS trigger
	LANGUAGE plpgsql AS
$$
BEGIN
	NEW.updated_at := pg_catalog.now();
	RETURN NEW;
END
$$;

/*
 * Threads are one level deep, as in Slack: a reply (thread_id set) points at
 * a top-level message of the same channel.  Refuses a reply in another
 * channel, a reply to a reply, a message replying to itself, a message with
 * replies becoming a reply, and a message moving to another channel.  A
 * parent that is not found is left to the foreign key (which also lets
 * pg_restore load replies before their parents in the same COPY).
 */
CREATE FUNCTION @extschema@.messages_check_thread() RETURNS trigger
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
	 WHERE m.id = NEW.thread_id;
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

-- NOTIFY message_change: ids only, never the content (NOTIFY's payload limit
-- is 8000 bytes; a message may be far larger).
CREATE FUNCTION @extschema@.notify_message_change() RETURNS trigger
	LANGUAGE plpgsql AS
$$
DECLARE
	r record;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
	ELSE
		r := NEW;
	END IF;
	PERFORM pg_catalog.pg_notify('message_change', pg_catalog.json_build_object(
		'operation', TG_OP, 'table', TG_TABLE_NAME, 'id', r.id,
		'channel_id', r.channel_id, 'thread_id', r.thread_id, 'user_id', r.user_id,
		'deleted', r.deleted_at IS NOT NULL)::text);
	RETURN NULL;
END
$$;

-- NOTIFY reaction_change: the reaction's ids and its emoji.
CREATE FUNCTION @extschema@.notify_reaction_change() RETURNS trigger
	LANGUAGE plpgsql AS
$$
DECLARE
	r record;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
	ELSE
		r := NEW;
	END IF;
	PERFORM pg_catalog.pg_notify('reaction_change', pg_catalog.json_build_object(
		'operation', TG_OP, 'table', TG_TABLE_NAME, 'id', r.id,
		'message_id', r.message_id, 'user_id', r.user_id, 'emoji', r.emoji)::text);
	RETURN NULL;
END
$$;

-- NOTIFY channel_member_change: who joined, changed role or left which channel.
CREATE FUNCTION @extschema@.notify_channel_member_change() RETURNS trigger
	LANGUAGE plpgsql AS
$$
DECLARE
	r record;
BEGIN
	IF TG_OP = 'DELETE' THEN
		r := OLD;
	ELSE
		r := NEW;
	END IF;
	PERFORM pg_catalog.pg_notify('channel_member_change', pg_catalog.json_build_object(
		'operation', TG_OP, 'table', TG_TABLE_NAME, 'id', r.id,
		'channel_id', r.channel_id, 'user_id', r.user_id, 'role', r.role,
		'deleted', r.deleted_at IS NOT NULL)::text);
	RETURN NULL;
END
$$;

-- NOTIFY user_status_change: the user and the new presence.
CREATE FUNCTION @extschema@.notify_user_status_change() RETURNS trigger
	LANGUAGE plpgsql AS
$$
BEGIN
	PERFORM pg_catalog.pg_notify('user_status_change', pg_catalog.json_build_object(
		'operation', TG_OP, 'table', TG_TABLE_NAME, 'id', NEW.id,
		'user_id', NEW.user_id, 'presence', NEW.presence)::text);
	RETURN NULL;
END
$$;

------------------------------------------------------------------ chat tables

CREATE TABLE @extschema@.users (
	id varchar(26) NOT NULL DEFAULT @extschema@.ulid(),
	auth0_id varchar(128) NOT NULL,
	email varchar(255) NOT NULL,
	username varchar(50) NOT NULL,
	full_name varchar(100) NOT NULL,
	avatar_url text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz,
	CONSTRAINT users_pkey PRIMARY KEY (id),
	CONSTRAINT users_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
	CONSTRAINT users_auth0_id_key UNIQUE (auth0_id),
	CONSTRAINT users_email_key UNIQUE (email),
	CONSTRAINT users_username_not_blank CHECK (username ~ '[^[:space:]]')
);
CREATE INDEX users_username_idx ON @extschema@.users (username);
COMMENT ON TABLE @extschema@.users IS 'ChatGenius users (Auth0 identities); soft-deleted by deleted_at';

CREATE TABLE @extschema@.channels (
	id varchar(26) NOT NULL DEFAULT @extschema@.ulid(),
	name varchar(80) NOT NULL,
	topic text,
	type varchar(20) NOT NULL DEFAULT 'public',
	created_by varchar(26) NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz,
	CONSTRAINT channels_pkey PRIMARY KEY (id),
	CONSTRAINT channels_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
	CONSTRAINT channels_name_not_blank CHECK (name ~ '[^[:space:]]'),
	CONSTRAINT channels_type_check CHECK (type IN ('public', 'private', 'dm')),
	CONSTRAINT channels_created_by_fkey FOREIGN KEY (created_by)
		REFERENCES @extschema@.users (id) ON DELETE RESTRICT
);
CREATE INDEX channels_name_idx ON @extschema@.channels (name);
CREATE INDEX channels_type_idx ON @extschema@.channels (type);
CREATE INDEX channels_created_by_idx ON @extschema@.channels (created_by);
COMMENT ON TABLE @extschema@.channels IS 'channels: public, private or dm; soft-deleted by deleted_at';

CREATE TABLE @extschema@.messages (
	id varchar(26) NOT NULL DEFAULT @extschema@.ulid(),
	channel_id varchar(26) NOT NULL,
	user_id varchar(26) NOT NULL,
	content text NOT NULL,
	thread_id varchar(26),
	edited boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz,
	CONSTRAINT messages_pkey PRIMARY KEY (id),
	CONSTRAINT messages_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
	CONSTRAINT messages_content_not_blank CHECK (content ~ '[^[:space:]]'),
	CONSTRAINT messages_channel_id_fkey FOREIGN KEY (channel_id)
		REFERENCES @extschema@.channels (id) ON DELETE CASCADE,
	CONSTRAINT messages_user_id_fkey FOREIGN KEY (user_id)
		REFERENCES @extschema@.users (id) ON DELETE RESTRICT,
	CONSTRAINT messages_thread_id_fkey FOREIGN KEY (thread_id)
		REFERENCES @extschema@.messages (id) ON DELETE CASCADE
);
-- The foreign keys (cascades scan every row, live or not).
CREATE INDEX messages_channel_id_idx ON @extschema@.messages (channel_id);
CREATE INDEX messages_user_id_idx ON @extschema@.messages (user_id);
-- A thread's replies in order; also the foreign key index of thread_id.
CREATE INDEX messages_thread_idx ON @extschema@.messages (thread_id, created_at, id);
-- A channel's history page: the latest live top-level messages, keyset
-- pagination on (created_at, id):
--   WHERE channel_id = $1 AND thread_id IS NULL AND deleted_at IS NULL
--     AND (created_at, id) < ($2, $3) ORDER BY created_at DESC, id DESC LIMIT $4
CREATE INDEX messages_channel_history_idx ON @extschema@.messages (channel_id, created_at, id)
	WHERE thread_id IS NULL AND deleted_at IS NULL;
COMMENT ON TABLE @extschema@.messages IS
	'messages; a reply has thread_id = the top-level message it answers (one level deep); soft-deleted by deleted_at';

CREATE TABLE @extschema@.reactions (
	id varchar(26) NOT NULL DEFAULT @extschema@.ulid(),
	message_id varchar(26) NOT NULL,
	user_id varchar(26) NOT NULL,
	emoji varchar(32) NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT reactions_pkey PRIMARY KEY (id),
	CONSTRAINT reactions_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
	CONSTRAINT reactions_emoji_not_blank CHECK (emoji ~ '[^[:space:]]'),
	CONSTRAINT reactions_message_user_emoji_key UNIQUE (message_id, user_id, emoji),
	CONSTRAINT reactions_message_id_fkey FOREIGN KEY (message_id)
		REFERENCES @extschema@.messages (id) ON DELETE CASCADE,
	CONSTRAINT reactions_user_id_fkey FOREIGN KEY (user_id)
		REFERENCES @extschema@.users (id) ON DELETE CASCADE
);
CREATE INDEX reactions_user_id_idx ON @extschema@.reactions (user_id);
COMMENT ON TABLE @extschema@.reactions IS 'emoji reactions, at most one per message, user and emoji';

CREATE TABLE @extschema@.channel_members (
	id varchar(26) NOT NULL DEFAULT @extschema@.ulid(),
	channel_id varchar(26) NOT NULL,
	user_id varchar(26) NOT NULL,
	role varchar(20) NOT NULL DEFAULT 'member',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz,
	CONSTRAINT channel_members_pkey PRIMARY KEY (id),
	CONSTRAINT channel_members_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
	CONSTRAINT channel_members_role_check CHECK (role IN ('owner', 'admin', 'member')),
	CONSTRAINT channel_members_channel_user_key UNIQUE (channel_id, user_id),
	CONSTRAINT channel_members_channel_id_fkey FOREIGN KEY (channel_id)
		REFERENCES @extschema@.channels (id) ON DELETE CASCADE,
	CONSTRAINT channel_members_user_id_fkey FOREIGN KEY (user_id)
		REFERENCES @extschema@.users (id) ON DELETE CASCADE
);
CREATE INDEX channel_members_user_id_idx ON @extschema@.channel_members (user_id);
COMMENT ON TABLE @extschema@.channel_members IS
	'channel membership, one row per channel and user (rejoin: clear deleted_at)';

CREATE TABLE @extschema@.files (
	id varchar(26) NOT NULL DEFAULT @extschema@.ulid(),
	message_id varchar(26) NOT NULL,
	user_id varchar(26) NOT NULL,
	name varchar(255) NOT NULL,
	type varchar(100) NOT NULL,
	size bigint NOT NULL,
	url text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz,
	CONSTRAINT files_pkey PRIMARY KEY (id),
	CONSTRAINT files_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
	CONSTRAINT files_size_check CHECK (size >= 0),
	CONSTRAINT files_message_id_fkey FOREIGN KEY (message_id)
		REFERENCES @extschema@.messages (id) ON DELETE CASCADE,
	CONSTRAINT files_user_id_fkey FOREIGN KEY (user_id)
		REFERENCES @extschema@.users (id) ON DELETE RESTRICT
);
CREATE INDEX files_message_id_idx ON @extschema@.files (message_id);
CREATE INDEX files_user_id_idx ON @extschema@.files (user_id);
COMMENT ON TABLE @extschema@.files IS 'files attached to messages (url to the stored object)';

CREATE TABLE @extschema@.user_settings (
	id varchar(26) NOT NULL DEFAULT @extschema@.ulid(),
	user_id varchar(26) NOT NULL,
	theme varchar(10) NOT NULL DEFAULT 'light',
	notifications jsonb NOT NULL DEFAULT '{}',
	muted_channels varchar(26)[] NOT NULL DEFAULT '{}',
	offline_sync jsonb NOT NULL DEFAULT '{"file_sync_days": 7, "message_sync_days": 7}',
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT user_settings_pkey PRIMARY KEY (id),
	CONSTRAINT user_settings_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
	CONSTRAINT user_settings_theme_check CHECK (theme IN ('light', 'dark')),
	CONSTRAINT user_settings_user_id_key UNIQUE (user_id),
	CONSTRAINT user_settings_user_id_fkey FOREIGN KEY (user_id)
		REFERENCES @extschema@.users (id) ON DELETE CASCADE
);
COMMENT ON TABLE @extschema@.user_settings IS 'one row of settings per user';

CREATE TABLE @extschema@.user_status (
	id varchar(26) NOT NULL DEFAULT @extschema@.ulid(),
	user_id varchar(26) NOT NULL,
	presence varchar(10) NOT NULL DEFAULT 'offline',
	status_text varchar(100),
	status_emoji varchar(32),
	status_expiry timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT user_status_pkey PRIMARY KEY (id),
	CONSTRAINT user_status_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
	CONSTRAINT user_status_presence_check CHECK (presence IN ('online', 'away', 'offline')),
	CONSTRAINT user_status_user_id_key UNIQUE (user_id),
	CONSTRAINT user_status_user_id_fkey FOREIGN KEY (user_id)
		REFERENCES @extschema@.users (id) ON DELETE CASCADE
);
COMMENT ON TABLE @extschema@.user_status IS 'presence and status line, one row per user';

CREATE TABLE @extschema@.message_reads (
	id varchar(26) NOT NULL DEFAULT @extschema@.ulid(),
	user_id varchar(26) NOT NULL,
	channel_id varchar(26) NOT NULL,
	last_read_message_id varchar(26) NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT message_reads_pkey PRIMARY KEY (id),
	CONSTRAINT message_reads_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
	CONSTRAINT message_reads_user_channel_key UNIQUE (user_id, channel_id),
	CONSTRAINT message_reads_user_id_fkey FOREIGN KEY (user_id)
		REFERENCES @extschema@.users (id) ON DELETE CASCADE,
	CONSTRAINT message_reads_channel_id_fkey FOREIGN KEY (channel_id)
		REFERENCES @extschema@.channels (id) ON DELETE CASCADE,
	CONSTRAINT message_reads_last_read_message_id_fkey FOREIGN KEY (last_read_message_id)
		REFERENCES @extschema@.messages (id) ON DELETE CASCADE
);
CREATE INDEX message_reads_channel_id_idx ON @extschema@.message_reads (channel_id);
CREATE INDEX message_reads_last_read_message_id_idx ON @extschema@.message_reads (last_read_message_id);
COMMENT ON TABLE @extschema@.message_reads IS 'read marker: one row per user and channel';

CREATE TABLE @extschema@.sync_state (
	id varchar(26) NOT NULL DEFAULT @extschema@.ulid(),
	user_id varchar(26) NOT NULL,
	channel_id varchar(26) NOT NULL,
	last_synced_at timestamptz,
	sync_type varchar(20) NOT NULL,
	sync_status varchar(20) NOT NULL DEFAULT 'pending',
	error_details jsonb,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT sync_state_pkey PRIMARY KEY (id),
	CONSTRAINT sync_state_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
	CONSTRAINT sync_state_sync_type_check CHECK (sync_type IN ('messages', 'files', 'reactions')),
	CONSTRAINT sync_state_sync_status_check CHECK (sync_status IN ('pending', 'complete', 'error')),
	CONSTRAINT sync_state_user_channel_type_key UNIQUE (user_id, channel_id, sync_type),
	CONSTRAINT sync_state_user_id_fkey FOREIGN KEY (user_id)
		REFERENCES @extschema@.users (id) ON DELETE CASCADE,
	CONSTRAINT sync_state_channel_id_fkey FOREIGN KEY (channel_id)
		REFERENCES @extschema@.channels (id) ON DELETE CASCADE
);
CREATE INDEX sync_state_channel_id_idx ON @extschema@.sync_state (channel_id);
COMMENT ON TABLE @extschema@.sync_state IS 'offline sync progress per user, channel and kind';

------------------------------------------------------------------ chat triggers

CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON @extschema@.users
	FOR EACH ROW EXECUTE FUNCTION @extschema@.set_updated_at();
CREATE TRIGGER channels_set_updated_at BEFORE UPDATE ON @extschema@.channels
	FOR EACH ROW EXECUTE FUNCTION @extschema@.set_updated_at();
CREATE TRIGGER messages_set_updated_at BEFORE UPDATE ON @extschema@.messages
	FOR EACH ROW EXECUTE FUNCTION @extschema@.set_updated_at();
CREATE TRIGGER channel_members_set_updated_at BEFORE UPDATE ON @extschema@.channel_members
	FOR EACH ROW EXECUTE FUNCTION @extschema@.set_updated_at();
CREATE TRIGGER files_set_updated_at BEFORE UPDATE ON @extschema@.files
	FOR EACH ROW EXECUTE FUNCTION @extschema@.set_updated_at();
CREATE TRIGGER user_settings_set_updated_at BEFORE UPDATE ON @extschema@.user_settings
	FOR EACH ROW EXECUTE FUNCTION @extschema@.set_updated_at();
CREATE TRIGGER user_status_set_updated_at BEFORE UPDATE ON @extschema@.user_status
	FOR EACH ROW EXECUTE FUNCTION @extschema@.set_updated_at();
CREATE TRIGGER message_reads_set_updated_at BEFORE UPDATE ON @extschema@.message_reads
	FOR EACH ROW EXECUTE FUNCTION @extschema@.set_updated_at();
CREATE TRIGGER sync_state_set_updated_at BEFORE UPDATE ON @extschema@.sync_state
	FOR EACH ROW EXECUTE FUNCTION @extschema@.set_updated_at();

CREATE TRIGGER messages_check_thread
	BEFORE INSERT OR UPDATE OF channel_id, thread_id ON @extschema@.messages
	FOR EACH ROW EXECUTE FUNCTION @extschema@.messages_check_thread();

CREATE TRIGGER messages_notify AFTER INSERT OR UPDATE ON @extschema@.messages
	FOR EACH ROW EXECUTE FUNCTION @extschema@.notify_message_change();
CREATE TRIGGER reactions_notify AFTER INSERT OR DELETE ON @extschema@.reactions
	FOR EACH ROW EXECUTE FUNCTION @extschema@.notify_reaction_change();
CREATE TRIGGER channel_members_notify AFTER INSERT OR UPDATE OR DELETE ON @extschema@.channel_members
	FOR EACH ROW EXECUTE FUNCTION @extschema@.notify_channel_member_change();
CREATE TRIGGER user_status_notify AFTER INSERT OR UPDATE ON @extschema@.user_status
	FOR EACH ROW EXECUTE FUNCTION @extschema@.notify_user_status_change();

------------------------------------------------------------------ migration history

CREATE TABLE @extschema@.schema_migrations (
	version text NOT NULL,
	description text NOT NULL,
	script text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now(),
	applied_by name NOT NULL DEFAULT current_user,
	execution_ms integer,
	fingerprint text,
	success boolean NOT NULL DEFAULT true,
	CONSTRAINT schema_migrations_pkey PRIMARY KEY (version)
);
COMMENT ON TABLE @extschema@.schema_migrations IS
	'one row per extension version applied, written by the install and every update script';

/*
 * pg_restore runs CREATE EXTENSION (whose scripts insert their history rows)
 * before it copies the dumped rows of this table.  So an insert of a version
 * that is already recorded merges instead of failing: the row applied first
 * (the original) is kept whole, the other is dropped.
 */
CREATE FUNCTION @extschema@.schema_migrations_merge() RETURNS trigger
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
			   success = NEW.success
		 WHERE m.version = NEW.version;
	END IF;
	RETURN NULL;
END
$$;

CREATE TRIGGER schema_migrations_merge BEFORE INSERT ON @extschema@.schema_migrations
	FOR EACH ROW EXECUTE FUNCTION @extschema@.schema_migrations_merge();

------------------------------------------------------------------ tunnel status

CREATE TABLE @extschema@.tunnel_status (
	tunnel_name text NOT NULL,
	state text NOT NULL,
	heartbeat_interval_ms integer NOT NULL,
	last_heartbeat timestamptz,
	retries integer NOT NULL DEFAULT 0,
	reconnects bigint NOT NULL DEFAULT 0,
	last_error text,
	pool_size integer NOT NULL DEFAULT 0,
	sessions_open integer NOT NULL DEFAULT 0,
	channels_active integer NOT NULL DEFAULT 0,
	channels_total bigint NOT NULL DEFAULT 0,
	clients_waiting integer NOT NULL DEFAULT 0,
	bytes_in bigint NOT NULL DEFAULT 0,
	bytes_out bigint NOT NULL DEFAULT 0,
	helper_pid integer,
	helper_host text,
	helper_version text,
	started_at timestamptz,
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT tunnel_status_pkey PRIMARY KEY (tunnel_name),
	CONSTRAINT tunnel_status_state_check
		CHECK (state IN ('connecting', 'connected', 'reconnecting', 'failed', 'stopped')),
	CONSTRAINT tunnel_status_heartbeat_interval_ms_check CHECK (heartbeat_interval_ms > 0)
);
COMMENT ON TABLE @extschema@.tunnel_status IS
	'one row per SSH tunnel, written by chatgenius-tunnel through report_status()';

CREATE TABLE @extschema@.tunnel_events (
	id bigint GENERATED BY DEFAULT AS IDENTITY,
	tunnel_name text NOT NULL,
	event text NOT NULL,
	detail text,
	occurred_at timestamptz NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now(),
	event_key text NOT NULL,
	CONSTRAINT tunnel_events_pkey PRIMARY KEY (id),
	CONSTRAINT tunnel_events_event_check CHECK (event IN ('connected', 'disconnected',
		'reconnecting', 'reconnected', 'health_check_failed', 'pool_full',
		'maxRetriesExceeded', 'stopped', 'events_dropped')),
	CONSTRAINT tunnel_events_tunnel_name_event_key_key UNIQUE (tunnel_name, event_key)
);
CREATE INDEX tunnel_events_tunnel_name_occurred_at_idx
	ON @extschema@.tunnel_events (tunnel_name, occurred_at);
COMMENT ON TABLE @extschema@.tunnel_events IS
	'append-only log of tunnel events, written by chatgenius-tunnel through report_event()';

-- The helper's heartbeat and figures: an upsert of its tunnel_status row.
CREATE FUNCTION @extschema@.report_status(p_tunnel_name text, p_state text,
	p_heartbeat_interval_ms integer, p_retries integer, p_reconnects bigint,
	p_last_error text, p_pool_size integer, p_sessions_open integer,
	p_channels_active integer, p_channels_total bigint, p_clients_waiting integer,
	p_bytes_in bigint, p_bytes_out bigint, p_helper_pid integer, p_helper_host text,
	p_helper_version text, p_started_at timestamptz, p_heartbeat boolean DEFAULT true)
	RETURNS void
	LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
INSERT INTO @extschema@.tunnel_status AS s (tunnel_name, state, heartbeat_interval_ms,
	last_heartbeat, retries, reconnects, last_error, pool_size, sessions_open,
	channels_active, channels_total, clients_waiting, bytes_in, bytes_out,
	helper_pid, helper_host, helper_version, started_at, updated_at)
VALUES (p_tunnel_name, p_state, p_heartbeat_interval_ms,
	CASE WHEN p_heartbeat THEN pg_catalog.now() END, p_retries, p_reconnects,
	p_last_error, p_pool_size, p_sessions_open, p_channels_active, p_channels_total,
	p_clients_waiting, p_bytes_in, p_bytes_out, p_helper_pid, p_helper_host,
	p_helper_version, p_started_at, pg_catalog.now())
ON CONFLICT (tunnel_name) DO UPDATE SET
	state = excluded.state,
	heartbeat_interval_ms = excluded.heartbeat_interval_ms,
	last_heartbeat = CASE WHEN p_heartbeat THEN pg_catalog.now() ELSE s.last_heartbeat END,
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
$$;
COMMENT ON FUNCTION @extschema@.report_status(text, text, integer, integer, bigint, text,
	integer, integer, integer, bigint, integer, bigint, bigint, integer, text, text,
	timestamptz, boolean) IS
	'the tunnel helper''s status report: upserts its tunnel_status row';

/*
 * One tunnel event: inserted once (a replayed spool entry with the same
 * event_key is ignored, returning false), and announced on the channel
 * chatgenius_tunnel.  The announced detail is cut to 1000 characters so that
 * the payload stays under NOTIFY's limit; the row keeps all of it.
 */
CREATE FUNCTION @extschema@.report_event(p_tunnel_name text, p_event text, p_detail text,
	p_occurred_at timestamptz, p_event_key text)
	RETURNS boolean
	LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS
$$
DECLARE
	new_id bigint;
BEGIN
	INSERT INTO @extschema@.tunnel_events (tunnel_name, event, detail, occurred_at, event_key)
	VALUES (p_tunnel_name, p_event, p_detail, p_occurred_at, p_event_key)
	ON CONFLICT (tunnel_name, event_key) DO NOTHING
	RETURNING id INTO new_id;
	IF new_id IS NULL THEN
		RETURN false;
	END IF;
	PERFORM pg_catalog.pg_notify('chatgenius_tunnel', pg_catalog.json_build_object(
		'tunnel', p_tunnel_name, 'event', p_event,
		'detail', pg_catalog.left(p_detail, 1000),
		'occurred_at', pg_catalog.to_char(pg_catalog.timezone('UTC', p_occurred_at),
			'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		'id', new_id)::text);
	RETURN true;
END
$$;
COMMENT ON FUNCTION @extschema@.report_event(text, text, text, timestamptz, text) IS
	'the tunnel helper''s event log: inserts once per (tunnel_name, event_key) and notifies chatgenius_tunnel';

------------------------------------------------------------------ dump and privileges

SELECT pg_catalog.pg_extension_config_dump('@extschema@.users', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.channels', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.messages', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.reactions', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.channel_members', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.files', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.user_settings', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.user_status', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.message_reads', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.sync_state', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.schema_migrations', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tunnel_status', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tunnel_events', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.tunnel_events_id_seq', '');

-- Tables: owner only (no grant to PUBLIC); operators grant the app's role.
-- Functions: EXECUTE from PUBLIC only for ulid() (column defaults call it as
-- the inserting role); trigger functions need no EXECUTE to fire.
REVOKE EXECUTE ON FUNCTION @extschema@.schema_fingerprint() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.health() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.health_summary() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.pool_stats() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.report_status(text, text, integer, integer, bigint,
	text, integer, integer, integer, bigint, integer, bigint, bigint, integer, text, text,
	timestamptz, boolean) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.report_event(text, text, text, timestamptz, text) FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.set_updated_at() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.messages_check_thread() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.notify_message_change() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.notify_reaction_change() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.notify_channel_member_change() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.notify_user_status_change() FROM PUBLIC;
REVOKE EXECUTE ON FUNCTION @extschema@.schema_migrations_merge() FROM PUBLIC;

GRANT USAGE ON SCHEMA @extschema@ TO pg_monitor;
GRANT EXECUTE ON FUNCTION @extschema@.schema_fingerprint() TO pg_monitor;
GRANT EXECUTE ON FUNCTION @extschema@.health() TO pg_monitor;
GRANT EXECUTE ON FUNCTION @extschema@.health_summary() TO pg_monitor;
GRANT EXECUTE ON FUNCTION @extschema@.pool_stats() TO pg_monitor;
GRANT SELECT ON @extschema@.tunnel_status, @extschema@.tunnel_events,
	@extschema@.schema_migrations TO pg_monitor;

------------------------------------------------------------------ history (last)

INSERT INTO @extschema@.schema_migrations (version, description, script, execution_ms, fingerprint)
VALUES ('1.0', 'ChatGenius schema, migration history, tunnel status', 'chatgenius--1.0.sql',
	pg_catalog.round(1000 OPERATOR(pg_catalog.*) (pg_catalog.date_part('epoch', pg_catalog.clock_timestamp())
		OPERATOR(pg_catalog.-) pg_catalog.current_setting('chatgenius_migration.started_at')::pg_catalog.float8))::pg_catalog.int4,
	@extschema@.schema_fingerprint());
