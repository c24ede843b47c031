/*
 * worker.c
 *		One SSH session's thread and its per-session state: the worker opens
 *		its session (one handshake at a time in the pool), takes the clients
 *		the pool assigns it, drives their channels with poll(2) in the
 *		directions libssh2 needs, judges the server's liveness (keepalives,
 *		silence, rekey stall), and on the way out gives back clients that
 *		never got a channel.  The libssh2 session never leaves this thread;
 *		the pool (pool.c) is reached only through pool_slot.h.
 *
 *		The worker owns the session's socket (sshio.c): one loop pass steps
 *		every channel (libssh2 only copies to and from buffers), then sends
 *		all their packets with one send(2), then polls; a wake-up on the SSH
 *		socket is one recv(2) of everything waiting.  A channel is stepped
 *		only when poll or sshio says there is something for it (see
 *		pump_should_step), which is what the syscall profile asked for.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "events.h"
#include "log.h"
#include "pool_slot.h"
#include "prober.h"
#include "pump.h"
#include "refuser.h"
#include "sshio.h"
#include "stats.h"

#define STALL_MS		5000	/* rekey-stall guard */

/*
 * Saturation: over each BUSY_WINDOW_US the worker takes its thread's CPU
 * demand, the time it ran plus the time it waited in the run queue for a
 * core (/proc/thread-self/schedstat; without it, the time it ran).  Two
 * windows in a row at BUSY_SATURATED_PCT or more, with at least two
 * channels open, and the pool is told (pool_slot_saturated): the session
 * cannot take more clients without slowing those it has.  The run queue's
 * share counts because on a busy machine a worker that wants a whole core
 * gets less of one, and is the bottleneck all the same.
 */
#define BUSY_WINDOW_US		250000
#define BUSY_SATURATED_PCT	80
#define BUSY_WINDOWS		2

/*
 * The stall log: any pass of the loop (from poll's return to the next
 * poll) and any wait of a client between its arrival and its worker that
 * takes longer than STALL_LOG_MS is logged as msg=stall with where=
 * naming the part that took the time, so that a slow transaction can be
 * traced to its cause.  At most STALL_LOG_BURST lines a second per
 * session; the lines left out are counted in the next.
 *
 * A handshake (a session's, with the wait for the ones before it, or an
 * idle session's replacement) is a stall only when it is slow for its
 * path: over STALL_HANDSHAKE_FACTOR times the usual handshake, or over
 * STALL_LOG_WARN_MS.  The usual one is a moving average of the pool's
 * handshakes before it (the first has none: only the second bound holds),
 * so a 60 ms key exchange on every start is not reported as a fault.
 */
#define STALL_LOG_MS	50
#define STALL_LOG_WARN_MS 1000
#define STALL_LOG_BURST	10
#define STALL_HANDSHAKE_FACTOR 10

/* The pool's usual handshake in ms (0: none yet); see handshake_stalled. */
static _Atomic int64_t usual_handshake_ms;

/* The parts of a pass, as where= names them. */
typedef enum stall_part
{
	PART_INBOX,					/* taking the assigned clients (the pool's lock) */
	PART_OPEN,					/* a channel open (libssh2's open state) */
	PART_FORWARD,				/* channel reads and writes inside libssh2 */
	PART_CLOSE,					/* a channel close */
	PART_WRITE,					/* send(2) on the SSH socket */
	PART_READ,					/* recv(2) on the SSH socket */
	PART_KEEPALIVE,				/* liveness and a keepalive probe */
	PART_RECYCLE,				/* an idle session replaced (a handshake) */
	PART_WAKE,					/* poll slept past its timeout: not scheduled */
	PART_COUNT
} stall_part;

static const char *const part_names[PART_COUNT] = {
	"inbox", "open", "forward", "close", "write", "read", "keepalive", "recycle", "wake"
};

/*
 * Keepalive probes an idle session may send before it is recycled.
 * libssh2 1.10 keeps every SSH_MSG_REQUEST_FAILURE answer to a
 * want_reply keepalive in the session's packet list and never frees it
 * (libssh2 issue #623); every channel read walks that list.  An idle
 * session is the only one that probes, so it is replaced once it has
 * sent this many (at the default 15 s interval, about four hours).
 * CHATGENIUS_KEEPALIVE_RECYCLE overrides it (tests); read once, here.
 */
#define KEEPALIVE_RECYCLE_DEFAULT 1000

typedef struct worker
{
	slot	   *slot;
	ssh_conn   *conn;
	pump	  **pumps;
	int			npumps;
	int			cap;
	sshio	   *io;				/* the socket's buffers */
	pump	   *opener;			/* the pump whose open libssh2 holds */
	int64_t		last_keepalive_ms;	/* last probe asked of libssh2 */
	int64_t		probe_ms;		/* last probe libssh2 really sent */
	int64_t		heard_ms;		/* last sign of life, or of our not reading */
	int			probes;			/* keepalives sent (replies kept by libssh2) */
	int			recycle_after;	/* probes before an idle session is replaced */
	int64_t		spent[PART_COUNT];	/* ms of the current pass, by part */
	int64_t		stall_second;	/* the second of the last stall lines */
	int			stall_lines;	/* lines in that second */
	int			stall_skipped;	/* lines left out since the last one */
	int64_t		window_us;		/* the current busy window's start */
	int64_t		demand_ns;		/* the thread's CPU demand at its start */
	int			schedstat_fd;	/* /proc/thread-self/schedstat, -1: none */
	int			hot_windows;	/* saturated windows in a row */
	char		error[512];
}			worker;

/*
 * Logs msg=stall where=WHERE ms=MS for w's session (client=WHO when WHO
 * is not NULL, usual_ms=USUAL when USUAL is not 0), within
 * STALL_LOG_BURST lines a second.  Returns nothing.
 */
static void
stall_log(worker *w, const char *where, int64_t ms, const char *who, int64_t usual)
{
	int64_t		now = clock_now_ms();

	if (now / 1000 != w->stall_second)
	{
		w->stall_second = now / 1000;
		w->stall_lines = 0;
	}
	if (w->stall_lines >= STALL_LOG_BURST)
	{
		w->stall_skipped++;
		return;
	}
	w->stall_lines++;
	if (who != NULL)
		log_msg(ms >= STALL_LOG_WARN_MS ? LOG_WARN : LOG_INFO, "stall",
				"where=%s ms=%" PRId64 " session=%d channels=%d client=%s skipped=%d",
				where, ms, w->slot->id, w->npumps, who, w->stall_skipped);
	else if (usual != 0)
		log_msg(ms >= STALL_LOG_WARN_MS ? LOG_WARN : LOG_INFO, "stall",
				"where=%s ms=%" PRId64 " usual_ms=%" PRId64 " session=%d channels=%d skipped=%d",
				where, ms, usual, w->slot->id, w->npumps, w->stall_skipped);
	else
		log_msg(ms >= STALL_LOG_WARN_MS ? LOG_WARN : LOG_INFO, "stall",
				"where=%s ms=%" PRId64 " session=%d channels=%d skipped=%d",
				where, ms, w->slot->id, w->npumps, w->stall_skipped);
	w->stall_skipped = 0;
}

/*
 * Judges a handshake of ms against the usual one (see the top of the
 * file), which it then moves a quarter of the way towards ms when
 * succeeded says the handshake worked.  Returns the usual handshake it
 * was judged against (0: none yet) in *usual, and whether it was a stall.
 */
static bool
handshake_stalled(int64_t ms, bool succeeded, int64_t *usual)
{
	int64_t		u = atomic_load(&usual_handshake_ms);

	/* two handshakes ending at once may lose one update: harmless */
	if (succeeded)
		atomic_store(&usual_handshake_ms, u > 0 ? u + (ms - u) / 4 : (ms > 0 ? ms : 1));
	*usual = u;
	return ms >= STALL_LOG_WARN_MS ||
		(u > 0 && ms > STALL_LOG_MS && ms > STALL_HANDSHAKE_FACTOR * u);
}

/* Adds the ms since *t to part of the current pass and moves *t to now. */
static void
stall_add(worker *w, stall_part part, int64_t *t)
{
	int64_t		now = clock_now_ms();

	w->spent[part] += now - *t;
	*t = now;
}

/*
 * Ends a pass that began at start: logs it when it took over STALL_LOG_MS,
 * naming the part that took most of it.  Returns nothing.
 */
static void
stall_pass_end(worker *w, int64_t start)
{
	int64_t		ms = clock_now_ms() - start;
	int64_t		usual = 0;
	int			worst = 0;

	if (ms > STALL_LOG_MS)
	{
		for (int i = 1; i < PART_COUNT; i++)
			if (w->spent[i] > w->spent[worst])
				worst = i;
		/* a replacement is a handshake, judged as one */
		if (worst != PART_RECYCLE || handshake_stalled(ms, true, &usual))
			stall_log(w, part_names[worst], ms, NULL, usual);
	}
	memset(w->spent, 0, sizeof(w->spent));
}

/*
 * Returns the time of the last sign of life from the server.  While the
 * input buffer is full the server's bytes wait in the kernel: that silence
 * is ours, so it counts as heard.
 */
static int64_t
last_heard(worker *w)
{
	int64_t		r = atomic_load(&w->conn->last_recv_ms);

	if (!sshio_in_room(w->io))
		w->heard_ms = clock_now_ms();
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
		if (!c->reserved && clock_now_ms() - c->since_ms > STALL_LOG_MS)
			stall_log(w, "queue", clock_now_ms() - c->since_ms, c->name, 0);
		p = pump_new(c->fd, c->name, c->port);
		if (p != NULL)
		{
			p->reserved = c->reserved;
			p->route = c->route;
			p->as_primary = c->as_primary;
			p->epoch = c->epoch;
			p->watch_read_only = c->as_primary && !c->reserved && cluster_probing();
			if (c->route >= 0)
			{
				snprintf(p->dest_host, sizeof(p->dest_host), "%s", cluster_host_name(c->route));
				p->dest_port = c->route_port ? c->route_port : cluster_host_port(c->route);
			}
			/* Patroni's REST API, not PostgreSQL: no startup to time. */
			if (c->route_port != 0)
				p->login.state = LOGIN_DONE;
		}
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
			pool_slot_release(w->slot, c->reserved, true);
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
	bool		reserved,
				opening;

	if (was_open)
		stats_add_channels(-1);
	if (w->opener == p)
		w->opener = NULL;
	reserved = p->reserved;
	opening = !p->open_told;
	log_msg(LOG_DEBUG, "channel_released", "session=%d client=%s", w->slot->id, p->client);
	pump_free(p);
	w->pumps[i] = w->pumps[--w->npumps];
	pool_slot_release(w->slot, reserved, opening);
}

/* Closes pump p's client with a log line, keeping its SSH open going. */
static void
worker_abandon(worker *w, pump *p, const char *why)
{
	event_emit(EV_CHANNEL_OPEN_TIMEOUT, "session=%d client=%s error=\"%s\"",
			   w->slot->id, p->client, why);
	if (p->fd >= 0 && !p->reserved)
		refuser_tell_unreachable(p->fd, p->client, why);	/* its bytes are unread */
	else if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	p->abandoned = true;
}

/*
 * Advances the open of pump i.  Opens are serialised by libssh2 1.10 (one
 * open state per session), so only w->opener talks to it; the others wait
 * their turn.  Each open has its own deadline (SSH_CONNECT_TIMEOUT from
 * its start, or from the client's arrival for one still waiting): a late
 * open refuses its own client only.  libssh2 still holds that open, so
 * the pump stays, abandoned, until the server answers; the channel is
 * then closed.  Returns -1 (session broken), 1 (pump released), else 0.
 */
static int
worker_open(worker *w, int i)
{
	const tunnel_config *cfg = pool_config();
	pump	   *p = w->pumps[i];
	int64_t		now = clock_now_ms();
	pump_status st;

	if (w->opener == NULL)
	{
		w->opener = p;
		p->open_started_ms = now;
		p->dirty = true;
	}
	else if (w->opener != p)
	{
		if (now - p->started_ms > cfg->connect_timeout_ms)
		{
			char		why[128];

			snprintf(why, sizeof(why), "queued %d ms behind a channel open that did not finish",
					 cfg->connect_timeout_ms);
			worker_abandon(w, p, why);
			worker_drop(w, i, false);
			return 1;
		}
		return 0;
	}
	if (!p->abandoned && now - p->open_started_ms > cfg->connect_timeout_ms)
	{
		char		why[128];

		snprintf(why, sizeof(why), "channel open timed out after %d ms",
				 cfg->connect_timeout_ms);
		worker_abandon(w, p, why);
	}
	if (!p->dirty && p->seen_gen == w->io->gen)
		return 0;				/* no answer can have come */
	p->dirty = false;
	st = pump_open_step(p, w->conn->session, cfg);
	p->seen_gen = w->io->gen;
	if (st == PUMP_RUNNING)
		return 0;
	w->opener = NULL;
	/* The pool may send the next client here without queueing it behind this open. */
	p->open_told = true;
	pool_slot_opened(w->slot);
	if (st == PUMP_SESSION_ERROR)
	{
		snprintf(w->error, sizeof(w->error), "%s", p->error);
		return -1;
	}
	if (st == PUMP_CHANNEL_REFUSED)
	{
		if (!p->abandoned)
		{
			log_msg(LOG_WARN, "channel_refused", "session=%d client=%s error=\"%s\"",
					w->slot->id, p->client, p->error);
			pool_note_channel_refused(w->slot, p->error);
			if (!p->reserved)
				prober_request(PROBE_CHANNEL_FAILED);	/* its host may be gone: ask the others now */
		}
		/* A client (not the health check, whose failure the reporter reads): told why. */
		if (p->fd >= 0 && !p->reserved)
		{
			refuser_tell_unreachable(p->fd, p->client, p->error);
			p->fd = -1;
		}
		worker_drop(w, i, false);
		return 1;
	}
	p->dirty = true;
	if (p->abandoned)
	{
		log_msg(LOG_DEBUG, "channel_open_late", "session=%d client=%s", w->slot->id, p->client);
		p->closing = true;		/* nobody to serve: close it */
		return 0;
	}
	stats_add_channels(1);
	p->opened_ms = clock_now_ms();
	log_msg(LOG_DEBUG, "channel_open", "session=%d client=%s", w->slot->id, p->client);
	return 0;
}

/*
 * Returns when the client under pump p must have completed its startup
 * (monotonic ms), or 0 when the login timeout does not apply (yet).
 */
static int64_t
login_deadline(const pump *p, const tunnel_config *cfg)
{
	if (p->channel == NULL || p->closing || !login_watch_pending(&p->login) ||
		cfg->login_timeout_ms <= 0)
		return 0;
	return p->opened_ms + cfg->login_timeout_ms;
}

/*
 * Closes pump i's client and channel after PUMP_DONE or a login timeout.
 * Returns 1 when the pump was released (the last pump moved into slot i),
 * else 0 (the channel's close goes on).
 */
static int
worker_finish(worker *w, int i)
{
	pump	   *p = w->pumps[i];

	stats_add_channels(-1);
	p->dirty = true;
	if (pump_close_step(p, w->conn->session, false))
	{
		worker_drop(w, i, false);
		return 1;
	}
	p->seen_gen = w->io->gen;
	p->dirty = false;
	return 0;
}

/*
 * Serves pump i: open it, forward, or close it.  Returns -1 (with
 * w->error) when the session broke, 1 when the pump was released (the
 * last pump moved into slot i), else 0.
 */
static int
worker_pump(worker *w, int i)
{
	LIBSSH2_SESSION *session = w->conn->session;
	pump	   *p = w->pumps[i];
	pump_status st;
	int64_t		now = clock_now_ms();
	int64_t		login_due;

	if (p->closing)
	{
		bool		done;

		if (!p->dirty && p->seen_gen == w->io->gen)
			return 0;			/* the server's close cannot have come */
		p->dirty = false;
		done = pump_close_step(p, session, false);
		p->seen_gen = w->io->gen;
		if (!done)
			return 0;
		worker_drop(w, i, false);
		return 1;
	}
	if (p->channel == NULL)
	{
		int			r = worker_open(w, i);

		if (r != 0 || p->channel == NULL || p->closing)
			return r;
	}
	if (p->client_eof && p->eof_sent && pool_draining())
	{
		/* stopping, and the client is gone: nobody waits for the server's close */
		log_msg(LOG_DEBUG, "channel_let_go", "session=%d client=%s", w->slot->id, p->client);
		return worker_finish(w, i);
	}
	login_due = login_deadline(p, pool_config());
	if (login_due != 0 && now >= login_due)
	{
		/* As PgBouncer's client_login_timeout: the client and its channel close. */
		log_msg(LOG_INFO, "login_timeout", "session=%d client=%s timeout_ms=%" PRId64 " "
				"detail=\"the client did not complete its startup in time\"",
				w->slot->id, p->client, login_due - p->opened_ms);
		stats_add_refusal(REFUSED_LOGIN_TIMEOUT);
		return worker_finish(w, i);
	}
	st = pump_step(p, session, w->io);
	if (p->saw_read_only)
	{
		/* "cannot execute ... in a read-only transaction" on the primary port */
		p->saw_read_only = false;
		log_msg(LOG_INFO, "read_only_primary", "session=%d client=%s host=%s:%d",
				w->slot->id, p->client, p->dest_host, p->dest_port);
		prober_request(PROBE_READ_ONLY);
	}
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
		if (p->error[0])
			log_msg(LOG_DEBUG, "channel_closed", "session=%d client=%s error=\"%s\"",
					w->slot->id, p->client, p->error);
		return worker_finish(w, i);
	}
	return 0;
}

/* worker_pump, its time counted to the part of the pass it served. */
static int
worker_pump_timed(worker *w, int i)
{
	pump	   *p = w->pumps[i];
	stall_part part = p->closing ? PART_CLOSE : p->channel == NULL ? PART_OPEN : PART_FORWARD;
	int64_t		t = clock_now_ms();
	int			r = worker_pump(w, i);

	stall_add(w, part, &t);
	return r;
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
 * first and alone until it is through (with sshio this no longer happens:
 * libssh2 never sees EAGAIN on send; kept for a rekey's own sends).
 * Returns false (with w->error) when the session broke.
 */
static bool
worker_pass(worker *w)
{
	int			owner = worker_owner(w);

	if (owner >= 0)
	{
		pump	   *p = w->pumps[owner];
		int			r = worker_pump_timed(w, owner);

		if (r < 0)
			return false;
		if (r == 0 && p->blocked_op != PUMP_OP_NONE)
			return true;
	}
	for (int i = 0; i < w->npumps; i++)
	{
		int			r = worker_pump_timed(w, i);

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
 * for SSH_KEEPALIVE_COUNT_MAX keepalive intervals although it was given a
 * probe to answer (or while our output waits on it); probes after each
 * interval of silence.  *wait_ms is lowered to the next check.
 *
 * libssh2 1.10 sends a keepalive at most once per 2 s of time(NULL) and
 * says nothing when it skips one; sshio shows whether a probe really left.
 * Silence counts as death only after a real probe had an interval to be
 * answered: an interval below 2 s would otherwise kill idle sessions.
 */
static bool
worker_liveness(worker *w, int *wait_ms)
{
	const tunnel_config *cfg = pool_config();
	int64_t		now = clock_now_ms();
	int64_t		interval = cfg->keepalive_interval_ms > 0 ? cfg->keepalive_interval_ms : 15000;
	int64_t		limit = interval * (cfg->keepalive_count_max > 0 ? cfg->keepalive_count_max : 3);
	int64_t		heard = last_heard(w);
	int64_t		silent = now - heard;
	bool		probed = w->probe_ms > heard && now - w->probe_ms >= interval;
	bool		stuck = sshio_out_pending(w->io) > 0;	/* the server is not reading */
	int64_t		next;

	if (silent >= limit && (probed || stuck))
	{
		snprintf(w->error, sizeof(w->error),
				 "Timeout, server %s not responding (silent for %" PRId64 " ms)",
				 cfg->ssh_host, silent);
		return false;
	}
	/*
	 * libssh2 1.10's keepalive_send ignores EAGAIN and would leave a
	 * half-sent packet that fails every later send with BAD_USE: probe only
	 * while nothing waits to go out (the probe then goes into sshio's
	 * buffer whole).
	 */
	if (silent >= interval && now - w->last_keepalive_ms >= interval && !stuck &&
		!(libssh2_session_block_directions(w->conn->session) & LIBSSH2_SESSION_BLOCK_OUTBOUND))
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
		if (sshio_out_pending(w->io) > 0)
		{
			w->probe_ms = now;	/* it really left: libssh2 keeps its reply */
			w->probes++;
		}
	}
	next = heard + interval;
	if (next <= now)
		next = w->last_keepalive_ms + interval;
	if (heard + limit < next)
		next = heard + limit;
	if (w->probe_ms > heard && w->probe_ms + interval < next)
		next = w->probe_ms + interval;
	if (next <= now)
		next = now + 100;		/* waiting for libssh2's next allowed probe */
	if (next - now < *wait_ms)
		*wait_ms = (int) (next - now);
	return true;
}

/*
 * Replaces the idle session by a fresh one in place (the slot stays live,
 * so the pool, which never reaps its first session, needs no part in it):
 * this is how the keepalive replies libssh2 keeps are let go.  Returns
 * false (with w->error) when the worker cannot go on.
 */
static bool
worker_recycle(worker *w)
{
	ssh_conn   *fresh = NULL;
	char		err[512];
	int			probes = w->probes;

	if (pool_handshake(&fresh, err, sizeof(err)) != SSH_OK)
	{
		/* Keep the old one; try again after as many probes. */
		log_msg(LOG_WARN, "session_recycle_failed", "session=%d error=\"%s\"",
				w->slot->id, err);
		w->probes = 0;
		return true;
	}
	sshio_detach(w->io, 500);
	ssh_conn_close(w->conn, "recycled", 1000);
	w->conn = fresh;
	w->io = sshio_attach(fresh);
	w->probes = 0;
	w->last_keepalive_ms = w->heard_ms = clock_now_ms();
	w->probe_ms = 0;
	if (w->io == NULL)
	{
		snprintf(w->error, sizeof(w->error), "out of memory");
		return false;
	}
	log_msg(LOG_INFO, "session_recycled", "session=%d probes=%d", w->slot->id, probes);
	return true;
}

/* Sends what the session buffered; returns false (with w->error) on a socket error. */
static bool
worker_flush(worker *w)
{
	if (sshio_flush(w->io) == 0)
		return true;
	snprintf(w->error, sizeof(w->error), "send: %s", strerror(w->io->err));
	return false;
}

/*
 * Returns true when some pump must be stepped again before sleeping, and
 * lowers *wait_ms to the nearest open deadline or stall check.
 */
static bool
worker_busy(worker *w, int *wait_ms)
{
	const tunnel_config *cfg = pool_config();
	int64_t		now = clock_now_ms();
	bool		busy = false;

	for (int i = 0; i < w->npumps; i++)
	{
		pump	   *p = w->pumps[i];
		int64_t		due = 0;

		if (p->closing || p->channel != NULL)
		{
			if (pump_should_step(p, w->io))
				busy = true;
		}
		else if (w->opener == NULL)
			busy = true;		/* a queued open may start */
		else if (w->opener == p)
		{
			if (p->dirty || p->seen_gen != w->io->gen)
				busy = true;
			if (!p->abandoned)
				due = p->open_started_ms + cfg->connect_timeout_ms + 1;
		}
		else
			due = p->started_ms + cfg->connect_timeout_ms + 1;
		if (p->stall_since != 0)
			due = p->stall_since + STALL_MS + 1;
		/* The login timeout and the linger after the server's EOF. */
		if (login_deadline(p, cfg) != 0 && (due == 0 || login_deadline(p, cfg) < due))
			due = login_deadline(p, cfg);
		if (p->eof_ms != 0 && !p->closing && (due == 0 || p->eof_ms + PUMP_EOF_LINGER_MS + 1 < due))
			due = p->eof_ms + PUMP_EOF_LINGER_MS + 1;
		if (due != 0 && due - now < *wait_ms)
			*wait_ms = due - now > 0 ? (int) (due - now) : 1;
	}
	return busy;
}

/*
 * Closes the clients routed to a primary that has since been demoted
 * (cluster_primary_epoch moved on), as HAProxy's on-marked-down
 * shutdown-sessions does: their transactions cannot commit there, and an
 * application pool reconnects at once, to the new primary.  Returns
 * nothing.
 */
static void
worker_drop_demoted(worker *w)
{
	for (int i = 0; i < w->npumps; i++)
	{
		pump	   *p = w->pumps[i];

		if (p->route < 0 || !p->as_primary || p->reserved || p->closing ||
			p->channel == NULL || cluster_primary_epoch(p->route) == p->epoch)
			continue;
		log_msg(LOG_INFO, "client_closed_demoted", "session=%d client=%s host=%s:%d",
				w->slot->id, p->client, p->dest_host, p->dest_port);
		stats_add_channels(-1);
		p->closing = true;
		p->dirty = true;
	}
}

/*
 * Returns this thread's CPU demand so far in ns: the time it ran plus the
 * time it waited for a core (schedstat), or the time it ran.
 */
static int64_t
worker_demand_ns(worker *w)
{
	char		buf[96];
	ssize_t		n;
	long long	run = 0,
				wait = 0;
	struct timespec ts;

	if (w->schedstat_fd >= 0)
	{
		n = pread(w->schedstat_fd, buf, sizeof(buf) - 1, 0);
		if (n > 0)
		{
			buf[n] = '\0';
			if (sscanf(buf, "%lld %lld", &run, &wait) == 2)
				return run + wait;
		}
		close(w->schedstat_fd);
		w->schedstat_fd = -1;
	}
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Starts measuring this thread's CPU demand (in the worker's thread). */
static void
worker_measure_start(worker *w)
{
	w->schedstat_fd = open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
	w->window_us = clock_now_us();
	w->demand_ns = worker_demand_ns(w);
}

/*
 * Ends the busy window when it is over: tells the pool when this worker
 * was saturated for BUSY_WINDOWS windows in a row.  Returns nothing.
 */
static void
worker_measure(worker *w, int64_t now_us)
{
	int64_t		span = now_us - w->window_us;
	int64_t		demand;
	int			busy,
				channels = 0;

	if (span < BUSY_WINDOW_US)
		return;
	demand = worker_demand_ns(w);
	busy = (int) ((demand - w->demand_ns) / 10 / span);
	for (int i = 0; i < w->npumps; i++)
		if (w->pumps[i]->channel != NULL && !w->pumps[i]->closing)
			channels++;
	if (busy >= BUSY_SATURATED_PCT && channels >= 2)
		w->hot_windows++;
	else
		w->hot_windows = 0;
	if (w->hot_windows >= BUSY_WINDOWS)
		pool_slot_saturated(w->slot, busy, channels);
	w->window_us = now_us;
	w->demand_ns = demand;
}

/*
 * The worker's loop after the session is up: step the channels, send
 * what they wrote, poll on the wake eventfd, the SSH socket and the
 * clients, read what the server sent.  Returns when the session broke
 * or a close was asked for.
 */
static void
worker_serve(worker *w)
{
	struct pollfd *pfds = NULL;
	int			pcap = 0;
	bool		wake = true;

	int64_t		pass_start = clock_now_ms();

	worker_measure_start(w);
	for (;;)
	{
		int			n,
					rc,
					wait_ms = 60000;
		int64_t		t = clock_now_ms(),
					slept;

		/* The eventfd is read only when poll said so: one syscall less. */
		if (wake && !worker_take_inbox(w))
			break;
		if (wake)
			worker_drop_demoted(w);
		stall_add(w, PART_INBOX, &t);
		if (!worker_pass(w))
			break;
		t = clock_now_ms();
		if (w->npumps == 0 && w->probes >= w->recycle_after && !worker_recycle(w))
			break;
		stall_add(w, PART_RECYCLE, &t);
		/* Every channel's packets of this pass leave in one send. */
		if (!worker_flush(w))
			break;
		stall_add(w, PART_WRITE, &t);
		/* After the flush: output still waiting means the server is not reading. */
		if (!worker_liveness(w, &wait_ms))
			break;
		stall_add(w, PART_KEEPALIVE, &t);
		if (sshio_out_pending(w->io) > 0 && !worker_flush(w))
			break;
		stall_add(w, PART_WRITE, &t);
		if (worker_busy(w, &wait_ms))
			wait_ms = 0;
		stall_pass_end(w, pass_start);

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
			pump_poll_client(w->pumps[i], &pfds[2 + i]);
		pfds[0].fd = w->slot->wake_fd;
		pfds[0].events = POLLIN;
		pfds[1].fd = w->conn->sock;
		pfds[1].events = POLLRDHUP;
		/* The socket is always read while there is room: silence is judged on it. */
		if (sshio_in_room(w->io))
			pfds[1].events |= POLLIN;
		if (sshio_out_pending(w->io) > 0)
			pfds[1].events |= POLLOUT;
		n = w->npumps + 2;
		t = clock_now_ms();
		do
			rc = poll(pfds, n, wait_ms);
		while (rc < 0 && errno == EINTR);
		worker_measure(w, clock_now_us());
		if (rc < 0)
		{
			snprintf(w->error, sizeof(w->error), "poll: %s", strerror(errno));
			break;
		}
		/* The next pass starts now; a poll that overslept its timeout is its first part. */
		pass_start = clock_now_ms();
		slept = pass_start - t;
		if (rc == 0 && slept > wait_ms)
		{
			w->spent[PART_WAKE] = slept - wait_ms;
			pass_start -= slept - wait_ms;
		}
		t = clock_now_ms();
		wake = (pfds[0].revents & POLLIN) != 0;
		for (int i = 0; i < w->npumps; i++)
			pump_poll_result(w->pumps[i], pfds[2 + i].revents);
		if ((pfds[1].revents & (POLLIN | POLLRDHUP | POLLHUP | POLLERR)) &&
			sshio_fill(w->io) < 0)
		{
			if (w->io->eof)
				snprintf(w->error, sizeof(w->error), "Connection to %s closed by remote host",
						 pool_config()->ssh_host);
			else
				snprintf(w->error, sizeof(w->error), "recv: %s", strerror(w->io->err));
			break;
		}
		stall_add(w, PART_READ, &t);
		if ((pfds[1].revents & POLLOUT) && !worker_flush(w))
			break;
		stall_add(w, PART_WRITE, &t);
	}
	free(pfds);
	if (w->schedstat_fd >= 0)
		close(w->schedstat_fd);
	w->schedstat_fd = -1;
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

		if (p->channel == NULL && !p->closing && !p->abandoned && !expected)
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
	int64_t		handshake_ms;
	int64_t		usual;

	memset(&w, 0, sizeof(w));
	w.slot = s;
	handshake_ms = clock_now_ms();
	r = pool_handshake(&w.conn, err, sizeof(err));
	/* Clients wait for it (and for the handshakes before it: one at a time). */
	handshake_ms = clock_now_ms() - handshake_ms;
	if (handshake_stalled(handshake_ms, r == SSH_OK, &usual))
		stall_log(&w, "handshake", handshake_ms, NULL, usual);
	if (r != SSH_OK)
	{
		pool_slot_failed(s, r, err);
		return NULL;
	}
	pool_slot_live(s);

	w.last_keepalive_ms = clock_now_ms();
	w.heard_ms = clock_now_ms();
	w.recycle_after = KEEPALIVE_RECYCLE_DEFAULT;
	if (getenv("CHATGENIUS_KEEPALIVE_RECYCLE") != NULL)
		w.recycle_after = atoi(getenv("CHATGENIUS_KEEPALIVE_RECYCLE"));
	if (w.recycle_after < 1)
		w.recycle_after = KEEPALIVE_RECYCLE_DEFAULT;
	w.io = sshio_attach(w.conn);
	if (w.io == NULL)
		snprintf(w.error, sizeof(w.error), "out of memory");
	else
		worker_serve(&w);

	expected = pool_slot_closing(s);
	worker_release_pumps(&w, expected);
	/* Buffered packets leave first, then libssh2 says goodbye itself. */
	sshio_detach(w.io, expected ? 500 : 0);
	ssh_conn_close(w.conn, expected ? "closing" : "lost", expected ? 1000 : 0);
	stats_add_sessions(-1);
	if (expected)
		log_msg(LOG_INFO, "session_closed", "session=%d", s->id);
	else
		event_emit(EV_DISCONNECTED, "session=%d error=\"%s\"", s->id, w.error);
	pool_slot_finished(s, expected ? NULL : w.error);
	return NULL;
}
