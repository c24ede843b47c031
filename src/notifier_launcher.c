/*-------------------------------------------------------------------------
 *
 * notifier_launcher.c
 *	  A background worker, registered when the library is preloaded, that
 *	  runs once each time the server starts accepting writes (startup, the
 *	  end of crash recovery, and a standby's promotion) and asks for a
 *	  notifier in every database, so that changes left in an outbox are sent
 *	  without waiting for the next writer to wake one.
 *
 * Why: notifiers start on demand, when a writer commits (realtime_shmem.c).
 * The outbox is WAL-logged, so a promoted standby inherits the changes its
 * old primary committed but had not sent; no writer on the standby ever
 * asked for a notifier, and the first writer on the new primary might come
 * much later.  The worker waits chatgenius.realtime_resume_delay first, so
 * that the app's LISTEN connections, cut by the failover, have reconnected
 * when the backlog goes out (a change committed meanwhile sends it at once).
 * A database without the extension costs one notifier start that exits at
 * once.  Notifiers are asked for one database at a time, the next once the
 * previous one runs or has exited: all at once, a cluster with many
 * databases would take every worker process (parallel queries use them too)
 * and every notifier slot, and a slot requested stays reserved for a minute.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "realtime.h"

#define LAUNCHER_START_WAIT_MS	5000	/* then the next database */

/*
 * launcher_databases
 *		Returns the OIDs of the databases that accept connections (templates
 *		excluded); *n is their count.  Reads pg_database, a shared catalog,
 *		without being connected to a database.
 */
static Oid *
launcher_databases(int *n)
{
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	int			allocated = 16;
	Oid		   *oids = MemoryContextAlloc(TopMemoryContext, allocated * sizeof(Oid));

	*n = 0;
	StartTransactionCommand();
	(void) GetTransactionSnapshot();
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);

		if (!db->datallowconn || db->datistemplate)
			continue;
		if (*n == allocated)
		{
			allocated *= 2;
			oids = repalloc(oids, allocated * sizeof(Oid));
		}
		oids[(*n)++] = db->oid;
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	CommitTransactionCommand();
	return oids;
}

/*
 * chatgenius_notifier_launcher_main
 *		The launcher's entry point; waits realtime_resume_delay, asks for a
 *		notifier in every database, and exits 0 (it is not restarted: the
 *		next start or promotion runs it again).
 */
void
chatgenius_notifier_launcher_main(Datum main_arg)
{
	TimestampTz start;
	Oid		   *oids;
	int			n;

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);

	start = GetCurrentTimestamp();
	for (;;)
	{
		long		left;

		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		left = (long) cg_realtime_resume_delay * 1000 -
			(long) ((GetCurrentTimestamp() - start) / 1000);
		if (left <= 0)
			break;
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 left, PG_WAIT_EXTENSION);
	}

	oids = launcher_databases(&n);
	for (int i = 0; i < n; i++)
	{
		TimestampTz asked = GetCurrentTimestamp();

		cg_notifier_kick(oids[i]);
		/* one at a time: a worker slot and a notifier slot each */
		while (cg_notifier_starting(oids[i]) &&
			   !TimestampDifferenceExceeds(asked, GetCurrentTimestamp(),
										   LAUNCHER_START_WAIT_MS))
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 10, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	proc_exit(0);
}

/*
 * cg_notifier_launcher_register
 *		Registers the launcher with the postmaster; returns nothing.  Called
 *		from _PG_init while shared_preload_libraries is processed.
 */
void
cg_notifier_launcher_register(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	/* after crash recovery and after a promotion too, never on a standby */
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "chatgenius");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "chatgenius_notifier_launcher_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "chatgenius notifier launcher");
	snprintf(worker.bgw_type, BGW_MAXLEN, "chatgenius notifier launcher");
	RegisterBackgroundWorker(&worker);
}
