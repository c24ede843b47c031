/*
 * listener.c
 *		Accepting clients (pgbouncer's pooler.c): one thread polls the
 *		listening socket, makes each client socket non-blocking with
 *		TCP_NODELAY and hands it to the pool; it also ends the wait of
 *		clients whose TUNNEL_CLIENT_WAIT is over.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "service_thread.h"
#include "ssh_session.h"

static int	listen_fd = -1;
static int	standby_fd = -1;	/* TUNNEL_STANDBY_PORT's socket, or -1 */
static service_thread accept_thread = SERVICE_THREAD_INIT;

/*
 * Out of file descriptors (or kernel memory), accept(2) fails at once while
 * the client stays in the backlog, so the listening socket stays readable:
 * polling it again would spin and log on every pass.  As PgBouncer does,
 * accepting pauses for ACCEPT_PAUSE_MS; the backlog keeps the clients, and
 * one line is logged per episode (accept_paused, then accept_resumed).
 * Touched by the accept thread only.
 */
#define ACCEPT_PAUSE_MS 1000
static int64_t accept_paused_until;	/* clock_now_ms; 0 when accepting */
static int	accept_pauses;		/* pauses in the current episode */

/* Returns 0 once host:*port is bound and listening, else -1 with err. */
int
listener_open(const char *host, int *port, char *err, size_t errlen)
{
	struct addrinfo hints,
			   *res = NULL;
	char		portstr[16];
	int			rc,
				one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	snprintf(portstr, sizeof(portstr), "%d", *port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0)
	{
		snprintf(err, errlen, "listen address %s: %s", host, gai_strerror(rc));
		return -1;
	}
	listen_fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
					   res->ai_protocol);
	if (listen_fd < 0 ||
		setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		bind(listen_fd, res->ai_addr, res->ai_addrlen) != 0 ||
		listen(listen_fd, 128) != 0)
	{
		int			saved = errno;

		snprintf(err, errlen, "bind %s port %d: %s", host, *port, strerror(saved));
		if (listen_fd >= 0)
			close(listen_fd);
		listen_fd = -1;
		freeaddrinfo(res);
		errno = saved;			/* the caller picks the exit code from it */
		return -1;
	}
	freeaddrinfo(res);
	if (*port == 0)
	{
		struct sockaddr_storage ss;
		socklen_t	len = sizeof(ss);

		if (getsockname(listen_fd, (struct sockaddr *) &ss, &len) != 0)
		{
			snprintf(err, errlen, "getsockname: %s", strerror(errno));
			close(listen_fd);
			listen_fd = -1;
			return -1;
		}
		*port = ntohs(ss.ss_family == AF_INET6 ?
					  ((struct sockaddr_in6 *) &ss)->sin6_port :
					  ((struct sockaddr_in *) &ss)->sin_port);
	}
	return 0;
}

/* Writes "address:port" of a peer into buf and returns the port. */
static int
peer_name(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char		host[INET6_ADDRSTRLEN] = "?";
	int			port = 0;

	if (ss->ss_family == AF_INET)
	{
		const struct sockaddr_in *in = (const struct sockaddr_in *) ss;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
	}
	else if (ss->ss_family == AF_INET6)
	{
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *) ss;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
	}
	snprintf(buf, len, "%s:%d", host, port);
	return port;
}

/*
 * Binds the read-only listener (TUNNEL_STANDBY_PORT) beside the first:
 * its clients go to a standby (cluster.h).  Returns 0 or -1 with err.
 */
int
listener_open_standby(const char *host, int port, char *err, size_t errlen)
{
	int			primary_fd = listen_fd;
	int			rc;

	rc = listener_open(host, &port, err, errlen);
	standby_fd = rc == 0 ? listen_fd : -1;
	listen_fd = primary_fd;
	return rc;
}

/* Accepts every pending client of fd; returns nothing, errors are logged. */
static void
accept_all(int sock, bool standby)
{
	for (;;)
	{
		struct sockaddr_storage ss;
		socklen_t	len = sizeof(ss);
		char		name[64];
		int			one = 1;
		int			port;
		int			fd = accept4(sock, (struct sockaddr *) &ss, &len,
								 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
		{
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			{
				accept_paused_until = clock_now_ms() + ACCEPT_PAUSE_MS;
				if (accept_pauses++ == 0)
					log_msg(LOG_WARN, "accept_paused", "error=\"%s\" pause_ms=%d "
							"detail=\"clients wait in the backlog; raise LimitNOFILE\"",
							strerror(errno), ACCEPT_PAUSE_MS);
				return;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_msg(LOG_WARN, "accept_failed", "error=\"%s\"", strerror(errno));
			return;
		}
		if (accept_pauses > 0)
		{
			log_msg(LOG_INFO, "accept_resumed", "pauses=%d", accept_pauses);
			accept_pauses = 0;
		}
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
			log_msg(LOG_DEBUG, "nodelay_failed", "error=\"%s\"", strerror(errno));
		port = peer_name(&ss, name, sizeof(name));
		log_msg(LOG_DEBUG, "client_accepted", standby ? "client=%s standby=1" : "client=%s", name);
		pool_submit_to(fd, name, port, standby);
	}
}

/*
 * The accept thread: poll the listening socket and the wake eventfd, with
 * a timeout at the next waiting client's deadline.  Returns NULL at stop.
 */
static void *
listener_main(void *arg)
{
	while (!service_thread_stopping(&accept_thread))
	{
		struct pollfd pfds[3] = {
			{.fd = listen_fd,.events = POLLIN},
			{.fd = accept_thread.wake_fd,.events = POLLIN},
			{.fd = standby_fd,.events = POLLIN},
		};
		int64_t		deadline = pool_next_deadline();
		int			timeout = -1;
		int			rc;

		if (accept_paused_until != 0)
		{
			if (clock_now_ms() >= accept_paused_until)
				accept_paused_until = 0;
			else
			{
				/* the listening socket is left out of this poll */
				pfds[0].fd = pfds[2].fd = -1;
				if (deadline < 0 || deadline > accept_paused_until)
					deadline = accept_paused_until;
			}
		}
		if (deadline >= 0)
		{
			int64_t		left = deadline - clock_now_ms();

			timeout = left <= 0 ? 0 : (left > 60000 ? 60000 : (int) left + 1);
		}
		rc = poll(pfds, 3, timeout);
		if (rc < 0 && errno != EINTR)
		{
			log_msg(LOG_ERROR, "poll_failed", "error=\"%s\"", strerror(errno));
			break;
		}
		if (rc > 0 && (pfds[0].revents & POLLIN))
			accept_all(listen_fd, false);
		if (rc > 0 && (pfds[2].revents & POLLIN))
			accept_all(standby_fd, true);
		pool_expire_waiting();
	}
	return NULL;
}

/* Returns 0 once the accept thread runs, -1 otherwise. */
int
listener_start(void)
{
	char		err[256];

	if (service_thread_start(&accept_thread, listener_main, err, sizeof(err)) != 0)
	{
		log_msg(LOG_ERROR, "thread_start_failed", "thread=listener error=\"%s\"", err);
		return -1;
	}
	return 0;
}

/* Stops the accept thread and closes the listening socket. */
void
listener_stop(void)
{
	service_thread_stop(&accept_thread);
	if (listen_fd >= 0)
		close(listen_fd);
	listen_fd = -1;
	if (standby_fd >= 0)
		close(standby_fd);
	standby_fd = -1;
}
