/*
 * prober.c
 *		The probes of every database host (see prober.h).  They run in the
 *		janitor's thread, one host after the other, each bounded, over the
 *		pool's reserved path (never queued behind clients): a Patroni probe
 *		asks the node's REST API (patroni.c); an SQL probe is a libpq login
 *		through the health check's room, sent to that host
 *		(pool_set_check_route).
 */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cluster.h"
#include "health_room.h"
#include "log.h"
#include "patroni.h"
#include "pgconn.h"
#include "pool.h"
#include "prober.h"

#define PROBE_MAX_MS	2000	/* one request of a probe, at most */

static atomic_int requested;	/* a prober_trigger; 0: none */
static void (*wake_runner) (void);	/* wakes the thread that runs the rounds */
static int64_t last_asked_ms = -PROBE_REQUEST_GAP_MS;	/* the janitor's only */

/*
 * The SQL probe: role, timeline of a primary, replay lag of a standby (0
 * when it has replayed all it received; else the age of the last commit
 * it replayed, or of its start when it replayed none yet).
 */
static const char *const probe_sql =
"SELECT pg_catalog.pg_is_in_recovery(), "
"CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN "
"('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))"
"::bit(32)::integer END, "
"CASE WHEN NOT pg_catalog.pg_is_in_recovery() THEN 0 "
"WHEN pg_catalog.pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_catalog.pg_last_wal_replay_lsn() "
"THEN 0 "
"ELSE (extract(epoch FROM pg_catalog.now() - coalesce(pg_catalog.pg_last_xact_replay_timestamp(), "
"pg_catalog.pg_postmaster_start_time())) * 1000)::bigint END";

/* Returns nothing; keeps the wake-up for prober_request. */
void
prober_init(void (*wake) (void))
{
	wake_runner = wake;
}

/* Returns nothing; wakes the janitor for a round at once. */
void
prober_request(prober_trigger why)
{
	if (!cluster_probing())
		return;
	atomic_store(&requested, (int) why);
	if (wake_runner != NULL)
		wake_runner();
}

/* Returns when the pending request may run, or -1; see prober.h. */
int64_t
prober_request_due(void)
{
	return atomic_load(&requested) == 0 ? -1 : last_asked_ms + PROBE_REQUEST_GAP_MS;
}

/* Returns the pending request's trigger once it may run; see prober.h. */
const char *
prober_take_request(void)
{
	int64_t		now = clock_now_ms();
	int			why;

	if (atomic_load(&requested) == 0 || now - last_asked_ms < PROBE_REQUEST_GAP_MS)
		return NULL;
	why = atomic_exchange(&requested, 0);	/* the janitor alone takes it: not 0 */
	last_asked_ms = now;
	return why == PROBE_READ_ONLY ? "read_only" : "channel_failed";
}

/* The bound of one probe: SSH_CONNECT_TIMEOUT, at most PROBE_MAX_MS. */
static int
probe_ms(const tunnel_config *cfg)
{
	return cfg->connect_timeout_ms < PROBE_MAX_MS ? cfg->connect_timeout_ms : PROBE_MAX_MS;
}

/*
 * Host i's own word, in SQL through the health check's room: p->role,
 * timeline and lag.  Returns nothing (ROLE_DOWN with p->error on failure).
 */
static void
probe_sql_host(const tunnel_config *cfg, int room_port, int i, host_probe *p)
{
	tunnel_config via = *cfg;
	int64_t		t0 = clock_now_ms();
	int64_t		deadline = t0 + probe_ms(cfg);
	char		err[512],
				why[256];
	PGconn	   *conn;
	PGresult   *res;

	via.listen_host = (char *) "127.0.0.1";
	pool_set_check_route(i);
	health_room_expect();
	conn = pg_connect(&via, room_port, deadline, err, sizeof(err));
	health_room_done();
	pool_set_check_route(-1);
	if (conn == NULL)
	{
		/* libpq saw the channel close: the SSH server's reason says more */
		if (pool_channel_refused_since(t0, why, sizeof(why)))
			snprintf(p->error, sizeof(p->error), "%s", why);
		else
			snprintf(p->error, sizeof(p->error), "%s", err);
		return;
	}
	res = pg_exec(conn, probe_sql, 0, NULL, deadline, err, sizeof(err));
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
	{
		if (res != NULL)
			pg_one_line(err, sizeof(err), PQresultErrorMessage(res));
		snprintf(p->error, sizeof(p->error), "%s", err);
	}
	else
	{
		bool		recovery = strcmp(PQgetvalue(res, 0, 0), "t") == 0;

		p->role = recovery ? ROLE_STANDBY : ROLE_PRIMARY;
		p->timeline = PQgetisnull(res, 0, 1) ? -1 : strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		p->lag_ms = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	}
	if (res != NULL)
		PQclear(res);
	PQfinish(conn);
}

/* Returns nothing; see prober.h. */
void
prober_round(const tunnel_config *cfg, int room_port, const char *trigger)
{
	host_probe	probes[CONFIG_HOSTS_MAX];
	int			n = cluster_nhosts();
	bool		patroni = cfg->patroni_port > 0;
	int64_t		t0 = clock_now_ms();

	if (!cluster_probing())
		return;
	for (int i = 0; i < n; i++)
	{
		host_probe *p = &probes[i];

		memset(p, 0, sizeof(*p));
		p->role = ROLE_DOWN;
		p->timeline = -1;
		p->lag_ms = -1;
		p->view_leader = -1;
		if (patroni)
		{
			patroni_probe(cfg, i, probe_ms(cfg), p);
			/* Patroni says replica; the lag is PostgreSQL's to tell in ms. */
			if (p->role == ROLE_STANDBY && cfg->standby_port > 0)
			{
				host_probe	q = *p;

				probe_sql_host(cfg, room_port, i, &q);
				if (q.role == ROLE_STANDBY)
					p->lag_ms = q.lag_ms;
			}
		}
		else
			probe_sql_host(cfg, room_port, i, p);
		log_msg(LOG_DEBUG, "probe", "host=%s:%d role=%d leader=%d timeline=%" PRId64
				" lag_ms=%" PRId64 " view=%d view_leader=%d trigger=%s error=\"%s\"",
				cluster_host_name(i), cluster_host_port(i), (int) p->role, (int) p->leader,
				p->timeline, p->lag_ms, (int) p->view, p->view_leader, trigger, p->error);
	}
	/* Without a live session no probe could go anywhere: that says nothing of the hosts. */
	if (pool_live_sessions() == 0)
	{
		log_msg(LOG_DEBUG, "probes_skipped", "reason=\"no live SSH session\" trigger=%s", trigger);
		return;
	}
	if (cluster_apply(probes, patroni ? "patroni" : "sql", trigger))
	{
		char		routes[1024];

		pool_routes_changed();
		log_msg(LOG_INFO, "routes", "%s probe_ms=%" PRId64,
				cluster_describe(routes, sizeof(routes)), clock_now_ms() - t0);
	}
}
