/*
 * pool.h
 *		The SSH session pool: at most SSH_POOL_SIZE sessions, each owned by
 *		one worker thread that forwards its clients' channels (libssh2
 *		sessions are never shared between threads).  Sessions are made on
 *		demand, one handshake at a time, and reused; each carries at most
 *		SSH_CHANNELS_PER_SESSION channels, and they fill one after the
 *		other, with one spare kept warm ahead of need.  Clients beyond that
 *		wait, up to TUNNEL_CLIENT_WAIT ms, then are refused with a pool_full
 *		event.
 */
#ifndef CHATGENIUS_POOL_H
#define CHATGENIUS_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ssh_session.h"

/*
 * Prepare the pool for cfg (kept by reference); wake_janitor is called
 * (from any thread) when every session was lost or a session met an
 * authentication failure.  Returns 0, or -1 when out of resources.
 */
extern int	pool_init(tunnel_config *cfg, void (*wake_janitor) (void));

/*
 * A client accepted by the listener (socket non-blocking, TCP_NODELAY):
 * give it a channel now or let it wait.  The pool owns fd from here.
 */
extern void pool_submit(int fd, const char *client, int client_port);

/* pool_submit for the primary's listener or (standby) the read-only one. */
extern void pool_submit_to(int fd, const char *client, int client_port, bool standby);

/*
 * The routing changed (cluster.h): serve clients that waited for a
 * primary, and close the clients left on a demoted one.
 */
extern void pool_routes_changed(void);

/*
 * The health check's connection (from health_room.c): straight to the
 * least-loaded live session, never queued, one channel above
 * SSH_CHANNELS_PER_SESSION if need be.  Closed at once when no session is
 * live.  The pool owns fd from here.
 */
extern void pool_submit_reserved(int fd, const char *client, int client_port);

/*
 * The prober's connections: pool_submit_reserved to database host route
 * (cluster.h) on route_port (0: its PostgreSQL port; Patroni's API port
 * else); pool_set_check_route sends the next health check connection to
 * host route instead of the primary.
 */
extern void pool_submit_reserved_to(int fd, const char *client, int client_port,
									int route, int route_port);
extern void pool_set_check_route(int route);

/*
 * Emit one aggregated pool_full event (refused=N longest_wait_ms=M ...)
 * for the clients refused since the last one, at most once a second unless
 * force.  Call with no lock held.
 */
extern void pool_report_refusals(bool force);

/*
 * True, with the server's reason in err, when the SSH server refused a
 * channel open at or after since_ms (monotonic): the reporter's way to
 * tell "PostgreSQL refused the forwarded connection" from a dead path.
 */
extern bool pool_channel_refused_since(int64_t since_ms, char *err, size_t errlen);

/* The monotonic ms at which the first waiting client times out, or -1. */
extern int64_t pool_next_deadline(void);

/* Refuse (pool_full) the waiting clients whose wait is over. */
extern void pool_expire_waiting(void);

/*
 * Start a session now (even while paused) and wait for the outcome.
 * Returns SSH_OK, or the failure class with the reason in err.
 */
extern ssh_result pool_open_first(char *err, size_t errlen);

/* While paused no session is started on demand (reconnection runs). */
extern void pool_pause(void);
extern void pool_resume(void);

/* Close every session and wait for their workers; returns how many were live. */
extern int	pool_close_all(void);

/*
 * Periodic work: close idle extra sessions, collect finished workers,
 * start a session that waiting clients need.
 */
extern void pool_tick(void);

/*
 * True once (the flag is consumed) when every live session was lost
 * without being asked to close; the reason is copied to err.
 */
extern bool pool_take_lost_all(char *err, size_t errlen);

/* True when a session met an authentication or host key failure. */
extern bool pool_take_fatal(char *err, size_t errlen);

/*
 * The drain at stop: a client that finished sending (its EOF passed on)
 * is let go at once instead of waiting for the server's close, since
 * nobody is left to serve (PostgreSQL does not notice a client gone during
 * a long query).  Wakes the workers (pool_draining, pool_slot.h).
 */
extern void pool_drain(void);

/*
 * The clients the pool holds: given a session (opening or open) or
 * waiting for one; the health check's channel is not counted.
 */
extern int	pool_clients_held(void);

/* Live sessions, not counting those asked to close. */
extern int	pool_live_sessions(void);

/*
 * Ask the session that carried the last health check to close.  Returns
 * its number, or 0 when there is none (the check found no session).
 */
extern int	pool_close_checked_session(void);

/* SIGHUP: config_reload under the pool's lock.  Returns its result. */
extern int	pool_reload_config(char *err, size_t errlen);

/* SIGUSR1: log the pool figures (msg=pool_stats). */
extern void pool_log_stats(void);

/* Stop everything: close sessions and waiting clients, join the workers. */
extern void pool_shutdown(void);

#endif							/* CHATGENIUS_POOL_H */
