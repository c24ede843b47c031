/*
 * reporter.h
 *		The end-to-end health check and the status writer: a libpq round trip
 *		through the health check's private endpoint (health_room.h) to
 *		PostgreSQL, which upserts the tunnel's row in
 *		chatgenius.tunnel_status (the heartbeat), then writes the spooled
 *		events to chatgenius.tunnel_events in batches.
 */
#ifndef CHATGENIUS_REPORTER_H
#define CHATGENIUS_REPORTER_H

#include <stddef.h>

#include "config.h"
#include "stats.h"

/* What a health check proved. */
typedef enum check_result
{
	CHECK_OK = 0,				/* the round trip went through */
	CHECK_DATABASE = 1,			/* the path works; PostgreSQL refused or
								 * failed (login refused, too many clients,
								 * starting up or shutting down, not
								 * listening behind the SSH server, slow) */
	CHECK_PATH = -1				/* no answer through the SSH path */
} check_result;

/*
 * One health check through 127.0.0.1:port, the health check's private
 * endpoint (health_room.c), with a timeout derived from the health
 * interval.  Writes the status row with a heartbeat; then, after the
 * verdict and on a deadline of its own, flushes pending events in
 * batches.  When the extension is missing it runs "SELECT 1" instead and
 * warns once.  snap gives the tunnel's state, retries, reconnects, last
 * error and start time; the pool and traffic figures are taken afresh
 * right before the row is written.  Returns the check_result, with the
 * reason (libpq's or the SSH server's words) in errbuf unless CHECK_OK.
 */
extern check_result reporter_check(const tunnel_config *cfg, int port,
								   const stats_snapshot *snap,
								   char *errbuf, size_t errlen);

/*
 * Best effort, bounded by timeout_ms: write the status row without a
 * heartbeat and flush pending events (used on stop, after the "stopped"
 * event).  Returns 0 on success, -1 otherwise (events stay spooled).
 */
extern int	reporter_flush(const tunnel_config *cfg, int port,
						   const stats_snapshot *snap, int timeout_ms);

/*
 * Passive mode, for the one-shot commands (setup, verify): checks are a
 * plain "SELECT 1" round trip and nothing is written, so that a verify run
 * never overwrites the status row of the daemon with the same name.
 */
extern void reporter_set_passive(int on);

#endif							/* CHATGENIUS_REPORTER_H */
