/*
 * event_names.h
 *		The tunnel's event names as the code uses them: an id per row of
 *		event_list.h (the one list), and what each row says.  An event is
 *		emitted by its id, so a name that is not in the list cannot be
 *		emitted at all: it does not compile.
 */
#ifndef CHATGENIUS_EVENT_NAMES_H
#define CHATGENIUS_EVENT_NAMES_H

#include <stdbool.h>

#include "log.h"

typedef enum event_id
{
#define EVENT_NAME(id, name, level, since) id,
#include "event_list.h"
#undef EVENT_NAME
	EVENT_COUNT
} event_id;

/* The event's name (log, spool, tunnel_events.event). */
extern const char *event_name(event_id id);

/* The level of the event's log line. */
extern log_level event_level(event_id id);

/* The first extension version whose tunnel_events takes the event ("1.5"). */
extern const char *event_since(event_id id);

/* The id of a listed name.  Returns true and sets *id, or false when unlisted. */
extern bool event_by_name(const char *name, event_id *id);

/*
 * Whether an extension at extversion (pg_extension.extversion, "1.10")
 * takes the event, by the list's "since".  A version that does not read as
 * numbers separated by dots takes every event: the database decides.
 */
extern bool event_taken_by(event_id id, const char *extversion);

#endif							/* CHATGENIUS_EVENT_NAMES_H */
