/*
 * janitor.h
 *		Periodic maintenance (pgbouncer's janitor.c): the end-to-end health
 *		check through reporter_check, reconnection with exponential backoff
 *		and jitter, idle session reaping, and the requests that signals
 *		make (stop, reload, stats).
 */
#ifndef CHATGENIUS_JANITOR_H
#define CHATGENIUS_JANITOR_H

#include "config.h"

/* Requests, set from signal handlers. */
typedef enum janitor_request_kind
{
	JANITOR_STOP,				/* stop now */
	JANITOR_DRAIN,				/* stop taking clients, stop once they are served */
	JANITOR_RELOAD,
	JANITOR_STATS
} janitor_request_kind;

/* Create the wake-up channel.  Returns 0 or -1. */
extern int	janitor_init(tunnel_config *cfg);

/* Async-signal-safe: note a request and wake the janitor. */
extern void janitor_request(janitor_request_kind kind);

/* Wake the janitor (the pool lost its sessions or met an auth failure). */
extern void janitor_wake(void);

/*
 * The first connection, with the retry policy; listen_port is the clients'
 * port (for the connected event), port the health check's.  Returns
 * EXIT_CLEAN once connected, EXIT_AUTH, EXIT_GAVE_UP, or -1 when a stop was
 * requested.
 */
extern int	janitor_first_connect(int listen_port, int port);

/* Start the janitor thread for the listener's port.  Returns 0 or -1. */
extern int	janitor_start(int port);

/*
 * Wait for the janitor thread to end (stop requested or gave up) and
 * return its exit code; EXIT_CLEAN when it was never started.
 */
extern int	janitor_join(void);

/* Release the wake-up channel. */
extern void janitor_shutdown(void);

#endif							/* CHATGENIUS_JANITOR_H */
