/*
 * peer_uid.c
 *		The owner of a loopback client's socket, asked of the kernel with
 *		one NETLINK_SOCK_DIAG request for that exact connection (as ss(8)
 *		shows uid:), which any user may ask: the client's end is the socket
 *		whose local address is our peer's and whose remote address is ours.
 *		TCP over loopback carries no credentials of its own; a client of the
 *		Unix socket (TUNNEL_SOCKET_DIR) is asked with SO_PEERCRED, as
 *		PostgreSQL's peer authentication asks.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "peer_uid.h"

/*
 * Fills id with the client's end of the connection (src: the peer, dst:
 * us), in the family the kernel keeps it in.  Returns the family, or -1
 * when the peer is not on this host.
 */
static int
client_end(int fd, struct inet_diag_sockid *id)
{
	struct sockaddr_storage local,
				peer;
	socklen_t	llen = sizeof(local),
				plen = sizeof(peer);

	if (getsockname(fd, (struct sockaddr *) &local, &llen) != 0 ||
		getpeername(fd, (struct sockaddr *) &peer, &plen) != 0 ||
		local.ss_family != peer.ss_family)
		return -1;
	memset(id, 0, sizeof(*id));
	id->idiag_cookie[0] = id->idiag_cookie[1] = INET_DIAG_NOCOOKIE;
	if (peer.ss_family == AF_INET)
	{
		const struct sockaddr_in *p = (const struct sockaddr_in *) &peer;
		const struct sockaddr_in *l = (const struct sockaddr_in *) &local;

		if ((ntohl(p->sin_addr.s_addr) >> 24) != 127)
			return -1;
		id->idiag_sport = p->sin_port;
		id->idiag_dport = l->sin_port;
		memcpy(id->idiag_src, &p->sin_addr, 4);
		memcpy(id->idiag_dst, &l->sin_addr, 4);
		return AF_INET;
	}
	if (peer.ss_family == AF_INET6)
	{
		const struct sockaddr_in6 *p = (const struct sockaddr_in6 *) &peer;
		const struct sockaddr_in6 *l = (const struct sockaddr_in6 *) &local;

		id->idiag_sport = p->sin6_port;
		id->idiag_dport = l->sin6_port;
		if (IN6_IS_ADDR_V4MAPPED(&p->sin6_addr))
		{
			/* An IPv4 client of a dual-stack listener keeps an AF_INET socket. */
			if (p->sin6_addr.s6_addr[12] != 127)
				return -1;
			memcpy(id->idiag_src, &p->sin6_addr.s6_addr[12], 4);
			memcpy(id->idiag_dst, &l->sin6_addr.s6_addr[12], 4);
			return AF_INET;
		}
		if (!IN6_IS_ADDR_LOOPBACK(&p->sin6_addr))
			return -1;
		memcpy(id->idiag_src, &p->sin6_addr, 16);
		memcpy(id->idiag_dst, &l->sin6_addr, 16);
		return AF_INET6;
	}
	return -1;
}

/*
 * True when fd is a Unix socket, with its peer's uid (SO_PEERCRED: the
 * credentials the kernel took at connect) in *uid, -1 when not told.
 */
static bool
unix_peer_uid(int fd, long *uid)
{
	struct sockaddr_storage local;
	socklen_t	llen = sizeof(local);
	struct ucred cred;
	socklen_t	clen = sizeof(cred);

	if (getsockname(fd, (struct sockaddr *) &local, &llen) != 0 || local.ss_family != AF_UNIX)
		return false;
	*uid = getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && clen == sizeof(cred) ?
		(long) cred.uid : -1;
	return true;
}

/* See peer_uid.h.  Returns the uid, or -1. */
long
peer_uid(int fd)
{
	struct
	{
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	}			msg;
	union
	{
		struct nlmsghdr nlh;
		char		buf[1024];
	}			answer;
	struct timeval tv = {.tv_sec = 0,.tv_usec = 200000};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	struct nlmsghdr *h;
	int			family;
	int			nl;
	ssize_t		n;
	long		uid = -1;

	if (unix_peer_uid(fd, &uid))
		return uid;
	memset(&msg, 0, sizeof(msg));
	family = client_end(fd, &msg.req.id);
	if (family < 0)
		return -1;
	msg.nlh.nlmsg_len = sizeof(msg);
	msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	msg.nlh.nlmsg_flags = NLM_F_REQUEST;
	msg.req.sdiag_family = (unsigned char) family;
	msg.req.sdiag_protocol = IPPROTO_TCP;
	msg.req.idiag_states = ~0U;
	nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (nl < 0)
		return -1;
	/* The kernel answers at once; the bound only guards a broken one. */
	(void) setsockopt(nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (sendto(nl, &msg, sizeof(msg), 0, (struct sockaddr *) &kernel, sizeof(kernel)) ==
		(ssize_t) sizeof(msg))
	{
		do
			n = recv(nl, &answer, sizeof(answer), 0);
		while (n < 0 && errno == EINTR);
		for (h = &answer.nlh; n > 0 && NLMSG_OK(h, (size_t) n); h = NLMSG_NEXT(h, n))
		{
			if (h->nlmsg_type == SOCK_DIAG_BY_FAMILY &&
				h->nlmsg_len >= NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
			{
				uid = (long) ((struct inet_diag_msg *) NLMSG_DATA(h))->idiag_uid;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type == NLMSG_DONE)
				break;
		}
	}
	close(nl);
	return uid;
}
