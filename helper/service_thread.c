/*
 * service_thread.c
 *		Start, wake and stop a long-lived thread that polls a wake-up eventfd
 *		(see service_thread.h for why this is written once).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "service_thread.h"

/*
 * Makes the wake-up eventfd if there is none yet.  Returns 0, or -1 with err
 * filled.  A thread whose eventfd is woken before the thread runs (the
 * janitor's, by signal handlers) prepares it early.
 */
int
service_thread_prepare(service_thread *t, char *err, size_t errlen)
{
	if (t->wake_fd >= 0)
		return 0;
	t->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (t->wake_fd < 0)
	{
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* Returns 0 once the thread runs main; -1 with err filled otherwise. */
int
service_thread_start(service_thread *t, void *(*main) (void *), char *err, size_t errlen)
{
	int			rc;

	if (service_thread_prepare(t, err, errlen) != 0)
		return -1;
	atomic_store(&t->stopping, 0);
	rc = pthread_create(&t->thread, NULL, main, NULL);
	if (rc != 0)
	{
		snprintf(err, errlen, "pthread_create: %s", strerror(rc));
		return -1;
	}
	t->running = true;
	return 0;
}

/* Wakes the thread's poll; async-signal-safe (one write(2), errno kept). */
void
service_thread_wake(service_thread *t)
{
	uint64_t	one = 1;
	int			saved = errno;

	if (t->wake_fd >= 0 && write(t->wake_fd, &one, sizeof(one)) < 0)
	{
		/* only a full counter fails, and a full counter still wakes */
	}
	errno = saved;
}

/* Takes the wake-ups counted so far, so that the next poll sleeps. */
void
service_thread_drain(service_thread *t)
{
	uint64_t	n;

	if (t->wake_fd >= 0 && read(t->wake_fd, &n, sizeof(n)) < 0)
	{
		/* EAGAIN: nothing was counted */
	}
}

/* True once a stop was asked: the thread's loop condition. */
bool
service_thread_stopping(service_thread *t)
{
	return atomic_load(&t->stopping) != 0;
}

/* Waits for the thread to end by itself; returns at once when it is not running. */
void
service_thread_join(service_thread *t)
{
	if (!t->running)
		return;
	pthread_join(t->thread, NULL);
	t->running = false;
}

/* Closes the wake-up eventfd; the thread must not be running. */
void
service_thread_close(service_thread *t)
{
	if (t->wake_fd >= 0)
		close(t->wake_fd);
	t->wake_fd = -1;
}

/*
 * Asks the thread to stop (the flag first, then the wake-up, so that the
 * woken poll sees the flag), waits for it, and closes the eventfd.  Harmless
 * on a thread that never started.
 */
void
service_thread_stop(service_thread *t)
{
	if (t->running)
	{
		atomic_store(&t->stopping, 1);
		service_thread_wake(t);
		service_thread_join(t);
	}
	service_thread_close(t);
}
