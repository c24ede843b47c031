/*
 * config.h
 *		The helper's configuration: command-line flags, then the process
 *		environment, then the env file, then defaults (highest first).
 */
#ifndef CHATGENIUS_CONFIG_H
#define CHATGENIUS_CONFIG_H

#include <stddef.h>
#include <string.h>

#include "exit_codes.h"			/* the exit codes (the public contract) */

/*
 * Most SSH connections in the pool: SSH_POOL_SIZE is refused above it (the
 * pool's slot table has this many entries).
 */
#include <stdbool.h>

#define CONFIG_POOL_SIZE_MAX 64

/* Most database hosts in POSTGRES_REMOTE_HOST's list. */
#define CONFIG_HOSTS_MAX 16

/* One database host as the SSH server reaches it. */
typedef struct tunnel_host
{
	char		name[256];
	int			port;
} tunnel_host;

typedef enum tunnel_command
{
	CMD_RUN,
	CMD_SETUP,
	CMD_VERIFY,
	CMD_STATUS,					/* ask the running helper (status_command.c) */
	CMD_EVENTS,					/* its events (events_command.c) */
	CMD_HELP,
	CMD_VERSION
} tunnel_command;

typedef struct tunnel_config
{
	tunnel_command command;
	bool		json;			/* status --json, events --json */
	bool		follow;			/* events --follow */

	/* PostgreSQL, as seen through the tunnel */
	char	   *postgres_db;		/* POSTGRES_DB */
	char	   *postgres_user;		/* POSTGRES_USER */
	char	   *postgres_password;	/* POSTGRES_PASSWORD (may be NULL: then
									 * libpq's passfile or service) */
	char	   *postgres_passfile;	/* POSTGRES_PASSFILE (NULL: libpq's
									 * PGPASSFILE or ~/.pgpass) */
	char	   *postgres_service;	/* POSTGRES_SERVICE (libpq service) */
	int			listen_port;		/* POSTGRES_PORT: local listening port */
	char	   *listen_host;		/* TUNNEL_LISTEN_HOST (127.0.0.1) */
	char	   *remote_host;		/* POSTGRES_REMOTE_HOST (localhost) */
	int			remote_port;		/* POSTGRES_REMOTE_PORT (5432) */
	tunnel_host hosts[CONFIG_HOSTS_MAX];	/* POSTGRES_REMOTE_HOST as a list
											 * of host[:port] */
	int			nhosts;
	int			standby_port;		/* TUNNEL_STANDBY_PORT (0: off) */
	int			standby_max_lag_ms; /* TUNNEL_STANDBY_MAX_LAG (10000) */
	int			patroni_port;		/* POSTGRES_PATRONI_PORT (0: off) */
	char	   *socket_dir;			/* TUNNEL_SOCKET_DIR (NULL: no Unix socket) */
	int			socket_mode;		/* TUNNEL_SOCKET_MODE (0770) */
	char	   *socket_group;		/* TUNNEL_SOCKET_GROUP (NULL: the helper's) */
	char	   *http_addr;			/* TUNNEL_HTTP_ADDR (NULL: no HTTP endpoint) */
	int			shutdown_timeout_ms;	/* TUNNEL_SHUTDOWN_TIMEOUT (30000): the
										 * drain at SIGTERM */

	/* SSH */
	char	   *ssh_host;			/* SSH_HOST (required) */
	int			ssh_port;			/* SSH_PORT (22) */
	char	   *ssh_user;			/* SSH_USER (required) */
	char	   *ssh_key_path;		/* SSH_KEY_PATH (required, ~ expanded) */
	char	   *ssh_key_passphrase; /* SSH_KEY_PASSPHRASE (optional) */
	char	   *known_hosts;		/* SSH_KNOWN_HOSTS (~/.ssh/known_hosts) */

	/* Reconnection and liveness */
	int			max_retries;		/* SSH_MAX_RETRIES (3) */
	int			retry_delay_ms;		/* SSH_RETRY_DELAY (1000) */
	int			health_interval_ms; /* SSH_HEALTH_CHECK_INTERVAL (30000) */
	int			keepalive_interval_ms;	/* SSH_KEEPALIVE_INTERVAL (15000) */
	int			keepalive_count_max;	/* SSH_KEEPALIVE_COUNT_MAX (3) */
	int			connect_timeout_ms; /* SSH_CONNECT_TIMEOUT (10000): TCP,
									 * handshake and auth */

	/* Pool */
	int			pool_size;			/* SSH_POOL_SIZE (10): SSH connections */
	int			channels_per_session;	/* SSH_CHANNELS_PER_SESSION (32) */
	int			client_wait_ms;		/* TUNNEL_CLIENT_WAIT (10000): how long
									 * a client waits for room */
	int			max_waiting_clients;	/* TUNNEL_MAX_WAITING (64) */
	int			login_timeout_ms;	/* TUNNEL_LOGIN_TIMEOUT (60000): a client
									 * must complete its startup in this */
	int			idle_session_ms;	/* SSH_IDLE_TIMEOUT (60000): idle extra
									 * sessions close after this */

	/* Identity and state */
	char	   *tunnel_name;		/* TUNNEL_NAME (user@host:port) */
	char	   *state_dir;			/* TUNNEL_STATE_DIR
									 * (~/.local/state/chatgenius-tunnel) */
	int			spool_max_events;	/* TUNNEL_SPOOL_MAX (10000) */
	char	   *log_level;			/* TUNNEL_LOG_LEVEL (info) */

	char		tunnel_role[64];	/* the role the service writes as:
									 * POSTGRES_USER of the env file, else of
									 * the environment (setup outranks it with
									 * a superuser), "" when a libpq service
									 * names it */
	char	   *env_file;			/* the env file read, or NULL */
	char	   *warnings;			/* notes about the sources, one
									 * "key=value ..." log field list per line
									 * (unknown names, a dropped password), or
									 * NULL */
} tunnel_config;

/*
 * True when TUNNEL_LISTEN_HOST is "none": no TCP listener (the Unix socket
 * of TUNNEL_SOCKET_DIR, or sockets passed by systemd, only).  The one-shot
 * commands still use TCP on 127.0.0.1.
 */
#define CONFIG_NO_TCP "none"
static inline bool
config_tcp_off(const tunnel_config *cfg)
{
	return cfg->listen_host != NULL && strcmp(cfg->listen_host, CONFIG_NO_TCP) == 0;
}

/*
 * How long one health check may take for SSH_HEALTH_CHECK_INTERVAL: the
 * interval, within 2 s and 10 s, so that a frozen path fails the check
 * quickly but a slow server on a long interval is not cut short.  The
 * reporter bounds each check with it; a check that got through no longer
 * ago than the interval plus this is current (the readiness probe's rule).
 */
static inline int
config_check_timeout_ms(const tunnel_config *cfg)
{
	int			t = cfg->health_interval_ms;

	return t < 2000 ? 2000 : t > 10000 ? 10000 : t;
}

/*
 * Fill *cfg from argv, the environment and the env file.  argv[0] is the
 * program's name, the rest the settings' flags and --env-file with their
 * values (the command words are main.c's: it sets command and json).
 * Returns EXIT_CLEAN on success; otherwise the exit code to use
 * (EXIT_BAD_CONFIG for bad values or usage) with a message naming the
 * variable and the bad value in errbuf.
 */
extern int	config_load(tunnel_config *cfg, int argc, char **argv,
						char *errbuf, size_t errlen);

/*
 * Re-read the env file (SIGHUP).  Only settings that can change without
 * rebinding or reconnecting are taken over (retries, delays, intervals,
 * pool limits, log level): they are copied into *cfg and a new snapshot is
 * published (config_current), then the reload hook runs.  Returns 0, or -1
 * with errbuf filled, *cfg and the snapshot unchanged.
 */
extern int	config_reload(tunnel_config *cfg, char *errbuf, size_t errlen);

/*
 * The current settings, an immutable snapshot: config_load publishes the
 * first, each successful config_reload swaps in a new one atomically.  A
 * reader in any thread takes the pointer once per decision (say, once per
 * loop pass) and reads every field it needs through that one pointer: the
 * values it sees then belong together and never change under it.  A
 * snapshot stays valid until config_free of the loaded configuration (old
 * ones are retired, not freed: reloads are rare).  NULL before config_load.
 */
extern const tunnel_config *config_current(void);

/*
 * Called by config_reload after a new snapshot is published, with that
 * snapshot (main.c applies the log level and the spool's bound): the
 * configuration itself reaches into no other module.
 */
typedef void (*config_reload_hook) (const tunnel_config *snapshot);
extern void config_set_reload_hook(config_reload_hook hook);

/*
 * Parse env file text (len bytes, NUL bytes refused) and convert it as
 * config_load would, ignoring the process environment and the key file.
 * For the fuzz target and tests.  Returns EXIT_CLEAN or EXIT_BAD_CONFIG
 * with errbuf filled.
 */
extern int	config_parse_text(const char *text, size_t len, char *errbuf, size_t errlen);

/*
 * Log each line of a configuration's warnings (tunnel_config.warnings) as
 * a WARN config_warning line.  Returns nothing.
 */
extern void config_log_warnings(const char *warnings);

/*
 * Print --help's part on the settings to stdout (every variable with its
 * default, the signals, the exit codes); main.c prints the usage first.
 */
extern void config_print_help(void);

extern void config_free(tunnel_config *cfg);

#endif							/* CHATGENIUS_CONFIG_H */
