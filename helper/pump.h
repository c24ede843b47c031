/*
 * pump.h
 *		One client connection forwarded over one SSH channel: a bounded
 *		buffer each way, so that a side whose peer cannot take more is not
 *		read (backpressure).  The client's EOF is passed on to the channel;
 *		the server's EOF ends the pump: PostgreSQL never half-closes, so
 *		once its side is gone the client gets what it said last and its
 *		socket is closed, as OpenSSH's forwarding closes a writer's.  Pumps
 *		live in the worker thread that owns their SSH session.
 */
#ifndef CHATGENIUS_PUMP_H
#define CHATGENIUS_PUMP_H

#include <poll.h>
#include <stdbool.h>
#include <stdint.h>

#include <libssh2.h>

#include "config.h"
#include "login_watch.h"
#include "sshio.h"

#define PUMP_BUFSIZE	(128 * 1024)

/*
 * Channel windows stay at libssh2's 2 MiB.  libssh2 1.10 tops the window
 * up from channel_read once it falls under 3/4 of that plus the read
 * length, i.e. one 9-byte WINDOW_ADJUST per ~400 KiB received, and it
 * leaves in the same send as the pass's other packets: too rare to show in
 * the profile.  A larger window would only raise what a slow client can
 * make the helper hold (the server may send a whole window ahead).
 */

/*
 * How long a client may take to read what the server sent before its
 * side closed (an ErrorResponse, the rest of a result): a client that does
 * not read is closed then, with its channel.
 */
#define PUMP_EOF_LINGER_MS	10000

/* What a pump step found. */
typedef enum pump_status
{
	PUMP_RUNNING,				/* keep going */
	PUMP_DONE,					/* the server's side ended (and the client
								 * has its last bytes), or the client went
								 * away: release the pump */
	PUMP_CHANNEL_REFUSED,		/* the server refused to open the channel */
	PUMP_SESSION_ERROR			/* the SSH session is broken */
} pump_status;

/* The libssh2 call a pump left in EAGAIN while holding the session's output. */
typedef enum pump_op
{
	PUMP_OP_NONE,
	PUMP_OP_OPEN,
	PUMP_OP_WRITE,
	PUMP_OP_READ,
	PUMP_OP_EOF,
	PUMP_OP_CLOSE
} pump_op;

typedef struct pump_buf
{
	char	   *data;
	size_t		start;			/* first byte not yet passed on */
	size_t		end;			/* one past the last byte read */
	size_t		pending;		/* length of a call that returned EAGAIN */
} pump_buf;

typedef struct pump
{
	int			fd;				/* the client socket (non-blocking) */
	char		client[64];		/* "address:port" for the logs */
	int			client_port;
	bool		reserved;		/* the health check's: above the channel limit */
	char		dest_host[256];	/* where the channel goes ("": the */
	int			dest_port;		/* configured POSTGRES_REMOTE_HOST:PORT) */
	int			route;			/* the host's index (cluster.h), -1: none */
	bool		as_primary;		/* sent there as the primary ... */
	uint32_t	epoch;			/* ... in this primary epoch of the host */
	bool		watch_read_only;	/* look for SQLSTATE 25006 from the server */
	bool		saw_read_only;	/* seen: the primary may have moved */
	LIBSSH2_CHANNEL *channel;	/* NULL until opened */
	bool		opening;		/* the open was started (EAGAIN pending) */
	pump_buf	up;				/* client -> server */
	pump_buf	down;			/* server -> client */
	bool		client_eof;		/* the client finished sending */
	bool		channel_eof;	/* the server finished sending */
	bool		eof_sent;		/* EOF passed on to the channel */
	int64_t		eof_ms;			/* when the server's EOF came (0: not yet) */
	bool		closing;		/* the client is gone; closing the channel */
	int64_t		stall_since;	/* a channel write in EAGAIN with window
								 * room since then (0: none) */
	pump_op		blocked_op;		/* holds the session's output (see pump.c) */
	/*
	 * When to call libssh2 or the client socket again without a syscall to
	 * ask (the worker's poll only covers what these do not):
	 */
	uint64_t	seen_gen;		/* sshio gen after this pump's last libssh2
								 * calls: input taken since may hold its data */
	bool		dirty;			/* step again before sleeping (room made after
								 * a full read, client data left unread) */
	bool		can_read;		/* the client socket may have data */
	bool		can_write;		/* the client socket may take data */
	bool		wait_out;		/* a channel write waits for output room */
	bool		read_full;		/* the last channel read stopped at a full
								 * buffer, not at EAGAIN */
	bool		abandoned;		/* open timed out: the client was refused, the
								 * open is finished (and closed) for libssh2 */
	bool		open_told;		/* the pool knows its open is through */
	int64_t		open_started_ms;	/* this pump's open began (0: queued) */
	int64_t		started_ms;
	int64_t		opened_ms;		/* the channel opened: the login timer's start */
	login_watch login;			/* has the client completed its startup? */
	char		error[160];		/* why a step failed */
} pump;

/* A pump for client socket fd (taken over), or NULL without memory. */
extern pump *pump_new(int fd, const char *client, int client_port);

/*
 * Advance the channel opening on session.  Returns PUMP_RUNNING while the
 * server has not answered, PUMP_DONE once the channel is open (the caller
 * then starts forwarding), PUMP_CHANNEL_REFUSED or PUMP_SESSION_ERROR.
 */
extern pump_status pump_open_step(pump *p, LIBSSH2_SESSION *session,
								  const tunnel_config *cfg);

/*
 * Move what can be moved without blocking, both ways.  Returns
 * PUMP_RUNNING, PUMP_DONE or PUMP_SESSION_ERROR.  p->stall_since is set
 * while a channel write stays in EAGAIN although the window has room.
 * After the server's EOF the client is no longer read, and PUMP_DONE
 * comes once it has taken the rest, or PUMP_EOF_LINGER_MS after the EOF.
 */
extern pump_status pump_step(pump *p, LIBSSH2_SESSION *session, const sshio *io);

/*
 * Poll interest: the client's events in *pfd; pump_poll_result takes
 * what poll answered.  pump_wants_session_input says whether the pump
 * waits for the server; pump_should_step whether it must be stepped
 * again before the worker sleeps.
 */
extern void pump_poll_client(const pump *p, struct pollfd *pfd);
extern void pump_poll_result(pump *p, short revents);
extern bool pump_wants_session_input(const pump *p);
extern bool pump_should_step(const pump *p, const sshio *io);

/*
 * Close the client socket and start closing the channel.  Returns true
 * once the channel is freed (the pump can then be freed); call again until
 * then.  With force the channel is freed without waiting for the server.
 */
extern bool pump_close_step(pump *p, LIBSSH2_SESSION *session, bool force);
extern void pump_free(pump *p);

#endif							/* CHATGENIUS_PUMP_H */
