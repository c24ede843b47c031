/*
 * main.c
 *		chatgenius-tunnel: read the command word, parse the configuration
 *		(config.c), install the signal handlers, then run the tunnel in the
 *		foreground or one of the one-shot commands.
 */
#include <libpq-fe.h>
#include <libssh2.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "config.h"
#include "escape.h"
#include "event_stream.h"
#include "events.h"
#include "http_server.h"
#include "listen_fds.h"
#include "log.h"
#include "sd_notify.h"
#include "spool.h"
#include "stats.h"
#include "status_board.h"
#include "status_socket.h"
#include "tunnel.h"

#ifndef CHATGENIUS_VERSION
#define CHATGENIUS_VERSION "unknown"
#endif

/*
 * The first SIGTERM: stop taking clients and let the served ones finish
 * (TUNNEL_SHUTDOWN_TIMEOUT), as PgBouncer's safe shutdown and Cloud SQL
 * Auth Proxy's --max-sigterm-delay do; a second SIGTERM, or SIGINT, stops
 * at once.  systemd is told at once (the janitor may be in the middle of
 * a health check).  Async-signal-safe.
 */
static atomic_int stop_signals;

static void
on_stop(int signo)
{
	sd_notify_from_signal("STOPPING=1");
	if (signo == SIGTERM && atomic_fetch_add(&stop_signals, 1) == 0)
		tunnel_request_drain();
	else
		tunnel_request_stop();
}

/* SIGHUP: ask the janitor to re-read the configuration. */
static void
on_reload(int signo)
{
	tunnel_request_reload();
}

/* SIGUSR1: ask the janitor to log the pool figures. */
static void
on_stats(int signo)
{
	tunnel_request_stats_log();
}

/*
 * Install the handlers (SA_RESTART so that blocking calls resume) and
 * ignore SIGPIPE: a client that goes away must not kill the helper.
 * Returns 0, or -1 when sigaction failed.
 */
static int
install_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	sa.sa_handler = on_stop;
	if (sigaction(SIGTERM, &sa, NULL) != 0 || sigaction(SIGINT, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = on_reload;
	if (sigaction(SIGHUP, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = on_stats;
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return -1;
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) != 0)
		return -1;
	return 0;
}

/*
 * After a reload (config_set_reload_hook): the new log level and the
 * spool's bound.  Runs on the janitor's thread.  Returns nothing.
 */
static void
apply_reloaded(const tunnel_config *snap)
{
	log_level	level;

	if (snap->log_level != NULL && log_parse_level(snap->log_level, &level) == 0)
		log_init(NULL, level);
	if (spool_is_open())
		spool_set_max(snap->spool_max_events);
}

/* Print the version line with the library versions.  Returns nothing. */
static void
print_version(void)
{
	int			pqv = PQlibVersion();

	printf("chatgenius-tunnel %s (libssh2 %s, libpq %d.%d)\n", CHATGENIUS_VERSION,
		   libssh2_version(0) ? libssh2_version(0) : LIBSSH2_VERSION,
		   pqv / 10000, pqv % 10000);
}

/*
 * Prints "chatgenius-tunnel: " and err on stderr, escaped (escape.h): a
 * refused value is quoted in the message as it was given, and one with
 * control characters must be shown, not obeyed by the terminal.
 * Returns nothing.
 */
static void
print_error(const char *err)
{
	fputs("chatgenius-tunnel: ", stderr);
	escape_print(stderr, err, ESCAPE_TERMINAL_LINES);
	fputc('\n', stderr);
}

/* The commands, as the command line names them. */
static const struct
{
	const char *word;
	tunnel_command command;
}			command_words[] = {
	{"run", CMD_RUN},
	{"setup", CMD_SETUP},
	{"verify", CMD_VERIFY},
	{"status", CMD_STATUS},
	{"events", CMD_EVENTS},
};

/*
 * The command line's words that are not settings: the command (run when
 * none), --help/-h, --version/-V (at once, whatever follows) and --json.
 * Every other argument, with the value a "--flag" without "=" takes
 * after it, is copied to opts[1..] (opts[0] the program's name) for
 * config_load.  Returns EXIT_CLEAN, or EXIT_BAD_CONFIG with the reason.
 */
static int
parse_command(int argc, char **argv, tunnel_command *cmd, bool *json, bool *follow,
			  char **opts, int *nopts, char *errbuf, size_t errlen)
{
	bool		seen = false;

	*cmd = CMD_RUN;
	*json = false;
	*follow = false;
	opts[0] = argv[0];
	*nopts = 1;
	for (int i = 1; i < argc; i++)
	{
		const char *a = argv[i];
		bool		known = false;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)
		{
			*cmd = CMD_HELP;
			return EXIT_CLEAN;
		}
		if (strcmp(a, "--version") == 0 || strcmp(a, "-V") == 0)
		{
			*cmd = CMD_VERSION;
			return EXIT_CLEAN;
		}
		if (strcmp(a, "--json") == 0)
		{
			*json = true;		/* status's and events'; the others ignore it */
			continue;
		}
		if (strcmp(a, "--follow") == 0)
		{
			*follow = true;		/* events' */
			continue;
		}
		if (a[0] == '-')
		{
			opts[(*nopts)++] = argv[i];
			if (strncmp(a, "--", 2) == 0 && strchr(a, '=') == NULL && i + 1 < argc)
				opts[(*nopts)++] = argv[++i];
			continue;
		}
		if (seen)
		{
			snprintf(errbuf, errlen, "unexpected argument: \"%s\"", a);
			return EXIT_BAD_CONFIG;
		}
		seen = true;
		for (size_t w = 0; w < sizeof(command_words) / sizeof(command_words[0]); w++)
			if (strcmp(a, command_words[w].word) == 0)
			{
				*cmd = command_words[w].command;
				known = true;
			}
		if (!known)
		{
			snprintf(errbuf, errlen,
					 "unknown command: \"%s\" (expected run, setup, verify, status or events)", a);
			return EXIT_BAD_CONFIG;
		}
	}
	return EXIT_CLEAN;
}

/* Print --help: the usage, then the settings (config.c).  Returns nothing. */
static void
print_help(void)
{
	printf("chatgenius-tunnel: keep an SSH tunnel to PostgreSQL alive and report its status\n"
		   "into the chatgenius extension's tables.\n\n");
	printf("Usage:\n"
		   "  chatgenius-tunnel [run] [OPTIONS]   keep the tunnel up until SIGTERM or SIGINT (default)\n"
		   "  chatgenius-tunnel setup [OPTIONS]   CREATE EXTENSION chatgenius, or ALTER EXTENSION\n"
		   "      chatgenius UPDATE, through the tunnel and print the migration history;\n"
		   "      never drops anything; needs a superuser (the extension is\n"
		   "      superuser-installed): --postgres-user postgres, its password from\n"
		   "      libpq's ~/.pgpass (or POSTGRES_PASSFILE) or a prompt on the terminal\n"
		   "  chatgenius-tunnel verify [OPTIONS]  print server version, extension version and health();\n"
		   "      exit 0 unless a check is critical or the database is unreachable\n"
		   "  chatgenius-tunnel status [--json]   ask the running helper how it stands (exit 0 serving,\n"
		   "      1 degraded or reconnecting, 2 not running, 3 unknown)\n"
		   "  chatgenius-tunnel events [--follow] [--json]   the running helper's events: the\n"
		   "      last ones, or each one as it happens until it stops (also while the\n"
		   "      database is away)\n"
		   "  chatgenius-tunnel --help | --version\n\n"
		   "Manual pages: chatgenius-tunnel(8), chatgenius-tunnel.env(5).\n\n");
	config_print_help();
}

/* The port of TUNNEL_HTTP_ADDR ("host:port"), 0 when unset or unparsable. */
static int
http_port_of(const char *addr)
{
	const char *colon = addr != NULL ? strrchr(addr, ':') : NULL;

	return colon != NULL ? atoi(colon + 1) : 0;
}

/*
 * The HTTP endpoint's socket: passed by systemd, or bound on
 * TUNNEL_HTTP_ADDR; nothing when neither.  Returns 0, or -1 with err.
 */
static int
open_http(const tunnel_config *cfg, char *err, size_t errlen)
{
	int			fd = listen_fds_get(LISTEN_HTTP);

	if (fd < 0 && cfg->http_addr == NULL)
		return 0;
	if (http_server_open(cfg->http_addr, fd, err, errlen) != 0)
		return -1;
	log_msg(LOG_INFO, "http_listening", "addr=%s activated=%d",
			cfg->http_addr != NULL ? cfg->http_addr : "-", fd >= 0);
	return 0;
}

/*
 * run: bring the tunnel up and serve until a signal stops it or the
 * janitor gives up.  Returns the exit code.
 */
static int
run_command(tunnel_config *cfg)
{
	int			port = cfg->listen_port;
	char		err[512];
	int			rc;

	if (listen_fds_take(cfg->standby_port, http_port_of(cfg->http_addr), err, sizeof(err)) < 0)
	{
		print_error(err);
		return EXIT_BAD_CONFIG;
	}
	if (open_http(cfg, err, sizeof(err)) != 0)
	{
		print_error(err);
		listen_fds_close_unused();
		return EXIT_BAD_CONFIG;
	}
	events_init(cfg);
	board_init(cfg, port);
	(void) event_stream_start();
	status_socket_start(cfg);
	if (http_server_start() != 0)
		rc = EXIT_FAILURE_OTHER;
	else
		rc = tunnel_start(cfg, &port);
	listen_fds_close_unused();
	if (rc == EXIT_BAD_CONFIG || rc == EXIT_AUTH)
	{
		/*
		 * Refused at start (a port in use, a host key or key refused): the
		 * event waits in the spool for the next start that reaches the
		 * database, so the refusal is recorded there too: a stop, with the
		 * reason, at the level of an error.
		 */
		stats_snapshot snap;
		char		q[600];

		stats_snapshot_take(&snap);
		event_emit_at(LOG_ERROR, EV_STOPPED, "exit=%d refused_at_start=1 error=%s", rc,
					  log_quote(q, sizeof(q), snap.last_error[0] ? snap.last_error : "see the log"));
	}
	if (rc == EXIT_CLEAN)
		rc = tunnel_wait();
	board_stopping();
	tunnel_stop();
	http_server_stop();
	status_socket_stop();
	event_stream_stop();
	events_shutdown();
	return rc;
}

/*
 * Load the configuration, then run the command.  Returns the exit code
 * (see config.h).
 */
int
main(int argc, char **argv)
{
	tunnel_config cfg;
	tunnel_command cmd;
	bool		json;
	bool		follow;
	char	  **opts;
	int			nopts;
	char		err[1024];
	log_level	level = LOG_INFO;
	char		q[4][1024];
	char		listen[300];
	int			rc;

	opts = calloc((size_t) argc + 1, sizeof(char *));
	if (opts == NULL)
	{
		fprintf(stderr, "chatgenius-tunnel: out of memory\n");
		return EXIT_FAILURE_OTHER;
	}
	rc = parse_command(argc, argv, &cmd, &json, &follow, opts, &nopts, err, sizeof(err));
	if (rc == EXIT_CLEAN && (cmd == CMD_HELP || cmd == CMD_VERSION))
	{
		free(opts);
		if (cmd == CMD_HELP)
			print_help();
		else
			print_version();
		return EXIT_CLEAN;
	}
	if (rc == EXIT_CLEAN)
		rc = config_load(&cfg, nopts, opts, err, sizeof(err));
	free(opts);
	if (rc != EXIT_CLEAN)
	{
		print_error(err);
		if (rc == EXIT_BAD_CONFIG)
			fprintf(stderr, "Try \"chatgenius-tunnel --help\" for more information.\n");
		/* status, events: no attempt made is "unknown", as pg_isready's 3 */
		return cmd == CMD_STATUS || cmd == CMD_EVENTS ? 3 : rc;
	}
	cfg.command = cmd;
	cfg.json = json;
	cfg.follow = follow;
	if (cfg.command == CMD_STATUS || cfg.command == CMD_EVENTS)
	{
		rc = cfg.command == CMD_STATUS ? status_command(&cfg) : events_command(&cfg);
		config_free(&cfg);
		return rc;
	}

	(void) log_parse_level(cfg.log_level, &level);
	log_init(cfg.tunnel_name, level);
	if (install_signals() != 0)
	{
		fprintf(stderr, "chatgenius-tunnel: cannot install signal handlers: %m\n");
		config_free(&cfg);
		return EXIT_FAILURE_OTHER;
	}
	config_set_reload_hook(apply_reloaded);
	/* setup and verify listen on an ephemeral port: "listening" names it */
	if (cfg.command == CMD_RUN)
		snprintf(listen, sizeof(listen), "%s:%d", cfg.listen_host, cfg.listen_port);
	else
		snprintf(listen, sizeof(listen), "%s:ephemeral", cfg.listen_host);
	log_msg(LOG_INFO, "starting",
			"version=%s command=%s pid=%d listen=%s ssh=%s@%s:%d remote=%s:%d "
			"key=%s known_hosts=%s state_dir=%s env_file=%s",
			CHATGENIUS_VERSION,
			cfg.command == CMD_SETUP ? "setup" : cfg.command == CMD_VERIFY ? "verify" : "run",
			(int) getpid(), listen, cfg.ssh_user, cfg.ssh_host,
			cfg.ssh_port, cfg.remote_host, cfg.remote_port,
			log_quote(q[0], sizeof(q[0]), cfg.ssh_key_path),
			log_quote(q[1], sizeof(q[1]), cfg.known_hosts),
			log_quote(q[2], sizeof(q[2]), cfg.state_dir),
			log_quote(q[3], sizeof(q[3]), cfg.env_file ? cfg.env_file : "none"));
	config_log_warnings(cfg.warnings);

	switch (cfg.command)
	{
		case CMD_SETUP:
			rc = setup_command(&cfg);
			break;
		case CMD_VERIFY:
			rc = verify_command(&cfg);
			break;
		default:
			rc = run_command(&cfg);
			break;
	}
	log_msg(LOG_INFO, "exiting", "code=%d", rc);
	config_free(&cfg);
	return rc;
}
