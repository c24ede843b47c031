-- The schema of the newest version: tables, columns (and their order),
-- types, indexes and triggers.  Run on a fresh install and on an updated one.
BEGIN;
SELECT plan(292);
SELECT has_schema('chatgenius');
SELECT tables_are('chatgenius', ARRAY['channel_members', 'channels', 'files', 'message_reads', 'messages', 'reactions', 'realtime_dead_letter', 'realtime_outbox', 'realtime_sent', 'schema_migrations', 'sync_state', 'tunnel_events', 'tunnel_routes', 'tunnel_status', 'user_settings', 'user_status', 'users']);
SELECT sequences_are('chatgenius', ARRAY['tunnel_events_id_seq']);

-- users
SELECT columns_are('chatgenius', 'users', ARRAY['id', 'auth0_id', 'email', 'username', 'full_name', 'avatar_url', 'created_at', 'updated_at', 'deleted_at']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.users'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'auth0_id', 'email', 'username', 'full_name', 'avatar_url', 'created_at', 'updated_at', 'deleted_at'],
	'users: columns in order');
SELECT col_type_is('chatgenius', 'users', 'id', 'character varying(26)', 'users.id is character varying(26)');
SELECT col_type_is('chatgenius', 'users', 'auth0_id', 'character varying(128)', 'users.auth0_id is character varying(128)');
SELECT col_type_is('chatgenius', 'users', 'email', 'character varying(255)', 'users.email is character varying(255)');
SELECT col_type_is('chatgenius', 'users', 'username', 'character varying(50)', 'users.username is character varying(50)');
SELECT col_type_is('chatgenius', 'users', 'full_name', 'character varying(100)', 'users.full_name is character varying(100)');
SELECT col_type_is('chatgenius', 'users', 'avatar_url', 'text', 'users.avatar_url is text');
SELECT col_type_is('chatgenius', 'users', 'created_at', 'timestamp with time zone', 'users.created_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'users', 'updated_at', 'timestamp with time zone', 'users.updated_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'users', 'deleted_at', 'timestamp with time zone', 'users.deleted_at is timestamp with time zone');
SELECT indexes_are('chatgenius', 'users', ARRAY['users_pkey', 'users_auth0_id_key', 'users_email_key', 'users_username_idx']);
SELECT has_index('chatgenius', 'users', 'users_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'users', 'users_auth0_id_key', ARRAY['auth0_id']);
SELECT has_index('chatgenius', 'users', 'users_email_key', ARRAY['email']);
SELECT has_index('chatgenius', 'users', 'users_username_idx', ARRAY['username']);
SELECT triggers_are('chatgenius', 'users', ARRAY['users_set_updated_at']::name[]);

-- channels
SELECT columns_are('chatgenius', 'channels', ARRAY['id', 'name', 'description', 'type', 'created_by', 'created_at', 'updated_at', 'deleted_at', 'archived_at', 'archived_by']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.channels'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'name', 'description', 'type', 'created_by', 'created_at', 'updated_at', 'deleted_at', 'archived_at', 'archived_by'],
	'channels: columns in order');
SELECT col_type_is('chatgenius', 'channels', 'id', 'character varying(26)', 'channels.id is character varying(26)');
SELECT col_type_is('chatgenius', 'channels', 'name', 'character varying(80)', 'channels.name is character varying(80)');
SELECT col_type_is('chatgenius', 'channels', 'description', 'text', 'channels.description is text');
SELECT col_type_is('chatgenius', 'channels', 'type', 'character varying(20)', 'channels.type is character varying(20)');
SELECT col_type_is('chatgenius', 'channels', 'created_by', 'character varying(26)', 'channels.created_by is character varying(26)');
SELECT col_type_is('chatgenius', 'channels', 'created_at', 'timestamp with time zone', 'channels.created_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'channels', 'updated_at', 'timestamp with time zone', 'channels.updated_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'channels', 'deleted_at', 'timestamp with time zone', 'channels.deleted_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'channels', 'archived_at', 'timestamp with time zone', 'channels.archived_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'channels', 'archived_by', 'character varying(26)', 'channels.archived_by is character varying(26)');
SELECT indexes_are('chatgenius', 'channels', ARRAY['channels_pkey', 'channels_name_idx', 'channels_type_idx', 'channels_created_by_idx', 'channels_archived_by_idx', 'channels_live_idx']);
SELECT has_index('chatgenius', 'channels', 'channels_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'channels', 'channels_name_idx', ARRAY['name']);
SELECT has_index('chatgenius', 'channels', 'channels_type_idx', ARRAY['type']);
SELECT has_index('chatgenius', 'channels', 'channels_created_by_idx', ARRAY['created_by']);
SELECT has_index('chatgenius', 'channels', 'channels_archived_by_idx', ARRAY['archived_by']);
SELECT has_index('chatgenius', 'channels', 'channels_live_idx', ARRAY['name']);
SELECT triggers_are('chatgenius', 'channels', ARRAY['channels_rules']::name[]);

-- messages
SELECT columns_are('chatgenius', 'messages', ARRAY['id', 'channel_id', 'user_id', 'content', 'thread_id', 'edited', 'created_at', 'updated_at', 'deleted_at']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.messages'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'channel_id', 'user_id', 'content', 'thread_id', 'edited', 'created_at', 'updated_at', 'deleted_at'],
	'messages: columns in order');
SELECT col_type_is('chatgenius', 'messages', 'id', 'character varying(26)', 'messages.id is character varying(26)');
SELECT col_type_is('chatgenius', 'messages', 'channel_id', 'character varying(26)', 'messages.channel_id is character varying(26)');
SELECT col_type_is('chatgenius', 'messages', 'user_id', 'character varying(26)', 'messages.user_id is character varying(26)');
SELECT col_type_is('chatgenius', 'messages', 'content', 'text', 'messages.content is text');
SELECT col_type_is('chatgenius', 'messages', 'thread_id', 'character varying(26)', 'messages.thread_id is character varying(26)');
SELECT col_type_is('chatgenius', 'messages', 'edited', 'boolean', 'messages.edited is boolean');
SELECT col_type_is('chatgenius', 'messages', 'created_at', 'timestamp with time zone', 'messages.created_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'messages', 'updated_at', 'timestamp with time zone', 'messages.updated_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'messages', 'deleted_at', 'timestamp with time zone', 'messages.deleted_at is timestamp with time zone');
SELECT indexes_are('chatgenius', 'messages', ARRAY['messages_pkey', 'messages_channel_id_idx', 'messages_user_id_idx', 'messages_thread_idx', 'messages_channel_history_idx']);
SELECT has_index('chatgenius', 'messages', 'messages_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'messages', 'messages_channel_id_idx', ARRAY['channel_id']);
SELECT has_index('chatgenius', 'messages', 'messages_user_id_idx', ARRAY['user_id']);
SELECT has_index('chatgenius', 'messages', 'messages_thread_idx', ARRAY['thread_id', 'created_at', 'id']);
SELECT has_index('chatgenius', 'messages', 'messages_channel_history_idx', ARRAY['channel_id', 'created_at', 'id']);
SELECT triggers_are('chatgenius', 'messages', ARRAY['messages_rules', 'messages_thread_rules', 'messages_notify']::name[]);

-- reactions
SELECT columns_are('chatgenius', 'reactions', ARRAY['id', 'message_id', 'user_id', 'emoji', 'created_at']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.reactions'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'message_id', 'user_id', 'emoji', 'created_at'],
	'reactions: columns in order');
SELECT col_type_is('chatgenius', 'reactions', 'id', 'character varying(26)', 'reactions.id is character varying(26)');
SELECT col_type_is('chatgenius', 'reactions', 'message_id', 'character varying(26)', 'reactions.message_id is character varying(26)');
SELECT col_type_is('chatgenius', 'reactions', 'user_id', 'character varying(26)', 'reactions.user_id is character varying(26)');
SELECT col_type_is('chatgenius', 'reactions', 'emoji', 'character varying(32)', 'reactions.emoji is character varying(32)');
SELECT col_type_is('chatgenius', 'reactions', 'created_at', 'timestamp with time zone', 'reactions.created_at is timestamp with time zone');
SELECT indexes_are('chatgenius', 'reactions', ARRAY['reactions_pkey', 'reactions_message_user_emoji_key', 'reactions_user_id_idx']);
SELECT has_index('chatgenius', 'reactions', 'reactions_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'reactions', 'reactions_message_user_emoji_key', ARRAY['message_id', 'user_id', 'emoji']);
SELECT has_index('chatgenius', 'reactions', 'reactions_user_id_idx', ARRAY['user_id']);
SELECT triggers_are('chatgenius', 'reactions', ARRAY['reactions_notify', 'reactions_rules']::name[]);

-- channel_members
SELECT columns_are('chatgenius', 'channel_members', ARRAY['id', 'channel_id', 'user_id', 'role', 'created_at', 'updated_at', 'deleted_at']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.channel_members'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'channel_id', 'user_id', 'role', 'created_at', 'updated_at', 'deleted_at'],
	'channel_members: columns in order');
SELECT col_type_is('chatgenius', 'channel_members', 'id', 'character varying(26)', 'channel_members.id is character varying(26)');
SELECT col_type_is('chatgenius', 'channel_members', 'channel_id', 'character varying(26)', 'channel_members.channel_id is character varying(26)');
SELECT col_type_is('chatgenius', 'channel_members', 'user_id', 'character varying(26)', 'channel_members.user_id is character varying(26)');
SELECT col_type_is('chatgenius', 'channel_members', 'role', 'character varying(20)', 'channel_members.role is character varying(20)');
SELECT col_type_is('chatgenius', 'channel_members', 'created_at', 'timestamp with time zone', 'channel_members.created_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'channel_members', 'updated_at', 'timestamp with time zone', 'channel_members.updated_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'channel_members', 'deleted_at', 'timestamp with time zone', 'channel_members.deleted_at is timestamp with time zone');
SELECT indexes_are('chatgenius', 'channel_members', ARRAY['channel_members_pkey', 'channel_members_channel_user_live_key', 'channel_members_channel_id_idx', 'channel_members_user_id_idx']);
SELECT has_index('chatgenius', 'channel_members', 'channel_members_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'channel_members', 'channel_members_channel_user_live_key', ARRAY['channel_id', 'user_id']);
SELECT has_index('chatgenius', 'channel_members', 'channel_members_user_id_idx', ARRAY['user_id']);
SELECT triggers_are('chatgenius', 'channel_members', ARRAY['channel_members_set_updated_at', 'channel_members_notify']::name[]);

-- files
SELECT columns_are('chatgenius', 'files', ARRAY['id', 'message_id', 'user_id', 'name', 'type', 'size', 'url', 'created_at', 'updated_at', 'deleted_at']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.files'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'message_id', 'user_id', 'name', 'type', 'size', 'url', 'created_at', 'updated_at', 'deleted_at'],
	'files: columns in order');
SELECT col_type_is('chatgenius', 'files', 'id', 'character varying(26)', 'files.id is character varying(26)');
SELECT col_type_is('chatgenius', 'files', 'message_id', 'character varying(26)', 'files.message_id is character varying(26)');
SELECT col_type_is('chatgenius', 'files', 'user_id', 'character varying(26)', 'files.user_id is character varying(26)');
SELECT col_type_is('chatgenius', 'files', 'name', 'character varying(255)', 'files.name is character varying(255)');
SELECT col_type_is('chatgenius', 'files', 'type', 'character varying(100)', 'files.type is character varying(100)');
SELECT col_type_is('chatgenius', 'files', 'size', 'bigint', 'files.size is bigint');
SELECT col_type_is('chatgenius', 'files', 'url', 'text', 'files.url is text');
SELECT col_type_is('chatgenius', 'files', 'created_at', 'timestamp with time zone', 'files.created_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'files', 'updated_at', 'timestamp with time zone', 'files.updated_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'files', 'deleted_at', 'timestamp with time zone', 'files.deleted_at is timestamp with time zone');
SELECT indexes_are('chatgenius', 'files', ARRAY['files_pkey', 'files_message_id_idx', 'files_user_id_idx']);
SELECT has_index('chatgenius', 'files', 'files_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'files', 'files_message_id_idx', ARRAY['message_id']);
SELECT has_index('chatgenius', 'files', 'files_user_id_idx', ARRAY['user_id']);
SELECT triggers_are('chatgenius', 'files', ARRAY['files_set_updated_at']::name[]);

-- user_settings
SELECT columns_are('chatgenius', 'user_settings', ARRAY['id', 'user_id', 'theme', 'notifications', 'muted_channels', 'offline_sync', 'created_at', 'updated_at']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.user_settings'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'user_id', 'theme', 'notifications', 'muted_channels', 'offline_sync', 'created_at', 'updated_at'],
	'user_settings: columns in order');
SELECT col_type_is('chatgenius', 'user_settings', 'id', 'character varying(26)', 'user_settings.id is character varying(26)');
SELECT col_type_is('chatgenius', 'user_settings', 'user_id', 'character varying(26)', 'user_settings.user_id is character varying(26)');
SELECT col_type_is('chatgenius', 'user_settings', 'theme', 'character varying(10)', 'user_settings.theme is character varying(10)');
SELECT col_type_is('chatgenius', 'user_settings', 'notifications', 'jsonb', 'user_settings.notifications is jsonb');
SELECT col_type_is('chatgenius', 'user_settings', 'muted_channels', 'character varying(26)[]', 'user_settings.muted_channels is character varying(26)[]');
SELECT col_type_is('chatgenius', 'user_settings', 'offline_sync', 'jsonb', 'user_settings.offline_sync is jsonb');
SELECT col_type_is('chatgenius', 'user_settings', 'created_at', 'timestamp with time zone', 'user_settings.created_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'user_settings', 'updated_at', 'timestamp with time zone', 'user_settings.updated_at is timestamp with time zone');
SELECT indexes_are('chatgenius', 'user_settings', ARRAY['user_settings_pkey', 'user_settings_user_id_key']);
SELECT has_index('chatgenius', 'user_settings', 'user_settings_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'user_settings', 'user_settings_user_id_key', ARRAY['user_id']);
SELECT triggers_are('chatgenius', 'user_settings', ARRAY['user_settings_set_updated_at']::name[]);

-- user_status
SELECT columns_are('chatgenius', 'user_status', ARRAY['id', 'user_id', 'presence', 'status_text', 'status_emoji', 'status_expiry', 'created_at', 'updated_at']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.user_status'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'user_id', 'presence', 'status_text', 'status_emoji', 'status_expiry', 'created_at', 'updated_at'],
	'user_status: columns in order');
SELECT col_type_is('chatgenius', 'user_status', 'id', 'character varying(26)', 'user_status.id is character varying(26)');
SELECT col_type_is('chatgenius', 'user_status', 'user_id', 'character varying(26)', 'user_status.user_id is character varying(26)');
SELECT col_type_is('chatgenius', 'user_status', 'presence', 'character varying(10)', 'user_status.presence is character varying(10)');
SELECT col_type_is('chatgenius', 'user_status', 'status_text', 'character varying(100)', 'user_status.status_text is character varying(100)');
SELECT col_type_is('chatgenius', 'user_status', 'status_emoji', 'character varying(32)', 'user_status.status_emoji is character varying(32)');
SELECT col_type_is('chatgenius', 'user_status', 'status_expiry', 'timestamp with time zone', 'user_status.status_expiry is timestamp with time zone');
SELECT col_type_is('chatgenius', 'user_status', 'created_at', 'timestamp with time zone', 'user_status.created_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'user_status', 'updated_at', 'timestamp with time zone', 'user_status.updated_at is timestamp with time zone');
SELECT indexes_are('chatgenius', 'user_status', ARRAY['user_status_pkey', 'user_status_user_id_key']);
SELECT has_index('chatgenius', 'user_status', 'user_status_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'user_status', 'user_status_user_id_key', ARRAY['user_id']);
SELECT triggers_are('chatgenius', 'user_status', ARRAY['user_status_set_updated_at', 'user_status_notify']::name[]);

-- message_reads
SELECT columns_are('chatgenius', 'message_reads', ARRAY['id', 'user_id', 'channel_id', 'last_read_message_id', 'created_at', 'updated_at']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.message_reads'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'user_id', 'channel_id', 'last_read_message_id', 'created_at', 'updated_at'],
	'message_reads: columns in order');
SELECT col_type_is('chatgenius', 'message_reads', 'id', 'character varying(26)', 'message_reads.id is character varying(26)');
SELECT col_type_is('chatgenius', 'message_reads', 'user_id', 'character varying(26)', 'message_reads.user_id is character varying(26)');
SELECT col_type_is('chatgenius', 'message_reads', 'channel_id', 'character varying(26)', 'message_reads.channel_id is character varying(26)');
SELECT col_type_is('chatgenius', 'message_reads', 'last_read_message_id', 'character varying(26)', 'message_reads.last_read_message_id is character varying(26)');
SELECT col_type_is('chatgenius', 'message_reads', 'created_at', 'timestamp with time zone', 'message_reads.created_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'message_reads', 'updated_at', 'timestamp with time zone', 'message_reads.updated_at is timestamp with time zone');
SELECT indexes_are('chatgenius', 'message_reads', ARRAY['message_reads_pkey', 'message_reads_user_channel_key', 'message_reads_channel_id_idx', 'message_reads_last_read_message_id_idx']);
SELECT has_index('chatgenius', 'message_reads', 'message_reads_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'message_reads', 'message_reads_user_channel_key', ARRAY['user_id', 'channel_id']);
SELECT has_index('chatgenius', 'message_reads', 'message_reads_channel_id_idx', ARRAY['channel_id']);
SELECT has_index('chatgenius', 'message_reads', 'message_reads_last_read_message_id_idx', ARRAY['last_read_message_id']);
SELECT triggers_are('chatgenius', 'message_reads', ARRAY['message_reads_set_updated_at']::name[]);

-- sync_state
SELECT columns_are('chatgenius', 'sync_state', ARRAY['id', 'user_id', 'channel_id', 'last_synced_at', 'sync_type', 'sync_status', 'error_details', 'created_at', 'updated_at']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.sync_state'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'user_id', 'channel_id', 'last_synced_at', 'sync_type', 'sync_status', 'error_details', 'created_at', 'updated_at'],
	'sync_state: columns in order');
SELECT col_type_is('chatgenius', 'sync_state', 'id', 'character varying(26)', 'sync_state.id is character varying(26)');
SELECT col_type_is('chatgenius', 'sync_state', 'user_id', 'character varying(26)', 'sync_state.user_id is character varying(26)');
SELECT col_type_is('chatgenius', 'sync_state', 'channel_id', 'character varying(26)', 'sync_state.channel_id is character varying(26)');
SELECT col_type_is('chatgenius', 'sync_state', 'last_synced_at', 'timestamp with time zone', 'sync_state.last_synced_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'sync_state', 'sync_type', 'character varying(20)', 'sync_state.sync_type is character varying(20)');
SELECT col_type_is('chatgenius', 'sync_state', 'sync_status', 'character varying(20)', 'sync_state.sync_status is character varying(20)');
SELECT col_type_is('chatgenius', 'sync_state', 'error_details', 'jsonb', 'sync_state.error_details is jsonb');
SELECT col_type_is('chatgenius', 'sync_state', 'created_at', 'timestamp with time zone', 'sync_state.created_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'sync_state', 'updated_at', 'timestamp with time zone', 'sync_state.updated_at is timestamp with time zone');
SELECT indexes_are('chatgenius', 'sync_state', ARRAY['sync_state_pkey', 'sync_state_user_channel_type_key', 'sync_state_channel_id_idx']);
SELECT has_index('chatgenius', 'sync_state', 'sync_state_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'sync_state', 'sync_state_user_channel_type_key', ARRAY['user_id', 'channel_id', 'sync_type']);
SELECT has_index('chatgenius', 'sync_state', 'sync_state_channel_id_idx', ARRAY['channel_id']);
SELECT triggers_are('chatgenius', 'sync_state', ARRAY['sync_state_set_updated_at']::name[]);

-- schema_migrations
SELECT columns_are('chatgenius', 'schema_migrations', ARRAY['version', 'description', 'script', 'applied_at', 'applied_by', 'execution_ms', 'fingerprint', 'success', 'accepted_at', 'accepted_by', 'accepted_reason']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.schema_migrations'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['version', 'description', 'script', 'applied_at', 'applied_by', 'execution_ms', 'fingerprint', 'success', 'accepted_at', 'accepted_by', 'accepted_reason'],
	'schema_migrations: columns in order');
SELECT col_type_is('chatgenius', 'schema_migrations', 'version', 'text', 'schema_migrations.version is text');
SELECT col_type_is('chatgenius', 'schema_migrations', 'description', 'text', 'schema_migrations.description is text');
SELECT col_type_is('chatgenius', 'schema_migrations', 'script', 'text', 'schema_migrations.script is text');
SELECT col_type_is('chatgenius', 'schema_migrations', 'applied_at', 'timestamp with time zone', 'schema_migrations.applied_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'schema_migrations', 'applied_by', 'name', 'schema_migrations.applied_by is name');
SELECT col_type_is('chatgenius', 'schema_migrations', 'execution_ms', 'integer', 'schema_migrations.execution_ms is integer');
SELECT col_type_is('chatgenius', 'schema_migrations', 'fingerprint', 'text', 'schema_migrations.fingerprint is text');
SELECT col_type_is('chatgenius', 'schema_migrations', 'success', 'boolean', 'schema_migrations.success is boolean');
SELECT indexes_are('chatgenius', 'schema_migrations', ARRAY['schema_migrations_pkey']);
SELECT has_index('chatgenius', 'schema_migrations', 'schema_migrations_pkey', ARRAY['version']);
SELECT triggers_are('chatgenius', 'schema_migrations', ARRAY['schema_migrations_merge']::name[]);

-- tunnel_status
SELECT columns_are('chatgenius', 'tunnel_status', ARRAY['tunnel_name', 'state', 'heartbeat_interval_ms', 'last_heartbeat', 'retries', 'reconnects', 'last_error', 'pool_size', 'sessions_open', 'channels_active', 'channels_total', 'clients_waiting', 'bytes_in', 'bytes_out', 'helper_pid', 'helper_host', 'helper_version', 'started_at', 'updated_at', 'written_by']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.tunnel_status'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['tunnel_name', 'state', 'heartbeat_interval_ms', 'last_heartbeat', 'retries', 'reconnects', 'last_error', 'pool_size', 'sessions_open', 'channels_active', 'channels_total', 'clients_waiting', 'bytes_in', 'bytes_out', 'helper_pid', 'helper_host', 'helper_version', 'started_at', 'updated_at', 'written_by'],
	'tunnel_status: columns in order');
SELECT col_type_is('chatgenius', 'tunnel_status', 'tunnel_name', 'text', 'tunnel_status.tunnel_name is text');
SELECT col_type_is('chatgenius', 'tunnel_status', 'state', 'text', 'tunnel_status.state is text');
SELECT col_type_is('chatgenius', 'tunnel_status', 'heartbeat_interval_ms', 'integer', 'tunnel_status.heartbeat_interval_ms is integer');
SELECT col_type_is('chatgenius', 'tunnel_status', 'last_heartbeat', 'timestamp with time zone', 'tunnel_status.last_heartbeat is timestamp with time zone');
SELECT col_type_is('chatgenius', 'tunnel_status', 'retries', 'integer', 'tunnel_status.retries is integer');
SELECT col_type_is('chatgenius', 'tunnel_status', 'reconnects', 'bigint', 'tunnel_status.reconnects is bigint');
SELECT col_type_is('chatgenius', 'tunnel_status', 'last_error', 'text', 'tunnel_status.last_error is text');
SELECT col_type_is('chatgenius', 'tunnel_status', 'pool_size', 'integer', 'tunnel_status.pool_size is integer');
SELECT col_type_is('chatgenius', 'tunnel_status', 'sessions_open', 'integer', 'tunnel_status.sessions_open is integer');
SELECT col_type_is('chatgenius', 'tunnel_status', 'channels_active', 'integer', 'tunnel_status.channels_active is integer');
SELECT col_type_is('chatgenius', 'tunnel_status', 'channels_total', 'bigint', 'tunnel_status.channels_total is bigint');
SELECT col_type_is('chatgenius', 'tunnel_status', 'clients_waiting', 'integer', 'tunnel_status.clients_waiting is integer');
SELECT col_type_is('chatgenius', 'tunnel_status', 'bytes_in', 'bigint', 'tunnel_status.bytes_in is bigint');
SELECT col_type_is('chatgenius', 'tunnel_status', 'bytes_out', 'bigint', 'tunnel_status.bytes_out is bigint');
SELECT col_type_is('chatgenius', 'tunnel_status', 'helper_pid', 'integer', 'tunnel_status.helper_pid is integer');
SELECT col_type_is('chatgenius', 'tunnel_status', 'helper_host', 'text', 'tunnel_status.helper_host is text');
SELECT col_type_is('chatgenius', 'tunnel_status', 'helper_version', 'text', 'tunnel_status.helper_version is text');
SELECT col_type_is('chatgenius', 'tunnel_status', 'started_at', 'timestamp with time zone', 'tunnel_status.started_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'tunnel_status', 'updated_at', 'timestamp with time zone', 'tunnel_status.updated_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'tunnel_status', 'written_by', 'name', 'tunnel_status.written_by is name');
SELECT indexes_are('chatgenius', 'tunnel_status', ARRAY['tunnel_status_pkey']);
SELECT has_index('chatgenius', 'tunnel_status', 'tunnel_status_pkey', ARRAY['tunnel_name']);
SELECT triggers_are('chatgenius', 'tunnel_status', ARRAY[]::name[]);

-- tunnel_events
SELECT columns_are('chatgenius', 'tunnel_events', ARRAY['id', 'tunnel_name', 'event', 'detail', 'occurred_at', 'recorded_at', 'event_key']);
SELECT is(ARRAY(SELECT attname::text FROM pg_attribute WHERE attrelid = 'chatgenius.tunnel_events'::regclass
	AND attnum > 0 AND NOT attisdropped ORDER BY attnum), ARRAY['id', 'tunnel_name', 'event', 'detail', 'occurred_at', 'recorded_at', 'event_key'],
	'tunnel_events: columns in order');
SELECT col_type_is('chatgenius', 'tunnel_events', 'id', 'bigint', 'tunnel_events.id is bigint');
SELECT col_type_is('chatgenius', 'tunnel_events', 'tunnel_name', 'text', 'tunnel_events.tunnel_name is text');
SELECT col_type_is('chatgenius', 'tunnel_events', 'event', 'text', 'tunnel_events.event is text');
SELECT col_type_is('chatgenius', 'tunnel_events', 'detail', 'text', 'tunnel_events.detail is text');
SELECT col_type_is('chatgenius', 'tunnel_events', 'occurred_at', 'timestamp with time zone', 'tunnel_events.occurred_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'tunnel_events', 'recorded_at', 'timestamp with time zone', 'tunnel_events.recorded_at is timestamp with time zone');
SELECT col_type_is('chatgenius', 'tunnel_events', 'event_key', 'text', 'tunnel_events.event_key is text');
SELECT indexes_are('chatgenius', 'tunnel_events', ARRAY['tunnel_events_pkey', 'tunnel_events_tunnel_name_event_key_key', 'tunnel_events_tunnel_name_occurred_at_idx', 'tunnel_events_occurred_at_idx']);
SELECT has_index('chatgenius', 'tunnel_events', 'tunnel_events_occurred_at_idx', ARRAY['occurred_at']);
SELECT has_index('chatgenius', 'tunnel_events', 'tunnel_events_pkey', ARRAY['id']);
SELECT has_index('chatgenius', 'tunnel_events', 'tunnel_events_tunnel_name_event_key_key', ARRAY['tunnel_name', 'event_key']);
SELECT has_index('chatgenius', 'tunnel_events', 'tunnel_events_tunnel_name_occurred_at_idx', ARRAY['tunnel_name', 'occurred_at']);
SELECT triggers_are('chatgenius', 'tunnel_events', ARRAY[]::name[]);

-- ids: a ULID default and check on every chat table
SELECT col_default_is('chatgenius', t, 'id', 'chatgenius.ulid()',
		t || '.id defaults to chatgenius.ulid()')
  FROM unnest(ARRAY['users', 'channels', 'messages', 'reactions', 'channel_members', 'files',
	'user_settings', 'user_status', 'message_reads', 'sync_state']) AS t;
SELECT col_is_pk('chatgenius', t, 'id', t || '.id is the primary key')
  FROM unnest(ARRAY['users', 'channels', 'messages', 'reactions', 'channel_members', 'files',
	'user_settings', 'user_status', 'message_reads', 'sync_state', 'tunnel_events']) AS t;
SELECT has_check('chatgenius', t, t || ' checks its ULID')
  FROM unnest(ARRAY['users', 'channels', 'messages', 'reactions', 'channel_members', 'files',
	'user_settings', 'user_status', 'message_reads', 'sync_state']) AS t;
SELECT col_default_is('chatgenius', t, 'created_at', 'now()', t || '.created_at defaults to now()')
  FROM unnest(ARRAY['users', 'channels', 'messages', 'reactions', 'channel_members', 'files',
	'user_settings', 'user_status', 'message_reads', 'sync_state']) AS t;
SELECT col_not_null('chatgenius', t, 'created_at', t || '.created_at is not null')
  FROM unnest(ARRAY['users', 'channels', 'messages', 'reactions', 'channel_members', 'files',
	'user_settings', 'user_status', 'message_reads', 'sync_state']) AS t;
SELECT has_column('chatgenius', t, 'deleted_at', t || ' is soft-deleted')
  FROM unnest(ARRAY['users', 'channels', 'messages', 'channel_members', 'files']) AS t;
SELECT fk_ok('chatgenius', 'messages', 'thread_id', 'chatgenius', 'messages', 'id');
SELECT fk_ok('chatgenius', 'messages', 'channel_id', 'chatgenius', 'channels', 'id');
SELECT fk_ok('chatgenius', 'channels', 'archived_by', 'chatgenius', 'users', 'id');
SELECT is(pg_get_expr(i.indpred, i.indrelid), '((archived_at IS NULL) AND (deleted_at IS NULL))',
	'channels_live_idx covers live channels')
  FROM pg_index i WHERE i.indexrelid = 'chatgenius.channels_live_idx'::regclass;
SELECT is(pg_get_expr(i.indpred, i.indrelid), '((thread_id IS NULL) AND (deleted_at IS NULL))',
	'messages_channel_history_idx covers live top-level messages')
  FROM pg_index i WHERE i.indexrelid = 'chatgenius.messages_channel_history_idx'::regclass;
SELECT is_empty($$
	SELECT c.conrelid::regclass || '.' || c.conname
	  FROM pg_constraint c
	 WHERE c.contype = 'f' AND c.connamespace = 'chatgenius'::regnamespace
	   AND NOT EXISTS (SELECT FROM pg_index i
		WHERE i.indrelid = c.conrelid AND i.indpred IS NULL
		  AND (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] = c.conkey)$$,
	'every foreign key has an index');
SELECT functions_are('chatgenius', ARRAY['ulid', 'schema_fingerprint', 'health', 'health_summary',
	'pool_stats', 'report_status', 'report_event', 'set_updated_at', 'messages_rules',
	'reactions_rules', 'channels_rules', 'notify_message_change', 'notify_reaction_change',
	'notify_channel_member_change', 'notify_user_status_change', 'schema_migrations_merge',
	'restoring', 'accept_schema', 'forget_tunnel', 'prune_tunnel_events', 'report_status_json',
	'report_event_json', 'realtime_status', 'report_routes', 'realtime_requeue', 'realtime_discard', 'tunnel_writer_check', 'hand_over_tunnel',
	'messages_thread_rules', 'add_tunnel']);
SELECT is_definer('chatgenius', 'report_routes', ARRAY['text', 'text', 'text[]']);
SELECT is_definer('chatgenius', 'report_status_json', ARRAY['jsonb']);
SELECT is_definer('chatgenius', 'report_event_json', ARRAY['jsonb']);
SELECT is_definer('chatgenius', 'report_status', ARRAY['text','text','integer','integer','bigint',
	'text','integer','integer','integer','bigint','integer','bigint','bigint','integer','text','text',
	'timestamp with time zone','boolean']);
SELECT is_definer('chatgenius', 'report_event',
	ARRAY['text','text','text','timestamp with time zone','text']);
SELECT is(p.proconfig, ARRAY['search_path=pg_catalog, pg_temp'], p.proname || ' pins search_path')
  FROM pg_proc p WHERE p.pronamespace = 'chatgenius'::regnamespace AND p.prosecdef ORDER BY p.proname;
-- Which tables pg_dump carries (pg_extension_config_dump): doc/extension.md's
-- dump-policy block, held to extconfig by test/extension/dump_policy.t.
SELECT set_eq($$SELECT tgname::text FROM pg_trigger
		WHERE pg_get_triggerdef(oid) LIKE '%WHEN ((NOT chatgenius.restoring()))%'$$,
	ARRAY['messages_notify', 'reactions_notify', 'channel_members_notify', 'user_status_notify'],
	'the NOTIFY triggers stand aside during a restore (WHEN clause)');
-- One BEFORE trigger per table, in C; the rule functions ask restoring()
-- themselves (the same trigger keeps updated_at, also in a restore).
SELECT is((SELECT string_agg(c.relname || ':' || l.lanname, ' ' ORDER BY c.relname)
		FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
		JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_language l ON l.oid = p.prolang
		WHERE c.relnamespace = 'chatgenius'::regnamespace AND c.relname <> 'schema_migrations'
		  AND NOT t.tgisinternal AND t.tgtype & 2 <> 0),
	'channel_members:c channels:c files:c message_reads:c messages:c reactions:c sync_state:c '
	'user_settings:c user_status:c users:c',
	'one BEFORE trigger per chat table, each in C');
SELECT is(pg_get_triggerdef(t.oid) LIKE '% WHEN %', false, t.tgname::text || ' has no WHEN clause')
  FROM pg_trigger t WHERE t.tgname IN ('messages_rules', 'reactions_rules', 'channels_rules') ORDER BY t.tgname;
-- What needs the statement's other rows is checked once they are all there
-- (1.11): an AFTER row trigger (its function passes top-level messages and
-- a restore's rows by: a WHEN clause costs more, compiled per statement).
SELECT is(pg_get_triggerdef(t.oid),
	'CREATE TRIGGER messages_thread_rules AFTER INSERT OR UPDATE OF thread_id ON chatgenius.messages '
	'FOR EACH ROW EXECUTE FUNCTION chatgenius.messages_thread_rules()',
	'messages_thread_rules: AFTER, for each reply written, at the statement''s end')
  FROM pg_trigger t WHERE t.tgname = 'messages_thread_rules';
SELECT is(string_agg(t.tgname || ': ' || substring(pg_get_triggerdef(t.oid) from 'BEFORE [A-Z ]+ ON'), '; ' ORDER BY t.tgname),
	'channels_rules: BEFORE DELETE OR UPDATE ON; messages_rules: BEFORE INSERT OR DELETE OR UPDATE ON; '
	'reactions_rules: BEFORE INSERT OR DELETE OR UPDATE ON',
	'the rule triggers fire on every write their rules cover (hard deletes, reactions changed in place)')
  FROM pg_trigger t WHERE t.tgname IN ('messages_rules', 'reactions_rules', 'channels_rules');

SELECT * FROM finish();
ROLLBACK;
