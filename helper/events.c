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
 * Log the event and spool it.  Returns nothing; a spool that is full
 * counts the event as dropped (see spool_add).
 */
void
event_emit(log_level level, const char *event, const char *detail, ...)
{
	char		buf[2048];
	va_list		ap;
	/* One time for the log line and the row: they are one event. */
	int64_t		at = clock_wall_us();

	buf[0] = '\0';
	if (detail != NULL)
	{
		va_start(ap, detail);
		log_vformat(buf, sizeof(buf), detail, ap);
		va_end(ap);
	}
	log_event_formatted(level, event, buf, at);
	stats_count_event(event);
	board_event(event, buf, at);
	event_stream_publish(event, buf, at);
	if (spool_is_open())
		(void) spool_add(event, buf, at);
}

/* Close the spool; what is still pending stays in its file.  Returns nothing. */
void
events_shutdown(void)
{
	spool_close();
}
