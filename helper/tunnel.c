/*
 * tunnel.c
 *		The tunnel as a whole (tunnel.h): brings up the listener, the pool
 *		and the janitor in that order, and takes them down in reverse after
 *		the "stopped" event and a bounded last status flush.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libssh2.h>

#include "clock.h"
#include "events.h"
#include "cluster.h"
#include "health_room.h"
#include "janitor.h"
#include "listen_fds.h"
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "prober.h"
#include "refuser.h"
#include "reporter.h"
#include "socket_addr.h"
#include "ssh_session.h"
#include "stats.h"
#include "tunnel.h"

#define STOP_FLUSH_MS	2000
#define REFUSAL_DRAIN_MS 1000	/* at stop, refused clients get this to be told why */

static tunnel_config *tcfg;
static int	tport;
static int	room_port = -1;	/* the health check's private endpoint */
static bool libssh2_up;
static bool listening;
static bool janitor_up;
static bool stopped_once;
static int	start_result = EXIT_CLEAN;
static int64_t started_ms;

/*
 * The TCP address clients use: TUNNEL_LISTEN_HOST, or 127.0.0.1 where it
 * is "none" (TCP off for run; the one-shot commands always need TCP).
 */
static const char *
tcp_host(const tunnel_config *cfg)
{
	return config_tcp_off(cfg) ? "127.0.0.1" : cfg->listen_host;
}

/*
 * The clients' listening sockets: each one systemd passed (listen_fds.h)
 * is used as given, the others are bound as configured: TCP on
 * TUNNEL_LISTEN_HOST:*port (off for run when it is "none"), the Unix
 * socket in TUNNEL_SOCKET_DIR, the standby port.  Returns EXIT_CLEAN, else
 * the exit code with err filled.
 */
static int
open_listeners(tunnel_config *cfg, int *port, char *err, size_t errlen)
{
	bool		run = cfg->command == CMD_RUN;
	bool		tcp = !run || !config_tcp_off(cfg);
	int			fd;

	if (run && !tcp && cfg->socket_dir == NULL && !listen_fds_activated())
	{
		snprintf(err, errlen, "invalid value for TUNNEL_LISTEN_HOST: \"%s\" (TCP off, and no "
				 "TUNNEL_SOCKET_DIR: clients would have nothing to connect to)", cfg->listen_host);
		return EXIT_BAD_CONFIG;
	}
	if (run && (fd = listen_fds_get(LISTEN_TCP)) >= 0)
	{
		listener_adopt(LISTEN_TCP, fd);
		*port = socket_local_port(fd, NULL);
	}
	else if (tcp && listener_open(tcp_host(cfg), port, err, errlen) != 0)
		return (errno == EADDRINUSE || errno == EACCES || errno == EADDRNOTAVAIL) ?
			EXIT_BAD_CONFIG : EXIT_FAILURE_OTHER;
	if (run && (fd = listen_fds_get(LISTEN_UNIX)) >= 0)
		listener_adopt(LISTEN_UNIX, fd);
	else if (run && cfg->socket_dir != NULL)
	{
		if (*port <= 0)
		{
			snprintf(err, errlen, "invalid value for POSTGRES_PORT: \"%d\" (TUNNEL_SOCKET_DIR "
					 "names its socket .s.PGSQL.<POSTGRES_PORT>; with TCP off it must be set)", *port);
			return EXIT_BAD_CONFIG;
		}
		if (listener_open_unix(cfg->socket_dir, *port, cfg->socket_mode, cfg->socket_group,
							   err, errlen) != 0)
			return EXIT_BAD_CONFIG;
	}
	if (run && (fd = listen_fds_get(LISTEN_STANDBY)) >= 0)
		listener_adopt(LISTEN_STANDBY, fd);
	else if (cfg->standby_port > 0 &&
			 listener_open_standby(tcp_host(cfg), cfg->standby_port, err, errlen) != 0)
		return EXIT_BAD_CONFIG;
	return EXIT_CLEAN;
}

/*
 * Returns EXIT_CLEAN once the listener is bound and the first session is
 * up, else the exit code after logging why (see tunnel.h).
 */
int
tunnel_start(tunnel_config *cfg, int *port)
{
	char		err[512];
	char		q[600];
	int			rc;

	tcfg = cfg;
	started_ms = clock_now_ms();
	stopped_once = false;
	stats_init(cfg->pool_size);
	if (janitor_init(cfg) != 0)
		return start_result = EXIT_FAILURE_OTHER;
	rc = libssh2_init(0);
	if (rc != 0)
	{
		log_msg(LOG_ERROR, "libssh2_init_failed", "error=%d", rc);
		return start_result = EXIT_FAILURE_OTHER;
	}
	libssh2_up = true;
	cluster_init(cfg);
	if (pool_init(cfg, janitor_wake) != 0)
		return start_result = EXIT_FAILURE_OTHER;
	prober_init(janitor_wake);
	rc = open_listeners(cfg, port, err, sizeof(err));
	if (rc != EXIT_CLEAN)
	{
		log_msg(LOG_ERROR, "listen_failed", "error=%s", log_quote(q, sizeof(q), err));
		stats_set_error(err);
		return start_result = rc;
	}
	tport = *port;
	room_port = health_room_open(err, sizeof(err));
	if (room_port < 0)
	{
		log_msg(LOG_ERROR, "listen_failed", "error=%s", log_quote(q, sizeof(q), err));
		return start_result = EXIT_FAILURE_OTHER;
	}
	if (refuser_start() != 0 || listener_start() != 0)
		return start_result = EXIT_FAILURE_OTHER;
	listening = true;
	log_msg(LOG_INFO, "listening", "listen=%s:%d socket_dir=%s health_check=127.0.0.1:%d activated=%d",
			log_quote(q, sizeof(q), tcp_host(cfg)), tport,
			cfg->socket_dir != NULL && cfg->command == CMD_RUN ? cfg->socket_dir : "-",
			room_port, listen_fds_activated());
	if (cfg->standby_port > 0)
		log_msg(LOG_INFO, "listening_standby", "listen=%s:%d",
				log_quote(q, sizeof(q), tcp_host(cfg)), cfg->standby_port);

	rc = janitor_first_connect(tport, room_port);
	if (rc < 0)
		return start_result = EXIT_CLEAN;	/* a stop came first */
	if (rc != EXIT_CLEAN)
		return start_result = rc;
	if (janitor_start(room_port) != 0)
		return start_result = EXIT_FAILURE_OTHER;
	janitor_up = true;
	return start_result = EXIT_CLEAN;
}

/* Returns the janitor's exit code once it ended (see tunnel.h). */
int
tunnel_wait(void)
{
	if (!janitor_up)
		return start_result;
	return janitor_join();
}

/*
 * Stops everything in reverse order; the "stopped" event and the last
 * flush come while the tunnel can still carry them.
 */
void
tunnel_stop(void)
{
	stats_snapshot snap;

	if (stopped_once)
		return;
	stopped_once = true;
	if (janitor_up)
	{
		janitor_request(JANITOR_STOP);
		janitor_join();
		janitor_up = false;
	}
	if (listening)
	{
		int			cut = pool_clients_held();

		stats_snapshot_take(&snap);
		if (snap.state != STATE_FAILED)
			stats_set_state(STATE_STOPPED);
		if (cut > 0)
			event_emit(EV_STOPPED, "uptime_ms=%" PRId64 " reconnects=%" PRId64 " clients_cut=%d",
					   clock_now_ms() - started_ms, snap.reconnects, cut);
		else
			event_emit(EV_STOPPED, "uptime_ms=%" PRId64 " reconnects=%" PRId64,
					   clock_now_ms() - started_ms, snap.reconnects);
		if (pool_live_sessions() > 0)
		{
			stats_snapshot_take(&snap);
			if (reporter_flush(tcfg, room_port, &snap, STOP_FLUSH_MS) != 0)
				log_msg(LOG_WARN, "final_flush_failed", "detail=\"events stay spooled\"");
		}
	}
	listener_stop();
	listening = false;
	if (tcfg != NULL)
		pool_shutdown();
	refuser_stop(REFUSAL_DRAIN_MS);
	/* After the pool: no session may still hand it a check. */
	health_room_close();
	room_port = -1;
	if (libssh2_up)
		libssh2_exit();
	libssh2_up = false;
	janitor_shutdown();
}

/* Async-signal-safe: ask the janitor to stop the tunnel. */
void
tunnel_request_stop(void)
{
	janitor_request(JANITOR_STOP);
}

/* Async-signal-safe: ask the janitor to drain, then stop. */
void
tunnel_request_drain(void)
{
	janitor_request(JANITOR_DRAIN);
}

/* Async-signal-safe: ask the janitor to reload the configuration. */
void
tunnel_request_reload(void)
{
	janitor_request(JANITOR_RELOAD);
}

/* Async-signal-safe: ask the janitor to log the pool figures. */
void
tunnel_request_stats_log(void)
{
	janitor_request(JANITOR_STATS);
}
