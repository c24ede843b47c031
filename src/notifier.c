/*-------------------------------------------------------------------------
 *
 * notifier.c
 *	  The chatgenius notifier: one background worker per database that
 *	  turns committed outbox rows into NOTIFYs, in batches a few
 *	  milliseconds apart, and deletes them with the next batch.
 *
 * Why batches: PostgreSQL serialises every committing transaction that
 * issued a NOTIFY (a lock taken in PreCommit_Notify and held past the
 * commit).  Writers that only append to the outbox never take it; the
 * notifier takes it once per batch.
 *
 * At least once across a failover, exactly once across a notifier restart:
 * a transaction's NOTIFYs reach the listeners only after its commit, and
 * with synchronous replication after the standby has its WAL.  A DELETE of
 * the sent rows in that transaction (1.4 to 1.8) reached the standby before
 * any listener could read the NOTIFYs: a primary killed at that moment left
 * nothing for the promoted standby to send.  So (1.9) each notifier
 * transaction records in realtime_sent where delivery stands and which rows
 * it sent, and deletes the rows the previous one sent (notifier_ack): the
 * rows sent last stay in the outbox until the next batch, or until a
 * delete-only transaction one batch interval later when none comes, so an
 * idle outbox still drains.  A notifier that starts reads the record:
 *  - written in this server's life (cg_realtime_server_id: only the
 *    notifier restarted), the listeners still read the queue those NOTIFYs
 *    went into: the rows are sent, and deleted with the next batch;
 *  - written by another server (a promoted standby) or before a restart or
 *    crash restart of this one, that queue is gone and every listener was
 *    cut, maybe before reading them: they are sent again, first.
 * At most the rows of one notifier transaction (NOTIFIER_PIECE_ROWS) arrive
 * twice.  A listener that has not read a batch by the time the next one
 * commits can still miss it if the host dies then; an app catches up by
 * re-reading after it reconnects (doc/realtime.md, Across a failover).  The
 * outbox is an ordinary (WAL-logged) table, so committed rows survive a
 * crash.  Without realtime_sent (a database not yet updated to 1.9) a piece's
 * NOTIFYs and the DELETE of its rows commit together, as before.
 *
 * Commit order: outbox ids assigned during the writing transaction do not
 * follow commit order, so no "position > last" reader is used.  Instead a
 * batch is every row visible in one snapshot S and invisible to the previous
 * batch's snapshot P, as PgQ reads its batches (see notifier_fetch):
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
 * would happen; each deletes exactly the rows it sends, by ctid.
 *
 * Cost: a batch reads only what P could not see, in two index ranges: the
 * xids P saw in progress (xid = ANY, a handful of probes) and xid >= P's
 * xmax.  Delivered rows are below both, so their dead index entries are
 * never visited again, whatever holds back vacuum (a transaction left open
 * elsewhere does not move the start of the scan, as an xmin would).  A batch
 * is read and sent in pieces of at most NOTIFIER_PIECE_ROWS rows, one
 * transaction each, resuming after the last (xid, seq) sent: a backlog of any
 * size drains in bounded memory.
 *
 * Poison: a piece that fails is retried row by row; a row that fails alone
 * with a data exception (class 22: NOTIFY's "payload string too long",
 * "channel name too long") is moved to realtime_dead_letter with its error,
 * a WARNING names it, and delivery goes on.  Any other error (the NOTIFY
 * queue full, out of memory, shutdown) is not the row's fault: the notifier
 * exits and the postmaster restarts it a second later.
 *
 * Trust: the notifier runs as the extension's owner, with its own
 * search_path (empty) and settings, set before anything else, and every
 * operator written OPERATOR(pg_catalog.x): the database owner's
 * ALTER DATABASE ... SET and objects in public never reach it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type_d.h"
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
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "realtime.h"

#define NOTIFIER_IDLE_WAIT_MS	1000	/* re-check without a wake-up */
#define NOTIFIER_PIECE_ROWS		2000	/* rows per notifier transaction */
#define NOTIFIER_RETIRE_MS		2000	/* exit when idle this long: DROP
										 * DATABASE waits up to 5 s for
										 * other sessions to leave */

/* One outbox row of a piece. */
typedef struct NotifierRow
{
	ItemPointerData ctid;
	FullTransactionId xid;
	int64		seq;
	char	   *channel;
	char	   *payload;
	TimestampTz created_at;
} NotifierRow;

/* A payload already sent in the current notifier transaction. */
typedef struct SentEntry
{
	uint64		hash;
	FullTransactionId xid;
} SentEntry;

/*
 * Where delivery stands: what the previous batch's snapshot P could not see
 * (its xmax and in-progress xids), this batch's snapshot S, and the last row
 * sent in this batch.
 */
typedef struct NotifierState
{
	MemoryContext cxt;			/* the arrays below */
	FullTransactionId prev_xmax;
	ArrayType  *prev_xip;		/* xid8[] */
	bool		in_batch;		/* S is taken */
	FullTransactionId xmax;
	ArrayType  *xip;			/* xid8[] */
	int			part;			/* 1: P's in-progress xids; 2: xid >= P's xmax */
	FullTransactionId last_xid; /* 0: nothing sent yet in this part */
	int64		last_seq;
	/* 1.9: the record of what was sent (realtime_sent) and the rows sent last */
	bool		recording;		/* the database has realtime_sent */
	bool		pending;		/* rows sent and not yet deleted */
	FullTransactionId pend_xmax;	/* their batch's snapshot S */
	ArrayType  *pend_xip;		/* xid8[] */
	FullTransactionId pend_first_xid;	/* their first and last (xid, seq) */
	int64		pend_first_seq;
	FullTransactionId pend_last_xid;
	int64		pend_last_seq;
	SPIPlanPtr	fetch_plan[2];
	SPIPlanPtr	delete_plan;
	SPIPlanPtr	ack_plan;
	SPIPlanPtr	record_plan;
	SPIPlanPtr	set_aside_plan;
} NotifierState;

static Oid	notifier_dboid;

/* The columns every fetch returns, in this order. */
#define NOTIFIER_COLUMNS "ctid, xid, seq, channel, payload, created_at FROM chatgenius.realtime_outbox"

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
 * notifier_become_owner
 *		Makes the owner of the outbox the notifier's user for the rest of its
 *		life, as a maintenance command runs as a table's owner (a session
 *		started as the bootstrap superuser, SECURITY_RESTRICTED_OPERATION
 *		set); returns nothing.  Every transaction starts with it, and an
 *		abort returns to it.
 */
static void
notifier_become_owner(void)
{
	Oid			owner = InvalidOid;
	Oid			nspoid;
	HeapTuple	tup;

	StartTransactionCommand();
	nspoid = get_namespace_oid("chatgenius", true);
	if (OidIsValid(nspoid))
	{
		tup = SearchSysCache1(RELOID,
							  ObjectIdGetDatum(get_relname_relid(CG_OUTBOX_TABLE, nspoid)));
		if (HeapTupleIsValid(tup))
		{
			owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
			ReleaseSysCache(tup);
		}
	}
	CommitTransactionCommand();
	if (!OidIsValid(owner))
		proc_exit(0);
	SetUserIdAndSecContext(owner, SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
}

/*
 * notifier_settings
 *		Overrides, before the first query, every setting that a database or
 *		role default could use against the notifier; returns nothing.  The
 *		search_path first (CVE-2020-14349's lesson): nothing but pg_catalog,
 *		and every name the notifier uses is qualified anyway.  Timeouts and
 *		read-only defaults would stop delivery; an asynchronous commit could
 *		lose the record of a batch in a crash after its NOTIFYs went out,
 *		and send more than the last batch twice.
 */
static void
notifier_settings(void)
{
	SetConfigOption("search_path", "", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("statement_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("lock_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("idle_in_transaction_session_timeout", "0", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_read_only", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("default_transaction_isolation", "read committed", PGC_SUSET,
					PGC_S_OVERRIDE);
	if (synchronous_commit == SYNCHRONOUS_COMMIT_OFF)
		SetConfigOption("synchronous_commit", "local", PGC_SUSET, PGC_S_OVERRIDE);
	/* The outbox is a queue: read it through its index, never whole. */
	SetConfigOption("enable_indexscan", "on", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("enable_seqscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("enable_bitmapscan", "off", PGC_SUSET, PGC_S_OVERRIDE);
}

/*
 * notifier_plan
 *		Returns a kept plan of sql (prepared once, in the first transaction
 *		that needs it).
 */
static SPIPlanPtr
notifier_plan(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	p = SPI_prepare(sql, nargs, argtypes);

		if (p == NULL)
			elog(ERROR, "chatgenius notifier could not prepare \"%s\": %s",
				 sql, SPI_result_code_string(SPI_result));
		if (SPI_keepplan(p) != 0)
			elog(ERROR, "SPI_keepplan failed");
		*plan = p;
	}
	return *plan;
}

/*
 * notifier_start_part2
 *		Positions st just before P's xmax; returns nothing.  The position is
 *		also where the index scan starts: btree does not merge a row
 *		comparison with a plain bound on the same column, and starting at
 *		(0, 0) would walk every dead entry below P's xmax.
 */
static void
notifier_start_part2(NotifierState *st)
{
	uint64		xmax = U64FromFullTransactionId(st->prev_xmax);

	st->part = 2;
	st->last_xid = FullTransactionIdFromU64(xmax > 0 ? xmax - 1 : 0);
	st->last_seq = PG_INT64_MAX;
}

/*
 * notifier_take_snapshot
 *		Starts a batch: records S's xmax and in-progress xids in st; returns
 *		nothing.  Runs in the batch's first transaction, whose later
 *		statements see at least what S sees.
 */
static void
notifier_take_snapshot(NotifierState *st)
{
	bool		isnull;
	Datum		xip;
	MemoryContext old;

	if (SPI_execute("SELECT pg_catalog.pg_snapshot_xmax(s),"
					" ARRAY(SELECT pg_catalog.pg_snapshot_xip(s))"
					" FROM pg_catalog.pg_current_snapshot() s", false, 1) != SPI_OK_SELECT ||
		SPI_processed != 1)
		elog(ERROR, "chatgenius notifier could not read its snapshot");
	st->xmax = DatumGetFullTransactionId(SPI_getbinval(SPI_tuptable->vals[0],
													   SPI_tuptable->tupdesc, 1, &isnull));
	xip = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	old = MemoryContextSwitchTo(st->cxt);
	st->xip = DatumGetArrayTypePCopy(xip);
	MemoryContextSwitchTo(old);
	st->in_batch = true;
	if (st->prev_xip && ArrayGetNItems(ARR_NDIM(st->prev_xip), ARR_DIMS(st->prev_xip)) > 0)
	{
		st->part = 1;
		st->last_xid = FullTransactionIdFromEpochAndXid(0, 0);
		st->last_seq = 0;
	}
	else
		notifier_start_part2(st);
}

/*
 * notifier_end_batch
 *		Ends a batch: S becomes P; returns nothing.
 */
static void
notifier_end_batch(NotifierState *st)
{
	Datum	   *elems;
	bool	   *nulls;
	int			n;
	int			i;
	uint64		xip[CG_RESUME_XIP_MAX];

	if (st->prev_xip)
		pfree(st->prev_xip);
	st->prev_xmax = st->xmax;
	st->prev_xip = st->xip;
	st->xip = NULL;
	st->in_batch = false;

	deconstruct_array(st->prev_xip, XID8OID, sizeof(uint64), FLOAT8PASSBYVAL,
					  TYPALIGN_DOUBLE, &elems, &nulls, &n);
	for (i = 0; i < n && i < CG_RESUME_XIP_MAX; i++)
		xip[i] = U64FromFullTransactionId(DatumGetFullTransactionId(elems[i]));
	cg_notifier_save_position(notifier_dboid, U64FromFullTransactionId(st->prev_xmax), xip, n);
	pfree(elems);
	pfree(nulls);
}

/*
 * notifier_resume_shmem
 *		Starts from the position the previous notifier of this database left
 *		in shared memory (see cg_notifier_save_position), if any: before 1.9,
 *		or before the first record in realtime_sent.  Returns nothing.
 */
static void
notifier_resume_shmem(NotifierState *st)
{
	uint64		xmax;
	uint64		xip[CG_RESUME_XIP_MAX];
	Datum		elems[CG_RESUME_XIP_MAX];
	int			n = cg_notifier_load_position(notifier_dboid, &xmax, xip);
	int			i;
	MemoryContext old;

	if (xmax == 0)
		return;
	for (i = 0; i < n; i++)
		elems[i] = FullTransactionIdGetDatum(FullTransactionIdFromU64(xip[i]));
	old = MemoryContextSwitchTo(st->cxt);
	st->prev_xmax = FullTransactionIdFromU64(xmax);
	st->prev_xip = construct_array(elems, n, XID8OID, sizeof(uint64), FLOAT8PASSBYVAL,
								   TYPALIGN_DOUBLE);
	MemoryContextSwitchTo(old);
}

/*
 * notifier_fetch
 *		Returns the next rows of the batch in delivery order, at most
 *		NOTIFIER_PIECE_ROWS, copied into cxt; *nrows is their count.
 *
 * A row belongs to the batch if S sees it and P did not.  S sees a row when
 * its xid is below S's xmax and not among S's in-progress xids (a row of an
 * aborted transaction is seen by no snapshot).  P did not see the rows of
 * its in-progress xids (part 1; all below P's xmax) and those at or above
 * its xmax (part 2), so part 1 then part 2 is (xid, seq) order.  Both
 * resume after the last row sent.
 */
static NotifierRow *
notifier_fetch(NotifierState *st, MemoryContext cxt, int *nrows)
{
	Oid			types1[5] = {XID8ARRAYOID, XID8ARRAYOID, XID8OID, INT8OID, INT8OID};
	Oid			types2[6] = {XID8OID, XID8OID, XID8ARRAYOID, XID8OID, INT8OID, INT8OID};
	Datum		args[6];
	SPIPlanPtr	plan;
	NotifierRow *rows = NULL;
	uint64		i;

	if (st->part == 1)
	{
		plan = notifier_plan(&st->fetch_plan[0],
							 "SELECT " NOTIFIER_COLUMNS
							 " WHERE xid OPERATOR(pg_catalog.=) ANY ($1)"
							 " AND NOT (xid OPERATOR(pg_catalog.=) ANY ($2))"
							 " AND ROW(xid, seq) OPERATOR(pg_catalog.>) ROW($3, $4)"
							 " ORDER BY xid, seq LIMIT $5", 5, types1);
		args[0] = PointerGetDatum(st->prev_xip);
		args[1] = PointerGetDatum(st->xip);
		args[2] = FullTransactionIdGetDatum(st->last_xid);
		args[3] = Int64GetDatum(st->last_seq);
		args[4] = Int64GetDatum(NOTIFIER_PIECE_ROWS);
	}
	else
	{
		plan = notifier_plan(&st->fetch_plan[1],
							 "SELECT " NOTIFIER_COLUMNS
							 " WHERE xid OPERATOR(pg_catalog.>=) $1"
							 " AND xid OPERATOR(pg_catalog.<) $2"
							 " AND NOT (xid OPERATOR(pg_catalog.=) ANY ($3))"
							 " AND ROW(xid, seq) OPERATOR(pg_catalog.>) ROW($4, $5)"
							 " ORDER BY xid, seq LIMIT $6", 6, types2);
		args[0] = FullTransactionIdGetDatum(st->prev_xmax);
		args[1] = FullTransactionIdGetDatum(st->xmax);
		args[2] = PointerGetDatum(st->xip);
		args[3] = FullTransactionIdGetDatum(st->last_xid);
		args[4] = Int64GetDatum(st->last_seq);
		args[5] = Int64GetDatum(NOTIFIER_PIECE_ROWS);
	}
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read chatgenius.realtime_outbox");

	*nrows = (int) SPI_processed;
	if (SPI_processed > 0)
	{
		MemoryContext old = MemoryContextSwitchTo(cxt);
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;

		rows = palloc(sizeof(NotifierRow) * SPI_processed);
		for (i = 0; i < SPI_processed; i++)
		{
			HeapTuple	tup = SPI_tuptable->vals[i];

			rows[i].ctid = *(ItemPointer) DatumGetPointer(SPI_getbinval(tup, desc, 1, &isnull));
			rows[i].xid = DatumGetFullTransactionId(SPI_getbinval(tup, desc, 2, &isnull));
			rows[i].seq = DatumGetInt64(SPI_getbinval(tup, desc, 3, &isnull));
			rows[i].channel = SPI_getvalue(tup, desc, 4);
			rows[i].payload = SPI_getvalue(tup, desc, 5);
			rows[i].created_at = DatumGetTimestampTz(SPI_getbinval(tup, desc, 6, &isnull));
		}
		MemoryContextSwitchTo(old);
	}
	return rows;
}

/*
 * notifier_chunk_end
 *		Returns the end (exclusive) of the chunk that starts at first: rows
 *		up to the first whose (channel, payload) was already sent in this
 *		chunk by another transaction, which NOTIFY would drop.
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
	for (i = first; i < nrows; i++)
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
 * notifier_send
 *		NOTIFYs rows[first..end), in order, in the current transaction; and
 *		before 1.9 (no realtime_sent to record them in) deletes them by ctid
 *		in the same transaction.  Returns nothing.
 */
static void
notifier_send(NotifierState *st, NotifierRow *rows, int first, int end)
{
	Datum	   *tids;
	Oid			argtypes[1] = {TIDARRAYOID};
	Datum		args[1];
	SPIPlanPtr	plan;
	int			i;

	if (st->recording)
	{
		for (i = first; i < end; i++)
			Async_Notify(rows[i].channel, rows[i].payload);
		return;
	}
	tids = palloc(sizeof(Datum) * (end - first));
	for (i = first; i < end; i++)
		tids[i - first] = PointerGetDatum(&rows[i].ctid);
	args[0] = PointerGetDatum(construct_array(tids, end - first, TIDOID,
											  sizeof(ItemPointerData), false,
											  TYPALIGN_SHORT));
	plan = notifier_plan(&st->delete_plan,
						 "DELETE FROM chatgenius.realtime_outbox"
						 " WHERE ctid OPERATOR(pg_catalog.=) ANY ($1)", 1, argtypes);
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete from chatgenius.realtime_outbox");
	if (SPI_processed != (uint64) (end - first))
		elog(ERROR, "chatgenius notifier deleted " UINT64_FORMAT " outbox rows, expected %d",
			 SPI_processed, end - first);

	for (i = first; i < end; i++)
		Async_Notify(rows[i].channel, rows[i].payload);
}

/*
 * notifier_sent_table_exists
 *		Returns whether the database's extension is at 1.9 or later (its
 *		realtime_sent table).  Runs in the current transaction.
 */
static bool
notifier_sent_table_exists(void)
{
	Oid			nspoid = get_namespace_oid("chatgenius", true);

	return OidIsValid(nspoid) && OidIsValid(get_relname_relid(CG_SENT_TABLE, nspoid));
}

/*
 * notifier_ack
 *		Deletes the rows sent last (st->pending), in the current transaction:
 *		the rows of their batch's snapshot between their first and last
 *		(xid, seq), which are exactly them (every row that snapshot saw
 *		before them was deleted earlier).  Returns nothing.
 */
static void
notifier_ack(NotifierState *st)
{
	Oid			types[6] = {XID8OID, INT8OID, XID8OID, INT8OID, XID8OID, XID8ARRAYOID};
	Datum		args[6];
	SPIPlanPtr	plan;

	if (!st->pending)
		return;
	plan = notifier_plan(&st->ack_plan,
						 "DELETE FROM chatgenius.realtime_outbox"
						 " WHERE ROW(xid, seq) OPERATOR(pg_catalog.>=) ROW($1, $2)"
						 " AND ROW(xid, seq) OPERATOR(pg_catalog.<=) ROW($3, $4)"
						 " AND xid OPERATOR(pg_catalog.<) $5"
						 " AND NOT (xid OPERATOR(pg_catalog.=) ANY ($6))", 6, types);
	args[0] = FullTransactionIdGetDatum(st->pend_first_xid);
	args[1] = Int64GetDatum(st->pend_first_seq);
	args[2] = FullTransactionIdGetDatum(st->pend_last_xid);
	args[3] = Int64GetDatum(st->pend_last_seq);
	args[4] = FullTransactionIdGetDatum(st->pend_xmax);
	args[5] = PointerGetDatum(st->pend_xip);
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_DELETE)
		elog(ERROR, "could not delete from chatgenius.realtime_outbox");
}

/* An xid8[] of st's, or an empty one for none. */
static Datum
notifier_xip_datum(ArrayType *xip)
{
	return PointerGetDatum(xip ? xip : construct_empty_array(XID8OID));
}

/*
 * notifier_record
 *		Writes, in the current transaction, where delivery stands (P, S, the
 *		part and the last row sent, (last_xid, last_seq)) and which rows are
 *		sent and not yet deleted: rows[first..end), none if first == end.
 *		With them the server's id (cg_realtime_server_id) and timeline.
 *		Returns nothing.
 */
static void
notifier_record(NotifierState *st, NotifierRow *rows, int first, int end,
				FullTransactionId last_xid, int64 last_seq)
{
	Oid			types[12] = {INT8OID, INT8OID, XID8OID, XID8ARRAYOID, XID8OID, XID8ARRAYOID,
	INT4OID, XID8OID, INT8OID, XID8OID, INT8OID, INT4OID};
	Datum		args[12];
	char		nulls[13] = "            ";
	SPIPlanPtr	plan;

	plan = notifier_plan(&st->record_plan,
						 "INSERT INTO chatgenius.realtime_sent AS s (server_id, timeline, sent_at,"
						 " prev_xmax, prev_xip, batch_xmax, batch_xip, part, first_xid, first_seq,"
						 " last_xid, last_seq, unacked)"
						 " VALUES ($1, $2, pg_catalog.clock_timestamp(), $3, $4, $5, $6, $7,"
						 " $8, $9, $10, $11, $12)"
						 " ON CONFLICT (one) DO UPDATE SET server_id = excluded.server_id,"
						 " timeline = excluded.timeline, sent_at = excluded.sent_at,"
						 " prev_xmax = excluded.prev_xmax, prev_xip = excluded.prev_xip,"
						 " batch_xmax = excluded.batch_xmax, batch_xip = excluded.batch_xip, part = excluded.part,"
						 " first_xid = excluded.first_xid, first_seq = excluded.first_seq,"
						 " last_xid = excluded.last_xid, last_seq = excluded.last_seq,"
						 " unacked = excluded.unacked", 12, types);
	args[0] = Int64GetDatum((int64) cg_realtime_server_id());
	args[1] = Int64GetDatum((int64) GetWALInsertionTimeLine());
	args[2] = FullTransactionIdGetDatum(st->prev_xmax);
	args[3] = notifier_xip_datum(st->prev_xip);
	args[4] = FullTransactionIdGetDatum(st->xmax);
	args[5] = notifier_xip_datum(st->xip);
	args[6] = Int32GetDatum(st->part);
	if (end > first)
	{
		args[7] = FullTransactionIdGetDatum(rows[first].xid);
		args[8] = Int64GetDatum(rows[first].seq);
	}
	else
	{
		args[7] = args[8] = (Datum) 0;
		nulls[7] = nulls[8] = 'n';
	}
	args[9] = FullTransactionIdGetDatum(last_xid);
	args[10] = Int64GetDatum(last_seq);
	args[11] = Int32GetDatum(end - first);
	if (SPI_execute_plan(plan, args, nulls, false, 0) != SPI_OK_INSERT || SPI_processed != 1)
		elog(ERROR, "could not write chatgenius.realtime_sent");
}

/*
 * notifier_set_pending
 *		The rows of the current batch's snapshot (st->xmax, st->xip) from
 *		(first_xid, first_seq) to (last_xid, last_seq) are sent and not yet
 *		deleted; returns nothing.
 */
static void
notifier_set_pending(NotifierState *st, FullTransactionId first_xid, int64 first_seq,
					 FullTransactionId last_xid, int64 last_seq)
{
	MemoryContext old;

	st->pending = true;
	st->pend_first_xid = first_xid;
	st->pend_first_seq = first_seq;
	st->pend_last_xid = last_xid;
	st->pend_last_seq = last_seq;
	if (st->pend_xip)
		pfree(st->pend_xip);
	old = MemoryContextSwitchTo(st->cxt);
	st->pend_xip = DatumGetArrayTypePCopy(PointerGetDatum(st->xip));
	MemoryContextSwitchTo(old);
	st->pend_xmax = st->xmax;
}

/*
 * notifier_sent
 *		After the commit of a transaction that acknowledged st->pending and
 *		sent rows[first..end): those become the pending rows (none if first
 *		== end); returns nothing.
 */
static void
notifier_sent(NotifierState *st, NotifierRow *rows, int first, int end)
{
	st->pending = false;
	if (end > first)
		notifier_set_pending(st, rows[first].xid, rows[first].seq,
							 rows[end - 1].xid, rows[end - 1].seq);
}

/* Opens a notifier transaction with SPI and a snapshot. */
static void
notifier_begin(const char *activity)
{
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING, activity);
}

/* Commits a notifier transaction opened by notifier_begin. */
static void
notifier_commit(void)
{
	SPI_finish();
	PopActiveSnapshot();
	CommitTransactionCommand();
}

/*
 * notifier_caught
 *		Returns the error being handled, copied into cxt, after aborting the
 *		failed transaction.  Called in PG_CATCH.
 */
static ErrorData *
notifier_caught(MemoryContext cxt)
{
	ErrorData  *edata;

	MemoryContextSwitchTo(cxt);
	edata = CopyErrorData();
	FlushErrorState();
	AbortCurrentTransaction();
	MemoryContextSwitchTo(cxt);
	return edata;
}

/*
 * notifier_rethrow
 *		Records edata as the notifier's last error and raises it again: the
 *		notifier exits (an ERROR outside PG_TRY ends a background worker) and
 *		the postmaster restarts it.  If the outbox is gone (DROP EXTENSION),
 *		exits quietly instead.  Never returns.
 */
static void pg_attribute_noreturn()
notifier_rethrow(ErrorData *edata)
{
	/* The extension was dropped under it: nothing left to deliver. */
	if (!notifier_outbox_exists())
		proc_exit(0);
	cg_notifier_count_error(notifier_dboid, edata->message, false);
	ReThrowError(edata);
}

/* Whether an error is one a row's content causes (a data exception). */
static bool
notifier_row_error(const ErrorData *edata)
{
	return ERRCODE_TO_CATEGORY(edata->sqlerrcode) == ERRCODE_DATA_EXCEPTION;
}

/*
 * notifier_set_aside
 *		Moves one row that cannot be sent to realtime_dead_letter with its
 *		error, in its own transaction, and names it in the log; returns
 *		nothing.
 */
static void
notifier_set_aside(NotifierState *st, NotifierRow *row, ErrorData *edata)
{
	Oid			argtypes[3] = {TIDOID, TEXTOID, TEXTOID};
	Datum		args[3];
	SPIPlanPtr	plan;

	notifier_begin("setting a change aside");
	plan = notifier_plan(&st->set_aside_plan,
						 "WITH d AS (DELETE FROM chatgenius.realtime_outbox"
						 " WHERE ctid OPERATOR(pg_catalog.=) $1"
						 " RETURNING xid, seq, channel, payload, created_at)"
						 " INSERT INTO chatgenius.realtime_dead_letter"
						 " (xid, seq, channel, payload, created_at, failed_at, sqlstate, error)"
						 " SELECT xid, seq, channel, payload, created_at,"
						 " pg_catalog.clock_timestamp(), $2, $3 FROM d", 3, argtypes);
	args[0] = PointerGetDatum(&row->ctid);
	args[1] = CStringGetTextDatum(unpack_sql_state(edata->sqlerrcode));
	args[2] = CStringGetTextDatum(edata->message ? edata->message : "");
	if (SPI_execute_plan(plan, args, NULL, false, 0) != SPI_OK_INSERT)
		elog(ERROR, "could not move a change to chatgenius.realtime_dead_letter");
	notifier_commit();
	cg_notifier_count_error(notifier_dboid, edata->message, true);
	ereport(WARNING,
			(errmsg("chatgenius notifier set aside a change it cannot send: %s", edata->message),
			 errdetail("The change of transaction %llu, number %lld, on channel \"%s\" (%zu bytes of payload) is in chatgenius.realtime_dead_letter; delivery goes on.",
					   (unsigned long long) U64FromFullTransactionId(row->xid),
					   (long long) row->seq, row->channel, strlen(row->payload)),
			 errhint("Send it again with chatgenius.realtime_requeue() or drop it with chatgenius.realtime_discard().")));
}

/*
 * notifier_send_alone
 *		Sends one row in its own transaction, or sets it aside if it fails
 *		with a data exception; returns nothing.  Any other error is raised.
 */
static void
notifier_send_alone(NotifierState *st, NotifierRow *row, MemoryContext cxt)
{
	ErrorData  *volatile edata = NULL;

	PG_TRY();
	{
		notifier_begin("delivering a change alone");
		if (st->recording)
		{
			notifier_ack(st);
			notifier_record(st, row, 0, 1, row->xid, row->seq);
		}
		notifier_send(st, row, 0, 1);
		notifier_commit();
	}
	PG_CATCH();
	{
		edata = notifier_caught(cxt);
	}
	PG_END_TRY();
	if (edata == NULL)
	{
		if (st->recording)
			notifier_sent(st, row, 0, 1);
		cg_notifier_count_sent(notifier_dboid, 1);
		return;
	}
	if (!notifier_row_error(edata))
		notifier_rethrow(edata);
	notifier_set_aside(st, row, edata);
}

/*
 * notifier_piece
 *		Reads and sends the next piece of the batch (taking S first if the
 *		batch is new); returns whether the batch may have more.  *handled is
 *		the rows sent or set aside.  A piece that fails is retried row by row.
 */
static bool
notifier_piece(NotifierState *st, MemoryContext cxt, int *handled)
{
	NotifierRow *volatile rows = NULL;
	volatile int nrows = 0;
	volatile int end = 0;
	ErrorData  *volatile edata = NULL;
	int			i;

	PG_TRY();
	{
		NotifierRow *got;
		int			n;
		int			e = 0;

		notifier_begin("delivering changes");
		st->recording = notifier_sent_table_exists();
		if (!st->in_batch)
			notifier_take_snapshot(st);
		got = notifier_fetch(st, cxt, &n);
		rows = got;
		nrows = n;
		/* The rows sent last are deleted with the next rows sent. */
		if (st->recording && (n > 0 || st->pending))
			notifier_ack(st);
		if (n > 0)
		{
			e = notifier_chunk_end(got, 0, n);
			end = e;
			cg_notifier_sending(notifier_dboid, got[0].created_at);
			if (st->recording)
				notifier_record(st, got, 0, e, got[e - 1].xid, got[e - 1].seq);
			notifier_send(st, got, 0, e);
		}
		else if (st->recording && st->pending)
			notifier_record(st, NULL, 0, 0, st->last_xid, st->last_seq);
		notifier_commit();
		if (st->recording)
			notifier_sent(st, got, 0, e);
	}
	PG_CATCH();
	{
		edata = notifier_caught(cxt);
	}
	PG_END_TRY();

	if (edata != NULL)
	{
		/* Failed before it had rows to send: not a row's fault. */
		if (end == 0)
			notifier_rethrow(edata);
		cg_notifier_count_error(notifier_dboid, edata->message, false);
		ereport(LOG,
				(errmsg("chatgenius notifier retries %d changes one by one: %s",
						end, edata->message)));
		for (i = 0; i < end; i++)
			notifier_send_alone(st, &rows[i], cxt);
	}
	else if (end > 0)
		cg_notifier_count_sent(notifier_dboid, end);

	*handled = end;
	if (end > 0)
	{
		st->last_xid = rows[end - 1].xid;
		st->last_seq = rows[end - 1].seq;
	}
	if (nrows == NOTIFIER_PIECE_ROWS || end < nrows)
		return true;
	/* This part came back short and was sent whole: it is done. */
	if (st->part == 1)
	{
		notifier_start_part2(st);
		return true;
	}
	return false;
}

/*
 * notifier_deliver
 *		Delivers every outbox row visible now (one batch); returns how many
 *		it sent or set aside.
 */
static int64
notifier_deliver(NotifierState *st, MemoryContext cxt)
{
	int64		total = 0;
	bool		more;

	cg_notifier_begin_batch(notifier_dboid);
	do
	{
		int			handled;

		more = notifier_piece(st, cxt, &handled);
		total += handled;
		MemoryContextReset(cxt);
		if (more)
		{
			CHECK_FOR_INTERRUPTS();
			cg_notifier_alive(notifier_dboid);
		}
	} while (more);
	notifier_end_batch(st);
	cg_notifier_end_batch(notifier_dboid, total > 0);
	pgstat_report_activity(STATE_IDLE, NULL);
	return total;
}

/* Column n of the current SPI row as an xid8[] copied into cxt. */
static ArrayType *
notifier_get_xip(int n, MemoryContext cxt)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, n, &isnull);
	MemoryContext old = MemoryContextSwitchTo(cxt);
	ArrayType  *a = isnull ? construct_empty_array(XID8OID) : DatumGetArrayTypePCopy(d);

	MemoryContextSwitchTo(old);
	return a;
}

/* Column n of the current SPI row as an xid8 (0 if NULL). */
static FullTransactionId
notifier_get_xid(int n)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, n, &isnull);

	return isnull ? InvalidFullTransactionId : DatumGetFullTransactionId(d);
}

/* Column n of the current SPI row as an int8 (0 if NULL). */
static int64
notifier_get_int8(int n)
{
	bool		isnull;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, n, &isnull);

	return isnull ? 0 : DatumGetInt64(d);
}

/*
 * notifier_load_record
 *		Takes up delivery where realtime_sent says it stands; returns false if
 *		it holds no record.  Runs in a notifier transaction.
 *
 * The rows it names as sent and not yet deleted went into the notification
 * queue of the server that wrote the record.  If that is this server in the
 * same life (cg_realtime_server_id: only the notifier restarted), the queue
 * and its listeners are still there and have them: they stay sent and are
 * deleted with the next rows.  Otherwise (a promoted standby, a restart or a
 * crash restart of this server) the queue is gone and every listener was
 * cut, maybe before it read them: they are sent again, first, with the rest
 * of their batch.  At most those rows arrive twice.
 */
static bool
notifier_load_record(NotifierState *st)
{
	uint64		server_id;
	bool		isnull;
	int			unacked;
	int64		timeline;

	if (SPI_execute("SELECT server_id, timeline, prev_xmax, prev_xip, batch_xmax, batch_xip, part,"
					" first_xid, first_seq, last_xid, last_seq, unacked"
					" FROM chatgenius.realtime_sent", true, 0) != SPI_OK_SELECT)
		elog(ERROR, "could not read chatgenius.realtime_sent");
	if (SPI_processed != 1)
		return false;
	server_id = (uint64) notifier_get_int8(1);
	timeline = notifier_get_int8(2);
	st->prev_xmax = notifier_get_xid(3);
	st->prev_xip = notifier_get_xip(4, st->cxt);
	st->xmax = notifier_get_xid(5);
	st->xip = notifier_get_xip(6, st->cxt);
	st->part = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 7, &isnull));
	st->in_batch = true;
	unacked = (int) notifier_get_int8(12);
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8, &isnull);
	if (isnull || unacked == 0)
	{
		st->last_xid = notifier_get_xid(10);
		st->last_seq = notifier_get_int8(11);
		return true;
	}
	st->pend_first_xid = notifier_get_xid(8);
	st->pend_first_seq = notifier_get_int8(9);
	st->pend_last_xid = notifier_get_xid(10);
	st->pend_last_seq = notifier_get_int8(11);
	if (server_id == cg_realtime_server_id())
	{
		notifier_set_pending(st, st->pend_first_xid, st->pend_first_seq,
							 st->pend_last_xid, st->pend_last_seq);
		st->last_xid = st->pend_last_xid;
		st->last_seq = st->pend_last_seq;
		return true;
	}
	/* Resume just before the first of them. */
	if (st->pend_first_seq > PG_INT64_MIN)
	{
		st->last_xid = st->pend_first_xid;
		st->last_seq = st->pend_first_seq - 1;
	}
	else
	{
		st->last_xid = FullTransactionIdFromU64(U64FromFullTransactionId(st->pend_first_xid) - 1);
		st->last_seq = PG_INT64_MAX;
	}
	ereport(LOG,
			(errmsg("chatgenius notifier sends again the %d changes sent last on timeline " INT64_FORMAT,
					unacked, timeline),
			 errdetail("They were sent by another server, or before this server restarted: its listeners may not have read them.")));
	return true;
}

/*
 * notifier_resume
 *		Starts from where the previous notifier of this database left
 *		delivery: its record in realtime_sent (1.9), else its position in
 *		shared memory, else the outbox's first row.  Returns nothing.
 */
static void
notifier_resume(NotifierState *st)
{
	bool		found = false;

	notifier_begin("resuming delivery");
	st->recording = notifier_sent_table_exists();
	if (st->recording)
		found = notifier_load_record(st);
	notifier_commit();
	pgstat_report_activity(STATE_IDLE, NULL);
	if (!found)
		notifier_resume_shmem(st);
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
	Oid			owner;
	MemoryContext cxt;
	TimestampTz last_work;
	NotifierState st;

	notifier_dboid = DatumGetObjectId(main_arg);
	memcpy(&owner, MyBgworkerEntry->bgw_extra, sizeof(Oid));
	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	if (!cg_notifier_may_start(notifier_dboid))
	{
		ereport(WARNING,
				(errmsg("chatgenius notifier for database %u stops restarting", notifier_dboid),
				 errdetail("It failed to start several times in a row (a dropped database, or the extension's owner cannot log in?).")));
		proc_exit(0);
	}
	/*
	 * As the extension's owner, never the bootstrap superuser by default.  A
	 * notifier asked for by no writer (none knew the owner) connects first
	 * and becomes the owner before its first query.
	 */
	BackgroundWorkerInitializeConnectionByOid(notifier_dboid, owner, 0);
	notifier_settings();

	if (!cg_notifier_claim(notifier_dboid))
		proc_exit(0);
	before_shmem_exit(cg_notifier_release, ObjectIdGetDatum(notifier_dboid));
	if (!notifier_outbox_exists())
		proc_exit(0);
	if (!OidIsValid(owner))
		notifier_become_owner();

	memset(&st, 0, sizeof(st));
	st.cxt = AllocSetContextCreate(TopMemoryContext, "chatgenius notifier state",
								   ALLOCSET_SMALL_SIZES);
	cxt = AllocSetContextCreate(TopMemoryContext, "chatgenius notifier piece",
								ALLOCSET_DEFAULT_SIZES);
	notifier_resume(&st);
	last_work = GetCurrentTimestamp();
	for (;;)
	{
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		cg_notifier_alive(notifier_dboid);
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		if (notifier_deliver(&st, cxt) > 0)
		{
			last_work = GetCurrentTimestamp();
			/* The gap between batches: one NOTIFY lock per interval. */
			if (cg_realtime_batch_delay > 0)
				(void) WaitLatch(NULL, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
								 cg_realtime_batch_delay, PG_WAIT_EXTENSION);
			continue;
		}
		if (TimestampDifferenceExceeds(last_work, GetCurrentTimestamp(), NOTIFIER_RETIRE_MS) &&
			cg_notifier_try_retire(notifier_dboid))
			proc_exit(0);
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 NOTIFIER_IDLE_WAIT_MS, PG_WAIT_EXTENSION);
	}
}
