/*
 * events.h
 *		The tunnel's events: each one is a log line and a durable record in
 *		the spool under TUNNEL_STATE_DIR until the reporter has written it to
 *		chatgenius.tunnel_events.  Nothing is lost while the database is out
 *		of reach, across a restart too.
 *
 *		Event names (the contract): connected, disconnected, reconnecting,
 *		reconnected, health_check_failed, pool_full, maxRetriesExceeded,
 *		stopped, events_dropped.
 */
#ifndef CHATGENIUS_EVENTS_H
#define CHATGENIUS_EVENTS_H

#include "config.h"
#include "log.h"

/*
 * Open (or create) the spool for cfg->tunnel_name.  A spool that cannot be
 * written is a warning, never a failure: events are then kept in memory.
 */
extern void events_init(const tunnel_config *cfg);

/*
 * Record an event that happens now: log it at level with the detail fields
 * ("key=value ..." as in log_event) and spool it.  Thread-safe.
 */
extern void event_emit(log_level level, const char *event, const char *detail, ...)
			__attribute__((format(printf, 3, 4)));

/* Close the spool (after the last flush). */
extern void events_shutdown(void);

#endif							/* CHATGENIUS_EVENTS_H */
