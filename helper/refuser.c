/*
 * refuser.c
 *		Refused clients, told why (refuser.h): one thread polls every
 *		refusal under way (pgwire_refusal_step) and an eventfd that brings
 *		new ones; no refusal ever blocks the listener, the janitor or a
 *		worker, and a silent client only holds its slot until its deadline.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "pgwire.h"
#include "refuser.h"
#include "service_thread.h"
#include "stats.h"

typedef struct refusal_slot
{
	bool		used;
	char		client[64];
	pgwire_refusal r;
} refusal_slot;

static struct
{
	pthread_mutex_t lock;
	refusal_slot *slots;		/* REFUSER_MAX of them */
	bool		running;		/* started and not yet stopped (read under the lock) */
	bool		stopping;		/* asked to stop: drain until stop_by_ms */
	int64_t		stop_by_ms;		/* at stop: drop what is left by then */
	service_thread thread;
}			ref = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.thread = SERVICE_THREAD_INIT,
};

/* Ends one refusal: logs its outcome, closes the socket.  Lock held. */
static void
finish(refusal_slot *s)
{
	log_msg(LOG_DEBUG, "client_told", "client=%s sqlstate=%s outcome=%s",
			s->client, s->r.sqlstate, s->r.outcome);
	close(s->r.fd);
	s->used = false;
}

/* The thread: step every refusal, poll the ones still under way.  Returns NULL. */
static void *
refuser_main(void *arg)
{
	struct pollfd *pfds = calloc(REFUSER_MAX + 1, sizeof(struct pollfd));
	int		   *index = calloc(REFUSER_MAX, sizeof(int));

	if (pfds == NULL || index == NULL)
	{
		log_msg(LOG_ERROR, "out_of_memory", "detail=\"refused clients are closed untold\"");
		free(pfds);
		free(index);
		return NULL;
	}
	for (;;)
	{
		int			n = 0;
		int64_t		now = clock_now_ms();
		int64_t		next = -1;
		bool		stop;

		pthread_mutex_lock(&ref.lock);
		for (int i = 0; i < REFUSER_MAX; i++)
		{
			refusal_slot *s = &ref.slots[i];
			short		ev;

			if (!s->used)
				continue;
			if (ref.stopping && now >= ref.stop_by_ms && s->r.deadline_ms > ref.stop_by_ms)
				s->r.deadline_ms = ref.stop_by_ms;
			ev = pgwire_refusal_step(&s->r);
			if (ev == 0)
			{
				finish(s);
				continue;
			}
			pfds[n].fd = s->r.fd;
			pfds[n].events = ev;
			index[n++] = i;
			if (next < 0 || s->r.deadline_ms < next)
				next = s->r.deadline_ms;
		}
		stop = ref.stopping && (n == 0 || now >= ref.stop_by_ms);
		if (ref.stopping && (next < 0 || ref.stop_by_ms < next))
			next = ref.stop_by_ms;
		pthread_mutex_unlock(&ref.lock);
		if (stop && n == 0)
			break;
		pfds[n].fd = ref.thread.wake_fd;
		pfds[n].events = POLLIN;
		if (poll(pfds, n + 1, next < 0 ? -1 : (int) (next > now ? next - now + 1 : 0)) < 0 &&
			errno != EINTR)
		{
			log_msg(LOG_ERROR, "poll_failed", "error=\"%s\"", strerror(errno));
			break;
		}
		if (pfds[n].revents & POLLIN)
			service_thread_drain(&ref.thread);
	}
	pthread_mutex_lock(&ref.lock);
	for (int i = 0; i < REFUSER_MAX; i++)
		if (ref.slots[i].used)
		{
			ref.slots[i].r.outcome = "stopping";
			finish(&ref.slots[i]);
		}
	pthread_mutex_unlock(&ref.lock);
	free(pfds);
	free(index);
	return NULL;
}

int
refuser_start(void)
{
	char		err[256];

	pthread_mutex_lock(&ref.lock);
	if (ref.running)
	{
		pthread_mutex_unlock(&ref.lock);
		return 0;
	}
	if (ref.slots == NULL)
		ref.slots = calloc(REFUSER_MAX, sizeof(refusal_slot));
	if (ref.slots == NULL)
	{
		pthread_mutex_unlock(&ref.lock);
		log_msg(LOG_ERROR, "refuser_failed", "error=\"out of memory\"");
		return -1;
	}
	ref.stopping = false;
	if (service_thread_start(&ref.thread, refuser_main, err, sizeof(err)) != 0)
	{
		pthread_mutex_unlock(&ref.lock);
		log_msg(LOG_ERROR, "thread_start_failed", "thread=refuser error=\"%s\"", err);
		return -1;
	}
	ref.running = true;
	pthread_mutex_unlock(&ref.lock);
	return 0;
}

void
refuser_submit(int fd, const char *client, const char *sqlstate, const char *message)
{
	refusal_slot *free_slot = NULL;

	pthread_mutex_lock(&ref.lock);
	if (ref.running && !ref.stopping)
		for (int i = 0; i < REFUSER_MAX && free_slot == NULL; i++)
			if (!ref.slots[i].used)
				free_slot = &ref.slots[i];
	if (free_slot == NULL)
	{
		pthread_mutex_unlock(&ref.lock);
		log_msg(LOG_DEBUG, "client_told", "client=%s sqlstate=%s outcome=refuser_full",
				client, sqlstate);
		close(fd);
		return;
	}
	free_slot->used = true;
	snprintf(free_slot->client, sizeof(free_slot->client), "%s", client);
	pgwire_refusal_init(&free_slot->r, fd, sqlstate, message,
						clock_now_ms() + REFUSAL_TIMEOUT_MS);
	/* woken under the lock: once refuser_stop set stopping, no one wakes */
	service_thread_wake(&ref.thread);
	pthread_mutex_unlock(&ref.lock);
}

void
refuser_stop(int drain_ms)
{
	bool		was_running;

	/*
	 * The drain deadline is set under the lock before the stop's wake-up,
	 * so the thread's next pass sees it; service_thread_stop then joins.
	 */
	pthread_mutex_lock(&ref.lock);
	was_running = ref.running;
	ref.stopping = true;
	ref.stop_by_ms = clock_now_ms() + drain_ms;
	pthread_mutex_unlock(&ref.lock);
	if (!was_running)
		return;
	service_thread_stop(&ref.thread);
	pthread_mutex_lock(&ref.lock);
	ref.running = false;
	free(ref.slots);
	ref.slots = NULL;
	pthread_mutex_unlock(&ref.lock);
}

/* The rows of refusal_list.h. */
static const struct
{
	const char *sqlstate;
	const char *words;
}			refusals[REFUSAL_COUNT] = {
#define REFUSAL(id, sqlstate, condition, words) [id] = {sqlstate, words},
#include "refusal_list.h"
#undef REFUSAL
};

/* See refuser.h.  Returns the SQLSTATE. */
const char *
refusal_sqlstate(refusal_id id)
{
	return refusals[id].sqlstate;
}

/* See refuser.h.  Returns the words. */
const char *
refusal_words(refusal_id id)
{
	return refusals[id].words;
}

/*
 * Refuse fd with row id: "chatgenius-tunnel: ", the row's words, then the
 * printf-style rest (", reconnecting (...)" or ": why").  Returns nothing.
 */
static void
refuse(int fd, const char *client, refusal_id id, const char *rest, ...)
__attribute__((format(printf, 4, 5)));

static void
refuse(int fd, const char *client, refusal_id id, const char *rest, ...)
{
	char		msg[PGWIRE_MESSAGE_MAX];
	int			n = snprintf(msg, sizeof(msg), "chatgenius-tunnel: %s", refusals[id].words);
	va_list		ap;

	if (n > 0 && (size_t) n < sizeof(msg))
	{
		va_start(ap, rest);
		vsnprintf(msg + n, sizeof(msg) - (size_t) n, rest, ap);
		va_end(ap);
	}
	stats_add_refusal(id == REFUSAL_POOL_FULL ? REFUSED_POOL_FULL :
					  id == REFUSAL_SHUTTING_DOWN ? REFUSED_STOPPING : REFUSED_UNREACHABLE);
	refuser_submit(fd, client, refusals[id].sqlstate, msg);
}

/* See refuser.h.  Returns nothing. */
void
refuser_tell(int fd, const char *client, refusal_cause cause, int64_t waited_ms,
			 const refusal_figures *fig)
{
	stats_snapshot snap;
	const char *error;

	stats_snapshot_take(&snap);
	error = snap.last_error[0] ? snap.last_error : "no SSH connection is up";
	if (snap.state == STATE_STOPPED || (cause == REFUSE_STOPPING && snap.state != STATE_FAILED))
		refuse(fd, client, REFUSAL_SHUTTING_DOWN, "%s", "");
	else if (snap.state == STATE_FAILED)
		refuse(fd, client, REFUSAL_UNREACHABLE, ": %s", error);
	else if (snap.state == STATE_RECONNECTING)
		refuse(fd, client, REFUSAL_UNREACHABLE, ", reconnecting (%d of %d attempts failed): %s",
			   snap.retries, fig->max_retries, error);
	else if (snap.state == STATE_CONNECTING || snap.sessions_open == 0)
		refuse(fd, client, REFUSAL_UNREACHABLE, ": %s", error);
	else if (cause == REFUSE_TOO_MANY_WAITING)
		refuse(fd, client, REFUSAL_POOL_FULL,
			   " (SSH_POOL_SIZE=%d, SSH_CHANNELS_PER_SESSION=%d) and %d clients "
			   "may wait (TUNNEL_MAX_WAITING)",
			   fig->pool_size, fig->channels_per_session, fig->max_waiting);
	else
		refuse(fd, client, REFUSAL_POOL_FULL,
			   " (SSH_POOL_SIZE=%d, SSH_CHANNELS_PER_SESSION=%d); waited %" PRId64
			   " ms (TUNNEL_CLIENT_WAIT=%d)",
			   fig->pool_size, fig->channels_per_session, waited_ms, fig->client_wait_ms);
}

/* See refuser.h.  Returns nothing. */
void
refuser_tell_unreachable(int fd, const char *client, const char *why)
{
	refuse(fd, client, REFUSAL_CHANNEL_FAILED, ": %s", why);
}
