/*
 * pool_slot.h
 *		Inside the pool (not for other modules): a session slot, a client
 *		waiting or handed to a slot, and the calls between the pool
 *		(pool.c: slots, dispatch, waiting queue) and the worker thread that
 *		owns a slot's session (worker.c).  Every call here takes the pool's
 *		lock itself; none may be made with it held.
 */
#ifndef CHATGENIUS_POOL_SLOT_H
#define CHATGENIUS_POOL_SLOT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "ssh_session.h"

/* A client socket on its way to a channel. */
typedef struct client
{
	int			fd;
	int			port;
	char		name[64];
	int64_t		since_ms;		/* when it started waiting */
	int64_t		deadline_ms;
	bool		counted;		/* counted in clients_waiting */
	bool		reserved;		/* the health check's connection */
	long		uid;			/* the local user who connected, -1: not known */
	bool		standby;		/* came in on TUNNEL_STANDBY_PORT */
	int			route;			/* database host (cluster.h); -1: not yet */
	int			route_port;		/* that host's port to reach (0: PostgreSQL's) */
	bool		as_primary;		/* routed there as the primary */
	uint32_t	epoch;			/* the host's primary epoch then */
	struct client *next;
} client;

typedef enum slot_state
{
	SLOT_EMPTY,
	SLOT_CONNECTING,
	SLOT_LIVE,
	SLOT_CLOSING,
	SLOT_DEAD					/* finished; thread to join */
} slot_state;

/* One SSH session's place in the pool; its fields are under the pool lock. */
typedef struct slot
{
	int			id;				/* session number in the logs, from 1 */
	slot_state	state;
	pthread_t	thread;
	int			wake_fd;		/* eventfd: new clients or close request */
	int			load;			/* channels assigned (opening or open) */
	int			reserved;		/* of which the health check's: above the limit */
	int			opening;		/* of which not yet through their channel open */
	client	   *inbox;			/* assigned, not yet taken by the worker */
	bool		close_requested;
	bool		expected;		/* the close was asked for */
	bool		awaited;		/* pool_open_first collects it */
	int64_t		idle_since_ms;
	int64_t		saturated_ms;	/* its worker's last saturated window (0: never) */
	ssh_result	fail;
	char		error[512];
} slot;

/* ---- pool.c, for the worker owning s */

/*
 * The configuration, as this thread's copy (refreshed after a reload;
 * valid until this thread's next call).  Not with the pool's lock held.
 */
extern const tunnel_config *pool_config(void);

/* The server refused a channel open on s (error: libssh2's words). */
extern void pool_note_channel_refused(slot *s, const char *error);

/*
 * Open the slot's session, one handshake at a time across the pool.
 * Returns ssh_conn_open's result (*conn set on SSH_OK, err filled else).
 */
extern ssh_result pool_handshake(ssh_conn **conn, char *err, size_t errlen);

/* The session is up: the slot goes live and may be given clients. */
extern void pool_slot_live(slot *s);

/*
 * The session could not be opened: the slot is finished (an auth or host
 * key failure is also recorded for the janitor, and woken).
 */
extern void pool_slot_failed(slot *s, ssh_result r, const char *err);

/*
 * Take the clients assigned to s (oldest first).  Returns the list and
 * sets *keep false when the slot was asked to close.
 */
extern client *pool_slot_take_inbox(slot *s, bool *keep);

/*
 * One of s's clients is gone: its load is freed, waiters are served.
 * reserved: it was the health check's connection; opening: it went before
 * its channel open was through (pool_slot_opened was not called for it).
 */
extern void pool_slot_release(slot *s, bool reserved, bool opening);

/*
 * A channel open on s is through (open, refused or abandoned): the next
 * client may go to s without queueing behind it.
 */
extern void pool_slot_opened(slot *s);

/*
 * s's worker was saturated: it spent most of a measuring window outside
 * poll(2), working or waiting for a core (worker.c).  From now on the
 * pool spreads new clients over more sessions (see dispatch_pick).
 */
extern void pool_slot_saturated(slot *s, int busy_pct, int channels);

/* The worker stops serving: returns true when the close was asked for. */
extern bool pool_slot_closing(slot *s);

/*
 * A client that never got a channel goes back to the head of the
 * waiting queue (counted as waiting, with a fresh TUNNEL_CLIENT_WAIT).
 * Returns false when out of memory (the caller closes fd).
 */
extern bool pool_requeue(int fd, const char *name, int port);

/*
 * The worker is done with s (error: why the session ended, when not
 * asked to): late clients are requeued, the loss of the last session is
 * flagged to the janitor, and the slot is left for collection.
 */
extern void pool_slot_finished(slot *s, const char *error);

/* True once the drain began (pool_drain): let go of clients that finished sending. */
extern bool pool_draining(void);

/* ---- worker.c */

/* The thread of slot arg: open, serve, tear down.  Returns NULL. */
extern void *worker_main(void *arg);

#endif							/* CHATGENIUS_POOL_SLOT_H */
