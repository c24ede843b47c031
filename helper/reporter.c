/*
 * reporter.c
 *		The health check and status writer (see reporter.h): one libpq
 *		connection through the helper's own listener per check, so every
 *		check proves the whole path (listener, pool, SSH channel, server).
 *		It upserts chatgenius.tunnel_status through report_status() and
 *		sends spooled events, oldest first, through report_event(), whose
 *		event_key makes a replay harmless.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pgconn.h"
#include "reporter.h"
#include "spool.h"

#define FLUSH_BATCH 1000

static pthread_mutex_t reporter_lock = PTHREAD_MUTEX_INITIALIZER;
static bool passive;
static bool warned_missing;
static bool warned_status_denied;
static bool warned_events_denied;

static const char *const status_sql =
"SELECT chatgenius.report_status($1, $2, $3::integer, $4::integer, $5::bigint, $6, "
"$7::integer, $8::integer, $9::integer, $10::bigint, $11::integer, $12::bigint, "
"$13::bigint, $14::integer, $15, $16, $17::timestamptz, $18::boolean)";

static const char *const event_sql =
"SELECT chatgenius.report_event($1, $2, $3, $4::timestamptz, $5)";

/* Set passive mode (setup, verify): round trips only, nothing written. */
void
reporter_set_passive(int on)
{
	pthread_mutex_lock(&reporter_lock);
	passive = on != 0;
	pthread_mutex_unlock(&reporter_lock);
}

/*
 * The time allowed for one check: the health interval, within 2 s and
 * 10 s, so that a frozen path fails the check quickly but a slow server
 * on a long interval is not cut short.
 */
static int
check_timeout_ms(const tunnel_config *cfg)
{
	int			t = cfg->health_interval_ms;

	if (t < 2000)
		t = 2000;
	if (t > 10000)
		t = 10000;
	return t;
}

/* The SQLSTATE of a failed result, or "" */
static const char *
sqlstate(const PGresult *res)
{
	const char *s = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	return s ? s : "";
}

/*
 * The primary message of a failed result (PostgreSQL's own words, one
 * line), else libpq's whole message on one line.  Returns buf.
 */
static const char *
result_message(char *buf, size_t len, const PGresult *res)
{
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);

	if (primary != NULL)
		return pg_one_line(buf, len, primary);
	return pg_one_line(buf, len, PQresultErrorMessage(res));
}

/* True for the errors that mean the extension (or its function) is absent. */
static bool
is_missing(const char *state)
{
	return strcmp(state, "3F000") == 0 || strcmp(state, "42883") == 0 ||
		strcmp(state, "42P01") == 0;
}

/*
 * The figures for the status row, taken as late as possible (right before
 * report_status, once this check's own channel exists) so that the row is
 * current: the pool and traffic counters come from a fresh snapshot, the
 * tunnel's state, retries, reconnects, last error and start time from the
 * caller's (the janitor decides those, e.g. "reconnecting" during an
 * attempt).  Returns nothing; *out is filled.
 */
static void
current_figures(const stats_snapshot *judged, stats_snapshot *out)
{
	stats_snapshot_take(out);
	out->state = judged->state;
	out->retries = judged->retries;
	out->reconnects = judged->reconnects;
	out->started_at_ms = judged->started_at_ms;
	memcpy(out->last_error, judged->last_error, sizeof(out->last_error));
	out->last_error[sizeof(out->last_error) - 1] = '\0';
}

/*
 * Write the status row.  Returns 1 written, 0 not written but the round
 * trip worked (extension missing, no rights: warned once), -1 when the
 * connection failed or timed out (errbuf says why).
 */
static int
write_status(PGconn *conn, const tunnel_config *cfg, const stats_snapshot *judged,
			 bool heartbeat, int64_t deadline, char *errbuf, size_t errlen)
{
	stats_snapshot fig;
	const stats_snapshot *snap = &fig;
	char		num[14][24];
	char		started[96];
	char		host[256];
	const char *v[18];
	PGresult   *res;
	char		msg[1024];
	int			rc;

	current_figures(judged, &fig);
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "unknown");
	host[sizeof(host) - 1] = '\0';
	if (snap->started_at_ms > 0)
	{
		time_t		sec = (time_t) (snap->started_at_ms / 1000);
		struct tm	tm;
		size_t		n;

		if (gmtime_r(&sec, &tm) == NULL)
			memset(&tm, 0, sizeof(tm));
		n = strftime(started, sizeof(started), "%Y-%m-%d %H:%M:%S", &tm);
		snprintf(started + n, sizeof(started) - n, ".%03u+00",
				 (unsigned) (snap->started_at_ms % 1000));
	}
	snprintf(num[0], 24, "%d", cfg->health_interval_ms);
	snprintf(num[1], 24, "%d", snap->retries);
	snprintf(num[2], 24, "%lld", (long long) snap->reconnects);
	snprintf(num[3], 24, "%d", snap->pool_size);
	/* a stopped row carries no session: the last write rides the last one */
	snprintf(num[4], 24, "%d", snap->state == STATE_STOPPED ? 0 : snap->sessions_open);
	snprintf(num[5], 24, "%d", snap->state == STATE_STOPPED ? 0 : snap->channels_active);
	snprintf(num[6], 24, "%lld", (long long) snap->channels_total);
	snprintf(num[7], 24, "%d", snap->clients_waiting);
	snprintf(num[8], 24, "%lld", (long long) snap->bytes_in);
	snprintf(num[9], 24, "%lld", (long long) snap->bytes_out);
	snprintf(num[10], 24, "%d", (int) getpid());

	v[0] = cfg->tunnel_name;
	v[1] = tunnel_state_name(snap->state);
	v[2] = num[0];
	v[3] = num[1];
	v[4] = num[2];
	v[5] = snap->last_error[0] ? snap->last_error : NULL;
	v[6] = num[3];
	v[7] = num[4];
	v[8] = num[5];
	v[9] = num[6];
	v[10] = num[7];
	v[11] = num[8];
	v[12] = num[9];
	v[13] = num[10];
	v[14] = host;
	v[15] = CHATGENIUS_VERSION;
	v[16] = snap->started_at_ms > 0 ? started : NULL;
	v[17] = heartbeat ? "true" : "false";

	res = pg_exec(conn, status_sql, 18, v, deadline, errbuf, errlen);
	if (res == NULL)
		return -1;
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		if (warned_missing || warned_status_denied)
			log_msg(LOG_INFO, "status_written", "detail=\"the status row is written again\"");
		warned_missing = false;
		warned_status_denied = false;
		PQclear(res);
		return 1;
	}
	result_message(msg, sizeof(msg), res);
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		snprintf(errbuf, errlen, "%s", msg);
		rc = -1;
	}
	else if (is_missing(sqlstate(res)))
	{
		if (!warned_missing)
			log_msg(LOG_WARN, "extension_missing", "error=%s hint=%s",
					log_quote((char[1024]) {0}, 1024, msg),
					log_quote((char[256]) {0}, 256,
							  "run \"chatgenius-tunnel setup\"; status and events are not written until then"));
		warned_missing = true;
		rc = 0;
	}
	else if (strcmp(sqlstate(res), "42501") == 0)
	{
		if (!warned_status_denied)
			log_msg(LOG_WARN, "status_not_written", "error=%s hint=%s",
					log_quote((char[1024]) {0}, 1024, msg),
					log_quote((char[512]) {0}, 512,
							  "GRANT EXECUTE ON FUNCTION chatgenius.report_status, chatgenius.report_event TO the POSTGRES_USER role"));
		warned_status_denied = true;
		rc = 0;
	}
	else
	{
		log_msg(LOG_WARN, "status_not_written", "error=%s sqlstate=%s",
				log_quote((char[1024]) {0}, 1024, msg), sqlstate(res));
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/*
 * Send pending events oldest first; each one that reached the database
 * (or was refused as invalid data, with a warning) leaves the spool.
 * Returns 0, or -1 when the connection failed (errbuf says why).
 */
static int
flush_events(PGconn *conn, const tunnel_config *cfg, int64_t deadline,
			 char *errbuf, size_t errlen)
{
	static spool_event batch[FLUSH_BATCH];
	int			n;
	int			done = 0;
	int			rc = 0;
	int			i;

	if (!spool_is_open())
		return 0;
	n = spool_peek(batch, FLUSH_BATCH);
	for (i = 0; i < n; i++)
	{
		const char *v[5];
		PGresult   *res;
		const char *state;
		char		msg[1024];

		v[0] = cfg->tunnel_name;
		v[1] = batch[i].event;
		v[2] = batch[i].detail[0] ? batch[i].detail : NULL;
		v[3] = batch[i].occurred_at;
		v[4] = batch[i].key;
		res = pg_exec(conn, event_sql, 5, v, deadline, errbuf, errlen);
		if (res == NULL)
		{
			rc = -1;
			break;
		}
		if (PQresultStatus(res) == PGRES_TUPLES_OK)
		{
			PQclear(res);
			done++;
			warned_events_denied = false;
			continue;
		}
		state = sqlstate(res);
		result_message(msg, sizeof(msg), res);
		if (PQstatus(conn) == CONNECTION_BAD)
		{
			snprintf(errbuf, errlen, "%s", msg);
			PQclear(res);
			rc = -1;
			break;
		}
		if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		{
			/* the database will never take this one: do not block the rest */
			log_msg(LOG_WARN, "event_discarded", "event=%s key=%s error=%s",
					batch[i].event, batch[i].key, log_quote((char[1024]) {0}, 1024, msg));
			PQclear(res);
			done++;
			continue;
		}
		if (!warned_events_denied)
			log_msg(LOG_WARN, "events_not_written", "error=%s sqlstate=%s pending=%d",
					log_quote((char[1024]) {0}, 1024, msg), state, n - done);
		warned_events_denied = true;
		PQclear(res);
		break;
	}
	spool_events_free(batch, n);
	if (done > 0)
	{
		spool_ack(done);
		log_msg(LOG_DEBUG, "events_flushed", "count=%d pending=%d", done, spool_pending());
	}
	return rc;
}

/*
 * A plain "SELECT 1" on conn before deadline: the round trip that counts
 * when nothing is (or can be) written.  Returns 0, or -1 with libpq's
 * reason in errbuf.
 */
static int
round_trip(PGconn *conn, int64_t deadline, char *errbuf, size_t errlen)
{
	PGresult   *res = pg_exec(conn, "SELECT 1", 0, NULL, deadline, errbuf, errlen);
	int			rc = 0;

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		if (res != NULL)
			pg_one_line(errbuf, errlen, PQresultErrorMessage(res));
		rc = -1;
	}
	PQclear(res);
	return rc;
}

/*
 * One report: connect, status row, events.  Returns 0 or -1 (see
 * reporter_check); the warnings for a missing extension are given here.
 */
static int
report(const tunnel_config *cfg, int port, const stats_snapshot *snap,
	   bool heartbeat, int timeout_ms, char *errbuf, size_t errlen)
{
	int64_t		deadline = clock_now_ms() + timeout_ms;
	PGconn	   *conn;
	int			rc = 0;
	int			w;

	conn = pg_connect(cfg, port, deadline, errbuf, errlen);
	if (conn == NULL)
		return -1;
	if (passive)
		rc = round_trip(conn, deadline, errbuf, errlen);
	else
	{
		w = write_status(conn, cfg, snap, heartbeat, deadline, errbuf, errlen);
		if (w < 0)
			rc = -1;
		else if (w == 0)
		{
			/* the extension cannot take the report: the round trip still counts */
			rc = round_trip(conn, deadline, errbuf, errlen);
		}
		else
			rc = flush_events(conn, cfg, deadline, errbuf, errlen);
	}
	PQfinish(conn);
	return rc;
}

/* See reporter.h.  Returns 0 when the round trip succeeded, else -1. */
int
reporter_check(const tunnel_config *cfg, int port, const stats_snapshot *snap,
			   char *errbuf, size_t errlen)
{
	int			rc;

	int64_t		t0 = clock_now_ms();

	pthread_mutex_lock(&reporter_lock);
	rc = report(cfg, port, snap, true, check_timeout_ms(cfg), errbuf, errlen);
	pthread_mutex_unlock(&reporter_lock);
	if (rc == 0)
		log_msg(LOG_DEBUG, "health_check", "result=ok ms=%lld pending_events=%d",
				(long long) (clock_now_ms() - t0), spool_is_open() ? spool_pending() : 0);
	return rc;
}

/* See reporter.h.  Returns 0 on success, -1 otherwise (events stay spooled). */
int
reporter_flush(const tunnel_config *cfg, int port, const stats_snapshot *snap,
			   int timeout_ms)
{
	char		err[1024];
	int			rc;

	pthread_mutex_lock(&reporter_lock);
	if (passive)
	{
		pthread_mutex_unlock(&reporter_lock);
		return 0;
	}
	err[0] = '\0';
	rc = report(cfg, port, snap, false, timeout_ms > 0 ? timeout_ms : 1000, err, sizeof(err));
	pthread_mutex_unlock(&reporter_lock);
	if (rc != 0)
		log_msg(LOG_WARN, "final_flush_failed", "error=%s pending=%d",
				log_quote((char[1024]) {0}, 1024, err), spool_is_open() ? spool_pending() : 0);
	return rc;
}
