/*
 * listen_fds.c
 *		The receiving side of systemd's socket activation (listen_fds.h), as
 *		sd_listen_fds(3) documents it: LISTEN_PID must name this process
 *		(the variables were meant for it, not inherited), LISTEN_FDS counts
 *		descriptors from SD_LISTEN_FDS_START (3), LISTEN_FDNAMES names them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "listen_fds.h"
#include "socket_addr.h"

#define SD_LISTEN_FDS_START 3
#define LISTEN_FDS_MAX 16

static int	taken[LISTEN_KINDS] = {-1, -1, -1, -1};
static int	nactivated;

static const char *const kind_names[LISTEN_KINDS] = {"postgres", "unix", "standby", "http"};

/* The n-th name (from 0) of LISTEN_FDNAMES into buf, "" when none. */
static void
nth_name(const char *names, int n, char *buf, size_t len)
{
	const char *p = names;

	buf[0] = '\0';
	for (int i = 0; p != NULL && i < n; i++)
	{
		p = strchr(p, ':');
		if (p != NULL)
			p++;
	}
	if (p != NULL)
	{
		size_t		l = strcspn(p, ":");

		if (l >= len)
			l = len - 1;
		memcpy(buf, p, l);
		buf[l] = '\0';
	}
}

/* Returns the count taken (0: not activated), or -1 with err. */
int
listen_fds_take(int standby_port, int http_port, char *err, size_t errlen)
{
	const char *pid_s = getenv("LISTEN_PID");
	const char *fds_s = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	char		name[64];
	int			n;
	int			rc = 0;

	if (pid_s == NULL || fds_s == NULL || atol(pid_s) != (long) getpid())
		return 0;
	n = atoi(fds_s);
	if (n <= 0)
		return 0;
	if (n > LISTEN_FDS_MAX)
	{
		snprintf(err, errlen, "LISTEN_FDS=%d: at most %d sockets may be passed", n, LISTEN_FDS_MAX);
		return -1;
	}
	for (int i = 0; i < n && rc == 0; i++)
	{
		int			fd = SD_LISTEN_FDS_START + i;
		int			type = 0,
					flags,
					listening = 0,
					family,
					port;
		socklen_t	l1 = sizeof(type),
					l2 = sizeof(listening);
		listen_kind kind = LISTEN_TCP;
		int			named = -1;

		nth_name(names, i, name, sizeof(name));
		for (int k = 0; k < LISTEN_KINDS; k++)
			if (strcmp(name, kind_names[k]) == 0)
				named = k;
		if (fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
			getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l1) != 0 ||
			getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &l2) != 0 ||
			type != SOCK_STREAM || !listening)
		{
			snprintf(err, errlen, "LISTEN_FDS: descriptor %d%s%s%s is not a listening stream socket",
					 fd, name[0] ? " (" : "", name, name[0] ? ")" : "");
			rc = -1;
			break;
		}
		port = socket_local_port(fd, &family);
		if (named >= 0)
			kind = (listen_kind) named;
		else if (family == AF_UNIX)
			kind = LISTEN_UNIX;
		else if (standby_port > 0 && port == standby_port)
			kind = LISTEN_STANDBY;
		else if (http_port > 0 && port == http_port)
			kind = LISTEN_HTTP;
		if (taken[kind] >= 0)
		{
			snprintf(err, errlen, "LISTEN_FDS: two sockets for %s (descriptors %d and %d)",
					 kind_names[kind], taken[kind], fd);
			rc = -1;
			break;
		}
		/* non-blocking, as the helper's own listening sockets are */
		if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0)
		{
			snprintf(err, errlen, "LISTEN_FDS: descriptor %d: fcntl: %s", fd, strerror(errno));
			rc = -1;
			break;
		}
		taken[kind] = fd;
		nactivated++;
	}
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return rc == 0 ? nactivated : -1;
}

/* Returns the socket for kind and hands it over, or -1. */
int
listen_fds_get(listen_kind kind)
{
	int			fd = taken[kind];

	taken[kind] = -1;
	return fd;
}

/* Returns whether sockets were passed. */
int
listen_fds_activated(void)
{
	return nactivated > 0;
}

/* Closes what was passed and not taken (a socket the settings leave unused). */
void
listen_fds_close_unused(void)
{
	for (int k = 0; k < LISTEN_KINDS; k++)
		if (taken[k] >= 0)
		{
			close(taken[k]);
			taken[k] = -1;
		}
}
