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
extern int	cg_realtime_delay_warn;
extern int	cg_realtime_delay_critical;
extern int	cg_realtime_resume_delay;

#define CG_OUTBOX_TABLE			"realtime_outbox"
#define CG_DEAD_LETTER_TABLE	"realtime_dead_letter"
#define CG_SENT_TABLE			"realtime_sent"
#define CG_LAST_ERROR_LEN		160

/*
 * What health() and realtime_status() read of a database's notifier slot
 * (a copy taken under the slot's lock).
 */
typedef struct CgNotifierView
{
	bool		found;			/* the database has a slot */
	pid_t		pid;			/* the running notifier, 0 if none */
	TimestampTz alive_at;		/* its last pass through the main loop */
	TimestampTz oldest_unsent_at;	/* first commit not yet in a batch, or
									 * the oldest of the batch being sent */
	int64		delivered;
	int64		batches;
	TimestampTz last_batch_at;
	int64		errors;			/* failed notifier transactions */
	int64		set_aside;		/* changes moved to the dead-letter table */
	int			recent_exits;	/* failed exits in the current minute */
	TimestampTz last_exit_at;
	TimestampTz last_error_at;
	char		last_error[CG_LAST_ERROR_LEN];
} CgNotifierView;

/* Shared memory and the wake-up of a database's notifier (realtime_shmem.c). */
extern void cg_realtime_shmem_init_hooks(void);
extern bool cg_realtime_available(void);
extern uint64 cg_realtime_server_id(void);
extern void cg_realtime_outbox_written(Oid owner);
extern void cg_realtime_xact_callback_register(void);
extern bool cg_notifier_may_start(Oid dboid);
extern bool cg_notifier_claim(Oid dboid);
extern void cg_notifier_release(int code, Datum arg);
extern void cg_notifier_begin_batch(Oid dboid);
extern void cg_notifier_end_batch(Oid dboid, bool sent);
extern void cg_notifier_sending(Oid dboid, TimestampTz oldest);
extern void cg_notifier_alive(Oid dboid);
extern bool cg_notifier_pending(Oid dboid);
extern bool cg_notifier_try_retire(Oid dboid);
extern void cg_notifier_count_sent(Oid dboid, int64 delivered);
extern void cg_notifier_count_error(Oid dboid, const char *message, bool set_aside);
extern bool cg_notifier_view(Oid dboid, CgNotifierView *view);
#define CG_RESUME_XIP_MAX		64
extern void cg_notifier_save_position(Oid dboid, uint64 xmax, const uint64 *xip, int nxip);
extern int	cg_notifier_load_position(Oid dboid, uint64 *xmax, uint64 *xip);
extern void cg_notifier_kick(Oid dboid);
extern bool cg_notifier_starting(Oid dboid);

/* The notifier's main loop (notifier.c). */
extern PGDLLEXPORT void chatgenius_notifier_main(Datum main_arg);

/* A notifier for every database once writes are accepted (notifier_launcher.c). */
extern void cg_notifier_launcher_register(void);
extern PGDLLEXPORT void chatgenius_notifier_launcher_main(Datum main_arg);

#endif							/* CHATGENIUS_REALTIME_H */
