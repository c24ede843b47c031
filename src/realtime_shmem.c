/*-------------------------------------------------------------------------
 *
 * realtime_shmem.c
 *	  One notifier slot per database in shared memory (only when the
 *	  library is in shared_preload_libraries), the commit-time wake-up of
 *	  the database's notifier, its on-demand start, and realtime_status().
 *
 * A writer that appended to the outbox wakes the notifier of its database
 * after its commit (the rows are visible by then).  If none runs, it asks
 * the postmaster for one (a dynamic background worker), at most once every
 * few seconds per database.  The notifier claims the slot at start, so two
 * notifiers never deliver for one database at the same time.
 *
 * The "pending" flag closes the race between a writer's commit and an idle
 * notifier retiring: the notifier clears it before each batch's snapshot and
 * retires only if no writer set it again since (see cg_notifier_try_retire).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "realtime.h"

#define RT_SLOTS				64
#define RT_REQUEST_RETRY_MS		5000	/* a start request is repeated after */
#define RT_SLOT_REUSE_MS		60000	/* an unused slot may serve another db */
#define RT_MAX_FAILED_STARTS	3	/* then the postmaster's restarts stop */

typedef struct RtSlot
{
	Oid			dboid;			/* InvalidOid: free */
	pid_t		pid;			/* the running notifier, 0 if none */
	Latch	   *latch;			/* its latch (PGPROC memory, never freed) */
	bool		pending;		/* a writer committed outbox rows since the
								 * notifier's last snapshot */
	TimestampTz requested_at;	/* last start request, 0 if none */
	int			failed_starts;	/* starts since the last successful claim */
	TimestampTz last_batch_at;
	int64		delivered;
	int64		batches;
} RtSlot;

typedef struct RtShared
{
	slock_t		mutex;
	RtSlot		slots[RT_SLOTS];
} RtShared;

static RtShared *rt_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool rt_outbox_written_in_xact = false;

PG_FUNCTION_INFO_V1(chatgenius_realtime_status);

/*
 * rt_shmem_request
 *		shmem_request_hook; returns nothing.  Reserves the slot array.
 */
static void
rt_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(RtShared)));
}

/*
 * rt_shmem_startup
 *		shmem_startup_hook; returns nothing.  Attaches to (or, at server start
 *		and after a crash, zeroes) the slot array.
 */
static void
rt_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	rt_shared = ShmemInitStruct("chatgenius realtime", sizeof(RtShared), &found);
	if (!found)
	{
		memset(rt_shared, 0, sizeof(RtShared));
		SpinLockInit(&rt_shared->mutex);
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * cg_realtime_shmem_init_hooks
 *		Installs the shared memory hooks; returns nothing.  Called from
 *		_PG_init only while shared_preload_libraries is being processed.
 */
void
cg_realtime_shmem_init_hooks(void)
{
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = rt_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = rt_shmem_startup;
}

/*
 * cg_realtime_available
 *		Returns whether changes can go through the outbox: the library was
 *		preloaded, so the slots exist and notifiers can be started.
 */
bool
cg_realtime_available(void)
{
	return rt_shared != NULL;
}

/*
 * rt_find_slot
 *		Returns the slot of dboid, or claims a free (or long unused) one for
 *		it, or NULL if all are busy.  Caller holds the mutex.
 */
static RtSlot *
rt_find_slot(Oid dboid, bool create)
{
	RtSlot	   *spare = NULL;
	TimestampTz now = 0;
	int			i;

	for (i = 0; i < RT_SLOTS; i++)
	{
		RtSlot	   *slot = &rt_shared->slots[i];

		if (slot->dboid == dboid)
			return slot;
		if (!create || spare)
			continue;
		if (slot->dboid == InvalidOid)
			spare = slot;
		else if (slot->pid == 0)
		{
			if (now == 0)
				now = GetCurrentTimestamp();
			if (TimestampDifferenceExceeds(Max(slot->requested_at, slot->last_batch_at),
										   now, RT_SLOT_REUSE_MS))
				spare = slot;
		}
	}
	if (spare)
	{
		memset(spare, 0, sizeof(RtSlot));
		spare->dboid = dboid;
	}
	return spare;
}

/*
 * rt_request_notifier
 *		Asks the postmaster to start a notifier for dboid; returns whether the
 *		request was registered.  The worker is restarted a second after it
 *		dies (exit code 1) and unregistered when it retires (exit code 0).
 */
static bool
rt_request_notifier(Oid dboid)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = 1;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "chatgenius");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "chatgenius_notifier_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "chatgenius notifier for database %u", dboid);
	snprintf(worker.bgw_type, BGW_MAXLEN, "chatgenius notifier");
	worker.bgw_main_arg = ObjectIdGetDatum(dboid);
	worker.bgw_notify_pid = 0;
	return RegisterDynamicBackgroundWorker(&worker, &handle);
}

/*
 * rt_wake_notifier
 *		Wakes the notifier of dboid, or requests one if none runs and no
 *		request is under way; returns nothing.  Runs after commit, so it must
 *		not raise an error.
 */
static void
rt_wake_notifier(Oid dboid)
{
	RtSlot	   *slot;
	Latch	   *latch = NULL;
	bool		request = false;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_find_slot(dboid, true);
	if (slot)
	{
		slot->pending = true;
		if (slot->pid != 0)
			latch = slot->latch;
		else if (slot->requested_at == 0 ||
				 TimestampDifferenceExceeds(slot->requested_at, now, RT_REQUEST_RETRY_MS))
		{
			slot->requested_at = now;
			slot->failed_starts = 0;
			request = true;
		}
	}
	SpinLockRelease(&rt_shared->mutex);

	if (slot == NULL)
		ereport(WARNING,
				(errmsg("no chatgenius notifier slot is free for database %u", dboid),
				 errdetail("The changes stay in the outbox until a slot is free.")));
	else if (latch)
		SetLatch(latch);
	else if (request && !rt_request_notifier(dboid))
		ereport(WARNING,
				(errmsg("could not start the chatgenius notifier for database %u", dboid),
				 errdetail("The changes stay in the outbox until it starts."),
				 errhint("Raise max_worker_processes.")));
}

/*
 * rt_xact_callback
 *		Transaction callback; returns nothing.  After the commit of a
 *		transaction that appended to the outbox, wakes the notifier.
 */
static void
rt_xact_callback(XactEvent event, void *arg)
{
	if (!rt_outbox_written_in_xact)
		return;
	switch (event)
	{
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
			rt_outbox_written_in_xact = false;
			if (rt_shared)
				rt_wake_notifier(MyDatabaseId);
			break;
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* a prepared one is found by the notifier's periodic check */
			rt_outbox_written_in_xact = false;
			break;
		default:
			break;
	}
}

/*
 * cg_realtime_xact_callback_register
 *		Registers the transaction callback; returns nothing.  Once per process.
 */
void
cg_realtime_xact_callback_register(void)
{
	RegisterXactCallback(rt_xact_callback, NULL);
}

/*
 * cg_realtime_outbox_written
 *		Notes that this transaction appended to the outbox; returns nothing.
 */
void
cg_realtime_outbox_written(void)
{
	rt_outbox_written_in_xact = true;
}

/*
 * cg_notifier_may_start
 *		Counts a start of the notifier of dboid before it connects; returns
 *		false after RT_MAX_FAILED_STARTS starts that never reached a claim.
 *		A notifier whose database was dropped fails to connect (FATAL, exit
 *		code 1), and the postmaster would restart it every second forever;
 *		exiting 0 before connecting unregisters it.
 */
bool
cg_notifier_may_start(Oid dboid)
{
	RtSlot	   *slot;
	bool		may = true;

	if (!rt_shared)
		return false;
	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_find_slot(dboid, true);
	if (slot && slot->pid == 0 && slot->failed_starts++ >= RT_MAX_FAILED_STARTS)
	{
		slot->requested_at = 0;
		may = false;
	}
	SpinLockRelease(&rt_shared->mutex);
	return may;
}

/*
 * cg_notifier_claim
 *		Makes this process the notifier of dboid; returns false if another
 *		live notifier holds the slot (or no slot is free).
 */
bool
cg_notifier_claim(Oid dboid)
{
	RtSlot	   *slot;
	bool		claimed = false;

	if (!rt_shared)
		return false;
	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_find_slot(dboid, true);
	if (slot && (slot->pid == 0 || slot->pid == MyProcPid))
	{
		slot->pid = MyProcPid;
		slot->latch = MyLatch;
		slot->requested_at = 0;
		slot->failed_starts = 0;
		claimed = true;
	}
	SpinLockRelease(&rt_shared->mutex);
	return claimed;
}

/*
 * rt_vacate
 *		Gives up this process's claim on the slot of dboid, unless only_idle
 *		and a writer committed outbox rows since the last batch's snapshot;
 *		returns whether it did.  requested_at is what the slot then records as
 *		the last start request.
 */
static bool
rt_vacate(Oid dboid, bool only_idle, TimestampTz requested_at)
{
	RtSlot	   *slot;
	bool		vacated = false;

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_find_slot(dboid, false);
	if (slot && slot->pid == MyProcPid && !(only_idle && slot->pending))
	{
		slot->pid = 0;
		slot->latch = NULL;
		slot->requested_at = requested_at;
		vacated = true;
	}
	SpinLockRelease(&rt_shared->mutex);
	return vacated;
}

/*
 * cg_notifier_release
 *		before_shmem_exit callback of the notifier; returns nothing.  Frees
 *		the slot.  After a failure (code != 0) the postmaster restarts the
 *		worker, so the slot records a start request to keep writers from
 *		asking for another one meanwhile.
 */
void
cg_notifier_release(int code, Datum arg)
{
	(void) rt_vacate(DatumGetObjectId(arg), false, code != 0 ? GetCurrentTimestamp() : 0);
}

/*
 * cg_notifier_clear_pending
 *		Clears the pending flag before the notifier takes a batch's
 *		snapshot; returns nothing.  Any commit it misses sets it again.
 */
void
cg_notifier_clear_pending(Oid dboid)
{
	RtSlot	   *slot;

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_find_slot(dboid, false);
	if (slot)
		slot->pending = false;
	SpinLockRelease(&rt_shared->mutex);
}

/*
 * cg_notifier_try_retire
 *		Gives up the slot if no writer committed outbox rows since the last
 *		batch's snapshot; returns whether the notifier may exit.  A writer
 *		committing afterwards finds no notifier and requests a new one.
 */
bool
cg_notifier_try_retire(Oid dboid)
{
	return rt_vacate(dboid, true, 0);
}

/*
 * cg_notifier_count_batch
 *		Adds a delivered batch to the slot's counters; returns nothing.
 */
void
cg_notifier_count_batch(Oid dboid, int64 delivered)
{
	RtSlot	   *slot;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_find_slot(dboid, false);
	if (slot)
	{
		slot->delivered += delivered;
		slot->batches++;
		slot->last_batch_at = now;
	}
	SpinLockRelease(&rt_shared->mutex);
}

/*
 * chatgenius_realtime_status
 *		SQL realtime_status(); returns one row: the delivery path this session
 *		uses, whether the library was preloaded, and the current database's
 *		notifier (pid, changes delivered, batches, last batch) since server
 *		start.  Exists for operators and for the tests.
 */
Datum
chatgenius_realtime_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[6];
	bool		nulls[6];
	RtSlot		copy = {0};
	bool		have = false;
	const char *mode;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("realtime_status() must be called in a context that accepts a record")));

	if (cg_realtime == CG_REALTIME_OFF)
		mode = "off";
	else if (cg_realtime == CG_REALTIME_DIRECT || !rt_shared)
		mode = "direct";
	else
		mode = "notifier";

	if (rt_shared)
	{
		RtSlot	   *slot;

		SpinLockAcquire(&rt_shared->mutex);
		slot = rt_find_slot(MyDatabaseId, false);
		if (slot)
		{
			copy = *slot;
			have = true;
		}
		SpinLockRelease(&rt_shared->mutex);
	}

	memset(nulls, 0, sizeof(nulls));
	values[0] = CStringGetTextDatum(mode);
	values[1] = BoolGetDatum(rt_shared != NULL);
	if (have && copy.pid != 0)
		values[2] = Int32GetDatum(copy.pid);
	else
		nulls[2] = true;
	values[3] = Int64GetDatum(have ? copy.delivered : 0);
	values[4] = Int64GetDatum(have ? copy.batches : 0);
	if (have && copy.last_batch_at != 0)
		values[5] = TimestampTzGetDatum(copy.last_batch_at);
	else
		nulls[5] = true;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
