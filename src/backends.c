/*-------------------------------------------------------------------------
 *
 * backends.c
 *	  One pass over the backend status array that gives health() and
 *	  pool_stats() everything they need: client backends by state, the
 *	  oldest open transaction, the session idle in a transaction the
 *	  longest, and the backends waiting on heavyweight locks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "utils/backend_status.h"
#include "utils/wait_event.h"

#include "chatgenius.h"

/*
 * waits_on_lock
 *		Returns true if the process with this pid is waiting on a
 *		heavyweight lock right now, as pg_stat_activity's wait_event_type
 *		'Lock' shows it.  The PGPROC field is read without a lock, as
 *		pg_stat_activity reads it: a 32-bit read is atomic.
 */
static bool
waits_on_lock(int pid)
{
	PGPROC	   *proc = BackendPidGetProc(pid);
	uint32		wait_event_info;

	if (proc == NULL)
		return false;
	wait_event_info = *((volatile uint32 *) &proc->wait_event_info);
	return (wait_event_info & 0xFF000000) == PG_WAIT_LOCK;
}

/*
 * cg_scan_backends
 *		Fills *summary from this transaction's snapshot of the backend
 *		status array; returns nothing.  Client backends are those of type
 *		B_BACKEND (what max_connections limits); lock waits count every
 *		process that can hold a heavyweight lock, since an autovacuum worker
 *		or a background worker stuck behind a lock is worth knowing too.
 */
void
cg_scan_backends(CgBackendSummary *summary)
{
	int			n = pgstat_fetch_stat_numbackends();
	int			i;

	memset(summary, 0, sizeof(*summary));
	for (i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);
		PgBackendStatus *be;

		if (local == NULL)
			continue;
		be = &local->backendStatus;
		if (be->st_procpid <= 0)
			continue;

		if (be->st_backendType == B_BACKEND)
		{
			summary->client_total++;
			switch (be->st_state)
			{
				case STATE_RUNNING:
				case STATE_FASTPATH:
					summary->client_active++;
					break;
				case STATE_IDLE:
					summary->client_idle++;
					break;
				case STATE_IDLEINTRANSACTION:
				case STATE_IDLEINTRANSACTION_ABORTED:
					summary->client_idle_in_xact++;
					if (summary->oldest_idle_in_xact_pid == 0 ||
						be->st_state_start_timestamp < summary->oldest_idle_in_xact_since)
					{
						summary->oldest_idle_in_xact_pid = be->st_procpid;
						summary->oldest_idle_in_xact_since = be->st_state_start_timestamp;
						summary->oldest_idle_in_xact_holds_xmin =
							TransactionIdIsValid(local->backend_xid) ||
							TransactionIdIsValid(local->backend_xmin);
					}
					break;
				default:
					break;
			}
			if (be->st_xact_start_timestamp != 0 &&
				(summary->oldest_xact_pid == 0 ||
				 be->st_xact_start_timestamp < summary->oldest_xact_start))
			{
				summary->oldest_xact_start = be->st_xact_start_timestamp;
				summary->oldest_xact_pid = be->st_procpid;
			}
			/* an idle client cannot be waiting on a lock */
			if (be->st_state == STATE_IDLE ||
				be->st_state == STATE_IDLEINTRANSACTION ||
				be->st_state == STATE_IDLEINTRANSACTION_ABORTED)
				continue;
		}
		else if (be->st_backendType != B_AUTOVAC_WORKER &&
				 be->st_backendType != B_BG_WORKER &&
				 be->st_backendType != B_WAL_SENDER)
			continue;

		if (waits_on_lock(be->st_procpid))
			summary->lock_waiters++;
	}
}
