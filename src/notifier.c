/*-------------------------------------------------------------------------
 *
 * notifier.c
 *	  The chatgenius notifier: one background worker per database that
 *	  turns committed outbox rows into NOTIFYs, in batches a few
 *	  milliseconds apart, and deletes them in the same transaction.
 *
 * Why batches: PostgreSQL serialises every committing transaction that
 * issued a NOTIFY (a lock taken in PreCommit_Notify and held past the
 * commit).  Writers that only append to the outbox never take it; the
 * notifier takes it once per batch.
 *
 * Exactly once: a batch's NOTIFYs and the DELETE of its rows commit
 * together, so a crash before the commit leaves the rows for the next
 * notifier and a crash after it leaves nothing to send twice.  The outbox
 * is an ordinary (WAL-logged) table, so committed rows survive a crash.
 *
 * Commit order: outbox ids assigned during the writing transaction do not
 * follow commit order, so no "position > last" reader is used.  Instead a
 * batch is every row visible in one snapshot, and delivered rows are
 * deleted (the scan starts at the previous snapshot's xmin, see
 * notifier_read_batch, which keeps it short):
 *  - a transaction that commits after the snapshot is invisible to it and
 *    lands in a later batch, however early its rows were written, so no
 *    row is skipped and no earlier batch can hold a later commit;
 *  - within a batch rows go by (xid, seq): one transaction's changes stay
 *    together in statement order, and a transaction that began after
 *    another committed has a larger xid (xids are assigned at the first
 *    write), so it comes after it.  Only transactions that overlapped in
 *    time and both committed within the same batch interval (a few ms) are
 *    ordered by xid rather than by the instant of their commit; no session
 *    could have seen the one commit without the other having started.
 * NOTIFY drops a duplicate (channel, payload) within one transaction.  Two
 * writers' identical payloads (say two edits of one message) must both
 * arrive, so a batch is cut into several notifier transactions where that
 * would happen; each deletes exactly the rows it sends, by ctid, from the
 * one snapshot's list.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type_d.h"
#include "catalog/namespace.h"
#include "commands/async.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "realtime.h"

#define NOTIFIER_IDLE_WAIT_MS	1000	/* re-check without a wake-up */
#define NOTIFIER_CHUNK_MAX		10000	/* rows per notifier transaction */
#define NOTIFIER_RETIRE_MS		2000	/* exit when idle this long: DROP
										 * DATABASE waits up to 5 s for
										 * other sessions to leave */

/* One outbox row of a batch. */
typedef struct NotifierRow
{
	ItemPointerData ctid;
	FullTransactionId xid;
	char	   *channel;
	char	   *payload;
} NotifierRow;

/* A payload already sent in the current notifier transaction. */
typedef struct SentEntry
{
	uint64		hash;
	FullTransactionId xid;
} SentEntry;

/*
 * notifier_outbox_exists
 *		Returns whether this database has the extension at 1.4 or later (its
 *		outbox table).  Opens its own transaction.
 */
static bool
notifier_outbox_exists(void)
{
	Oid			nspoid;
	bool		exists = false;

	StartTransactionCommand();
	nspoid = get_namespace_oid("chatgenius", true);
	if (OidIsValid(nspoid))
		exists = OidIsValid(get_relname_relid(CG_OUTBOX_TABLE, nspoid));
	CommitTransactionCommand();
	return exists;
}

/*
 * notifier_read_batch
 *		Returns the rows visible now, in delivery order, copied into cxt;
 *		*nrows is their count.  One read-only transaction, one snapshot.
 *
 * Only rows with xid >= *horizon are read, through the index: a row that
 * was not visible to the previous batch's snapshot belongs to a transaction
 * that was running then or began later, so its xid is at least that
 * snapshot's xmin.  Everything older was delivered, and its dead index
 * entries are never visited again.  *horizon becomes this snapshot's xmin.
 */
static NotifierRow *
notifier_read_batch(MemoryContext cxt, int *nrows, Datum *horizon)
{
	NotifierRow *rows = NULL;
	Oid			argtypes[1] = {XID8OID};
	Datum		next_horizon;
	bool		isnull;
	uint64		i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "reading the outbox");

	/* read_only: both statements run in the snapshot pushed above */
	if (SPI_execute("SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())",
					true, 1) != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "could not read the snapshot's xmin");
	next_horizon = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);

	if (SPI_execute_with_args("SELECT ctid, xid, channel, payload FROM chatgenius.realtime_outbox"
							  " WHERE xid >= $1 ORDER BY xid, seq",
							  1, argtypes, horizon, NULL, true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read chatgenius.realtime_outbox");

	*nrows = (int) SPI_processed;
	if (SPI_processed > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);

		rows = palloc(sizeof(NotifierRow) * SPI_processed);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];
			TupleDesc	desc = SPI_tuptable->tupdesc;

			rows[i].ctid = *(ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 1, &isnull));
			rows[i].xid = DatumGetFullTransactionId(SPI_getbinval(tup, desc, 2, &isnull));
			rows[i].channel = SPI_getvalue(tup, desc, 3);
			rows[i].payload = SPI_getvalue(tup, desc, 4);
		}
		MemoryContextSwitchTo(old);
	}
	*horizon = next_horizon;
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
	return rows;
}

/*
 * notifier_chunk_end
 *		Returns the end (exclusive) of the chunk that starts at first: rows
 *		up to the first whose (channel, payload) was already sent in this
 *		chunk by another transaction, which NOTIFY would drop, and at most
 *		NOTIFIER_CHUNK_MAX rows (a backlog after an outage goes out in
 *		several transactions; the order holds, the list being one snapshot's).
 */
static int
notifier_chunk_end(NotifierRow *rows, int first, int nrows)
{
	HASHCTL		ctl;
	HTAB	   *sent;
	int			i;

	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(SentEntry);
	ctl.hcxt = CurrentMemoryContext;
	sent = hash_create("chatgenius sent payloads", 256, &ctl,
					   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	for (i = first; i < nrows && i - first < NOTIFIER_CHUNK_MAX; i++)
	{
		uint64		h;
		bool		found;
		SentEntry  *e;

		h = hash_bytes_extended((const unsigned char *) rows[i].channel,
								strlen(rows[i].channel), 0);
		h = hash_bytes_extended((const unsigned char *) rows[i].payload,
								strlen(rows[i].payload), h);
		e = hash_search(sent, &h, HASH_ENTER, &found);
		if (found && !FullTransactionIdEquals(e->xid, rows[i].xid))
			break;				/* a hash collision only cuts early */
		e->xid = rows[i].xid;
	}
	hash_destroy(sent);
	return i;
}

/*
 * notifier_send_chunk
 *		Deletes rows[first..end) by ctid and NOTIFYs them, in order, in one
 *		transaction; returns nothing.
 */
static void
notifier_send_chunk(NotifierRow *rows, int first, int end)
{
	Datum	   *tids;
	ArrayType  *arr;
	Oid			argtypes[1] = {TIDARRAYOID};
	Datum		args[1];
	int			i;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, "delivering changes");

	tids = palloc(sizeof(Datum) * (end - first));
	for (i = first; i < end; i++)
		tids[i - first] = PointerGetDatum(&rows[i].ctid);
	arr = construct_array(tids, end - first, TIDOID, sizeof(ItemPointerData), false,
						  TYPALIGN_SHORT);
	args[0] = PointerGetDatum(arr);
	if (SPI_execute_with_args("DELETE FROM chatgenius.realtime_outbox WHERE ctid = ANY ($1)",
							  1, argtypes, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete from chatgenius.realtime_outbox");
	if (SPI_processed != (uint64) (end - first))
		elog(ERROR, "chatgenius notifier deleted " UINT64_FORMAT " outbox rows, expected %d",
			 SPI_processed, end - first);

	for (i = first; i < end; i++)
		Async_Notify(rows[i].channel, rows[i].payload);

	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * notifier_deliver
 *		Delivers every outbox row visible now; returns how many.
 */
static int
notifier_deliver(Oid dboid, MemoryContext cxt, Datum *horizon)
{
	NotifierRow *rows;
	int			nrows;
	int			first = 0;

	cg_notifier_clear_pending(dboid);
	rows = notifier_read_batch(cxt, &nrows, horizon);
	while (first < nrows)
	{
		int			end = notifier_chunk_end(rows, first, nrows);

		notifier_send_chunk(rows, first, end);
		first = end;
	}
	if (nrows > 0)
		cg_notifier_count_batch(dboid, nrows);
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextReset(cxt);
	return nrows;
}

/*
 * chatgenius_notifier_main
 *		The notifier's entry point; never returns.  Exits 0 (not restarted)
 *		when another notifier serves the database, when the database has no
 *		outbox, or after NOTIFIER_RETIRE_MS idle; an error or SIGTERM exits 1
 *		and the postmaster restarts it a second later.
 */
void
chatgenius_notifier_main(Datum main_arg)
{
	Oid			dboid = DatumGetObjectId(main_arg);
	MemoryContext cxt;
	TimestampTz last_work;
	Datum		horizon = FullTransactionIdGetDatum(FullTransactionIdFromEpochAndXid(0, 0));

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	if (!cg_notifier_may_start(dboid))
	{
		ereport(WARNING,
				(errmsg("chatgenius notifier for database %u stops restarting", dboid),
				 errdetail("It failed to start several times in a row (a dropped database?).")));
		proc_exit(0);
	}
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);

	if (!cg_notifier_claim(dboid))
		proc_exit(0);
	before_shmem_exit(cg_notifier_release, ObjectIdGetDatum(dboid));
	if (!notifier_outbox_exists())
		proc_exit(0);

	/* The outbox is a queue: read it through its index, never whole. */
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("enable_bitmapscan", "off", PGC_SUSET, PGC_S_OVERRIDE);

	cxt = AllocSetContextCreate(TopMemoryContext, "chatgenius notifier batch",
								ALLOCSET_DEFAULT_SIZES);
	last_work = GetCurrentTimestamp();
	for (;;)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (notifier_deliver(dboid, cxt, &horizon) > 0)
		{
			last_work = GetCurrentTimestamp();
			/* The gap between batches: one NOTIFY lock per interval. */
			if (cg_realtime_batch_delay > 0)
				(void) WaitLatch(NULL, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 cg_realtime_batch_delay, PG_WAIT_EXTENSION);
			continue;
		}
		if (TimestampDifferenceExceeds(last_work, GetCurrentTimestamp(), NOTIFIER_RETIRE_MS) &&
			cg_notifier_try_retire(dboid))
			proc_exit(0);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 NOTIFIER_IDLE_WAIT_MS, PG_WAIT_EXTENSION);
	}
}
