/*
 * metrics.c
 *		The Prometheus exposition (metrics.h): one consistent snapshot of
 *		the counters (stats.h), the health checks' outcomes (status_board.h)
 *		and the spool's backlog, written as text.  Runs on the HTTP thread;
 *		it takes the stats and board locks only for their copies.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <libssh2.h>

#include "config.h"
#include "event_stream.h"
#include "metrics.h"
#include "spool.h"
#include "stats.h"
#include "status_board.h"

#ifndef CHATGENIUS_VERSION
#define CHATGENIUS_VERSION "unknown"
#endif

#define NS "chatgenius_tunnel_"

/* Appends printf output to out, growing it.  Returns nothing (out->failed). */
static void
emit(metrics_text *out, const char *fmt,...)
__attribute__((format(printf, 2, 3)));

static void
emit(metrics_text *out, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (out->failed)
		return;
	for (;;)
	{
		size_t		room = out->cap - out->len;

		if (out->buf != NULL)
		{
			va_start(ap, fmt);
			n = vsnprintf(out->buf + out->len, room, fmt, ap);
			va_end(ap);
			if (n < 0)
			{
				out->failed = true;
				return;
			}
			if ((size_t) n < room)
			{
				out->len += (size_t) n;
				return;
			}
		}
		{
			size_t		cap = out->cap ? out->cap * 2 : 16384;
			char	   *grown = realloc(out->buf, cap);

			if (grown == NULL)
			{
				out->failed = true;
				return;
			}
			out->buf = grown;
			out->cap = cap;
		}
	}
}

/* Appends a label value with the format's escapes (\\, \", \n). */
static void
emit_label(metrics_text *out, const char *s)
{
	for (const char *p = s; *p; p++)
	{
		if (*p == '\\' || *p == '"')
			emit(out, "\\%c", *p);
		else if (*p == '\n')
			emit(out, "\\n");
		else
			emit(out, "%c", *p);
	}
}

/* The HELP and TYPE lines of a family. */
static void
family(metrics_text *out, const char *name, const char *type, const char *help)
{
	emit(out, "# HELP " NS "%s %s\n# TYPE " NS "%s %s\n", name, help, name, type);
}

/* A family of one sample without labels. */
static void
single(metrics_text *out, const char *name, const char *type, const char *help, int64_t v)
{
	family(out, name, type, help);
	emit(out, NS "%s %" PRId64 "\n", name, v);
}

/* A histogram family from a stats_histogram (bounds in ms, shown in s). */
static void
histogram(metrics_text *out, const char *name, const char *help, const stats_histogram *h)
{
	int64_t		cumulative = 0;

	family(out, name, "histogram", help);
	for (int b = 0; b < STATS_BUCKETS - 1; b++)
	{
		cumulative += h->bucket[b];
		emit(out, NS "%s_bucket{le=\"%g\"} %" PRId64 "\n", name,
			 stats_bucket_ms[b] / 1000.0, cumulative);
	}
	emit(out, NS "%s_bucket{le=\"+Inf\"} %" PRId64 "\n", name, h->count);
	emit(out, NS "%s_sum %.6f\n", name, h->sum_us / 1e6);
	emit(out, NS "%s_count %" PRId64 "\n", name, h->count);
}

/* See metrics.h.  Returns 0, or -1 when out of memory. */
int
metrics_render(metrics_text *out, const metrics_http *http)
{
	const tunnel_config *cfg = config_current();
	stats_snapshot *snap = malloc(sizeof(stats_snapshot));
	int64_t		ok,
				database,
				path,
				last_ok_us;
	int			pqv = PQlibVersion();
	char		reason[8];
	static const tunnel_state states[] = {
		STATE_CONNECTING, STATE_CONNECTED, STATE_RECONNECTING, STATE_FAILED, STATE_STOPPED
	};

	if (snap == NULL)
		return -1;
	stats_snapshot_take(snap);
	board_check_figures(&ok, &database, &path, &last_ok_us);

	family(out, "build_info", "gauge", "The helper's version and the libraries it runs with, as labels.");
	emit(out, NS "build_info{version=\"%s\",libssh2=\"", CHATGENIUS_VERSION);
	emit_label(out, libssh2_version(0) ? libssh2_version(0) : LIBSSH2_VERSION);
	emit(out, "\",libpq=\"%d.%d\"} 1\n", pqv / 10000, pqv % 10000);
	family(out, "info", "gauge", "The tunnel's name (TUNNEL_NAME), as a label.");
	emit(out, NS "info{tunnel=\"");
	emit_label(out, cfg != NULL && cfg->tunnel_name != NULL ? cfg->tunnel_name : "");
	emit(out, "\"} 1\n");
	family(out, "start_time_seconds", "gauge", "When the helper started, in seconds since the epoch.");
	emit(out, NS "start_time_seconds %.3f\n", snap->started_at_ms / 1000.0);

	family(out, "state", "gauge",
		   "The tunnel's state as chatgenius.tunnel_status stores it: 1 for the current one.");
	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++)
		emit(out, NS "state{state=\"%s\"} %d\n", tunnel_state_name(states[i]),
			 snap->state == states[i]);
	single(out, "ready", "gauge", "1 while GET /readiness answers 200.",
		   board_probe(PROBE_READINESS, reason, sizeof(reason)) == 0);

	single(out, "pool_size", "gauge", "SSH_POOL_SIZE: the most SSH connections.", snap->pool_size);
	single(out, "sessions", "gauge", "SSH connections open now.", snap->sessions_open);
	single(out, "clients_active", "gauge", "Clients forwarded now, each on its own channel (cl_active).",
		   snap->channels_active);
	single(out, "clients_waiting", "gauge", "Clients waiting for room in a full pool (cl_waiting).",
		   snap->clients_waiting);
	single(out, "client_waits_total", "counter", "Clients that had to wait for room.", snap->waits_total);
	single(out, "channels_opened_total", "counter", "SSH channels opened for clients.",
		   snap->channels_total);
	family(out, "refusals_total", "counter",
		   "Clients not served, by reason: pool_full (53300), unreachable (08001, 08006), "
		   "stopping (57P01), login_timeout (no startup within TUNNEL_LOGIN_TIMEOUT).");
	for (int r = 0; r < REFUSED_REASONS; r++)
		emit(out, NS "refusals_total{reason=\"%s\"} %" PRId64 "\n",
			 refused_reason_name((refused_reason) r), snap->refused[r]);
	family(out, "forwarded_bytes_total", "counter",
		   "Bytes forwarded: to_client is the server's (bytes_in), to_server the clients' (bytes_out).");
	emit(out, NS "forwarded_bytes_total{direction=\"to_client\"} %" PRId64 "\n", snap->bytes_in);
	emit(out, NS "forwarded_bytes_total{direction=\"to_server\"} %" PRId64 "\n", snap->bytes_out);

	single(out, "reconnects_total", "counter", "Successful reconnections since start.", snap->reconnects);
	single(out, "retries", "gauge", "Reconnection attempts failed in a row now.", snap->retries);
	histogram(out, "health_check_duration_seconds",
			  "End-to-end health checks through the tunnel to PostgreSQL, failed ones included.",
			  &snap->latency[LATENCY_HEALTH_CHECK]);
	family(out, "health_checks_total", "counter",
		   "Health checks by result: ok, database (the path works, PostgreSQL refused), "
		   "path (no answer through the SSH path).");
	emit(out, NS "health_checks_total{result=\"ok\"} %" PRId64 "\n", ok);
	emit(out, NS "health_checks_total{result=\"database\"} %" PRId64 "\n", database);
	emit(out, NS "health_checks_total{result=\"path\"} %" PRId64 "\n", path);
	family(out, "health_check_last_success_timestamp_seconds", "gauge",
		   "When a health check last got through, in seconds since the epoch (0: never).");
	emit(out, NS "health_check_last_success_timestamp_seconds %.3f\n", last_ok_us / 1e6);
	histogram(out, "ssh_handshake_duration_seconds",
			  "SSH connections made: TCP connect, handshake and authentication, failed ones included.",
			  &snap->latency[LATENCY_HANDSHAKE]);
	single(out, "ssh_handshake_failures_total", "counter", "SSH connections that could not be made.",
		   snap->latency_failed[LATENCY_HANDSHAKE]);
	single(out, "primary_changes_total", "counter",
		   "Moves of POSTGRES_PORT to another primary (primary_changed events).",
		   snap->events[EV_PRIMARY_CHANGED]);

	family(out, "events_total", "counter", "Events sent (log line, spool, tunnel_events), by name.");
	for (int i = 0; i < EVENT_COUNT; i++)
	{
		emit(out, NS "events_total{event=\"");
		emit_label(out, event_name((event_id) i));
		emit(out, "\"} %" PRId64 "\n", snap->events[i]);
	}
	single(out, "events_pending", "gauge",
		   "Events spooled, not yet written to chatgenius.tunnel_events.",
		   spool_is_open() ? spool_pending() : 0);
	single(out, "events_dropped_total", "counter",
		   "Events lost because the spool was full (TUNNEL_SPOOL_MAX).", snap->events_dropped);

	single(out, "event_followers", "gauge", "Followers of `chatgenius-tunnel events --follow` now.",
		   event_stream_followers());
	single(out, "http_requests_total", "counter", "Requests answered by this endpoint.", http->requests);
	family(out, "http_rejected_total", "counter",
		   "Connections to this endpoint closed unanswered or refused, by reason.");
	emit(out, NS "http_rejected_total{reason=\"busy\"} %" PRId64 "\n", http->rejected_busy);
	emit(out, NS "http_rejected_total{reason=\"timeout\"} %" PRId64 "\n", http->rejected_timeout);
	emit(out, NS "http_rejected_total{reason=\"too_large\"} %" PRId64 "\n", http->rejected_too_large);
	emit(out, NS "http_rejected_total{reason=\"bad_request\"} %" PRId64 "\n", http->rejected_bad);
	free(snap);
	return out->failed ? -1 : 0;
}
