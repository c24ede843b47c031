/*
 * listener.h
 *		The local listening socket (loopback unless told otherwise) and the
 *		thread that accepts clients and hands them to the pool.  It stays
 *		open from tunnel_start to tunnel_stop, reconnections included.
 */
#ifndef CHATGENIUS_LISTENER_H
#define CHATGENIUS_LISTENER_H

#include <stddef.h>

/*
 * Bind and listen on host:*port (0: ephemeral, the bound port is stored
 * back).  Returns 0, or -1 with the reason in err.
 */
extern int	listener_open(const char *host, int *port, char *err, size_t errlen);

/*
 * The read-only listener on host:port (TUNNEL_STANDBY_PORT), served by the
 * same thread.  Returns 0, or -1 with the reason in err.
 */
extern int	listener_open_standby(const char *host, int port, char *err, size_t errlen);

/* Start the accept thread.  Returns 0 or -1. */
extern int	listener_start(void);

/* Stop the thread and close the socket.  Safe to call at any point. */
extern void listener_stop(void);

#endif							/* CHATGENIUS_LISTENER_H */
