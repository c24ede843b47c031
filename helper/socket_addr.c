/*
 * socket_addr.c
 *		A socket's address, asked the same way wherever it is asked (see
 *		socket_addr.h): by the listener for a port it bound or was passed,
 *		by socket activation to sort what systemd passed, and by the status
 *		socket and the Unix listener to find out whether a path is served.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "socket_addr.h"

/* Returns the TCP port of fd's local address, or 0; see socket_addr.h. */
int
socket_local_port(int fd, int *family)
{
	struct sockaddr_storage ss;
	socklen_t	len = sizeof(ss);

	if (family != NULL)
		*family = -1;
	if (fd < 0 || getsockname(fd, (struct sockaddr *) &ss, &len) != 0)
		return 0;
	if (family != NULL)
		*family = ss.ss_family;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *) &ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *) &ss)->sin6_port);
	return 0;
}

/* Returns a socket connected to path, or -1 with errno; see socket_addr.h. */
int
unix_socket_connect(const char *path)
{
	struct sockaddr_un a;
	size_t		n = strlen(path);
	int			fd;

	if (n >= sizeof(a.sun_path))
	{
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path, path, n + 1);
	if (connect(fd, (struct sockaddr *) &a, sizeof(a)) != 0)
	{
		int			saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/* Returns whether a server accepts at path; see socket_addr.h. */
bool
unix_socket_answers(const char *path)
{
	int			fd = unix_socket_connect(path);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}
