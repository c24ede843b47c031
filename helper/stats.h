/*
 * stats.h
 *		Pool and tunnel counters, written by the pool's threads and read by
 *		the reporter and SIGUSR1.  Names follow pgbouncer's where they exist.
 */
#ifndef CHATGENIUS_STATS_H
#define CHATGENIUS_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "event_names.h"

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

/*
 * Why a client was not served, as the metrics name it (the refuser decides
 * the reason from the tunnel's state, as it decides the SQLSTATE).
 */
typedef enum refused_reason
{
	REFUSED_POOL_FULL,			/* 53300: the pool was full */
	REFUSED_UNREACHABLE,		/* 08001/08006: the database out of reach */
	REFUSED_STOPPING,			/* 57P01: the helper was stopping */
	REFUSED_LOGIN_TIMEOUT,		/* closed: no startup within TUNNEL_LOGIN_TIMEOUT */
	REFUSED_REASONS
} refused_reason;

/* The reason's word ("pool_full", ...), the metrics' label value. */
extern const char *refused_reason_name(refused_reason reason);

/*
 * A latency histogram: counts per bucket (not cumulative), with the upper
 * bounds in stats_bucket_ms; the last bucket is everything above.
 */
#define STATS_BUCKETS	13
extern const int stats_bucket_ms[STATS_BUCKETS - 1];

typedef struct stats_histogram
{
	int64_t		bucket[STATS_BUCKETS];
	int64_t		count;
	int64_t		sum_us;
} stats_histogram;

/* The latencies kept. */
typedef enum stats_latency
{
	LATENCY_HEALTH_CHECK,		/* reporter_check's round trip */
	LATENCY_HANDSHAKE,			/* TCP connect, SSH handshake and auth of a session */
	LATENCY_KINDS
} stats_latency;

/* A consistent copy of the counters, taken under the stats lock. */
typedef struct stats_snapshot
{
	tunnel_state state;
	int			pool_size;			/* configured SSH_POOL_SIZE */
	int			sessions_open;		/* live SSH connections */
	int			channels_active;	/* clients being forwarded now (cl_active) */
	int64_t		channels_total;		/* channels opened since start */
	int			clients_waiting;	/* clients waiting for room (cl_waiting) */
	int64_t		refused[REFUSED_REASONS];	/* clients not served, by reason */
	int64_t		waits_total;		/* clients that had to wait */
	int64_t		bytes_in;			/* server -> clients */
	int64_t		bytes_out;			/* clients -> server */
	int			retries;			/* failed attempts in a row now */
	int64_t		reconnects;			/* successful reconnections since start */
	char		last_error[256];	/* "" when none */
	int64_t		started_at_ms;		/* Unix ms when the helper started */
	stats_histogram latency[LATENCY_KINDS];
	int64_t		latency_failed[LATENCY_KINDS];	/* of which failed */
	int64_t		events[EVENT_COUNT];	/* sent, by event_list.h's id */
	int64_t		events_dropped;		/* lost to a full spool, since start */
} stats_snapshot;

/* The total of refused[]. */
extern int64_t stats_refused_total(const stats_snapshot *snap);



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
extern void stats_add_refusal(refused_reason reason);
extern void stats_observe(stats_latency kind, int64_t us, bool failed);
extern void stats_count_event(event_id id);
extern void stats_add_events_dropped(int64_t n);
extern void stats_add_bytes(int64_t in, int64_t out);

#endif							/* CHATGENIUS_STATS_H */
