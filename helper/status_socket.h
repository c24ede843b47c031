/*
 * status_socket.h
 *		`chatgenius-tunnel status` asks the running helper through a unix
 *		socket in its state folder (TUNNEL_STATE_DIR, 0700): the socket is
 *		0600 and the server also checks the peer's uid (SO_PEERCRED), so only
 *		the helper's user and root are answered.  It is served by a thread of
 *		its own from memory (status_board.h): it answers while the database
 *		is away.
 *
 *		The exchange: the client sends "text\n" or "json\n"; the server
 *		answers "exit=N\n" (the status command's exit code) and the report.
 *		"events text\n" (or json) answers "exit=0\n" and the kept events;
 *		"follow text\n" (or json) answers "follow\n" and then each event as
 *		it happens (event_stream.h), until the helper stops.
 */
#ifndef CHATGENIUS_STATUS_SOCKET_H
#define CHATGENIUS_STATUS_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define STATUS_PACKAGED_DIR	"/var/lib/chatgenius-tunnel"	/* the unit's StateDirectory= */

/*
 * The socket's path for a tunnel in dir: the tunnel's name made safe plus
 * a hash of it, as the spool names its file, with ".sock".  Returns 0, or
 * -1 when the path would not fit a unix socket address.
 */
extern int	status_socket_path(const char *dir, const char *tunnel_name, char *buf, size_t len);

/* Start serving (a warning, never a failure, when it cannot). */
extern void status_socket_start(const tunnel_config *cfg);

/* Stop serving and remove the socket. */
extern void status_socket_stop(void);

/*
 * Connect to the running helper's socket for cfg (or, for root, the
 * packaged service's under STATUS_PACKAGED_DIR); the path tried is left
 * in used.  Returns the fd, or -1 with errno (ENOENT, ECONNREFUSED: not
 * running; ENAMETOOLONG: TUNNEL_STATE_DIR too long).
 */
extern int	status_socket_connect(const tunnel_config *cfg, char *used, size_t usedlen);

/*
 * Connect as status_socket_connect does and send request (one line: the
 * exchange above) whole.  Returns the fd, the answer to be read from it,
 * or -1 with errno (as status_socket_connect's, or the send's).
 */
extern int	status_socket_ask(const tunnel_config *cfg, const char *request, char *used,
							  size_t usedlen);

/*
 * Wait until fd is ready for events (POLLIN, POLLOUT) or deadline
 * (clock_now_ms) passes, through EINTR.  Returns true when ready.
 */
extern bool status_socket_wait(int fd, short events, int64_t deadline);

/* The status command (status_command.c).  Returns its exit code. */
extern int	status_command(const tunnel_config *cfg);

/* The events command (events_command.c).  Returns its exit code. */
extern int	events_command(const tunnel_config *cfg);

#endif							/* CHATGENIUS_STATUS_SOCKET_H */
