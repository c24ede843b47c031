/*
 * health_room.h
 *		The health check's own room: a private listening socket on an
 *		ephemeral loopback port that only the reporter connects to.  Its
 *		connections skip the listener's queue and go straight to a live
 *		session (pool_submit_reserved), above the per-session channel limit
 *		by one, so that a full pool, a queue of waiting clients or a storm of
 *		refused clients never fails the check.
 */
#ifndef CHATGENIUS_HEALTH_ROOM_H
#define CHATGENIUS_HEALTH_ROOM_H

#include <stddef.h>

/*
 * Bind 127.0.0.1:0 and start the thread that accepts on it.  Returns the
 * bound port, or -1 with the reason in err.
 */
extern int	health_room_open(char *err, size_t errlen);

/*
 * The reporter is about to connect: let exactly one connection in.  Any
 * other connection to the private port is closed at once (a local process
 * cannot take the room between checks).
 */
extern void health_room_expect(void);

/* The reporter is done (or gave up): no connection is expected. */
extern void health_room_done(void);

/* Stop the thread and close the socket.  Safe to call at any point. */
extern void health_room_close(void);

#endif							/* CHATGENIUS_HEALTH_ROOM_H */
