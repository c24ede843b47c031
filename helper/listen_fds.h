/*
 * listen_fds.h
 *		systemd socket activation (sd_listen_fds(3)'s protocol, without
 *		libsystemd): when LISTEN_PID is this process, LISTEN_FDS sockets
 *		start at descriptor 3, named by LISTEN_FDNAMES (colon-separated).
 *		The sockets are sorted by what they serve, and each is used as
 *		given: the helper binds only what was not passed.  Kept across a
 *		restart by systemd (chatgenius-tunnel.socket), they hold new clients
 *		in the kernel's backlog while the helper is away.
 */
#ifndef CHATGENIUS_LISTEN_FDS_H
#define CHATGENIUS_LISTEN_FDS_H

#include <stddef.h>

/* What a passed socket serves. */
typedef enum listen_kind
{
	LISTEN_TCP,					/* POSTGRES_PORT's clients over TCP */
	LISTEN_UNIX,				/* the same over a Unix socket (TUNNEL_SOCKET_DIR) */
	LISTEN_STANDBY,				/* TUNNEL_STANDBY_PORT */
	LISTEN_HTTP,				/* TUNNEL_HTTP_ADDR */
	LISTEN_KINDS
} listen_kind;

/*
 * Take the passed sockets (once, at start; the variables are then removed
 * from the environment).  A socket is sorted by its name ("postgres",
 * "unix", "standby", "http"), else by its address: a Unix socket serves
 * LISTEN_UNIX, a TCP one on standby_port or http_port (0: none) those,
 * any other TCP one LISTEN_TCP.  Returns how many were taken (0: not
 * activated), or -1 with err filled: a descriptor that is not a listening
 * stream socket, or two for one kind.
 */
extern int	listen_fds_take(int standby_port, int http_port, char *err, size_t errlen);

/* The socket passed for kind, or -1.  Owned by the caller from here. */
extern int	listen_fds_get(listen_kind kind);

/* True when the helper runs socket-activated (listen_fds_take found any). */
extern int	listen_fds_activated(void);

/* Close the passed sockets nobody took.  Returns nothing. */
extern void listen_fds_close_unused(void);

#endif							/* CHATGENIUS_LISTEN_FDS_H */
