/*
 * login_watch.h
 *		Whether a client has completed PostgreSQL's startup, read from the
 *		bytes its pump forwards (never changed), so that TUNNEL_LOGIN_TIMEOUT
 *		(as PgBouncer's client_login_timeout) ends only what never logged in.
 *		Only the server's bytes can stop the clock; no sequence of client
 *		bytes does, since a local user writes those:
 *
 *		- in the clear, at the server's first ReadyForQuery, the point where
 *		  PostgreSQL itself ends the startup phase;
 *		- encrypted (SSLRequest answered 'S', GSSENCRequest answered 'G', or a
 *		  TLS record first, as PostgreSQL 17's direct TLS sends), when the
 *		  server answers for the second time in the handshake: its first
 *		  flight answers the client's hello (a ServerHello, a GSSAPI token),
 *		  and it speaks again only once the client's next flight was accepted
 *		  (TLS 1.3: after the client's Finished; TLS 1.2: its ChangeCipherSpec
 *		  and Finished).  A HelloRetryRequest does not count as the first
 *		  answer: the client's second ClientHello is still a hello.
 *
 *		What follows an accepted handshake (the authentication) is sealed
 *		from the helper and timed by PostgreSQL's authentication_timeout;
 *		when the server gives up and closes, the pump frees the channel.
 *		Timing the whole encrypted session instead would cut every TLS client
 *		off after TUNNEL_LOGIN_TIMEOUT.
 */
#ifndef CHATGENIUS_LOGIN_WATCH_H
#define CHATGENIUS_LOGIN_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum login_state
{
	LOGIN_STARTING,				/* the startup is under way, in the clear */
	LOGIN_HANDSHAKE,			/* encryption accepted: the handshake runs */
	LOGIN_DONE,					/* the server sent ReadyForQuery */
	LOGIN_ENCRYPTED,			/* the server went on past the handshake: the
								 * rest is PostgreSQL's to time */
	LOGIN_UNREADABLE			/* the server's bytes are not PostgreSQL's
								 * protocol: the timer keeps running */
} login_state;

/* The TLS ServerHello's first bytes that tell a HelloRetryRequest. */
#define LOGIN_HELLO_BYTES 43

typedef struct login_watch
{
	login_state state;
	/* The client's startup packets (length, code), until the StartupMessage. */
	bool		client_done;
	unsigned char chdr[8];
	int			chdr_len;
	int			answers;		/* one-byte answers the server owes */
	/* The server's messages (type, length). */
	unsigned char shdr[5];
	int			shdr_len;
	uint32_t	sskip;
	/* The handshake (LOGIN_HANDSHAKE): the server's flights. */
	bool		tls;			/* TLS records, else GSSAPI tokens */
	int			flights;		/* the server's answers so far */
	bool		client_since;	/* the client spoke since the server's last */
	bool		retry;			/* the server asked for a second ClientHello */
	unsigned char hello[LOGIN_HELLO_BYTES];	/* the server's first record */
	int			hello_len;
} login_watch;

extern void login_watch_init(login_watch *w);

/* Takes bytes the client sent (in order, as read). */
extern void login_watch_client(login_watch *w, const char *data, size_t len);

/* Takes bytes the server sent (in order, as read). */
extern void login_watch_server(login_watch *w, const char *data, size_t len);

/* Returns true while the login timeout applies to this client. */
extern bool login_watch_pending(const login_watch *w);

#endif							/* CHATGENIUS_LOGIN_WATCH_H */
