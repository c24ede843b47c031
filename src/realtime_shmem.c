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
 * The slot is also what health() reads of the notifier: its last pass through
 * its loop (a stopped notifier stops updating it), the oldest change not yet
 * sent (the first commit since the last batch began, or the oldest row of the
 * batch being sent), its errors and its failed exits (a crash loop).
 *
 * The notifier runs as the extension's owner: the writer passes the owner of
 * the outbox table (the role that ran CREATE EXTENSION) in the worker's
 * bgw_extra, since a worker must name its role before it can read a catalog.
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
#define RT_EXIT_WINDOW_MS		60000	/* failed exits are counted per minute */
#define RT_RESUME_XIP			CG_RESUME_XIP_MAX	/* in-progress xids a slot keeps */

typedef struct RtSlot
{
	Oid			dboid;			/* InvalidOid: free */
	Oid			owner;			/* the role the notifier runs as */
	pid_t		pid;			/* the running notifier, 0 if none */
	Latch	   *latch;			/* its latch (PGPROC memory, never freed) */
	bool		pending;		/* a writer committed outbox rows since the
								 * notifier's last snapshot */
	TimestampTz requested_at;	/* last start request, 0 if none */
	int			failed_starts;	/* starts since the last successful claim */
	TimestampTz last_batch_at;
	int64		delivered;
	int64		batches;
	TimestampTz alive_at;		/* the notifier's last pass through its loop */
	TimestampTz unsent_since;	/* first commit since the last batch began */
	TimestampTz sending_since;	/* oldest change of the batch being sent */
	int64		errors;
	int64		set_aside;
	int			recent_exits;	/* failed exits since exit_window_start */
	TimestampTz exit_window_start;
	TimestampTz last_exit_at;
	TimestampTz last_error_at;
	char		last_error[CG_LAST_ERROR_LEN];
	/* the last whole batch's snapshot, for the next notifier (0: none) */
	uint64		resume_xmax;
	int			resume_nxip;
	uint64		resume_xip[RT_RESUME_XIP];
} RtSlot;

typedef struct RtShared
{
	slock_t		mutex;
	uint64		server_id;		/* this shared memory's life (see
								 * cg_realtime_server_id) */
	RtSlot		slots[RT_SLOTS];
} RtShared;

static RtShared *rt_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;
static bool rt_outbox_written_in_xact = false;
static Oid	rt_outbox_owner = InvalidOid;

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
		if (!pg_strong_random(&rt_shared->server_id, sizeof(rt_shared->server_id)))
			rt_shared->server_id = (uint64) GetCurrentTimestamp() ^ ((uint64) MyProcPid << 40);
		if (rt_shared->server_id == 0)
			rt_shared->server_id = 1;
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
 * cg_realtime_server_id
 *		Returns a random number drawn when this server's shared memory was
 *		made: at its start and again after each crash restart, on a primary
 *		or on a promoted standby alike, never when only a notifier restarts.
 *		It names the life of the notification queue: a notifier that finds
 *		its own number on the record of the changes sent last knows that
 *		they went into the queue its listeners still read (see notifier.c).
 */
uint64
cg_realtime_server_id(void)
{
	return rt_shared ? rt_shared->server_id : 0;
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
rt_request_notifier(Oid dboid, Oid owner)
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
	memcpy(worker.bgw_extra, &owner, sizeof(Oid));
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
rt_wake_notifier(Oid dboid, Oid owner)
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
		if (slot->unsent_since == 0)
			slot->unsent_since = now;
		if (OidIsValid(owner))
			slot->owner = owner;
		owner = slot->owner;
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
	else if (request && !rt_request_notifier(dboid, owner))
		ereport(WARNING,
				(errmsg("could not start the chatgenius notifier for database %u", dboid),
				 errdetail("The changes stay in the outbox until it starts."),
				 errhint("Raise max_worker_processes.")));
}

/*
 * cg_notifier_kick
 *		Wakes or requests the notifier of dboid as a writer's commit does;
 *		returns nothing.  For notifier_launcher.c, which sends what the
 *		outboxes hold once the server accepts writes.
 */
void
cg_notifier_kick(Oid dboid)
{
	if (rt_shared)
		rt_wake_notifier(dboid, InvalidOid);	/* the notifier finds its owner */
}

/*
 * cg_notifier_starting
 *		Returns whether a notifier of dboid was requested and has neither
 *		claimed the slot nor exited yet.  The launcher waits on it, so that
 *		it asks for one notifier at a time: one that exits at once (no
 *		extension in its database) frees its slot for the next database.
 */
bool
cg_notifier_starting(Oid dboid)
{
	RtSlot	   *slot;
	bool		starting = false;

	if (!rt_shared)
		return false;
	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_find_slot(dboid, false);
	if (slot)
		starting = slot->pid == 0 && slot->requested_at != 0;
	SpinLockRelease(&rt_shared->mutex);
	return starting;
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
				rt_wake_notifier(MyDatabaseId, rt_outbox_owner);
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
 *		Notes that this transaction appended to the outbox, owned by owner;
 *		returns nothing.
 */
void
cg_realtime_outbox_written(Oid owner)
{
	rt_outbox_written_in_xact = true;
	rt_outbox_owner = owner;
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
	Oid			dboid = DatumGetObjectId(arg);
	TimestampTz now = GetCurrentTimestamp();

	if (code != 0)
	{
		RtSlot	   *slot;

		SpinLockAcquire(&rt_shared->mutex);
		slot = rt_find_slot(dboid, false);
		if (slot && slot->pid == MyProcPid)
		{
			if (TimestampDifferenceExceeds(slot->exit_window_start, now, RT_EXIT_WINDOW_MS))
			{
				slot->exit_window_start = now;
				slot->recent_exits = 0;
			}
			slot->recent_exits++;
			slot->last_exit_at = now;
		}
		SpinLockRelease(&rt_shared->mutex);
	}
	(void) rt_vacate(dboid, false, code != 0 ? now : 0);
}

/*
 * rt_my_slot
 *		Returns the slot of dboid if this process is its notifier, else NULL.
 *		Caller holds the mutex.
 */
static RtSlot *
rt_my_slot(Oid dboid)
{
	RtSlot	   *slot = rt_find_slot(dboid, false);

	return (slot && slot->pid == MyProcPid) ? slot : NULL;
}

/*
 * cg_notifier_begin_batch
 *		Clears the pending flag just before the notifier takes a batch's
 *		snapshot (a batch resumed from realtime_sent takes none and leaves
 *		it set); returns nothing.  Any commit it misses sets it again.  The first
 *		commit since the previous batch began becomes the oldest change of
 *		this one.
 */
void
cg_notifier_begin_batch(Oid dboid)
{
	RtSlot	   *slot;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_my_slot(dboid);
	if (slot)
	{
		slot->pending = false;
		slot->alive_at = now;
		slot->sending_since = slot->unsent_since;
		slot->unsent_since = 0;
	}
	SpinLockRelease(&rt_shared->mutex);
}

/*
 * cg_notifier_sending
 *		Notes the creation time of a change the notifier is about to send
 *		(changes that woke no one, such as leftovers of a crash, are counted
 *		this way); returns nothing.
 */
void
cg_notifier_sending(Oid dboid, TimestampTz oldest)
{
	RtSlot	   *slot;

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_my_slot(dboid);
	if (slot && (slot->sending_since == 0 || oldest < slot->sending_since))
		slot->sending_since = oldest;
	SpinLockRelease(&rt_shared->mutex);
}

/*
 * cg_notifier_end_batch
 *		Ends a batch that sent everything its snapshot saw, counting it if it
 *		sent anything; returns nothing.
 */
void
cg_notifier_end_batch(Oid dboid, bool sent)
{
	RtSlot	   *slot;

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_my_slot(dboid);
	if (slot)
	{
		if (sent)
		{
			slot->batches++;
			slot->recent_exits = 0; /* a whole batch went out: no loop */
		}
		slot->sending_since = 0;
	}
	SpinLockRelease(&rt_shared->mutex);
}

/*
 * cg_notifier_alive
 *		Notes a pass of the notifier through its loop; returns nothing.
 */
void
cg_notifier_alive(Oid dboid)
{
	RtSlot	   *slot;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_my_slot(dboid);
	if (slot)
		slot->alive_at = now;
	SpinLockRelease(&rt_shared->mutex);
}

/*
 * cg_notifier_pending
 *		Returns whether a writer committed outbox rows since the notifier of
 *		dboid last took a batch's snapshot: rows that batch could not see.
 *		A writer whose commit found no notifier to wake (none ran, or one was
 *		starting) leaves only this flag; the notifier checks it before it
 *		sleeps.
 */
bool
cg_notifier_pending(Oid dboid)
{
	RtSlot	   *slot;
	bool		pending = false;

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_my_slot(dboid);
	if (slot)
		pending = slot->pending;
	SpinLockRelease(&rt_shared->mutex);
	return pending;
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
 * cg_notifier_save_position
 *		Keeps the snapshot of the last whole batch (its xmax and in-progress
 *		xids) for the next notifier of dboid, so that a restarted or newly
 *		started one reads from there instead of from the outbox's first
 *		index entry (which, while vacuum is held back, walks every dead
 *		one).  More in-progress xids than the slot holds keep nothing.
 *		Returns nothing.
 */
void
cg_notifier_save_position(Oid dboid, uint64 xmax, const uint64 *xip, int nxip)
{
	RtSlot	   *slot;

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_my_slot(dboid);
	if (slot)
	{
		slot->resume_xmax = nxip <= RT_RESUME_XIP ? xmax : 0;
		slot->resume_nxip = nxip <= RT_RESUME_XIP ? nxip : 0;
		if (nxip <= RT_RESUME_XIP && nxip > 0)
			memcpy(slot->resume_xip, xip, sizeof(uint64) * nxip);
	}
	SpinLockRelease(&rt_shared->mutex);
}

/*
 * cg_notifier_load_position
 *		Copies the position the previous notifier of dboid left into *xmax
 *		(0 if none) and xip (room for CG_RESUME_XIP_MAX); returns the number
 *		of in-progress xids.
 */
int
cg_notifier_load_position(Oid dboid, uint64 *xmax, uint64 *xip)
{
	RtSlot	   *slot;
	int			n = 0;

	*xmax = 0;
	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_my_slot(dboid);
	if (slot && slot->resume_xmax != 0)
	{
		*xmax = slot->resume_xmax;
		n = slot->resume_nxip;
		memcpy(xip, slot->resume_xip, sizeof(uint64) * n);
	}
	SpinLockRelease(&rt_shared->mutex);
	return n;
}

/*
 * cg_notifier_count_sent
 *		Adds the changes of one committed notifier transaction to the slot's
 *		counters; returns nothing.
 */
void
cg_notifier_count_sent(Oid dboid, int64 delivered)
{
	RtSlot	   *slot;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_my_slot(dboid);
	if (slot)
	{
		slot->delivered += delivered;
		slot->last_batch_at = now;
		slot->alive_at = now;
	}
	SpinLockRelease(&rt_shared->mutex);
}

/*
 * cg_notifier_count_error
 *		Counts a failed notifier transaction and keeps its message; with
 *		set_aside, also a change moved to the dead-letter table.  Returns
 *		nothing.
 */
void
cg_notifier_count_error(Oid dboid, const char *message, bool set_aside)
{
	RtSlot	   *slot;
	TimestampTz now = GetCurrentTimestamp();

	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_my_slot(dboid);
	if (slot)
	{
		if (set_aside)
			slot->set_aside++;
		else
			slot->errors++;
		slot->last_error_at = now;
		strlcpy(slot->last_error, message ? message : "", CG_LAST_ERROR_LEN);
	}
	SpinLockRelease(&rt_shared->mutex);
}

/*
 * cg_notifier_view
 *		Copies what health() and realtime_status() show of the notifier of
 *		dboid into *view; returns whether the library is preloaded (else
 *		*view says nothing was found).
 */
bool
cg_notifier_view(Oid dboid, CgNotifierView *view)
{
	RtSlot		copy;
	RtSlot	   *slot;

	memset(view, 0, sizeof(*view));
	if (!rt_shared)
		return false;
	SpinLockAcquire(&rt_shared->mutex);
	slot = rt_find_slot(dboid, false);
	if (slot)
		copy = *slot;
	SpinLockRelease(&rt_shared->mutex);
	if (!slot)
		return true;

	view->found = true;
	view->pid = copy.pid;
	view->alive_at = copy.alive_at;
	if (copy.sending_since != 0 && copy.unsent_since != 0)
		view->oldest_unsent_at = Min(copy.sending_since, copy.unsent_since);
	else
		view->oldest_unsent_at = Max(copy.sending_since, copy.unsent_since);
	view->delivered = copy.delivered;
	view->batches = copy.batches;
	view->last_batch_at = copy.last_batch_at;
	view->errors = copy.errors;
	view->set_aside = copy.set_aside;
	view->recent_exits =
		TimestampDifferenceExceeds(copy.exit_window_start, GetCurrentTimestamp(),
								   RT_EXIT_WINDOW_MS) ? 0 : copy.recent_exits;
	view->last_exit_at = copy.last_exit_at;
	view->last_error_at = copy.last_error_at;
	memcpy(view->last_error, copy.last_error, CG_LAST_ERROR_LEN);
	view->last_error[CG_LAST_ERROR_LEN - 1] = '\0';
	return true;
}

/*
 * chatgenius_realtime_status
 *		SQL realtime_status(); returns one row: the delivery path this session
 *		uses, whether the library was preloaded, and the current database's
 *		notifier since server start: pid, changes delivered, batches, last
 *		batch, failed transactions, changes set aside, the last error and its
 *		time.  Exists for operators and for the tests.  A 1.4 definition
 *		(six columns) gets the first six.
 */
Datum
chatgenius_realtime_status(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[10];
	bool		nulls[10];
	CgNotifierView view;
	const char *mode;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("realtime_status() must be called in a context that accepts a record")));
	if (tupdesc->natts != 6 && tupdesc->natts != 10)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("function realtime_status() must be declared to return 6 or 10 columns")));

	if (cg_realtime == CG_REALTIME_OFF)
		mode = "off";
	else if (cg_realtime == CG_REALTIME_DIRECT || !rt_shared)
		mode = "direct";
	else
		mode = "notifier";
	(void) cg_notifier_view(MyDatabaseId, &view);

	memset(nulls, 0, sizeof(nulls));
	values[0] = CStringGetTextDatum(mode);
	values[1] = BoolGetDatum(rt_shared != NULL);
	values[2] = Int32GetDatum(view.pid);
	nulls[2] = view.pid == 0;
	values[3] = Int64GetDatum(view.delivered);
	values[4] = Int64GetDatum(view.batches);
	values[5] = TimestampTzGetDatum(view.last_batch_at);
	nulls[5] = view.last_batch_at == 0;
	values[6] = Int64GetDatum(view.errors);
	values[7] = Int64GetDatum(view.set_aside);
	values[8] = CStringGetTextDatum(view.last_error);
	nulls[8] = view.last_error[0] == '\0';
	values[9] = TimestampTzGetDatum(view.last_error_at);
	nulls[9] = view.last_error_at == 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
