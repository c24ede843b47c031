/*
 * sd_notify.h
 *		systemd's readiness protocol (sd_notify(3)), without libsystemd: one
 *		datagram of "KEY=VALUE\n" lines to the unix socket named by
 *		$NOTIFY_SOCKET (a path, or "@name" in the abstract namespace).
 *		Without NOTIFY_SOCKET every call does nothing.
 */
#ifndef CHATGENIUS_SD_NOTIFY_H
#define CHATGENIUS_SD_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Read NOTIFY_SOCKET and WATCHDOG_USEC (WATCHDOG_PID, if set, must be ours). */
extern void sd_notify_init(void);

/* True when NOTIFY_SOCKET named a socket. */
extern bool sd_notify_enabled(void);

/* The watchdog interval in ms (WatchdogSec=), 0 when off. */
extern int64_t sd_notify_watchdog_ms(void);

/* Send state ("READY=1", "STATUS=...\n..."); returns 0, -1 when not sent. */
extern int	sd_notify_send(const char *state);

/* The same from a signal handler: async-signal-safe, never logs. */
extern void sd_notify_from_signal(const char *state);

#endif							/* CHATGENIUS_SD_NOTIFY_H */
