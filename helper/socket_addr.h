/*
 * socket_addr.h
 *		What the listeners, socket activation and the status socket each
 *		need to know of a socket's address, said once: the TCP port a
 *		socket is bound to, and who answers at a Unix socket's path.
 */
#ifndef CHATGENIUS_SOCKET_ADDR_H
#define CHATGENIUS_SOCKET_ADDR_H

#include <stdbool.h>

/*
 * The TCP port fd is bound to (IPv4 or IPv6), 0 when it is not a TCP
 * socket or getsockname(2) fails.  family (may be NULL) gets the address
 * family, -1 when unknown.
 */
extern int	socket_local_port(int fd, int *family);

/*
 * Connect a new stream socket to the Unix socket at path (close-on-exec,
 * blocking).  Returns the fd, or -1 with errno (ENOENT, ECONNREFUSED:
 * nobody there; ENAMETOOLONG: the path does not fit an address).
 */
extern int	unix_socket_connect(const char *path);

/* True when something accepts connections at the Unix socket path. */
extern bool unix_socket_answers(const char *path);

#endif							/* CHATGENIUS_SOCKET_ADDR_H */
