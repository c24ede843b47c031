/*
 * health_room.c
 *		The health check's private endpoint (see health_room.h): one thread
 *		polls a loopback socket of its own, so that accepting the check never
 *		waits behind a storm of clients on the public listener, and hands the
 *		one expected connection to the pool with priority.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "health_room.h"
#include "log.h"
#include "pool.h"
#include "service_thread.h"

static int	room_fd = -1;
static service_thread room_thread = SERVICE_THREAD_INIT;
static atomic_int expected;		/* connections the reporter announced */
static int	room_port;

/*
 * Out of descriptors (EMFILE and the like), accept(2) fails and leaves the
 * check in the backlog: the socket stays readable, and polling it again
 * would spin and log on every pass.  Accepting pauses for this long, with
 * one log line per episode, as the public listener does.  Touched by the
 * room's thread only.
 */
#define ROOM_PAUSE_MS 1000
static int64_t room_paused_until;	/* clock_now_ms; 0 when accepting */
static int	room_pauses;		/* pauses in the current episode */

/*
 * Strangers refused at the endpoint, aggregated as pool_full is: a connect
 * flood costs one health_room_refused line per ROOM_REFUSED_REPORT_MS
 * with the count, not a line per attempt.  Touched by the room's thread
 * only.
 */
#define ROOM_REFUSED_REPORT_MS 1000
static int64_t refused_count;	/* refused since the last line */
static int64_t refused_reported_ms;
static char refused_last[64];

/*
 * Logs the refusals counted since the last line, once ROOM_REFUSED_REPORT_MS
 * has passed since it (or at once with force).  Returns the ms until the
 * next line is due, or -1 when nothing waits to be logged.
 */
static int
room_report_refused(bool force)
{
	int64_t		now = clock_now_ms();

	if (refused_count == 0)
		return -1;
	if (!force && now - refused_reported_ms < ROOM_REFUSED_REPORT_MS)
		return (int) (refused_reported_ms + ROOM_REFUSED_REPORT_MS - now) + 1;
	log_msg(LOG_WARN, "health_room_refused", "refused=%" PRId64 " last_client=%s "
			"detail=\"not the health check\"", refused_count, refused_last);
	refused_count = 0;
	refused_reported_ms = now;
	return -1;
}

/* Returns the port once 127.0.0.1:0 is bound and listening, else -1. */
static int
room_bind(char *err, size_t errlen)
{
	struct sockaddr_in sin;
	socklen_t	len = sizeof(sin);

	room_fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (room_fd < 0 ||
		bind(room_fd, (struct sockaddr *) &sin, sizeof(sin)) != 0 ||
		listen(room_fd, 8) != 0 ||
		getsockname(room_fd, (struct sockaddr *) &sin, &len) != 0)
	{
		snprintf(err, errlen, "health check endpoint on 127.0.0.1: %s", strerror(errno));
		if (room_fd >= 0)
			close(room_fd);
		room_fd = -1;
		return -1;
	}
	return ntohs(sin.sin_port);
}

/*
 * Returns true when the peer of an accepted connection is a socket of this
 * very process (the reporter's libpq connection): one of our descriptors
 * is bound to the peer's address and connected to the private port.  So
 * another local process cannot take the check's place, even while a check
 * is announced.
 */
static bool
peer_is_ours(int accepted, const struct sockaddr_in *peer)
{
	DIR		   *dir = opendir("/proc/self/fd");
	struct dirent *de;
	bool		ours = false;

	if (dir == NULL)
		return true;			/* no /proc: the ticket alone guards the room */
	while (!ours && (de = readdir(dir)) != NULL)
	{
		struct sockaddr_in local,
					remote;
		socklen_t	llen = sizeof(local),
					rlen = sizeof(remote);
		char	   *end;
		long		fd = strtol(de->d_name, &end, 10);

		if (*end != '\0' || end == de->d_name || fd == accepted || fd == room_fd ||
			fd == dirfd(dir))
			continue;
		if (getsockname((int) fd, (struct sockaddr *) &local, &llen) != 0 ||
			local.sin_family != AF_INET || local.sin_port != peer->sin_port ||
			local.sin_addr.s_addr != peer->sin_addr.s_addr)
			continue;
		ours = getpeername((int) fd, (struct sockaddr *) &remote, &rlen) == 0 &&
			remote.sin_family == AF_INET && ntohs(remote.sin_port) == room_port;
	}
	closedir(dir);
	return ours;
}

/* Accepts what is pending: the expected check goes to the pool, the rest is closed. */
static void
room_accept(void)
{
	for (;;)
	{
		struct sockaddr_in peer;
		socklen_t	len = sizeof(peer);
		char		name[64];
		int			one = 1;
		int			want = 1;
		int			fd = accept4(room_fd, (struct sockaddr *) &peer, &len,
								 SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
		{
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
			{
				room_paused_until = clock_now_ms() + ROOM_PAUSE_MS;
				if (room_pauses++ == 0)
					log_msg(LOG_WARN, "health_room_accept_paused", "error=\"%s\" pause_ms=%d",
							strerror(errno), ROOM_PAUSE_MS);
				return;
			}
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				log_msg(LOG_WARN, "health_room_accept_failed", "error=\"%s\"", strerror(errno));
			return;
		}
		if (room_pauses > 0)
		{
			log_msg(LOG_INFO, "health_room_accept_resumed", "pauses=%d", room_pauses);
			room_pauses = 0;
		}
		snprintf(name, sizeof(name), "health-check:%d", ntohs(peer.sin_port));
		/* One ticket per announced check, for our own socket only. */
		if (!peer_is_ours(fd, &peer) || !atomic_compare_exchange_strong(&expected, &want, 0))
		{
			refused_count++;
			snprintf(refused_last, sizeof(refused_last), "%s", name);
			log_msg(LOG_DEBUG, "health_room_stranger", "client=%s", name);
			close(fd);
			continue;
		}
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
			log_msg(LOG_DEBUG, "nodelay_failed", "error=\"%s\"", strerror(errno));
		pool_submit_reserved(fd, name, ntohs(peer.sin_port));
	}
}

/* The accept thread of the private endpoint.  Returns NULL at stop. */
static void *
room_main(void *arg)
{
	while (!service_thread_stopping(&room_thread))
	{
		struct pollfd pfds[2] = {
			{.fd = room_fd,.events = POLLIN},
			{.fd = room_thread.wake_fd,.events = POLLIN},
		};
		int			timeout = room_report_refused(false);
		int			rc;

		if (room_paused_until != 0)
		{
			int64_t		left = room_paused_until - clock_now_ms();

			if (left <= 0)
				room_paused_until = 0;
			else
			{
				pfds[0].fd = -1;	/* left out of this poll */
				if (timeout < 0 || left + 1 < timeout)
					timeout = (int) left + 1;
			}
		}
		rc = poll(pfds, 2, timeout);

		if (rc < 0 && errno != EINTR)
		{
			log_msg(LOG_ERROR, "poll_failed", "error=\"%s\"", strerror(errno));
			break;
		}
		if (rc > 0 && (pfds[0].revents & POLLIN))
			room_accept();
	}
	room_report_refused(true);
	return NULL;
}

/* Returns the private port once bound and served, else -1 (err says why). */
int
health_room_open(char *err, size_t errlen)
{
	int			port = room_bind(err, errlen);

	if (port < 0)
		return -1;
	room_port = port;
	atomic_store(&expected, 0);
	if (service_thread_start(&room_thread, room_main, err, errlen) != 0)
		return -1;
	return port;
}

/* Lets the next connection to the private port in. */
void
health_room_expect(void)
{
	atomic_store(&expected, 1);
}

/* No connection is expected any more. */
void
health_room_done(void)
{
	atomic_store(&expected, 0);
}

/* Stops the thread and closes the sockets. */
void
health_room_close(void)
{
	service_thread_stop(&room_thread);
	if (room_fd >= 0)
		close(room_fd);
	room_fd = -1;
}
