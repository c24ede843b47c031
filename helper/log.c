/*
 * log.c
 *		One line per event on stderr: an ISO 8601 UTC timestamp with
 *		milliseconds, the level, event=... or msg=..., tunnel=..., then the
 *		caller's key=value fields.  Each line goes out in a single write(2) so
 *		that lines from different threads never interleave.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"

#define LOG_LINE_MAX 4096

/* Set on SIGHUP by the janitor, read by every thread: an atomic. */
static atomic_int min_level = LOG_INFO;
static char tunnel_label[512] = "";

static const char *const level_words[] = {"DEBUG", "INFO", "WARN", "ERROR"};

/*
 * Remember the minimum level and the tunnel name printed on every line.
 * Called once at start and again after a reload (level only changes).
 */
void
log_init(const char *tunnel_name, log_level level)
{
	if (tunnel_name != NULL)
		log_quote(tunnel_label, sizeof(tunnel_label), tunnel_name);
	atomic_store(&min_level, (int) level);
}

/*
 * Map a TUNNEL_LOG_LEVEL word (debug, info, warn/warning, error; any case)
 * to its level.  Returns 0, or -1 for an unknown word (*out unchanged).
 */
int
log_parse_level(const char *name, log_level *out)
{
	if (name == NULL)
		return -1;
	if (strcasecmp(name, "debug") == 0)
		*out = LOG_DEBUG;
	else if (strcasecmp(name, "info") == 0)
		*out = LOG_INFO;
	else if (strcasecmp(name, "warn") == 0 || strcasecmp(name, "warning") == 0)
		*out = LOG_WARN;
	else if (strcasecmp(name, "error") == 0)
		*out = LOG_ERROR;
	else
		return -1;
	return 0;
}

/*
 * Quote a field value when it needs it (space, quote, backslash, '=' or a
 * control character; or empty).  Returns buf, always NUL-terminated.
 */
const char *
log_quote(char *buf, size_t buflen, const char *value)
{
	const unsigned char *p;
	size_t		n = 0;
	int			needs = 0;

	if (buflen == 0)
		return buf;
	if (value == NULL)
		value = "";
	if (*value == '\0')
		needs = 1;
	for (p = (const unsigned char *) value; *p && !needs; p++)
		if (*p <= ' ' || *p == '"' || *p == '\\' || *p == '=' || *p == 0x7f)
			needs = 1;
	if (!needs)
	{
		snprintf(buf, buflen, "%s", value);
		return buf;
	}

#define PUT(c) do { if (n + 1 < buflen) buf[n++] = (c); } while (0)
	PUT('"');
	for (p = (const unsigned char *) value; *p; p++)
	{
		if (n + 4 >= buflen)
			break;
		switch (*p)
		{
			case '"':
				PUT('\\');
				PUT('"');
				break;
			case '\\':
				PUT('\\');
				PUT('\\');
				break;
			case '\n':
				PUT('\\');
				PUT('n');
				break;
			case '\r':
				PUT('\\');
				PUT('r');
				break;
			case '\t':
				PUT('\\');
				PUT('t');
				break;
			default:
				PUT(*p < ' ' || *p == 0x7f ? '?' : (char) *p);
				break;
		}
	}
	PUT('"');
#undef PUT
	buf[n] = '\0';
	return buf;
}

/* Output buffer of log_vformat: truncates, always NUL-terminated. */
typedef struct out_buf
{
	char	   *buf;
	size_t		len;
	size_t		n;				/* characters wanted so far */
} out_buf;

static void
out_char(out_buf *o, char c)
{
	if (o->n + 1 < o->len)
		o->buf[o->n] = c;
	o->n++;
}

static void
out_str(out_buf *o, const char *s)
{
	for (; *s; s++)
		out_char(o, *s);
}

/*
 * Appends value escaped for the inside of a double-quoted field: \" \\ \n
 * \r \t, other control characters as \xHH.  Returns nothing.
 */
static void
out_escaped(out_buf *o, const char *value)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p;

	for (p = (const unsigned char *) value; *p; p++)
	{
		switch (*p)
		{
			case '"':
				out_str(o, "\\\"");
				break;
			case '\\':
				out_str(o, "\\\\");
				break;
			case '\n':
				out_str(o, "\\n");
				break;
			case '\r':
				out_str(o, "\\r");
				break;
			case '\t':
				out_str(o, "\\t");
				break;
			default:
				if (*p < ' ' || *p == 0x7f)
				{
					out_str(o, "\\x");
					out_char(o, hex[*p >> 4]);
					out_char(o, hex[*p & 15]);
				}
				else
					out_char(o, (char) *p);
				break;
		}
	}
}

/*
 * Returns whether value is already one well-formed quoted field value (as
 * log_quote makes them): "...", with every quote and backslash inside
 * escaped and no control character.
 */
static bool
is_quoted_value(const char *value)
{
	size_t		len = strlen(value);
	const unsigned char *p;

	if (len < 2 || value[0] != '"' || value[len - 1] != '"')
		return false;
	for (p = (const unsigned char *) value + 1; p < (const unsigned char *) value + len - 1; p++)
	{
		if (*p < ' ' || *p == 0x7f || *p == '"')
			return false;
		if (*p == '\\')
		{
			p++;
			if (p >= (const unsigned char *) value + len - 1 || strchr("\"\\nrtx", *p) == NULL)
				return false;
		}
	}
	return true;
}

/*
 * Appends a value that stands alone after "key=": as is when it needs no
 * quotes (or is already a quoted value), else quoted and escaped.
 */
static void
out_value(out_buf *o, const char *value)
{
	const unsigned char *p;
	bool		needs = *value == '\0';

	if (is_quoted_value(value))
	{
		out_str(o, value);
		return;
	}
	for (p = (const unsigned char *) value; *p && !needs; p++)
		if (*p <= ' ' || *p == '"' || *p == '\\' || *p == '=' || *p == 0x7f)
			needs = true;
	if (!needs)
	{
		out_str(o, value);
		return;
	}
	out_char(o, '"');
	out_escaped(o, value);
	out_char(o, '"');
}

/* The characters that may stand between a conversion's '%' and its letter. */
#define SPEC_CHARS "-+ #0123456789.*'hlLqjzt"

/*
 * Copies fmt to w (strlen(fmt) + 1 bytes) with each %n made %p: its
 * pointer printed, never written through.  Returns w.
 */
static char *
copy_format(char *w, const char *fmt)
{
	strcpy(w, fmt);
	for (char *p = w; *p; p++)
	{
		if (*p != '%')
			continue;
		p += 1 + strspn(p + 1, SPEC_CHARS);
		if (*p == 'n')
			*p = 'p';
		else if (*p == '\0')
			break;
	}
	return w;
}

/*
 * Returns how many characters fmt (a writable copy) prints before cut, a
 * position in it, with ap's arguments: the format is ended there for one
 * vsnprintf.
 */
static size_t
printed_before(char *fmt, char *cut, va_list ap)
{
	char		saved = *cut;
	va_list		aq;
	int			n;

	*cut = '\0';
	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	*cut = saved;
	return n > 0 ? (size_t) n : 0;
}

/*
 * See log.h.  printf does the formatting, once for the whole text; what is
 * added here is where each %s printed its value, found by printing the
 * format cut just before and just after it.  That span goes through
 * out_value, or through out_escaped when the format puts it between double
 * quotes (error="%s"), so no caller can write a raw quote, backslash or
 * newline into a line; the rest is copied.  Returns the length wanted (as
 * vsnprintf does).
 */
size_t
log_vformat(char *buf, size_t len, const char *fmt, va_list ap)
{
	out_buf		o = {buf, len, 0};
	char		fbuf[512],
				tbuf[LOG_LINE_MAX];
	size_t		need = strlen(fmt) + 1;
	char	   *f = need <= sizeof(fbuf) ? fbuf : malloc(need);
	char	   *text = tbuf;
	bool		in_quotes = false;
	size_t		done = 0;
	va_list		aq;
	int			n = -1;

	if (f != NULL)
	{
		va_copy(aq, ap);
		n = vsnprintf(tbuf, sizeof(tbuf), copy_format(f, fmt), aq);
		va_end(aq);
	}
	if (n >= (int) sizeof(tbuf) && (text = malloc((size_t) n + 1)) != NULL)
	{
		va_copy(aq, ap);
		vsnprintf(text, (size_t) n + 1, f, aq);
		va_end(aq);
	}
	if (n < 0 || text == NULL)
	{
		out_str(&o, "(cannot format)");
		n = 0;
	}
	for (char *p = f; n > 0 && *p; p++)
	{
		char	   *conv = p + 1 + strspn(p + 1, SPEC_CHARS);
		size_t		start;
		char		saved;

		if (*p == '"')
			in_quotes = !in_quotes;
		if (*p != '%' || *conv == '\0')
			continue;
		if (*conv == 's')
		{
			start = printed_before(f, p, ap);
			while (done < start)
				out_char(&o, text[done++]);
			done = printed_before(f, conv + 1, ap);
			saved = text[done];
			text[done] = '\0';
			(in_quotes ? out_escaped : out_value) (&o, text + start);
			text[done] = saved;
		}
		p = conv;
	}
	while (done < (size_t) n)
		out_char(&o, text[done++]);
	if (text != tbuf)
		free(text);
	if (f != fbuf)
		free(f);
	if (len > 0)
		buf[o.n < len ? o.n : len - 1] = '\0';
	return o.n;
}

/* See log.h.  Returns the length wanted (as snprintf does). */
size_t
log_format(char *buf, size_t len, const char *fmt, ...)
{
	va_list		ap;
	size_t		n;

	va_start(ap, fmt);
	n = log_vformat(buf, len, fmt, ap);
	va_end(ap);
	return n;
}

/*
 * Format and write one line.  key is "event" or "msg"; fields is a format
 * with its arguments in *ap, or (ap NULL) fields already made by
 * log_vformat; wall_us is the line's time (clock_wall_us()), 0 for now,
 * read only once the level lets the line through.  Returns nothing: a log
 * line that cannot be written has nowhere else to go.
 */
static void
log_write(log_level level, const char *key, const char *name,
		  const char *fields, va_list *ap, int64_t wall_us)
{
	char		line[LOG_LINE_MAX];
	size_t		n;
	int			r;
	ssize_t		w;
	size_t		off;

	if ((int) level < atomic_load(&min_level))
		return;
	if (level < LOG_DEBUG || level > LOG_ERROR)
		level = LOG_ERROR;
	n = clock_format_utc(wall_us ? wall_us : clock_wall_us(), 3, line, sizeof(line));
	r = snprintf(line + n, sizeof(line) - n, " %s %s=%s",
				 level_words[level], key, name ? name : "-");
	if (r > 0)
		n += (size_t) r < sizeof(line) - n ? (size_t) r : sizeof(line) - n - 1;
	if (tunnel_label[0] && n < sizeof(line) - 1)
	{
		r = snprintf(line + n, sizeof(line) - n, " tunnel=%s", tunnel_label);
		if (r > 0)
			n += (size_t) r < sizeof(line) - n ? (size_t) r : sizeof(line) - n - 1;
	}
	if (fields != NULL && fields[0] != '\0' && n < sizeof(line) - 2)
	{
		line[n++] = ' ';
		if (ap == NULL)
			r = snprintf(line + n, sizeof(line) - n, "%s", fields);
		else
			r = (int) log_vformat(line + n, sizeof(line) - n, fields, *ap);
		if (r > 0)
			n += (size_t) r < sizeof(line) - n ? (size_t) r : sizeof(line) - n - 1;
		else
			n--;
	}
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';

	off = 0;
	while (off < n)
	{
		w = write(STDERR_FILENO, line + off, n - off);
		if (w < 0)
		{
			if (errno == EINTR)
				continue;
			return;
		}
		off += (size_t) w;
	}
}

/* Write an event line (event=name).  Returns nothing. */
void
log_event(log_level level, const char *event, const char *fields, ...)
{
	va_list		ap;

	va_start(ap, fields);
	log_write(level, "event", event, fields, &ap, 0);
	va_end(ap);
}

/* Write a message line (msg=name) that is not an event.  Returns nothing. */
void
log_msg(log_level level, const char *msg, const char *fields, ...)
{
	va_list		ap;

	va_start(ap, fields);
	log_write(level, "msg", msg, fields, &ap, 0);
	va_end(ap);
}

/*
 * Write an event line whose fields were made by log_format, stamped
 * wall_us (the time the event's spooled row carries too).  Returns nothing.
 */
void
log_event_formatted(log_level level, const char *event, const char *fields, int64_t wall_us)
{
	log_write(level, "event", event, fields, NULL, wall_us);
}

/*
 * Write a message line (msg=name) whose fields are already safe key=value
 * text (made by log_format, or with every free-form value log_quote'd).
 * Returns nothing.
 */
void
log_msg_formatted(log_level level, const char *msg, const char *fields)
{
	log_write(level, "msg", msg, fields, NULL, 0);
}
