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
#include <sys/socket.h>
#include <unistd.h>

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
	p->started_ms = ssh_now_ms();
	return p;
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
	p->channel = libssh2_channel_direct_tcpip_ex(session, cfg->remote_host, cfg->remote_port,
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
	rc = ssh_channel_open_error(session, cfg->remote_host, cfg->remote_port, p->error, sizeof(p->error));
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
 * Client -> buffer -> channel.  Returns PUMP_RUNNING, PUMP_DONE (client
 * error) or PUMP_SESSION_ERROR.
 */
static pump_status
pump_upstream(pump *p, LIBSSH2_SESSION *session)
{
	pump_buf   *b = &p->up;
	int64_t		moved = 0;

	buf_compact(b, b->pending != 0);
	while (!p->client_eof && b->end < PUMP_BUFSIZE)
	{
		ssize_t		n = read(p->fd, b->data + b->end, PUMP_BUFSIZE - b->end);

		if (n > 0)
		{
			b->end += (size_t) n;
			moved += n;
		}
		else if (n == 0)
		{
			p->client_eof = true;
			p->progress = true;
		}
		else if (errno == EINTR)
			continue;
		else if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		else
		{
			snprintf(p->error, sizeof(p->error), "client read: %s", strerror(errno));
			return PUMP_DONE;
		}
	}
	if (moved > 0)
	{
		stats_add_bytes(0, moved);
		p->progress = true;
	}

	while (b->start < b->end)
	{
		size_t		len = b->pending ? b->pending : b->end - b->start;
		ssize_t		n = libssh2_channel_write(p->channel, b->data + b->start, len);

		if (n > 0)
		{
			b->start += (size_t) n;
			b->pending = 0;
			p->stall_since = 0;
			p->progress = true;
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
				p->stall_since = ssh_now_ms();
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
 * gone) or PUMP_SESSION_ERROR.
 */
static pump_status
pump_downstream(pump *p, LIBSSH2_SESSION *session)
{
	pump_buf   *b = &p->down;
	int64_t		moved = 0;

	buf_compact(b, false);
	/* Another call of this pump holds the session's output: no read. */
	while (!p->channel_eof && b->end < PUMP_BUFSIZE &&
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

		if (n != LIBSSH2_ERROR_EAGAIN)
			note_done(p, PUMP_OP_READ);
		if (n > 0)
		{
			b->end += (size_t) n;
			b->pending = 0;
			moved += n;
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
	{
		stats_add_bytes(moved, 0);
		p->progress = true;
	}

	while (b->start < b->end)
	{
		ssize_t		n = write(p->fd, b->data + b->start, b->end - b->start);

		if (n > 0)
		{
			b->start += (size_t) n;
			p->progress = true;
		}
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		else
		{
			snprintf(p->error, sizeof(p->error), "client write: %s", strerror(errno));
			return PUMP_DONE;
		}
	}
	if (p->channel_eof && b->start == b->end && !p->client_shut)
	{
		shutdown(p->fd, SHUT_WR);
		p->client_shut = true;
	}
	/* Room made now is what the poll interest is computed from. */
	buf_compact(b, false);
	return PUMP_RUNNING;
}

/*
 * Returns PUMP_DONE when both directions finished (or a side failed),
 * PUMP_SESSION_ERROR when the session broke, else PUMP_RUNNING.
 */
pump_status
pump_step(pump *p, LIBSSH2_SESSION *session)
{
	pump_status st;

	p->progress = false;
	/* A read left in EAGAIN is resumed before any write is tried. */
	if (p->blocked_op == PUMP_OP_READ)
	{
		st = pump_downstream(p, session);
		if (st != PUMP_RUNNING)
			return st;
		st = pump_upstream(p, session);
	}
	else
	{
		st = pump_upstream(p, session);
		if (st != PUMP_RUNNING)
			return st;
		st = pump_downstream(p, session);
	}
	if (st != PUMP_RUNNING)
		return st;
	/* Both sides said EOF and everything was passed on. */
	if (p->channel_eof && p->client_shut && p->eof_sent)
		return PUMP_DONE;
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
	if (!p->client_eof && p->up.end < PUMP_BUFSIZE)
		pfd->events |= POLLIN;
	if (p->down.start < p->down.end)
		pfd->events |= POLLOUT;
	if (pfd->events == 0)
		pfd->fd = -1;			/* no hang-up wake-ups while idle */
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
	if (p->channel == NULL)
		return false;
	if (!p->channel_eof && p->down.end < PUMP_BUFSIZE)
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
