/*
 * events.c
 *		An event is a log line plus a record in the spool (spool.c), which
 *		the reporter writes to chatgenius.tunnel_events.  Before events_init
 *		(setup and verify never call it) events are log lines only.
 */
#include <stdarg.h>
#include <stdio.h>

#include "clock.h"
#include "event_stream.h"
#include "events.h"
#include "spool.h"
#include "stats.h"
#include "status_board.h"

/*
 * Open the spool for this tunnel.  Returns nothing: a spool that cannot be
 * written has already been reported as a warning by spool_open.
 */
void
events_init(const tunnel_config *cfg)
{
	(void) spool_open(cfg->state_dir, cfg->tunnel_name,
					  cfg->spool_max_events > 0 ? cfg->spool_max_events : 10000);
}

/*
 * Log the event at level, show it on the status board and spool it, all
 * with one time.  Returns nothing; a spool that is full counts the event
 * as dropped (see spool_add).
 */
static void
emit(log_level level, event_id id, const char *detail, va_list ap)
{
	char		buf[2048];
	/* One time for the log line and the row: they are one event. */
	int64_t		at = clock_wall_us();

	buf[0] = '\0';
	if (detail != NULL)
		log_vformat(buf, sizeof(buf), detail, ap);
	log_event_formatted(level, event_name(id), buf, at);
	stats_count_event(id);
	board_event(id, buf, at);
	event_stream_publish(event_name(id), buf, at);
	if (spool_is_open())
		(void) spool_add(id, buf, at);
}

/* See events.h.  Returns nothing. */
void
event_emit(event_id id, const char *detail, ...)
{
	va_list		ap;

	va_start(ap, detail);
	emit(event_level(id), id, detail, ap);
	va_end(ap);
}

/* See events.h.  Returns nothing. */
void
event_emit_at(log_level level, event_id id, const char *detail, ...)
{
	va_list		ap;

	va_start(ap, detail);
	emit(level, id, detail, ap);
	va_end(ap);
}

/* Close the spool; what is still pending stays in its file.  Returns nothing. */
void
events_shutdown(void)
{
	spool_close();
}
