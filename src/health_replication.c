/*-------------------------------------------------------------------------
 *
 * health_replication.c
 *	  health()'s replication check.  On a primary: one row that counts the
 *	  connected standbys against chatgenius.replication_expected_standbys and
 *	  looks at synchronous replication, then one row per standby (its state,
 *	  write, flush and replay lag, its distance in bytes, its sync state), as
 *	  pg_stat_replication shows them.  On a standby: one row that says so,
 *	  with its WAL receiver's state and its replay lag.
 *
 * The walsenders are read through pg_stat_get_wal_senders(), the function
 * behind pg_stat_replication, called directly (no SQL), so that its privilege
 * rule holds here too: a role without pg_read_all_stats (pg_monitor has it)
 * sees that a standby is connected but none of its details, and is told so.
 * Everything a standby reports about itself is read from its shared memory
 * and needs no privilege, except the address it streams from.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xlog.h"
#include "access/xlogrecovery.h"
#include "catalog/pg_authid.h"
#include "executor/executor.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "replication/syncrep.h"
#include "replication/walreceiver.h"
#include "storage/spin.h"
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
#include "utils/tuplestore.h"

#include "chatgenius.h"
#include "health.h"

/* Columns of pg_stat_get_wal_senders() (PostgreSQL 15), 1-based. */
enum
{
	WS_PID = 1,
	WS_STATE,
	WS_SENT_LSN,
	WS_WRITE_LSN,
	WS_FLUSH_LSN,
	WS_REPLAY_LSN,
	WS_WRITE_LAG,
	WS_FLUSH_LAG,
	WS_REPLAY_LAG,
	WS_SYNC_PRIORITY,
	WS_SYNC_STATE,
	WS_REPLY_TIME,
	WS_NCOLUMNS = WS_REPLY_TIME
};

/* One standby as the primary's walsender sees it. */
typedef struct StandbyRow
{
	int			pid;
	bool		hidden;			/* no pg_read_all_stats: pid only */
	char	   *name;			/* application_name, NULL if unknown */
	char	   *state;
	char	   *sync_state;
	bool		have_replay_lsn;
	XLogRecPtr	replay_lsn;
	double		lag_ms[3];		/* write, flush, replay; -1 if NULL */
} StandbyRow;

/*
 * interval_ms
 *		Returns an interval in milliseconds (the lag columns hold no months).
 */
static double
interval_ms(const Interval *iv)
{
	return (iv->time + (double) iv->day * USECS_PER_DAY +
			(double) iv->month * DAYS_PER_MONTH * USECS_PER_DAY) / 1000.0;
}

/*
 * walsender_name
 *		Returns the application_name of the walsender with this pid (what the
 *		standby calls itself, its cluster_name by default), or NULL.
 */
static char *
walsender_name(int pid)
{
	int			n = pgstat_fetch_stat_numbackends();

	for (int i = 1; i <= n; i++)
	{
		LocalPgBackendStatus *local = pgstat_fetch_stat_local_beentry(i);

		if (local != NULL && local->backendStatus.st_procpid == pid)
			return local->backendStatus.st_appname[0] != '\0'
				? pstrdup(local->backendStatus.st_appname) : NULL;
	}
	return NULL;
}

/*
 * read_walsenders
 *		Returns the standbys connected to this server (*n of them), read by
 *		calling pg_stat_get_wal_senders() in materialize mode.
 */
static StandbyRow *
read_walsenders(int *n)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fcinfo, 0);
	ReturnSetInfo rsinfo;
	TupleTableSlot *slot;
	StandbyRow *rows;
	int			allocated = 4;

	*n = 0;
	fmgr_info(F_PG_STAT_GET_WAL_SENDERS, &flinfo);
	memset(&rsinfo, 0, sizeof(rsinfo));
	rsinfo.type = T_ReturnSetInfo;
	rsinfo.econtext = CreateStandaloneExprContext();
	rsinfo.allowedModes = (int) SFRM_Materialize;
	InitFunctionCallInfoData(*fcinfo, &flinfo, 0, InvalidOid, NULL,
							 (Node *) &rsinfo);
	(void) FunctionCallInvoke(fcinfo);

	rows = palloc(allocated * sizeof(StandbyRow));
	if (rsinfo.setResult == NULL || rsinfo.setDesc == NULL ||
		rsinfo.setDesc->natts < WS_NCOLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("pg_stat_get_wal_senders() did not return the expected columns")));

	slot = MakeSingleTupleTableSlot(rsinfo.setDesc, &TTSOpsMinimalTuple);
	while (tuplestore_gettupleslot(rsinfo.setResult, true, false, slot))
	{
		StandbyRow *row;
		bool		isnull;
		Datum		d;

		if (*n == allocated)
		{
			allocated *= 2;
			rows = repalloc(rows, allocated * sizeof(StandbyRow));
		}
		row = &rows[(*n)++];
		memset(row, 0, sizeof(*row));
		row->pid = DatumGetInt32(slot_getattr(slot, WS_PID, &isnull));
		d = slot_getattr(slot, WS_STATE, &isnull);
		row->hidden = isnull;
		row->state = isnull ? NULL : TextDatumGetCString(d);
		d = slot_getattr(slot, WS_SYNC_STATE, &isnull);
		row->sync_state = isnull ? NULL : TextDatumGetCString(d);
		d = slot_getattr(slot, WS_REPLAY_LSN, &isnull);
		row->have_replay_lsn = !isnull;
		row->replay_lsn = isnull ? InvalidXLogRecPtr : DatumGetLSN(d);
		for (int k = 0; k < 3; k++)
		{
			d = slot_getattr(slot, WS_WRITE_LAG + k, &isnull);
			row->lag_ms[k] = isnull ? -1 : interval_ms(DatumGetIntervalP(d));
		}
		if (!row->hidden)
			row->name = walsender_name(row->pid);
	}
	ExecDropSingleTupleTableSlot(slot);
	tuplestore_end(rsinfo.setResult);
	FreeExprContext(rsinfo.econtext, true);
	return rows;
}

/*
 * append_lag
 *		Appends "LABEL lag N s" (or "LABEL lag -" when the standby has not
 *		measured one: NULL once it has caught up and nothing is written) to
 *		buf; returns nothing.
 */
static void
append_lag(StringInfo buf, const char *label, double ms)
{
	if (ms < 0)
		appendStringInfo(buf, "%s lag -", label);
	else
		appendStringInfo(buf, "%s lag %.1f s", label, ms / 1000.0);
}

/*
 * grade_lag
 *		Returns the status of a lag in milliseconds and bytes against the
 *		chatgenius.replication_lag_* thresholds: the worse of the two.
 */
static CheckStatus
grade_lag(double lag_ms, double lag_bytes)
{
	CheckStatus by_time = cg_health_grade(lag_ms, cg_replication_lag_warn,
										  cg_replication_lag_critical);
	CheckStatus by_size = cg_health_grade(lag_bytes / 1024.0,
										  cg_replication_lag_warn_size,
										  cg_replication_lag_critical_size);

	return Max(by_time, by_size);
}

/*
 * check_standby_row
 *		Adds the row of one standby connected to this primary; returns whether
 *		it is synchronous (sync or quorum).
 */
static bool
check_standby_row(CheckList *list, const StandbyRow *row, XLogRecPtr current)
{
	StringInfoData buf;
	CheckStatus status = CHECK_OK;
	double		behind = 0;
	double		worst_ms = 0;

	initStringInfo(&buf);
	if (row->hidden)
	{
		appendStringInfo(&buf, "standby (pid %d): details hidden: they need the privileges of pg_read_all_stats",
						 row->pid);
		cg_health_add(list, CG_CHECK_replication, CHECK_WARN, buf.data);
		return false;
	}
	if (row->have_replay_lsn && current > row->replay_lsn)
		behind = (double) (current - row->replay_lsn);
	for (int k = 0; k < 3; k++)
		worst_ms = Max(worst_ms, row->lag_ms[k]);

	if (row->name)
		appendStringInfo(&buf, "standby \"%s\" (pid %d): ", row->name, row->pid);
	else
		appendStringInfo(&buf, "standby (pid %d): ", row->pid);
	appendStringInfo(&buf, "%s, %s; ", row->state,
					 row->sync_state ? row->sync_state : "?");
	append_lag(&buf, "write", row->lag_ms[0]);
	appendStringInfoString(&buf, ", ");
	append_lag(&buf, "flush", row->lag_ms[1]);
	appendStringInfoString(&buf, ", ");
	append_lag(&buf, "replay", row->lag_ms[2]);
	if (row->have_replay_lsn)
		appendStringInfo(&buf, "; replay %.0f bytes behind", behind);
	else
		appendStringInfoString(&buf, "; no replay position reported yet");

	status = grade_lag(worst_ms, behind);
	/* startup, catchup, backup, stopping: not serving as a standby yet */
	if (strcmp(row->state, "streaming") != 0 && status < CHECK_WARN)
		status = CHECK_WARN;
	cg_health_add(list, CG_CHECK_replication, status, buf.data);
	return row->sync_state != NULL &&
		(strcmp(row->sync_state, "sync") == 0 || strcmp(row->sync_state, "quorum") == 0);
}

/*
 * check_primary
 *		Adds the rows of a server that is not in recovery: the summary (count
 *		against the expected number, synchronous replication), then a row per
 *		standby.
 */
static void
check_primary(CheckList *list)
{
	int			n;
	StandbyRow *rows = read_walsenders(&n);
	XLogRecPtr	current = GetXLogWriteRecPtr();
	int			streaming = 0;
	int			synchronous = 0;
	int			hidden = 0;
	int			expected = cg_replication_expected_standbys;
	bool		sync_wanted = SyncRepStandbyNames != NULL && SyncRepStandbyNames[0] != '\0';
	CheckStatus status = CHECK_OK;
	StringInfoData buf;
	CheckList	standbys = {0};

	for (int i = 0; i < n; i++)
	{
		if (check_standby_row(&standbys, &rows[i], current))
			synchronous++;
		if (rows[i].hidden)
			hidden++;
		else if (strcmp(rows[i].state, "streaming") == 0)
			streaming++;
	}

	initStringInfo(&buf);
	appendStringInfoString(&buf, "primary: ");
	if (n == 0)
		appendStringInfoString(&buf, "no standby connected");
	else
		appendStringInfo(&buf, n == 1 ? "%d standby connected" : "%d standbys connected", n);
	if (n > 0 && hidden < n)
		appendStringInfo(&buf, ", %d streaming", streaming);
	if (expected == 0)
		appendStringInfoString(&buf, ", none expected");
	else
	{
		appendStringInfo(&buf, ", %d expected", expected);
		if (n < expected)
			status = CHECK_CRITICAL;
	}
	if (sync_wanted)
	{
		appendStringInfo(&buf, "; synchronous_standby_names '%s'", SyncRepStandbyNames);
		if (hidden > 0)
			appendStringInfoString(&buf, ", sync state hidden");
		else if (synchronous == 0)
		{
			appendStringInfoString(&buf, ", no synchronous standby: commits that wait for one hang");
			status = CHECK_CRITICAL;
		}
		else
			appendStringInfo(&buf, ", %d synchronous", synchronous);
	}
	cg_health_add(list, CG_CHECK_replication, status, buf.data);
	for (int i = 0; i < standbys.n; i++)
		cg_health_add(list, CG_CHECK_replication, standbys.rows[i].status, standbys.rows[i].detail);
}

/*
 * receiver_state_name
 *		Returns a WAL receiver state as pg_stat_wal_receiver's status names it.
 */
static const char *
receiver_state_name(WalRcvState state)
{
	switch (state)
	{
		case WALRCV_STOPPED:
			return "stopped";
		case WALRCV_STARTING:
			return "starting";
		case WALRCV_STREAMING:
			return "streaming";
		case WALRCV_WAITING:
			return "waiting";
		case WALRCV_RESTARTING:
			return "restarting";
		case WALRCV_STOPPING:
			return "stopping";
	}
	return "unknown";
}

/*
 * check_standby
 *		Adds the row of a server in recovery: its WAL receiver (no receiver
 *		is critical: it replicates from nobody; a receiver that is not
 *		streaming warns) and its replay lag: the bytes received but not
 *		replayed, and, while there are any, the age of the last transaction
 *		replayed (how far behind the primary's clock the data is).
 */
static void
check_standby(CheckList *list)
{
	WalRcvState state;
	pid_t		pid;
	bool		ready;
	char		host[NI_MAXHOST];
	int			port;
	XLogRecPtr	received = GetWalRcvFlushRecPtr(NULL, NULL);
	XLogRecPtr	replayed = GetXLogReplayRecPtr(NULL);
	TimestampTz last_xact = GetLatestXTime();
	double		behind = received > replayed ? (double) (received - replayed) : 0;
	double		lag_ms = 0;
	CheckStatus status;
	StringInfoData buf;

	SpinLockAcquire(&WalRcv->mutex);
	state = WalRcv->walRcvState;
	pid = WalRcv->pid;
	ready = WalRcv->ready_to_display;
	strlcpy(host, WalRcv->sender_host, sizeof(host));
	port = WalRcv->sender_port;
	SpinLockRelease(&WalRcv->mutex);

	initStringInfo(&buf);
	appendStringInfoString(&buf, "standby: ");
	if (pid == 0)
	{
		appendStringInfoString(&buf, "no WAL receiver (not streaming from a primary)");
		status = CHECK_CRITICAL;
	}
	else
	{
		appendStringInfo(&buf, "WAL receiver %s", receiver_state_name(state));
		if (ready && host[0] != '\0' &&
			has_privs_of_role(GetUserId(), ROLE_PG_READ_ALL_STATS))
			appendStringInfo(&buf, " from %s:%d", host, port);
		status = state == WALRCV_STREAMING ? CHECK_OK : CHECK_WARN;
	}

	if (behind > 0 && last_xact != 0)
	{
		TimestampTz now = GetCurrentTimestamp();

		lag_ms = now > last_xact ? (double) (now - last_xact) / 1000.0 : 0;
		appendStringInfo(&buf, "; replay lag %.1f s, %.0f bytes received not replayed",
						 lag_ms / 1000.0, behind);
	}
	else if (behind > 0)
		appendStringInfo(&buf, "; %.0f bytes received not replayed", behind);
	else
		appendStringInfoString(&buf, "; replay lag 0.0 s, everything received is replayed");
	if (GetRecoveryPauseState() != RECOVERY_NOT_PAUSED)
		appendStringInfoString(&buf, "; replay paused");

	status = Max(status, grade_lag(lag_ms, behind));
	cg_health_add(list, CG_CHECK_replication, status, buf.data);
}

/*
 * cg_check_replication
 *		Adds the replication rows: those of a standby while the server is in
 *		recovery, else those of a primary; returns nothing.
 */
void
cg_check_replication(CheckList *list, const CgHealthContext *ctx)
{
	if (RecoveryInProgress())
		check_standby(list);
	else
		check_primary(list);
}
