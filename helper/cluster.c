/*
 * cluster.c
 *		The routing decision (see cluster.h).  No node's word about itself
 *		is enough to take the writes:
 *
 *		- With Patroni (POSTGRES_PATRONI_PORT), the DCS's leader key is the
 *		  one authority.  Each reachable node's GET /cluster names the
 *		  leader it sees; the leader that a strict majority of those views
 *		  name is followed, once its own GET /primary agrees.  With no
 *		  majority (no view, or views that disagree), the current primary is
 *		  kept while it still says it leads, and no other is taken.  A
 *		  standby must be listed as a running replica by a majority too.
 *		- Probing in SQL, a primary that still answers as one is never left;
 *		  once it stops (a standby now, or no answer), the host answering as
 *		  primary on the highest timeline is followed, provided that
 *		  timeline is higher than the one followed before (or it is the same
 *		  host back): an old primary come back on its old timeline is not.
 *
 *		A host that says it is primary and is not followed is logged as
 *		split_brain (once a minute at most, whatever it answers in between).
 *		No host is ever routed to as primary while another is.  While no
 *		host qualifies, new clients wait (up to TUNNEL_CLIENT_WAIT) rather
 *		than being sent to a read-only node.  doc/operations.md tells the
 *		rule to operators.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "cluster.h"
#include "events.h"
#include "log.h"

#define SPLIT_REPEAT_MS 60000	/* split_brain for one host, at most this often */

typedef struct host_state
{
	host_probe	last;
	bool		lagging;
	int64_t		split_logged_ms;	/* when split_brain was last emitted; 0 never */
	atomic_uint epoch;			/* bumped when it stops being the primary */
} host_state;

static struct
{
	pthread_mutex_t lock;
	const tunnel_config *cfg;
	int			n;
	host_state	hosts[CONFIG_HOSTS_MAX];
	int			primary;		/* -1: none known */
	int			last_known;		/* the last primary there was, or -1 */
	int64_t		last_timeline;	/* its timeline when last seen; -1 unknown */
	bool		disagree;		/* the DCS views name no leader by majority */
	bool		unlisted;		/* their leader is none of the hosts */
	int64_t		no_primary_since_ms;	/* 0: there is one */
	unsigned int next_standby;	/* round robin */
}			cl = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.primary = -1,
	.last_known = -1,
	.last_timeline = -1,
};

/* Returns nothing; with one host, that host is the primary for good. */
void
cluster_init(const tunnel_config *cfg)
{
	pthread_mutex_lock(&cl.lock);
	cl.cfg = cfg;
	cl.n = cfg->nhosts > 0 ? cfg->nhosts : 1;
	for (int i = 0; i < CONFIG_HOSTS_MAX; i++)
	{
		memset(&cl.hosts[i].last, 0, sizeof(cl.hosts[i].last));
		cl.hosts[i].lagging = false;
		cl.hosts[i].split_logged_ms = 0;
	}
	cl.primary = cl.n == 1 ? 0 : -1;
	cl.last_known = cl.primary;
	cl.last_timeline = -1;
	cl.disagree = false;
	cl.unlisted = false;
	cl.no_primary_since_ms = cl.n == 1 ? 0 : clock_now_ms();
	cl.next_standby = 0;
	pthread_mutex_unlock(&cl.lock);
}

/* Returns true when there is more than one host to follow. */
bool
cluster_probing(void)
{
	return cl.n > 1;
}

/* Returns the number of hosts. */
int
cluster_nhosts(void)
{
	return cl.n;
}

/* Returns host i's name as the SSH server resolves it. */
const char *
cluster_host_name(int i)
{
	if (cl.cfg == NULL || cl.cfg->nhosts == 0)
		return cl.cfg ? cl.cfg->remote_host : "localhost";
	return cl.cfg->hosts[i].name;
}

/* Returns host i's PostgreSQL port. */
int
cluster_host_port(int i)
{
	if (cl.cfg == NULL || cl.cfg->nhosts == 0)
		return cl.cfg ? cl.cfg->remote_port : 5432;
	return cl.cfg->hosts[i].port;
}

/* Returns the primary's index, or -1. */
int
cluster_primary(void)
{
	int			p;

	pthread_mutex_lock(&cl.lock);
	p = cl.primary;
	pthread_mutex_unlock(&cl.lock);
	return p;
}

/* Returns host i's primary epoch. */
uint32_t
cluster_primary_epoch(int i)
{
	return atomic_load(&cl.hosts[i].epoch);
}

/* True when standby i may take a new read-only session.  Lock held. */
static bool
standby_qualifies(int i)
{
	const host_probe *p = &cl.hosts[i].last;

	return p->role == ROLE_STANDBY && p->lag_ms >= 0 &&
		p->lag_ms <= cl.cfg->standby_max_lag_ms;
}

/* Returns the host for a new client, or -1 (see cluster.h). */
int
cluster_pick(bool standby, bool *as_primary, uint32_t *epoch)
{
	int			r = -1;

	pthread_mutex_lock(&cl.lock);
	if (standby && cl.n > 1)
	{
		for (int k = 0; k < cl.n && r < 0; k++)
		{
			int			i = (int) ((cl.next_standby + k) % cl.n);

			if (i != cl.primary && standby_qualifies(i))
			{
				r = i;
				cl.next_standby = (unsigned int) i + 1;
			}
		}
	}
	*as_primary = r < 0;
	if (r < 0)
		r = cl.primary;			/* prefer-standby: fall back to the primary */
	*epoch = r >= 0 ? atomic_load(&cl.hosts[r].epoch) : 0;
	pthread_mutex_unlock(&cl.lock);
	return r;
}

/* "name:port" of host i into buf.  Returns buf. */
static const char *
host_text(int i, char *buf, size_t len)
{
	if (i < 0)
		snprintf(buf, len, "none");
	else
		snprintf(buf, len, "%s:%d", cluster_host_name(i), cluster_host_port(i));
	return buf;
}

/*
 * With Patroni: the leader a strict majority of the valid DCS views name
 * (into *agreed, else -1) if its own /primary agrees; without a majority,
 * the current primary while it still says it leads.  Standbys that no
 * majority lists as running replicas are taken for down.  Lock held.
 * Returns the index or -1.
 */
static int
choose_patroni(host_probe *probes, int *agreed)
{
	int			votes[CONFIG_HOSTS_MAX] = {0};
	int			views = 0,
				unlisted = 0;
	const char *seen = "";

	*agreed = -1;
	for (int i = 0; i < cl.n; i++)
		if (probes[i].view)
		{
			views++;
			if (probes[i].view_leader >= 0 && probes[i].view_leader < cl.n)
				votes[probes[i].view_leader]++;
			if (probes[i].view_unlisted)
			{
				unlisted++;
				seen = probes[i].view_leader_seen;
			}
		}
	if ((unlisted * 2 > views) != cl.unlisted)
	{
		cl.unlisted = !cl.unlisted;
		if (cl.unlisted)
			log_msg(LOG_WARN, "cluster_leader_not_listed", "leader=%s views=%d hint=\"name the "
					"nodes in POSTGRES_REMOTE_HOST as Patroni's connect_address does\"", seen, views);
	}
	for (int i = 0; i < cl.n; i++)
	{
		int			listed = 0;

		if (votes[i] * 2 > views)
			*agreed = i;
		for (int v = 0; v < cl.n; v++)
			if (probes[v].view && (probes[v].view_replicas & (1u << i)))
				listed++;
		if (probes[i].role == ROLE_STANDBY && listed * 2 <= views)
		{
			probes[i].role = ROLE_DOWN;
			snprintf(probes[i].error, sizeof(probes[i].error),
					 "Patroni: says replica, but %d of %d cluster views list it as a running replica",
					 listed, views);
		}
	}
	if ((*agreed < 0 && views > 1) != cl.disagree)
	{
		char		h[300];

		cl.disagree = !cl.disagree;
		if (cl.disagree)
			log_msg(LOG_WARN, "cluster_views_disagree", "views=%d kept=%s", views,
					host_text(cl.primary >= 0 && probes[cl.primary].leader ? cl.primary : -1,
							  h, sizeof(h)));
		else
			log_msg(LOG_INFO, "cluster_views_agree", "views=%d", views);
	}
	if (*agreed >= 0)
		return probes[*agreed].leader ? *agreed : -1;
	if (cl.primary >= 0 && probes[cl.primary].leader)
		return cl.primary;
	return -1;
}

/*
 * Probing in SQL: the current primary while it answers as one; else the
 * host answering as primary on the highest timeline, if that is higher
 * than the last primary's or it is that same host.  Lock held.  Returns
 * the index or -1.
 */
static int
choose_sql(const host_probe *probes)
{
	int			best = -1;

	if (cl.primary >= 0 && probes[cl.primary].role == ROLE_PRIMARY)
		return cl.primary;
	for (int i = 0; i < cl.n; i++)
	{
		const host_probe *p = &probes[i];

		if (p->role != ROLE_PRIMARY)
			continue;
		if (cl.last_known >= 0 && i != cl.last_known && p->timeline <= cl.last_timeline)
			continue;			/* not past the primary followed before */
		if (best < 0 || p->timeline > probes[best].timeline)
			best = i;
	}
	return best;
}

/*
 * Emits split_brain for host i, which claims to be primary and is not
 * followed (chosen, or none), unless it was emitted for it less than
 * SPLIT_REPEAT_MS ago.  Lock held.  Returns nothing.
 */
static void
split_brain(int i, const host_probe *probes, int chosen, int agreed, int views,
			const char *method, int64_t now)
{
	host_state *h = &cl.hosts[i];
	char		a[300],
				b[300],
				c[300];
	char		dcs[400] = "";

	if (h->split_logged_ms != 0 && now - h->split_logged_ms < SPLIT_REPEAT_MS)
		return;
	h->split_logged_ms = now;
	if (strcmp(method, "patroni") == 0)
		snprintf(dcs, sizeof(dcs), " cluster_leader=%s views=%d", host_text(agreed, c, sizeof(c)),
				 views);
	event_emit(EV_SPLIT_BRAIN,
			   "host=%s timeline=%" PRId64 " followed=%s followed_timeline=%" PRId64
			   " detected=%s%s", host_text(i, a, sizeof(a)), probes[i].timeline,
			   host_text(chosen, b, sizeof(b)), chosen >= 0 ? probes[chosen].timeline : -1,
			   method, dcs);
}

/* Returns true when the routing changed (see cluster.h). */
bool
cluster_apply(const host_probe *given, const char *method, const char *trigger)
{
	bool		patroni = strcmp(method, "patroni") == 0;
	int64_t		now = clock_now_ms();
	host_probe	probes[CONFIG_HOSTS_MAX];
	int			old,
				chosen,
				agreed = -1,
				views = 0;
	bool		changed = false;
	char		a[300],
				b[300];

	pthread_mutex_lock(&cl.lock);
	memcpy(probes, given, sizeof(host_probe) * (size_t) cl.n);
	old = cl.primary;
	chosen = patroni ? choose_patroni(probes, &agreed) : choose_sql(probes);
	for (int i = 0; i < cl.n; i++)
		views += probes[i].view ? 1 : 0;
	for (int i = 0; i < cl.n; i++)
	{
		host_state *h = &cl.hosts[i];
		const host_probe *p = &probes[i];
		bool		claims = p->role == ROLE_PRIMARY && i != chosen &&
			(chosen >= 0 || agreed >= 0 || (!patroni && cl.last_known >= 0));
		bool		lagging = p->role == ROLE_STANDBY && p->lag_ms > cl.cfg->standby_max_lag_ms;

		if (claims)
			split_brain(i, probes, chosen, agreed, views, method, now);
		if (i != chosen && p->role == ROLE_DOWN && h->last.role != ROLE_DOWN)
			event_emit(EV_STANDBY_DOWN, "host=%s detected=%s error=\"%s\"",
					   host_text(i, a, sizeof(a)), method, p->error);
		if (lagging && !h->lagging)
			event_emit(EV_STANDBY_LAGGING, "host=%s lag_ms=%" PRId64 " max_lag_ms=%d",
					   host_text(i, a, sizeof(a)), p->lag_ms, cl.cfg->standby_max_lag_ms);
		else if (!lagging && h->lagging && p->role == ROLE_STANDBY)
			log_msg(LOG_INFO, "standby_caught_up", "host=%s lag_ms=%" PRId64,
					host_text(i, a, sizeof(a)), p->lag_ms);
		if (p->role == ROLE_STANDBY && h->last.role != ROLE_STANDBY)
			changed = true;		/* the read-only listener has a new choice */
		h->lagging = lagging;
		h->last = *p;
	}
	/*
	 * The old primary loses its clients only when it is known to be
	 * something else now (a standby, or another host leads): a probe that
	 * merely got no answer proves nothing against its sessions.
	 */
	if (old >= 0 && old != chosen && (chosen >= 0 || probes[old].role == ROLE_STANDBY))
		atomic_fetch_add(&cl.hosts[old].epoch, 1);
	if (chosen != old)
	{
		changed = true;
		if (chosen < 0)
		{
			cl.no_primary_since_ms = now;
			log_msg(LOG_WARN, "primary_lost", "old=%s detected=%s trigger=%s role=%s error=\"%s\"",
					host_text(old, a, sizeof(a)), method, trigger,
					probes[old].role == ROLE_STANDBY ? "standby" : "down", probes[old].error);
		}
		else
		{
			int64_t		without = cl.no_primary_since_ms ? now - cl.no_primary_since_ms : 0;

			if (cl.last_known >= 0 && cl.last_known != chosen)
				event_emit(EV_PRIMARY_CHANGED,
						   "old=%s new=%s detected=%s trigger=%s without_primary_ms=%" PRId64
						   " timeline=%" PRId64, host_text(cl.last_known, a, sizeof(a)),
						   host_text(chosen, b, sizeof(b)), method, trigger, without,
						   probes[chosen].timeline);
			else
				log_msg(LOG_INFO, "primary_found", "host=%s detected=%s without_primary_ms=%" PRId64,
						host_text(chosen, a, sizeof(a)), method, without);
			cl.last_known = chosen;
			cl.no_primary_since_ms = 0;
		}
		cl.primary = chosen;
	}
	if (chosen >= 0 && probes[chosen].timeline >= 0)
		cl.last_timeline = probes[chosen].timeline;
	pthread_mutex_unlock(&cl.lock);
	return changed;
}

/* Returns buf: "primary=HOST standby=HOST,HOST" for logs and reports. */
const char *
cluster_describe(char *buf, size_t len)
{
	size_t		o;
	char		h[300];
	bool		any = false;

	pthread_mutex_lock(&cl.lock);
	o = (size_t) snprintf(buf, len, "primary=%s", host_text(cl.primary, h, sizeof(h)));
	for (int i = 0; i < cl.n && o < len; i++)
		if (i != cl.primary && standby_qualifies(i))
		{
			o += (size_t) snprintf(buf + o, len - o, "%s%s", any ? "," : " standby=",
								   host_text(i, h, sizeof(h)));
			any = true;
		}
	pthread_mutex_unlock(&cl.lock);
	return buf;
}

/* Returns nothing; fills primary and standbys (see cluster.h). */
void
cluster_routes(char *primary, size_t plen, char *standbys, size_t slen)
{
	size_t		o;
	char		h[300];

	pthread_mutex_lock(&cl.lock);
	if (cl.primary < 0)
		primary[0] = '\0';
	else
		host_text(cl.primary, primary, plen);
	o = (size_t) snprintf(standbys, slen, "{");
	for (int i = 0; i < cl.n && o < slen; i++)
		if (i != cl.primary && standby_qualifies(i))
			o += (size_t) snprintf(standbys + o, slen - o, "%s\"%s\"", o > 1 ? "," : "",
								   host_text(i, h, sizeof(h)));
	if (o < slen)
		snprintf(standbys + o, slen - o, "}");
	pthread_mutex_unlock(&cl.lock);
}
