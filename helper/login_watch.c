/*
 * login_watch.c
 *		Follows PostgreSQL's startup in both directions of one channel (see
 *		login_watch.h), with headers only: a packet's or message's length is
 *		read and its body skipped, so that a watch costs a few comparisons
 *		per read, whatever the client sends.
 *
 *		Client to server, before the StartupMessage, every packet is an
 *		int32 length then an int32 code; SSLRequest (80877103) and
 *		GSSENCRequest (80877104) are answered by the server with one byte
 *		('S'/'G' yes, 'N' no), which is how the server's stream can be told
 *		apart: a NoticeResponse also starts with 'N'.  Server to client,
 *		every message is a type byte then an int32 length that counts itself.
 */
#include "login_watch.h"

#define SSL_REQUEST_CODE	80877103
#define GSSENC_REQUEST_CODE 80877104
#define TLS_HANDSHAKE_RECORD 0x16	/* a TLS record of type handshake */

/* Returns the big-endian int32 at p. */
static uint32_t
be32(const unsigned char *p)
{
	return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16) | ((uint32_t) p[2] << 8) | p[3];
}

/* Starts a watch for a new client. */
void
login_watch_init(login_watch *w)
{
	*w = (login_watch)
	{
		.state = LOGIN_STARTING
	};
}

/*
 * Reads the client's startup packets up to the StartupMessage (or a
 * CancelRequest, or anything else: the server judges it), counting the
 * encryption requests the server will answer with one byte.
 */
void
login_watch_client(login_watch *w, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *) data;

	while (len > 0 && !w->client_done && w->state == LOGIN_STARTING)
	{
		uint32_t	plen,
					code;

		if (w->cskip > 0)
		{
			size_t		n = len < w->cskip ? len : w->cskip;

			w->cskip -= (uint32_t) n;
			p += n;
			len -= n;
			continue;
		}
		/* PostgreSQL 17's direct TLS: a ClientHello with no SSLRequest. */
		if (w->chdr_len == 0 && w->answers == 0 && *p == TLS_HANDSHAKE_RECORD)
		{
			w->state = LOGIN_ENCRYPTED;
			return;
		}
		w->chdr[w->chdr_len++] = *p++;
		len--;
		if (w->chdr_len < 8)
			continue;
		w->chdr_len = 0;
		plen = be32(w->chdr);
		code = be32(w->chdr + 4);
		if (plen == 8 && (code == SSL_REQUEST_CODE || code == GSSENC_REQUEST_CODE))
			w->answers++;
		else
			w->client_done = true;	/* what follows is no longer startup packets */
	}
}

/*
 * Reads the server's one-byte answers and message headers until the first
 * ReadyForQuery (done), an accepted encryption request (encrypted), or
 * bytes that cannot be PostgreSQL's (unreadable).
 */
void
login_watch_server(login_watch *w, const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *) data;

	while (len > 0 && w->state == LOGIN_STARTING)
	{
		uint32_t	mlen;

		if (w->sskip > 0)
		{
			size_t		n = len < w->sskip ? len : w->sskip;

			w->sskip -= (uint32_t) n;
			p += n;
			len -= n;
			continue;
		}
		if (w->shdr_len == 0 && w->answers > 0)
		{
			if (*p == 'S' || *p == 'G')
			{
				w->state = LOGIN_ENCRYPTED;
				return;
			}
			if (*p == 'N')
			{
				w->answers--;
				p++;
				len--;
				continue;
			}
			w->answers = 0;		/* a message instead (an error): read it as one */
		}
		w->shdr[w->shdr_len++] = *p++;
		len--;
		if (w->shdr_len < 5)
			continue;
		w->shdr_len = 0;
		mlen = be32(w->shdr + 1);
		if (mlen < 4)
		{
			w->state = LOGIN_UNREADABLE;
			return;
		}
		if (w->shdr[0] == 'Z')
		{
			w->state = LOGIN_DONE;
			return;
		}
		w->sskip = mlen - 4;
	}
}

/* Returns true while the client has not completed its startup. */
bool
login_watch_pending(const login_watch *w)
{
	return w->state == LOGIN_STARTING || w->state == LOGIN_UNREADABLE;
}
