/*
 * log.h
 *		One line per event on stderr: timestamp, level, key=value fields.
 *
 *		2026-11-26T14:40:00.123Z INFO event=connected tunnel=root@db:22 session=1
 */
#ifndef CHATGENIUS_LOG_H
#define CHATGENIUS_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

typedef enum log_level
{
	LOG_DEBUG,
	LOG_INFO,
	LOG_WARN,
	LOG_ERROR
} log_level;

/* Set the minimum level shown and the tunnel name added to every line. */
extern void log_init(const char *tunnel_name, log_level min_level);
extern int	log_parse_level(const char *name, log_level *out);

/*
 * Write one line.  what is the event name (printed as event=...) or, for
 * lines that are not events, a short message key (printed as msg=...; pass
 * event NULL).  fields is printf-style "key=value key=value", formatted
 * by log_vformat: every %s value is escaped there (key=%s quotes it when it
 * needs quotes, key="%s" escapes it inside the quotes), so a value cannot
 * break the line whatever it holds.  Thread-safe: one write(2) per line.
 */
extern void log_event(log_level level, const char *event, const char *fields, ...)
			__attribute__((format(printf, 3, 4)));
extern void log_msg(log_level level, const char *msg, const char *fields, ...)
			__attribute__((format(printf, 3, 4)));

/*
 * Format "key=value ..." fields as log_event does (see above) into buf,
 * truncating.  Returns the length wanted, as vsnprintf does.
 */
extern size_t log_vformat(char *buf, size_t len, const char *fmt, va_list ap);
extern size_t log_format(char *buf, size_t len, const char *fmt, ...)
			__attribute__((format(printf, 3, 4)));

/* Write an event line with fields already made by log_format, at wall_us. */
extern void log_event_formatted(log_level level, const char *event, const char *fields,
								int64_t wall_us);
/* Write a message line with fields that are already safe key=value text. */
extern void log_msg_formatted(log_level level, const char *msg, const char *fields);

/*
 * Quote a value for a key=value field: returned as is when it has no
 * space, quote or control character, else in double quotes with \" \\ \n
 * escapes.  Writes into buf (truncating) and returns buf.
 */
extern const char *log_quote(char *buf, size_t buflen, const char *value);

#endif							/* CHATGENIUS_LOG_H */
