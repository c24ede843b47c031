/*
 * stats.c
 *		Pool and tunnel counters behind one mutex: written by the pool's
 *		threads, the listener and the janitor, read as a consistent snapshot
 *		by the reporter and the SIGUSR1 handler.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "stats.h"

static pthread_mutex_t stats_lock = PTHREAD_MUTEX_INITIALIZER;
static stats_snapshot stats;

/*
 * Returns the word stored in chatgenius.tunnel_status.state for a state;
 * the SQL side and the logs share these names.
 */
const char *
tunnel_state_name(tunnel_state state)
{
	switch (state)
	{
		case STATE_CONNECTING:
			return "connecting";
		case STATE_CONNECTED:
			return "connected";
		case STATE_RECONNECTING:
			return "reconnecting";
		case STATE_FAILED:
			return "failed";
		case STATE_STOPPED:
			return "stopped";
	}
	return "unknown";
}

/*
 * Resets every counter and records the start time; called once before any
 * thread starts.
 */
void
stats_init(int pool_size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&stats_lock);
	memset(&stats, 0, sizeof(stats));
	stats.state = STATE_CONNECTING;
	stats.pool_size = pool_size;
	stats.started_at_ms = (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	pthread_mutex_unlock(&stats_lock);
}

/* Copies the counters as one consistent set into *out. */
void
stats_snapshot_take(stats_snapshot *out)
{
	pthread_mutex_lock(&stats_lock);
	*out = stats;
	pthread_mutex_unlock(&stats_lock);
}

/* Records the tunnel's state as the reporter will store it. */
void
stats_set_state(tunnel_state state)
{
	pthread_mutex_lock(&stats_lock);
	stats.state = state;
	pthread_mutex_unlock(&stats_lock);
}

/* Records the last error (NULL or "" clears it), truncated to fit. */
void
stats_set_error(const char *error)
{
	pthread_mutex_lock(&stats_lock);
	if (error == NULL)
		stats.last_error[0] = '\0';
	else
	{
		strncpy(stats.last_error, error, sizeof(stats.last_error) - 1);
		stats.last_error[sizeof(stats.last_error) - 1] = '\0';
	}
	pthread_mutex_unlock(&stats_lock);
}

/* Records how many reconnection attempts failed in a row so far. */
void
stats_set_retries(int retries)
{
	pthread_mutex_lock(&stats_lock);
	stats.retries = retries;
	pthread_mutex_unlock(&stats_lock);
}

/* Counts one successful reconnection. */
void
stats_add_reconnect(void)
{
	pthread_mutex_lock(&stats_lock);
	stats.reconnects++;
	pthread_mutex_unlock(&stats_lock);
}

/* Records the configured pool size (it may change on SIGHUP). */
void
stats_set_pool_size(int pool_size)
{
	pthread_mutex_lock(&stats_lock);
	stats.pool_size = pool_size;
	pthread_mutex_unlock(&stats_lock);
}

/* Adds delta to the number of live SSH sessions. */
void
stats_add_sessions(int delta)
{
	pthread_mutex_lock(&stats_lock);
	stats.sessions_open += delta;
	pthread_mutex_unlock(&stats_lock);
}

/* Adds delta to the active channels; an opening also counts in the total. */
void
stats_add_channels(int delta)
{
	pthread_mutex_lock(&stats_lock);
	stats.channels_active += delta;
	if (delta > 0)
		stats.channels_total += delta;
	pthread_mutex_unlock(&stats_lock);
}

/* Adds delta to the waiting clients; a new waiter also counts in the total. */
void
stats_add_waiting(int delta)
{
	pthread_mutex_lock(&stats_lock);
	stats.clients_waiting += delta;
	if (delta > 0)
		stats.waits_total += delta;
	pthread_mutex_unlock(&stats_lock);
}

/* Returns the label value of a refusal reason. */
const char *
refused_reason_name(refused_reason reason)
{
	switch (reason)
	{
		case REFUSED_POOL_FULL:
			return "pool_full";
		case REFUSED_UNREACHABLE:
			return "unreachable";
		case REFUSED_STOPPING:
			return "stopping";
		case REFUSED_LOGIN_TIMEOUT:
			return "login_timeout";
		case REFUSED_REASONS:
			break;
	}
	return "other";
}

/*
 * The histograms' upper bounds in ms: from a loopback round trip (a few
 * ms) to the 10 s bound of a health check and the 30 s of a handshake.
 */
const int	stats_bucket_ms[STATS_BUCKETS - 1] = {
	1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000
};

/* Counts one client not served, for its reason. */
void
stats_add_refusal(refused_reason reason)
{
	if (reason < 0 || reason >= REFUSED_REASONS)
		return;
	pthread_mutex_lock(&stats_lock);
	stats.refused[reason]++;
	pthread_mutex_unlock(&stats_lock);
}

/* Returns the sum of the refusals over every reason. */
int64_t
stats_refused_total(const stats_snapshot *snap)
{
	int64_t		n = 0;

	for (int i = 0; i < REFUSED_REASONS; i++)
		n += snap->refused[i];
	return n;
}

/* Records one latency of kind (us microseconds), and whether it failed. */
void
stats_observe(stats_latency kind, int64_t us, bool failed)
{
	stats_histogram *h;
	int			b = 0;

	if (kind < 0 || kind >= LATENCY_KINDS)
		return;
	while (b < STATS_BUCKETS - 1 && us > (int64_t) stats_bucket_ms[b] * 1000)
		b++;
	pthread_mutex_lock(&stats_lock);
	h = &stats.latency[kind];
	h->bucket[b]++;
	h->count++;
	h->sum_us += us < 0 ? 0 : us;
	if (failed)
		stats.latency_failed[kind]++;
	pthread_mutex_unlock(&stats_lock);
}

/* Counts one event sent (events.c). */
void
stats_count_event(event_id id)
{
	if (id < 0 || id >= EVENT_COUNT)
		return;
	pthread_mutex_lock(&stats_lock);
	stats.events[id]++;
	pthread_mutex_unlock(&stats_lock);
}

/* Counts n events the spool had no room for. */
void
stats_add_events_dropped(int64_t n)
{
	pthread_mutex_lock(&stats_lock);
	stats.events_dropped += n;
	pthread_mutex_unlock(&stats_lock);
}

/* Adds forwarded bytes: in is server -> clients, out is clients -> server. */
void
stats_add_bytes(int64_t in, int64_t out)
{
	pthread_mutex_lock(&stats_lock);
	stats.bytes_in += in;
	stats.bytes_out += out;
	pthread_mutex_unlock(&stats_lock);
}
