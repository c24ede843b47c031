/*
 * clock.h
 *		The helper's one monotonic clock, in milliseconds: every deadline,
 *		timeout and liveness measure uses it.
 */
#ifndef CHATGENIUS_CLOCK_H
#define CHATGENIUS_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (0 if the clock cannot be read). */
extern int64_t clock_now_ms(void);

/* The same clock in microseconds, for latencies. */
extern int64_t clock_now_us(void);

/* Microseconds since the epoch on CLOCK_REALTIME (0 if it cannot be read). */
extern int64_t clock_wall_us(void);

/*
 * The helper's one timestamp format, ISO 8601 in UTC, which the log lines
 * carry and PostgreSQL reads as a timestamptz: "2026-11-26T14:40:00.123Z"
 * with digits 3 (milliseconds), or 6 (microseconds).  Writes into buf
 * (truncating) and returns the length written.
 */
extern size_t clock_format_utc(int64_t wall_us, int digits, char *buf, size_t len);

#endif							/* CHATGENIUS_CLOCK_H */
