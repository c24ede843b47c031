/*
 * stats.h
 *		Pool and tunnel counters, written by the pool's threads and read by
 *		the reporter and SIGUSR1.  Names follow pgbouncer's where they exist.
 */
#ifndef CHATGENIUS_STATS_H
#define CHATGENIUS_STATS_H

#include <stdint.h>

typedef enum tunnel_state
{
	STATE_CONNECTING,
	STATE_CONNECTED,
	STATE_RECONNECTING,
	STATE_FAILED,
	STATE_STOPPED
} tunnel_state;

/* The words stored in chatgenius.tunnel_status.state. */
extern const char *tunnel_state_name(tunnel_state state);

/* A consistent copy of the counters, taken under the stats lock. */
typedef struct stats_snapshot
{
	tunnel_state state;
	int			pool_size;			/* configured SSH_POOL_SIZE */
	int			sessions_open;		/* live SSH connections */
	int			channels_active;	/* clients being forwarded now (cl_active) */
	int64_t		channels_total;		/* channels opened since start */
	int			clients_waiting;	/* clients waiting for room (cl_waiting) */
	int64_t		clients_refused;	/* refused after the wait (pool_full) */
	int64_t		waits_total;		/* clients that had to wait */
	int64_t		bytes_in;			/* server -> clients */
	int64_t		bytes_out;			/* clients -> server */
	int			retries;			/* failed attempts in a row now */
	int64_t		reconnects;			/* successful reconnections since start */
	char		last_error[256];	/* "" when none */
	int64_t		started_at_ms;		/* Unix ms when the helper started */
} stats_snapshot;

extern void stats_init(int pool_size);
extern void stats_snapshot_take(stats_snapshot *out);

extern void stats_set_state(tunnel_state state);
extern void stats_set_error(const char *error);		/* NULL or "" clears */
extern void stats_set_retries(int retries);
extern void stats_add_reconnect(void);
extern void stats_set_pool_size(int pool_size);
extern void stats_add_sessions(int delta);
extern void stats_add_channels(int delta);		/* +1 also counts channels_total */
extern void stats_add_waiting(int delta);		/* +1 also counts waits_total */
extern void stats_add_refused(void);
extern void stats_add_bytes(int64_t in, int64_t out);

#endif							/* CHATGENIUS_STATS_H */
