/*
 * listener.h
 *		The local listening socket (loopback unless told otherwise) and the
 *		thread that accepts clients and hands them to the pool.  It stays
 *		open from tunnel_start to tunnel_stop, reconnections included.
 */
#ifndef CHATGENIUS_LISTENER_H
#define CHATGENIUS_LISTENER_H

#include <stddef.h>

#include "listen_fds.h"

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

/*
 * The Unix socket DIR/.s.PGSQL.<port> (TUNNEL_SOCKET_DIR), its group and
 * mode, served by the same thread.  Returns 0, or -1 with the reason in err.
 */
extern int	listener_open_unix(const char *dir, int port, int mode, const char *group,
							   char *err, size_t errlen);

/* Serve a listening socket passed by systemd (listen_fds.h).  Returns 0 or -1. */
extern int	listener_adopt(listen_kind kind, int fd);

/*
 * Stop taking clients (the first SIGTERM; async-signal-safe): sockets
 * passed by systemd are left to it, so that new clients wait in the
 * backlog for the next start; on the helper's own, a new client is told
 * 57P01.  Clients already taken are served on.
 */
extern void listener_drain(void);

/* Start the accept thread.  Returns 0 or -1. */
extern int	listener_start(void);

/* Stop the thread and close the socket.  Safe to call at any point. */
extern void listener_stop(void);

#endif							/* CHATGENIUS_LISTENER_H */
