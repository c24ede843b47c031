/*-------------------------------------------------------------------------
 *
 * realtime_dead_letter.c
 *	  realtime_requeue() and realtime_discard(): what an operator does with
 *	  the changes the notifier set aside in realtime_dead_letter (see
 *	  notifier.c), as ALTER SUBSCRIPTION ... SKIP does for a subscription.
 *
 * A requeued change gets the requeuing transaction's xid, not its own: the
 * notifier reads only xids its last snapshot did not see, so the old xid
 * would never be read again.  It is sent after what is pending now, in its
 * old order among the requeued ones.  Every name is qualified: the caller's
 * search_path is not trusted.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "catalog/namespace.h"
#include "catalog/pg_type_d.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"

#include "realtime.h"

PG_FUNCTION_INFO_V1(chatgenius_realtime_requeue);
PG_FUNCTION_INFO_V1(chatgenius_realtime_discard);

/* Which rows of the dead-letter table: all, one xid's, or one (xid, seq). */
#define DEAD_LETTER_MATCH \
	" WHERE ($1 IS NULL OR xid OPERATOR(pg_catalog.=) $1)" \
	" AND ($2 IS NULL OR seq OPERATOR(pg_catalog.=) $2)"

/*
 * dead_letter_run
 *		Runs sql with the function's two arguments (either may be NULL: any);
 *		returns the rows it processed.  expect is the SPI result it must give.
 */
static int64
dead_letter_run(FunctionCallInfo fcinfo, const char *sql, int expect)
{
	Oid			argtypes[2] = {XID8OID, INT8OID};
	Datum		args[2];
	char		nulls[3] = "  ";
	int64		n;

	args[0] = PG_ARGISNULL(0) ? (Datum) 0 : PG_GETARG_DATUM(0);
	args[1] = PG_ARGISNULL(1) ? (Datum) 0 : PG_GETARG_DATUM(1);
	nulls[0] = PG_ARGISNULL(0) ? 'n' : ' ';
	nulls[1] = PG_ARGISNULL(1) ? 'n' : ' ';
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (SPI_execute_with_args(sql, 2, argtypes, args, nulls, false, 0) != expect)
		elog(ERROR, "could not update chatgenius.realtime_dead_letter");
	n = (int64) SPI_processed;
	SPI_finish();
	return n;
}

/*
 * chatgenius_realtime_requeue
 *		SQL realtime_requeue(xid, seq); returns how many set-aside changes it
 *		moved back to the outbox.  Wakes the notifier at commit.
 */
Datum
chatgenius_realtime_requeue(PG_FUNCTION_ARGS)
{
	int64		n;
	Oid			nspoid = get_namespace_oid("chatgenius", false);
	Oid			relid = get_relname_relid(CG_OUTBOX_TABLE, nspoid);
	Relation	outbox;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"chatgenius.%s\" does not exist", CG_OUTBOX_TABLE)));
	n = dead_letter_run(fcinfo,
						"WITH d AS (DELETE FROM chatgenius.realtime_dead_letter" DEAD_LETTER_MATCH
						" RETURNING xid, seq, channel, payload, created_at)"
						" INSERT INTO chatgenius.realtime_outbox (xid, seq, channel, payload, created_at)"
						" SELECT pg_catalog.pg_current_xact_id(),"
						" pg_catalog.row_number() OVER (ORDER BY xid, seq), channel, payload, created_at"
						" FROM d", SPI_OK_INSERT);
	if (n > 0 && cg_realtime_available())
	{
		outbox = table_open(relid, AccessShareLock);
		cg_realtime_outbox_written(outbox->rd_rel->relowner);
		table_close(outbox, AccessShareLock);
	}
	PG_RETURN_INT64(n);
}

/*
 * chatgenius_realtime_discard
 *		SQL realtime_discard(xid, seq); returns how many set-aside changes it
 *		dropped.
 */
Datum
chatgenius_realtime_discard(PG_FUNCTION_ARGS)
{
	PG_RETURN_INT64(dead_letter_run(fcinfo,
									"DELETE FROM chatgenius.realtime_dead_letter" DEAD_LETTER_MATCH,
									SPI_OK_DELETE));
}
