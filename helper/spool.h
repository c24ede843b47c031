/*
 * spool.h
 *		The durable queue of events not yet written to the database: kept in
 *		memory and mirrored line by line in a file under TUNNEL_STATE_DIR,
 *		one file per tunnel name.  Events spooled by an earlier run are
 *		loaded at open and sent first.
 *
 *		File format, one record per line, tab-separated:
 *			v1 <event_key> <occurred_at> <event> <detail>	an event
 *			a1 <event_key>					it reached the database
 *		occurred_at is UTC with microseconds ("2026-11-26 14:40:00.123456+00");
 *		detail escapes \\ \t \n \r; event is a name of event_list.h.  A
 *		line that does not parse is skipped with a warning.  Each event line
 *		is on disk (fdatasync) before spool_add returns; see spool.c for the
 *		ordering that makes this hold across a power cut.  An event that the
 *		installed extension does not take yet stays pending, in its place,
 *		while the ones after it are written (reporter.c).
 */
#ifndef CHATGENIUS_SPOOL_H
#define CHATGENIUS_SPOOL_H

#include <stdbool.h>
#include <stdint.h>

#include "event_names.h"

#define SPOOL_KEY_MAX	64
#define SPOOL_TIME_MAX	40
#define SPOOL_EVENT_MAX	32

typedef struct spool_event
{
	char		key[SPOOL_KEY_MAX]; /* unique: start time, pid, sequence */
	char		occurred_at[SPOOL_TIME_MAX];
	char		event[SPOOL_EVENT_MAX];
	char	   *detail;			/* never NULL */
} spool_event;

/*
 * Open the spool for tunnel_name under dir (created 0700), load what an
 * earlier run left, and keep at most max_events.  A folder or file that
 * cannot be used is a warning: the spool is then memory-only.  So is an
 * existing folder that group or others can write, or that belongs to
 * another user than the helper's (or root), as OpenSSH judges ~/.ssh.  Returns 0
 * when the file is in use, -1 when memory-only.
 */
extern int	spool_open(const char *dir, const char *tunnel_name, int max_events);

/* Change the bound (a reload).  Returns nothing. */
extern void spool_set_max(int max_events);

/*
 * Append an event that happened at wall_us (clock_wall_us()).  When the
 * spool is full the event is counted as dropped; one events_dropped event
 * (count=N) is added once there is room again.  Returns 0 when kept, -1
 * when dropped.  Thread-safe.
 */
extern int	spool_add(event_id id, const char *detail, int64_t wall_us);

/*
 * Copy up to max of the oldest pending events into out, in order (the
 * caller frees them with spool_events_free).  Returns how many were copied.
 */
extern int	spool_peek(spool_event *out, int max);

/*
 * The same, passing over the events for which take(event, arg) is false
 * (those the database does not take yet: they stay pending, in their
 * place).  Returns how many were copied.
 */
typedef bool (*spool_filter) (const spool_event *e, void *arg);
extern int	spool_peek_if(spool_event *out, int max, spool_filter take, void *arg);
extern void spool_events_free(spool_event *events, int n);

/* The number of pending events for which take(event, arg) is true. */
extern int	spool_count_if(spool_filter take, void *arg);

/*
 * Forget these n events, copied by spool_peek or spool_peek_if in that
 * order (they reached the database, or it refused them for good): an
 * acknowledgement line each, appended outside the queue's lock; the file
 * is emptied once nothing is pending and compacted when acknowledgements
 * dominate it.  Events passed over stay pending.  Returns nothing.
 */
extern void spool_ack_events(const spool_event *done, int n);

/* Number of pending events. */
extern int	spool_pending(void);

/* Whether spool_open has been called (and spool_close not yet). */
extern int	spool_is_open(void);

/* Close the file and free the queue; pending events stay in the file. */
extern void spool_close(void);

#endif							/* CHATGENIUS_SPOOL_H */
