/*
 * service_thread.h
 *		One way to start and stop the helper's long-lived threads (listener,
 *		health check's room, status socket, janitor).
 *
 * Each of them polls a wake-up eventfd beside its own sockets.  Stopping is
 * always the same four steps in the same order (flag, wake, join, close), and
 * getting it wrong in one copy (waking before the flag is set, closing the
 * eventfd under a running poll) is a hang or a use of a closed descriptor:
 * so the steps are written once, here.
 */
#ifndef CHATGENIUS_SERVICE_THREAD_H
#define CHATGENIUS_SERVICE_THREAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct service_thread
{
	pthread_t	thread;
	int			wake_fd;		/* poll it for POLLIN; -1 before prepare */
	atomic_int	stopping;		/* set before the wake-up that asks the stop */
	bool		running;		/* started and not yet joined */
} service_thread;

#define SERVICE_THREAD_INIT {.wake_fd = -1}

extern int	service_thread_prepare(service_thread *t, char *err, size_t errlen);
extern int	service_thread_start(service_thread *t, void *(*main) (void *),
								 char *err, size_t errlen);
extern void service_thread_wake(service_thread *t);
extern void service_thread_drain(service_thread *t);
extern bool service_thread_stopping(service_thread *t);
extern void service_thread_join(service_thread *t);
extern void service_thread_stop(service_thread *t);
extern void service_thread_close(service_thread *t);

#endif
