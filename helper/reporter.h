/*
 * reporter.h
 *		The end-to-end health check and the status writer: a libpq round trip
 *		through the helper's own listener to PostgreSQL, which upserts the
 *		tunnel's row in chatgenius.tunnel_status (the heartbeat) and writes the
 *		spooled events to chatgenius.tunnel_events.
 */
#ifndef CHATGENIUS_REPORTER_H
#define CHATGENIUS_REPORTER_H

#include <stddef.h>

#include "config.h"
#include "stats.h"

/*
 * One health check through 127.0.0.1:port (the listener; port is the bound
 * port, which differs from cfg->listen_port when that is 0), with a
 * timeout derived from the health interval.  Writes the status row with a
 * heartbeat and flushes pending events.  When the extension is missing it
 * runs "SELECT 1" instead and warns once.  snap gives the tunnel's state,
 * retries, reconnects, last error and start time; the pool and traffic
 * figures are taken afresh right before the row is written (so they count
 * the check's own channel).  Returns 0 when the round trip succeeded, else
 * -1 with the reason (libpq's words) in errbuf.
 */
extern int	reporter_check(const tunnel_config *cfg, int port,
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
