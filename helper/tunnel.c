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
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "prober.h"
#include "refuser.h"
#include "reporter.h"
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
	if (listener_open(cfg->listen_host, port, err, sizeof(err)) != 0)
	{
		log_msg(LOG_ERROR, "listen_failed", "error=%s", log_quote(q, sizeof(q), err));
		stats_set_error(err);
		return start_result = (errno == EADDRINUSE || errno == EACCES ||
							   errno == EADDRNOTAVAIL) ? EXIT_BAD_CONFIG : EXIT_FAILURE_OTHER;
	}
	tport = *port;
	if (cfg->standby_port > 0 &&
		listener_open_standby(cfg->listen_host, cfg->standby_port, err, sizeof(err)) != 0)
	{
		log_msg(LOG_ERROR, "listen_failed", "error=%s", log_quote(q, sizeof(q), err));
		return start_result = EXIT_BAD_CONFIG;
	}
	room_port = health_room_open(err, sizeof(err));
	if (room_port < 0)
	{
		log_msg(LOG_ERROR, "listen_failed", "error=%s", log_quote(q, sizeof(q), err));
		return start_result = EXIT_FAILURE_OTHER;
	}
	if (refuser_start() != 0 || listener_start() != 0)
		return start_result = EXIT_FAILURE_OTHER;
	listening = true;
	log_msg(LOG_INFO, "listening", "listen=%s:%d health_check=127.0.0.1:%d",
			log_quote(q, sizeof(q), cfg->listen_host), tport, room_port);
	if (cfg->standby_port > 0)
		log_msg(LOG_INFO, "listening_standby", "listen=%s:%d",
				log_quote(q, sizeof(q), cfg->listen_host), cfg->standby_port);

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
		stats_snapshot_take(&snap);
		if (snap.state != STATE_FAILED)
			stats_set_state(STATE_STOPPED);
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
