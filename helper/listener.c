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
#include <fcntl.h>
#include <grp.h>
#include <stdatomic.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "refuser.h"
#include "service_thread.h"
#include "socket_addr.h"
#include "ssh_session.h"

/* The listening sockets, by what they serve; -1 when off. */
typedef struct listen_socket
{
	int			fd;
	bool		standby;		/* its clients go to a standby */
	bool		activated;		/* passed by systemd: left to it at a drain */
} listen_socket;

enum
{
	SOCK_PRIMARY,				/* POSTGRES_PORT over TCP */
	SOCK_LOCAL,					/* POSTGRES_PORT over the Unix socket */
	SOCK_STANDBY,				/* TUNNEL_STANDBY_PORT */
	NSOCKS
};

static listen_socket socks[NSOCKS] = {{.fd = -1}, {.fd = -1}, {.fd = -1,.standby = true}};
static int	listen_fd = -1;		/* listener_open's result, before it is filed */
static service_thread accept_thread = SERVICE_THREAD_INIT;
static atomic_int draining;		/* a drain was asked: no client is taken any more */
static bool drained;			/* the accept thread has acted on it */

/* The Unix socket made here (not passed): its path and lock, removed at stop. */
static char unix_path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
static char lock_path[sizeof(unix_path) + 8];
static int	lock_fd = -1;

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
	if (*port == 0 && (*port = socket_local_port(listen_fd, NULL)) == 0)
	{
		snprintf(err, errlen, "getsockname: %s", strerror(errno));
		close(listen_fd);
		listen_fd = -1;
		return -1;
	}
	socks[SOCK_PRIMARY].fd = listen_fd;
	return 0;
}

/* Returns 0 once fd (passed by systemd) serves kind; -1 for a bad kind. */
int
listener_adopt(listen_kind kind, int fd)
{
	int			which = kind == LISTEN_TCP ? SOCK_PRIMARY :
		kind == LISTEN_UNIX ? SOCK_LOCAL : kind == LISTEN_STANDBY ? SOCK_STANDBY : -1;

	if (which < 0 || fd < 0)
		return -1;
	socks[which].fd = fd;
	socks[which].activated = true;
	return 0;
}

/*
 * Takes the lock file beside the socket, as PostgreSQL keeps
 * .s.PGSQL.<port>.lock: an flock(2) held for the helper's life (the
 * kernel drops it when the process dies, so a crash leaves nothing that
 * blocks the next start) with the pid written in for people.  Returns 0,
 * or -1 with err when another process holds it.
 */
static int
take_socket_lock(char *err, size_t errlen)
{
	char		pid[32];
	int			n;

	lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (lock_fd < 0)
	{
		snprintf(err, errlen, "could not open lock file \"%s\": %s", lock_path, strerror(errno));
		return -1;
	}
	if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0)
	{
		snprintf(err, errlen, "lock file \"%s\" is held: is another chatgenius-tunnel "
				 "serving TUNNEL_SOCKET_DIR on this port?", lock_path);
		close(lock_fd);
		lock_fd = -1;
		return -1;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int) getpid());
	if (ftruncate(lock_fd, 0) != 0 || write(lock_fd, pid, (size_t) n) != n)
	{
		/* the pid is for people; the flock is the lock */
	}
	return 0;
}

/*
 * Binds DIR/.s.PGSQL.<port> as PostgreSQL names its socket: the lock file
 * first; a socket file left by a crashed helper is removed only when the
 * lock is ours and nothing answers on it (a live one is never removed);
 * then bind, group and mode set before listen(2), so that no client can
 * connect before the permissions hold.  Returns 0, or -1 with err.
 */
int
listener_open_unix(const char *dir, int port, int mode, const char *group,
				   char *err, size_t errlen)
{
	struct sockaddr_un a;
	struct stat st;
	const char *why = NULL;
	const char *bad = NULL;
	int			fd;

	if (snprintf(unix_path, sizeof(unix_path), "%s/.s.PGSQL.%d", dir, port) >= (int) sizeof(unix_path))
	{
		snprintf(err, errlen, "TUNNEL_SOCKET_DIR \"%s\" is too long for a Unix socket path", dir);
		unix_path[0] = '\0';
		return -1;
	}
	snprintf(lock_path, sizeof(lock_path), "%s.lock", unix_path);
	/* errno is stat(2)'s only when it failed, st is filled only when it did not */
	if (stat(dir, &st) != 0)
		bad = strerror(errno);
	else if (!S_ISDIR(st.st_mode))
		bad = "not a directory";
	if (bad != NULL)
	{
		snprintf(err, errlen, "TUNNEL_SOCKET_DIR \"%s\": %s", dir, bad);
		unix_path[0] = '\0';
		return -1;
	}
	if (take_socket_lock(err, errlen) != 0)
	{
		unix_path[0] = '\0';
		return -1;
	}
	if (unix_socket_answers(unix_path))
	{
		snprintf(err, errlen, "something answers on \"%s\" already (another server on port %d?)",
				 unix_path, port);
		close(lock_fd);
		lock_fd = -1;
		unix_path[0] = '\0';
		return -1;
	}
	if (lstat(unix_path, &st) == 0)
	{
		if (!S_ISSOCK(st.st_mode))
		{
			snprintf(err, errlen, "\"%s\" exists and is not a socket", unix_path);
			close(lock_fd);
			lock_fd = -1;
			unix_path[0] = '\0';
			return -1;
		}
		log_msg(LOG_INFO, "stale_socket_removed", "path=\"%s\"", unix_path);
		(void) unlink(unix_path);
	}
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path, unix_path, strlen(unix_path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		why = "socket";
	else if (bind(fd, (struct sockaddr *) &a, sizeof(a)) != 0)
		why = "bind";
	else if (group != NULL && group[0] != '\0')
	{
		struct group *g = getgrnam(group);

		if (g == NULL)
		{
			snprintf(err, errlen, "invalid value for TUNNEL_SOCKET_GROUP: \"%s\" (no such group)", group);
			errno = EINVAL;
			why = "";
		}
		else if (chown(unix_path, (uid_t) -1, g->gr_gid) != 0)
			why = "chown";
	}
	if (why == NULL && chmod(unix_path, (mode_t) mode) != 0)
		why = "chmod";
	if (why == NULL && listen(fd, 128) != 0)
		why = "listen";
	if (why != NULL)
	{
		int			saved = errno;

		if (why[0] != '\0')
			snprintf(err, errlen, "%s \"%s\": %s", why, unix_path, strerror(saved));
		if (fd >= 0)
			close(fd);
		if (strcmp(why, "socket") != 0 && strcmp(why, "bind") != 0)
			(void) unlink(unix_path);
		close(lock_fd);
		lock_fd = -1;
		unix_path[0] = '\0';
		errno = saved;
		return -1;
	}
	socks[SOCK_LOCAL].fd = fd;
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
	int			primary_fd = socks[SOCK_PRIMARY].fd;
	int			rc;

	rc = listener_open(host, &port, err, errlen);
	socks[SOCK_STANDBY].fd = rc == 0 ? listen_fd : -1;
	socks[SOCK_PRIMARY].fd = primary_fd;
	return rc;
}

/*
 * Accepts every pending client of s; returns nothing, errors are logged.
 * Once a drain is asked, a client of a socket passed by systemd that was
 * accepted all the same is served (it is held, and the drain waits for
 * it) and accepting stops; one of the helper's own sockets is told 57P01.
 */
static void
accept_all(const listen_socket *s, bool local)
{
	int			sock = s->fd;
	bool		standby = s->standby;

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
		if (local)
		{
			snprintf(name, sizeof(name), "[local]");
			port = 0;
		}
		else
		{
			if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
				log_msg(LOG_DEBUG, "nodelay_failed", "error=\"%s\"", strerror(errno));
			port = peer_name(&ss, name, sizeof(name));
		}
		log_msg(LOG_DEBUG, "client_accepted", standby ? "client=%s standby=1" : "client=%s", name);
		if (atomic_load(&draining) && !s->activated)
		{
			/* stopping: told 57P01, as PgBouncer tells its clients at shutdown */
			refusal_figures fig = {0};

			refuser_tell(fd, name, REFUSE_STOPPING, 0, &fig);
			continue;
		}
		pool_submit_to(fd, name, port, standby);
		if (atomic_load(&draining))
			return;				/* the rest stay in the backlog for the next start */
	}
}

static void drain_sockets(void);

/*
 * The accept thread: poll the listening socket and the wake eventfd, with
 * a timeout at the next waiting client's deadline.  Returns NULL at stop.
 */
static void *
listener_main(void *arg)
{
	while (!service_thread_stopping(&accept_thread))
	{
		struct pollfd pfds[NSOCKS + 1];
		int64_t		deadline = pool_next_deadline();
		int			timeout = -1;
		int			rc;

		if (atomic_load(&draining) && !drained)
			drain_sockets();
		for (int i = 0; i < NSOCKS; i++)
			pfds[i] = (struct pollfd) {.fd = socks[i].fd,.events = POLLIN};
		pfds[NSOCKS] = (struct pollfd) {.fd = accept_thread.wake_fd,.events = POLLIN};
		if (accept_paused_until != 0)
		{
			if (clock_now_ms() >= accept_paused_until)
				accept_paused_until = 0;
			else
			{
				/* the listening sockets are left out of this poll */
				for (int i = 0; i < NSOCKS; i++)
					pfds[i].fd = -1;
				if (deadline < 0 || deadline > accept_paused_until)
					deadline = accept_paused_until;
			}
		}
		if (deadline >= 0)
		{
			int64_t		left = deadline - clock_now_ms();

			timeout = left <= 0 ? 0 : (left > 60000 ? 60000 : (int) left + 1);
		}
		rc = poll(pfds, NSOCKS + 1, timeout);
		if (rc < 0 && errno != EINTR)
		{
			log_msg(LOG_ERROR, "poll_failed", "error=\"%s\"", strerror(errno));
			break;
		}
		if (rc > 0 && (pfds[NSOCKS].revents & POLLIN))
			service_thread_drain(&accept_thread);
		for (int i = 0; rc > 0 && i < NSOCKS; i++)
			if (pfds[i].fd >= 0 && (pfds[i].revents & POLLIN))
				accept_all(&socks[i], i == SOCK_LOCAL);
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

/*
 * The drain, on the accept thread: a socket passed by systemd is closed
 * here (systemd keeps it open, and the kernel keeps new clients in its
 * backlog for the next start); a socket of the helper's own stays open,
 * and whoever connects to it is told 57P01.  Returns nothing.
 */
static void
drain_sockets(void)
{
	int			left = 0;

	for (int i = 0; i < NSOCKS; i++)
		if (socks[i].fd >= 0 && socks[i].activated)
		{
			close(socks[i].fd);
			socks[i].fd = -1;
			left++;
		}
	drained = true;
	log_msg(LOG_INFO, "accept_stopped", "left_to_systemd=%d detail=\"%s\"", left,
			left > 0 ? "new clients wait in the socket's backlog for the next start" :
			"new clients are told 57P01");
}

/* Async-signal-safe: stop taking clients (see drain_sockets). */
void
listener_drain(void)
{
	atomic_store(&draining, 1);
	service_thread_wake(&accept_thread);
}

/* Closes one listening socket.  Returns nothing. */
static void
close_socket(listen_socket *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

/*
 * Stops the accept thread and closes the listening sockets; the Unix
 * socket made here is removed with its lock file (one passed by systemd
 * belongs to systemd).
 */
void
listener_stop(void)
{
	service_thread_stop(&accept_thread);
	for (int i = 0; i < NSOCKS; i++)
		close_socket(&socks[i]);
	listen_fd = -1;
	if (unix_path[0] != '\0')
	{
		(void) unlink(unix_path);
		(void) unlink(lock_path);
		unix_path[0] = '\0';
	}
	if (lock_fd >= 0)
		close(lock_fd);
	lock_fd = -1;
	atomic_store(&draining, 0);
	drained = false;
}
