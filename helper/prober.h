/*
 * prober.h
 *		Asks every database host what it is, through the SSH connection, and
 *		hands the answers to cluster.c.  With POSTGRES_PATRONI_PORT: a
 *		minimal HTTP/1.0 GET /primary (and /replica) over a direct-tcpip
 *		channel to host:patroni_port, as HAProxy's Patroni checks do.
 *		Without: SQL through the health check's room (pg_is_in_recovery(),
 *		the timeline, the replay lag).  Standbys' replay lag is always asked
 *		in SQL when TUNNEL_STANDBY_PORT is set (Patroni's ?lag= is in bytes).
 */
#ifndef CHATGENIUS_PROBER_H
#define CHATGENIUS_PROBER_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

/*
 * Takes the function that wakes the thread running the rounds (the
 * janitor's janitor_wake, passed in as pool_init takes it: the prober does
 * not reach back up to the janitor).  Returns nothing.
 */
extern void prober_init(void (*wake) (void));

/*
 * One round: probe each host (bounded per host), then cluster_apply, then
 * pool_routes_changed when the routing moved.  room_port is the health
 * check's endpoint; trigger says why ("interval", "channel_failed").
 * Called by the janitor only.  Returns nothing.
 */
extern void prober_round(const tunnel_config *cfg, int room_port, const char *trigger);

/* Why a round was asked for outside the schedule. */
typedef enum prober_trigger
{
	PROBE_CHANNEL_FAILED = 1,	/* a client's channel open failed */
	PROBE_READ_ONLY,			/* a write met a read-only node (SQLSTATE 25006) */
} prober_trigger;

/*
 * From any thread: probe at once (the janitor is woken).  Asked-for rounds
 * run at most once per PROBE_REQUEST_GAP_MS, so that a client provoking
 * errors in a loop cannot turn the tunnel into a storm of probe
 * connections to every host.
 */
#define PROBE_REQUEST_GAP_MS 250
extern void prober_request(prober_trigger why);

/* When a pending request may run (clock_now_ms), or -1 when none is pending. */
extern int64_t prober_request_due(void);

/*
 * The janitor takes the request: returns its trigger's name once, or NULL
 * when none is pending or the last asked-for round is too recent.
 */
extern const char *prober_take_request(void);

#endif							/* CHATGENIUS_PROBER_H */
