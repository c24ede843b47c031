/*
 * reporter.c
 *		The health check and status writer (see reporter.h): one libpq
 *		connection per check through the health check's private endpoint,
 *		which the pool serves ahead of every client, so every check proves
 *		the path (pool, SSH channel, server) without competing with the
 *		load it carries.  It upserts chatgenius.tunnel_status through
 *		report_status() and then, once the verdict is in, sends spooled
 *		events oldest first through report_event(), a batch per statement
 *		(the events as array parameters); event_key makes a replay harmless.
 *		An event whose name the installed extension does not take yet (its
 *		version is older than the name's "since" in event_list.h, or its
 *		CHECK refused the name) stays in the spool until the extension is
 *		updated; the events after it are written meanwhile.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "cluster.h"
#include "event_names.h"
#include "health_room.h"
#include "log.h"
#include "pgconn.h"
#include "pool.h"
#include "reporter.h"
#include "status_board.h"
#include "spool.h"

#define FLUSH_BATCH		1000	/* events per statement */
#define FLUSH_MS		30000	/* a flush's own deadline, after the check */

static pthread_mutex_t reporter_lock = PTHREAD_MUTEX_INITIALIZER;
static bool passive;
static bool warned_missing;
static bool warned_status_denied;
static bool warned_events_denied;

/*
 * What the installed extension takes (reporter_lock held): its version,
 * read before each flush, and the names its CHECK refused although the
 * list says that version takes them (kept until that CHECK is replaced).
 * held_warned is the state last told in an events_held line.
 */
static struct
{
	char		extversion[32];	/* "": unknown, every name is tried */
	char		check_oid[16];	/* the CHECK the refusals were met under */
	bool		refused[EVENT_COUNT];
	bool		held[EVENT_COUNT];	/* noted by db_holds */
	char		held_warned[512];
}			taken;

static const char *const status_sql =
"SELECT chatgenius.report_status($1, $2, $3::integer, $4::integer, $5::bigint, $6, "
"$7::integer, $8::integer, $9::integer, $10::bigint, $11::integer, $12::bigint, "
"$13::bigint, $14::integer, $15, $16, $17::timestamptz, $18::boolean)";

/* Where the listeners route (1.5); written with the heartbeat of a multi-host tunnel. */
static const char *const routes_sql =
"SELECT chatgenius.report_routes($1, $2, $3::text[])";

/*
 * The installed version, and the identity of the CHECK on the event names
 * (an update that changes the names makes a new constraint).
 */
static const char *const extversion_sql =
"SELECT e.extversion, (SELECT c.oid FROM pg_catalog.pg_constraint c "
"WHERE c.conrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass('chatgenius.tunnel_events') "
"AND c.conname OPERATOR(pg_catalog.=) 'tunnel_events_event_check') "
"FROM pg_catalog.pg_extension e WHERE e.extname OPERATOR(pg_catalog.=) 'chatgenius'";

static const char *const event_sql =
"SELECT chatgenius.report_event($1, $2, $3, $4::timestamptz, $5)";

/* A batch of events in one statement, in spool order. */
static const char *const batch_sql =
"SELECT count(*) FROM (SELECT chatgenius.report_event($1, u.e, u.d, u.t::timestamptz, u.k) "
"FROM unnest($2::text[], $3::text[], $4::text[], $5::text[]) AS u(e, d, t, k)) s";

/* The health check's private endpoint listens here, whatever TUNNEL_LISTEN_HOST is. */
static char loopback[] = "127.0.0.1";

/* Set passive mode (setup, verify): round trips only, nothing written. */
void
reporter_set_passive(int on)
{
	pthread_mutex_lock(&reporter_lock);
	passive = on != 0;
	pthread_mutex_unlock(&reporter_lock);
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
 * Several hosts: report where the listeners route now (tunnel_routes).
 * An extension older than 1.5 has no report_routes: said once, not an
 * error.  Returns nothing.
 */
static void
write_routes(PGconn *conn, const tunnel_config *cfg, int64_t deadline)
{
	static bool warned;
	char		primary[300],
				standbys[2048],
				err[512];
	const char *v[3];
	PGresult   *res;

	if (!cluster_probing())
		return;
	cluster_routes(primary, sizeof(primary), standbys, sizeof(standbys));
	v[0] = cfg->tunnel_name;
	v[1] = primary[0] ? primary : NULL;
	v[2] = standbys;
	res = pg_exec(conn, routes_sql, 3, v, deadline, err, sizeof(err));
	if (res != NULL && PQresultStatus(res) != PGRES_TUPLES_OK && !warned)
	{
		char		msg[1024],
					q[1100];

		log_msg(LOG_WARN, "routes_not_written", "error=%s sqlstate=%s",
				log_quote(q, sizeof(q), result_message(msg, sizeof(msg), res)), sqlstate(res));
		warned = true;
	}
	if (res != NULL)
		PQclear(res);
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
		clock_format_utc(snap->started_at_ms * 1000, 3, started, sizeof(started));
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
		write_routes(conn, cfg, deadline);
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
			log_msg(LOG_WARN, "extension_missing", "error=%s hint=%s", msg,
					"run \"chatgenius-tunnel setup\"; status and events are not written until then");
		warned_missing = true;
		rc = 0;
	}
	else if (strcmp(sqlstate(res), "42501") == 0)
	{
		if (!warned_status_denied)
		{
			char		hint[600];
			const char *server_hint = PQresultErrorField(res, PG_DIAG_MESSAGE_HINT);

			/*
			 * The server's hint when it gives one (another role writes this
			 * tunnel: a TUNNEL_NAME of our own, or a superuser's hand-over);
			 * else the grants are missing.
			 */
			if (server_hint)
				snprintf(hint, sizeof(hint), "%s", server_hint);
			else
				snprintf(hint, sizeof(hint),
						 "as a superuser: GRANT USAGE ON SCHEMA chatgenius TO \"%s\"; "
						 "GRANT EXECUTE ON FUNCTION chatgenius.report_status, chatgenius.report_event TO \"%s\";",
						 cfg->postgres_user, cfg->postgres_user);
			log_msg(LOG_WARN, "status_not_written", "error=%s hint=%s", msg, hint);
		}
		warned_status_denied = true;
		rc = 0;
	}
	else
	{
		log_msg(LOG_WARN, "status_not_written", "error=%s sqlstate=%s",
				msg, sqlstate(res));
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/* A growable text buffer for the array literals. */
typedef struct textbuf
{
	char	   *data;
	size_t		len;
	size_t		cap;
	bool		failed;
} textbuf;

/* Appends n bytes of s to b.  Returns nothing; out of memory sets b->failed. */
static void
tb_append(textbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 4096;
		char	   *nd;

		while (b->len + n + 1 > cap)
			cap *= 2;
		nd = realloc(b->data, cap);
		if (nd == NULL)
		{
			b->failed = true;
			return;
		}
		b->data = nd;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/*
 * Appends v to a text[] literal under construction: quoted with \ and "
 * escaped, or NULL (v NULL or empty when empty_is_null).  Returns nothing.
 */
static void
tb_element(textbuf *b, const char *v, bool empty_is_null)
{
	if (b->len > 1)
		tb_append(b, ",", 1);
	if (v == NULL || (empty_is_null && v[0] == '\0'))
	{
		tb_append(b, "NULL", 4);
		return;
	}
	tb_append(b, "\"", 1);
	for (const char *p = v; *p; p++)
	{
		if (*p == '"' || *p == '\\')
			tb_append(b, "\\", 1);
		tb_append(b, p, 1);
	}
	tb_append(b, "\"", 1);
}

/*
 * Reads a failed result: its SQLSTATE (copied to state[6]) and message
 * (msg).  Returns true when the connection went with it: errbuf then holds
 * the message and res is cleared; otherwise the caller clears res.
 */
static bool
result_failed(PGconn *conn, PGresult *res, char state[6], char *msg, size_t msglen,
			  char *errbuf, size_t errlen)
{
	snprintf(state, 6, "%s", sqlstate(res));
	result_message(msg, msglen, res);
	if (PQstatus(conn) != CONNECTION_BAD)
		return false;
	snprintf(errbuf, errlen, "%s", msg);
	PQclear(res);
	return true;
}

/*
 * Whether a failed report_event was the CHECK of tunnel_events.event
 * refusing the name: the extension does not know it yet.
 */
static bool
refused_name(const PGresult *res)
{
	const char *constraint = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	return strcmp(sqlstate(res), "23514") == 0 && constraint != NULL &&
		strcmp(constraint, "tunnel_events_event_check") == 0;
}

/*
 * Sends events one statement each (the fallback when a batch was refused
 * for its data): an event the database will never take is discarded with
 * a warning, one whose name the CHECK refuses is held (its name is then
 * passed over until the extension changes), the rest written.  leave[i]
 * says whether event i leaves the spool.  Returns how many events were
 * handled from the start of the batch, or -1 when the connection failed
 * (errbuf says why).
 */
static int
flush_one_by_one(PGconn *conn, const tunnel_config *cfg, spool_event *batch, int n,
				 bool *leave, int64_t deadline, int *statements, char *errbuf, size_t errlen)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		const char *v[5];
		PGresult   *res;
		char		state[6];
		char		msg[1024];
		event_id	id;

		v[0] = cfg->tunnel_name;
		v[1] = batch[i].event;
		v[2] = batch[i].detail[0] ? batch[i].detail : NULL;
		v[3] = batch[i].occurred_at;
		v[4] = batch[i].key;
		res = pg_exec(conn, event_sql, 5, v, deadline, errbuf, errlen);
		(*statements)++;
		if (res == NULL)
			return -1;
		leave[i] = PQresultStatus(res) == PGRES_TUPLES_OK;
		if (leave[i])
		{
			PQclear(res);
			continue;
		}
		if (refused_name(res) && event_by_name(batch[i].event, &id))
		{
			/* the extension does not know the name yet: keep the event */
			taken.refused[id] = true;
			PQclear(res);
			continue;
		}
		if (result_failed(conn, res, state, msg, sizeof(msg), errbuf, errlen))
			return -1;
		PQclear(res);
		if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
		{
			/* the database will never take this one: do not block the rest */
			log_msg(LOG_WARN, "event_discarded", "event=%s key=%s error=%s",
					batch[i].event, batch[i].key, msg);
			leave[i] = true;
			continue;
		}
		break;
	}
	return i;
}

/*
 * Sends up to FLUSH_BATCH events in one statement (their fields as array
 * parameters); leave[i] says whether event i leaves the spool.  Returns
 * how many events were handled from the start of the batch, 0 when the
 * database refused the batch for another reason than its data (warned
 * once), or -1 when the connection failed (errbuf says why).
 */
static int
flush_batch(PGconn *conn, const tunnel_config *cfg, spool_event *batch, int n,
			bool *leave, int64_t deadline, int *statements, char *errbuf, size_t errlen)
{
	textbuf		arr[4] = {{0}};
	const char *v[5];
	PGresult   *res;
	char		state[6];
	char		msg[1024];

	for (int a = 0; a < 4; a++)
		tb_append(&arr[a], "{", 1);
	for (int i = 0; i < n; i++)
	{
		tb_element(&arr[0], batch[i].event, false);
		tb_element(&arr[1], batch[i].detail, true);
		tb_element(&arr[2], batch[i].occurred_at, false);
		tb_element(&arr[3], batch[i].key, false);
	}
	for (int a = 0; a < 4; a++)
		tb_append(&arr[a], "}", 1);
	if (arr[0].failed || arr[1].failed || arr[2].failed || arr[3].failed)
	{
		for (int a = 0; a < 4; a++)
			free(arr[a].data);
		log_msg(LOG_WARN, "out_of_memory", "detail=\"event batch of %d\"", n);
		return 0;
	}
	v[0] = cfg->tunnel_name;
	for (int a = 0; a < 4; a++)
		v[a + 1] = arr[a].data;
	res = pg_exec(conn, batch_sql, 5, v, deadline, errbuf, errlen);
	(*statements)++;
	for (int a = 0; a < 4; a++)
		free(arr[a].data);
	if (res == NULL)
		return -1;
	if (PQresultStatus(res) == PGRES_TUPLES_OK)
	{
		PQclear(res);
		warned_events_denied = false;
		for (int i = 0; i < n; i++)
			leave[i] = true;
		return n;
	}
	if (result_failed(conn, res, state, msg, sizeof(msg), errbuf, errlen))
		return -1;
	PQclear(res);
	if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
	{
		/* an event the database does not take: find it, keep the rest */
		return flush_one_by_one(conn, cfg, batch, n, leave, deadline, statements,
								errbuf, errlen);
	}
	if (!warned_events_denied)
		log_msg(LOG_WARN, "events_not_written", "error=%s sqlstate=%s pending=%d",
				msg, state, spool_pending());
	warned_events_denied = true;
	return 0;
}

/*
 * Reads the installed extension's version into taken.extversion ("" when
 * it cannot be read: every name is then tried); a new CHECK on the names
 * forgets the names refused under the old one.  Returns -1 when the
 * connection failed (errbuf says why), else 0.
 */
static int
read_extversion(PGconn *conn, int64_t deadline, char *errbuf, size_t errlen)
{
	PGresult   *res = pg_exec(conn, extversion_sql, 0, NULL, deadline, errbuf, errlen);
	char		oid[sizeof(taken.check_oid)] = "";

	if (res == NULL)
		return -1;
	taken.extversion[0] = '\0';
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
	{
		snprintf(taken.extversion, sizeof(taken.extversion), "%s", PQgetvalue(res, 0, 0));
		snprintf(oid, sizeof(oid), "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	if (strcmp(oid, taken.check_oid) != 0)
		memset(taken.refused, 0, sizeof(taken.refused));
	memcpy(taken.check_oid, oid, sizeof(oid));
	return 0;
}

/* spool_filter: whether the installed extension takes e's name. */
static bool
db_takes(const spool_event *e, void *arg)
{
	event_id	id;

	if (!event_by_name(e->event, &id))
		return true;			/* the spool reads listed names only */
	return !taken.refused[id] &&
		event_taken_by(id, taken.extversion[0] ? taken.extversion : NULL);
}

/* spool_filter: db_takes's opposite, noting the held names in taken.held. */
static bool
db_holds(const spool_event *e, void *arg)
{
	event_id	id;

	if (db_takes(e, arg) || !event_by_name(e->event, &id))
		return false;
	taken.held[id] = true;
	return true;
}

/*
 * Says once, each time it changes, which events wait in the spool for an
 * extension that takes their names.  Returns nothing.
 */
static void
warn_held(void)
{
	char		names[400] = "";
	char		state[sizeof(taken.held_warned)];
	size_t		len = 0;
	int			n;

	memset(taken.held, 0, sizeof(taken.held));
	n = spool_count_if(db_holds, NULL);
	for (int i = 0; i < EVENT_COUNT && len < sizeof(names); i++)
		if (taken.held[i])
			len += (size_t) snprintf(names + len, sizeof(names) - len, "%s%s",
									 len ? "," : "", event_name((event_id) i));
	snprintf(state, sizeof(state), "%s %s", taken.extversion, names);
	if (n == 0)
		taken.held_warned[0] = '\0';
	if (n == 0 || strcmp(state, taken.held_warned) == 0)
		return;
	memcpy(taken.held_warned, state, sizeof(state));
	log_msg(LOG_WARN, "events_held", "count=%d extversion=%s events=%s hint=\"%s\"", n,
			taken.extversion[0] ? taken.extversion : "unknown", names,
			"the installed extension does not take these names yet: they are kept, "
			"and written once ALTER EXTENSION chatgenius UPDATE has run");
}

/*
 * Send pending events oldest first, FLUSH_BATCH per statement, until every
 * one the extension takes is written, the database refuses, or the
 * deadline.  Each event that reached the database (or was refused as
 * invalid data, with a warning) leaves the spool; those whose names the
 * extension does not take yet stay.  Returns 0, or -1 when the connection
 * failed.
 */
static int
flush_events(PGconn *conn, const tunnel_config *cfg, int64_t deadline,
			 char *errbuf, size_t errlen)
{
	static spool_event batch[FLUSH_BATCH];
	static spool_event done[FLUSH_BATCH];
	static bool leave[FLUSH_BATCH];
	int			total = 0;
	int			statements = 0;
	int			rc = 0;

	if (!spool_is_open())
		return 0;
	if (spool_pending() == 0)
	{
		taken.held_warned[0] = '\0';
		return 0;
	}
	if (read_extversion(conn, deadline, errbuf, errlen) != 0)
		return -1;
	while (clock_now_ms() < deadline)
	{
		int			n = spool_peek_if(batch, FLUSH_BATCH, db_takes, NULL);
		int			handled,
					nd = 0;

		if (n == 0)
			break;
		memset(leave, 0, sizeof(leave));
		handled = flush_batch(conn, cfg, batch, n, leave, deadline, &statements, errbuf, errlen);
		for (int i = 0; i < handled; i++)
			if (leave[i])
				done[nd++] = batch[i];
		if (nd > 0)
		{
			spool_ack_events(done, nd);
			total += nd;
		}
		spool_events_free(batch, n);
		if (handled < 0)
			rc = -1;
		if (handled < n)
			break;
	}
	if (total > 0)
		log_msg(total >= FLUSH_BATCH ? LOG_INFO : LOG_DEBUG, "events_flushed",
				"count=%d statements=%d pending=%d", total, statements, spool_pending());
	warn_held();
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
 * Why a login through the private endpoint failed: PostgreSQL's own
 * refusal (its message carries a severity), or the SSH server refusing to
 * reach it ("connect failed": nothing listens at POSTGRES_REMOTE_HOST:PORT
 * as the SSH server sees it), both over a working SSH path; anything else
 * (no answer, no live session, a channel closed without a reason) is the
 * path's.  Returns the class; errbuf gains the SSH server's words.
 */
static check_result
classify_login_failure(int64_t since_ms, char *errbuf, size_t errlen)
{
	char		why[256];

	if (strstr(errbuf, "FATAL:") != NULL || strstr(errbuf, "ERROR:") != NULL ||
		strstr(errbuf, "PANIC:") != NULL)
		return CHECK_DATABASE;
	/*
	 * libpq's own words once the server asked for a password that no source
	 * supplied: the server answered, so the path works; the configuration
	 * is at fault, and reconnecting would only cut the clients.
	 */
	if (strstr(errbuf, "fe_sendauth:") != NULL)
		return CHECK_DATABASE;
	if (pool_channel_refused_since(since_ms, why, sizeof(why)) &&
		strstr(why, "connect failed") != NULL)
	{
		size_t		n = strlen(errbuf);

		snprintf(errbuf + n, errlen - n, "%sthe SSH server could not reach PostgreSQL (%s)",
				 n ? "; " : "", why);
		return CHECK_DATABASE;
	}
	return CHECK_PATH;
}

/*
 * One report: connect through the private endpoint, status row (the
 * verdict), then events on their own deadline.  A login that went through
 * proves the SSH path: whatever fails after it is the database's
 * (statement refused, too slow, the server going down).  Returns the
 * check_result; the warnings for a missing extension are given here.
 */
static check_result
report(const tunnel_config *cfg, int port, const stats_snapshot *snap,
	   bool heartbeat, int timeout_ms, char *errbuf, size_t errlen)
{
	int64_t		t0 = clock_now_ms();
	int64_t		deadline = t0 + timeout_ms;
	tunnel_config via = *cfg;
	PGconn	   *conn;
	check_result rc = CHECK_OK;
	int			w;

	via.listen_host = loopback;
	health_room_expect();
	conn = pg_connect(&via, port, deadline, errbuf, errlen);
	health_room_done();
	if (conn == NULL)
		return classify_login_failure(t0, errbuf, errlen);
	if (passive)
	{
		if (round_trip(conn, deadline, errbuf, errlen) != 0)
			rc = CHECK_DATABASE;
	}
	else
	{
		w = write_status(conn, cfg, snap, heartbeat, deadline, errbuf, errlen);
		if (w < 0)
			rc = CHECK_DATABASE;
		else if (w == 0 && round_trip(conn, deadline, errbuf, errlen) != 0)
			rc = CHECK_DATABASE;	/* the extension cannot take the report */
		if (rc == CHECK_OK)
		{
			char		ferr[1024];

			/* After the verdict, on a deadline of its own. */
			if (flush_events(conn, cfg, clock_now_ms() + FLUSH_MS, ferr, sizeof(ferr)) != 0)
				log_msg(LOG_WARN, "events_flush_failed", "error=%s pending=%d",
						ferr, spool_pending());
		}
	}
	PQfinish(conn);
	return rc;
}

/* See reporter.h.  Returns the check_result. */
check_result
reporter_check(const tunnel_config *cfg, int port, const stats_snapshot *snap,
			   char *errbuf, size_t errlen)
{
	check_result rc;
	int64_t		t0 = clock_now_ms();
	int64_t		t0_us = clock_now_us();

	pthread_mutex_lock(&reporter_lock);
	rc = report(cfg, port, snap, true, config_check_timeout_ms(cfg), errbuf, errlen);
	pthread_mutex_unlock(&reporter_lock);
	stats_observe(LATENCY_HEALTH_CHECK, clock_now_us() - t0_us, rc != CHECK_OK);
	board_checked(rc != CHECK_PATH, rc == CHECK_OK, errbuf);
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
	rc = report(cfg, port, snap, false, timeout_ms > 0 ? timeout_ms : 1000, err, sizeof(err)) == CHECK_OK ? 0 : -1;
	pthread_mutex_unlock(&reporter_lock);
	if (rc != 0)
		log_msg(LOG_WARN, "final_flush_failed", "error=%s pending=%d",
				err, spool_is_open() ? spool_pending() : 0);
	return rc;
}
