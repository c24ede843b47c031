/*
 * pgwire.h
 *		Just enough of PostgreSQL's frontend/backend protocol to refuse a
 *		client politely, as PgBouncer does: answer SSLRequest and
 *		GSSENCRequest with 'N', read the StartupMessage, then send an
 *		ErrorResponse (severity FATAL, a SQLSTATE, a message) and close.
 *		Only for clients the tunnel cannot serve: a served client's bytes
 *		are never read here, so TLS to PostgreSQL inside the channel is
 *		untouched.
 *
 *		A refusal is a small non-blocking state machine, so that one thread
 *		can refuse many clients at once and a silent client holds a slot
 *		until its deadline, never a thread.
 */
#ifndef CHATGENIUS_PGWIRE_H
#define CHATGENIUS_PGWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The SQLSTATEs and words the tunnel answers with: refusal_list.h. */
#define PGWIRE_MESSAGE_MAX	600

typedef enum pgwire_stage
{
	PGWIRE_READING,				/* waiting for (the rest of) a packet */
	PGWIRE_WRITING,				/* sending 'N' or the ErrorResponse */
	PGWIRE_DONE					/* finished: close the socket */
} pgwire_stage;

typedef struct pgwire_refusal
{
	int			fd;				/* non-blocking client socket */
	int64_t		deadline_ms;	/* clock_now_ms past which it is dropped */
	pgwire_stage stage;
	bool		answered;		/* the ErrorResponse is (being) sent */
	unsigned char head[8];		/* length and code of the current packet */
	size_t		head_have;
	uint32_t	skip;			/* body bytes of the packet still to discard */
	char		sqlstate[6];
	char		message[PGWIRE_MESSAGE_MAX];
	char		out[PGWIRE_MESSAGE_MAX + 64];
	size_t		out_len;
	size_t		out_sent;
	const char *outcome;		/* for the log: "error_sent", "cancel", ... */
} pgwire_refusal;

/* Prepare r to refuse fd with sqlstate and message, until deadline_ms. */
extern void pgwire_refusal_init(pgwire_refusal *r, int fd, const char *sqlstate,
								const char *message, int64_t deadline_ms);

/*
 * Do what can be done without blocking.  Returns the poll(2) events to
 * wait for (POLLIN or POLLOUT), or 0 once r is done (r->outcome says how;
 * the caller closes r->fd).
 */
extern short pgwire_refusal_step(pgwire_refusal *r);

/*
 * Build an ErrorResponse (severity FATAL) into buf.  Returns its length,
 * or 0 when buflen is too small.
 */
extern size_t pgwire_error_response(char *buf, size_t buflen, const char *sqlstate,
									const char *message);

#endif							/* CHATGENIUS_PGWIRE_H */
