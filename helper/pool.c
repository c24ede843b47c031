/*
 * pool.c
 *		Session slots and their worker threads (pgbouncer's objects.c and
 *		server side in one): who gets which session, when a session is
 *		started or closed, and the worker loop that drives one libssh2
 *		session and its channels with poll.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "events.h"
#include "log.h"
#include "pool.h"
#include "pump.h"
#include "stats.h"

#define MAX_SLOTS		64		/* hard ceiling on SSH_POOL_SIZE */
#define STALL_MS		5000	/* rekey-stall guard */

typedef struct client
{
	int			fd;
	int			port;
	char		name[64];
	int64_t		since_ms;		/* when it started waiting */
	int64_t		deadline_ms;
	bool		counted;		/* counted in clients_waiting */
	struct client *next;
} client;

typedef enum slot_state
{
	SLOT_EMPTY,
	SLOT_CONNECTING,
	SLOT_LIVE,
	SLOT_CLOSING,
	SLOT_DEAD					/* finished; thread to join */
} slot_state;

typedef struct slot
{
	int			id;				/* session number in the logs, from 1 */
	slot_state	state;
	pthread_t	thread;
	int			wake_fd;		/* eventfd: new clients or close request */
	int			load;			/* channels assigned (opening or open) */
	client	   *inbox;			/* assigned, not yet taken by the worker */
	bool		close_requested;
	bool		expected;		/* the close was asked for */
	bool		awaited;		/* pool_open_first collects it */
	int64_t		idle_since_ms;
	ssh_result	fail;
	char		error[512];
} slot;

static struct
{
	pthread_mutex_t lock;
	pthread_cond_t changed;
	pthread_mutex_t handshake;	/* one handshake at a time */
	tunnel_config *cfg;
	void		(*wake_janitor) (void);
	slot		slots[MAX_SLOTS];
	client	   *wait_head;
	client	   *wait_tail;
	int			waiting;
	bool		paused;
	bool		stopping;
	bool		lost_all;
	bool		fatal;
	char		lost_error[512];
	char		fatal_error[512];
	int64_t		no_spawn_until_ms;
	int			next_id;
}			pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.changed = PTHREAD_COND_INITIALIZER,
	.handshake = PTHREAD_MUTEX_INITIALIZER,
};

static void *worker_main(void *arg);

/* Returns the configured pool size, capped to the slot table. */
static int
pool_limit(void)
{
	int			n = pool.cfg->pool_size;

	return n < 1 ? 1 : (n > MAX_SLOTS ? MAX_SLOTS : n);
}

/* Wakes a worker out of poll(2); returns nothing, errors are harmless. */
static void
slot_wake(slot *s)
{
	uint64_t	one = 1;

	if (s->wake_fd >= 0 && write(s->wake_fd, &one, sizeof(one)) < 0)
		return;
}

/* Returns 0 and sets up the pool's state for cfg. */
int
pool_init(tunnel_config *cfg, void (*wake_janitor) (void))
{
	pthread_mutex_lock(&pool.lock);
	pool.cfg = cfg;
	pool.wake_janitor = wake_janitor;
	for (int i = 0; i < MAX_SLOTS; i++)
	{
		memset(&pool.slots[i], 0, sizeof(slot));
		pool.slots[i].wake_fd = -1;
	}
	pool.wait_head = pool.wait_tail = NULL;
	pool.waiting = 0;
	pool.paused = pool.stopping = pool.lost_all = pool.fatal = false;
	pool.no_spawn_until_ms = 0;
	pool.next_id = 1;
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

/* Joins a finished worker and frees its slot.  Lock held. */
static void
slot_collect(slot *s)
{
	int			rc;

	if (s->state != SLOT_DEAD || s->awaited)
		return;
	rc = pthread_join(s->thread, NULL);
	if (rc != 0)
		log_msg(LOG_WARN, "pthread_join_failed", "session=%d error=%d", s->id, rc);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	s->wake_fd = -1;
	s->state = SLOT_EMPTY;
}

/*
 * Starts a worker in a free slot (which opens its own session).  Returns
 * the slot, or NULL when no slot or thread could be had.  Lock held.
 */
static slot *
slot_spawn(void)
{
	slot	   *s = NULL;
	int			rc;

	for (int i = 0; i < MAX_SLOTS; i++)
	{
		slot_collect(&pool.slots[i]);
		if (s == NULL && pool.slots[i].state == SLOT_EMPTY)
			s = &pool.slots[i];
	}
	if (s == NULL)
		return NULL;
	memset(s, 0, sizeof(*s));
	s->id = pool.next_id++;
	s->state = SLOT_CONNECTING;
	s->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->wake_fd < 0)
	{
		log_msg(LOG_ERROR, "eventfd_failed", "error=%d", errno);
		s->state = SLOT_EMPTY;
		return NULL;
	}
	rc = pthread_create(&s->thread, NULL, worker_main, s);
	if (rc != 0)
	{
		log_msg(LOG_ERROR, "pthread_create_failed", "error=%d", rc);
		close(s->wake_fd);
		s->wake_fd = -1;
		s->state = SLOT_EMPTY;
		return NULL;
	}
	return s;
}

/* Appends c to the waiting queue (at the head when requeued).  Lock held. */
static void
queue_push(client *c, bool front)
{
	c->next = NULL;
	if (pool.wait_head == NULL)
		pool.wait_head = pool.wait_tail = c;
	else if (front)
	{
		c->next = pool.wait_head;
		pool.wait_head = c;
	}
	else
	{
		pool.wait_tail->next = c;
		pool.wait_tail = c;
	}
	pool.waiting++;
}

/* Removes and returns the first waiting client, or NULL.  Lock held. */
static client *
queue_pop(void)
{
	client	   *c = pool.wait_head;

	if (c == NULL)
		return NULL;
	pool.wait_head = c->next;
	if (pool.wait_head == NULL)
		pool.wait_tail = NULL;
	c->next = NULL;
	pool.waiting--;
	return c;
}

/*
 * Gives waiting clients to the least-loaded live sessions with room, and
 * starts one more session (never two handshakes at once) when clients
 * still wait or every live session is already busy.  Lock held.
 */
static void
dispatch(void)
{
	int			cps = pool.cfg->channels_per_session;
	bool		want_session = false;
	int			live = 0,
				connecting = 0;

	if (cps < 1)
		cps = 1;
	while (pool.wait_head != NULL)
	{
		slot	   *best = NULL;
		client	   *c;

		for (int i = 0; i < MAX_SLOTS; i++)
		{
			slot	   *s = &pool.slots[i];

			if (s->state == SLOT_LIVE && !s->close_requested && s->load < cps &&
				(best == NULL || s->load < best->load))
				best = s;
		}
		if (best == NULL)
			break;
		if (best->load > 0)
			want_session = true;	/* no idle session was left */
		c = queue_pop();
		if (c->counted)
			stats_add_waiting(-1);
		c->next = best->inbox;
		best->inbox = c;
		best->load++;
		slot_wake(best);
	}
	if (pool.wait_head != NULL)
		want_session = true;
	if (!want_session || pool.paused || pool.stopping ||
		ssh_now_ms() < pool.no_spawn_until_ms)
		return;
	for (int i = 0; i < MAX_SLOTS; i++)
	{
		if (pool.slots[i].state == SLOT_LIVE)
			live++;
		else if (pool.slots[i].state == SLOT_CONNECTING)
			connecting++;
	}
	if (connecting == 0 && live > 0 && live < pool_limit())
		slot_spawn();
}

/* Closes a client that will not be served, with the pool_full event. */
static void
refuse(client *c, const char *why)
{
	int64_t		waited = ssh_now_ms() - c->since_ms;

	stats_add_refused();
	event_emit(LOG_WARN, "pool_full", "client=%s waited_ms=%" PRId64 " reason=%s",
			   c->name, waited, why);
	close(c->fd);
	free(c);
}

/* Takes a new client from the listener: dispatch it or let it wait. */
void
pool_submit(int fd, const char *name, int port)
{
	client	   *c = calloc(1, sizeof(*c));

	if (c == NULL)
	{
		log_msg(LOG_ERROR, "out_of_memory", "client=%s", name);
		close(fd);
		return;
	}
	c->fd = fd;
	c->port = port;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->since_ms = ssh_now_ms();
	pthread_mutex_lock(&pool.lock);
	c->deadline_ms = c->since_ms + pool.cfg->client_wait_ms;
	if (pool.stopping)
	{
		pthread_mutex_unlock(&pool.lock);
		close(fd);
		free(c);
		return;
	}
	if (pool.waiting >= pool.cfg->max_waiting_clients)
	{
		pthread_mutex_unlock(&pool.lock);
		refuse(c, "too_many_waiting");
		return;
	}
	queue_push(c, false);
	dispatch();
	/* Still queued: it waits (counted once, as pgbouncer's cl_waiting). */
	for (client *w = pool.wait_head; w != NULL; w = w->next)
		if (w == c)
		{
			c->counted = true;
			stats_add_waiting(1);
			log_msg(LOG_DEBUG, "client_waiting", "client=%s waiting=%d", name, pool.waiting);
		}
	pthread_mutex_unlock(&pool.lock);
}

/* Returns the first waiting client's deadline (monotonic ms) or -1. */
int64_t
pool_next_deadline(void)
{
	int64_t		d = -1;

	pthread_mutex_lock(&pool.lock);
	for (client *c = pool.wait_head; c != NULL; c = c->next)
		if (d < 0 || c->deadline_ms < d)
			d = c->deadline_ms;
	pthread_mutex_unlock(&pool.lock);
	return d;
}

/* Refuses every waiting client whose deadline passed. */
void
pool_expire_waiting(void)
{
	int64_t		now = ssh_now_ms();
	client	   *expired = NULL;
	client	  **pp;

	pthread_mutex_lock(&pool.lock);
	pp = &pool.wait_head;
	pool.wait_tail = NULL;
	while (*pp != NULL)
	{
		client	   *c = *pp;

		if (c->deadline_ms <= now)
		{
			*pp = c->next;
			pool.waiting--;
			if (c->counted)
				stats_add_waiting(-1);
			c->next = expired;
			expired = c;
		}
		else
		{
			pool.wait_tail = c;
			pp = &c->next;
		}
	}
	pthread_mutex_unlock(&pool.lock);
	while (expired != NULL)
	{
		client	   *next = expired->next;

		refuse(expired, "wait_timeout");
		expired = next;
	}
}

/* Returns SSH_OK once a new session is live, else the failure and reason. */
ssh_result
pool_open_first(char *err, size_t errlen)
{
	slot	   *s;
	ssh_result	r;

	pthread_mutex_lock(&pool.lock);
	if (pool.stopping)
	{
		pthread_mutex_unlock(&pool.lock);
		snprintf(err, errlen, "stopping");
		return SSH_FAIL_RETRY;
	}
	s = slot_spawn();
	if (s == NULL)
	{
		pthread_mutex_unlock(&pool.lock);
		snprintf(err, errlen, "could not start a session worker");
		return SSH_FAIL_RETRY;
	}
	s->awaited = true;
	while (s->state == SLOT_CONNECTING)
		pthread_cond_wait(&pool.changed, &pool.lock);
	s->awaited = false;
	if (s->state == SLOT_LIVE)
		r = SSH_OK;
	else
	{
		r = s->fail == SSH_OK ? SSH_FAIL_RETRY : s->fail;
		snprintf(err, errlen, "%s", s->error);
		slot_collect(s);
	}
	/* A fatal flag from this very attempt is reported by the return value. */
	pool.fatal = false;
	dispatch();
	pthread_mutex_unlock(&pool.lock);
	return r;
}

/* Stops on-demand session starts (during reconnection). */
void
pool_pause(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.paused = true;
	pthread_mutex_unlock(&pool.lock);
}

/* Allows on-demand session starts again and serves waiting clients. */
void
pool_resume(void)
{
	pthread_mutex_lock(&pool.lock);
	pool.paused = false;
	pool.no_spawn_until_ms = 0;
	dispatch();
	pthread_mutex_unlock(&pool.lock);
}

/* Returns how many live sessions were closed; waits for every worker. */
int
pool_close_all(void)
{
	int			closed = 0;
	bool		busy;

	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < MAX_SLOTS; i++)
	{
		slot	   *s = &pool.slots[i];

		if (s->state == SLOT_LIVE || s->state == SLOT_CONNECTING || s->state == SLOT_CLOSING)
		{
			if (s->state == SLOT_LIVE)
				closed++;
			s->close_requested = true;
			s->expected = true;
			slot_wake(s);
		}
	}
	do
	{
		busy = false;
		for (int i = 0; i < MAX_SLOTS; i++)
		{
			slot_collect(&pool.slots[i]);
			if (pool.slots[i].state != SLOT_EMPTY)
				busy = true;
		}
		if (busy)
			pthread_cond_wait(&pool.changed, &pool.lock);
	} while (busy);
	pool.lost_all = false;
	pthread_mutex_unlock(&pool.lock);
	return closed;
}

/* Closes idle extra sessions, joins finished workers, serves waiters. */
void
pool_tick(void)
{
	int64_t		now = ssh_now_ms();
	int			live = 0;

	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < MAX_SLOTS; i++)
	{
		slot_collect(&pool.slots[i]);
		if (pool.slots[i].state == SLOT_LIVE && !pool.slots[i].close_requested)
			live++;
	}
	for (int i = 0; i < MAX_SLOTS && live > 1; i++)
	{
		slot	   *s = &pool.slots[i];

		if (s->state == SLOT_LIVE && !s->close_requested && s->load == 0 &&
			s->inbox == NULL && now - s->idle_since_ms >= pool.cfg->idle_session_ms)
		{
			s->close_requested = true;
			s->expected = true;
			live--;
			log_msg(LOG_INFO, "session_idle_close", "session=%d idle_ms=%" PRId64,
					s->id, now - s->idle_since_ms);
			slot_wake(s);
		}
	}
	dispatch();
	pthread_mutex_unlock(&pool.lock);
}

/* Returns true (once) when every session was lost; the reason goes to err. */
bool
pool_take_lost_all(char *err, size_t errlen)
{
	bool		r;

	pthread_mutex_lock(&pool.lock);
	r = pool.lost_all;
	if (r)
		snprintf(err, errlen, "%s", pool.lost_error);
	pool.lost_all = false;
	pthread_mutex_unlock(&pool.lock);
	return r;
}

/* Returns true (once) when a session was refused for auth or host key. */
bool
pool_take_fatal(char *err, size_t errlen)
{
	bool		r;

	pthread_mutex_lock(&pool.lock);
	r = pool.fatal;
	if (r)
		snprintf(err, errlen, "%s", pool.fatal_error);
	pool.fatal = false;
	pthread_mutex_unlock(&pool.lock);
	return r;
}

/* Returns the number of live sessions. */
int
pool_live_sessions(void)
{
	int			live = 0;

	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < MAX_SLOTS; i++)
		if (pool.slots[i].state == SLOT_LIVE)
			live++;
	pthread_mutex_unlock(&pool.lock);
	return live;
}

/* Returns config_reload's result; workers see the new limits at once. */
int
pool_reload_config(char *err, size_t errlen)
{
	int			rc;

	pthread_mutex_lock(&pool.lock);
	rc = config_reload(pool.cfg, err, errlen);
	if (rc == 0)
		stats_set_pool_size(pool.cfg->pool_size);
	dispatch();
	pthread_mutex_unlock(&pool.lock);
	return rc;
}

/* Logs the pool figures, with each live session's channel count. */
void
pool_log_stats(void)
{
	stats_snapshot st;
	char		per[512] = "";
	size_t		o = 0;

	stats_snapshot_take(&st);
	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < MAX_SLOTS && o < sizeof(per) - 16; i++)
		if (pool.slots[i].state == SLOT_LIVE)
			o += (size_t) snprintf(per + o, sizeof(per) - o, "%s%d:%d", o ? "," : "",
								   pool.slots[i].id, pool.slots[i].load);
	pthread_mutex_unlock(&pool.lock);
	log_msg(LOG_INFO, "pool_stats",
			"state=%s sessions=%d pool_size=%d sv_load=%s cl_active=%d cl_waiting=%d "
			"channels_total=%" PRId64 " waits_total=%" PRId64 " refused=%" PRId64
			" bytes_in=%" PRId64 " bytes_out=%" PRId64 " reconnects=%" PRId64,
			tunnel_state_name(st.state), st.sessions_open, st.pool_size,
			per[0] ? per : "-", st.channels_active, st.clients_waiting,
			st.channels_total, st.waits_total, st.clients_refused,
			st.bytes_in, st.bytes_out, st.reconnects);
}

/* Closes every session and waiting client and joins the workers. */
void
pool_shutdown(void)
{
	client	   *c;

	pthread_mutex_lock(&pool.lock);
	pool.stopping = true;
	while ((c = queue_pop()) != NULL)
	{
		if (c->counted)
			stats_add_waiting(-1);
		close(c->fd);
		free(c);
	}
	pthread_mutex_unlock(&pool.lock);
	pool_close_all();
}

/* ---------------------------------------------------------------- worker */

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
	client	   *list,
			   *rev = NULL;
	bool		keep;
	uint64_t	n;

	if (read(w->slot->wake_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_msg(LOG_WARN, "eventfd_read_failed", "session=%d errno=%d", w->slot->id, errno);
	pthread_mutex_lock(&pool.lock);
	list = w->slot->inbox;
	w->slot->inbox = NULL;
	keep = !w->slot->close_requested;
	pthread_mutex_unlock(&pool.lock);
	/* The inbox is a stack; serve the oldest first. */
	while (list != NULL)
	{
		client	   *next = list->next;

		list->next = rev;
		rev = list;
		list = next;
	}
	while (rev != NULL)
	{
		client	   *c = rev;
		pump	   *p;

		rev = c->next;
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
			pthread_mutex_lock(&pool.lock);
			w->slot->load--;
			pthread_mutex_unlock(&pool.lock);
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
	pthread_mutex_lock(&pool.lock);
	w->slot->load--;
	if (w->slot->load == 0)
		w->slot->idle_since_ms = ssh_now_ms();
	dispatch();
	pthread_mutex_unlock(&pool.lock);
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
	const tunnel_config *cfg = pool.cfg;
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
	const tunnel_config *cfg = pool.cfg;
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
					 pool.cfg->ssh_host);
			break;
		}
	}
	free(pfds);
}

/*
 * A session's thread: open the session (one handshake at a time in the
 * pool), serve it, then tear it down and give back clients that never got
 * a channel.  Returns NULL.
 */
static void *
worker_main(void *arg)
{
	slot	   *s = arg;
	worker		w;
	ssh_result	r;
	char		err[512] = "";
	bool		expected,
				lost_all = false;
	int			live = 0;

	memset(&w, 0, sizeof(w));
	w.slot = s;
	pthread_mutex_lock(&pool.handshake);
	r = ssh_conn_open(pool.cfg, &w.conn, err, sizeof(err));
	pthread_mutex_unlock(&pool.handshake);

	pthread_mutex_lock(&pool.lock);
	if (r != SSH_OK)
	{
		s->fail = r;
		snprintf(s->error, sizeof(s->error), "%s", err);
		if (r == SSH_FAIL_AUTH)
		{
			pool.fatal = true;
			snprintf(pool.fatal_error, sizeof(pool.fatal_error), "%s", err);
		}
		pool.no_spawn_until_ms = ssh_now_ms() + pool.cfg->retry_delay_ms;
		s->state = SLOT_DEAD;
		pthread_cond_broadcast(&pool.changed);
		pthread_mutex_unlock(&pool.lock);
		log_msg(LOG_WARN, "session_failed", "session=%d error=\"%s\"", s->id, err);
		if (r == SSH_FAIL_AUTH && pool.wake_janitor)
			pool.wake_janitor();
		return NULL;
	}
	s->state = SLOT_LIVE;
	s->idle_since_ms = ssh_now_ms();
	stats_add_sessions(1);
	pthread_cond_broadcast(&pool.changed);
	dispatch();
	pthread_mutex_unlock(&pool.lock);
	log_msg(LOG_INFO, "session_open", "session=%d", s->id);

	w.last_keepalive_ms = ssh_now_ms();
	w.heard_ms = ssh_now_ms();
	worker_serve(&w);

	pthread_mutex_lock(&pool.lock);
	s->state = SLOT_CLOSING;
	expected = s->expected;
	pthread_mutex_unlock(&pool.lock);

	/* Clients without a channel yet go back to the queue; others close. */
	for (int i = 0; i < w.npumps; i++)
	{
		pump	   *p = w.pumps[i];

		if (p->channel == NULL && !p->closing && !expected)
		{
			client	   *c = calloc(1, sizeof(*c));

			if (c != NULL)
			{
				c->fd = p->fd;
				c->port = p->client_port;
				snprintf(c->name, sizeof(c->name), "%s", p->client);
				c->since_ms = ssh_now_ms();
				c->deadline_ms = c->since_ms + pool.cfg->client_wait_ms;
				p->fd = -1;
				pthread_mutex_lock(&pool.lock);
				queue_push(c, true);
				c->counted = true;
				stats_add_waiting(1);
				pthread_mutex_unlock(&pool.lock);
			}
		}
		else if (p->channel != NULL && !p->closing)
			stats_add_channels(-1);
		pump_close_step(p, w.conn->session, true);
		pump_free(p);
	}
	free(w.pumps);
	ssh_conn_close(w.conn, expected ? "closing" : "lost", expected ? 1000 : 0);
	stats_add_sessions(-1);
	if (expected)
		log_msg(LOG_INFO, "session_closed", "session=%d", s->id);
	else
		event_emit(LOG_WARN, "disconnected", "session=%d error=\"%s\"", s->id, w.error);

	pthread_mutex_lock(&pool.lock);
	/* Clients assigned after the last inbox check: serve them elsewhere. */
	while (s->inbox != NULL)
	{
		client	   *c = s->inbox;

		s->inbox = c->next;
		if (!c->counted)
		{
			c->counted = true;
			stats_add_waiting(1);
		}
		queue_push(c, true);
	}
	s->load = 0;
	for (int i = 0; i < MAX_SLOTS; i++)
		if (&pool.slots[i] != s &&
			(pool.slots[i].state == SLOT_LIVE || pool.slots[i].state == SLOT_CONNECTING))
			live++;
	if (!expected && live == 0 && !pool.paused && !pool.stopping)
	{
		lost_all = true;
		pool.lost_all = true;
		snprintf(pool.lost_error, sizeof(pool.lost_error), "%s", w.error);
	}
	/* Before DEAD: a spawn from dispatch must not try to join this thread. */
	if (!expected && !lost_all)
		dispatch();
	s->state = SLOT_DEAD;
	pthread_cond_broadcast(&pool.changed);
	pthread_mutex_unlock(&pool.lock);
	if (lost_all && pool.wake_janitor)
		pool.wake_janitor();
	return NULL;
}
