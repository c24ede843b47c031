/*
 * log.c
 *		One line per event on stderr: an ISO 8601 UTC timestamp with
 *		milliseconds, the level, event=... or msg=..., tunnel=..., then the
 *		caller's key=value fields.  Each line goes out in a single write(2) so
 *		that lines from different threads never interleave.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

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

/*
 * Format and write one line.  key is "event" or "msg".  Returns nothing:
 * a log line that cannot be written has nowhere else to go.
 */
static void
log_write(log_level level, const char *key, const char *name,
		  const char *fields, va_list ap)
{
	char		line[LOG_LINE_MAX];
	struct timespec ts;
	struct tm	tm;
	size_t		n;
	int			r;
	ssize_t		w;
	size_t		off;

	if ((int) level < atomic_load(&min_level))
		return;
	if (level < LOG_DEBUG || level > LOG_ERROR)
		level = LOG_ERROR;
	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		memset(&ts, 0, sizeof(ts));
	if (gmtime_r(&ts.tv_sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s %s=%s",
				 ts.tv_nsec / 1000000L, level_words[level], key,
				 name ? name : "-");
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
		r = vsnprintf(line + n, sizeof(line) - n, fields, ap);
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
	log_write(level, "event", event, fields, ap);
	va_end(ap);
}

/* Write a message line (msg=name) that is not an event.  Returns nothing. */
void
log_msg(log_level level, const char *msg, const char *fields, ...)
{
	va_list		ap;

	va_start(ap, fields);
	log_write(level, "msg", msg, fields, ap);
	va_end(ap);
}
