/*
 * cluster.c
 *		The routing decision (see cluster.h).  The rule, as documented in
 *		doc/hacking.md: a host is the primary when it says so; with Patroni
 *		(POSTGRES_PATRONI_PORT) only the host whose GET /primary answers 200
 *		qualifies, since Patroni's leader lock is the one authority; without
 *		it, when two hosts both accept writes (a plain streaming pair after
 *		pg_ctl promote with the old primary still up), the one on the higher
 *		timeline is followed, on a tie the current one, and the others are
 *		logged as split_brain.  No host is ever routed to as primary while
 *		another is.  While no host qualifies, new clients wait (up to
 *		TUNNEL_CLIENT_WAIT) rather than being sent to a read-only node.
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

typedef struct host_state
{
	host_probe	last;
	bool		lagging;
	bool		split;			/* logged as split_brain */
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
	int64_t		no_primary_since_ms;	/* 0: there is one */
	unsigned int next_standby;	/* round robin */
}			cl = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.primary = -1,
	.last_known = -1,
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
		cl.hosts[i].lagging = cl.hosts[i].split = false;
	}
	cl.primary = cl.n == 1 ? 0 : -1;
	cl.last_known = cl.primary;
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
 * The primary the probes name, by the rule in the file header.  Lock
 * held.  Returns the index or -1.
 */
static int
choose_primary(const host_probe *probes, bool patroni)
{
	int			best = -1;

	for (int i = 0; i < cl.n; i++)
	{
		const host_probe *p = &probes[i];

		if (p->role != ROLE_PRIMARY || (patroni && !p->leader))
			continue;
		if (best < 0 || p->timeline > probes[best].timeline ||
			(p->timeline == probes[best].timeline && i == cl.primary))
			best = i;
	}
	return best;
}

/* Returns true when the routing changed (see cluster.h). */
bool
cluster_apply(const host_probe *probes, const char *method, const char *trigger)
{
	bool		patroni = strcmp(method, "patroni") == 0;
	int64_t		now = clock_now_ms();
	int			old,
				chosen;
	bool		changed = false;
	char		a[300],
				b[300];

	pthread_mutex_lock(&cl.lock);
	old = cl.primary;
	chosen = choose_primary(probes, patroni);
	for (int i = 0; i < cl.n; i++)
	{
		host_state *h = &cl.hosts[i];
		const host_probe *p = &probes[i];
		bool		claims = p->role == ROLE_PRIMARY && i != chosen && chosen >= 0;
		bool		lagging = p->role == ROLE_STANDBY && p->lag_ms > cl.cfg->standby_max_lag_ms;

		if (claims && !h->split)
			event_emit(EV_SPLIT_BRAIN,
					   "host=%s timeline=%" PRId64 " followed=%s followed_timeline=%" PRId64
					   " detected=%s", host_text(i, a, sizeof(a)), p->timeline,
					   host_text(chosen, b, sizeof(b)), probes[chosen].timeline, method);
		h->split = claims;
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
