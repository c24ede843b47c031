/*
 * pgwire.c
 *		Refusing a client in PostgreSQL's protocol (pgwire.h).  The
 *		packets, as in PostgreSQL's pqcomm.h: a startup-phase packet is an
 *		int32 length (itself included) and an int32 code; SSLRequest
 *		(80877103) and GSSENCRequest (80877104) get the single byte 'N'
 *		("not here"), after which the client sends its StartupMessage
 *		(protocol 3.0); a CancelRequest (80877102) gets no answer.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "pgwire.h"

#define CANCEL_REQUEST_CODE		80877102
#define SSL_REQUEST_CODE		80877103
#define GSSENC_REQUEST_CODE		80877104
#define MAX_STARTUP_PACKET		10000	/* PostgreSQL's MAX_STARTUP_PACKET_LENGTH */

/* Returns the big-endian uint32 at p. */
static uint32_t
get_u32(const unsigned char *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* Stores v big-endian at p. */
static void
put_u32(char *p, uint32_t v)
{
	p[0] = (char) (v >> 24);
	p[1] = (char) (v >> 16);
	p[2] = (char) (v >> 8);
	p[3] = (char) v;
}

/*
 * Appends a field (type byte, text, NUL) at *pos.  Returns false when it
 * does not fit in buflen (one byte is kept for the terminator).
 */
static bool
put_field(char *buf, size_t buflen, size_t *pos, char type, const char *text)
{
	size_t		n = strlen(text);

	if (*pos + 1 + n + 1 + 1 > buflen)
		return false;
	buf[(*pos)++] = type;
	memcpy(buf + *pos, text, n + 1);
	*pos += n + 1;
	return true;
}

/* Returns the ErrorResponse's length in buf, or 0 when it does not fit. */
size_t
pgwire_error_response(char *buf, size_t buflen, const char *sqlstate, const char *message)
{
	size_t		pos = 5;

	if (buflen < 6)
		return 0;
	buf[0] = 'E';
	if (!put_field(buf, buflen, &pos, 'S', "FATAL") ||
		!put_field(buf, buflen, &pos, 'V', "FATAL") ||
		!put_field(buf, buflen, &pos, 'C', sqlstate) ||
		!put_field(buf, buflen, &pos, 'M', message))
		return 0;
	buf[pos++] = '\0';
	put_u32(buf + 1, (uint32_t) (pos - 1));
	return pos;
}

void
pgwire_refusal_init(pgwire_refusal *r, int fd, const char *sqlstate, const char *message,
					int64_t deadline_ms)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->deadline_ms = deadline_ms;
	r->stage = PGWIRE_READING;
	snprintf(r->sqlstate, sizeof(r->sqlstate), "%s", sqlstate);
	snprintf(r->message, sizeof(r->message), "%s", message);
	r->outcome = "pending";
}

/* Queues bytes to send and switches to writing. */
static void
queue_out(pgwire_refusal *r, const char *data, size_t len)
{
	memcpy(r->out, data, len);
	r->out_len = len;
	r->out_sent = 0;
	r->stage = PGWIRE_WRITING;
}

/* Queues the ErrorResponse; it is the last thing sent. */
static void
queue_error(pgwire_refusal *r)
{
	size_t		n = pgwire_error_response(r->out, sizeof(r->out), r->sqlstate, r->message);

	r->answered = true;
	if (n == 0)
	{
		r->stage = PGWIRE_DONE;
		r->outcome = "message_too_long";
		return;
	}
	r->out_len = n;
	r->out_sent = 0;
	r->stage = PGWIRE_WRITING;
}

/*
 * A complete packet header is in r->head: decide.  Returns nothing; the
 * stage says what comes next.
 */
static void
on_header(pgwire_refusal *r)
{
	uint32_t	len = get_u32(r->head);
	uint32_t	code = get_u32(r->head + 4);

	r->head_have = 0;
	if (len < 8 || len > MAX_STARTUP_PACKET)
	{
		/* Not a PostgreSQL client (or a broken one): say why all the same. */
		queue_error(r);
		return;
	}
	if (len == 8 && (code == SSL_REQUEST_CODE || code == GSSENC_REQUEST_CODE))
	{
		queue_out(r, "N", 1);
		return;
	}
	if (code == CANCEL_REQUEST_CODE)
	{
		r->stage = PGWIRE_DONE;
		r->outcome = "cancel_request";
		return;
	}
	/* The StartupMessage: its parameters are read and dropped. */
	r->skip = len - 8;
	if (r->skip == 0)
		queue_error(r);
}

short
pgwire_refusal_step(pgwire_refusal *r)
{
	for (;;)
	{
		ssize_t		n;

		if (r->stage == PGWIRE_DONE)
			return 0;
		if (clock_now_ms() >= r->deadline_ms)
		{
			r->outcome = r->stage == PGWIRE_WRITING ? "write_timeout" : "startup_timeout";
			r->stage = PGWIRE_DONE;
			return 0;
		}
		if (r->stage == PGWIRE_WRITING)
		{
			n = send(r->fd, r->out + r->out_sent, r->out_len - r->out_sent, MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				return POLLOUT;
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
			{
				r->stage = PGWIRE_DONE;
				r->outcome = "client_gone";
				return 0;
			}
			r->out_sent += (size_t) n;
			if (r->out_sent < r->out_len)
				continue;
			if (r->answered)
			{
				r->stage = PGWIRE_DONE;
				r->outcome = "error_sent";
				return 0;
			}
			r->stage = PGWIRE_READING;	/* 'N' sent: the next packet follows */
			continue;
		}
		/* Reading: a header, or the rest of a StartupMessage to discard. */
		if (r->skip > 0)
		{
			char		sink[1024];
			size_t		want = r->skip < sizeof(sink) ? r->skip : sizeof(sink);

			n = recv(r->fd, sink, want, 0);
		}
		else
			n = recv(r->fd, r->head + r->head_have, sizeof(r->head) - r->head_have, 0);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return POLLIN;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
		{
			r->stage = PGWIRE_DONE;
			r->outcome = "client_gone";
			return 0;
		}
		if (r->skip > 0)
		{
			r->skip -= (uint32_t) n;
			if (r->skip == 0)
				queue_error(r);
			continue;
		}
		r->head_have += (size_t) n;
		if (r->head_have == sizeof(r->head))
			on_header(r);
	}
}
