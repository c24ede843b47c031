/*-------------------------------------------------------------------------
 *
 * realtime.h
 *	  Real-time change delivery: the switch, the per-database notifier
 *	  slots in shared memory, the outbox and the notifier background worker.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CHATGENIUS_REALTIME_H
#define CHATGENIUS_REALTIME_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* chatgenius.realtime (module.c) */
typedef enum CgRealtimeMode
{
	CG_REALTIME_ON,				/* outbox + notifier; direct NOTIFY if not preloaded */
	CG_REALTIME_DIRECT,			/* NOTIFY in the writing transaction */
	CG_REALTIME_OFF				/* no notifications at all */
} CgRealtimeMode;

extern int	cg_realtime;
extern int	cg_realtime_batch_delay;

#define CG_OUTBOX_TABLE			"realtime_outbox"

/* Shared memory and the wake-up of a database's notifier (realtime_shmem.c). */
extern void cg_realtime_shmem_init_hooks(void);
extern bool cg_realtime_available(void);
extern void cg_realtime_outbox_written(void);
extern void cg_realtime_xact_callback_register(void);
extern bool cg_notifier_may_start(Oid dboid);
extern bool cg_notifier_claim(Oid dboid);
extern void cg_notifier_release(int code, Datum arg);
extern void cg_notifier_clear_pending(Oid dboid);
extern bool cg_notifier_try_retire(Oid dboid);
extern void cg_notifier_count_batch(Oid dboid, int64 delivered);

/* The notifier's main loop (notifier.c). */
extern PGDLLEXPORT void chatgenius_notifier_main(Datum main_arg);

#endif							/* CHATGENIUS_REALTIME_H */
