/*
 * clock.c
 *		The one monotonic clock and the one timestamp format (see clock.h).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"

/* Returns CLOCK_MONOTONIC in milliseconds, 0 when it cannot be read. */
int64_t
clock_now_ms(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Returns CLOCK_MONOTONIC in microseconds (latencies), 0 when it cannot be read. */
int64_t
clock_now_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0)
		return 0;
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Returns CLOCK_REALTIME in microseconds, 0 when it cannot be read. */
int64_t
clock_wall_us(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0)
		return 0;
	return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* See clock.h.  Returns the length written. */
size_t
clock_format_utc(int64_t wall_us, int digits, char *buf, size_t len)
{
	time_t		sec = (time_t) (wall_us / 1000000);
	unsigned	frac = (unsigned) (wall_us % 1000000);
	struct tm	tm;
	size_t		n;
	int			r;

	if (len == 0)
		return 0;
	if (gmtime_r(&sec, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	if (digits == 3)
		r = snprintf(buf + n, len - n, ".%03uZ", frac / 1000);
	else
		r = snprintf(buf + n, len - n, ".%06uZ", frac);
	if (r > 0)
		n += (size_t) r < len - n ? (size_t) r : len - n - 1;
	return n;
}
