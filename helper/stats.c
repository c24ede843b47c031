/*
 * stats.c
 *		Pool and tunnel counters behind one mutex: written by the pool's
 *		threads, the listener and the janitor, read as a consistent snapshot
 *		by the reporter and the SIGUSR1 handler.
 */
#include <pthread.h>
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

/* Counts one client refused after its wait (pool_full). */
void
stats_add_refused(void)
{
	pthread_mutex_lock(&stats_lock);
	stats.clients_refused++;
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
