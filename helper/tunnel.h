/*
 * tunnel.h
 *		The tunnel as a whole: listener, SSH session pool, channel pumps and
 *		the janitor (liveness, health checks, reconnection with backoff).
 *
 *		Data flows one way: client socket -> listener -> pool worker's pump
 *		-> SSH channel -> PostgreSQL.
 */
#ifndef CHATGENIUS_TUNNEL_H
#define CHATGENIUS_TUNNEL_H

#include "config.h"

/*
 * Bring the tunnel up: bind the listener (on cfg->listen_host and
 * *port; pass *port 0 for an ephemeral port, which is then stored in
 * *port), start the pool and the janitor threads, and wait until the first
 * SSH session is up (with the retry policy).  Returns EXIT_CLEAN, or the
 * exit code (EXIT_AUTH, EXIT_GAVE_UP, EXIT_BAD_CONFIG for a port in use,
 * EXIT_FAILURE_OTHER) after logging why.
 */
extern int	tunnel_start(tunnel_config *cfg, int *port);

/*
 * Serve until a stop is requested or the janitor gives up.  Returns
 * EXIT_CLEAN after a requested stop, EXIT_GAVE_UP after
 * maxRetriesExceeded, EXIT_AUTH when a reconnection met a changed host key
 * or refused authentication.
 */
extern int	tunnel_wait(void);

/*
 * Stop: "stopped" event, a last bounded status flush, then close clients,
 * channels and sessions and join the threads.  Safe to call after a failed
 * tunnel_start.
 */
extern void tunnel_stop(void);

/* Async-signal-safe requests, handled by the janitor thread. */
extern void tunnel_request_stop(void);	/* stop now */
extern void tunnel_request_drain(void); /* SIGTERM: no new clients, stop once
										 * served (TUNNEL_SHUTDOWN_TIMEOUT) */
extern void tunnel_request_reload(void);	/* SIGHUP: config_reload */
extern void tunnel_request_stats_log(void); /* SIGUSR1: log the pool figures */

#endif							/* CHATGENIUS_TUNNEL_H */
