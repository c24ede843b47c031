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
 *
 *		Once encryption is accepted, the bytes are opaque: what counts is
 *		who speaks when.  A server flight is what the server sends before
 *		the client speaks again; the second one ends the watch.  Only the
 *		server's first TLS record is read, to tell a HelloRetryRequest (a
 *		ServerHello whose random is the fixed value of RFC 8446, 4.1.3).
 */
#include <string.h>

#include "login_watch.h"

#define SSL_REQUEST_CODE	80877103
#define GSSENC_REQUEST_CODE 80877104
#define TLS_HANDSHAKE_RECORD 0x16	/* a TLS record of type handshake */
#define TLS_SERVER_HELLO	0x02	/* a handshake message of type ServerHello */

/* SHA-256("HelloRetryRequest"): the random of a HelloRetryRequest. */
static const unsigned char hello_retry_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
	0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c
};

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

/* Enters the encrypted handshake (TLS records, or GSSAPI tokens). */
static void
handshake_begin(login_watch *w, bool tls)
{
	w->state = LOGIN_HANDSHAKE;
	w->tls = tls;
	w->flights = 0;
	w->client_since = false;
	w->retry = false;
	w->hello_len = 0;
}

/*
 * Notes that the client spoke during the handshake: the server's next
 * bytes, if any, answer it.  Before the server's first answer this says
 * nothing: the client may send what it likes.
 */
static void
handshake_client(login_watch *w)
{
	if (w->flights > 0 || w->retry)
		w->client_since = true;
}

/*
 * Reads the server's first TLS record far enough to tell a
 * HelloRetryRequest, which makes the next ServerHello the first answer
 * again.
 */
static void
handshake_hello(login_watch *w, const unsigned char *p, size_t len)
{
	size_t		n = LOGIN_HELLO_BYTES - (size_t) w->hello_len;

	if (n > len)
		n = len;
	memcpy(w->hello + w->hello_len, p, n);
	w->hello_len += (int) n;
	if (w->hello_len < LOGIN_HELLO_BYTES)
		return;
	/* record header (5), handshake header (4), legacy_version (2), random */
	if (w->hello[0] == TLS_HANDSHAKE_RECORD && w->hello[5] == TLS_SERVER_HELLO &&
		memcmp(w->hello + 11, hello_retry_random, sizeof(hello_retry_random)) == 0)
	{
		w->retry = true;
		w->flights = 0;
		w->client_since = false;
	}
}

/*
 * Takes the server's bytes during the handshake: a new flight when the
 * client spoke since the last one (or for the first answer); the second
 * flight ends the watch.
 */
static void
handshake_server(login_watch *w, const unsigned char *p, size_t len)
{
	if ((w->flights == 0 && !w->retry) || w->client_since)
	{
		w->flights++;
		w->client_since = false;
		if (w->flights >= 2)
		{
			w->state = LOGIN_ENCRYPTED;
			return;
		}
	}
	if (w->tls && !w->retry && w->hello_len < LOGIN_HELLO_BYTES)
		handshake_hello(w, p, len);
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

	if (w->state == LOGIN_HANDSHAKE)
	{
		if (len > 0)
			handshake_client(w);
		return;
	}
	while (len > 0 && !w->client_done && w->state == LOGIN_STARTING)
	{
		uint32_t	plen,
					code;

		/* PostgreSQL 17's direct TLS: a ClientHello with no SSLRequest. */
		if (w->chdr_len == 0 && w->answers == 0 && *p == TLS_HANDSHAKE_RECORD)
		{
			handshake_begin(w, true);
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
 * ReadyForQuery (done), an accepted encryption request (the handshake,
 * then followed by flights), or bytes that cannot be PostgreSQL's
 * (unreadable).
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
				handshake_begin(w, *p == 'S');
				p++;
				len--;
				break;
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
	if (w->state == LOGIN_HANDSHAKE && len > 0)
		handshake_server(w, p, len);
}

/* Returns true while the client has not completed its startup. */
bool
login_watch_pending(const login_watch *w)
{
	return w->state == LOGIN_STARTING || w->state == LOGIN_HANDSHAKE ||
		w->state == LOGIN_UNREADABLE;
}
