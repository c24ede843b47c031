/*
 * pool.c
 *		The session pool's bookkeeping (pgbouncer's objects.c): the slots and
 *		their lifecycle, which session a client goes to (fill first: the
 *		fullest session with room, avoiding one busy with a channel open;
 *		spread over one session per core once a worker saturated), when a
 *		session is started (on demand or as the one warm spare, one
 *		handshake at a time) or closed (idle extras, shutdown, reconnection),
 *		and the bounded waiting queue with its pool_full refusals.  The
 *		thread driving each session is in worker.c; the two meet through
 *		pool_slot.h.
 *
 *		libssh2 1.10 opens one channel at a time per session, so a client
 *		sent to a session where another client's open is under way waits
 *		for it; connect-per-transaction clients feel that on every
 *		transaction.  dispatch_pick avoids such a session, and when clients
 *		keep coming while every session has an open under way (eight in a
 *		second: a one-off burst fills first as before) one more is opened,
 *		up to one per core, so that opens go side by side (at 4 clients
 *		connecting per transaction: 1.42 times ssh -L's rate against 0.91
 *		on one session, and 1.22 on five: test/bench/tunnel_vs_ssh.sh).
 *
 *		Why spread only after a saturation: fill first costs the least CPU
 *		per transaction (the packets of many channels share each syscall of
 *		the worker and of its sshd process) and opens no session a burst
 *		does not need (each handshake competes with the clients for the
 *		cores: the stalls of the spreading pool of 2026-11).  But one
 *		worker and one sshd process then carry every channel, and once the
 *		worker is the bottleneck the other cores idle.  A worker that finds
 *		itself saturated (worker.c) says so; for SPREAD_MEMORY_MS from then
 *		on, new clients go to the least-loaded of up to one session per
 *		core, opened one handshake at a time.  Clients already served stay
 *		where they are (a channel cannot move); an application pool's next
 *		connections, and its next burst, spread.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "events.h"
#include "log.h"
#include "peer_uid.h"
#include "pool.h"
#include "pool_slot.h"
#include "refuser.h"
#include "stats.h"

#define MAX_SLOTS		CONFIG_POOL_SIZE_MAX	/* the ceiling of SSH_POOL_SIZE */
#define POOL_FULL_REPORT_MS	1000	/* one pool_full event per this, at most */
#define SPREAD_MEMORY_MS	600000	/* spread this long after a saturation */
#define SATURATED_RECENT_MS	2000	/* a session saturated this recently is avoided */
#define BEHIND_OPEN_BURST	8	/* clients a second behind opens: open a session */

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
	int			checked_id;		/* the session that carried the last check */
	int			check_route;	/* the next check's host (-1: the primary) */
	int64_t		refused_at_ms;	/* the last channel open the server refused */
	char		refused_error[256];
	int			lanes;			/* sessions to spread over: the cores */
	int64_t		behind_since_ms;	/* the current second of waits behind opens */
	int			behind;			/* clients sent behind an open in it */
	int64_t		spread_until_ms;	/* spread new clients until then (0: fill first) */
}			pool = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.changed = PTHREAD_COND_INITIALIZER,
	.handshake = PTHREAD_MUTEX_INITIALIZER,
};

/*
 * Refused clients, aggregated: a storm of refusals becomes one pool_full
 * event per POOL_FULL_REPORT_MS with the count and the longest wait, not
 * one event (and one spool write) per client.  Its own lock: refusals are
 * counted with the pool's lock held or not.
 */
static struct
{
	pthread_mutex_t lock;
	int64_t		count;
	int64_t		too_many;		/* refused at once: TUNNEL_MAX_WAITING reached */
	int64_t		timed_out;		/* refused after TUNNEL_CLIENT_WAIT */
	int64_t		longest_ms;
	char		last_client[64];
	int64_t		reported_ms;
}			refusals = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/*
 * The configuration's generation: bumped by each reload, so that a worker
 * copies the settings only when they changed (see pool_config).
 */
static atomic_uint cfg_generation = 1;

/* Set by pool_drain, read by every worker (pool_draining). */
static atomic_bool draining;

/* Returns the configured pool size, capped to the slot table. */
static int
pool_limit(void)
{
	int			n = pool.cfg->pool_size;

	return n < 1 ? 1 : (n > MAX_SLOTS ? MAX_SLOTS : n);
}

/*
 * Returns the clients' share of s's load: the health check's channel is
 * above SSH_CHANNELS_PER_SESSION, never in the clients' way.  Lock held.
 */
static int
slot_clients(const slot *s)
{
	return s->load - s->reserved;
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
	atomic_store(&draining, false);
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
	pool.check_route = -1;
	pool.lanes = (int) sysconf(_SC_NPROCESSORS_ONLN);
	if (pool.lanes < 1)
		pool.lanes = 1;
	pool.spread_until_ms = 0;
	pthread_mutex_unlock(&pool.lock);
	return 0;
}

/*
 * Gives c its database host (cluster.h) unless it has one.  Returns false
 * while no host qualifies: the client keeps waiting.  Lock held.
 */
static bool
client_route(client *c)
{
	if (c->route < 0)
		c->route = cluster_pick(c->standby, &c->as_primary, &c->epoch);
	return c->route >= 0;
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
		log_msg(LOG_ERROR, "eventfd_failed", "error=\"%s\"", strerror(errno));
		s->state = SLOT_EMPTY;
		return NULL;
	}
	rc = pthread_create(&s->thread, NULL, worker_main, s);
	if (rc != 0)
	{
		log_msg(LOG_ERROR, "pthread_create_failed", "error=\"%s\"", strerror(rc));
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

/*
 * Local users take turns for room (helper/peer_uid.c): the next channel
 * goes to the waiting client whose user was served least recently, and a
 * full queue makes room by refusing the newest client of the user with
 * the most waiting.  So one user who floods the port waits behind every
 * other user's client, not ahead of it.  A small table of users, the one
 * served longest ago replaced.  Lock held.
 */
#define UID_TURNS 32
static struct
{
	long		uid;
	uint64_t	served;			/* turn_clock at its last channel; 0: free */
}			turns[UID_TURNS];
static uint64_t turn_clock;

/* Returns when uid was last given a channel (0: not lately).  Lock held. */
static uint64_t
uid_last_served(long uid)
{
	for (int i = 0; i < UID_TURNS; i++)
		if (turns[i].served != 0 && turns[i].uid == uid)
			return turns[i].served;
	return 0;
}

/* Records that uid was given a channel now.  Lock held. */
static void
uid_note_served(long uid)
{
	int			oldest = 0;

	for (int i = 0; i < UID_TURNS; i++)
	{
		if (turns[i].served != 0 && turns[i].uid == uid)
		{
			oldest = i;
			break;
		}
		if (turns[i].served < turns[oldest].served)
			oldest = i;
	}
	turns[oldest].uid = uid;
	turns[oldest].served = ++turn_clock;
}

/* Unlinks waiting client v from the queue.  Lock held. */
static void
queue_remove(client *v)
{
	client	  **pp = &pool.wait_head;

	while (*pp != NULL && *pp != v)
		pp = &(*pp)->next;
	if (*pp == NULL)
		return;
	*pp = v->next;
	pool.waiting--;
	if (pool.wait_tail == v)
	{
		pool.wait_tail = NULL;
		for (client *w = pool.wait_head; w != NULL; w = w->next)
			pool.wait_tail = w;
	}
	v->next = NULL;
}

/*
 * Returns the waiting client whose user was served least recently (the
 * first such in the queue), or NULL; queue_take_fair takes it.  Lock held.
 */
static client *
queue_peek_fair(void)
{
	client	   *best = NULL;
	uint64_t	best_served = 0;

	for (client *w = pool.wait_head; w != NULL; w = w->next)
	{
		uint64_t	served = uid_last_served(w->uid);

		if (best == NULL || served < best_served)
		{
			best = w;
			best_served = served;
			if (served == 0)
				break;			/* nobody comes before a user not served lately */
		}
	}
	return best;
}

/* Removes waiting client c, now served, from the queue.  Lock held. */
static void
queue_take_fair(client *c)
{
	queue_remove(c);
	uid_note_served(c->uid);
}

/*
 * Returns the client to refuse when c's arrival overfills the queue: the
 * newest waiting client of the user with the most waiting, when that user
 * has more waiting than c's own (c included), else c.  Lock held.
 */
static client *
queue_crowded_victim(client *c)
{
	long		uids[UID_TURNS];
	int			counts[UID_TURNS];
	int			nu = 0,
				heavy = -1,
				mine = 0;
	client	   *victim = c;

	for (client *w = pool.wait_head; w != NULL; w = w->next)
	{
		int			j = 0;

		while (j < nu && uids[j] != w->uid)
			j++;
		if (j == nu)
		{
			if (nu == UID_TURNS)
				continue;		/* beyond the table: not counted */
			uids[nu] = w->uid;
			counts[nu++] = 0;
		}
		counts[j]++;
	}
	for (int j = 0; j < nu; j++)
	{
		if (uids[j] == c->uid)
			mine = counts[j];
		if (heavy < 0 || counts[j] > counts[heavy])
			heavy = j;
	}
	if (heavy < 0 || uids[heavy] == c->uid || counts[heavy] <= mine)
		return c;
	for (client *w = pool.wait_head; w != NULL; w = w->next)
		if (w->uid == uids[heavy] && !w->reserved)
			victim = w;
	return victim;
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

/* Returns SSH_CHANNELS_PER_SESSION, at least 1.  Lock held. */
static int
pool_cps(void)
{
	return pool.cfg->channels_per_session < 1 ? 1 : pool.cfg->channels_per_session;
}

/* True when s may be given clients: live, not closing.  Lock held. */
static bool
slot_usable(const slot *s)
{
	return s->state == SLOT_LIVE && !s->close_requested;
}

/* True when s is usable and carries no client (the health check aside).  Lock held. */
static bool
slot_idle(const slot *s)
{
	return slot_usable(s) && slot_clients(s) == 0 && s->inbox == NULL;
}

/*
 * True when the pool should hold one spare session, warm and idle, for
 * the next clients: the sessions that carry clients have no more than a
 * quarter of SSH_CHANNELS_PER_SESSION left between them.  A
 * burst then finds a session ready instead of waiting for a handshake.
 * Lock held.
 */
static bool
spare_wanted(void)
{
	int			cps = pool_cps();
	int			room = 0,
				busy = 0;

	for (int i = 0; i < MAX_SLOTS; i++)
	{
		const slot *s = &pool.slots[i];

		if (!slot_usable(s) || slot_idle(s))
			continue;
		busy++;
		if (slot_clients(s) < cps)
			room += cps - slot_clients(s);
	}
	return busy > 0 && room <= cps / 4;
}

/* True while new clients spread (a worker saturated lately).  Lock held. */
static bool
spreading(void)
{
	return pool.spread_until_ms != 0 && clock_now_ms() < pool.spread_until_ms;
}

/* True when s's worker was saturated within SATURATED_RECENT_MS.  Lock held. */
static bool
slot_hot(const slot *s, int64_t now)
{
	return s->saturated_ms != 0 && now - s->saturated_ms < SATURATED_RECENT_MS;
}

/*
 * True when a is a better session than b for the next client.  First one
 * where no channel open is under way (libssh2 1.10 opens one channel at a
 * time per session: a client sent to a session busy opening waits behind
 * that open, which connect-per-transaction clients feel on every
 * transaction).  Then, filling first, the one carrying the most clients
 * (so sessions fill up to SSH_CHANNELS_PER_SESSION one after the other and
 * the others stay idle or spare); spreading, one whose worker is not
 * saturated now, then the one carrying the fewest.  Then the oldest.
 * Lock held.
 */
static bool
slot_better(const slot *a, const slot *b, bool spread, int64_t now)
{
	if ((a->opening == 0) != (b->opening == 0))
		return a->opening == 0;
	if (spread && slot_hot(a, now) != slot_hot(b, now))
		return !slot_hot(a, now);
	if (slot_clients(a) != slot_clients(b))
		return spread ? slot_clients(a) < slot_clients(b) : slot_clients(a) > slot_clients(b);
	return a->id < b->id;
}

/*
 * Returns the session for the next client, or NULL when none has room:
 * the best (slot_better) of the usable sessions with room, filling first
 * or, while spreading, spreading.  Lock held.
 */
static slot *
dispatch_pick(void)
{
	int			cps = pool_cps();
	bool		spread = spreading();
	int64_t		now = clock_now_ms();
	slot	   *best = NULL;

	for (int i = 0; i < MAX_SLOTS; i++)
	{
		slot	   *s = &pool.slots[i];

		if (!slot_usable(s) || slot_clients(s) >= cps)
			continue;
		if (best == NULL || slot_better(s, best, spread, now))
			best = s;
	}
	return best;
}

/*
 * Counts a client sent to a session with another client's open under way
 * (every session had one).  Returns true once BEHIND_OPEN_BURST such
 * clients came within a second: clients keep connecting, and their opens
 * should go side by side (a one-off burst does not count).  Lock held.
 */
static bool
behind_open_note(void)
{
	int64_t		now = clock_now_ms();

	if (now - pool.behind_since_ms >= 1000)
	{
		pool.behind_since_ms = now;
		pool.behind = 0;
	}
	return ++pool.behind >= BEHIND_OPEN_BURST;
}

/*
 * Gives waiting clients to sessions (dispatch_pick: fill first), and
 * starts one more session (never two handshakes at once) when clients
 * still wait or a spare is wanted and none is idle or connecting.  Lock
 * held.
 */
static void
dispatch(void)
{
	bool		want_session = false;
	bool		behind_open = false;
	int			live = 0,
				connecting = 0,
				idle = 0;

	while (pool.wait_head != NULL)
	{
		slot	   *best = dispatch_pick();
		client	   *c;

		if (best == NULL)
			break;
		/* dispatch_pick avoids opens under way: here every session has one */
		if (best->opening > 0)
			behind_open = behind_open_note();
		c = queue_peek_fair();
		if (!client_route(c))
			return;				/* no primary known: clients wait for one */
		queue_take_fair(c);
		if (c->counted)
			stats_add_waiting(-1);
		c->next = best->inbox;
		best->inbox = c;
		best->load++;
		best->opening++;
		slot_wake(best);
	}
	for (int i = 0; i < MAX_SLOTS; i++)
	{
		if (pool.slots[i].state == SLOT_LIVE)
			live++;
		else if (pool.slots[i].state == SLOT_CONNECTING)
			connecting++;
		if (slot_idle(&pool.slots[i]))
			idle++;
	}
	if (pool.wait_head != NULL)
		want_session = true;
	else if (idle == 0 && spare_wanted())
		want_session = true;	/* the spare, ahead of need */
	else if (spreading() && live < pool.lanes)
		want_session = true;	/* one session per core to spread over */
	else if (behind_open && live < pool.lanes)
		want_session = true;	/* opens side by side, one per session */
	if (!want_session || pool.paused || pool.stopping ||
		clock_now_ms() < pool.no_spawn_until_ms)
		return;
	if (connecting == 0 && live > 0 && live < pool_limit())
		slot_spawn();
}

/* Hands c to the refuser, which tells it why (refuser.h).  Lock not held. */
static void
tell_refused(client *c, refusal_cause cause, int64_t waited)
{
	refusal_figures fig;

	pthread_mutex_lock(&pool.lock);
	fig.pool_size = pool.cfg->pool_size;
	fig.channels_per_session = pool.cfg->channels_per_session;
	fig.max_waiting = pool.cfg->max_waiting_clients;
	fig.client_wait_ms = pool.cfg->client_wait_ms;
	fig.max_retries = pool.cfg->max_retries;
	pthread_mutex_unlock(&pool.lock);
	refuser_tell(c->fd, c->name, cause, waited, &fig);
}

/*
 * Refuses a client that will not be served (told why, then closed) and
 * counts it for the next aggregated pool_full event
 * (pool_report_refusals).  Lock not held.
 */
static void
refuse(client *c, const char *why)
{
	int64_t		waited = clock_now_ms() - c->since_ms;

	pthread_mutex_lock(&refusals.lock);
	refusals.count++;
	if (strcmp(why, "too_many_waiting") == 0)
		refusals.too_many++;
	else
		refusals.timed_out++;
	if (waited > refusals.longest_ms)
		refusals.longest_ms = waited;
	snprintf(refusals.last_client, sizeof(refusals.last_client), "%s", c->name);
	pthread_mutex_unlock(&refusals.lock);
	log_msg(LOG_DEBUG, "client_refused", "client=%s waited_ms=%" PRId64 " reason=%s",
			c->name, waited, why);
	tell_refused(c, strcmp(why, "too_many_waiting") == 0 ?
				 REFUSE_TOO_MANY_WAITING : REFUSE_WAIT_TIMEOUT, waited);
	free(c);
}

/*
 * Emits one pool_full event for the clients refused since the last one,
 * when POOL_FULL_REPORT_MS has passed since then (or force).  Called with
 * no lock held: the event is written to the spool.
 */
void
pool_report_refusals(bool force)
{
	int64_t		now = clock_now_ms();
	int64_t		count,
				too_many,
				timed_out,
				longest;
	char		last[64];

	pthread_mutex_lock(&refusals.lock);
	if (refusals.count == 0 || (!force && now - refusals.reported_ms < POOL_FULL_REPORT_MS))
	{
		pthread_mutex_unlock(&refusals.lock);
		return;
	}
	count = refusals.count;
	too_many = refusals.too_many;
	timed_out = refusals.timed_out;
	longest = refusals.longest_ms;
	snprintf(last, sizeof(last), "%s", refusals.last_client);
	refusals.count = refusals.too_many = refusals.timed_out = refusals.longest_ms = 0;
	refusals.reported_ms = now;
	pthread_mutex_unlock(&refusals.lock);
	event_emit(EV_POOL_FULL,
			   "refused=%" PRId64 " longest_wait_ms=%" PRId64 " waited_ms=%" PRId64
			   " too_many_waiting=%" PRId64 " wait_timeout=%" PRId64 " last_client=%s",
			   count, longest, longest, too_many, timed_out, last);
}

/*
 * Returns a new client record for fd (its wait starts now; the deadline
 * is set under the lock), or NULL when out of memory (logged).
 */
static client *
client_new(int fd, const char *name, int port)
{
	client	   *c = calloc(1, sizeof(*c));

	if (c == NULL)
	{
		log_msg(LOG_ERROR, "out_of_memory", "client=%s", name);
		return NULL;
	}
	c->fd = fd;
	c->port = port;
	c->uid = -1;
	c->route = -1;
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->since_ms = clock_now_ms();
	return c;
}

/* Takes a new client from the listener: dispatch it or let it wait. */
void
pool_submit(int fd, const char *name, int port)
{
	pool_submit_to(fd, name, port, false);
}

/* Takes a new client of the primary's or the standby listener. */
void
pool_submit_to(int fd, const char *name, int port, bool standby)
{
	client	   *c = client_new(fd, name, port);
	client	   *evicted = NULL;

	if (c == NULL)
	{
		close(fd);
		return;
	}
	c->uid = peer_uid(fd);
	c->standby = standby;
	pthread_mutex_lock(&pool.lock);
	c->deadline_ms = c->since_ms + pool.cfg->client_wait_ms;
	if (pool.stopping)
	{
		pthread_mutex_unlock(&pool.lock);
		tell_refused(c, REFUSE_STOPPING, 0);
		free(c);
		return;
	}
	queue_push(c, false);
	dispatch();
	/* Still queued: no room now.  It waits, unless TUNNEL_MAX_WAITING already do. */
	for (client **pp = &pool.wait_head; *pp != NULL; pp = &(*pp)->next)
	{
		if (*pp != c)
			continue;
		if (pool.waiting > pool.cfg->max_waiting_clients)
		{
			/* c, or the newest of a user who has more waiting (0: none wait). */
			client	   *victim = pool.cfg->max_waiting_clients > 0 ? queue_crowded_victim(c) : c;

			queue_remove(victim);
			if (victim->counted)
				stats_add_waiting(-1);
			if (victim == c)
			{
				pthread_mutex_unlock(&pool.lock);
				refuse(c, "too_many_waiting");
				return;
			}
			evicted = victim;	/* refused below: refuse takes the lock */
		}
		c->counted = true;		/* counted once, as pgbouncer's cl_waiting */
		stats_add_waiting(1);
		log_msg(LOG_DEBUG, "client_waiting", "client=%s uid=%ld waiting=%d", name, c->uid,
				pool.waiting);
		break;
	}
	pthread_mutex_unlock(&pool.lock);
	if (evicted != NULL)
		refuse(evicted, "too_many_waiting");
}

/*
 * Takes the health check's connection (health_room.c): it never waits in
 * the queue and never counts against SSH_CHANNELS_PER_SESSION; it goes to
 * the least-loaded live session, which may carry one channel above the
 * limit until that channel ends (slot.reserved keeps it out of the
 * clients' share even after the check, until the worker releases it: a
 * client arriving in between is never refused for the check's sake).
 * With no live session it is closed at once (the check then fails: there
 * is no path).
 */
void
pool_submit_reserved(int fd, const char *name, int port)
{
	pool_submit_reserved_to(fd, name, port, -1, 0);
}

/*
 * The next health check connection goes to host route (the prober's SQL
 * probe of one host), not to the primary.  Consumed by that connection.
 */
void
pool_set_check_route(int route)
{
	pthread_mutex_lock(&pool.lock);
	pool.check_route = route;
	pthread_mutex_unlock(&pool.lock);
}

/*
 * pool_submit_reserved to host route (-1: the next check's route, else
 * the primary) on route_port (0: its PostgreSQL port): the prober's
 * probes.  Closed at once when there is no such host or no session.
 */
void
pool_submit_reserved_to(int fd, const char *name, int port, int route, int route_port)
{
	client	   *c = client_new(fd, name, port);
	slot	   *best = NULL;
	int			session = 0;

	if (c == NULL)
	{
		close(fd);
		return;
	}
	pthread_mutex_lock(&pool.lock);
	if (route < 0)
	{
		route = pool.check_route;
		pool.check_route = -1;
	}
	c->route = route;
	c->route_port = route_port;
	if (route < 0 && !client_route(c))
		log_msg(LOG_DEBUG, "health_room_no_primary", "client=%s", name);
	for (int i = 0; i < MAX_SLOTS && !pool.stopping && c->route >= 0; i++)
	{
		slot	   *s = &pool.slots[i];

		if (s->state == SLOT_LIVE && !s->close_requested &&
			(best == NULL || s->load < best->load))
			best = s;
	}
	if (best != NULL)
	{
		c->next = best->inbox;
		best->inbox = c;
		c->reserved = true;
		best->load++;
		best->reserved++;
		best->opening++;
		session = best->id;
		pool.checked_id = best->id;
		slot_wake(best);
	}
	pthread_mutex_unlock(&pool.lock);
	if (best == NULL)
	{
		log_msg(LOG_DEBUG, "health_room_no_session", "client=%s", name);
		close(fd);
		free(c);
		return;
	}
	log_msg(LOG_DEBUG, "health_check_channel", "client=%s session=%d", name, session);
}

/*
 * The routing changed (cluster_apply): waiting clients may have a host
 * now, and every worker looks for clients left on a demoted primary.
 */
void
pool_routes_changed(void)
{
	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < MAX_SLOTS; i++)
		if (pool.slots[i].state == SLOT_LIVE)
			slot_wake(&pool.slots[i]);
	dispatch();
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
	int64_t		now = clock_now_ms();
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
	pool_report_refusals(false);
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

/*
 * Closes idle extra sessions, joins finished workers, serves waiters.  The
 * oldest live session (lowest number) is the first one and is never
 * reaped: slots are reused, so slot order says nothing about age.
 */
void
pool_tick(void)
{
	int64_t		now = clock_now_ms();
	slot	   *first = NULL;
	bool		keep_spare;
	int			usable;

	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < MAX_SLOTS; i++)
	{
		slot	   *s = &pool.slots[i];

		slot_collect(s);
		if (s->state == SLOT_LIVE && !s->close_requested &&
			(first == NULL || s->id < first->id))
			first = s;
	}
	/* One idle session stays as the spare while one is wanted (the first counts). */
	keep_spare = spare_wanted() && first != NULL && slot_idle(first);
	/* While spreading, the sessions up to one per core stay. */
	usable = 0;
	for (int i = 0; i < MAX_SLOTS; i++)
		usable += slot_usable(&pool.slots[i]);
	for (int i = 0; i < MAX_SLOTS && first != NULL && !(spreading() && usable <= pool.lanes); i++)
	{
		slot	   *s = &pool.slots[i];

		if (s != first && s->state == SLOT_LIVE && !s->close_requested && s->load == 0 &&
			s->inbox == NULL && now - s->idle_since_ms >= pool.cfg->idle_session_ms)
		{
			if (!keep_spare && spare_wanted())
			{
				keep_spare = true;	/* this one is the spare */
				continue;
			}
			s->close_requested = true;
			s->expected = true;
			log_msg(LOG_INFO, "session_idle_close", "session=%d idle_ms=%" PRId64,
					s->id, now - s->idle_since_ms);
			slot_wake(s);
		}
	}
	dispatch();
	pthread_mutex_unlock(&pool.lock);
}

/*
 * Returns *flag and clears it, copying msg to err when it was set: the
 * janitor's way of taking a condition the workers raised.
 */
static bool
take_flag(bool *flag, const char *msg, char *err, size_t errlen)
{
	bool		r;

	pthread_mutex_lock(&pool.lock);
	r = *flag;
	if (r)
		snprintf(err, errlen, "%s", msg);
	*flag = false;
	pthread_mutex_unlock(&pool.lock);
	return r;
}

/* Returns true (once) when every session was lost; the reason goes to err. */
bool
pool_take_lost_all(char *err, size_t errlen)
{
	return take_flag(&pool.lost_all, pool.lost_error, err, errlen);
}

/* Returns true (once) when a session was refused for auth or host key. */
bool
pool_take_fatal(char *err, size_t errlen)
{
	return take_flag(&pool.fatal, pool.fatal_error, err, errlen);
}

/*
 * Asks the session that carried the last health check to close (the check
 * got no answer through it: evidence against that session alone).
 * Returns its number, or 0 when it is gone already or there was none.
 */
int
pool_close_checked_session(void)
{
	int			id = 0;

	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < MAX_SLOTS && pool.checked_id > 0; i++)
	{
		slot	   *s = &pool.slots[i];

		if (s->id == pool.checked_id && s->state == SLOT_LIVE && !s->close_requested)
		{
			s->close_requested = true;
			s->expected = true;
			id = s->id;
			slot_wake(s);
		}
	}
	pool.checked_id = 0;
	pthread_mutex_unlock(&pool.lock);
	return id;
}

/*
 * The drain began (the first SIGTERM): every worker is woken to let go of
 * the clients that already finished sending (pool_draining).
 */
void
pool_drain(void)
{
	atomic_store(&draining, true);
	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < MAX_SLOTS; i++)
		if (pool.slots[i].state == SLOT_LIVE)
			slot_wake(&pool.slots[i]);
	pthread_mutex_unlock(&pool.lock);
}

/* Returns true once pool_drain was called. */
bool
pool_draining(void)
{
	return atomic_load(&draining);
}

/*
 * Returns the clients the pool holds: those given a session (their
 * channel opening or open; the health check's aside) and those waiting.
 * A drain at stop waits for this to reach 0.
 */
int
pool_clients_held(void)
{
	int			n;

	pthread_mutex_lock(&pool.lock);
	n = pool.waiting;
	for (int i = 0; i < MAX_SLOTS; i++)
		if (pool.slots[i].state != SLOT_EMPTY)
			n += slot_clients(&pool.slots[i]);
	pthread_mutex_unlock(&pool.lock);
	return n;
}

/* Returns the number of live sessions (not asked to close). */
int
pool_live_sessions(void)
{
	int			live = 0;

	pthread_mutex_lock(&pool.lock);
	for (int i = 0; i < MAX_SLOTS; i++)
		if (pool.slots[i].state == SLOT_LIVE && !pool.slots[i].close_requested)
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
	{
		stats_set_pool_size(pool.cfg->pool_size);
		atomic_fetch_add(&cfg_generation, 1);
	}
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
			st.channels_total, st.waits_total, stats_refused_total(&st),
			st.bytes_in, st.bytes_out, st.reconnects);
}

/* Closes every session and waiting client and joins the workers. */
void
pool_shutdown(void)
{
	client	   *c,
			   *told = NULL;

	pthread_mutex_lock(&pool.lock);
	pool.stopping = true;
	while ((c = queue_pop()) != NULL)
	{
		if (c->counted)
			stats_add_waiting(-1);
		c->next = told;
		told = c;
	}
	pthread_mutex_unlock(&pool.lock);
	/* Told why: "max retries exceeded" after giving up, else shutting down. */
	while ((c = told) != NULL)
	{
		told = c->next;
		tell_refused(c, REFUSE_STOPPING, clock_now_ms() - c->since_ms);
		free(c);
	}
	pool_report_refusals(true);
	pool_close_all();
}


/* ---------------------------------------------------------------- for the workers */

/*
 * Returns the calling thread's copy of the configuration, taken under the
 * pool's lock and refreshed only when a reload changed it: SIGHUP rewrites
 * the shared settings under that lock, and a worker must never read them
 * half-written.  The copy stays valid until this thread's next call.  Not
 * to be called with the pool's lock held.
 */
const tunnel_config *
pool_config(void)
{
	static __thread tunnel_config copy;
	static __thread unsigned int seen;
	unsigned int gen = atomic_load(&cfg_generation);

	if (gen != seen)
	{
		pthread_mutex_lock(&pool.lock);
		copy = *pool.cfg;
		pthread_mutex_unlock(&pool.lock);
		seen = gen;
	}
	return &copy;
}

/*
 * Returns ssh_conn_open's result; one handshake at a time in the pool (the
 * name lookup and the key read happen before the lock is taken).
 */
ssh_result
pool_handshake(ssh_conn **conn, char *err, size_t errlen)
{
	int64_t		t0 = clock_now_us();
	ssh_result	r = ssh_conn_open_locked(pool_config(), &pool.handshake, conn, err, errlen);

	stats_observe(LATENCY_HANDSHAKE, clock_now_us() - t0, r != SSH_OK);
	return r;
}

/* Marks s live (counted, logged) and gives it waiting clients. */
void
pool_slot_live(slot *s)
{
	pthread_mutex_lock(&pool.lock);
	s->state = SLOT_LIVE;
	s->idle_since_ms = clock_now_ms();
	stats_add_sessions(1);
	pthread_cond_broadcast(&pool.changed);
	dispatch();
	pthread_mutex_unlock(&pool.lock);
	log_msg(LOG_INFO, "session_open", "session=%d", s->id);
}

/*
 * Records a failed session open; no session is started on demand for
 * SSH_RETRY_DELAY.  Wakes the janitor for an auth or host key refusal.
 */
void
pool_slot_failed(slot *s, ssh_result r, const char *err)
{
	pthread_mutex_lock(&pool.lock);
	s->fail = r;
	snprintf(s->error, sizeof(s->error), "%s", err);
	if (r == SSH_FAIL_AUTH)
	{
		pool.fatal = true;
		snprintf(pool.fatal_error, sizeof(pool.fatal_error), "%s", err);
	}
	pool.no_spawn_until_ms = clock_now_ms() + pool.cfg->retry_delay_ms;
	s->state = SLOT_DEAD;
	pthread_cond_broadcast(&pool.changed);
	pthread_mutex_unlock(&pool.lock);
	log_msg(LOG_WARN, "session_failed", "session=%d error=\"%s\"", s->id, err);
	if (r == SSH_FAIL_AUTH && pool.wake_janitor)
		pool.wake_janitor();
}

/* Returns s's assigned clients, oldest first; *keep false when closing. */
client *
pool_slot_take_inbox(slot *s, bool *keep)
{
	client	   *list,
			   *rev = NULL;

	pthread_mutex_lock(&pool.lock);
	list = s->inbox;
	s->inbox = NULL;
	*keep = !s->close_requested;
	pthread_mutex_unlock(&pool.lock);
	/* The inbox is a stack; serve the oldest first. */
	while (list != NULL)
	{
		client	   *next = list->next;

		list->next = rev;
		rev = list;
		list = next;
	}
	return rev;
}

/* Frees one unit of s's load (idle from now when none is left). */
void
pool_slot_release(slot *s, bool reserved, bool opening)
{
	pthread_mutex_lock(&pool.lock);
	s->load--;
	if (reserved && s->reserved > 0)
		s->reserved--;
	if (opening && s->opening > 0)
		s->opening--;
	if (s->load == 0)
		s->idle_since_ms = clock_now_ms();
	/*
	 * A worker whose clients have all left is not saturated now: the next
	 * clients may go to it at once (its worker reports from its own thread,
	 * before the drops that follow, and never with fewer than two channels).
	 */
	if (slot_clients(s) == 0)
		s->saturated_ms = 0;
	dispatch();
	pthread_mutex_unlock(&pool.lock);
}

/* Counts one channel open on s as through. */
void
pool_slot_opened(slot *s)
{
	pthread_mutex_lock(&pool.lock);
	if (s->opening > 0)
		s->opening--;
	pthread_mutex_unlock(&pool.lock);
}

/*
 * s's worker was saturated (worker.c): new clients spread for
 * SPREAD_MEMORY_MS, and a session for each core is opened, one handshake
 * at a time.  Logs msg=pool_spread when spreading starts.
 */
void
pool_slot_saturated(slot *s, int busy_pct, int channels)
{
	int64_t		now = clock_now_ms();
	bool		started;

	pthread_mutex_lock(&pool.lock);
	started = !spreading();
	s->saturated_ms = now;
	pool.spread_until_ms = now + SPREAD_MEMORY_MS;
	dispatch();
	pthread_mutex_unlock(&pool.lock);
	if (started)
		log_msg(LOG_INFO, "pool_spread", "session=%d busy_pct=%d channels=%d lanes=%d",
				s->id, busy_pct, channels, pool.lanes);
}

/* Returns true when s's close was asked for; s is closing from now. */
bool
pool_slot_closing(slot *s)
{
	bool		expected;

	pthread_mutex_lock(&pool.lock);
	s->state = SLOT_CLOSING;
	expected = s->expected;
	pthread_mutex_unlock(&pool.lock);
	return expected;
}

/* Returns true once fd waits again at the head of the queue. */
bool
pool_requeue(int fd, const char *name, int port)
{
	client	   *c = client_new(fd, name, port);

	if (c == NULL)
		return false;
	pthread_mutex_lock(&pool.lock);
	c->deadline_ms = c->since_ms + pool.cfg->client_wait_ms;
	queue_push(c, true);
	c->counted = true;
	stats_add_waiting(1);
	pthread_mutex_unlock(&pool.lock);
	return true;
}

/*
 * Requeues s's late clients, flags the loss of the last session (error
 * not NULL: the session was lost, not closed on request) and leaves s for
 * collection.  Wakes the janitor when every session is gone.
 */
void
pool_slot_finished(slot *s, const char *error)
{
	bool		lost_all = false;
	int			live = 0;

	pthread_mutex_lock(&pool.lock);
	/* Clients assigned after the last inbox check: serve them elsewhere. */
	while (s->inbox != NULL)
	{
		client	   *c = s->inbox;

		s->inbox = c->next;
		c->reserved = false;	/* a check waits like a client from here */
		if (c->as_primary)
			c->route = -1;		/* the primary may be another by its turn */
		if (!c->counted)
		{
			c->counted = true;
			stats_add_waiting(1);
		}
		queue_push(c, true);
	}
	s->load = 0;
	s->reserved = 0;
	s->opening = 0;
	for (int i = 0; i < MAX_SLOTS; i++)
		if (&pool.slots[i] != s &&
			(pool.slots[i].state == SLOT_LIVE || pool.slots[i].state == SLOT_CONNECTING))
			live++;
	if (error != NULL && live == 0 && !pool.paused && !pool.stopping)
	{
		lost_all = true;
		pool.lost_all = true;
		snprintf(pool.lost_error, sizeof(pool.lost_error), "%s", error);
	}
	/* Before DEAD: a spawn from dispatch must not try to join this thread. */
	if (error != NULL && !lost_all)
		dispatch();
	s->state = SLOT_DEAD;
	pthread_cond_broadcast(&pool.changed);
	pthread_mutex_unlock(&pool.lock);
	if (lost_all && pool.wake_janitor)
		pool.wake_janitor();
}

/* Records that the server refused a channel open on s, and why. */
void
pool_note_channel_refused(slot *s, const char *error)
{
	pthread_mutex_lock(&pool.lock);
	pool.refused_at_ms = clock_now_ms();
	snprintf(pool.refused_error, sizeof(pool.refused_error), "%s", error);
	pthread_mutex_unlock(&pool.lock);
}

/* Returns true, with the server's reason, when a channel open was refused at or after since_ms. */
bool
pool_channel_refused_since(int64_t since_ms, char *err, size_t errlen)
{
	bool		r;

	pthread_mutex_lock(&pool.lock);
	r = pool.refused_at_ms >= since_ms && pool.refused_at_ms > 0;
	if (r)
		snprintf(err, errlen, "%s", pool.refused_error);
	pthread_mutex_unlock(&pool.lock);
	return r;
}
