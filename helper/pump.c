/*
 * pump.c
 *		Forwarding between one client socket and its SSH channel, in the
 *		style of pgbouncer's sbuf: a fixed buffer per direction, read only
 *		while it has room, written out as the other side accepts.  Every
 *		libssh2 call is non-blocking; a write that returned EAGAIN is
 *		repeated with the same pointer and length.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "pump.h"
#include "ssh_session.h"
#include "stats.h"

/*
 * Returns true when a libssh2 error code means the whole session is
 * unusable (transport, crypto, timeout), false when only one channel is
 * affected.
 */
static bool
session_level_error(int rc)
{
	switch (rc)
	{
		case LIBSSH2_ERROR_CHANNEL_FAILURE:
		case LIBSSH2_ERROR_CHANNEL_CLOSED:
		case LIBSSH2_ERROR_CHANNEL_EOF_SENT:
		case LIBSSH2_ERROR_CHANNEL_UNKNOWN:
		case LIBSSH2_ERROR_CHANNEL_WINDOW_EXCEEDED:
		case LIBSSH2_ERROR_CHANNEL_PACKET_EXCEEDED:
		case LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED:
		case LIBSSH2_ERROR_BAD_USE:
			return false;
		default:
			return true;
	}
}

/*
 * Records that a libssh2 call of kind op returned EAGAIN.  When libssh2 is
 * then blocked on sending, a packet sits half-sent in the session's single
 * output slot: until this same call completes, no other call on the
 * session may send (libssh2 1.10 answers LIBSSH2_ERROR_BAD_USE), so the
 * worker retries this pump alone.
 */
static void
note_eagain(pump *p, LIBSSH2_SESSION *session, pump_op op)
{
	if (libssh2_session_block_directions(session) & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		p->blocked_op = op;
}

/* Records that the call of kind op completed; releases the session. */
static void
note_done(pump *p, pump_op op)
{
	if (p->blocked_op == op)
		p->blocked_op = PUMP_OP_NONE;
}

/* Returns a new pump owning client socket fd, or NULL (fd left open). */
pump *
pump_new(int fd, const char *client, int client_port)
{
	pump	   *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->up.data = malloc(PUMP_BUFSIZE);
	p->down.data = malloc(PUMP_BUFSIZE);
	if (p->up.data == NULL || p->down.data == NULL)
	{
		free(p->up.data);
		free(p->down.data);
		free(p);
		return NULL;
	}
	p->fd = fd;
	p->client_port = client_port;
	snprintf(p->client, sizeof(p->client), "%s", client);
	p->started_ms = clock_now_ms();
	p->can_read = p->can_write = true;
	p->dirty = true;
	login_watch_init(&p->login);
	p->route = -1;
	return p;
}

/* The channel's destination: the pump's route, else the configured host. */
static const char *
dest_host(const pump *p, const tunnel_config *cfg)
{
	return p->dest_host[0] ? p->dest_host : cfg->remote_host;
}

/* Returns the destination port (see dest_host). */
static int
dest_port(const pump *p, const tunnel_config *cfg)
{
	return p->dest_host[0] ? p->dest_port : cfg->remote_port;
}

/* Writes libssh2's last error for this step into p->error; returns it. */
static int
note_error(pump *p, LIBSSH2_SESSION *session, const char *what)
{
	char	   *msg = NULL;
	int			rc = libssh2_session_last_error(session, &msg, NULL, 0);

	snprintf(p->error, sizeof(p->error), "%s: %s", what, msg && *msg ? msg : "unknown error");
	return rc;
}

/*
 * Returns PUMP_RUNNING until the direct-tcpip channel is open
 * (PUMP_DONE), refused (PUMP_CHANNEL_REFUSED) or the session broke.  The
 * same arguments are passed on every call, as libssh2 requires after
 * EAGAIN.
 */
pump_status
pump_open_step(pump *p, LIBSSH2_SESSION *session, const tunnel_config *cfg)
{
	int			rc;

	p->opening = true;
	p->channel = libssh2_channel_direct_tcpip_ex(session, dest_host(p, cfg), dest_port(p, cfg),
												 "127.0.0.1", p->client_port);
	if (p->channel != NULL)
	{
		p->opening = false;
		note_done(p, PUMP_OP_OPEN);
		return PUMP_DONE;
	}
	rc = libssh2_session_last_errno(session);
	if (rc == LIBSSH2_ERROR_EAGAIN)
	{
		note_eagain(p, session, PUMP_OP_OPEN);
		return PUMP_RUNNING;
	}
	note_done(p, PUMP_OP_OPEN);
	p->opening = false;
	rc = ssh_channel_open_error(session, dest_host(p, cfg), dest_port(p, cfg), p->error, sizeof(p->error));
	/* libssh2 gives up waiting for the answer after 60 s: that open only. */
	if (rc == LIBSSH2_ERROR_TIMEOUT)
		return PUMP_CHANNEL_REFUSED;
	return session_level_error(rc) ? PUMP_SESSION_ERROR : PUMP_CHANNEL_REFUSED;
}

/*
 * Makes room at the end of b when everything before start was consumed,
 * unless a channel write from b waits in EAGAIN (its pointer must stay).
 */
static void
buf_compact(pump_buf *b, bool write_pending)
{
	if (write_pending)
		return;					/* a write in EAGAIN keeps its pointer */
	if (b->start == b->end)
		b->start = b->end = 0;
	else if (b->start > PUMP_BUFSIZE / 2)
	{
		memmove(b->data, b->data + b->start, b->end - b->start);
		b->end -= b->start;
		b->start = 0;
	}
}

/*
 * Returns true when the pump must call libssh2 again: input was taken
 * since its last calls (it may hold this channel's packets), it asked
 * for another step, or output room came back for a write that waited.
 */
static bool
pump_talk(const pump *p, const sshio *io, bool dirty)
{
	return dirty || p->seen_gen != io->gen ||
		(p->wait_out && sshio_out_open(io));
}

/*
 * Client -> buffer -> channel.  Returns PUMP_RUNNING, PUMP_DONE (client
 * error) or PUMP_SESSION_ERROR.
 *
 * The client is read once per pass and only when poll said so: a read
 * shorter than the room left means the socket is drained (the profile
 * showed one EAGAIN read per client per pass otherwise).
 */
static pump_status
pump_upstream(pump *p, LIBSSH2_SESSION *session, const sshio *io, bool dirty)
{
	pump_buf   *b = &p->up;
	bool		fresh = false;

	buf_compact(b, b->pending != 0);
	if (p->can_read && !p->client_eof && b->end < PUMP_BUFSIZE)
	{
		size_t		room = PUMP_BUFSIZE - b->end;
		ssize_t		n;

		do
			n = read(p->fd, b->data + b->end, room);
		while (n < 0 && errno == EINTR);
		if (n > 0)
		{
			if (login_watch_pending(&p->login))
				login_watch_client(&p->login, b->data + b->end, (size_t) n);
			b->end += (size_t) n;
			stats_add_bytes(0, n);
			fresh = true;
			if ((size_t) n < room)
				p->can_read = false;
			else
				p->dirty = true;	/* maybe more: read again first */
		}
		else if (n == 0)
		{
			p->client_eof = true;
			p->can_read = false;
			fresh = true;
		}
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			p->can_read = false;
		else
		{
			snprintf(p->error, sizeof(p->error), "client read: %s", strerror(errno));
			return PUMP_DONE;
		}
	}

	if (!fresh && !pump_talk(p, io, dirty))
		return PUMP_RUNNING;	/* nothing new on either side */
	p->wait_out = false;
	while (b->start < b->end)
	{
		size_t		len;
		ssize_t		n;

		if (!sshio_out_open(io) && b->pending == 0)
		{
			p->wait_out = true; /* the socket is behind: let it drain */
			break;
		}
		len = b->pending ? b->pending : b->end - b->start;
		n = libssh2_channel_write(p->channel, b->data + b->start, len);
		if (n > 0)
		{
			b->start += (size_t) n;
			b->pending = 0;
			p->stall_since = 0;
			note_done(p, PUMP_OP_WRITE);
		}
		else if (n == LIBSSH2_ERROR_EAGAIN)
		{
			b->pending = len;
			note_eagain(p, session, PUMP_OP_WRITE);
			/* Flow control (no window) is not a stall; EAGAIN with room is. */
			if (libssh2_channel_window_write_ex(p->channel, NULL) == 0)
				p->stall_since = 0;
			else if (p->stall_since == 0)
				p->stall_since = clock_now_ms();
			break;
		}
		else
		{
			int			rc = note_error(p, session, "channel write");

			note_done(p, PUMP_OP_WRITE);
			return session_level_error(rc) ? PUMP_SESSION_ERROR : PUMP_DONE;
		}
	}
	buf_compact(b, b->pending != 0);
	if (p->client_eof && b->start == b->end && !p->eof_sent &&
		(p->blocked_op == PUMP_OP_NONE || p->blocked_op == PUMP_OP_EOF))
	{
		int			rc = libssh2_channel_send_eof(p->channel);

		if (rc == LIBSSH2_ERROR_EAGAIN)
			note_eagain(p, session, PUMP_OP_EOF);
		else
			note_done(p, PUMP_OP_EOF);
		if (rc == 0)
			p->eof_sent = true;
		else if (rc != LIBSSH2_ERROR_EAGAIN)
		{
			rc = note_error(p, session, "channel eof");
			return session_level_error(rc) ? PUMP_SESSION_ERROR : PUMP_DONE;
		}
	}
	return PUMP_RUNNING;
}

/*
 * Channel -> buffer -> client.  Returns PUMP_RUNNING, PUMP_DONE (client
 * gone) or PUMP_SESSION_ERROR.  libssh2 is asked only when it may have
 * something for this channel (pump_talk).
 */
static pump_status
pump_downstream(pump *p, LIBSSH2_SESSION *session, const sshio *io, bool dirty)
{
	pump_buf   *b = &p->down;
	int64_t		moved = 0;
	bool		talk = pump_talk(p, io, dirty);

	buf_compact(b, false);
	/* Another call of this pump holds the session's output: no read. */
	while (talk && !p->channel_eof && b->end < PUMP_BUFSIZE &&
		   (p->blocked_op == PUMP_OP_NONE || p->blocked_op == PUMP_OP_READ))
	{
		/*
		 * After EAGAIN the same length again: libssh2 1.10 sizes a deferred
		 * window adjustment from it, and a different one would leave its
		 * window count apart from the server's (the transfer then stalls).
		 * The room at the end only grows meanwhile.
		 */
		size_t		len = b->pending ? b->pending : PUMP_BUFSIZE - b->end;
		ssize_t		n = libssh2_channel_read(p->channel, b->data + b->end, len);

		p->read_full = false;
		if (n != LIBSSH2_ERROR_EAGAIN)
			note_done(p, PUMP_OP_READ);
		if (n > 0)
		{
			if (login_watch_pending(&p->login))
				login_watch_server(&p->login, b->data + b->end, (size_t) n);
			/* ErrorResponse field C, SQLSTATE 25006: a write met a read-only node */
			if (p->watch_read_only && memmem(b->data + b->end, (size_t) n, "C25006", 7) != NULL)
				p->saw_read_only = true;
			b->end += (size_t) n;
			b->pending = 0;
			moved += n;
			p->read_full = true;	/* unless EAGAIN below says otherwise */
		}
		else if (n == LIBSSH2_ERROR_EAGAIN)
		{
			b->pending = len;
			note_eagain(p, session, PUMP_OP_READ);
			if (libssh2_channel_eof(p->channel) == 1)
				p->channel_eof = true;
			break;
		}
		else if (n == 0)
		{
			b->pending = 0;
			if (libssh2_channel_eof(p->channel) == 1)
				p->channel_eof = true;
			break;
		}
		else
		{
			int			rc = note_error(p, session, "channel read");

			if (session_level_error(rc))
				return PUMP_SESSION_ERROR;
			p->channel_eof = true;
			break;
		}
	}
	if (moved > 0)
		stats_add_bytes(moved, 0);

	/* One write: a short one means the client's socket is full. */
	if (b->start < b->end && p->can_write)
	{
		size_t		len = b->end - b->start;
		ssize_t		n;

		do
			n = write(p->fd, b->data + b->start, len);
		while (n < 0 && errno == EINTR);
		if (n > 0)
		{
			b->start += (size_t) n;
			if ((size_t) n < len)
				p->can_write = false;
		}
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			p->can_write = false;
		else
		{
			snprintf(p->error, sizeof(p->error), "client write: %s",
					 n < 0 ? strerror(errno) : "no progress");
			return PUMP_DONE;
		}
	}
	if (p->channel_eof && p->eof_ms == 0)
		p->eof_ms = clock_now_ms();
	/* Room made now is what the poll interest is computed from. */
	buf_compact(b, false);
	/* A read stopped by a full buffer resumes as soon as there is room. */
	if (p->read_full && b->end < PUMP_BUFSIZE)
		p->dirty = true;
	return PUMP_RUNNING;
}

/*
 * Returns PUMP_DONE when both directions finished (or a side failed),
 * PUMP_SESSION_ERROR when the session broke, else PUMP_RUNNING.
 */
pump_status
pump_step(pump *p, LIBSSH2_SESSION *session, const sshio *io)
{
	pump_status st;
	bool		dirty = p->dirty;

	p->dirty = false;
	/*
	 * The server's side is gone: what the client sends now has nobody to
	 * go to, so it is left unread (closing the socket with it unread
	 * resets the connection, and a writer gets EPIPE), and only the
	 * server's last bytes still move.
	 */
	if (p->channel_eof)
		st = pump_downstream(p, session, io, dirty);
	/* A read left in EAGAIN is resumed before any write is tried. */
	else if (p->blocked_op == PUMP_OP_READ)
	{
		st = pump_downstream(p, session, io, dirty);
		if (st == PUMP_RUNNING)
			st = pump_upstream(p, session, io, dirty);
	}
	else
	{
		st = pump_upstream(p, session, io, dirty);
		if (st == PUMP_RUNNING)
			st = pump_downstream(p, session, io, dirty);
	}
	/* Input libssh2 takes after this reaches this pump's next step. */
	p->seen_gen = io->gen;
	if (st != PUMP_RUNNING)
		return st;
	/*
	 * The server ended its side and the client has everything it said:
	 * PostgreSQL never half-closes, so the connection is over.
	 */
	if (p->channel_eof && p->down.start == p->down.end)
		return PUMP_DONE;
	if (p->channel_eof && clock_now_ms() - p->eof_ms > PUMP_EOF_LINGER_MS)
	{
		snprintf(p->error, sizeof(p->error),
				 "the client did not read the server's last %zu bytes in %d ms",
				 p->down.end - p->down.start, PUMP_EOF_LINGER_MS);
		return PUMP_DONE;
	}
	return PUMP_RUNNING;
}

/* Fills in the client's poll events: read while there is room, write when data waits. */
void
pump_poll_client(const pump *p, struct pollfd *pfd)
{
	pfd->fd = -1;
	pfd->events = 0;
	pfd->revents = 0;
	if (p->channel == NULL || p->closing)
		return;
	pfd->fd = p->fd;
	if (!p->can_read && !p->client_eof && !p->channel_eof && p->up.end < PUMP_BUFSIZE)
		pfd->events |= POLLIN;
	if (!p->can_write && p->down.start < p->down.end)
		pfd->events |= POLLOUT;
	if (pfd->events == 0)
		pfd->fd = -1;			/* no hang-up wake-ups while idle */
}

/* Takes poll's answer for the client socket. */
void
pump_poll_result(pump *p, short revents)
{
	if (revents & (POLLIN | POLLHUP | POLLERR | POLLRDHUP))
		p->can_read = true;
	if (revents & (POLLOUT | POLLHUP | POLLERR))
		p->can_write = true;
}

/*
 * Returns true when the pump must be stepped before the worker sleeps:
 * it asked to, or input was taken since its last libssh2 calls while it
 * waits for the server, or output room came back for its write.  No
 * syscall is needed to know, which is what closes the lost wakeup.
 */
bool
pump_should_step(const pump *p, const sshio *io)
{
	if (p->dirty)
		return true;
	if (p->wait_out && sshio_out_open(io))
		return true;
	return p->seen_gen != io->gen && pump_wants_session_input(p);
}

/*
 * Returns true when this pump needs bytes from the SSH socket to progress
 * (room for server data, a write waiting on a window, an open or a close
 * waiting for the server's answer).
 */
bool
pump_wants_session_input(const pump *p)
{
	if (p->opening || p->closing)
		return true;
	if (p->channel == NULL || p->channel_eof)
		return false;
	if (p->down.end < PUMP_BUFSIZE)
		return true;
	if (p->up.start < p->up.end || (p->client_eof && !p->eof_sent))
		return true;
	return false;
}

/*
 * Closes the client at once and the channel as the server allows.
 * Returns true when nothing is left to do but pump_free.
 */
bool
pump_close_step(pump *p, LIBSSH2_SESSION *session, bool force)
{
	int			rc;

	p->closing = true;
	if (p->fd >= 0)
	{
		close(p->fd);
		p->fd = -1;
	}
	if (p->channel == NULL)
		return true;
	if (force)
	{
		/* libssh2_session_free releases the channel with the session. */
		p->channel = NULL;
		p->blocked_op = PUMP_OP_NONE;
		return true;
	}
	/* A half-sent packet is finished first, by the same call. */
	if (p->blocked_op == PUMP_OP_WRITE)
	{
		rc = (int) libssh2_channel_write(p->channel, p->up.data + p->up.start, p->up.pending);
		if (rc == LIBSSH2_ERROR_EAGAIN)
			return false;
		p->blocked_op = PUMP_OP_NONE;
	}
	else if (p->blocked_op == PUMP_OP_READ)
	{
		rc = (int) libssh2_channel_read(p->channel, p->down.data + p->down.end, p->down.pending);
		if (rc == LIBSSH2_ERROR_EAGAIN &&
			(libssh2_session_block_directions(session) &
			 LIBSSH2_SESSION_BLOCK_OUTBOUND))
			return false;
		p->blocked_op = PUMP_OP_NONE;
	}
	else if (p->blocked_op == PUMP_OP_EOF)
	{
		if (libssh2_channel_send_eof(p->channel) == LIBSSH2_ERROR_EAGAIN)
			return false;
		p->blocked_op = PUMP_OP_NONE;
	}
	rc = libssh2_channel_close(p->channel);
	if (rc == LIBSSH2_ERROR_EAGAIN)
	{
		note_eagain(p, session, PUMP_OP_CLOSE);
		return false;
	}
	rc = libssh2_channel_free(p->channel);
	if (rc == LIBSSH2_ERROR_EAGAIN)
	{
		note_eagain(p, session, PUMP_OP_CLOSE);
		return false;
	}
	p->blocked_op = PUMP_OP_NONE;
	p->channel = NULL;
	return true;
}

/* Frees the pump's memory and closes its socket if still open. */
void
pump_free(pump *p)
{
	if (p == NULL)
		return;
	if (p->fd >= 0)
		close(p->fd);
	free(p->up.data);
	free(p->down.data);
	free(p);
}
