/*-------------------------------------------------------------------------
 *
 * health_realtime.c
 *	  health()'s realtime row: is the path from a committed change to its
 *	  NOTIFY working?  Graded on the notifier's slot in shared memory (its
 *	  last pass through its loop, the oldest change not yet sent, its failed
 *	  exits in the last minute) and on the changes set aside in
 *	  realtime_dead_letter, plus the mode: without the preloaded library
 *	  every notifying commit waits for NOTIFY's lock (a warning).
 *
 * A stopped notifier (SIGSTOP, a hung lock) stops updating its slot while
 * writers keep recording their commits, so the age of the oldest change
 * grows and the next call sees it; a crash-looping one counts its exits.
 * When no notifier runs and the slot records nothing (after a restart),
 * the first outbox row in delivery order is read through the index.
 * Tables are read directly, without the caller's privileges and never
 * waiting for a lock, like the other checks.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xlog.h"
#include "executor/tuptable.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "chatgenius.h"
#include "health.h"
#include "realtime.h"

#define RT_CRASH_LOOP_EXITS		3	/* failed exits in a minute: critical */

/*
 * rt_open_quietly
 *		Returns the extension's table relname opened with AccessShareLock, or
 *		NULL if it does not exist (an older version) or a lock is held that
 *		would make health() wait.
 */
static Relation
rt_open_quietly(const CgExtension *ext, const char *relname, bool *locked)
{
	Oid			relid = get_relname_relid(relname, ext->nspoid);

	*locked = false;
	if (!OidIsValid(relid))
		return NULL;
	if (!ConditionalLockRelationOid(relid, AccessShareLock))
	{
		*locked = true;
		return NULL;
	}
	return table_open(relid, NoLock);
}

/*
 * rt_first_pending_at
 *		Returns the created_at of the first outbox row in delivery order, or
 *		0 if the outbox is empty or cannot be read without waiting.
 */
static TimestampTz
rt_first_pending_at(Relation outbox)
{
	List	   *indexes = RelationGetIndexList(outbox);
	TimestampTz at = 0;
	AttrNumber	attnum = 5;		/* created_at */

	if (indexes != NIL && ConditionalLockRelationOid(linitial_oid(indexes), AccessShareLock))
	{
		Relation	index = index_open(linitial_oid(indexes), NoLock);
		TupleTableSlot *slot = table_slot_create(outbox, NULL);
		IndexScanDesc scan = index_beginscan(outbox, index, GetActiveSnapshot(), 0, 0);

		index_rescan(scan, NULL, 0, NULL, 0);
		if (index_getnext_slot(scan, ForwardScanDirection, slot))
		{
			bool		isnull;
			Datum		d = slot_getattr(slot, attnum, &isnull);

			if (!isnull)
				at = DatumGetTimestampTz(d);
		}
		index_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		index_close(index, AccessShareLock);
	}
	list_free(indexes);
	return at;
}

/*
 * rt_count_rows
 *		Returns the rows of rel visible now.  For the dead-letter table, which
 *		holds only what an operator has not dealt with yet.
 */
static int64
rt_count_rows(Relation rel)
{
	TableScanDesc scan = table_beginscan(rel, GetActiveSnapshot(), 0, NULL);
	int64		n = 0;

	while (heap_getnext(scan, ForwardScanDirection) != NULL)
		n++;
	table_endscan(scan);
	return n;
}

/* Raises *worst to s; returns nothing. */
static void
rt_worse(CheckStatus *worst, CheckStatus s)
{
	if (s > *worst)
		*worst = s;
}

/*
 * cg_check_realtime
 *		Adds the realtime row.
 */
void
cg_check_realtime(CheckList *list, const CgHealthContext *ctx)
{
	const CgExtension *ext = ctx->ext;
	CgNotifierView view;
	StringInfoData detail;
	CheckStatus worst = CHECK_OK;
	TimestampTz now = ctx->now;
	TimestampTz oldest;
	Relation	outbox;
	Relation	dead;
	bool		locked;
	int64		set_aside = 0;
	double		age;

	if (ext == NULL)
	{
		cg_health_add(list, CG_CHECK_realtime, CHECK_OK, pstrdup("the extension is not installed"));
		return;
	}
	if (RecoveryInProgress())
	{
		cg_health_add(list, CG_CHECK_realtime, CHECK_OK,
					  pstrdup("standby: the primary's notifier sends the changes (this server's starts on promotion, with the first change)"));
		return;
	}
	if (cg_realtime == CG_REALTIME_OFF)
	{
		cg_health_add(list, CG_CHECK_realtime, CHECK_OK,
					  pstrdup("off (chatgenius.realtime): no change is notified"));
		return;
	}
	if (!cg_notifier_view(MyDatabaseId, &view))
	{
		cg_health_add(list, CG_CHECK_realtime, CHECK_WARN,
					  pstrdup("direct: chatgenius is not in shared_preload_libraries, so every notifying commit waits for NOTIFY's lock"));
		return;
	}
	outbox = rt_open_quietly(ext, CG_OUTBOX_TABLE, &locked);
	if (outbox == NULL)
	{
		cg_health_add(list, CG_CHECK_realtime, locked ? CHECK_WARN : CHECK_OK,
					  pstrdup(locked ? "the outbox is locked by another session"
							  : "no outbox (extension older than 1.4)"));
		return;
	}

	initStringInfo(&detail);
	oldest = view.oldest_unsent_at;
	if (oldest == 0 && view.pid == 0)
		oldest = rt_first_pending_at(outbox);
	table_close(outbox, AccessShareLock);

	/* The notifier itself. */
	if (view.recent_exits > 0)
	{
		CheckStatus s = view.recent_exits >= RT_CRASH_LOOP_EXITS ? CHECK_CRITICAL : CHECK_WARN;

		rt_worse(&worst, s);
		appendStringInfo(&detail, "the notifier failed %d time%s in the last minute, %.0f s ago%s%s; ",
						 view.recent_exits, view.recent_exits == 1 ? "" : "s",
						 cg_seconds_between(view.last_exit_at, now),
						 view.last_error[0] ? ": " : "", view.last_error);
	}
	if (view.pid != 0)
	{
		double		idle = cg_seconds_between(view.alive_at, now);

		if (idle >= cg_realtime_delay_warn)
		{
			rt_worse(&worst, cg_health_grade(idle, cg_realtime_delay_warn, cg_realtime_delay_critical));
			appendStringInfo(&detail, "the notifier (pid %d) has not run for %.1f s; ",
							 (int) view.pid, idle);
		}
		else
			appendStringInfo(&detail, "notifier pid %d, ", (int) view.pid);
	}
	else
		appendStringInfoString(&detail, "no notifier running, ");

	/* What waits. */
	age = oldest != 0 ? cg_seconds_between(oldest, now) : 0.0;
	rt_worse(&worst, cg_health_grade(age, cg_realtime_delay_warn, cg_realtime_delay_critical));
	if (oldest != 0)
		appendStringInfo(&detail, "oldest change waiting %.1f s", age);
	else
		appendStringInfoString(&detail, "no change waiting");

	dead = rt_open_quietly(ext, CG_DEAD_LETTER_TABLE, &locked);
	if (dead != NULL)
	{
		set_aside = rt_count_rows(dead);
		table_close(dead, AccessShareLock);
	}
	if (set_aside > 0)
	{
		rt_worse(&worst, CHECK_WARN);
		appendStringInfo(&detail, ", " INT64_FORMAT " change%s set aside in realtime_dead_letter (realtime_requeue() or realtime_discard())",
						 set_aside, set_aside == 1 ? "" : "s");
	}
	else
		appendStringInfoString(&detail, ", none set aside");
	cg_health_add(list, CG_CHECK_realtime, worst, detail.data);
}
