/*
 * patroni.h
 *		What one node's Patroni REST API says (POSTGRES_PATRONI_PORT), asked
 *		through the SSH connection: GET /cluster, the DCS view (every member
 *		and which one holds the leader key), and GET /primary and /replica,
 *		the node's own word, as HAProxy's Patroni checks ask it.  Only the
 *		JSON body is read (http_answer.h, json.h), never a header, each
 *		answer bounded in size (PATRONI_ANSWER_MAX) and in time (the probe's
 *		bound).  Whom to follow is cluster.c's decision, not this module's.
 */
#ifndef CHATGENIUS_PATRONI_H
#define CHATGENIUS_PATRONI_H

#include "cluster.h"
#include "config.h"

#define PATRONI_ANSWER_MAX 65536	/* a longer answer is refused */

/*
 * Probes host i's API within timeout_ms per request into *p: role
 * (ROLE_PRIMARY when /primary says 200, ROLE_STANDBY when /replica does,
 * else ROLE_DOWN with error), leader, timeline, and the view fields.  A
 * node that gives no answer to /cluster in time is not asked the rest.
 * Returns nothing.
 */
extern void patroni_probe(const tunnel_config *cfg, int i, int timeout_ms, host_probe *p);

#endif							/* CHATGENIUS_PATRONI_H */
