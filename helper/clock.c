/*
 * clock.c
 *		The one monotonic clock (see clock.h).
 */
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
