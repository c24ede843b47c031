/*-------------------------------------------------------------------------
 *
 * deleted_row.c
 *	  Whether this transaction deleted a row: how the rule triggers tell a
 *	  foreign key's cascade (ON DELETE CASCADE, ON DELETE SET NULL) from a
 *	  writer's own change, by what happened rather than by who asked.
 *
 *	  pg_trigger_depth() > 1 is no such sign: an app role reaches depth 2
 *	  with an AFTER trigger on its own temporary table.  Nor is "the parent
 *	  row is not found": the writer can give it another id in the statement
 *	  that makes the change (a writable CTE), so that it looks gone while
 *	  it is not.  A row this transaction deleted has a version, found by
 *	  its primary key, whose deleter is this transaction (or one of its
 *	  live subtransactions) and which no newer version follows (an UPDATE,
 *	  a new id included, links the old version to the new one).  Only heap
 *	  tuple headers say that: the index is scanned with SnapshotAny.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/tuptable.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "chatgenius.h"

/*
 * deleted_by_us
 *		Returns whether tuple (its buffer share-locked) is a version that this
 *		transaction deleted: its xmax is an update or delete (not a lock) of
 *		this transaction, and its ctid points to itself (no newer version).
 */
static bool
deleted_by_us(HeapTuple tuple)
{
	HeapTupleHeader tup = tuple->t_data;

	if (tup->t_infomask & HEAP_XMAX_INVALID ||
		HEAP_XMAX_IS_LOCKED_ONLY(tup->t_infomask) ||
		HeapTupleHeaderIndicatesMovedPartitions(tup) ||
		!ItemPointerEquals(&tuple->t_self, &tup->t_ctid))
		return false;
	return TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetUpdateXid(tup));
}

/*
 * cg_row_deleted_here
 *		Returns whether this transaction deleted the row of table
 *		chatgenius.relname whose primary key (one text or varchar column) is
 *		key.  False for a row that is there, was never there, was deleted
 *		by another transaction, or was given another key.  Reads every
 *		version of that key through the primary key index.
 */
bool
cg_row_deleted_here(const char *relname, const char *key)
{
	Oid			relid = get_relname_relid(relname, get_namespace_oid(CG_EXTENSION_NAME, false));
	Relation	rel;
	Relation	index;
	Oid			indexid;
	Oid			keytype;
	Oid			eqop;
	ScanKeyData skey;
	IndexScanDesc scan;
	TupleTableSlot *slot;
	bool		found = false;

	if (!OidIsValid(relid))
		elog(ERROR, "relation \"%s.%s\" does not exist", CG_EXTENSION_NAME, relname);
	rel = table_open(relid, AccessShareLock);
	indexid = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(indexid))
		elog(ERROR, "relation \"%s.%s\" has no primary key", CG_EXTENSION_NAME, relname);
	index = index_open(indexid, AccessShareLock);
	if (IndexRelationGetNumberOfKeyAttributes(index) != 1)
		elog(ERROR, "the primary key of \"%s.%s\" is not one column", CG_EXTENSION_NAME, relname);
	keytype = index->rd_opcintype[0];
	eqop = get_opfamily_member(index->rd_opfamily[0], keytype, keytype, BTEqualStrategyNumber);
	if (!OidIsValid(eqop) || keytype != TEXTOID)
		elog(ERROR, "the primary key of \"%s.%s\" is not a text column", CG_EXTENSION_NAME, relname);
	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, keytype,
						   index->rd_indcollation[0], get_opcode(eqop),
						   CStringGetTextDatum(key));

	slot = table_slot_create(rel, NULL);
	if (!TTS_IS_BUFFERTUPLE(slot))
		elog(ERROR, "relation \"%s.%s\" is not a heap table", CG_EXTENSION_NAME, relname);
	scan = index_beginscan(rel, index, SnapshotAny, 1, 0);
	index_rescan(scan, &skey, 1, NULL, 0);
	while (!found && index_getnext_slot(scan, ForwardScanDirection, slot))
	{
		BufferHeapTupleTableSlot *bslot = (BufferHeapTupleTableSlot *) slot;

		LockBuffer(bslot->buffer, BUFFER_LOCK_SHARE);
		found = deleted_by_us(bslot->base.tuple);
		LockBuffer(bslot->buffer, BUFFER_LOCK_UNLOCK);
	}
	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, AccessShareLock);
	table_close(rel, AccessShareLock);
	return found;
}
