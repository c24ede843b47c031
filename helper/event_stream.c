/*
 * event_stream.c
 *		The followers of the helper's events (event_stream.h): event_emit
 *		appends each line to every follower's buffer under one lock (never
 *		a write to a socket: that is the thread's), and one thread sends
 *		what is buffered as the sockets take it.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "escape.h"
#include "event_stream.h"
#include "log.h"
#include "service_thread.h"

typedef struct follower
{
	int			fd;				/* -1: free */
	bool		json;
	char	   *buf;			/* EVENT_FOLLOWER_BUFFER bytes */
	size_t		len;			/* pending, from buf[0] */
	int64_t		dropped;		/* events that found no room since the last marker */
} follower;

static struct
{
	pthread_mutex_t lock;
	size_t		room;			/* each follower's buffer: EVENT_FOLLOWER_BUFFER */
	follower	f[EVENT_FOLLOWERS_MAX];
	bool		running;
	bool		flushing;		/* stopping: send what is pending, then close */
	service_thread thread;
}			es = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.thread = SERVICE_THREAD_INIT,
};

/* Appends printf output at *pos of buf (len bytes); false when it did not fit. */
static bool
put(char *buf, size_t len, size_t *pos, const char *fmt,...)
__attribute__((format(printf, 4, 5)));

static bool
put(char *buf, size_t len, size_t *pos, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (*pos >= len)
		return false;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t) n >= len - *pos)
		return false;
	*pos += (size_t) n;
	return true;
}

/*
 * Appends s as escape.h escapes it: the body of a JSON string (quotes
 * added), or one line of text that a terminal shows and never obeys.
 * Returns false when it did not fit.
 */
static bool
put_string(char *buf, size_t len, size_t *pos, const char *s, bool json)
{
	size_t		need;

	if (json && !put(buf, len, pos, "\""))
		return false;
	if (*pos >= len)
		return false;
	need = escape_text(buf + *pos, len - *pos, s, json ? ESCAPE_JSON : ESCAPE_TERMINAL);
	if (need >= len - *pos)
		return false;
	*pos += need;
	return !json || put(buf, len, pos, "\"");
}

/* See event_stream.h.  Returns the line's length, 0 when it does not fit. */
size_t
event_stream_format(bool json, const char *event, const char *detail, int64_t wall_us,
					char *buf, size_t len)
{
	const tunnel_config *cfg = config_current();
	char		at[40];
	size_t		pos = 0;
	bool		ok;

	clock_format_utc(wall_us, 6, at, sizeof(at));
	if (json)
		ok = put(buf, len, &pos, "{\"tunnel_name\": ") &&
			put_string(buf, len, &pos, cfg != NULL && cfg->tunnel_name ? cfg->tunnel_name : "", true) &&
			put(buf, len, &pos, ", \"event\": ") &&
			put_string(buf, len, &pos, event, true) &&
			put(buf, len, &pos, ", \"detail\": ") &&
			put_string(buf, len, &pos, detail, true) &&
			put(buf, len, &pos, ", \"occurred_at\": \"%s\"}\n", at);
	else
		ok = put(buf, len, &pos, "%s ", at) &&
			put_string(buf, len, &pos, event, false) &&
			put(buf, len, &pos, " ") &&
			put_string(buf, len, &pos, detail, false) &&
			put(buf, len, &pos, "\n");
	return ok ? pos : 0;
}

/* The "dropped" marker line for n events.  Returns its length. */
static size_t
marker(bool json, int64_t n, char *buf, size_t len)
{
	char		at[40];
	int			w;

	clock_format_utc(clock_wall_us(), 6, at, sizeof(at));
	if (json)
		w = snprintf(buf, len, "{\"event\": \"dropped\", \"count\": %" PRId64
					 ", \"occurred_at\": \"%s\"}\n", n, at);
	else
		w = snprintf(buf, len, "%s dropped count=%" PRId64 "\n", at, n);
	return w > 0 && (size_t) w < len ? (size_t) w : 0;
}

/*
 * Appends the marker for f's dropped events when it fits now.  Lock held.
 * Returns true when no marker is owed any more.
 */
static bool
settle_dropped(follower *f)
{
	char		line[160];
	size_t		n;

	if (f->dropped == 0)
		return true;
	n = marker(f->json, f->dropped, line, sizeof(line));
	if (n == 0 || f->len + n > es.room)
		return false;
	memcpy(f->buf + f->len, line, n);
	f->len += n;
	f->dropped = 0;
	return true;
}

/* Closes follower f.  Lock held. */
static void
follower_close(follower *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->buf);
	f->buf = NULL;
	f->len = 0;
	f->dropped = 0;
}

void
event_stream_publish(const char *event, const char *detail, int64_t wall_us)
{
	char		line[2][4096];
	size_t		n[2] = {0, 0};
	bool		any = false;

	pthread_mutex_lock(&es.lock);
	for (int i = 0; i < EVENT_FOLLOWERS_MAX; i++)
	{
		follower   *f = &es.f[i];
		int			k = f->json ? 1 : 0;

		if (f->fd < 0)
			continue;
		if (n[k] == 0)
			n[k] = event_stream_format(f->json, event, detail ? detail : "", wall_us,
									   line[k], sizeof(line[k]));
		if (settle_dropped(f) && n[k] > 0 && f->len + n[k] <= es.room)
		{
			memcpy(f->buf + f->len, line[k], n[k]);
			f->len += n[k];
		}
		else
			f->dropped++;		/* no room: counted, told once there is */
		any = true;
	}
	if (any)
		service_thread_wake(&es.thread);
	pthread_mutex_unlock(&es.lock);
}

/*
 * Sends what f has pending, as far as its socket takes it.  Lock held.
 * Returns false when the follower is gone (closed here).
 */
static bool
follower_send(follower *f)
{
	while (f->len > 0)
	{
		ssize_t		w = send(f->fd, f->buf, f->len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0)
		{
			follower_close(f);
			return false;
		}
		memmove(f->buf, f->buf + w, f->len - (size_t) w);
		f->len -= (size_t) w;
	}
	(void) settle_dropped(f);
	return true;
}

/*
 * True when f's peer hung up (what it sends is read and ignored).  Lock
 * held, so the reading is bounded: a follower that keeps writing would
 * otherwise keep the lock, and every event_emit waits on it.  What is left
 * unread makes the next poll return at once, and is read then.
 */
static bool
follower_gone(follower *f)
{
	char		junk[4096];

	for (int reads = 0; reads < 16; reads++)
	{
		ssize_t		r = recv(f->fd, junk, sizeof(junk), MSG_DONTWAIT);

		if (r > 0)
			continue;
		if (r < 0 && errno == EINTR)
			continue;
		return r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
	}
	return false;
}

/* The thread: send, notice hang-ups.  Returns NULL at stop. */
static void *
stream_main(void *arg)
{
	struct pollfd pfds[EVENT_FOLLOWERS_MAX + 1];
	int			index[EVENT_FOLLOWERS_MAX];
	int64_t		flush_until = -1;

	for (;;)
	{
		int			n = 0;
		int			timeout = -1;
		bool		pending = false;

		pthread_mutex_lock(&es.lock);
		if (es.flushing && flush_until < 0)
			flush_until = clock_now_ms() + EVENT_STREAM_FLUSH_MS;
		for (int i = 0; i < EVENT_FOLLOWERS_MAX; i++)
		{
			follower   *f = &es.f[i];

			if (f->fd < 0 || !follower_send(f))
				continue;
			pending = pending || f->len > 0 || f->dropped > 0;
			pfds[n] = (struct pollfd) {.fd = f->fd,.events = POLLIN | (f->len > 0 ? POLLOUT : 0)};
			index[n++] = i;
		}
		pthread_mutex_unlock(&es.lock);
		if (flush_until >= 0)
		{
			int64_t		left = flush_until - clock_now_ms();

			if (!pending || left <= 0)
				break;
			timeout = (int) left;
		}
		pfds[n] = (struct pollfd) {.fd = es.thread.wake_fd,.events = POLLIN};
		if (poll(pfds, (nfds_t) n + 1, timeout) < 0 && errno != EINTR)
		{
			log_msg(LOG_ERROR, "poll_failed", "thread=events error=\"%s\"", strerror(errno));
			break;
		}
		if (pfds[n].revents & POLLIN)
			service_thread_drain(&es.thread);
		pthread_mutex_lock(&es.lock);
		for (int j = 0; j < n; j++)
		{
			follower   *f = &es.f[index[j]];

			if (f->fd == pfds[j].fd && (pfds[j].revents & (POLLIN | POLLHUP | POLLERR)) &&
				follower_gone(f))
				follower_close(f);
		}
		pthread_mutex_unlock(&es.lock);
	}
	pthread_mutex_lock(&es.lock);
	for (int i = 0; i < EVENT_FOLLOWERS_MAX; i++)
		follower_close(&es.f[i]);
	pthread_mutex_unlock(&es.lock);
	return NULL;
}

int
event_stream_start(void)
{
	char		err[256];

	const char *room = getenv("CHATGENIUS_FOLLOWER_BUFFER");

	pthread_mutex_lock(&es.lock);
	for (int i = 0; i < EVENT_FOLLOWERS_MAX; i++)
		es.f[i].fd = -1;
	es.flushing = false;
	/* A smaller bound for tests, read once here (at least one line fits). */
	es.room = room != NULL && atol(room) >= 4096 && atol(room) < EVENT_FOLLOWER_BUFFER ?
		(size_t) atol(room) : EVENT_FOLLOWER_BUFFER;
	if (service_thread_start(&es.thread, stream_main, err, sizeof(err)) != 0)
	{
		pthread_mutex_unlock(&es.lock);
		log_msg(LOG_WARN, "thread_start_failed", "thread=events error=\"%s\"", err);
		return -1;
	}
	es.running = true;
	pthread_mutex_unlock(&es.lock);
	return 0;
}

void
event_stream_stop(void)
{
	pthread_mutex_lock(&es.lock);
	if (!es.running)
	{
		pthread_mutex_unlock(&es.lock);
		return;
	}
	es.flushing = true;
	es.running = false;
	service_thread_wake(&es.thread);
	pthread_mutex_unlock(&es.lock);
	/* the thread ends once flushed (or at EVENT_STREAM_FLUSH_MS) */
	service_thread_join(&es.thread);
	service_thread_close(&es.thread);
}

int
event_stream_followers(void)
{
	int			n = 0;

	pthread_mutex_lock(&es.lock);
	for (int i = 0; i < EVENT_FOLLOWERS_MAX; i++)
		if (es.f[i].fd >= 0)
			n++;
	pthread_mutex_unlock(&es.lock);
	return n;
}

bool
event_stream_add(int fd, bool json)
{
	follower   *slot = NULL;

	pthread_mutex_lock(&es.lock);
	for (int i = 0; es.running && i < EVENT_FOLLOWERS_MAX && slot == NULL; i++)
		if (es.f[i].fd < 0)
			slot = &es.f[i];
	if (slot != NULL)
		slot->buf = malloc(es.room);
	if (slot == NULL || slot->buf == NULL)
	{
		pthread_mutex_unlock(&es.lock);
		close(fd);
		return false;
	}
	/*
	 * The kernel's buffer is bounded as ours is: what a stopped follower
	 * has not read is counted as dropped here, not queued there unseen.
	 */
	{
		int			sndbuf = (int) es.room;

		(void) setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	slot->fd = fd;
	slot->json = json;
	slot->len = 0;
	slot->dropped = 0;
	/* the first line tells the client it follows (a refused one gets nothing) */
	memcpy(slot->buf, "follow\n", 7);
	slot->len = 7;
	service_thread_wake(&es.thread);
	pthread_mutex_unlock(&es.lock);
	return true;
}
