/*-------------------------------------------------------------------------
 *
 * health.c
 *	  chatgenius.health() and chatgenius.health_summary(): one row per check
 *	  (connections, each tunnel, schema, wraparound, multixact,
 *	  long transactions, prepared transactions, replication slots, locks,
 *	  and the checks of health.h's extra_checks: replication, realtime)
 *	  graded 'ok', 'warn' or 'critical' against the chatgenius.*
 *	  thresholds.  Everything is read from catalogs, the backend status
 *	  array, shared memory and tunnel_status directly, so that a call costs
 *	  microseconds.
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

/*
 * add_check
 *		Appends a result row to list; returns nothing.
 */
static void
add_check(CheckList *list, const char *check_name, CheckStatus status,
		  char *detail)
{
	if (list->n == list->max)
	{
		list->max = list->max * 2 + 8;
		list->rows = list->rows ? repalloc(list->rows, list->max * sizeof(CheckRow))
			: palloc(list->max * sizeof(CheckRow));
	}
	list->rows[list->n].check_name = check_name;
	list->rows[list->n].status = status;
	list->rows[list->n].detail = detail;
	list->n++;
}

/*
 * grade
 *		Returns the status of a measured value against its warn and critical
 *		thresholds: reaching a threshold counts, so a threshold of 0 always
 *		fires.
 */
static CheckStatus
grade(double value, double warn, double critical)
{
	if (value >= critical)
		return CHECK_CRITICAL;
	if (value >= warn)
		return CHECK_WARN;
	return CHECK_OK;
}

/*
 * cg_health_add
 *		add_check for the checks in files of their own (health.h); returns
 *		nothing.
 */
void
cg_health_add(CheckList *list, const char *check_name, CheckStatus status,
			  char *detail)
{
	add_check(list, check_name, status, detail);
}

/*
 * cg_health_grade
 *		grade for the checks in files of their own (health.h).
 */
CheckStatus
cg_health_grade(double value, double warn, double critical)
{
	return grade(value, warn, critical);
}

/*
 * seconds_between
 *		Returns the seconds from earlier to later, never negative (clocks of
 *		different transactions may disagree by a little).
 */
static double
seconds_between(TimestampTz earlier, TimestampTz later)
{
	return later > earlier ? (double) (later - earlier) / USECS_PER_SEC : 0.0;
}

/*
 * check_connections
 *		Adds the connections row: client backends against the connections
 *		that non-superusers can get (max_connections minus
 *		superuser_reserved_connections).
 */
static void
check_connections(CheckList *list, const CgBackendSummary *backends)
{
	int			available = MaxConnections - ReservedBackends;
	double		percent;

	if (available <= 0)
		available = MaxConnections;
	percent = 100.0 * backends->client_total / available;
	add_check(list, "connections",
			  grade(percent, cg_connections_warn_percent,
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
 * check_tunnels
 *		Adds one tunnel row per tunnel_status row (detail starts with the
 *		tunnel's name), or a single ok row when no tunnel has reported, or a
 *		critical row when tunnel_status cannot be read.
 */
static void
check_tunnels(CheckList *list, const CgExtension *ext)
{
	CgTunnelRow *rows;
	int			nrows;
	CgProblem	problem;
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	if (ext == NULL)
	{
		add_check(list, "tunnel", CHECK_CRITICAL,
				  psprintf("extension \"%s\" is not installed", CG_EXTENSION_NAME));
		return;
	}
	if (!cg_scan_tunnel_status(ext, &rows, &nrows, true, &problem))
	{
		if (problem.sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
			cg_report_problem(&problem);
		add_check(list, "tunnel",
				  problem.sqlerrcode == ERRCODE_LOCK_NOT_AVAILABLE
				  ? CHECK_WARN : CHECK_CRITICAL,
				  problem.message);
		return;
	}
	if (nrows == 0)
	{
		add_check(list, "tunnel", CHECK_OK, pstrdup("no tunnel has reported"));
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

		age = seconds_between(row->last_heartbeat_isnull ? row->updated_at
							  : row->last_heartbeat, now);
		intervals = age / interval_s;
		status = tunnel_status_of(row, intervals,
								  seconds_between(row->updated_at, now), &label);

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
			appendStringInfo(&buf, ", stopped %.1f s ago", seconds_between(row->updated_at, now));
		add_check(list, "tunnel", status, buf.data);
	}
}

/*
 * check_schema
 *		Adds the schema row: the installed version must have a successful
 *		schema_migrations row whose recorded fingerprint equals the current
 *		one, and should not be older than the control file's
 *		default_version.  A member relation locked by another transaction
 *		(ALTER TABLE, VACUUM FULL) makes it warn instead of wait.
 */
static void
check_schema(CheckList *list, const CgExtension *ext)
{
	CgMigration migration;
	CgProblem	problem;
	const char *default_version;
	CheckStatus status = CHECK_OK;
	StringInfoData buf;
	char	   *fingerprint;
	char	   *locked = NULL;

	if (ext == NULL)
	{
		add_check(list, "schema", CHECK_CRITICAL,
				  psprintf("extension \"%s\" is not installed", CG_EXTENSION_NAME));
		return;
	}
	if (!cg_find_migration(ext, ext->extversion, &migration, true, &problem))
	{
		if (problem.sqlerrcode == ERRCODE_INSUFFICIENT_PRIVILEGE)
			cg_report_problem(&problem);
		add_check(list, "schema",
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
	add_check(list, "schema", status, buf.data);
}

/*
 * check_wraparound
 *		Adds the wraparound and multixact rows from one scan of pg_database:
 *		the largest age(datfrozenxid) and mxid_age(datminmxid) over all
 *		databases, each in percent of the 2^31 IDs after which the cluster
 *		stops.
 */
static void
check_wraparound(CheckList *list)
{
	Relation	rel;
	SysScanDesc scan;
	HeapTuple	tup;
	TransactionId next = XidFromFullTransactionId(ReadNextFullTransactionId());
	MultiXactId next_mxid = ReadNextMultiXactId();
	int32		max_age = 0;
	int32		max_mxid_age = 0;
	char	   *max_datname = NULL;
	char	   *max_mxid_datname = NULL;
	double		percent;

	rel = table_open(DatabaseRelationId, AccessShareLock);
	scan = systable_beginscan(rel, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_database db = (Form_pg_database) GETSTRUCT(tup);
		int32		age;

		if (TransactionIdIsNormal(db->datfrozenxid))
		{
			age = (int32) (next - db->datfrozenxid);
			if (max_datname == NULL || age > max_age)
			{
				max_age = age;
				max_datname = pstrdup(NameStr(db->datname));
			}
		}
		if (MultiXactIdIsValid(db->datminmxid))
		{
			age = (int32) (next_mxid - db->datminmxid);
			if (max_mxid_datname == NULL || age > max_mxid_age)
			{
				max_mxid_age = age;
				max_mxid_datname = pstrdup(NameStr(db->datname));
			}
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);

	percent = 100.0 * Max(max_age, 0) / 2147483648.0;
	add_check(list, "wraparound",
			  grade(percent, cg_wraparound_warn_percent,
					cg_wraparound_critical_percent),
			  psprintf("oldest unfrozen transaction ID is %d transactions old (%.1f%% of 2^31) in database \"%s\"",
					   max_age, percent, max_datname ? max_datname : "?"));

	percent = 100.0 * Max(max_mxid_age, 0) / 2147483648.0;
	add_check(list, "multixact",
			  grade(percent, cg_multixact_warn_percent,
					cg_multixact_critical_percent),
			  psprintf("oldest multixact ID is %d multixacts old (%.1f%% of 2^31) in database \"%s\"",
					   max_mxid_age, percent,
					   max_mxid_datname ? max_mxid_datname : "?"));
}

/*
 * check_prepared_transactions
 *		Adds the prepared_transactions row: the age of the oldest prepared
 *		(two-phase) transaction of any database.  A forgotten one holds back
 *		the xmin horizon like an open transaction, but survives restarts and
 *		is invisible in pg_stat_activity.  Read through pg_prepared_xact(),
 *		the set-returning function behind pg_prepared_xacts, called directly
 *		(no SQL).
 */
static void
check_prepared_transactions(CheckList *list)
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
		add_check(list, "prepared_transactions",
				  grade(0, cg_prepared_transaction_warn,
						cg_prepared_transaction_critical),
				  pstrdup("no prepared transaction"));
		return;
	}
	age = seconds_between(oldest, GetCurrentTimestamp());
	add_check(list, "prepared_transactions",
			  grade(age, cg_prepared_transaction_warn,
					cg_prepared_transaction_critical),
			  psprintf(count == 1
					   ? "%d prepared transaction, the oldest prepared %.1f s ago (gid \"%s\")"
					   : "%d prepared transactions, the oldest prepared %.1f s ago (gid \"%s\")",
					   count, age, oldest_gid ? oldest_gid : "?"));
}

/*
 * check_replication_slots
 *		Adds the replication_slots row: the age, in transactions, of the
 *		oldest xmin or catalog_xmin that a replication slot holds (an
 *		abandoned slot keeps VACUUM from removing dead rows everywhere).
 *		Read from the slots' shared memory under their locks.
 */
static void
check_replication_slots(CheckList *list)
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
		add_check(list, "replication_slots",
				  grade(0, cg_slot_xmin_warn_age, cg_slot_xmin_critical_age),
				  psprintf(nslots == 1 ? "%d replication slot, none holds back xmin"
						   : "%d replication slots, none holds back xmin", nslots));
		return;
	}
	add_check(list, "replication_slots",
			  grade(Max(max_age, 0), cg_slot_xmin_warn_age, cg_slot_xmin_critical_age),
			  psprintf("slot \"%s\" holds %s %d transactions old",
					   max_slot, which, max_age));
}

/*
 * check_long_transactions
 *		Adds the long_transactions row: the age of the oldest transaction of
 *		any client backend.
 */
static void
check_long_transactions(CheckList *list, const CgBackendSummary *backends)
{
	double		age;

	if (backends->oldest_xact_pid == 0)
	{
		add_check(list, "long_transactions", CHECK_OK,
				  pstrdup("no open transaction"));
		return;
	}
	age = seconds_between(backends->oldest_xact_start, GetCurrentTimestamp());
	add_check(list, "long_transactions",
			  grade(age, cg_long_transaction_warn, cg_long_transaction_critical),
			  psprintf("oldest transaction open for %.1f s (pid %d)",
					   age, backends->oldest_xact_pid));
}

/*
 * check_locks
 *		Adds the locks row: how many backends wait on a heavyweight lock.
 */
static void
check_locks(CheckList *list, const CgBackendSummary *backends)
{
	int			n = backends->lock_waiters;

	add_check(list, "locks",
			  grade(n, cg_locks_warn_blocked, cg_locks_critical_blocked),
			  psprintf(n == 1 ? "%d backend waiting on a lock"
					   : "%d backends waiting on a lock", n));
}

/*
 * The checks kept in files of their own (health.h), run after the others in
 * this order.
 */
static const CgHealthCheck extra_checks[] = {
	cg_check_replication,
	cg_check_realtime,
};

/*
 * run_checks
 *		Fills list with every check's rows, in the documented order; returns
 *		nothing.  Shared by health() and health_summary().
 */
static void
run_checks(CheckList *list)
{
	CgExtension ext;
	bool		have_ext = cg_extension_lookup(&ext);
	CgBackendSummary backends;

	cg_scan_backends(&backends);
	memset(list, 0, sizeof(*list));
	check_connections(list, &backends);
	check_tunnels(list, have_ext ? &ext : NULL);
	check_schema(list, have_ext ? &ext : NULL);
	check_wraparound(list);
	check_long_transactions(list, &backends);
	check_prepared_transactions(list);
	check_replication_slots(list);
	check_locks(list, &backends);
	for (int i = 0; i < lengthof(extra_checks); i++)
		extra_checks[i] (list);
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

		values[0] = CStringGetTextDatum(list.rows[i].check_name);
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
