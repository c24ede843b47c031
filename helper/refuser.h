/*
 * refuser.h
 *		The thread that tells refused clients why (pgwire.h), many at once:
 *		each refused client gets REFUSAL_TIMEOUT_MS to send its startup
 *		packets and take the ErrorResponse, then its socket is closed.  At
 *		most REFUSER_MAX clients are being refused at a time; beyond that a
 *		client is closed at once, as before.
 */
#ifndef CHATGENIUS_REFUSER_H
#define CHATGENIUS_REFUSER_H

#define REFUSAL_TIMEOUT_MS	3000
#define REFUSER_MAX			256

#include <stdint.h>

/* What a refused client is told: a row of refusal_list.h. */
typedef enum refusal_id
{
#define REFUSAL(id, sqlstate, condition, words) id,
#include "refusal_list.h"
#undef REFUSAL
	REFUSAL_COUNT
} refusal_id;

/* The row's SQLSTATE ("53300") and its message's first words. */
extern const char *refusal_sqlstate(refusal_id id);
extern const char *refusal_words(refusal_id id);

/* Why a client is refused; the tunnel's state says the rest. */
typedef enum refusal_cause
{
	REFUSE_TOO_MANY_WAITING,	/* TUNNEL_MAX_WAITING clients wait already */
	REFUSE_WAIT_TIMEOUT,		/* waited TUNNEL_CLIENT_WAIT ms */
	REFUSE_STOPPING				/* the helper is stopping */
} refusal_cause;

/* The pool's figures that the message names (read under the pool's lock). */
typedef struct refusal_figures
{
	int			pool_size;
	int			channels_per_session;
	int			max_waiting;
	int			client_wait_ms;
	int			max_retries;
} refusal_figures;

/*
 * Tell fd (non-blocking; owned from here) why it is not served, from the
 * cause and the tunnel's state (stats.h): REFUSAL_UNREACHABLE with the
 * last error while the database is out of reach (reconnecting, or "max
 * retries exceeded"), REFUSAL_POOL_FULL for a full pool,
 * REFUSAL_SHUTTING_DOWN at shutdown.  Returns nothing.
 */
extern void refuser_tell(int fd, const char *client, refusal_cause cause,
						 int64_t waited_ms, const refusal_figures *fig);

/*
 * Tell fd (owned from here) that its channel could not be opened:
 * REFUSAL_CHANNEL_FAILED, and why (the SSH server's refusal, or the
 * open's timeout).  Returns nothing.
 */
extern void refuser_tell_unreachable(int fd, const char *client, const char *why);

/* Start the thread.  Returns 0, or -1 (logged). */
extern int	refuser_start(void);

/*
 * Refuse fd (non-blocking; owned by the refuser from here) with sqlstate
 * and message.  Closes fd at once when the refuser is not running or full.
 * Thread-safe; takes no lock of the caller's.
 */
extern void refuser_submit(int fd, const char *client, const char *sqlstate,
						   const char *message);

/*
 * Give the refusals under way up to drain_ms to finish, then close them
 * and join the thread.  Returns nothing.
 */
extern void refuser_stop(int drain_ms);

#endif							/* CHATGENIUS_REFUSER_H */
