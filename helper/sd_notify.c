/*
 * sd_notify.c
 *		The datagram side of systemd's notification protocol (sd_notify.h),
 *		as systemd documents it: SOCK_DGRAM to $NOTIFY_SOCKET, one message
 *		per state change, credentials passed by the kernel.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "sd_notify.h"

static struct sockaddr_un addr;
static socklen_t addr_len;		/* 0: off */
static int64_t watchdog_ms;

void
sd_notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *wd = getenv("WATCHDOG_USEC");
	const char *wd_pid = getenv("WATCHDOG_PID");
	size_t		n;

	addr_len = 0;
	watchdog_ms = 0;
	if (path == NULL || (path[0] != '/' && path[0] != '@'))
		return;
	n = strlen(path);
	if (n >= sizeof(addr.sun_path))
	{
		log_msg(LOG_WARN, "notify_socket_invalid", "detail=\"NOTIFY_SOCKET is too long\"");
		return;
	}
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	memcpy(addr.sun_path, path, n);
	if (path[0] == '@')
		addr.sun_path[0] = '\0';	/* abstract namespace: no trailing NUL */
	addr_len = (socklen_t) (offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/'));
	if (wd != NULL && (wd_pid == NULL || atol(wd_pid) == (long) getpid()))
	{
		long long	usec = atoll(wd);

		if (usec > 0)
			watchdog_ms = usec / 1000;
	}
}

bool
sd_notify_enabled(void)
{
	return addr_len > 0;
}

int64_t
sd_notify_watchdog_ms(void)
{
	return addr_len > 0 ? watchdog_ms : 0;
}

int
sd_notify_send(const char *state)
{
	int			fd;
	ssize_t		n;

	if (addr_len == 0)
		return -1;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	n = sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *) &addr, addr_len);
	if (n < 0)
		log_msg(LOG_DEBUG, "notify_failed", "error=\"%s\"", strerror(errno));
	close(fd);
	return n < 0 ? -1 : 0;
}

void
sd_notify_from_signal(const char *state)
{
	int			saved = errno;
	int			fd;

	if (addr_len == 0)
		return;
	/* socket, sendto and close are async-signal-safe; so is strlen */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
	{
		(void) sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *) &addr, addr_len);
		close(fd);
	}
	errno = saved;
}
