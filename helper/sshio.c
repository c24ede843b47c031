/*
 * sshio.c
 *		The worker-owned socket I/O of one SSH session (see sshio.h).
 *
 *		Profile notes (pgbench -S through the tunnel, strace -c -f):
 *		letting libssh2 call send(2) and recv(2) itself cost one send per
 *		SSH packet (window adjustments included) and one or two recv per
 *		channel call that found nothing, most of them ending in EAGAIN.
 *		Here libssh2 only copies: the socket sees one recv of up to
 *		SSHIO_IN_SIZE per wake-up and one send per loop pass, and sshd in
 *		turn reads many packets per wake-up.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "clock.h"
#include "sshio.h"

#define SSHIO_IN_SIZE	(256 * 1024)	/* one recv's worth; also the
										 * most the server can be ahead of
										 * libssh2 */
#define SSHIO_OUT_MARK	(256 * 1024)	/* above this, channel writes wait */

/*
 * libssh2's send: appends the packet to the output buffer and always
 * reports it sent whole, so that libssh2 never keeps a half-sent packet.
 * Growth is bounded by the callers: channel data is written only while
 * sshio_out_open(), and what else libssh2 sends (window adjustments,
 * opens, closes, keepalives) is small.  Returns length, or -errno once the
 * socket failed.
 */
static
LIBSSH2_SEND_FUNC(sshio_send_cb)
{
	sshio	   *io = (sshio *) *abstract;

	if (io->err != 0)
		return -io->err;
	if (io->out_end + length > io->out_cap)
	{
		size_t		used = io->out_end - io->out_start;
		size_t		cap = io->out_cap;
		char	   *n;

		if (io->out_start > 0)
		{
			memmove(io->out, io->out + io->out_start, used);
			io->out_start = 0;
			io->out_end = used;
		}
		while (used + length > cap)
			cap *= 2;
		if (cap != io->out_cap)
		{
			n = realloc(io->out, cap);
			if (n == NULL)
				return -ENOMEM;
			io->out = n;
			io->out_cap = cap;
		}
	}
	memcpy(io->out + io->out_end, buffer, length);
	io->out_end += length;
	return (ssize_t) length;
}

/*
 * libssh2's recv: hands out what the worker read.  Returns the bytes
 * copied, -EAGAIN when the buffer is empty, 0 after the server closed, or
 * -errno after a socket error.
 */
static
LIBSSH2_RECV_FUNC(sshio_recv_cb)
{
	sshio	   *io = (sshio *) *abstract;
	size_t		avail = io->in_end - io->in_start;

	if (avail == 0)
	{
		if (io->err != 0)
			return -io->err;
		return io->eof ? 0 : -EAGAIN;
	}
	if (length > avail)
		length = avail;
	memcpy(buffer, io->in + io->in_start, length);
	io->in_start += length;
	if (io->in_start == io->in_end)
		io->in_start = io->in_end = 0;
	io->gen++;
	return (ssize_t) length;
}

/* Returns the new I/O state for conn (callbacks installed), or NULL. */
sshio *
sshio_attach(ssh_conn *conn)
{
	sshio	   *io = calloc(1, sizeof(*io));
	void	  **abstract;

	if (io == NULL)
		return NULL;
	io->in = malloc(SSHIO_IN_SIZE);
	io->out_cap = 64 * 1024;
	io->out = malloc(io->out_cap);
	if (io->in == NULL || io->out == NULL)
	{
		free(io->in);
		free(io->out);
		free(io);
		return NULL;
	}
	io->conn = conn;
	/* The callbacks find io through the session's abstract pointer. */
	abstract = libssh2_session_abstract(conn->session);
	io->old_abstract = *abstract;
	*abstract = io;
	io->old_send = libssh2_session_callback_set(conn->session, LIBSSH2_CALLBACK_SEND,
												(void *) sshio_send_cb);
	io->old_recv = libssh2_session_callback_set(conn->session, LIBSSH2_CALLBACK_RECV,
												(void *) sshio_recv_cb);
	return io;
}

/* Flushes (bounded by timeout_ms), restores libssh2's own I/O, frees io. */
void
sshio_detach(sshio *io, int timeout_ms)
{
	int64_t		deadline = clock_now_ms() + timeout_ms;

	if (io == NULL)
		return;
	while (sshio_out_pending(io) > 0 && sshio_flush(io) == 0 &&
		   sshio_out_pending(io) > 0)
	{
		struct pollfd pfd = {.fd = io->conn->sock,.events = POLLOUT};
		int64_t		left = deadline - clock_now_ms();

		if (left <= 0 || poll(&pfd, 1, (int) left) <= 0)
			break;
	}
	/*
	 * Output that could not leave in time is dropped: the goodbye libssh2
	 * sends next then follows a cut packet, and the server, seeing a bad
	 * MAC, drops the connection, which is the end asked for anyway.
	 */
	libssh2_session_callback_set(io->conn->session, LIBSSH2_CALLBACK_SEND, io->old_send);
	libssh2_session_callback_set(io->conn->session, LIBSSH2_CALLBACK_RECV, io->old_recv);
	*libssh2_session_abstract(io->conn->session) = io->old_abstract;
	free(io->in);
	free(io->out);
	free(io);
}

/* Returns bytes read into the input buffer, 0 when none, -1 at eof or error. */
int
sshio_fill(sshio *io)
{
	ssize_t		n;

	if (io->eof || io->err)
		return -1;
	if (io->in_start > 0 && io->in_start == io->in_end)
		io->in_start = io->in_end = 0;
	else if (io->in_start > SSHIO_IN_SIZE / 2)
	{
		memmove(io->in, io->in + io->in_start, io->in_end - io->in_start);
		io->in_end -= io->in_start;
		io->in_start = 0;
	}
	if (io->in_end == SSHIO_IN_SIZE)
		return 0;
	do
		n = recv(io->conn->sock, io->in + io->in_end, SSHIO_IN_SIZE - io->in_end, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0)
	{
		io->in_end += (size_t) n;
		io->gen++;				/* new input: every waiting channel may look */
		atomic_store(&io->conn->last_recv_ms, clock_now_ms());
		return (int) n;
	}
	if (n == 0)
	{
		io->eof = true;
		io->gen++;
		return -1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return 0;
	io->err = errno;
	return -1;
}

/* Returns 0 once the output is sent or the socket is full, -1 on error. */
int
sshio_flush(sshio *io)
{
	while (io->out_start < io->out_end)
	{
		ssize_t		n = send(io->conn->sock, io->out + io->out_start,
							 io->out_end - io->out_start, MSG_NOSIGNAL);

		if (n > 0)
			io->out_start += (size_t) n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		else
		{
			io->err = n < 0 ? errno : EPIPE;
			return -1;
		}
	}
	io->out_start = io->out_end = 0;
	return io->err ? -1 : 0;
}

/* True while channel data may be added to the output. */
bool
sshio_out_open(const sshio *io)
{
	return io->out_end - io->out_start < SSHIO_OUT_MARK;
}

/* Bytes buffered for the socket. */
size_t
sshio_out_pending(const sshio *io)
{
	return io->out_end - io->out_start;
}

/* Bytes read from the socket that libssh2 has not taken yet. */
size_t
sshio_in_pending(const sshio *io)
{
	return io->in_end - io->in_start;
}

/* True while another recv would have room. */
bool
sshio_in_room(const sshio *io)
{
	return io->in_end < SSHIO_IN_SIZE || io->in_start > 0;
}
