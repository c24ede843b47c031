/*
 * config.c
 *		The helper's settings.  Each variable has one row in the table below
 *		(name, flag, default, range, help); a value comes from the first of:
 *		a command-line flag, the process environment, the env file
 *		(--env-file PATH, else ./.env.local when present), the default.
 *		Here: the table, gathering the sources (the env file's grammar is
 *		env_file.c's), converting and checking the values, reloads, the
 *		published snapshots and --help's settings part.  The command words
 *		are main.c's.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "env_file.h"
#include "log.h"

#define PROGNAME "chatgenius-tunnel"
#define DEFAULT_ENV_FILE ".env.local"

typedef enum var_kind
{
	VAR_STRING,					/* any non-empty text without control chars */
	VAR_HOST,					/* no whitespace */
	VAR_PATH,					/* ~ expanded */
	VAR_SECRET,					/* may be empty, never printed */
	VAR_INT,
	VAR_MODE,					/* file permission bits in octal (0 to 0777) */
	VAR_LEVEL
} var_kind;

/* Kinds stored as an int in tunnel_config (the others as a string). */
#define IS_INT_KIND(k) ((k) == VAR_INT || (k) == VAR_MODE)

typedef struct var_def
{
	const char *name;			/* environment name */
	const char *flag;			/* --flag */
	var_kind	kind;
	const char *def;			/* default as text; NULL: none */
	long		min;
	long		max;
	size_t		offset;			/* into tunnel_config */
	bool		required;
	bool		reloadable;		/* taken over by config_reload */
	const char *help;
} var_def;

#define OFF(f) offsetof(tunnel_config, f)

static const var_def vars[] = {
	{"POSTGRES_DB", "--postgres-db", VAR_STRING, "postgres", 0, 0, OFF(postgres_db), false, false,
	"database the health check connects to"},
	{"POSTGRES_USER", "--postgres-user", VAR_STRING, "postgres", 0, 0, OFF(postgres_user), false, false,
	"role for the health check and for setup (setup needs a superuser)"},
	{"POSTGRES_PASSWORD", NULL, VAR_SECRET, NULL, 0, 0, OFF(postgres_password), false, false,
	"that role's password (never logged; no flag: ps would show it); else libpq's ~/.pgpass"},
	{"POSTGRES_PASSFILE", "--postgres-passfile", VAR_PATH, NULL, 0, 0, OFF(postgres_passfile), false, false,
	"libpq password file to use instead of PGPASSFILE or ~/.pgpass, ~ expanded"},
	{"POSTGRES_SERVICE", "--postgres-service", VAR_STRING, NULL, 0, 0, OFF(postgres_service), false, false,
	"libpq service (PGSERVICEFILE, ~/.pg_service.conf) giving dbname, user, password"},
	{"POSTGRES_PORT", "--postgres-port", VAR_INT, "5432", 0, 65535, OFF(listen_port), false, false,
	"local port the tunnel listens on (0: any free port)"},
	{"TUNNEL_LISTEN_HOST", "--tunnel-listen-host", VAR_HOST, "127.0.0.1", 0, 0, OFF(listen_host), false, false,
	"local address the tunnel listens on (none: no TCP listener, TUNNEL_SOCKET_DIR only)"},
	{"TUNNEL_SOCKET_DIR", "--tunnel-socket-dir", VAR_PATH, NULL, 0, 0, OFF(socket_dir), false, false,
	"folder of a Unix socket .s.PGSQL.<POSTGRES_PORT> beside TCP, as libpq's host=DIR finds it (unset: off)"},
	{"TUNNEL_SOCKET_MODE", "--tunnel-socket-mode", VAR_MODE, "0770", 0, 0777, OFF(socket_mode), false, false,
	"permissions of that socket, in octal: who may connect"},
	{"TUNNEL_SOCKET_GROUP", "--tunnel-socket-group", VAR_HOST, NULL, 0, 0, OFF(socket_group), false, false,
	"group of that socket (unset: the helper's)"},
	{"TUNNEL_HTTP_ADDR", "--tunnel-http-addr", VAR_HOST, NULL, 0, 0, OFF(http_addr), false, false,
	"host:port of the HTTP endpoint: /metrics, /startup, /liveness, /readiness (unset: off)"},
	{"POSTGRES_REMOTE_HOST", "--postgres-remote-host", VAR_HOST, "localhost", 0, 0, OFF(remote_host), false, false,
	"PostgreSQL host as seen from the SSH server; a primary and its standbys: host[:port],..."},
	{"POSTGRES_REMOTE_PORT", "--postgres-remote-port", VAR_INT, "5432", 1, 65535, OFF(remote_port), false, false,
	"PostgreSQL port as seen from the SSH server (for hosts listed without one)"},
	{"POSTGRES_PATRONI_PORT", "--postgres-patroni-port", VAR_INT, NULL, 1, 65535, OFF(patroni_port), false, false,
	"Patroni REST API port on each host; the leader most nodes' DCS views name (GET /cluster) is followed; unset: SQL probes"},
	{"TUNNEL_STANDBY_PORT", "--tunnel-standby-port", VAR_INT, NULL, 1, 65535, OFF(standby_port), false, false,
	"second local port for read-only sessions, routed to a standby (unset: off)"},
	{"TUNNEL_STANDBY_MAX_LAG", "--tunnel-standby-max-lag", VAR_INT, "10000", 0, 86400000, OFF(standby_max_lag_ms), false, false,
	"ms of replay lag above which a standby gets no new read-only sessions"},
	{"SSH_HOST", "--ssh-host", VAR_HOST, NULL, 0, 0, OFF(ssh_host), true, false,
	"SSH server (required)"},
	{"SSH_PORT", "--ssh-port", VAR_INT, "22", 1, 65535, OFF(ssh_port), false, false,
	"SSH server port"},
	{"SSH_USER", "--ssh-user", VAR_HOST, NULL, 0, 0, OFF(ssh_user), true, false,
	"SSH user (required)"},
	{"SSH_KEY_PATH", "--ssh-key-path", VAR_PATH, NULL, 0, 0, OFF(ssh_key_path), true, false,
	"Ed25519 private key, ~ expanded, mode 0600 or stricter (required)"},
	{"SSH_KEY_PASSPHRASE", NULL, VAR_SECRET, NULL, 0, 0, OFF(ssh_key_passphrase), false, false,
	"passphrase of the private key (never logged; no flag: ps would show it)"},
	{"SSH_KNOWN_HOSTS", "--ssh-known-hosts", VAR_PATH, "~/.ssh/known_hosts", 0, 0, OFF(known_hosts), false, false,
	"known_hosts file holding the server's host key, ~ expanded"},
	{"SSH_MAX_RETRIES", "--ssh-max-retries", VAR_INT, "3", 0, 1000000, OFF(max_retries), false, true,
	"reconnection attempts in a row before giving up (exit 4)"},
	{"SSH_RETRY_DELAY", "--ssh-retry-delay", VAR_INT, "1000", 1, 86400000, OFF(retry_delay_ms), false, true,
	"base delay in ms before attempt n: delay * 2^(n-1), +-20% jitter"},
	{"SSH_HEALTH_CHECK_INTERVAL", "--ssh-health-check-interval", VAR_INT, "30000", 100, 86400000, OFF(health_interval_ms), false, true,
	"ms between end-to-end health checks (each writes the heartbeat)"},
	{"SSH_KEEPALIVE_INTERVAL", "--ssh-keepalive-interval", VAR_INT, "15000", 100, 86400000, OFF(keepalive_interval_ms), false, true,
	"ms of silence from the SSH server before a keepalive probe"},
	{"SSH_KEEPALIVE_COUNT_MAX", "--ssh-keepalive-count-max", VAR_INT, "3", 1, 1000, OFF(keepalive_count_max), false, true,
	"silent keepalive intervals before a session is declared dead"},
	{"SSH_CONNECT_TIMEOUT", "--ssh-connect-timeout", VAR_INT, "10000", 100, 3600000, OFF(connect_timeout_ms), false, true,
	"ms allowed for TCP connect, SSH handshake and authentication"},
	{"SSH_POOL_SIZE", "--ssh-pool-size", VAR_INT, "10", 1, CONFIG_POOL_SIZE_MAX, OFF(pool_size), false, true,
	"most SSH connections in the pool"},
	{"SSH_CHANNELS_PER_SESSION", "--ssh-channels-per-session", VAR_INT, "32", 1, 1000, OFF(channels_per_session), false, true,
	"most client channels carried by one SSH connection"},
	{"SSH_IDLE_TIMEOUT", "--ssh-idle-timeout", VAR_INT, "60000", 100, 86400000, OFF(idle_session_ms), false, true,
	"ms after which an idle extra SSH connection closes"},
	{"TUNNEL_CLIENT_WAIT", "--tunnel-client-wait", VAR_INT, "10000", 0, 3600000, OFF(client_wait_ms), false, true,
	"ms a client waits for room in a full pool before it is refused"},
	{"TUNNEL_MAX_WAITING", "--tunnel-max-waiting", VAR_INT, "64", 0, 1000000, OFF(max_waiting_clients), false, true,
	"most clients waiting for room at once (0: none wait; the health check never waits)"},
	{"TUNNEL_SHUTDOWN_TIMEOUT", "--tunnel-shutdown-timeout", VAR_INT, "30000", 0, 86400000, OFF(shutdown_timeout_ms), false, true,
	"ms that served clients may go on after SIGTERM before they are cut (0: at once)"},
	{"TUNNEL_LOGIN_TIMEOUT", "--tunnel-login-timeout", VAR_INT, "60000", 100, 86400000, OFF(login_timeout_ms), false, true,
	"ms a client has from its channel's open to the end of its startup; keep it at or below the server's authentication_timeout"},
	{"TUNNEL_NAME", "--tunnel-name", VAR_STRING, NULL, 0, 0, OFF(tunnel_name), false, false,
	"name of the row in chatgenius.tunnel_status (default: SSH_USER@SSH_HOST:SSH_PORT)"},
	{"TUNNEL_STATE_DIR", "--tunnel-state-dir", VAR_PATH, "~/.local/state/chatgenius-tunnel", 0, 0, OFF(state_dir), false, false,
	"folder of the event spool (created 0700), ~ expanded; under systemd $STATE_DIRECTORY"},
	{"TUNNEL_SPOOL_MAX", "--tunnel-spool-max", VAR_INT, "10000", 1, 10000000, OFF(spool_max_events), false, true,
	"most events kept while the database is out of reach"},
	{"TUNNEL_LOG_LEVEL", "--tunnel-log-level", VAR_LEVEL, "info", 0, 0, OFF(log_level), false, true,
	"debug, info, warn or error"},
};

#define NVARS ((int) (sizeof(vars) / sizeof(vars[0])))

/* Where each variable's raw text came from, highest precedence filled. */
typedef struct raw_values
{
	char	   *value[NVARS];
	const char *source[NVARS];	/* "--flag", "environment", env file path */
	char	   *pw_user;		/* POSTGRES_USER where POSTGRES_PASSWORD was
								 * set (NULL: the default) */
	const char *pw_source;		/* where POSTGRES_PASSWORD was set */
	char	   *service_user;	/* POSTGRES_USER of the lowest layer that
								 * sets it, but the flags (NULL: the
								 * default) */
	char	   *notes;			/* see tunnel_config.warnings */
} raw_values;

/* Kept for config_reload: the flags and env file of the first load. */
static char **saved_flags;
static int	saved_nflags;
static char *saved_env_file;
static bool saved_env_file_explicit;
static const tunnel_config *loaded_cfg;	/* the config that owns them */

/* Format into errbuf.  Returns code, so callers can "return fail(...)". */
static int
fail(char *errbuf, size_t errlen, int code, const char *fmt, ...)
__attribute__((format(printf, 4, 5)));

static int
fail(char *errbuf, size_t errlen, int code, const char *fmt, ...)
{
	va_list		ap;

	if (errbuf != NULL && errlen > 0)
	{
		va_start(ap, fmt);
		vsnprintf(errbuf, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* strdup that never returns NULL: the helper cannot run out of memory here. */
static char *
xstrdup(const char *s)
{
	char	   *d = strdup(s);

	if (d == NULL)
	{
		fputs(PROGNAME ": out of memory\n", stderr);
		exit(EXIT_FAILURE_OTHER);
	}
	return d;
}

/* Index of the variable with that environment name, or -1. */
static int
var_by_name(const char *name)
{
	int			i;

	for (i = 0; i < NVARS; i++)
		if (strcmp(vars[i].name, name) == 0)
			return i;
	return -1;
}

/* Index of POSTGRES_PASSWORD and POSTGRES_USER in vars. */
#define VAR_PASSWORD var_by_name("POSTGRES_PASSWORD")
#define VAR_USER var_by_name("POSTGRES_USER")

/*
 * Index of the variable for a flag ("--ssh-port" or "--ssh-port=22"; flen is
 * the length up to '=' or the end), or -1.
 */
static int
var_by_flag(const char *flag, size_t flen)
{
	int			i;

	for (i = 0; i < NVARS; i++)
		if (vars[i].flag != NULL && strlen(vars[i].flag) == flen &&
			strncmp(vars[i].flag, flag, flen) == 0)
			return i;
	return -1;
}

/* Set raw->value[i] (a copy) with its source, replacing any earlier one. */
static void
raw_set(raw_values *raw, int i, const char *value, const char *source)
{
	free(raw->value[i]);
	raw->value[i] = xstrdup(value);
	raw->source[i] = source;
}

/* Free every gathered raw value.  Returns nothing. */
static void
raw_free(raw_values *raw)
{
	int			i;

	for (i = 0; i < NVARS; i++)
		free(raw->value[i]);
	free(raw->pw_user);
	free(raw->service_user);
	free(raw->notes);
	memset(raw, 0, sizeof(*raw));
}

/* The home folder: $HOME, else the password database.  NULL if none. */
static const char *
home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home != NULL && home[0] != '\0')
		return home;
	pw = getpwuid(getuid());
	return pw != NULL ? pw->pw_dir : NULL;
}

/*
 * Expand a leading "~" or "~/..." (the caller's home) or "~user/...".
 * Returns a new string, or NULL when the user is unknown.
 */
static char *
expand_tilde(const char *path)
{
	const char *rest;
	const char *home;
	char	   *out;
	size_t		len;

	if (path[0] != '~')
		return xstrdup(path);
	rest = strchr(path, '/');
	if (rest == NULL)
		rest = path + strlen(path);
	if (rest == path + 1)
		home = home_dir();
	else
	{
		char		user[256];
		struct passwd *pw;

		len = (size_t) (rest - path - 1);
		if (len >= sizeof(user))
			return NULL;
		memcpy(user, path + 1, len);
		user[len] = '\0';
		pw = getpwnam(user);
		home = pw != NULL ? pw->pw_dir : NULL;
	}
	if (home == NULL)
		return NULL;
	len = strlen(home) + strlen(rest) + 1;
	out = malloc(len);
	if (out == NULL)
		return NULL;
	snprintf(out, len, "%s%s", home, rest);
	return out;
}

/* Prefixes of the helper's names: an unknown name under one is an error. */
static const char *const own_prefixes[] = {"POSTGRES_", "SSH_", "TUNNEL_"};

/* libpq's names, which the env file cannot pass on: the helper's own ones. */
static const char *const libpq_names[][2] = {
	{"PGPASSWORD", "POSTGRES_PASSWORD"},
	{"PGPASSFILE", "POSTGRES_PASSFILE"},
	{"PGSERVICE", "POSTGRES_SERVICE"},
	{"PGDATABASE", "POSTGRES_DB"},
	{"PGUSER", "POSTGRES_USER"},
};

/*
 * Edit distance between a and b, case-insensitive, with a transposition
 * counting as one edit (Damerau-Levenshtein, optimal string alignment).
 * Returns the distance (names are short: both are cut at 63 characters).
 */
static int
name_distance(const char *a, const char *b)
{
	int			d[64][64];
	int			la = (int) strnlen(a, 63);
	int			lb = (int) strnlen(b, 63);
	int			i;
	int			j;

	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++)
		for (j = 1; j <= lb; j++)
		{
			int			cost = toupper((unsigned char) a[i - 1]) != toupper((unsigned char) b[j - 1]);
			int			best = d[i - 1][j] + 1;

			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (d[i - 1][j - 1] + cost < best)
				best = d[i - 1][j - 1] + cost;
			if (i > 1 && j > 1 && toupper((unsigned char) a[i - 1]) == toupper((unsigned char) b[j - 2]) &&
				toupper((unsigned char) a[i - 2]) == toupper((unsigned char) b[j - 1]) &&
				d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	return d[la][lb];
}

/*
 * The known name closest to an unknown one: libpq's own names map to the
 * helper's, else the nearest within a third of the name's length (at
 * least 2 edits).  Returns the name, or NULL when none is close.
 */
static const char *
closest_name(const char *name)
{
	const char *best = NULL;
	int			best_d = INT_MAX;
	int			limit = (int) strlen(name) / 3;
	int			i;

	for (i = 0; i < (int) (sizeof(libpq_names) / sizeof(libpq_names[0])); i++)
		if (strcmp(name, libpq_names[i][0]) == 0)
			return libpq_names[i][1];
	if (limit < 2)
		limit = 2;
	for (i = 0; i < NVARS; i++)
	{
		int			dist = name_distance(name, vars[i].name);

		if (dist < best_d)
		{
			best_d = dist;
			best = vars[i].name;
		}
	}
	return best_d <= limit ? best : NULL;
}

/* True when name starts with one of the helper's prefixes, in any case. */
static bool
has_own_prefix(const char *name)
{
	int			i;

	for (i = 0; i < (int) (sizeof(own_prefixes) / sizeof(own_prefixes[0])); i++)
		if (strncasecmp(name, own_prefixes[i], strlen(own_prefixes[i])) == 0)
			return true;
	return false;
}

/* Append one line of log fields to *notes (a new string).  Returns nothing. */
static void
note_add(char **notes, const char *fmt, ...)
__attribute__((format(printf, 2, 3)));

static void
note_add(char **notes, const char *fmt, ...)
{
	char		line[1024];
	size_t		old = *notes ? strlen(*notes) : 0;
	size_t		add;
	char	   *grown;
	va_list		ap;

	if (notes == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	add = strlen(line);
	grown = realloc(*notes, old + add + 2);
	if (grown == NULL)
		return;
	memcpy(grown + old, line, add);
	grown[old + add] = '\n';
	grown[old + add + 1] = '\0';
	*notes = grown;
}

/* What assign_setting needs: where the values go, and the file's name. */
typedef struct env_target
{
	raw_values *raw;
	char	  **notes;
	const char *path;			/* the pointer raw->source[] records */
} env_target;

/*
 * env_assign_fn for the settings: a known name takes the value (an empty
 * value leaves the name unset); an unknown name under the helper's
 * prefixes is an error (with the closest known name); any other unknown
 * name is a note (the file may be shared with the app).  Returns
 * EXIT_CLEAN or EXIT_BAD_CONFIG with errbuf naming the file and line.
 */
static int
assign_setting(const char *key, const char *value, int lineno, void *arg,
			   char *errbuf, size_t errlen)
{
	env_target *t = arg;
	int			i = var_by_name(key);
	const char *near;
	char		q[1024];

	if (i >= 0)
	{
		if (value[0] != '\0')
			raw_set(t->raw, i, value, t->path);
		return EXIT_CLEAN;
	}
	near = closest_name(key);
	if (has_own_prefix(key))
		return fail(errbuf, errlen, EXIT_BAD_CONFIG,
					"unknown variable %s at line %d in env file \"%s\"%s%s%s", key, lineno, t->path,
					near ? " (did you mean " : " (see --help for the names)",
					near ? near : "", near ? "?)" : "");
	note_add(t->notes, "file=%s line=%d variable=%s reason=\"not a chatgenius-tunnel setting, ignored\"%s%s%s",
			 log_quote(q, sizeof(q), t->path), lineno, key,
			 near ? " hint=\"did you mean " : "", near ? near : "", near ? "?\"" : "");
	return EXIT_CLEAN;
}

/*
 * Parse env file text (env_file.c's grammar) into raw, naming the file as
 * path.  Returns EXIT_CLEAN or EXIT_BAD_CONFIG with errbuf naming the file
 * and line.
 */
static int
parse_env_text(const char *text, size_t tlen, const char *path, raw_values *raw,
			   char **notes, char *errbuf, size_t errlen)
{
	env_target	t = {raw, notes, path};

	return env_file_parse(text, tlen, path, assign_setting, &t, errbuf, errlen);
}

/*
 * An env file that holds a secret is treated like a private key: readable
 * by group or others, it is refused, in OpenSSH's words.  A file without
 * secrets (the app's settings, say) may stay readable.  st is the file's
 * own fstat, so the mode judged is the one of the file read.  Returns
 * EXIT_CLEAN or EXIT_BAD_CONFIG naming the file, its mode and the secret.
 */
static int
check_env_file_mode(const char *path, const struct stat *st, const raw_values *raw,
					char *errbuf, size_t errlen)
{
	int			i;

	if ((st->st_mode & 077) == 0)
		return EXIT_CLEAN;
	for (i = 0; i < NVARS; i++)
		if (vars[i].kind == VAR_SECRET && raw->value[i] != NULL &&
			raw->source[i] != NULL && strcmp(raw->source[i], path) == 0)
			return fail(errbuf, errlen, EXIT_BAD_CONFIG,
						"Bad permissions on env file \"%s\": it holds %s, and permissions "
						"0%03o are too open. It is required that a file holding secrets is NOT "
						"accessible by others (chmod 600 \"%s\").",
						path, vars[i].name, (unsigned int) (st->st_mode & 0777), path);
	return EXIT_CLEAN;
}

/*
 * Read an env file (at most ENV_FILE_MAX bytes) and parse it.  Returns
 * EXIT_CLEAN or EXIT_BAD_CONFIG with errbuf naming the file.
 */
static int
read_env_file(const char *path, raw_values *raw, char **notes, char *errbuf, size_t errlen)
{
	char	   *text;
	size_t		n;
	struct stat st;
	int			rc;

	rc = env_file_read(path, &text, &n, &st, errbuf, errlen);
	if (rc != EXIT_CLEAN)
		return rc;
	rc = parse_env_text(text, n, path, raw, notes, errbuf, errlen);
	if (rc == EXIT_CLEAN)
		rc = check_env_file_mode(path, &st, raw, errbuf, errlen);
	explicit_bzero(text, n);	/* the secrets are copied out by now */
	free(text);
	return rc;
}

/* Parse a whole decimal integer within [min,max].  Returns 0 or -1. */
static int
parse_int(const char *s, long min, long max, int *out)
{
	char	   *end;
	long		v;

	errno = 0;
	if (!isdigit((unsigned char) s[0]) && !(s[0] == '-' && isdigit((unsigned char) s[1])))
		return -1;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int) v;
	return 0;
}

/* True when s holds a control character (or, if no_space, white space). */
static bool
has_bad_chars(const char *s, bool no_space)
{
	for (; *s; s++)
		if ((unsigned char) *s < ' ' || *s == 0x7f || (no_space && *s == ' '))
			return true;
	return false;
}

/*
 * Split POSTGRES_REMOTE_HOST into cfg->hosts, as libpq reads host=a,b:
 * comma-separated host[:port], a missing port being POSTGRES_REMOTE_PORT.
 * A name with more than one colon is an IPv6 address without a port,
 * unless bracketed ([::1]:5432).  Returns EXIT_CLEAN or EXIT_BAD_CONFIG.
 */
static int
parse_host_list(tunnel_config *cfg, char *errbuf, size_t errlen)
{
	const char *p = cfg->remote_host;

	cfg->nhosts = 0;
	while (p != NULL)
	{
		const char *comma = strchr(p, ',');
		size_t		len = comma ? (size_t) (comma - p) : strlen(p);
		char		item[sizeof(cfg->hosts[0].name)];
		char	   *colon,
				   *host;
		tunnel_host *h;

		if (len == 0 || len >= sizeof(item) || cfg->nhosts == CONFIG_HOSTS_MAX)
			return fail(errbuf, errlen, EXIT_BAD_CONFIG,
						"invalid value for POSTGRES_REMOTE_HOST: \"%s\" (expected at most %d "
						"comma-separated host[:port])", cfg->remote_host, CONFIG_HOSTS_MAX);
		memcpy(item, p, len);
		item[len] = '\0';
		h = &cfg->hosts[cfg->nhosts++];
		h->port = cfg->remote_port;
		host = item;
		colon = strrchr(item, ':');
		if (item[0] == '[')
		{
			char	   *close = strchr(item, ']');

			if (close == NULL || (close[1] != '\0' && close[1] != ':'))
				return fail(errbuf, errlen, EXIT_BAD_CONFIG,
							"invalid value for POSTGRES_REMOTE_HOST: \"%s\" (bad [address])", item);
			*close = '\0';
			host = item + 1;
			colon = close[1] == ':' ? close + 1 : NULL;
		}
		else if (colon != NULL && strchr(item, ':') != colon)
			colon = NULL;		/* a bare IPv6 address */
		if (colon != NULL)
		{
			*colon = '\0';
			if (parse_int(colon + 1, 1, 65535, &h->port) != 0)
				return fail(errbuf, errlen, EXIT_BAD_CONFIG,
							"invalid value for POSTGRES_REMOTE_HOST: \"%s\" (bad port \"%s\")",
							cfg->remote_host, colon + 1);
		}
		if (host[0] == '\0')
			return fail(errbuf, errlen, EXIT_BAD_CONFIG,
						"invalid value for POSTGRES_REMOTE_HOST: \"%s\" (empty host name)",
						cfg->remote_host);
		snprintf(h->name, sizeof(h->name), "%s", host);
		p = comma ? comma + 1 : NULL;
	}
	return EXIT_CLEAN;
}

/*
 * Parse permission bits in octal ("0770", "770").  Returns 0 with *out
 * set, or -1 when text is not octal or above max.
 */
static int
parse_mode(const char *text, long max, int *out)
{
	char	   *end;
	long		v;

	if (text[0] == '\0' || strspn(text, "01234567") != strlen(text))
		return -1;
	errno = 0;
	v = strtol(text, &end, 8);
	if (errno != 0 || *end != '\0' || v < 0 || v > max)
		return -1;
	*out = (int) v;
	return 0;
}

/*
 * Convert every raw value (or default) into cfg.  Returns EXIT_CLEAN or
 * EXIT_BAD_CONFIG with a message naming the variable and the bad value.
 */
static int
apply_values(tunnel_config *cfg, raw_values *raw, char *errbuf, size_t errlen)
{
	char		missing[512] = "";
	int			i;

	for (i = 0; i < NVARS; i++)
		if (vars[i].required && raw->value[i] == NULL)
		{
			if (missing[0])
				strncat(missing, ", ", sizeof(missing) - strlen(missing) - 1);
			strncat(missing, vars[i].name, sizeof(missing) - strlen(missing) - 1);
		}
	if (missing[0])
		return fail(errbuf, errlen, EXIT_BAD_CONFIG,
					"Missing required environment variables: %s", missing);

	for (i = 0; i < NVARS; i++)
	{
		const var_def *v = &vars[i];
		const char *text = raw->value[i] ? raw->value[i] : v->def;
		const char *state_directory = getenv("STATE_DIRECTORY");
		char	  **sp = (char **) ((char *) cfg + v->offset);
		int		   *ip = (int *) ((char *) cfg + v->offset);
		log_level	level;

		/* a libpq service names the database and role unless given here */
		if (raw->value[i] == NULL && raw->value[var_by_name("POSTGRES_SERVICE")] != NULL &&
			(v->offset == OFF(postgres_db) || v->offset == OFF(postgres_user)))
			continue;
		/* under systemd, StateDirectory= is the default state folder */
		if (raw->value[i] == NULL && v->offset == OFF(state_dir) &&
			state_directory != NULL && state_directory[0] == '/' &&
			strchr(state_directory, ':') == NULL)
			text = state_directory;
		if (text == NULL)
			continue;			/* optional, no default: stays NULL */
		switch (v->kind)
		{
			case VAR_INT:
				if (parse_int(text, v->min, v->max, ip) != 0)
					return fail(errbuf, errlen, EXIT_BAD_CONFIG,
								"invalid value for %s: \"%s\" (expected an integer from %ld to %ld)",
								v->name, text, v->min, v->max);
				break;
			case VAR_MODE:
				if (parse_mode(text, v->max, ip) != 0)
					return fail(errbuf, errlen, EXIT_BAD_CONFIG,
								"invalid value for %s: \"%s\" (expected permission bits in octal, "
								"0000 to 0%lo)", v->name, text, v->max);
				break;
			case VAR_LEVEL:
				if (log_parse_level(text, &level) != 0)
					return fail(errbuf, errlen, EXIT_BAD_CONFIG,
								"invalid value for %s: \"%s\" (expected debug, info, warn or error)",
								v->name, text);
				*sp = xstrdup(text);
				break;
			case VAR_HOST:
			case VAR_STRING:
				if (has_bad_chars(text, v->kind == VAR_HOST))
					return fail(errbuf, errlen, EXIT_BAD_CONFIG,
								"invalid value for %s: \"%s\" (expected %s)", v->name, text,
								v->kind == VAR_HOST ? "a name without spaces" : "text without control characters");
				*sp = xstrdup(text);
				break;
			case VAR_SECRET:
				*sp = xstrdup(text);
				break;
			case VAR_PATH:
				*sp = expand_tilde(text);
				if (*sp == NULL)
					return fail(errbuf, errlen, EXIT_BAD_CONFIG,
								"invalid value for %s: \"%s\" (cannot expand ~)", v->name, text);
				break;
		}
	}

	if (parse_host_list(cfg, errbuf, errlen) != EXIT_CLEAN)
		return EXIT_BAD_CONFIG;
	/* the role the service writes as (a libpq service may name it: unknown) */
	if (raw->service_user != NULL)
		snprintf(cfg->tunnel_role, sizeof(cfg->tunnel_role), "%s", raw->service_user);
	else if (raw->value[var_by_name("POSTGRES_SERVICE")] == NULL)
		snprintf(cfg->tunnel_role, sizeof(cfg->tunnel_role), "%s", vars[VAR_USER].def);
	if (cfg->tunnel_name == NULL)
	{
		size_t		len = strlen(cfg->ssh_user) + strlen(cfg->ssh_host) + 16;

		cfg->tunnel_name = malloc(len);
		if (cfg->tunnel_name == NULL)
			return fail(errbuf, errlen, EXIT_FAILURE_OTHER, "out of memory");
		snprintf(cfg->tunnel_name, len, "%s@%s:%d", cfg->ssh_user, cfg->ssh_host, cfg->ssh_port);
	}
	return EXIT_CLEAN;
}

/*
 * Check that the key file exists and is a regular file (its permissions
 * are the SSH side's business).  Returns EXIT_CLEAN or EXIT_BAD_CONFIG.
 */
static int
check_key_file(const tunnel_config *cfg, char *errbuf, size_t errlen)
{
	struct stat st;

	if (stat(cfg->ssh_key_path, &st) != 0)
		return fail(errbuf, errlen, EXIT_BAD_CONFIG, "SSH key file not found at path: %s%s%s",
					cfg->ssh_key_path, errno == ENOENT ? "" : ": ",
					errno == ENOENT ? "" : strerror(errno));
	if (!S_ISREG(st.st_mode))
		return fail(errbuf, errlen, EXIT_BAD_CONFIG,
					"invalid value for SSH_KEY_PATH: \"%s\" (not a regular file)", cfg->ssh_key_path);
	return EXIT_CLEAN;
}

/*
 * After a layer of sources: when it set POSTGRES_PASSWORD, remember the
 * role that password belongs to (the POSTGRES_USER in force at that
 * layer).  Returns nothing.
 */
static void
remember_password_role(raw_values *raw, const char *layer)
{
	int			pw = VAR_PASSWORD;
	int			user = VAR_USER;

	if (raw->value[pw] == NULL || raw->source[pw] != layer)
		return;
	free(raw->pw_user);
	raw->pw_user = raw->value[user] ? xstrdup(raw->value[user]) : NULL;
	raw->pw_source = layer;
}

/*
 * After the env file, then the environment: the role the service writes
 * as is the POSTGRES_USER of the lowest layer that sets it (the env file's
 * for a deployment), which setup outranks with a superuser (its flag, or
 * its own environment).  Returns nothing.
 */
static void
remember_service_user(raw_values *raw)
{
	int			user = VAR_USER;

	if (raw->service_user == NULL && raw->value[user] != NULL)
		raw->service_user = xstrdup(raw->value[user]);
}

/*
 * A password belongs to the role it was written for: when a higher layer
 * (say --postgres-user on setup's command line) names another role, the
 * password is dropped and libpq's passfile, service or a prompt supplies
 * that role's.  Returns nothing; a note says so.
 */
static void
drop_foreign_password(raw_values *raw)
{
	int			pw = VAR_PASSWORD;
	int			user = VAR_USER;
	const char *for_role = raw->pw_user ? raw->pw_user : "postgres";
	const char *role = raw->value[user] ? raw->value[user] : "postgres";
	char		q[2][512];

	if (raw->value[pw] == NULL || strcmp(for_role, role) == 0)
		return;
	{
		char		q3[512];

		note_add(&raw->notes, "variable=POSTGRES_PASSWORD source=%s for_role=%s role=%s "
				 "reason=\"the password of another role: not used (libpq's passfile, service or "
				 "a prompt supplies this role's)\"",
				 log_quote(q[0], sizeof(q[0]), raw->pw_source),
				 log_quote(q[1], sizeof(q[1]), for_role), log_quote(q3, sizeof(q3), role));
	}
	free(raw->value[pw]);
	raw->value[pw] = NULL;
	raw->source[pw] = NULL;
}

/*
 * Gather raw values from the env file, the environment and the flags
 * (in rising precedence).  Returns EXIT_CLEAN or EXIT_BAD_CONFIG.
 */
static int
gather(raw_values *raw, const char *env_file, bool env_file_explicit,
	   char **flags, int nflags, char *errbuf, size_t errlen)
{
	int			i;
	int			rc;

	if (env_file != NULL)
	{
		if (env_file_explicit || access(env_file, F_OK) == 0)
		{
			rc = read_env_file(env_file, raw, &raw->notes, errbuf, errlen);
			if (rc != EXIT_CLEAN)
				return rc;
			remember_password_role(raw, env_file);
			remember_service_user(raw);
		}
	}
	for (i = 0; i < NVARS; i++)
	{
		const char *e = getenv(vars[i].name);

		if (e != NULL && e[0] != '\0')
			raw_set(raw, i, e, "environment");
	}
	remember_password_role(raw, "environment");
	remember_service_user(raw);
	for (i = 0; i + 1 < nflags; i += 2)
	{
		int			v = var_by_flag(flags[i], strlen(flags[i]));

		if (v >= 0 && flags[i + 1][0] != '\0')
			raw_set(raw, v, flags[i + 1], vars[v].flag);
	}
	drop_foreign_password(raw);
	return EXIT_CLEAN;
}

/* Free the flag pairs kept for reload. */
static void
free_saved(void)
{
	int			i;

	for (i = 0; i < saved_nflags; i++)
		free(saved_flags[i]);
	free(saved_flags);
	free(saved_env_file);
	saved_flags = NULL;
	saved_nflags = 0;
	saved_env_file = NULL;
}

/*
 * The absolute form of path (relative to the working directory), so that
 * a reload reads the same file.  Returns a new string.
 */
static char *
absolute_path(const char *path)
{
	char		cwd[PATH_MAX];
	size_t		len;
	char	   *out;

	if (path[0] == '/' || getcwd(cwd, sizeof(cwd)) == NULL)
		return xstrdup(path);
	len = strlen(cwd) + strlen(path) + 2;
	out = malloc(len);
	if (out == NULL)
		return xstrdup(path);
	snprintf(out, len, "%s/%s", cwd, path);
	return out;
}

/* ---------------------------------------------------------------- snapshots */

static _Atomic(const tunnel_config *) snapshot;	/* see config_current */
static tunnel_config **published;	/* every snapshot, freed by config_free */
static int	npublished;
static config_reload_hook reload_hook;

/*
 * A deep copy of src's settings (not its warnings).  Returns the copy, or
 * NULL when out of memory.
 */
static tunnel_config *
config_copy(const tunnel_config *src)
{
	tunnel_config *c = malloc(sizeof(*c));
	int			i;

	if (c == NULL)
		return NULL;
	*c = *src;
	c->warnings = NULL;
	c->env_file = src->env_file ? strdup(src->env_file) : NULL;
	for (i = 0; i < NVARS; i++)
		if (!IS_INT_KIND(vars[i].kind))
		{
			char	  **sp = (char **) ((char *) c + vars[i].offset);

			if (*sp != NULL)
				*sp = strdup(*sp);
		}
	return c;
}

/*
 * Publish a copy of cfg as the current snapshot (one atomic store; the one
 * it replaces stays readable).  Returns 0, or -1 when out of memory.
 */
static int
publish_copy(const tunnel_config *cfg)
{
	tunnel_config *c = config_copy(cfg);
	tunnel_config **grown;

	if (c == NULL)
		return -1;
	grown = realloc(published, sizeof(*published) * (size_t) (npublished + 1));
	if (grown == NULL)
	{
		config_free(c);
		free(c);
		return -1;
	}
	published = grown;
	published[npublished++] = c;
	atomic_store_explicit(&snapshot, c, memory_order_release);
	return 0;
}

/* See config.h.  Returns the snapshot, or NULL before config_load. */
const tunnel_config *
config_current(void)
{
	return atomic_load_explicit(&snapshot, memory_order_acquire);
}

/* See config.h.  Returns nothing. */
void
config_set_reload_hook(config_reload_hook hook)
{
	reload_hook = hook;
}

/* Free every snapshot (at the end, with the loaded configuration). */
static void
free_snapshots(void)
{
	int			i;

	atomic_store(&snapshot, NULL);
	for (i = 0; i < npublished; i++)
	{
		config_free(published[i]);
		free(published[i]);
	}
	free(published);
	published = NULL;
	npublished = 0;
}

/*
 * Flags that once took a secret: ps shows a command line to every user.
 * Returns EXIT_BAD_CONFIG with a message saying where the secret goes now,
 * or EXIT_CLEAN for any other flag.
 */
static int
removed_flag(const char *flag, size_t flen, char *errbuf, size_t errlen)
{
	static const char *const removed[][2] = {
		{"--postgres-password", "POSTGRES_PASSWORD"},
		{"--ssh-key-passphrase", "SSH_KEY_PASSPHRASE"},
	};
	int			i;

	for (i = 0; i < (int) (sizeof(removed) / sizeof(removed[0])); i++)
		if (strlen(removed[i][0]) == flen && strncmp(flag, removed[i][0], flen) == 0)
			return fail(errbuf, errlen, EXIT_BAD_CONFIG,
						"option %s was removed: a secret on the command line is visible to "
						"every user through ps; set %s in the env file (mode 0600) or the "
						"environment%s", removed[i][0], removed[i][1],
						i == 0 ? ", or use libpq's ~/.pgpass (POSTGRES_PASSFILE)" : "");
	return EXIT_CLEAN;
}

/*
 * Take the settings' flags (--flag VALUE or --flag=VALUE, kept in
 * saved_flags for reloads) and --env-file (*env_file) from argv.  Returns
 * EXIT_CLEAN, or EXIT_BAD_CONFIG with the reason in errbuf.
 */
static int
take_flags(int argc, char **argv, const char **env_file, char *errbuf, size_t errlen)
{
	int			i;

	saved_flags = calloc((size_t) (argc > 0 ? argc : 1) * 2, sizeof(char *));
	if (saved_flags == NULL)
		return fail(errbuf, errlen, EXIT_FAILURE_OTHER, "out of memory");
	for (i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		const char *eq = strchr(a, '=');
		size_t		flen = eq ? (size_t) (eq - a) : strlen(a);
		bool		is_env_file = flen == strlen("--env-file") && strncmp(a, "--env-file", flen) == 0;
		const char *value;
		int			v;
		int			rc;

		if (strncmp(a, "--", 2) != 0)
			return fail(errbuf, errlen, EXIT_BAD_CONFIG, "unknown option: %s", a);
		rc = removed_flag(a, flen, errbuf, errlen);
		if (rc != EXIT_CLEAN)
			return rc;
		if (eq)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else if (is_env_file)
			return fail(errbuf, errlen, EXIT_BAD_CONFIG, "option --env-file needs a value");
		else if (var_by_flag(a, flen) < 0)
			return fail(errbuf, errlen, EXIT_BAD_CONFIG, "unknown option: %s", a);
		else
			return fail(errbuf, errlen, EXIT_BAD_CONFIG, "option %.*s needs a value", (int) flen, a);
		if (is_env_file)
		{
			*env_file = value;
			continue;
		}
		v = var_by_flag(a, flen);
		if (v < 0)
			return fail(errbuf, errlen, EXIT_BAD_CONFIG, "unknown option: %.*s", (int) flen, a);
		saved_flags[saved_nflags++] = xstrdup(vars[v].flag);
		saved_flags[saved_nflags++] = xstrdup(value);
	}
	return EXIT_CLEAN;
}

/*
 * Settle which env file to read (saved_env_file, absolute, for reloads):
 * the --env-file given, which must be readable, else ./.env.local when
 * present.  Returns EXIT_CLEAN, or EXIT_BAD_CONFIG with the reason.
 */
static int
locate_env_file(const char *env_file, char *errbuf, size_t errlen)
{
	char	   *expanded;

	if (env_file == NULL)
	{
		saved_env_file = absolute_path(DEFAULT_ENV_FILE);
		saved_env_file_explicit = false;
		return EXIT_CLEAN;
	}
	expanded = expand_tilde(env_file);
	if (expanded == NULL)
		return fail(errbuf, errlen, EXIT_BAD_CONFIG, "invalid env file path: \"%s\"", env_file);
	saved_env_file = absolute_path(expanded);
	free(expanded);
	saved_env_file_explicit = true;
	if (access(saved_env_file, R_OK) != 0)
		return fail(errbuf, errlen, EXIT_BAD_CONFIG, "cannot read env file \"%s\": %s",
					env_file, strerror(errno));
	return EXIT_CLEAN;
}

/*
 * See config.h: argv holds the settings' flags and --env-file (main.c
 * took the command words).  Each step runs only when the ones before it
 * succeeded; a failure leaves by the one path at the end.  Returns
 * EXIT_CLEAN, or EXIT_BAD_CONFIG with the reason in errbuf.
 */
int
config_load(tunnel_config *cfg, int argc, char **argv, char *errbuf, size_t errlen)
{
	raw_values	raw;
	const char *env_file = NULL;
	int			rc;

	memset(cfg, 0, sizeof(*cfg));
	memset(&raw, 0, sizeof(raw));
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	free_saved();
	rc = take_flags(argc, argv, &env_file, errbuf, errlen);
	if (rc == EXIT_CLEAN)
		rc = locate_env_file(env_file, errbuf, errlen);
	if (rc == EXIT_CLEAN)
		rc = gather(&raw, saved_env_file, saved_env_file_explicit, saved_flags, saved_nflags,
					errbuf, errlen);
	if (rc == EXIT_CLEAN)
		rc = apply_values(cfg, &raw, errbuf, errlen);
	cfg->warnings = raw.notes;
	raw.notes = NULL;
	raw_free(&raw);
	if (rc == EXIT_CLEAN)
		rc = check_key_file(cfg, errbuf, errlen);
	if (rc == EXIT_CLEAN && publish_copy(cfg) != 0)
		rc = fail(errbuf, errlen, EXIT_FAILURE_OTHER, "out of memory");
	if (rc != EXIT_CLEAN)
	{
		config_free(cfg);
		free_saved();
		return rc;
	}
	if (saved_env_file_explicit || access(saved_env_file, F_OK) == 0)
		cfg->env_file = xstrdup(saved_env_file);
	loaded_cfg = cfg;
	return EXIT_CLEAN;
}

/* See config.h: one WARN line per note.  Returns nothing. */
void
config_log_warnings(const char *notes)
{
	const char *p = notes;

	while (p != NULL && *p != '\0')
	{
		const char *nl = strchr(p, '\n');
		int			len = nl ? (int) (nl - p) : (int) strlen(p);
		char		line[1024];

		/* note_add quoted every free-form value: write the note as it is */
		snprintf(line, sizeof(line), "%.*s", len, p);
		log_msg_formatted(LOG_WARN, "config_warning", line);
		p = nl ? nl + 1 : NULL;
	}
}

/* See config.h: parse and convert text as an env file.  Returns the code. */
int
config_parse_text(const char *text, size_t len, char *errbuf, size_t errlen)
{
	raw_values	raw;
	tunnel_config cfg;
	int			rc;

	memset(&raw, 0, sizeof(raw));
	memset(&cfg, 0, sizeof(cfg));
	rc = parse_env_text(text, len, "input", &raw, &raw.notes, errbuf, errlen);
	if (rc == EXIT_CLEAN)
	{
		remember_password_role(&raw, "input");
		drop_foreign_password(&raw);
		rc = apply_values(&cfg, &raw, errbuf, errlen);
	}
	raw_free(&raw);
	config_free(&cfg);
	return rc;
}

/* Compare two optional strings.  Returns true when they differ. */
static bool
str_differs(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a != b;
	return strcmp(a, b) != 0;
}

/*
 * Re-read the same sources and take over the reloadable settings.  Logs
 * each change, and warns about changed settings that need a restart.
 * Returns 0, or -1 with errbuf filled and *cfg unchanged.
 */
int
config_reload(tunnel_config *cfg, char *errbuf, size_t errlen)
{
	tunnel_config fresh;
	raw_values	raw;
	int			rc;
	int			i;
	int			changed = 0;

	memset(&fresh, 0, sizeof(fresh));
	memset(&raw, 0, sizeof(raw));
	if (saved_env_file == NULL)
	{
		fail(errbuf, errlen, -1, "configuration was never loaded");
		return -1;
	}
	rc = gather(&raw, saved_env_file, saved_env_file_explicit, saved_flags, saved_nflags,
				errbuf, errlen);
	if (rc == EXIT_CLEAN)
		rc = apply_values(&fresh, &raw, errbuf, errlen);
	if (rc == EXIT_CLEAN)
		rc = check_key_file(&fresh, errbuf, errlen);
	if (rc != EXIT_CLEAN)
	{
		size_t		l = errbuf ? strnlen(errbuf, errlen) : 0;

		if (errbuf != NULL && l + 1 < errlen)
			snprintf(errbuf + l, errlen - l, "; the running configuration is kept");
		raw_free(&raw);
		config_free(&fresh);
		return -1;
	}
	config_log_warnings(raw.notes);
	raw_free(&raw);

	for (i = 0; i < NVARS; i++)
	{
		const var_def *v = &vars[i];
		char	  **oldp = (char **) ((char *) cfg + v->offset);
		char	  **newp = (char **) ((char *) &fresh + v->offset);
		int		   *oldi = (int *) ((char *) cfg + v->offset);
		int		   *newi = (int *) ((char *) &fresh + v->offset);
		bool		differs;

		if (IS_INT_KIND(v->kind))
			differs = *oldi != *newi;
		else
			differs = str_differs(*oldp, *newp);
		if (!differs)
			continue;
		if (!v->reloadable)
		{
			log_msg(LOG_WARN, "config_reload_ignored", "variable=%s reason=\"restart to apply\"",
					v->name);
			continue;
		}
		changed++;
		if (IS_INT_KIND(v->kind))
		{
			log_msg(LOG_INFO, "config_changed", "variable=%s old=%d new=%d", v->name,
					*oldi, *newi);
			*oldi = *newi;
		}
		else
		{
			char	   *tmp = *oldp;

			log_msg(LOG_INFO, "config_changed", "variable=%s old=%s new=%s", v->name,
					tmp ? tmp : "", *newp);
			*oldp = *newp;
			*newp = tmp;
		}
	}
	if (publish_copy(cfg) == 0 && reload_hook != NULL)
		reload_hook(config_current());
	if (changed == 0)
		log_msg(LOG_INFO, "config_unchanged", "env_file=%s",
				cfg->env_file ? cfg->env_file : "none");
	config_free(&fresh);
	return 0;
}

/*
 * Print --help's part on the settings (after main.c's usage): where they
 * come from, every variable with its default, the signals and the exit
 * codes.
 */
void
config_print_help(void)
{
	int			i;
	char		range[64];	/* an integer's bounds, as the table has them */

	printf("Configuration, highest first: command-line flags, the environment, the env file\n"
		   "(--env-file PATH, else ./%s when present), defaults.  In the env file an\n"
		   "unknown name under POSTGRES_, SSH_ or TUNNEL_ is an error (exit 2); other\n"
		   "unknown names are reported and ignored.\n\n", DEFAULT_ENV_FILE);
	printf("Options:\n"
		   "  --env-file PATH   read settings from PATH instead of ./%s\n"
		   "  --json            status, events: the report as JSON\n"
		   "  --follow          events: each event as it happens\n\n", DEFAULT_ENV_FILE);
	printf("Variables (flag, default):\n");
	for (i = 0; i < NVARS; i++)
	{
		const var_def *v = &vars[i];
		const char *def = v->def;

		if (v->offset == OFF(tunnel_name))
			def = "SSH_USER@SSH_HOST:SSH_PORT";
		range[0] = '\0';
		if (v->kind == VAR_INT)
			snprintf(range, sizeof(range), " (%ld to %ld)", v->min, v->max);
		else if (v->kind == VAR_MODE)
			snprintf(range, sizeof(range), " (octal, 0000 to 0%lo)", v->max);
		printf("  %-26s %-29s default: %s\n      %s%s%s\n", v->name,
			   v->flag ? v->flag : "(no flag: a secret)",
			   v->required ? "(required)" : def ? def : "(none)", v->help, range,
			   v->reloadable ? " [SIGHUP]" : "");
	}
	printf("\nSignals: SIGTERM stops taking clients and lets the served ones finish\n"
		   "(TUNNEL_SHUTDOWN_TIMEOUT); a second SIGTERM, or SIGINT, stops at once; SIGHUP\n"
		   "re-reads the configuration and takes over the settings marked [SIGHUP];\n"
		   "SIGUSR1 logs the pool figures.\n\n");
	printf("Exit status:\n"
		   "  0  clean stop (or: verify found no critical check)\n"
		   "  1  other failure (verify: a critical check, or the database is unreachable)\n"
		   "  2  bad configuration or usage\n"
		   "  3  authentication refused, host key unknown or changed, or a private key\n"
		   "     readable by others (never retried)\n"
		   "  4  gave up: max retries exceeded\n");
}

/* Free every string in cfg and zero it.  Returns nothing. */
void
config_free(tunnel_config *cfg)
{
	int			i;

	for (i = 0; i < NVARS; i++)
	{
		if (!IS_INT_KIND(vars[i].kind))
		{
			char	  **sp = (char **) ((char *) cfg + vars[i].offset);

			free(*sp);
			*sp = NULL;
		}
	}
	free(cfg->env_file);
	free(cfg->warnings);
	if (cfg == loaded_cfg)
	{
		free_saved();
		free_snapshots();
		loaded_cfg = NULL;
	}
	memset(cfg, 0, sizeof(*cfg));
}
