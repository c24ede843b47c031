/*
 * sshio.h
 *		The SSH socket's I/O, owned by the worker thread instead of libssh2:
 *		libssh2's send and receive callbacks only copy to and from two
 *		user-space buffers, and the worker moves those buffers to and from
 *		the socket, one send and one recv per loop pass for every channel
 *		of the session (as OpenSSH's client does).
 *
 *		Two consequences the worker relies on:
 *		- libssh2 never sees EAGAIN on send, so no packet is ever left
 *		  half-sent inside the session (libssh2 1.10 then refuses every
 *		  other send with LIBSSH2_ERROR_BAD_USE);
 *		- "has libssh2 taken input since this channel last found none?" is
 *		  answered by comparing a counter (gen), without a syscall, which
 *		  closes the lost wakeup where one channel's call drains the socket
 *		  into the session's packet list while the worker sleeps in poll.
 */
#ifndef CHATGENIUS_SSHIO_H
#define CHATGENIUS_SSHIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ssh_session.h"

typedef struct sshio
{
	ssh_conn   *conn;
	char	   *in;				/* read from the socket, not yet taken */
	size_t		in_start;
	size_t		in_end;
	char	   *out;			/* encrypted packets not yet sent */
	size_t		out_start;
	size_t		out_end;
	size_t		out_cap;
	uint64_t	gen;			/* bumped whenever input arrives or
								 * libssh2 takes some */
	bool		eof;			/* the server closed the connection */
	int			err;			/* errno of a failed send or recv, or 0 */
	void	   *old_send;		/* what sshio_detach puts back */
	void	   *old_recv;
	void	   *old_abstract;
} sshio;

/*
 * Takes over conn's socket I/O (after the handshake).  Returns the new
 * state, or NULL without memory (conn is then unchanged).
 */
extern sshio *sshio_attach(ssh_conn *conn);

/*
 * Sends what is still buffered (waiting at most timeout_ms for the
 * socket), gives the I/O back to libssh2 and frees io.  NULL is accepted.
 */
extern void sshio_detach(sshio *io, int timeout_ms);

/* One recv into the input buffer.  Returns bytes read, 0, or -1 (eof/error). */
extern int	sshio_fill(sshio *io);

/* Sends buffered output until EAGAIN.  Returns 0, or -1 on a socket error. */
extern int	sshio_flush(sshio *io);

/* True while the output buffer is below its mark: channel data may be written. */
extern bool sshio_out_open(const sshio *io);

/* Bytes waiting to be sent, or to be taken by libssh2. */
extern size_t sshio_out_pending(const sshio *io);
extern size_t sshio_in_pending(const sshio *io);

/* True while the input buffer has room for another recv. */
extern bool sshio_in_room(const sshio *io);

#endif							/* CHATGENIUS_SSHIO_H */
