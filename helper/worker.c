/*
 * worker.c
 *		One SSH session's thread and its per-session state: the worker opens
 *		its session (one handshake at a time in the pool), takes the clients
 *		the pool assigns it, drives their channels with poll(2) in the
 *		directions libssh2 needs, judges the server's liveness (keepalives,
 *		silence, rekey stall), and on the way out gives back clients that
 *		never got a channel.  The libssh2 session never leaves this thread;
 *		the pool (pool.c) is reached only through pool_slot.h.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "events.h"
#include "log.h"
#include "pool_slot.h"
#include "pump.h"
#include "stats.h"

#define STALL_MS		5000	/* rekey-stall guard */

typedef struct worker
{
	slot	   *slot;
	ssh_conn   *conn;
	pump	  **pumps;
	int			npumps;
	int			cap;
	int64_t		last_keepalive_ms;
	int64_t		heard_ms;		/* last sign of life from FIONREAD */
	int			unread;			/* bytes waiting in the socket */
	char		error[512];
}			worker;

/* Returns the time of the last sign of life from the server. */
static int64_t
last_heard(worker *w)
{
	int64_t		r = atomic_load(&w->conn->last_recv_ms);

	return r > w->heard_ms ? r : w->heard_ms;
}

/* Takes the clients the dispatcher assigned; returns false when told to close. */
static bool
worker_take_inbox(worker *w)
{
	client	   *list;
	bool		keep;
	uint64_t	n;

	if (read(w->slot->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_msg(LOG_WARN, "eventfd_read_failed", "session=%d errno=%d", w->slot->id, errno);
	list = pool_slot_take_inbox(w->slot, &keep);
	while (list != NULL)
	{
		client	   *c = list;
		pump	   *p;

		list = c->next;
		p = pump_new(c->fd, c->name, c->port);
		if (p != NULL && w->npumps == w->cap)
		{
			int			cap = w->cap ? w->cap * 2 : 8;
			pump	  **np = realloc(w->pumps, sizeof(pump *) * cap);

			if (np == NULL)
			{
				pump_free(p);
				p = NULL;
			}
			else
			{
				w->pumps = np;
				w->cap = cap;
			}
		}
		if (p == NULL)
		{
			log_msg(LOG_ERROR, "out_of_memory", "client=%s", c->name);
			close(c->fd);
			pool_slot_release(w->slot);
		}
		else
			w->pumps[w->npumps++] = p;
		free(c);
	}
	return keep;
}

/* Releases the pump at index i (client closed); frees its load. */
static void
worker_drop(worker *w, int i, bool was_open)
{
	pump	   *p = w->pumps[i];

	if (was_open)
		stats_add_channels(-1);
	pump_free(p);
	w->pumps[i] = w->pumps[--w->npumps];
	pool_slot_release(w->slot);
}

/*
 * Serves pump i: open it, forward, or close it.  Returns -1 (with
 * w->error) when the session broke, 1 when the pump was released (the
 * last pump moved into slot i), else 0.  *open_seen is set once a pump
 * waiting for its channel was met: one open at a time per session.
 */
static int
worker_pump(worker *w, int i, bool *open_seen)
{
	const tunnel_config *cfg = pool_config();
	LIBSSH2_SESSION *session = w->conn->session;
	pump	   *p = w->pumps[i];
	pump_status st;
	int64_t		now = ssh_now_ms();

	if (p->closing)
	{
		if (!pump_close_step(p, session, false))
			return 0;
		worker_drop(w, i, false);
		return 1;
	}
	if (p->channel == NULL)
	{
		if (*open_seen)
			return 0;
		*open_seen = true;
		st = pump_open_step(p, session, cfg);
		if (st == PUMP_RUNNING)
		{
			if (now - p->started_ms > cfg->connect_timeout_ms)
			{
				snprintf(w->error, sizeof(w->error), "channel open timed out after %d ms",
						 cfg->connect_timeout_ms);
				return -1;
			}
			return 0;
		}
		if (st == PUMP_SESSION_ERROR)
		{
			snprintf(w->error, sizeof(w->error), "%s", p->error);
			return -1;
		}
		if (st == PUMP_CHANNEL_REFUSED)
		{
			log_msg(LOG_WARN, "channel_refused", "session=%d client=%s error=\"%s\"",
					w->slot->id, p->client, p->error);
			pool_note_channel_refused(w->slot, p->error);
			worker_drop(w, i, false);
			return 1;
		}
		stats_add_channels(1);
		log_msg(LOG_DEBUG, "channel_open", "session=%d client=%s", w->slot->id, p->client);
		*open_seen = false;		/* the next one may start now */
	}
	st = pump_step(p, session);
	if (st == PUMP_SESSION_ERROR)
	{
		snprintf(w->error, sizeof(w->error), "%s", p->error);
		return -1;
	}
	if (p->stall_since != 0 && now - p->stall_since > STALL_MS)
	{
		struct pollfd pfd = {.fd = w->conn->sock,.events = POLLOUT};

		if (poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLOUT))
		{
			snprintf(w->error, sizeof(w->error),
					 "channel write stalled for %d ms with the socket writable (rekey stall)",
					 STALL_MS);
			return -1;
		}
	}
	if (st == PUMP_DONE)
	{
		stats_add_channels(-1);
		if (p->error[0])
			log_msg(LOG_DEBUG, "channel_closed", "session=%d client=%s error=\"%s\"",
					w->slot->id, p->client, p->error);
		if (pump_close_step(p, session, false))
		{
			worker_drop(w, i, false);
			return 1;
		}
	}
	return 0;
}

/* Returns the index of the pump holding the session's output, or -1. */
static int
worker_owner(worker *w)
{
	for (int i = 0; i < w->npumps; i++)
		if (w->pumps[i]->blocked_op != PUMP_OP_NONE)
			return i;
	return -1;
}

/*
 * One pass over the channels.  The pump holding a half-sent packet goes
 * first and alone until it is through.  Returns false (with w->error) when
 * the session broke.
 */
static bool
worker_pass(worker *w)
{
	bool		open_seen = false;
	int			owner = worker_owner(w);

	if (owner >= 0)
	{
		pump	   *p = w->pumps[owner];
		int			r;

		if (p->channel == NULL && !p->closing)
			open_seen = true;
		r = worker_pump(w, owner, &open_seen);
		if (r < 0)
			return false;
		if (r == 0 && p->blocked_op != PUMP_OP_NONE)
			return true;
		open_seen = false;
	}
	for (int i = 0; i < w->npumps; i++)
	{
		int			r = worker_pump(w, i, &open_seen);

		if (r < 0)
			return false;
		if (r > 0)
			i--;
		else if (w->pumps[i]->blocked_op != PUMP_OP_NONE)
			break;				/* nobody else may send now */
	}
	return true;
}

/*
 * Liveness: returns false (with w->error) when the server has been silent
 * for SSH_KEEPALIVE_COUNT_MAX keepalive intervals; sends a keepalive after
 * each interval of silence.  *wait_ms is lowered to the next check.
 */
static bool
worker_liveness(worker *w, int *wait_ms)
{
	const tunnel_config *cfg = pool_config();
	int64_t		now = ssh_now_ms();
	int64_t		interval = cfg->keepalive_interval_ms > 0 ? cfg->keepalive_interval_ms : 15000;
	int64_t		limit = interval * (cfg->keepalive_count_max > 0 ? cfg->keepalive_count_max : 3);
	int64_t		silent = now - last_heard(w);
	int64_t		next;

	if (silent >= limit)
	{
		snprintf(w->error, sizeof(w->error),
				 "Timeout, server %s not responding (silent for %" PRId64 " ms)",
				 cfg->ssh_host, silent);
		return false;
	}
	if (silent >= interval && now - w->last_keepalive_ms >= interval && worker_owner(w) < 0)
	{
		int			next_s = 0;
		int			rc = libssh2_keepalive_send(w->conn->session, &next_s);

		/* Only a broken socket counts; silence is judged above. */
		if (rc == LIBSSH2_ERROR_SOCKET_SEND || rc == LIBSSH2_ERROR_SOCKET_DISCONNECT)
		{
			ssh_conn_error(w->conn, "keepalive", w->error, sizeof(w->error));
			return false;
		}
		w->last_keepalive_ms = now;
	}
	next = last_heard(w) + interval;
	if (next <= now)
		next = w->last_keepalive_ms + interval;
	if (last_heard(w) + limit < next)
		next = last_heard(w) + limit;
	if (next - now < *wait_ms)
		*wait_ms = (int) (next - now > 0 ? next - now : 1);
	return true;
}

/*
 * The worker's loop after the session is up: poll on the wake eventfd, the
 * SSH socket (in the directions libssh2 needs) and the clients; returns
 * when the session broke or a close was asked for.
 */
static void
worker_serve(worker *w)
{
	struct pollfd *pfds = NULL;
	int			pcap = 0;

	for (;;)
	{
		bool		want_in = false;
		int			dir,
					n,
					rc,
					wait_ms = 60000;

		if (!worker_take_inbox(w))
			break;
		if (!worker_pass(w))
			break;

		if (pcap < w->npumps + 2)
		{
			struct pollfd *np = realloc(pfds, sizeof(*pfds) * (w->npumps + 8));

			if (np == NULL)
			{
				snprintf(w->error, sizeof(w->error), "out of memory");
				break;
			}
			pfds = np;
			pcap = w->npumps + 8;
		}
		for (int i = 0; i < w->npumps; i++)
		{
			/* Work was done: look again before sleeping. */
			if (w->pumps[i]->progress)
				wait_ms = 0;
			pump_poll_client(w->pumps[i], &pfds[2 + i]);
			if (pump_wants_session_input(w->pumps[i]))
				want_in = true;
			if (w->pumps[i]->stall_since != 0)
			{
				int64_t		left = w->pumps[i]->stall_since + STALL_MS + 1 - ssh_now_ms();

				if (left < wait_ms)
					wait_ms = left > 0 ? (int) left : 1;
			}
		}
		if (want_in)
			w->unread = 0;
		else
		{
			/*
			 * Nobody reads the socket now (no channel has room): bytes that
			 * arrive still prove the server alive.
			 */
			int			avail = 0;

			if (ioctl(w->conn->sock, FIONREAD, &avail) == 0 && avail > w->unread)
				w->heard_ms = ssh_now_ms();
			w->unread = avail;
		}
		if (!worker_liveness(w, &wait_ms))
			break;
		pfds[0].fd = w->slot->wake_fd;
		pfds[0].events = POLLIN;
		pfds[1].fd = w->conn->sock;
		pfds[1].events = POLLRDHUP;
		dir = libssh2_session_block_directions(w->conn->session);
		if (want_in)
			pfds[1].events |= POLLIN;
		if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
			pfds[1].events |= POLLOUT;
		/* Opens and closes in progress are retried as the socket allows. */
		n = w->npumps + 2;
		do
			rc = poll(pfds, n, wait_ms);
		while (rc < 0 && errno == EINTR);
		if (rc < 0)
		{
			snprintf(w->error, sizeof(w->error), "poll: %s", strerror(errno));
			break;
		}
		if (!want_in && (pfds[1].revents & (POLLRDHUP | POLLHUP | POLLERR)))
		{
			snprintf(w->error, sizeof(w->error), "Connection to %s closed by remote host",
					 pool_config()->ssh_host);
			break;
		}
	}
	free(pfds);
}

/*
 * Gives the clients that never got a channel back to the pool (unless the
 * close was asked for: then they close), closes the others' channels, and
 * frees every pump.  Returns nothing.
 */
static void
worker_release_pumps(worker *w, bool expected)
{
	for (int i = 0; i < w->npumps; i++)
	{
		pump	   *p = w->pumps[i];

		if (p->channel == NULL && !p->closing && !expected)
		{
			if (pool_requeue(p->fd, p->client, p->client_port))
				p->fd = -1;
		}
		else if (p->channel != NULL && !p->closing)
			stats_add_channels(-1);
		pump_close_step(p, w->conn->session, true);
		pump_free(p);
	}
	free(w->pumps);
	w->pumps = NULL;
	w->npumps = w->cap = 0;
}

/*
 * A session's thread: open the session (one handshake at a time in the
 * pool), serve it, then tear it down and give back clients that never got
 * a channel.  Returns NULL.
 */
void *
worker_main(void *arg)
{
	slot	   *s = arg;
	worker		w;
	ssh_result	r;
	char		err[512] = "";
	bool		expected;

	memset(&w, 0, sizeof(w));
	w.slot = s;
	r = pool_handshake(&w.conn, err, sizeof(err));
	if (r != SSH_OK)
	{
		pool_slot_failed(s, r, err);
		return NULL;
	}
	pool_slot_live(s);

	w.last_keepalive_ms = ssh_now_ms();
	w.heard_ms = ssh_now_ms();
	worker_serve(&w);

	expected = pool_slot_closing(s);
	worker_release_pumps(&w, expected);
	ssh_conn_close(w.conn, expected ? "closing" : "lost", expected ? 1000 : 0);
	stats_add_sessions(-1);
	if (expected)
		log_msg(LOG_INFO, "session_closed", "session=%d", s->id);
	else
		event_emit(LOG_WARN, "disconnected", "session=%d error=\"%s\"", s->id, w.error);
	pool_slot_finished(s, expected ? NULL : w.error);
	return NULL;
}
