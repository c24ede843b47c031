/*
 * http_server.c
 *		The HTTP endpoint (http_server.h): one thread polls the listening
 *		socket, its wake-up eventfd and at most HTTP_MAX_CONNECTIONS
 *		clients, each with a deadline.  A request head is read whole (up to
 *		HTTP_REQUEST_MAX bytes), answered from memory (metrics.c,
 *		status_board.c) and the connection closed: nothing here waits on
 *		the tunnel, the database or another lock for long.
 */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http_server.h"
#include "log.h"
#include "metrics.h"
#include "service_thread.h"
#include "status_board.h"

typedef struct http_conn
{
	int			fd;				/* -1: free */
	int64_t		deadline_ms;
	size_t		have;			/* request bytes read */
	char		req[HTTP_REQUEST_MAX + 1];
	char	   *out;			/* the answer, once the request is in */
	size_t		out_len;
	size_t		out_sent;
} http_conn;

static struct
{
	int			listen_fd;
	service_thread thread;
	http_conn  *conns;			/* HTTP_MAX_CONNECTIONS of them */
	metrics_http figures;		/* the HTTP thread's own; copied for /metrics */
}			http = {
	.listen_fd = -1,
	.thread = SERVICE_THREAD_INIT,
};

/* Splits "host:port" or "[v6]:port" into host and port.  Returns 0 or -1. */
static int
split_addr(const char *addr, char *host, size_t hostlen, char *port, size_t portlen)
{
	const char *colon;
	size_t		n;

	if (addr[0] == '[')
	{
		const char *close = strchr(addr, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		n = (size_t) (close - addr - 1);
		colon = close + 1;
		addr++;
	}
	else
	{
		colon = strrchr(addr, ':');
		if (colon == NULL || memchr(addr, ':', (size_t) (colon - addr)) != NULL)
			return -1;
		n = (size_t) (colon - addr);
	}
	if (n == 0 || n >= hostlen || strlen(colon + 1) == 0 || strlen(colon + 1) >= portlen ||
		strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	memcpy(host, addr, n);
	host[n] = '\0';
	snprintf(port, portlen, "%s", colon + 1);
	return atoi(port) <= 65535 ? 0 : -1;
}

/* Returns 0 once listening (bound here or passed in), else -1 with err. */
int
http_server_open(const char *addr, int fd, char *err, size_t errlen)
{
	struct addrinfo hints,
			   *res = NULL;
	char		host[256],
				port[16];
	int			one = 1,
				rc;

	if (fd >= 0)
	{
		http.listen_fd = fd;
		return 0;
	}
	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) != 0)
	{
		snprintf(err, errlen, "invalid value for TUNNEL_HTTP_ADDR: \"%s\" (expected host:port, "
				 "for example 127.0.0.1:9187 or [::1]:9187)", addr);
		errno = EINVAL;
		return -1;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0)
	{
		snprintf(err, errlen, "invalid value for TUNNEL_HTTP_ADDR: \"%s\" (%s)", addr, gai_strerror(rc));
		errno = EINVAL;
		return -1;
	}
	http.listen_fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
							res->ai_protocol);
	if (http.listen_fd < 0 ||
		setsockopt(http.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
		bind(http.listen_fd, res->ai_addr, res->ai_addrlen) != 0 ||
		listen(http.listen_fd, 64) != 0)
	{
		int			saved = errno;

		snprintf(err, errlen, "TUNNEL_HTTP_ADDR \"%s\": bind: %s", addr, strerror(saved));
		if (http.listen_fd >= 0)
			close(http.listen_fd);
		http.listen_fd = -1;
		freeaddrinfo(res);
		errno = saved;
		return -1;
	}
	freeaddrinfo(res);
	return 0;
}

/* Frees connection c's socket and answer.  Returns nothing. */
static void
conn_close(http_conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->out);
	c->out = NULL;
	c->have = c->out_len = c->out_sent = 0;
}

/*
 * Sets c's answer: status line, headers and (unless head_only) body.
 * Returns nothing; out of memory closes the connection.
 */
static void
conn_answer(http_conn *c, int status, const char *content_type, const char *body,
			size_t body_len, bool head_only)
{
	const char *word = status == 200 ? "OK" : status == 404 ? "Not Found" :
		status == 405 ? "Method Not Allowed" : status == 408 ? "Request Timeout" :
		status == 431 ? "Request Header Fields Too Large" : status == 400 ? "Bad Request" :
		status == 500 ? "Internal Server Error" : "Service Unavailable";
	char		head[256];
	int			n;

	n = snprintf(head, sizeof(head), "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
				 "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
				 status, word, content_type, body_len);
	/* the words are this file's own; a head that did not fit is not sent cut */
	c->out = n > 0 && (size_t) n < sizeof(head) ? malloc((size_t) n + (head_only ? 0 : body_len)) : NULL;
	if (c->out == NULL)
	{
		conn_close(c);
		return;
	}
	c->out_len = (size_t) n + (head_only ? 0 : body_len);
	memcpy(c->out, head, (size_t) n);
	if (!head_only)
		memcpy(c->out + n, body, body_len);
	c->out_sent = 0;
}

/* Answers a probe: 200 "ok" or 503 with the reason. */
static void
answer_probe(http_conn *c, board_probe_kind kind, bool head_only)
{
	char		reason[600];
	int			ok = board_probe(kind, reason, sizeof(reason));

	strncat(reason, "\n", sizeof(reason) - strlen(reason) - 1);
	conn_answer(c, ok == 0 ? 200 : 503, "text/plain; charset=utf-8", reason, strlen(reason), head_only);
}

/* Answers the request head in c->req.  Returns nothing. */
static void
conn_handle(http_conn *c)
{
	char		method[16],
				target[256];
	char	   *q;
	bool		head_only;
	static const char text[] = "text/plain; charset=utf-8";

	if (sscanf(c->req, "%15s %255s HTTP/1.%*c", method, target) != 2)
	{
		http.figures.rejected_bad++;
		conn_answer(c, 400, text, "bad request\n", 12, false);
		return;
	}
	http.figures.requests++;
	head_only = strcmp(method, "HEAD") == 0;
	if (!head_only && strcmp(method, "GET") != 0)
	{
		conn_answer(c, 405, text, "only GET and HEAD\n", 18, false);
		return;
	}
	if ((q = strchr(target, '?')) != NULL)
		*q = '\0';
	if (strcmp(target, "/metrics") == 0)
	{
		metrics_text m = {0};

		if (metrics_render(&m, &http.figures) == 0)
			conn_answer(c, 200, "text/plain; version=0.0.4; charset=utf-8", m.buf, m.len, head_only);
		else
			conn_answer(c, 500, text, "out of memory\n", 14, head_only);
		free(m.buf);
	}
	else if (strcmp(target, "/startup") == 0)
		answer_probe(c, PROBE_STARTUP, head_only);
	else if (strcmp(target, "/liveness") == 0)
		answer_probe(c, PROBE_LIVENESS, head_only);
	else if (strcmp(target, "/readiness") == 0)
		answer_probe(c, PROBE_READINESS, head_only);
	else
		conn_answer(c, 404, text, "not found: /metrics, /startup, /liveness, /readiness\n", 53, head_only);
}

/* Reads what c sent; answers once the head is in.  Returns nothing. */
static void
conn_read(http_conn *c)
{
	for (;;)
	{
		ssize_t		n = recv(c->fd, c->req + c->have, HTTP_REQUEST_MAX - c->have, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
		{
			conn_close(c);		/* gone before asking */
			return;
		}
		c->have += (size_t) n;
		c->req[c->have] = '\0';
		if (strstr(c->req, "\r\n\r\n") != NULL || strstr(c->req, "\n\n") != NULL)
		{
			conn_handle(c);
			return;
		}
		if (c->have >= HTTP_REQUEST_MAX)
		{
			http.figures.rejected_too_large++;
			conn_answer(c, 431, "text/plain; charset=utf-8", "request too large\n", 18, false);
			return;
		}
	}
}

/* Sends what is left of c's answer; closes c when done.  Returns nothing. */
static void
conn_write(http_conn *c)
{
	while (c->out_sent < c->out_len)
	{
		ssize_t		n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0)
			break;
		c->out_sent += (size_t) n;
	}
	conn_close(c);
}

/*
 * Returns a place for a new connection: a free one, else the one that has
 * been reading its request the longest (a prober's request is in within
 * milliseconds: whoever has not sent theirs by the time every place is
 * taken is the slow one, and a flood of slow clients cannot keep a prober
 * out), else NULL (every place is sending an answer).  The one to be given
 * up is read first: a request that came in since the last poll (a prober
 * accepted in the same burst as a flood, not read yet) is answered, and the
 * next oldest is looked at.
 */
static http_conn *
conn_place(void)
{
	for (;;)
	{
		http_conn  *oldest = NULL;

		for (int i = 0; i < HTTP_MAX_CONNECTIONS; i++)
		{
			http_conn  *c = &http.conns[i];

			if (c->fd < 0)
				return c;
			if (c->out == NULL && (oldest == NULL || c->deadline_ms < oldest->deadline_ms))
				oldest = c;
		}
		if (oldest == NULL)
			return NULL;
		conn_read(oldest);
		if (oldest->fd >= 0 && oldest->out == NULL)
		{
			http.figures.rejected_busy++;
			conn_close(oldest);
			return oldest;
		}
		/* answered (or gone): one fewer to look at, at most every place once */
	}
}

/*
 * Accepts every pending connection: into a place (conn_place), or, with
 * none to be had, told 503 in one non-blocking send and closed.  Returns
 * nothing.
 */
static void
accept_all(void)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\n"
		"Connection: close\r\n\r\nbusy\n";

	for (;;)
	{
		int			fd = accept4(http.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		http_conn  *c;

		if (fd < 0)
		{
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return;				/* EAGAIN, or out of descriptors: the backlog keeps them */
		}
		c = conn_place();
		if (c == NULL)
		{
			http.figures.rejected_busy++;
			(void) send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
			close(fd);
			continue;
		}
		c->fd = fd;
		c->have = 0;
		c->deadline_ms = clock_now_ms() + HTTP_IO_MS;
	}
}

/* The thread: poll, read, answer, expire.  Returns NULL at stop. */
static void *
http_main(void *arg)
{
	struct pollfd pfds[HTTP_MAX_CONNECTIONS + 2];
	int			index[HTTP_MAX_CONNECTIONS];

	while (!service_thread_stopping(&http.thread))
	{
		int			n = 2;
		int64_t		now = clock_now_ms();
		int64_t		next = -1;
		int			rc;

		pfds[0] = (struct pollfd) {.fd = http.listen_fd,.events = POLLIN};
		pfds[1] = (struct pollfd) {.fd = http.thread.wake_fd,.events = POLLIN};
		for (int i = 0; i < HTTP_MAX_CONNECTIONS; i++)
		{
			http_conn  *c = &http.conns[i];

			if (c->fd < 0)
				continue;
			if (now >= c->deadline_ms)
			{
				/* slow or silent: the bound is the same for every client */
				http.figures.rejected_timeout++;
				conn_close(c);
				continue;
			}
			pfds[n] = (struct pollfd) {.fd = c->fd,.events = c->out ? POLLOUT : POLLIN};
			index[n - 2] = i;
			n++;
			if (next < 0 || c->deadline_ms < next)
				next = c->deadline_ms;
		}
		rc = poll(pfds, (nfds_t) n, next < 0 ? -1 : (int) (next - now + 1));
		if (rc < 0 && errno != EINTR)
		{
			log_msg(LOG_ERROR, "poll_failed", "thread=http error=\"%s\"", strerror(errno));
			break;
		}
		if (rc <= 0)
			continue;
		if (pfds[1].revents & POLLIN)
			service_thread_drain(&http.thread);
		for (int j = 2; j < n; j++)
		{
			http_conn  *c = &http.conns[index[j - 2]];

			if (pfds[j].revents == 0 || c->fd != pfds[j].fd)
				continue;
			if (c->out == NULL)
				conn_read(c);
			if (c->fd >= 0 && c->out != NULL)
				conn_write(c);
		}
		if (pfds[0].revents & POLLIN)
			accept_all();
	}
	return NULL;
}

/* Returns 0 once the thread runs; -1 (logged) otherwise. */
int
http_server_start(void)
{
	char		err[256];

	if (http.listen_fd < 0)
		return 0;
	http.conns = calloc(HTTP_MAX_CONNECTIONS, sizeof(http_conn));
	if (http.conns == NULL)
	{
		log_msg(LOG_ERROR, "out_of_memory", "thread=http");
		return -1;
	}
	for (int i = 0; i < HTTP_MAX_CONNECTIONS; i++)
		http.conns[i].fd = -1;
	if (service_thread_start(&http.thread, http_main, err, sizeof(err)) != 0)
	{
		log_msg(LOG_ERROR, "thread_start_failed", "thread=http error=\"%s\"", err);
		return -1;
	}
	return 0;
}

/* Stops the thread, then closes the clients and the listening socket. */
void
http_server_stop(void)
{
	service_thread_stop(&http.thread);
	for (int i = 0; http.conns != NULL && i < HTTP_MAX_CONNECTIONS; i++)
		conn_close(&http.conns[i]);
	free(http.conns);
	http.conns = NULL;
	if (http.listen_fd >= 0)
		close(http.listen_fd);
	http.listen_fd = -1;
}
