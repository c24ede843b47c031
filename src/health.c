/*-------------------------------------------------------------------------
 *
 * health.c
 *	  chatgenius.health() and chatgenius.health_summary(): one row per check
 *	  of health_checks.h, in its order, graded 'ok', 'warn' or 'critical'
 *	  against the chatgenius.* thresholds.  The checks that read the backend
 *	  status array, the catalogs of every database and the tunnel and schema
 *	  tables are here (connections, each tunnel, schema, wraparound,
 *	  multixact, long and prepared transactions, sessions idle in a
 *	  transaction, replication slots, locks); the others have files of their
 *	  own (health_triggers.c, health_replication.c, health_realtime.c,
 *	  health_notify_queue.c).  Everything is read from catalogs, the backend
 *	  status array, shared memory and tunnel_status directly, so that a call
 *	  costs microseconds.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/multixact.h"
#include "access/table.h"
#include "access/transam.h"
#include "catalog/pg_database.h"
#include "executor/executor.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "postmaster/postmaster.h"
#include "replication/slot.h"
#include "storage/lwlock.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/timestamp.h"

#include "chatgenius.h"
#include "health.h"

PG_FUNCTION_INFO_V1(chatgenius_health);
PG_FUNCTION_INFO_V1(chatgenius_health_summary);

static const char *const status_names[] = {"ok", "warn", "critical"};

/* The checks' names, from health_checks.h. */
#define CG_CHECK_NAME_ENTRY(name) #name,
const char *const cg_check_names[CG_NCHECKS] = {
	CG_HEALTH_CHECKS(CG_CHECK_NAME_ENTRY)
};
#undef CG_CHECK_NAME_ENTRY

/* The checks' functions, in the same order. */
#define CG_CHECK_FUNCTION_ENTRY(name) cg_check_##name,
static void (*const check_functions[CG_NCHECKS]) (CheckList *list,
												  const CgHealthContext *ctx) = {
	CG_HEALTH_CHECKS(CG_CHECK_FUNCTION_ENTRY)
};
#undef CG_CHECK_FUNCTION_ENTRY

/*
 * cg_health_add
 *		Appends a result row of the given check to list; returns nothing.
 *		A check names its rows by its CG_CHECK_ id, so that no row can carry
 *		a name that health_checks.h does not list.
 */
void
cg_health_add(CheckList *list, CgCheckId check, CheckStatus status,
			  char *detail)
{
	if (list->n == list->max)
	{
		list->max = list->max * 2 + 8;
		list->rows = list->rows ? repalloc(list->rows, list->max * sizeof(CheckRow))
			: palloc(list->max * sizeof(CheckRow));
	}
	list->rows[list->n].check = check;
	list->rows[list->n].status = status;
	list->rows[list->n].detail = detail;
	list->n++;
}

/*
 * cg_health_grade
 *		Returns the status of a measured value against its warn and critical
 *		thresholds: reaching a threshold counts, so a threshold of 0 always
 *		fires.
 */
CheckStatus
cg_health_grade(double value, double warn, double critical)
{
	if (value >= critical)
		return CHECK_CRITICAL;
	if (value >= warn)
		return CHECK_WARN;
	return CHECK_OK;
}

/*
 * cg_seconds_between
 *		Returns the seconds from earlier to later, never negative (clocks of
 *		different transactions may disagree by a little).
 */
double
cg_seconds_between(TimestampTz earlier, TimestampTz later)
{
	return later > earlier ? (double) (later - earlier) / USECS_PER_SEC : 0.0;
}

/*
 * cg_check_connections
 *		Adds the connections row: client backends against the connections
 *		that non-superusers can get (max_connections minus
 *		superuser_reserved_connections).
 */
void
cg_check_connections(CheckList *list, const CgHealthContext *ctx)
{
	const CgBackendSummary *backends = &ctx->backends;
	int			available = MaxConnections - ReservedBackends;
	double		percent;

	if (available <= 0)
		available = MaxConnections;
	percent = 100.0 * backends->client_total / available;
	cg_health_add(list, CG_CHECK_connections,
				  cg_health_grade(percent, cg_connections_warn_percent,
								  cg_connections_critical_percent),
				  psprintf("%d of %d connections in use (%.0f%%)",
						   backends->client_total, available, percent));
}

/*
 * tunnel_status_of
 *		Returns the status of one tunnel and sets *label to what the detail
 *		says about it: failed is critical; stopped is a warning (stopped on
 *		purpose) until it has been stopped for chatgenius.stopped_critical_after
 *		(its helper did not come back: critical, "not restarted"); a
 *		heartbeat older than the critical number of intervals is stale
 *		(critical), older than the warning number or (re)connecting is a
 *		warning.  stopped_for is the seconds since the row was last written.
 */
static CheckStatus
tunnel_status_of(const CgTunnelRow *row, double intervals, double stopped_for,
				 const char **label)
{
	*label = NULL;
	if (strcmp(row->state, "failed") == 0)
		return CHECK_CRITICAL;
	if (strcmp(row->state, "stopped") == 0)
	{
		if (stopped_for >= cg_stopped_critical_after)
		{
			*label = "not restarted";
			return CHECK_CRITICAL;
		}
		return CHECK_WARN;
	}
	if (intervals > cg_tunnel_critical_intervals)
	{
		*label = "stale";
		return CHECK_CRITICAL;
	}
	if (intervals > cg_tunnel_warn_intervals)
	{
		*label = "late";
		return CHECK_WARN;
	}
	if (strcmp(row->state, "connecting") == 0 ||
		strcmp(row->state, "reconnecting") == 0)
		return CHECK_WARN;
	if (strcmp(row->state, "connected") == 0)
		return CHECK_OK;
	*label = "unknown state";
	return CHECK_WARN;
}

/*
 * cg_check_tunnel
 *		Adds one tunnel row per tunnel_status row (detail starts with the
 *		tunnel's name), or a single ok row when no tunnel has reported, or a
 *		critical row when tunnel_status cannot be read.
 */
void
cg_check_tunnel(CheckList *list, const CgHealthContext *ctx)
{
	const CgExtension *ext = ctx->ext;
	CgTunnelRow *rows;
	int			nrows;
	CgProblem	problem;
	TimestampTz now = ctx->now;
	int			i;

	if (ext == NULL)
	{
		cg_health_add(list, CG_CHECK_tunnel, CHECK_CRITICAL,
					  psprintf("extension \"%s\" is not installed", CG_EXTENSION_NAME));
		return;
	}
	if (!cg_scan_tunnel_status(ext, &rows, &nrows, true, &problem))
	{
		if (problem.sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
			cg_report_problem(&problem);
		cg_health_add(list, CG_CHECK_tunnel,
					  problem.sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE
					  ? CHECK_WARN : CHECK_CRITICAL,
					  problem.message);
		return;
	}
	if (nrows == 0)
	{
		cg_health_add(list, CG_CHECK_tunnel, CHECK_OK, pstrdup("no tunnel has reported"));
		return;
	}

	for (i = 0; i < nrows; i++)
	{
		const CgTunnelRow *row = &rows[i];
		double		interval_s = Max(row->heartbeat_interval_ms, 1) / 1000.0;
		double		age;
		double		intervals;
		const char *label;
		CheckStatus status;
		StringInfoData buf;

		age = cg_seconds_between(row->last_heartbeat_isnull ? row->updated_at
								 : row->last_heartbeat, now);
		intervals = age / interval_s;
		status = tunnel_status_of(row, intervals,
								  cg_seconds_between(row->updated_at, now), &label);

		initStringInfo(&buf);
		appendStringInfo(&buf, "%s: ", row->tunnel_name);
		if (label != NULL)
			appendStringInfo(&buf, "%s: ", label);
		appendStringInfoString(&buf, row->state);
		if (row->last_error != NULL && strcmp(row->state, "connected") != 0)
			appendStringInfo(&buf, " (%s)", row->last_error);
		if (row->last_heartbeat_isnull)
			appendStringInfo(&buf, ", no heartbeat yet, updated %.1f s ago", age);
		else
			appendStringInfo(&buf, ", heartbeat %.1f s ago", age);
		appendStringInfo(&buf, ", interval %.1f s", interval_s);
		if (strcmp(row->state, "stopped") == 0)
			appendStringInfo(&buf, ", stopped %.1f s ago", cg_seconds_between(row->updated_at, now));
		cg_health_add(list, CG_CHECK_tunnel, status, buf.data);
	}
}

/*
 * cg_check_schema
 *		Adds the schema row: the installed version must have a successful
 *		schema_migrations row whose recorded fingerprint equals the current
 *		one, and should not be older than the control file's
 *		default_version.  A member relation locked by another transaction
 *		(ALTER TABLE, VACUUM FULL) makes it warn instead of wait.
 */
void
cg_check_schema(CheckList *list, const CgHealthContext *ctx)
{
	const CgExtension *ext = ctx->ext;
	CgMigration migration;
	CgProblem	problem;
	const char *default_version;
	CheckStatus status = CHECK_OK;
	StringInfoData buf;
	char	   *fingerprint;
	char	   *locked = NULL;

	if (ext == NULL)
	{
		cg_health_add(list, CG_CHECK_schema, CHECK_CRITICAL,
					  psprintf("extension \"%s\" is not installed", CG_EXTENSION_NAME));
		return;
	}
	if (!cg_find_migration(ext, ext->extversion, &migration, true, &problem))
	{
		if (problem.sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
			cg_report_problem(&problem);
		cg_health_add(list, CG_CHECK_schema,
					  problem.sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE
					  ? CHECK_WARN : CHECK_CRITICAL,
					  psprintf("version %s; %s", ext->extversion, problem.message));
		return;
	}

	initStringInfo(&buf);
	appendStringInfo(&buf, "version %s", ext->extversion);
	if (!migration.found)
	{
		status = CHECK_WARN;
		appendStringInfo(&buf, "; history incomplete: no schema_migrations row for version %s",
						 ext->extversion);
	}
	else if (!migration.success)
	{
		status = CHECK_WARN;
		appendStringInfo(&buf, "; history incomplete: version %s is recorded as failed",
						 ext->extversion);
	}
	else if (migration.fingerprint == NULL)
	{
		status = CHECK_WARN;
		appendStringInfo(&buf, "; history incomplete: no fingerprint recorded for version %s",
						 ext->extversion);
	}
	else if ((fingerprint = cg_schema_fingerprint(ext, true, &locked)) == NULL)
	{
		status = CHECK_WARN;
		appendStringInfo(&buf, "; history complete; drift not checked: relation %s is locked by another transaction",
						 locked);
	}
	else if (strcmp(migration.fingerprint, fingerprint) != 0)
	{
		status = CHECK_WARN;
		appendStringInfo(&buf, "; drift: extension objects changed since %s was applied",
						 ext->extversion);
	}
	else
		appendStringInfoString(&buf, "; history complete; no drift");

	default_version = cg_control_default_version();
	if (default_version == NULL)
	{
		status = CHECK_WARN;
		appendStringInfoString(&buf, "; control file unreadable");
	}
	else if (cg_version_compare(ext->extversion, default_version) < 0)
	{
		status = CHECK_WARN;
		appendStringInfo(&buf, "; update available: %s", default_version);
	}
	cg_health_add(list, CG_CHECK_schema, status, buf.data);
}

/* The oldest transaction and multixact IDs of any database (pg_database). */
typedef struct DatabaseAges
{
	int32		xid_age;
	char	   *xid_datname;	/* NULL if none is normal */
	int32		mxid_age;
	char	   *mxid_datname;	/* NULL if none is valid */
} DatabaseAges;

/*
 * scan_database_ages
 *		Fills *ages with the largest age(datfrozenxid) and
 *		mxid_age(datminmxid) over all databases, from one scan of
 *		pg_database; returns nothing.
 */
static void
scan_database_ages(DatabaseAges *ages)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	TransactionId next = XidFromFullTransactionId(ReadNextFullTransactionId());
	MultiXactId next_mxid = ReadNextMultiXactId();

	memset(ages, 0, sizeof(*ages));
	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		int32		age;

		if (TransactionIdIsNormal(db->datfrozenxid))
		{
			age = (int32) (next - db->datfrozenxid);
			if (ages->xid_datname == NULL || age > ages->xid_age)
			{
				ages->xid_age = age;
				ages->xid_datname = pstrdup(NameStr(db->datname));
			}
		}
		if (MultiXactIdIsValid(db->datminmxid))
		{
			age = (int32) (next_mxid - db->datminmxid);
			if (ages->mxid_datname == NULL || age > ages->mxid_age)
			{
				ages->mxid_age = age;
				ages->mxid_datname = pstrdup(NameStr(db->datname));
			}
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * add_age_row
 *		Adds the row of check for the oldest unfrozen ID of a kind (what:
 *		"transaction ID", "multixact ID"; units its plural), of any
 *		database, in percent of the 2^31 IDs after which the cluster stops.
 */
static void
add_age_row(CheckList *list, CgCheckId check, int age, const char *datname,
			const char *what, const char *units, int warn, int critical)
{
	double		percent = 100.0 * Max(age, 0) / 2147483648.0;

	cg_health_add(list, check, cg_health_grade(percent, warn, critical),
				  psprintf("oldest %s is %d %s old (%.1f%% of 2^31) in database \"%s\"",
						   what, age, units, percent, datname ? datname : "?"));
}

/*
 * cg_check_wraparound
 *		Adds the wraparound row: the oldest unfrozen transaction ID of any
 *		database (add_age_row).
 */
void
cg_check_wraparound(CheckList *list, const CgHealthContext *ctx)
{
	DatabaseAges ages;

	scan_database_ages(&ages);
	add_age_row(list, CG_CHECK_wraparound, ages.xid_age, ages.xid_datname,
				"unfrozen transaction ID", "transactions",
				cg_wraparound_warn_percent, cg_wraparound_critical_percent);
}

/*
 * cg_check_multixact
 *		Adds the multixact row: the oldest multixact ID of any database
 *		(add_age_row).
 */
void
cg_check_multixact(CheckList *list, const CgHealthContext *ctx)
{
	DatabaseAges ages;

	scan_database_ages(&ages);
	add_age_row(list, CG_CHECK_multixact, ages.mxid_age, ages.mxid_datname,
				"multixact ID", "multixacts",
				cg_multixact_warn_percent, cg_multixact_critical_percent);
}

/*
 * cg_check_prepared_transactions
 *		Adds the prepared_transactions row: the age of the oldest prepared
 *		(two-phase) transaction of any database.  A forgotten one holds back
 *		the xmin horizon like an open transaction, but survives restarts and
 *		is invisible in pg_stat_activity.  Read through pg_prepared_xact(),
 *		the set-returning function behind pg_prepared_xacts, called directly
 *		(no SQL).
 */
void
cg_check_prepared_transactions(CheckList *list, const CgHealthContext *ctx)
{
	FmgrInfo	flinfo;
	LOCAL_FCINFO(fcinfo, 0);
	ReturnSetInfo rsinfo;
	int			count = 0;
	TimestampTz oldest = 0;
	char	   *oldest_gid = NULL;
	double		age;

	fmgr_info(F_PG_PREPARED_XACT, &flinfo);
	memset(&rsinfo, 0, sizeof(rsinfo));
	rsinfo.type = T_ReturnSetInfo;
	rsinfo.econtext = CreateStandaloneExprContext();
	rsinfo.allowedModes = (int) SFRM_ValuePerCall;
	rsinfo.returnMode = SFRM_ValuePerCall;
	InitFunctionCallInfoData(*fcinfo, &flinfo, 0, InvalidOid, NULL,
							 (Node *) &rsinfo);
	for (;;)
	{
		Datum		d;
		bool		isnull;
		TimestampTz prepared;

		fcinfo->isnull = false;
		rsinfo.isDone = ExprSingleResult;
		d = FunctionCallInvoke(fcinfo);
		if (rsinfo.isDone == ExprEndResult || fcinfo->isnull)
			break;
		/* columns: transaction, gid, prepared, ownerid, dbid */
		prepared = DatumGetTimestampTz(GetAttributeByNum(DatumGetHeapTupleHeader(d),
														 3, &isnull));
		if (isnull)
			continue;
		if (count == 0 || prepared < oldest)
		{
			oldest = prepared;
			oldest_gid = TextDatumGetCString(GetAttributeByNum(DatumGetHeapTupleHeader(d),
															   2, &isnull));
		}
		count++;
	}
	FreeExprContext(rsinfo.econtext, true);

	if (count == 0)
	{
		cg_health_add(list, CG_CHECK_prepared_transactions,
					  cg_health_grade(0, cg_prepared_transaction_warn,
									  cg_prepared_transaction_critical),
					  pstrdup("no prepared transaction"));
		return;
	}
	age = cg_seconds_between(oldest, ctx->now);
	cg_health_add(list, CG_CHECK_prepared_transactions,
				  cg_health_grade(age, cg_prepared_transaction_warn,
								  cg_prepared_transaction_critical),
				  psprintf(count == 1
						   ? "%d prepared transaction, the oldest prepared %.1f s ago (gid \"%s\")"
						   : "%d prepared transactions, the oldest prepared %.1f s ago (gid \"%s\")",
						   count, age, oldest_gid ? oldest_gid : "?"));
}

/*
 * cg_check_replication_slots
 *		Adds the replication_slots row: the age, in transactions, of the
 *		oldest xmin or catalog_xmin that a replication slot holds (an
 *		abandoned slot keeps VACUUM from removing dead rows everywhere).
 *		Read from the slots' shared memory under their locks.
 */
void
cg_check_replication_slots(CheckList *list, const CgHealthContext *ctx)
{
	TransactionId next = XidFromFullTransactionId(ReadNextFullTransactionId());
	int32		max_age = 0;
	char	   *max_slot = NULL;
	const char *which = NULL;
	int			nslots = 0;
	int			i;

	if (ReplicationSlotCtl != NULL)
	{
		LWLockAcquire(ReplicationSlotControlLock, LW_SHARED);
		for (i = 0; i < max_replication_slots; i++)
		{
			ReplicationSlot *slot = &ReplicationSlotCtl->replication_slots[i];
			TransactionId xmin;
			TransactionId catalog_xmin;
			NameData	name;

			if (!slot->in_use)
				continue;
			SpinLockAcquire(&slot->mutex);
			xmin = slot->data.xmin;
			catalog_xmin = slot->data.catalog_xmin;
			name = slot->data.name;
			SpinLockRelease(&slot->mutex);
			nslots++;
			if (TransactionIdIsNormal(xmin) &&
				(max_slot == NULL || (int32) (next - xmin) > max_age))
			{
				max_age = (int32) (next - xmin);
				max_slot = pstrdup(NameStr(name));
				which = "xmin";
			}
			if (TransactionIdIsNormal(catalog_xmin) &&
				(max_slot == NULL || (int32) (next - catalog_xmin) > max_age))
			{
				max_age = (int32) (next - catalog_xmin);
				max_slot = pstrdup(NameStr(name));
				which = "catalog_xmin";
			}
		}
		LWLockRelease(ReplicationSlotControlLock);
	}

	if (max_slot == NULL)
	{
		cg_health_add(list, CG_CHECK_replication_slots,
					  cg_health_grade(0, cg_slot_xmin_warn_age, cg_slot_xmin_critical_age),
					  psprintf(nslots == 1 ? "%d replication slot, none holds back xmin"
							   : "%d replication slots, none holds back xmin", nslots));
		return;
	}
	cg_health_add(list, CG_CHECK_replication_slots,
				  cg_health_grade(Max(max_age, 0), cg_slot_xmin_warn_age, cg_slot_xmin_critical_age),
				  psprintf("slot \"%s\" holds %s %d transactions old",
						   max_slot, which, max_age));
}

/*
 * cg_check_long_transactions
 *		Adds the long_transactions row: the age of the oldest transaction of
 *		any client backend.
 */
void
cg_check_long_transactions(CheckList *list, const CgHealthContext *ctx)
{
	const CgBackendSummary *backends = &ctx->backends;
	double		age;

	if (backends->oldest_xact_pid == 0)
	{
		cg_health_add(list, CG_CHECK_long_transactions, CHECK_OK,
					  pstrdup("no open transaction"));
		return;
	}
	age = cg_seconds_between(backends->oldest_xact_start, ctx->now);
	cg_health_add(list, CG_CHECK_long_transactions,
				  cg_health_grade(age, cg_long_transaction_warn, cg_long_transaction_critical),
				  psprintf("oldest transaction open for %.1f s (pid %d)",
						   age, backends->oldest_xact_pid));
}

/*
 * cg_check_idle_in_transaction
 *		Adds the idle_in_transaction row: how many client sessions sit idle
 *		in a transaction (an aborted one too) and for how long the oldest
 *		has.  A session that waits for its client in the middle of a
 *		transaction does nothing while it holds its locks, and, once it has
 *		written or holds a snapshot, the xmin horizon: vacuum can clean no
 *		row that died since, the outbox's included, and the notifier's
 *		snapshots keep its transaction in progress.  long_transactions
 *		grades the same sessions by their transaction's age; this grades
 *		the time they have been doing nothing, the mark of a client that
 *		forgot to commit.
 */
void
cg_check_idle_in_transaction(CheckList *list, const CgHealthContext *ctx)
{
	const CgBackendSummary *backends = &ctx->backends;
	double		idle;

	if (backends->client_idle_in_xact == 0)
	{
		cg_health_add(list, CG_CHECK_idle_in_transaction,
					  cg_health_grade(0, cg_idle_in_transaction_warn,
									  cg_idle_in_transaction_critical),
					  pstrdup("no session idle in transaction"));
		return;
	}
	idle = cg_seconds_between(backends->oldest_idle_in_xact_since, ctx->now);
	cg_health_add(list, CG_CHECK_idle_in_transaction,
				  cg_health_grade(idle, cg_idle_in_transaction_warn,
								  cg_idle_in_transaction_critical),
				  psprintf(backends->client_idle_in_xact == 1
						   ? "%d session idle in transaction, the oldest for %.1f s (pid %d)%s"
						   : "%d sessions idle in transaction, the oldest for %.1f s (pid %d)%s",
						   backends->client_idle_in_xact, idle,
						   backends->oldest_idle_in_xact_pid,
						   backends->oldest_idle_in_xact_holds_xmin
						   ? ", holding back the xmin horizon" : ""));
}

/*
 * cg_check_locks
 *		Adds the locks row: how many backends wait on a heavyweight lock.
 */
void
cg_check_locks(CheckList *list, const CgHealthContext *ctx)
{
	int			n = ctx->backends.lock_waiters;

	cg_health_add(list, CG_CHECK_locks,
				  cg_health_grade(n, cg_locks_warn_blocked, cg_locks_critical_blocked),
				  psprintf(n == 1 ? "%d backend waiting on a lock"
						   : "%d backends waiting on a lock", n));
}

/*
 * run_checks
 *		Fills list with every check's rows, in health_checks.h's order;
 *		returns nothing.  Shared by health() and health_summary().
 */
static void
run_checks(CheckList *list)
{
	CgExtension ext;
	CgHealthContext ctx;

	ctx.ext = cg_extension_lookup(&ext) ? &ext : NULL;
	cg_scan_backends(&ctx.backends);
	ctx.now = GetCurrentTimestamp();
	memset(list, 0, sizeof(*list));
	for (int i = 0; i < CG_NCHECKS; i++)
		check_functions[i] (list, &ctx);
}

/*
 * chatgenius_health
 *		SQL chatgenius.health(): returns the rows (check_name, status,
 *		detail) of every check, for monitoring and for the tunnel helper's
 *		verify command.
 */
Datum
chatgenius_health(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CheckList	list;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != 3)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("function health() must be declared to return 3 columns")));

	run_checks(&list);
	for (i = 0; i < list.n; i++)
	{
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(cg_check_names[list.rows[i].check]);
		values[1] = CStringGetTextDatum(status_names[list.rows[i].status]);
		values[2] = CStringGetTextDatum(list.rows[i].detail);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * chatgenius_health_summary
 *		SQL chatgenius.health_summary(): returns the worst status over all of
 *		health()'s rows, for checks that want a single word.
 */
Datum
chatgenius_health_summary(PG_FUNCTION_ARGS)
{
	CheckList	list;
	CheckStatus worst = CHECK_OK;
	int			i;

	run_checks(&list);
	for (i = 0; i < list.n; i++)
	{
		if (list.rows[i].status > worst)
			worst = list.rows[i].status;
	}
	PG_RETURN_TEXT_P(cstring_to_text(status_names[worst]));
}
