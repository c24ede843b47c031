/*
 * status_board.c
 *		How the helper stands (status_board.h): the last health check and
 *		the last events beside the counters of stats.c, told to systemd and
 *		to the status socket.  Its own lock; it never takes the pool's.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "escape.h"
#include "event_stream.h"
#include "sd_notify.h"
#include "stats.h"
#include "status_board.h"

#define LIVENESS_STALL_MS 120000	/* as the unit's WatchdogSec= */

typedef enum check_seen
{
	SEEN_NONE,					/* no check yet */
	SEEN_OK,
	SEEN_DATABASE,				/* the path works, PostgreSQL refused */
	SEEN_PATH					/* no answer through the SSH path */
} check_seen;

typedef struct board_event_rec
{
	int64_t		wall_us;
	event_id	event;
	char		detail[400];
} board_event_rec;

static struct
{
	pthread_mutex_t lock;
	char		tunnel[256];
	char		ssh[320];
	char		remote[320];
	char		listen[320];
	int			max_retries;
	bool		ready_sent;
	check_seen	check;
	int64_t		check_wall_us;
	int64_t		check_mono_ms;	/* clock_now_ms of the last check */
	int64_t		ok_mono_ms;		/* of the last one that got through (0: none) */
	int64_t		checks_ok;
	int64_t		checks_failed;
	int64_t		checks_database;	/* of which the database at fault */
	bool		started;		/* a check got through once: clients can be served */
	bool		draining;		/* stopping: served clients finish, no new ones */
	int			interval_ms;	/* SSH_HEALTH_CHECK_INTERVAL */
	int			check_timeout_ms;	/* how long one check may take */
	int			max_waiting;	/* TUNNEL_MAX_WAITING */
	int64_t		tick_mono_ms;	/* the janitor's last pulse */
	char		check_error[400];
	board_event_rec events[BOARD_EVENTS];
	int			nevents;		/* kept, up to BOARD_EVENTS */
	int			next_event;		/* ring position of the next one */
	char		last_status[1024];
	int64_t		last_watchdog_ms;
}			board = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
};

/* Appends printf output at *pos in buf (truncating); returns nothing. */
static void
put(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list		ap;
	int			n;

	if (*pos >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (n > 0)
		*pos = *pos + (size_t) n < len ? *pos + (size_t) n : len - 1;
}

/*
 * Appends s escaped for style (escape.h: the text of peers and of the
 * database is shown, never obeyed), truncating.  Returns nothing.
 */
static void
put_escaped(char *buf, size_t len, size_t *pos, const char *s, escape_style style)
{
	if (*pos + 1 >= len)
		return;
	(void) escape_text(buf + *pos, len - *pos, s, style);
	*pos += strlen(buf + *pos);
}

/* Appends s as a JSON string (quotes included). */
static void
put_json(char *buf, size_t len, size_t *pos, const char *s)
{
	put(buf, len, pos, "\"");
	put_escaped(buf, len, pos, s, ESCAPE_JSON);
	put(buf, len, pos, "\"");
}

/* Appends s for a terminal, on one line. */
static void
put_text(char *buf, size_t len, size_t *pos, const char *s)
{
	put_escaped(buf, len, pos, s, ESCAPE_TERMINAL);
}

void
board_init(const tunnel_config *cfg, int listen_port)
{
	pthread_mutex_lock(&board.lock);
	snprintf(board.tunnel, sizeof(board.tunnel), "%s", cfg->tunnel_name);
	snprintf(board.ssh, sizeof(board.ssh), "%s@%s:%d", cfg->ssh_user, cfg->ssh_host, cfg->ssh_port);
	snprintf(board.remote, sizeof(board.remote), "%s:%d", cfg->remote_host, cfg->remote_port);
	if (!config_tcp_off(cfg))
		snprintf(board.listen, sizeof(board.listen), "%s:%d", cfg->listen_host, listen_port);
	else
		snprintf(board.listen, sizeof(board.listen), "%s/.s.PGSQL.%d",
				 cfg->socket_dir != NULL ? cfg->socket_dir : "?", listen_port);
	board.max_retries = cfg->max_retries;
	board.interval_ms = cfg->health_interval_ms;
	board.check_timeout_ms = config_check_timeout_ms(cfg);
	board.max_waiting = cfg->max_waiting_clients;
	board.ready_sent = false;
	board.started = false;
	board.draining = false;
	board.ok_mono_ms = 0;
	board.tick_mono_ms = clock_now_ms();
	board.check = SEEN_NONE;
	board.nevents = board.next_event = 0;
	board.last_status[0] = '\0';
	pthread_mutex_unlock(&board.lock);
	sd_notify_init();
}

/*
 * The status word for a snapshot and the last check, and whether that is
 * serving.  Board lock held.
 */
static const char *
status_word(const stats_snapshot *snap, bool *serving)
{
	*serving = false;
	switch (snap->state)
	{
		case STATE_CONNECTING:
			return "connecting";
		case STATE_RECONNECTING:
			return "reconnecting";
		case STATE_FAILED:
			return "failed";
		case STATE_STOPPED:
			return "stopping";
		case STATE_CONNECTED:
			break;
	}
	if (board.draining)
		return "stopping";
	if (board.check == SEEN_NONE)
		return "starting";
	if (board.check == SEEN_DATABASE || snap->last_error[0] != '\0')
		return "degraded";
	*serving = true;
	return "serving";
}

/*
 * systemd's STATUS= text for the current state, the last error escaped
 * (one line, shown by systemctl status).  Board lock held.
 */
static void
status_line(const stats_snapshot *snap, char *buf, size_t len)
{
	bool		serving;
	const char *word = status_word(snap, &serving);
	char		err[sizeof(snap->last_error)];

	escape_text(err, sizeof(err), snap->last_error[0] ? snap->last_error : "none", ESCAPE_TERMINAL);

	if (serving)
		snprintf(buf, len, "Connected: %d of %d SSH sessions, %d channels active, %d clients waiting",
				 snap->sessions_open, snap->pool_size, snap->channels_active, snap->clients_waiting);
	else if (strcmp(word, "degraded") == 0)
		snprintf(buf, len, "Degraded: the SSH path is up (sessions %d, channels %d), %s",
				 snap->sessions_open, snap->channels_active, err);
	else if (strcmp(word, "starting") == 0)
		snprintf(buf, len, "Connected to %s, first health check pending", board.ssh);
	else if (strcmp(word, "connecting") == 0 && snap->retries == 0 && snap->last_error[0] == '\0')
		snprintf(buf, len, "Connecting to %s", board.ssh);
	else if (strcmp(word, "connecting") == 0 || strcmp(word, "reconnecting") == 0)
		snprintf(buf, len, "%s to %s (%d of %d attempts failed), last error: %s",
				 word[0] == 'c' ? "Connecting" : "Reconnecting", board.ssh,
				 snap->retries, board.max_retries, err);
	else if (strcmp(word, "failed") == 0)
		snprintf(buf, len, "Failed: %s", err);
	else
		snprintf(buf, len, "Stopping");
}

/* Sends STATUS= when it changed, and READY=1 once.  Board lock held. */
static void
notify_state(bool ready_now)
{
	stats_snapshot snap;
	char		line[sizeof(board.last_status)];
	char		msg[sizeof(line) + 32];

	if (!sd_notify_enabled())
		return;
	stats_snapshot_take(&snap);
	status_line(&snap, line, sizeof(line));
	if (ready_now && !board.ready_sent)
	{
		snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", line);
		board.ready_sent = sd_notify_send(msg) == 0;
		snprintf(board.last_status, sizeof(board.last_status), "%s", line);
		return;
	}
	if (strcmp(line, board.last_status) == 0)
		return;
	snprintf(msg, sizeof(msg), "STATUS=%s", line);
	if (sd_notify_send(msg) == 0)
		snprintf(board.last_status, sizeof(board.last_status), "%s", line);
}

/* Turns tabs and newlines into blanks and runs of blanks into one, in place. */
static void
squeeze_blanks(char *s)
{
	char	   *out = s;
	bool		blank = false;

	for (const char *p = s; *p; p++)
	{
		bool		b = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';

		if (b && blank)
			continue;
		*out++ = b ? ' ' : *p;
		blank = b;
	}
	*out = '\0';
}

void
board_checked(bool path_ok, bool database_ok, const char *error)
{
	pthread_mutex_lock(&board.lock);
	board.check = !path_ok ? SEEN_PATH : database_ok ? SEEN_OK : SEEN_DATABASE;
	board.check_wall_us = clock_wall_us();
	board.check_mono_ms = clock_now_ms();
	if (board.check == SEEN_OK)
	{
		board.checks_ok++;
		board.ok_mono_ms = board.check_mono_ms;
	}
	else
		board.checks_failed++;
	if (board.check == SEEN_DATABASE)
		board.checks_database++;
	if (path_ok)
		board.started = true;
	snprintf(board.check_error, sizeof(board.check_error), "%s",
			 board.check == SEEN_OK || error == NULL ? "" : error);
	squeeze_blanks(board.check_error);	/* libpq's lines, as one line */
	/*
	 * Ready once a check got through the SSH path: clients can be served.
	 * A database fault does not hold the start back (STATUS= tells it).
	 */
	notify_state(path_ok);
	pthread_mutex_unlock(&board.lock);
}

/* See status_board.h: the newest replaces the oldest.  Returns nothing. */
void
board_event(event_id id, const char *detail, int64_t wall_us)
{
	board_event_rec *e;

	pthread_mutex_lock(&board.lock);
	e = &board.events[board.next_event];
	e->wall_us = wall_us;
	e->event = id;
	snprintf(e->detail, sizeof(e->detail), "%s", detail ? detail : "");
	board.next_event = (board.next_event + 1) % BOARD_EVENTS;
	if (board.nevents < BOARD_EVENTS)
		board.nevents++;
	pthread_mutex_unlock(&board.lock);
}

void
board_tick(void)
{
	int64_t		wd = sd_notify_watchdog_ms();
	int64_t		now = clock_now_ms();

	pthread_mutex_lock(&board.lock);
	board.tick_mono_ms = now;
	notify_state(false);
	/* The janitor is alive and ticking: half the interval, as sd_notify(3) advises. */
	if (wd > 0 && now - board.last_watchdog_ms >= wd / 2)
	{
		board.last_watchdog_ms = now;
		(void) sd_notify_send("WATCHDOG=1");
	}
	pthread_mutex_unlock(&board.lock);
}

void
board_reloading(void)
{
	(void) sd_notify_send("RELOADING=1");
}

void
board_reloaded(const tunnel_config *cfg)
{
	pthread_mutex_lock(&board.lock);
	board.max_retries = cfg->max_retries;
	board.interval_ms = cfg->health_interval_ms;
	board.check_timeout_ms = config_check_timeout_ms(cfg);
	board.max_waiting = cfg->max_waiting_clients;
	if (board.ready_sent)
		(void) sd_notify_send("READY=1");
	board.last_status[0] = '\0';	/* STATUS= again with the new figures */
	notify_state(false);
	pthread_mutex_unlock(&board.lock);
}

void
board_stopping(void)
{
	(void) sd_notify_send("STOPPING=1\nSTATUS=Stopping");
}

void
board_draining(int clients, int timeout_ms)
{
	char		msg[160];

	pthread_mutex_lock(&board.lock);
	board.draining = true;
	pthread_mutex_unlock(&board.lock);
	snprintf(msg, sizeof(msg), "STOPPING=1\nSTATUS=Stopping: draining %d client%s (at most %d ms)",
			 clients, clients == 1 ? "" : "s", timeout_ms);
	(void) sd_notify_send(msg);
}

int
board_probe(board_probe_kind kind, char *reason, size_t len)
{
	stats_snapshot snap;
	int64_t		now = clock_now_ms();
	int64_t		bound;
	bool		ok = true;
	char		last_error[sizeof(snap.last_error)];
	char		check_error[sizeof(board.check_error)];

	stats_snapshot_take(&snap);
	/* the errors are peers' and the database's words: the body shows them escaped */
	escape_text(last_error, sizeof(last_error), snap.last_error, ESCAPE_TERMINAL);
	pthread_mutex_lock(&board.lock);
	escape_text(check_error, sizeof(check_error), board.check_error, ESCAPE_TERMINAL);
	bound = (int64_t) board.interval_ms + board.check_timeout_ms;
	if (kind == PROBE_STARTUP)
	{
		ok = board.started;
		snprintf(reason, len, ok ? "ok" : "starting: no health check has got through the tunnel yet");
	}
	else if (kind == PROBE_LIVENESS)
	{
		/* The janitor's pulse: a second apart, a check or handshake at most ~30 s. */
		ok = now - board.tick_mono_ms <= LIVENESS_STALL_MS;
		if (ok)
			snprintf(reason, len, "ok");
		else
			snprintf(reason, len, "stalled: the janitor has not run for %" PRId64 " ms",
					 now - board.tick_mono_ms);
	}
	else
	{
		ok = false;
		if (board.draining || snap.state == STATE_STOPPED)
			snprintf(reason, len, "stopping: no new clients are taken");
		else if (snap.state != STATE_CONNECTED)
			snprintf(reason, len, "%s: %s", tunnel_state_name(snap.state),
					 last_error[0] ? last_error : "no SSH connection is up");
		else if (snap.sessions_open == 0)
			snprintf(reason, len, "no SSH connection is up%s%s", last_error[0] ? ": " : "",
					 last_error);
		else if (board.check == SEEN_NONE)
			snprintf(reason, len, "starting: no health check has got through the tunnel yet");
		else if (board.check != SEEN_OK)
			snprintf(reason, len, "health check failed: %s%s",
					 board.check == SEEN_DATABASE ? "database: " : "",
					 check_error[0] ? check_error : "no answer through the SSH path");
		else if (now - board.ok_mono_ms > bound)
			snprintf(reason, len, "stale: the last health check got through %" PRId64
					 " ms ago (SSH_HEALTH_CHECK_INTERVAL=%d)", now - board.ok_mono_ms,
					 board.interval_ms);
		else if (snap.clients_waiting > 0 && snap.clients_waiting >= board.max_waiting)
			snprintf(reason, len, "pool full: %d clients wait already (TUNNEL_MAX_WAITING=%d)",
					 snap.clients_waiting, board.max_waiting);
		else
		{
			ok = true;
			snprintf(reason, len, "ok");
		}
	}
	pthread_mutex_unlock(&board.lock);
	return ok ? 0 : -1;
}

void
board_check_figures(int64_t *ok, int64_t *database, int64_t *path, int64_t *last_ok_wall_us)
{
	pthread_mutex_lock(&board.lock);
	*ok = board.checks_ok;
	*database = board.checks_database;
	*path = board.checks_failed - board.checks_database;
	*last_ok_wall_us = board.ok_mono_ms == 0 ? 0 :
		clock_wall_us() - (clock_now_ms() - board.ok_mono_ms) * 1000;
	pthread_mutex_unlock(&board.lock);
}

/* The i-th kept event, oldest first.  Board lock held. */
static const board_event_rec *
event_at(int i)
{
	int			first = (board.next_event - board.nevents + BOARD_EVENTS) % BOARD_EVENTS;

	return &board.events[(first + i) % BOARD_EVENTS];
}

int
board_format_events(bool json, char *buf, size_t len)
{
	size_t		pos = 0;

	pthread_mutex_lock(&board.lock);
	for (int i = 0; i < board.nevents; i++)
	{
		const board_event_rec *e = event_at(i);

		pos += event_stream_format(json, event_name(e->event), e->detail, e->wall_us, buf + pos, len - pos);
	}
	pthread_mutex_unlock(&board.lock);
	if (len > 0)
		buf[pos < len ? pos : len - 1] = '\0';
	return 0;
}

int
board_format(bool json, char *buf, size_t len)
{
	stats_snapshot snap;
	bool		serving;
	const char *word;
	char		line[1024];
	char		when[40];
	char		started[40];
	size_t		pos = 0;

	stats_snapshot_take(&snap);
	pthread_mutex_lock(&board.lock);
	word = status_word(&snap, &serving);
	status_line(&snap, line, sizeof(line));
	clock_format_utc(snap.started_at_ms * 1000, 3, started, sizeof(started));
	if (board.check != SEEN_NONE)
		clock_format_utc(board.check_wall_us, 3, when, sizeof(when));
	else
		snprintf(when, sizeof(when), "never");
	if (json)
	{
		put(buf, len, &pos, "{\"tunnel\": ");
		put_json(buf, len, &pos, board.tunnel);
		put(buf, len, &pos, ", \"status\": \"%s\", \"state\": \"%s\", \"pid\": %d, \"started_at\": \"%s\", "
			"\"ssh\": ", word, tunnel_state_name(snap.state), (int) getpid(), started);
		put_json(buf, len, &pos, board.ssh);
		put(buf, len, &pos, ", \"remote\": ");
		put_json(buf, len, &pos, board.remote);
		put(buf, len, &pos, ", \"listen\": ");
		put_json(buf, len, &pos, board.listen);
		put(buf, len, &pos, ", \"summary\": ");
		put_json(buf, len, &pos, line);
		put(buf, len, &pos, ",\n \"pool\": {\"pool_size\": %d, \"sessions\": %d, \"cl_active\": %d, "
			"\"cl_waiting\": %d, \"refused\": %" PRId64 ", \"waits_total\": %" PRId64
			", \"channels_total\": %" PRId64 ", \"bytes_in\": %" PRId64 ", \"bytes_out\": %" PRId64 "},\n",
			snap.pool_size, snap.sessions_open, snap.channels_active, snap.clients_waiting,
			stats_refused_total(&snap), snap.waits_total, snap.channels_total, snap.bytes_in, snap.bytes_out);
		put(buf, len, &pos, " \"event_followers\": %d,\n", event_stream_followers());
		put(buf, len, &pos, " \"refused_by\": {");
		for (int r = 0; r < REFUSED_REASONS; r++)
			put(buf, len, &pos, "%s\"%s\": %" PRId64, r ? ", " : "", refused_reason_name(r), snap.refused[r]);
		put(buf, len, &pos, "},\n");
		put(buf, len, &pos, " \"retries\": %d, \"max_retries\": %d, \"reconnects\": %" PRId64 ", \"last_error\": ",
			snap.retries, board.max_retries, snap.reconnects);
		if (snap.last_error[0])
			put_json(buf, len, &pos, snap.last_error);
		else
			put(buf, len, &pos, "null");
		put(buf, len, &pos, ",\n \"last_check\": {\"at\": ");
		if (board.check == SEEN_NONE)
			put(buf, len, &pos, "null, \"result\": null");
		else
			put(buf, len, &pos, "\"%s\", \"result\": \"%s\"", when,
				board.check == SEEN_OK ? "ok" : board.check == SEEN_DATABASE ? "database" : "path");
		put(buf, len, &pos, ", \"passed\": %" PRId64 ", \"failed\": %" PRId64 ", \"error\": ",
			board.checks_ok, board.checks_failed);
		if (board.check_error[0])
			put_json(buf, len, &pos, board.check_error);
		else
			put(buf, len, &pos, "null");
		put(buf, len, &pos, "},\n \"events\": [");
		for (int i = 0; i < board.nevents; i++)
		{
			const board_event_rec *e = event_at(i);
			char		at[40];

			clock_format_utc(e->wall_us, 3, at, sizeof(at));
			put(buf, len, &pos, "%s\n  {\"at\": \"%s\", \"event\": ", i ? "," : "", at);
			put_json(buf, len, &pos, event_name(e->event));
			put(buf, len, &pos, ", \"detail\": ");
			put_json(buf, len, &pos, e->detail);
			put(buf, len, &pos, "}");
		}
		put(buf, len, &pos, "]}\n");
	}
	else
	{
		put_text(buf, len, &pos, board.listen);
		put(buf, len, &pos, " - %s\ntunnel:      ", serving ? "serving" : word);
		put_text(buf, len, &pos, board.tunnel);
		put(buf, len, &pos, " (pid %d, since %s)\n", (int) getpid(), started);
		put(buf, len, &pos, "state:       %s\n", tunnel_state_name(snap.state));
		put(buf, len, &pos, "summary:     %s\n", line);
		put(buf, len, &pos, "path:        ");
		put_text(buf, len, &pos, board.listen);
		put(buf, len, &pos, " -> ");
		put_text(buf, len, &pos, board.ssh);
		put(buf, len, &pos, " -> ");
		put_text(buf, len, &pos, board.remote);
		put(buf, len, &pos, "\nlast check:  %s%s%s", when,
			board.check == SEEN_NONE ? "" : board.check == SEEN_OK ? " ok" :
			board.check == SEEN_DATABASE ? " database fault" : " no answer through the SSH path",
			board.check_error[0] ? ": " : "");
		put_text(buf, len, &pos, board.check_error);
		put(buf, len, &pos, "\nlast error:  ");
		put_text(buf, len, &pos, snap.last_error[0] ? snap.last_error : "-");
		put(buf, len, &pos, "\nretries:     %d of %d, reconnects %" PRId64 "\n\n",
			snap.retries, board.max_retries, snap.reconnects);
		put(buf, len, &pos, " pool_size | sessions | cl_active | cl_waiting | refused | channels_total | bytes_in | bytes_out\n");
		put(buf, len, &pos, "-----------+----------+-----------+------------+---------+----------------+----------+-----------\n");
		put(buf, len, &pos, " %9d | %8d | %9d | %10d | %7" PRId64 " | %14" PRId64 " | %8" PRId64 " | %9" PRId64 "\n\n",
			snap.pool_size, snap.sessions_open, snap.channels_active, snap.clients_waiting,
			stats_refused_total(&snap), snap.channels_total, snap.bytes_in, snap.bytes_out);
		put(buf, len, &pos, "last events:\n");
		if (board.nevents == 0)
			put(buf, len, &pos, "  (none)\n");
		for (int i = 0; i < board.nevents; i++)
		{
			const board_event_rec *e = event_at(i);
			char		at[40];

			clock_format_utc(e->wall_us, 3, at, sizeof(at));
			put(buf, len, &pos, "  %s  %-20s ", at, event_name(e->event));
			put_text(buf, len, &pos, e->detail);
			put(buf, len, &pos, "\n");
		}
	}
	pthread_mutex_unlock(&board.lock);
	return serving ? 0 : 1;
}
