/*
 * event_stream.h
 *		`chatgenius-tunnel events --follow`: the helper's events, as they
 *		happen, to local followers on the status socket (status_socket.h),
 *		from memory: it works while the database is away.  The seed's
 *		tunnel.on(...), for an app on the app host.
 *
 *		Each follower has a bounded buffer of EVENT_FOLLOWER_BUFFER bytes
 *		(CHATGENIUS_FOLLOWER_BUFFER, from 4096, makes it smaller: tests),
 *		and its socket's send buffer is bounded the same.
 *		A follower that reads too slowly never holds the helper up: the
 *		events that find no room are counted, and once there is room again
 *		a "dropped" line says how many it missed.  At most
 *		EVENT_FOLLOWERS_MAX follow at once.
 *
 *		A line has tunnel_events' fields: text is "occurred_at event
 *		detail"; JSON is {"tunnel_name", "event", "detail", "occurred_at"}.
 *		The marker is "occurred_at dropped count=N" or {"event": "dropped",
 *		"count": N, ...}: no tunnel event has that name.
 */
#ifndef CHATGENIUS_EVENT_STREAM_H
#define CHATGENIUS_EVENT_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EVENT_FOLLOWERS_MAX		16
#define EVENT_FOLLOWER_BUFFER	65536
#define EVENT_STREAM_FLUSH_MS	1000	/* at stop, followers get this to read the last events */

/* Start the thread.  Returns 0, or -1 (logged: then nobody can follow). */
extern int	event_stream_start(void);

/*
 * Flush what followers have pending (up to EVENT_STREAM_FLUSH_MS), close
 * them and stop the thread.  Returns nothing.
 */
extern void event_stream_stop(void);

/*
 * A new follower on fd (non-blocking, owned from here): events from now
 * on, as JSON or text.  Returns false when it was closed at once (too many
 * followers, or not running).
 */
extern bool event_stream_add(int fd, bool json);

/* How many follow now (status, metrics). */
extern int	event_stream_followers(void);

/* An event was sent (events.c): to every follower.  Thread-safe. */
extern void event_stream_publish(const char *event, const char *detail, int64_t wall_us);

/*
 * One event as a line (newline included) in buf.  Returns its length (0
 * when it does not fit).  The status socket's `events` answer uses it too.
 */
extern size_t event_stream_format(bool json, const char *event, const char *detail,
								  int64_t wall_us, char *buf, size_t len);

#endif							/* CHATGENIUS_EVENT_STREAM_H */
