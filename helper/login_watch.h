/*
 * login_watch.h
 *		Whether a client has completed PostgreSQL's startup, read from the
 *		bytes its pump forwards (never changed): the startup is complete at
 *		the server's first ReadyForQuery, the point where PostgreSQL itself
 *		ends the startup phase.  Until then the client is under
 *		TUNNEL_LOGIN_TIMEOUT, as under PgBouncer's client_login_timeout.
 *
 *		A client that negotiates TLS or GSSAPI encryption inside the channel
 *		(SSLRequest answered 'S', GSSENCRequest answered 'G', or a TLS
 *		ClientHello first, as PostgreSQL 17's direct TLS sends) goes where
 *		the helper cannot read.  Its startup then counts as complete at that
 *		answer: what follows (the handshake, the authentication) is timed by
 *		PostgreSQL's authentication_timeout, and when the server gives up and
 *		closes, the pump frees the channel.  The other choice, timing the
 *		whole encrypted session, would cut every TLS client off after
 *		TUNNEL_LOGIN_TIMEOUT.
 */
#ifndef CHATGENIUS_LOGIN_WATCH_H
#define CHATGENIUS_LOGIN_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum login_state
{
	LOGIN_STARTING,				/* the startup is under way */
	LOGIN_DONE,					/* the server sent ReadyForQuery */
	LOGIN_ENCRYPTED,			/* TLS or GSSAPI accepted: PostgreSQL times the rest */
	LOGIN_UNREADABLE			/* the server's bytes are not PostgreSQL's
								 * protocol: the timer keeps running */
} login_state;

typedef struct login_watch
{
	login_state state;
	/* The client's startup packets (length, code), until the StartupMessage. */
	bool		client_done;
	unsigned char chdr[8];
	int			chdr_len;
	uint32_t	cskip;			/* bytes of the current packet not yet seen */
	int			answers;		/* one-byte answers the server owes */
	/* The server's messages (type, length). */
	unsigned char shdr[5];
	int			shdr_len;
	uint32_t	sskip;
} login_watch;

extern void login_watch_init(login_watch *w);

/* Takes bytes the client sent (in order, as read). */
extern void login_watch_client(login_watch *w, const char *data, size_t len);

/* Takes bytes the server sent (in order, as read). */
extern void login_watch_server(login_watch *w, const char *data, size_t len);

/* Returns true while the login timeout applies to this client. */
extern bool login_watch_pending(const login_watch *w);

#endif							/* CHATGENIUS_LOGIN_WATCH_H */
