/*
 * patroni.c
 *		One node's Patroni REST API (see patroni.h).  A request is one end
 *		of a socketpair handed to the pool as a channel to the node's API
 *		port over the reserved path (never queued behind clients); this end
 *		writes an HTTP/1.0 GET and reads the answer until it is complete
 *		(http_answer.h), the buffer is full, or the time is up.  Patroni
 *		3.0's answers are HTTP/1.0 bodies of JSON ended by the close;
 *		/cluster is {"members": [{"name", "role", "state", "host", "port",
 *		"timeline", ...}], ...} with role "leader" for the member that holds
 *		the leader key.  Members are matched to POSTGRES_REMOTE_HOST's
 *		entries by host and port (Patroni's postgresql.connect_address), or
 *		else by the host of their api_url and POSTGRES_PATRONI_PORT
 *		(restapi.connect_address).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "http_answer.h"
#include "json.h"
#include "patroni.h"
#include "pool.h"

typedef enum api_result
{
	API_ANSWER,					/* a complete HTTP answer */
	API_NO_ANSWER,				/* nothing in time, or the path is closed */
	API_BAD_ANSWER				/* an answer that cannot be read */
} api_result;

/* Opens the socketpair and sends the request.  Returns this end, or -1. */
static int
api_open(const tunnel_config *cfg, int i, const char *path, char *err, size_t errlen)
{
	int			sv[2];
	char		req[512];
	char		name[64];
	int			len;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
	{
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	if (fcntl(sv[1], F_SETFL, O_NONBLOCK) != 0)
	{
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	len = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s:%d\r\n"
				   "User-Agent: chatgenius-tunnel\r\nAccept: application/json\r\n\r\n", path,
				   cluster_host_name(i), cfg->patroni_port);
	/* Written before the channel exists: the socket buffer holds it. */
	if (len < 0 || len >= (int) sizeof(req) || write(sv[0], req, (size_t) len) != len)
	{
		snprintf(err, errlen, "write: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	snprintf(name, sizeof(name), "patroni-probe:%d", i);
	pool_submit_reserved_to(sv[1], name, 0, i, cfg->patroni_port);
	return sv[0];
}

/*
 * GET path from host i's API within timeout_ms, into buf (cap bytes).
 * Returns API_ANSWER with *a filled, else API_NO_ANSWER or API_BAD_ANSWER
 * with err filled.
 */
static api_result
api_get(const tunnel_config *cfg, int i, const char *path, int timeout_ms, char *buf, size_t cap,
		http_answer *a, char *err, size_t errlen)
{
	int64_t		deadline = clock_now_ms() + timeout_ms;
	size_t		got = 0;
	bool		eof = false;
	char		why[128];
	api_result	r;
	int			fd = api_open(cfg, i, path, err, errlen);

	if (fd < 0)
		return API_NO_ANSWER;
	for (;;)
	{
		struct pollfd pfd = {.fd = fd,.events = POLLIN};
		int64_t		left;
		ssize_t		n;
		http_read	h = got > 0 ? http_answer_read(buf, got, eof, a, why, sizeof(why)) : HTTP_INCOMPLETE;

		if (h == HTTP_COMPLETE)
		{
			r = API_ANSWER;
			break;
		}
		if (h == HTTP_INVALID)
		{
			snprintf(err, errlen, "GET %s: %s", path, why);
			r = API_BAD_ANSWER;
			break;
		}
		if (eof)
		{
			snprintf(err, errlen, "GET %s: connection closed without an answer "
					 "(the SSH server could not reach %s:%d)", path, cluster_host_name(i),
					 cfg->patroni_port);
			r = API_NO_ANSWER;
			break;
		}
		if (got == cap)
		{
			snprintf(err, errlen, "GET %s: answer longer than %zu bytes", path, cap);
			r = API_BAD_ANSWER;
			break;
		}
		left = deadline - clock_now_ms();
		if (left <= 0)
		{
			snprintf(err, errlen, "GET %s: no complete answer in %d ms (%zu bytes)", path,
					 timeout_ms, got);
			r = API_NO_ANSWER;
			break;
		}
		if (poll(&pfd, 1, (int) left) < 0 && errno != EINTR)
		{
			snprintf(err, errlen, "GET %s: poll: %s", path, strerror(errno));
			r = API_NO_ANSWER;
			break;
		}
		if (!(pfd.revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			eof = true;
		else
			got += (size_t) n;
	}
	close(fd);
	return r;
}

/* The host index named host:port (port: PostgreSQL's, or the API's), or -1. */
static int
host_index(const char *host, int64_t port, bool api, const tunnel_config *cfg)
{
	for (int i = 0; i < cluster_nhosts(); i++)
		if (strcasecmp(host, cluster_host_name(i)) == 0 &&
			port == (api ? cfg->patroni_port : cluster_host_port(i)))
			return i;
	return -1;
}

/*
 * The host among POSTGRES_REMOTE_HOST's entries that cluster member m
 * names: its host and port, else its api_url's host and port.  Returns
 * the index, or -1 (with the member's address in seen).
 */
static int
member_host(const json_doc *d, int m, const tunnel_config *cfg, char *seen, size_t seenlen)
{
	char		host[256] = "";
	char		url[320];
	int64_t		port = 5432;	/* Patroni leaves a default port out */
	int			t = json_get(d, m, "port");
	int			i = -1;

	if (json_string(d, json_get(d, m, "host"), host, sizeof(host)) == 0 &&
		(t < 0 || json_int(d, t, &port) == 0))
		i = host_index(host, port, false, cfg);
	snprintf(seen, seenlen, "%s:%lld", host[0] ? host : "?", (long long) port);
	/* "http://HOST:PORT/patroni" (an IPv6 HOST is bracketed) */
	if (i < 0 && json_string(d, json_get(d, m, "api_url"), url, sizeof(url)) == 0)
	{
		char	   *h = strstr(url, "://");
		char	   *end;
		char	   *colon;

		if (h != NULL)
		{
			h += 3;
			end = h + strcspn(h, "/");
			*end = '\0';
			colon = strrchr(h, ':');
			if (colon != NULL && (h[0] != '[' || colon > strchr(h, ']')))
			{
				*colon = '\0';
				port = strtoll(colon + 1, NULL, 10);
				if (h[0] == '[' && colon[-1] == ']')
				{
					h++;
					colon[-1] = '\0';
				}
				i = host_index(h, port, true, cfg);
			}
		}
	}
	return i;
}

/* True when member m's role word is one of Patroni's replica roles. */
static bool
replica_role(const json_doc *d, int role)
{
	return json_string_is(d, role, "replica") || json_string_is(d, role, "sync_standby") ||
		json_string_is(d, role, "quorum_standby");
}

/*
 * Reads a /cluster body into p's view fields.  Returns 0, or -1 with err
 * filled when it is no cluster view (not JSON, no members list, a member
 * that is not an object, or two leaders).
 */
static int
read_view(const tunnel_config *cfg, const char *body, size_t len, host_probe *p, char *err,
		  size_t errlen)
{
	json_doc   *d = malloc(sizeof(json_doc));
	char		why[128];
	int			members,
				leaders = 0,
				leader = -1;
	char		seen[sizeof(p->view_leader_seen)] = "";
	uint32_t	replicas = 0;
	int			rc = -1;

	if (d == NULL)
	{
		snprintf(err, errlen, "GET /cluster: out of memory");
		return -1;
	}
	if (json_parse(d, body, len, why, sizeof(why)) != 0)
	{
		snprintf(err, errlen, "GET /cluster: not JSON: %s", why);
		goto out;
	}
	members = json_get(d, 0, "members");
	if (members < 0 || d->tokens[members].type != JSON_ARRAY)
	{
		snprintf(err, errlen, "GET /cluster: no members list");
		goto out;
	}
	for (int m = json_first(d, members); m >= 0; m = json_after(d, members, m))
	{
		int			role = json_get(d, m, "role");
		int			state = json_get(d, m, "state");
		int			host;
		char		addr[sizeof(seen)];

		if (d->tokens[m].type != JSON_OBJECT)
		{
			snprintf(err, errlen, "GET /cluster: a member that is not an object");
			goto out;
		}
		host = member_host(d, m, cfg, addr, sizeof(addr));
		if (json_string_is(d, role, "leader"))
		{
			leaders++;
			leader = host;
			memcpy(seen, addr, sizeof(seen));
		}
		else if (host >= 0 && replica_role(d, role) &&
				 (json_string_is(d, state, "running") || json_string_is(d, state, "streaming")))
			replicas |= 1u << host;
	}
	if (leaders > 1)
	{
		snprintf(err, errlen, "GET /cluster: %d members hold the leader role", leaders);
		goto out;
	}
	p->view = true;
	p->view_leader = leader;
	p->view_replicas = replicas;
	p->view_unlisted = leaders == 1 && leader < 0;
	snprintf(p->view_leader_seen, sizeof(p->view_leader_seen), "%s", seen);
	rc = 0;
out:
	free(d);
	return rc;
}

/* The top-level "timeline" of a node's status body, or -1. */
static int64_t
body_timeline(const char *body, size_t len)
{
	json_doc   *d = malloc(sizeof(json_doc));
	char		why[128];
	int64_t		tl = -1;

	if (d != NULL && json_parse(d, body, len, why, sizeof(why)) == 0 &&
		json_int(d, json_get(d, 0, "timeline"), &tl) != 0)
		tl = -1;
	free(d);
	return tl;
}

/* Probes host i; see patroni.h. */
void
patroni_probe(const tunnel_config *cfg, int i, int timeout_ms, host_probe *p)
{
	char	   *buf = malloc(PATRONI_ANSWER_MAX);
	http_answer a;
	api_result	r;

	p->view = false;
	p->view_leader = -1;
	p->view_replicas = 0;
	p->view_unlisted = false;
	p->view_leader_seen[0] = '\0';
	if (buf == NULL)
	{
		snprintf(p->error, sizeof(p->error), "out of memory");
		return;
	}
	r = api_get(cfg, i, "/cluster", timeout_ms, buf, PATRONI_ANSWER_MAX, &a, p->error,
				sizeof(p->error));
	if (r == API_NO_ANSWER)
		goto out;				/* no time spent on the rest */
	if (r == API_ANSWER && a.status != 200)
		snprintf(p->error, sizeof(p->error), "GET /cluster: %d", a.status);
	else if (r == API_ANSWER)
		(void) read_view(cfg, a.body, a.body_len, p, p->error, sizeof(p->error));
	r = api_get(cfg, i, "/primary", timeout_ms, buf, PATRONI_ANSWER_MAX, &a, p->error,
				sizeof(p->error));
	if (r == API_NO_ANSWER)
		goto out;
	if (r == API_ANSWER && a.status == 200)
	{
		p->role = ROLE_PRIMARY;
		p->leader = true;
		p->timeline = body_timeline(a.body, a.body_len);
		goto out;
	}
	r = api_get(cfg, i, "/replica", timeout_ms, buf, PATRONI_ANSWER_MAX, &a, p->error,
				sizeof(p->error));
	if (r == API_ANSWER && a.status == 200)
		p->role = ROLE_STANDBY;
	else if (r == API_ANSWER)
		snprintf(p->error, sizeof(p->error), "Patroni: neither leader nor replica (GET /replica: %d)",
				 a.status);
out:
	free(buf);
}
