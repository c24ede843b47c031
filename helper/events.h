/*
 * events.h
 *		The tunnel's events: each one is a log line and a durable record in
 *		the spool under TUNNEL_STATE_DIR until the reporter has written it to
 *		chatgenius.tunnel_events.  Nothing is lost while the database is out
 *		of reach, across a restart too.  The names are event_list.h's rows,
 *		emitted by their ids (event_names.h).
 */
#ifndef CHATGENIUS_EVENTS_H
#define CHATGENIUS_EVENTS_H

#include "config.h"
#include "event_names.h"
#include "log.h"

/*
 * Open (or create) the spool for cfg->tunnel_name.  A spool that cannot be
 * written is a warning, never a failure: events are then kept in memory.
 */
extern void events_init(const tunnel_config *cfg);

/*
 * Record an event that happens now: log it at its listed level with the
 * detail fields ("key=value ..." as in log_event) and spool it.
 * Thread-safe.
 */
extern void event_emit(event_id id, const char *detail, ...)
			__attribute__((format(printf, 2, 3)));

/* The same at another level than the listed one (a refusal at start, say). */
extern void event_emit_at(log_level level, event_id id, const char *detail, ...)
			__attribute__((format(printf, 3, 4)));

/* Close the spool (after the last flush). */
extern void events_shutdown(void);

#endif							/* CHATGENIUS_EVENTS_H */
