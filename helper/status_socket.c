/*
 * status_socket.c
 *		The helper's side of the status socket (status_socket.h): one thread,
 *		one client at a time, each bounded by STATUS_IO_MS.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "event_stream.h"
#include "log.h"
#include "status_board.h"
#include "service_thread.h"
#include "socket_addr.h"
#include "status_socket.h"

#define STATUS_IO_MS	1000	/* a client gets this to ask and to read */
#define STATUS_REPLY_MAX 32768

static struct
{
	int			listen_fd;
	service_thread thread;
	char		path[sizeof(((struct sockaddr_un *) 0)->sun_path)];
}			srv = {
	.listen_fd = -1,
	.thread = SERVICE_THREAD_INIT,
};

int
status_socket_path(const char *dir, const char *tunnel_name, char *buf, size_t len)
{
	uint32_t	h = 2166136261u;
	char		safe[128];
	size_t		n = 0;
	size_t		room = sizeof(((struct sockaddr_un *) 0)->sun_path);
	int			w;

	for (const unsigned char *p = (const unsigned char *) tunnel_name; *p; p++)
	{
		h = (h ^ *p) * 16777619u;
		if (n + 1 < sizeof(safe))
			safe[n++] = ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') ||
						 (*p >= 'A' && *p <= 'Z') || *p == '.' || *p == '-') ? (char) *p : '_';
	}
	safe[n] = '\0';
	if (len > room)
		len = room;
	w = snprintf(buf, len, "%s/%s-%08" PRIx32 ".sock", dir, safe, h);
	if (w >= 0 && (size_t) w < len)
		return 0;
	/* A long name: the hash alone still tells tunnels apart. */
	w = snprintf(buf, len, "%s/%08" PRIx32 ".sock", dir, h);
	return w >= 0 && (size_t) w < len ? 0 : -1;
}

int
status_socket_connect(const tunnel_config *cfg, char *used, size_t usedlen)
{
	char		fallback[200];
	int			fd;

	if (status_socket_path(cfg->state_dir, cfg->tunnel_name, used, usedlen) != 0)
	{
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = unix_socket_connect(used);
	/* root asking about the packaged service, without its StateDirectory= */
	if (fd < 0 && errno == ENOENT && strcmp(cfg->state_dir, STATUS_PACKAGED_DIR) != 0 &&
		status_socket_path(STATUS_PACKAGED_DIR, cfg->tunnel_name, fallback, sizeof(fallback)) == 0 &&
		access(fallback, F_OK) == 0)
	{
		snprintf(used, usedlen, "%s", fallback);
		fd = unix_socket_connect(fallback);
	}
	return fd;
}

/* Returns the fd the request went out on, or -1; see status_socket.h. */
int
status_socket_ask(const tunnel_config *cfg, const char *request, char *used, size_t usedlen)
{
	int64_t		deadline = clock_now_ms() + STATUS_IO_MS;
	size_t		len = strlen(request),
				sent = 0;
	int			fd = status_socket_connect(cfg, used, usedlen);

	if (fd < 0)
		return -1;
	while (sent < len)
	{
		/* MSG_NOSIGNAL: a helper that hangs up is an answer, not a SIGPIPE */
		ssize_t		n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);

		if (n > 0)
			sent += (size_t) n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && errno == EAGAIN && status_socket_wait(fd, POLLOUT, deadline))
			continue;
		else
		{
			int			saved = n < 0 ? errno : EPIPE;

			close(fd);
			errno = saved == EAGAIN ? ETIMEDOUT : saved;
			return -1;
		}
	}
	return fd;
}

/* Returns true once fd is ready; see status_socket.h. */
bool
status_socket_wait(int fd, short events, int64_t deadline)
{
	for (;;)
	{
		struct pollfd pfd = {.fd = fd,.events = events};
		int64_t		left = deadline - clock_now_ms();
		int			rc;

		if (left <= 0)
			return false;
		rc = poll(&pfd, 1, (int) left);
		if (rc > 0)
			return true;
		if (rc < 0 && errno != EINTR)
			return false;
	}
}

/* Answers one client (fd non-blocking); closes it.  Returns nothing. */
static void
serve_one(int fd, char *reply)
{
	struct ucred cred;
	socklen_t	clen = sizeof(cred);
	char		req[64];
	size_t		have = 0;
	int64_t		deadline = clock_now_ms() + STATUS_IO_MS;
	size_t		len,
				sent = 0;
	int			code;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0 ||
		(cred.uid != 0 && cred.uid != geteuid()))
	{
		log_msg(LOG_WARN, "status_refused", "uid=%d detail=\"only root and the helper's user may ask\"",
				clen == sizeof(cred) ? (int) cred.uid : -1);
		close(fd);
		return;
	}
	while (have < sizeof(req) - 1 && memchr(req, '\n', have) == NULL)
	{
		ssize_t		n = recv(fd, req + have, sizeof(req) - 1 - have, 0);

		if (n > 0)
			have += (size_t) n;
		else if (n < 0 && (errno == EAGAIN || errno == EINTR))
		{
			if (!status_socket_wait(fd, POLLIN, deadline))
				break;
		}
		else
			break;
	}
	req[have] = '\0';
	if (strncmp(req, "follow ", 7) == 0)
	{
		/* events --follow: the stream's thread owns the socket from here */
		(void) event_stream_add(fd, strncmp(req + 7, "json", 4) == 0);
		return;
	}
	if (strncmp(req, "events ", 7) == 0)
		code = board_format_events(strncmp(req + 7, "json", 4) == 0, reply + 16, STATUS_REPLY_MAX - 16);
	else
		code = board_format(strncmp(req, "json", 4) == 0, reply + 16, STATUS_REPLY_MAX - 16);
	len = strlen(reply + 16);
	/* "exit=N\n" right before the report, in the room kept for it */
	memcpy(reply + 16 - 7, "exit=0\n", 7);
	reply[16 - 7 + 5] = (char) ('0' + code);
	reply += 16 - 7;
	len += 7;
	while (sent < len)
	{
		ssize_t		n = send(fd, reply + sent, len - sent, MSG_NOSIGNAL);

		if (n > 0)
			sent += (size_t) n;
		else if (n < 0 && (errno == EAGAIN || errno == EINTR))
		{
			if (!status_socket_wait(fd, POLLOUT, deadline))
				break;
		}
		else
			break;
	}
	close(fd);
}

/* The server thread.  Returns NULL at stop. */
static void *
status_main(void *arg)
{
	char	   *reply = malloc(STATUS_REPLY_MAX);

	if (reply == NULL)
		return NULL;
	for (;;)
	{
		struct pollfd pfds[2] = {
			{.fd = srv.listen_fd,.events = POLLIN},
			{.fd = srv.thread.wake_fd,.events = POLLIN},
		};
		int			fd;

		if (poll(pfds, 2, -1) < 0 && errno != EINTR)
			break;
		if (pfds[1].revents & POLLIN)
			break;
		if (!(pfds[0].revents & POLLIN))
			continue;
		fd = accept4(srv.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			serve_one(fd, reply);
	}
	free(reply);
	return NULL;
}

/*
 * True when a helper answers at path already (then it is not ours to
 * take); a socket nobody listens on is stale and removed.
 */
static bool
socket_in_use(const char *path)
{
	bool		used = unix_socket_answers(path);

	if (!used)
		(void) unlink(path);
	return used;
}

/*
 * True when dir is a folder owned by this user (or root) that group and
 * others cannot write: the socket's 0600 then holds, and nobody else can
 * put another socket in its place.
 */
static bool
folder_is_ours(const char *dir)
{
	struct stat st;

	return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) &&
		(st.st_uid == geteuid() || st.st_uid == 0) && (st.st_mode & (S_IWGRP | S_IWOTH)) == 0;
}

void
status_socket_start(const tunnel_config *cfg)
{
	struct sockaddr_un a;
	const char *why = NULL;
	char		err_text[256];

	if (cfg->state_dir == NULL ||
		status_socket_path(cfg->state_dir, cfg->tunnel_name, srv.path, sizeof(srv.path)) != 0)
	{
		log_msg(LOG_WARN, "status_socket_unavailable", "detail=\"TUNNEL_STATE_DIR is too long for a unix socket\"");
		return;
	}
	if (!folder_is_ours(cfg->state_dir))
	{
		log_msg(LOG_WARN, "status_socket_unavailable", "dir=%s detail=\"TUNNEL_STATE_DIR must be a folder "
				"of the helper's user, not writable by group or others\"", cfg->state_dir);
		srv.path[0] = '\0';
		return;
	}
	if (socket_in_use(srv.path))
	{
		log_msg(LOG_WARN, "status_socket_unavailable", "path=%s detail=\"another chatgenius-tunnel answers there\"",
				srv.path);
		srv.path[0] = '\0';
		return;
	}
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path, srv.path, strlen(srv.path) + 1);
	srv.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv.listen_fd < 0)
		why = "socket";
	else if (bind(srv.listen_fd, (struct sockaddr *) &a, sizeof(a)) != 0)
		why = "bind";
	/* The folder is 0700 already; the socket itself says the same. */
	else if (chmod(srv.path, 0600) != 0)
		why = "chmod";
	else if (listen(srv.listen_fd, 8) != 0)
		why = "listen";
	if (why != NULL)
		snprintf(err_text, sizeof(err_text), "%s: %s", why, strerror(errno));
	else if (service_thread_start(&srv.thread, status_main, err_text, sizeof(err_text)) != 0)
		why = "thread";
	if (why != NULL)
	{
		log_msg(LOG_WARN, "status_socket_unavailable", "path=%s error=\"%s\"",
				srv.path, err_text);
		if (strcmp(why, "socket") != 0 && strcmp(why, "bind") != 0)
			(void) unlink(srv.path);
		status_socket_stop();
		return;
	}
	log_msg(LOG_DEBUG, "status_socket", "path=%s", srv.path);
}

void
status_socket_stop(void)
{
	bool		was_running = srv.thread.running;

	service_thread_stop(&srv.thread);
	if (was_running)
		(void) unlink(srv.path);
	if (srv.listen_fd >= 0)
		close(srv.listen_fd);
	srv.listen_fd = -1;
}
