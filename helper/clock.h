/*
 * clock.h
 *		The helper's one monotonic clock, in milliseconds: every deadline,
 *		timeout and liveness measure uses it (ssh_now_ms is a name for it).
 */
#ifndef CHATGENIUS_CLOCK_H
#define CHATGENIUS_CLOCK_H

#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC (0 if the clock cannot be read). */
extern int64_t clock_now_ms(void);

#endif							/* CHATGENIUS_CLOCK_H */
