/*
 * janitor.c
 *		The tunnel's keeper: at start and every SSH_HEALTH_CHECK_INTERVAL ms
 *		a round trip through the tunnel (reporter_check), judged by what it
 *		proves: a database fault is reported and nothing is closed; no
 *		answer through a session closes that session and checks again on
 *		another; a second failure, or every session lost, starts the
 *		reconnection cycle: SSH_RETRY_DELAY * 2^(n-1) with +-20% jitter, up
 *		to SSH_MAX_RETRIES attempts, then maxRetriesExceeded.
 *		Authentication and host key failures end the tunnel at once (exit
 *		3).  Signal requests are handled here, out of signal context.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "events.h"
#include "janitor.h"
#include "listener.h"
#include "log.h"
#include "pool.h"
#include "service_thread.h"
#include "prober.h"
#include "reporter.h"
#include "ssh_session.h"
#include "stats.h"
#include "status_board.h"

#define CONNECT_STOPPED (-1)
#define NO_PRIMARY_PROBE_MS 250	/* probes while no primary is known */
#define DRAIN_POLL_MS	50		/* how often a drain looks for the last client */

static tunnel_config *jcfg;
static int	jport;
static service_thread jthread = SERVICE_THREAD_INIT;	/* its eventfd exists before the thread */
/*
 * Written by signal handlers (in whichever thread the signal lands) and
 * read by the janitor thread: lock-free C11 atomics, which are both
 * async-signal-safe and free of data races across threads.
 */
static atomic_int req_stop;
static atomic_int req_drain;
static atomic_int req_reload;
static atomic_int req_stats;
static bool drain_here;			/* in janitor_main's own pass: a drain may run */
static int64_t drain_until;		/* the drain's deadline (0: no drain) */
static bool db_fault;			/* the last check found a database fault */
static char db_fault_error[1024];
static int	jresult = EXIT_CLEAN;
static unsigned int jitter_seed;

/* Returns 0 once the wake-up eventfd exists. */
int
janitor_init(tunnel_config *cfg)
{
	jcfg = cfg;
	jitter_seed = (unsigned int) time(NULL) ^ (unsigned int) getpid();
	char		err[256];

	if (service_thread_prepare(&jthread, err, sizeof(err)) != 0)
	{
		log_msg(LOG_ERROR, "thread_start_failed", "thread=janitor error=\"%s\"", err);
		return -1;
	}
	return 0;
}

/* Wakes the janitor's poll; async-signal-safe (one write(2)). */
void
janitor_wake(void)
{
	service_thread_wake(&jthread);
}

/* Notes a signal's request; async-signal-safe. */
void
janitor_request(janitor_request_kind kind)
{
	if (kind == JANITOR_STOP)
		atomic_store(&req_stop, 1);
	else if (kind == JANITOR_DRAIN)
		atomic_store(&req_drain, 1);
	else if (kind == JANITOR_RELOAD)
		atomic_store(&req_reload, 1);
	else
		atomic_store(&req_stats, 1);
	janitor_wake();
}

/*
 * Serves the reload and stats requests; returns true when a stop is asked,
 * or a drain while no drain can run (at the first connection, or during a
 * reconnection: no client is carried then, and waiting ones are told why).
 */
static bool
handle_requests(void)
{
	service_thread_drain(&jthread);
	if (atomic_exchange(&req_reload, 0))
	{
		char		err[512];

		board_reloading();
		if (pool_reload_config(err, sizeof(err)) == 0)
			log_msg(LOG_INFO, "config_reloaded", "pool_size=%d channels_per_session=%d",
					jcfg->pool_size, jcfg->channels_per_session);
		else
		{
			char		q[600];

			log_msg(LOG_WARN, "config_reload_failed", "error=%s", log_quote(q, sizeof(q), err));
		}
		board_reloaded(jcfg);
	}
	if (atomic_exchange(&req_stats, 0))
		pool_log_stats();
	return atomic_load(&req_stop) != 0 || (atomic_load(&req_drain) != 0 && !drain_here);
}

/*
 * The drain (the first SIGTERM): no new client is taken (listener_drain),
 * the clients held are served on until they close or
 * TUNNEL_SHUTDOWN_TIMEOUT ends.  Called once per janitor pass.  Returns
 * true when the drain is over and the tunnel may stop.
 */
static bool
drain_step(void)
{
	int			held = pool_clients_held();

	if (drain_until == 0)
	{
		int			timeout = jcfg->shutdown_timeout_ms;

		drain_until = clock_now_ms() + timeout;
		listener_drain();
		pool_drain();
		board_draining(held, timeout);
		log_msg(LOG_INFO, "draining", "clients=%d timeout_ms=%d detail=\"%s\"", held, timeout,
				"served clients may finish; a second SIGTERM or SIGINT stops at once");
	}
	return held == 0 || clock_now_ms() >= drain_until;
}

/*
 * Waits ms milliseconds while serving requests.  Returns true when a stop
 * was requested (the wait is cut short).
 */
static bool
wait_ms(int64_t ms)
{
	int64_t		deadline = clock_now_ms() + ms;

	for (;;)
	{
		struct pollfd pfd = {.fd = jthread.wake_fd,.events = POLLIN};
		int64_t		left = deadline - clock_now_ms();

		if (handle_requests())
			return true;
		board_tick();
		if (left <= 0)
			return false;
		if (poll(&pfd, 1, (int) (left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
		{
			log_msg(LOG_ERROR, "poll_failed", "error=\"%s\"", strerror(errno));
			return false;
		}
	}
}

/* Returns the n-th backoff delay: SSH_RETRY_DELAY * 2^(n-1), +-20% jitter. */
static int64_t
backoff_ms(int n)
{
	double		base = jcfg->retry_delay_ms;
	double		jitter = 0.8 + 0.4 * ((double) rand_r(&jitter_seed) / RAND_MAX);

	for (int i = 1; i < n && base < 3600.0 * 1000; i++)
		base *= 2;
	return (int64_t) (base * jitter);
}

/* Logs and records an authentication or host key refusal; returns EXIT_AUTH. */
static int
refused(const char *err)
{
	char		q[1200];

	stats_set_error(err);
	stats_set_state(STATE_FAILED);
	log_msg(LOG_ERROR, "ssh_refused", "error=%s (not retried)", log_quote(q, sizeof(q), err));
	return EXIT_AUTH;
}

/*
 * Several hosts: probe them all (prober.c), then say whether no primary
 * is known, in which case the health check has nowhere to go and is left
 * out: the probes just proved (or not) the path, and the clients wait for
 * a primary.  With one host: false, nothing probed.
 */
static bool
no_primary_after_probes(const char *trigger)
{
	if (!cluster_probing())
		return false;
	prober_round(jcfg, jport, trigger);
	return cluster_primary() < 0;
}

/*
 * One attempt: a new session and, when check is set, a round trip through
 * it.  A database fault (PostgreSQL refusing or not listening behind the
 * SSH server) still proves the SSH path: the attempt succeeded, and the
 * health checks report the fault from then on.  Returns SSH_OK,
 * SSH_FAIL_RETRY or SSH_FAIL_AUTH with err filled.
 */
static ssh_result
attempt(bool check, char *err, size_t errlen)
{
	ssh_result	r = pool_open_first(err, errlen);
	stats_snapshot snap;

	if (r != SSH_OK)
		return r;
	pool_resume();
	if (!check || no_primary_after_probes("reconnect"))
		return SSH_OK;
	stats_set_state(STATE_CONNECTED);
	stats_snapshot_take(&snap);
	snap.state = STATE_RECONNECTING;
	if (reporter_check(jcfg, jport, &snap, err, errlen) != CHECK_PATH)
		return SSH_OK;
	ssh_channel_failure_append(err, errlen, clock_now_ms() - jcfg->connect_timeout_ms);
	pool_pause();
	pool_close_all();
	stats_set_state(STATE_RECONNECTING);
	return SSH_FAIL_RETRY;
}

/*
 * The retry policy after a first failure (last_err): attempts 1..max with
 * backoff.  Returns EXIT_CLEAN once an attempt succeeded (*attempt_out is
 * its number), EXIT_AUTH, EXIT_GAVE_UP or CONNECT_STOPPED.
 */
static int
retry_cycle(bool check, char *last_err, size_t errlen, int *attempt_out)
{
	char		q[1200];
	int			max = jcfg->max_retries;

	for (int n = 1; n <= max; n++)
	{
		int64_t		delay = backoff_ms(n);
		ssh_result	r;

		stats_set_state(STATE_RECONNECTING);
		event_emit(EV_RECONNECTING, "attempt=%d max=%d delay_ms=%" PRId64 " error=%s",
				   n, max, delay, log_quote(q, sizeof(q), last_err));
		if (wait_ms(delay))
			return CONNECT_STOPPED;
		r = attempt(check, last_err, errlen);
		if (r == SSH_OK)
		{
			*attempt_out = n;
			return EXIT_CLEAN;
		}
		if (r == SSH_FAIL_AUTH)
			return refused(last_err);
		stats_set_error(last_err);
		stats_set_retries(n);
		if (atomic_load(&req_stop) || (atomic_load(&req_drain) && !drain_here))
			return CONNECT_STOPPED;
	}
	stats_set_state(STATE_FAILED);
	{
		char		msg[1100];

		snprintf(msg, sizeof(msg), "max retries exceeded (%d attempts): %s", max, last_err);
		stats_set_error(msg);
		event_emit(EV_MAX_RETRIES_EXCEEDED, "attempts=%d error=%s", max,
				   log_quote(q, sizeof(q), msg));
	}
	return EXIT_GAVE_UP;
}

/* Records a successful (re)connection: connected, no retries, no error. */
static void
mark_connected(void)
{
	stats_set_state(STATE_CONNECTED);
	stats_set_retries(0);
	stats_set_error(NULL);
}

/* Returns EXIT_CLEAN once the first session is up, else see janitor.h. */
int
janitor_first_connect(int listen_port, int port)
{
	char		err[1024] = "";
	char		q[300];
	ssh_result	r;
	int			n = 0,
				rc;

	jport = port;
	stats_set_state(STATE_CONNECTING);
	if (atomic_load(&req_stop) || atomic_load(&req_drain))
		return CONNECT_STOPPED;
	r = attempt(false, err, sizeof(err));
	if (r == SSH_FAIL_AUTH)
		return refused(err);
	if (r != SSH_OK)
	{
		char		qe[1200];

		stats_set_error(err);
		log_msg(LOG_WARN, "connect_failed", "error=%s", log_quote(qe, sizeof(qe), err));
		rc = retry_cycle(false, err, sizeof(err), &n);
		if (rc != EXIT_CLEAN)
			return rc;
	}
	mark_connected();
	prober_round(jcfg, port, "start");
	event_emit(EV_CONNECTED, "ssh=%s:%d listen=%s:%d remote=%s:%d attempts=%d",
			   jcfg->ssh_host, jcfg->ssh_port,
			   log_quote(q, sizeof(q), jcfg->listen_host), listen_port,
			   jcfg->remote_host, jcfg->remote_port, n + 1);
	return EXIT_CLEAN;
}

/*
 * The reconnection after a failed check or the loss of every session.
 * Returns EXIT_CLEAN once reconnected, else EXIT_AUTH, EXIT_GAVE_UP or
 * CONNECT_STOPPED.
 */
static int
reconnect(const char *why)
{
	char		err[1024];
	int64_t		down_at = clock_now_ms();
	int			closed,
				n = 0,
				rc;

	snprintf(err, sizeof(err), "%s", why);
	stats_set_state(STATE_RECONNECTING);
	stats_set_error(why);
	pool_pause();
	closed = pool_close_all();
	if (closed > 0)
	{
		char		q[1200];

		event_emit(EV_DISCONNECTED, "sessions=%d error=%s", closed,
				   log_quote(q, sizeof(q), why));
	}
	rc = retry_cycle(true, err, sizeof(err), &n);
	if (rc != EXIT_CLEAN)
		return rc;
	mark_connected();
	stats_add_reconnect();
	event_emit(EV_RECONNECTED, "attempt=%d downtime_ms=%" PRId64, n,
			   clock_now_ms() - down_at);
	return EXIT_CLEAN;
}

/*
 * A check found the database at fault over a working SSH path: report it
 * (log, the status row's last_error, and a health_check_failed event once
 * per fault, not once per check) and keep every session and client.
 * Returns nothing.
 */
static void
database_fault(const char *err)
{
	char		q[1200];
	char		msg[1100];

	snprintf(msg, sizeof(msg), "database: %s", err);
	stats_set_error(msg);
	if (!db_fault || strcmp(db_fault_error, err) != 0)
		event_emit(EV_HEALTH_CHECK_FAILED,
				   "cause=database sessions_kept=%d error=%s", pool_live_sessions(),
				   log_quote(q, sizeof(q), err));
	else
		log_msg(LOG_DEBUG, "health_check_failed", "cause=database error=%s",
				log_quote(q, sizeof(q), err));
	db_fault = true;
	snprintf(db_fault_error, sizeof(db_fault_error), "%s", err);
}

/* The checks pass again after a database fault: say so, clear the error. */
static void
database_recovered(void)
{
	char		q[1200];

	if (!db_fault)
		return;
	db_fault = false;
	stats_set_error(NULL);
	log_msg(LOG_INFO, "health_check_recovered", "after=%s",
			log_quote(q, sizeof(q), db_fault_error));
}

/*
 * A check got no answer through its session (err: why).  That is evidence
 * against that session only: it is closed, and the check runs again at
 * once on another live session.  Returns true when that second check got
 * through (ok, or a database fault, reported as such): the other sessions
 * and their clients are kept.  False means reconnect: no other session, or
 * the second check failed the same way.
 */
static bool
path_fault_contained(const char *err)
{
	char		q[1200];
	char		err2[1024];
	stats_snapshot snap;
	check_result cr;
	int			sid = pool_close_checked_session();

	event_emit(EV_HEALTH_CHECK_FAILED, "cause=path session=%d error=%s", sid,
			   log_quote(q, sizeof(q), err));
	if (sid == 0 || pool_live_sessions() == 0)
		return false;
	event_emit(EV_DISCONNECTED, "sessions=1 session=%d error=%s", sid,
			   log_quote(q, sizeof(q), err));
	stats_snapshot_take(&snap);
	cr = reporter_check(jcfg, jport, &snap, err2, sizeof(err2));
	if (cr == CHECK_OK)
		database_recovered();
	else if (cr == CHECK_DATABASE)
		database_fault(err2);
	else
	{
		event_emit(EV_HEALTH_CHECK_FAILED, "cause=path session=%d error=%s",
				   pool_close_checked_session(), log_quote(q, sizeof(q), err2));
		return false;
	}
	log_msg(LOG_INFO, "session_fault_contained", "closed=%d live=%d", sid, pool_live_sessions());
	return true;
}

/*
 * The janitor thread: health checks on schedule (the first one at once, so
 * that a wrong password or a missing grant shows within seconds), pool
 * upkeep, requests.  Only evidence that the SSH path is dead (a check that
 * got no answer through it, or every session lost) closes sessions; a
 * database fault is reported and the tunnel keeps carrying its clients.
 * Returns NULL; the exit code is left in jresult.
 */
static void *
janitor_main(void *arg)
{
	int64_t		next_check = clock_now_ms();
	char		err[1024];

	for (;;)
	{
		struct pollfd pfd = {.fd = jthread.wake_fd,.events = POLLIN};
		int64_t		now = clock_now_ms();
		int64_t		left = next_check - now;
		int64_t		asked_due = prober_request_due();
		const char *asked;
		int			rc = EXIT_CLEAN;

		if (left > 1000)
			left = 1000;		/* pool upkeep once a second */
		if (drain_until != 0 && left > DRAIN_POLL_MS)
			left = DRAIN_POLL_MS;	/* the drain ends as the last client leaves */
		if (asked_due >= 0 && asked_due - now < left)
			left = asked_due - now;	/* a probe round asked for, held back by the gap */
		if (left > 0 && poll(&pfd, 1, (int) left) < 0 && errno != EINTR)
			log_msg(LOG_ERROR, "poll_failed", "error=\"%s\"", strerror(errno));
		drain_here = true;
		if (handle_requests())
			break;
		if (atomic_load(&req_drain) && drain_step())
			break;
		board_tick();
		pool_tick();
		pool_expire_waiting();
		pool_report_refusals(false);
		if (pool_take_fatal(err, sizeof(err)))
		{
			jresult = refused(err);
			break;
		}
		if ((asked = prober_take_request()) != NULL)
			prober_round(jcfg, jport, asked);
		drain_here = false;		/* a check or a reconnection: a drain waits for it */
		if (pool_take_lost_all(err, sizeof(err)))
			rc = reconnect(err);
		else if (clock_now_ms() >= next_check && no_primary_after_probes("interval"))
		{
			/* Nothing to write to; clients wait for a primary: ask again soon. */
			next_check = clock_now_ms() +
				(jcfg->health_interval_ms < NO_PRIMARY_PROBE_MS ? jcfg->health_interval_ms : NO_PRIMARY_PROBE_MS);
		}
		else if (clock_now_ms() >= next_check)
		{
			stats_snapshot snap;

			check_result cr;

			stats_snapshot_take(&snap);
			cr = reporter_check(jcfg, jport, &snap, err, sizeof(err));
			if (cr == CHECK_OK)
				database_recovered();
			else if (cr == CHECK_DATABASE)
				database_fault(err);
			else
			{
				/* A refused channel says more than libpq's "server closed". */
				ssh_channel_failure_append(err, sizeof(err), next_check - jcfg->health_interval_ms);
				if (!path_fault_contained(err))
				{
					db_fault = false;
					rc = reconnect(err);
				}
			}
			next_check = clock_now_ms() + jcfg->health_interval_ms;
		}
		if (rc == CONNECT_STOPPED)
			break;
		if (rc != EXIT_CLEAN)
		{
			jresult = rc;
			break;
		}
	}
	return NULL;
}

/* Returns 0 once the janitor thread runs. */
int
janitor_start(int port)
{
	char		err[256];

	jport = port;
	jresult = EXIT_CLEAN;
	if (service_thread_start(&jthread, janitor_main, err, sizeof(err)) != 0)
	{
		log_msg(LOG_ERROR, "thread_start_failed", "thread=janitor error=\"%s\"", err);
		return -1;
	}
	return 0;
}

/* Returns the janitor's exit code once its thread ended. */
int
janitor_join(void)
{
	service_thread_join(&jthread);
	return jresult;
}

/* Closes the wake-up eventfd. */
void
janitor_shutdown(void)
{
	service_thread_close(&jthread);
}
