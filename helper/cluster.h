/*
 * cluster.h
 *		Which database host each new client goes to.  POSTGRES_REMOTE_HOST
 *		may list a primary and its standbys (libpq's host=a,b): the prober
 *		(prober.c) tells this module what each host said, and the module
 *		decides the one primary (never two: with Patroni, the leader that a
 *		majority of the nodes' DCS views name; else the higher timeline,
 *		never leaving a primary that still answers as one), picks a standby
 *		for the read-only listener, and emits primary_changed, split_brain,
 *		standby_down and standby_lagging.  With one host, that host is the
 *		primary from the start and nothing is probed: the tunnel behaves as
 *		it always did.
 */
#ifndef CHATGENIUS_CLUSTER_H
#define CHATGENIUS_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* What a probe found a host to be. */
typedef enum host_role
{
	ROLE_UNKNOWN = 0,			/* not probed yet */
	ROLE_PRIMARY,				/* accepts writes (or Patroni's leader) */
	ROLE_STANDBY,				/* in recovery, streaming */
	ROLE_DOWN					/* no answer, or neither */
} host_role;

typedef struct host_probe
{
	host_role	role;
	bool		leader;			/* Patroni: GET /primary answered 200 (the
								 * node's own word) */
	int64_t		timeline;		/* a primary's timeline; -1 unknown */
	int64_t		lag_ms;			/* a standby's replay lag; -1 unknown */
	/* Patroni: the cluster as this node's GET /cluster tells the DCS */
	bool		view;			/* a valid answer came */
	int			view_leader;	/* the host it names as leader; -1: none of
								 * the hosts (or no leader) */
	uint32_t	view_replicas;	/* bit i: it lists host i as a running
								 * replica */
	bool		view_unlisted;	/* its leader is none of the hosts: */
	char		view_leader_seen[160];	/* that leader, as the view names it */
	char		error[512];		/* why ROLE_DOWN */
} host_probe;

/* Take the host list of cfg (kept by reference).  Returns nothing. */
extern void cluster_init(const tunnel_config *cfg);

/* True when there is more than one host: the prober has work. */
extern bool cluster_probing(void);

/* How many hosts; their name and PostgreSQL port. */
extern int	cluster_nhosts(void);
extern const char *cluster_host_name(int i);
extern int	cluster_host_port(int i);

/* The primary's index, or -1 while none is known. */
extern int	cluster_primary(void);

/*
 * The host a new client goes to: the primary, or for the read-only
 * listener (standby) a streaming standby within TUNNEL_STANDBY_MAX_LAG,
 * round robin, else the primary.  Returns the index, or -1 while no host
 * qualifies (the client waits).  *as_primary says which role it was
 * routed for; *epoch is the host's primary epoch then (see below).
 */
extern int	cluster_pick(bool standby, bool *as_primary, uint32_t *epoch);

/*
 * Bumped each time host i stops being the primary: a client routed to it
 * as primary under an older epoch is on a demoted node and is closed
 * (HAProxy's on-marked-down shutdown-sessions).
 */
extern uint32_t cluster_primary_epoch(int i);

/*
 * A round of probes (one per host, in host order), with how it was
 * detected ("patroni" or "sql") and why it ran ("interval",
 * "channel_failed").  Decides the primary and emits the events.  Returns
 * true when the routing changed (the pool then serves waiting clients and
 * closes those left on a demoted node).
 */
extern bool cluster_apply(const host_probe *probes, const char *method, const char *trigger);

/*
 * The routing as text for the logs and the status row, e.g.
 * "primary=10.0.0.2:5432 standby=10.0.0.3:5432" ("primary=none" while
 * none is known).  Returns buf.
 */
extern const char *cluster_describe(char *buf, size_t len);

/*
 * The routing for report_routes(): the primary's "host:port" into primary
 * ("" while none is known) and the qualifying standbys as a text[] literal
 * ("{h:p,h:p}") into standbys.  Returns nothing.
 */
extern void cluster_routes(char *primary, size_t plen, char *standbys, size_t slen);

#endif							/* CHATGENIUS_CLUSTER_H */
