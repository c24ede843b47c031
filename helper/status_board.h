/*
 * status_board.h
 *		The helper's own view of how it stands, kept in memory so that it
 *		can be told while the database is away: the counters (stats.h), the
 *		last health check, the last events.  It feeds systemd (READY=1 once
 *		the first check proved the path, STATUS= as the state changes,
 *		RELOADING=1, STOPPING=1, WATCHDOG=1) and `chatgenius-tunnel status`
 *		(status_socket.h).
 *
 *		The status words and exit codes (pg_isready's shape):
 *		  0 serving: connected, the last check passed;
 *		  1 degraded (connected, the database at fault), connecting,
 *		    reconnecting, failed or stopping;
 *		  2 not running; 3 unknown (status_command.c).
 */
#ifndef CHATGENIUS_STATUS_BOARD_H
#define CHATGENIUS_STATUS_BOARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "event_names.h"

#define BOARD_EVENTS	10		/* the last events kept */

/* Before the tunnel starts (main thread): what the board shows of cfg. */
extern void board_init(const tunnel_config *cfg, int listen_port);

/* A health check ended: path_ok false when no answer came through the path. */
extern void board_checked(bool path_ok, bool database_ok, const char *error);

/* An event (events.c) at wall_us: kept among the last BOARD_EVENTS. */
extern void board_event(event_id id, const char *detail, int64_t wall_us);

/* The janitor's pulse (at least once a second): STATUS= when it changed, WATCHDOG=1. */
extern void board_tick(void);

/* SIGHUP on the janitor's thread: RELOADING=1, then READY=1 with the new settings. */
extern void board_reloading(void);
extern void board_reloaded(const tunnel_config *cfg);

/* The stop begins: STOPPING=1. */
extern void board_stopping(void);

/*
 * A drain begins (the first SIGTERM): status says stopping, readiness
 * fails, STOPPING=1 with the clients left and the time they have.
 */
extern void board_draining(int clients, int timeout_ms);

/* The HTTP probes, as Cloud SQL Auth Proxy defines them (http_server.h). */
typedef enum board_probe_kind
{
	PROBE_STARTUP,				/* a health check got through once */
	PROBE_LIVENESS,				/* the janitor runs (it pulses once a second) */
	PROBE_READINESS				/* a check got through within its interval, and
								 * a new client would be served */
} board_probe_kind;

/*
 * Answer one probe.  Returns 0 (200) or -1 (503); reason gets "ok" or why
 * not, in one line.
 */
extern int	board_probe(board_probe_kind kind, char *reason, size_t len);

/*
 * The health checks' outcomes since start (ok, database at fault, no answer
 * through the path) and the wall time of the last one that got through
 * (microseconds, 0: none).  For the metrics.
 */
extern void board_check_figures(int64_t *ok, int64_t *database, int64_t *path,
								int64_t *last_ok_wall_us);

/*
 * The status reply (json or text) into buf.  Returns the exit code the
 * status command ends with (0 serving, 1 otherwise).
 */
extern int	board_format(bool json, char *buf, size_t len);

/*
 * The kept events, one line each as `events --follow` prints them
 * (event_stream.h), into buf.  Returns 0.
 */
extern int	board_format_events(bool json, char *buf, size_t len);

#endif							/* CHATGENIUS_STATUS_BOARD_H */
