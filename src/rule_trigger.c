/*-------------------------------------------------------------------------
 *
 * rule_trigger.c
 *	  The rule triggers of the chat tables: threads one level deep and in
 *	  one channel, archived channels read-only, updated_at.
 *
 *	  Row triggers (BEFORE ... FOR EACH ROW), one per table: messages_rules
 *	  (a message stays in its channel and replies to another message; in an
 *	  archived channel no post, no edit but a soft delete, no hard delete;
 *	  updated_at), reactions_rules (in an archived channel none added,
 *	  changed or taken back), channels_rules (an archived channel's row
 *	  changes only by unarchiving or soft delete, and is not deleted;
 *	  updated_at), and set_updated_at for the tables that only keep
 *	  updated_at.  What a rule learns from the row alone and the row of
 *	  another table (the channel) is checked there, as the row is written.
 *
 *	  What needs the other rows of the statement is checked once they are
 *	  all there (1.11): messages_thread_rules, an AFTER ... FOR EACH ROW
 *	  trigger, which PostgreSQL fires at the end of the statement, finds a
 *	  reply's parent
 *	  (an error if there is none), its channel and its own thread, and
 *	  whether a message that becomes a reply has replies.  Until 1.10 the
 *	  row trigger did this as each row was written, and skipped a parent
 *	  not written yet: a multi-row INSERT, COPY or writable CTE that wrote a
 *	  reply before its parent stored a reply to a reply, or a reply in
 *	  another channel than its parent.
 *
 *	  Each call does all of its table's work (until 1.9, PL/pgSQL functions,
 *	  up to three BEFORE triggers on one table, each with a PL/pgSQL frame
 *	  and SECURITY DEFINER's GUC save and restore); the queries are prepared
 *	  once per backend (SPI_keepplan), and updated_at is written into the
 *	  new tuple directly.  The row locks are those of the PL/pgSQL
 *	  functions: the parent of a reply and the channel of a write are read
 *	  FOR SHARE, which conflicts with the UPDATE that could break the rule
 *	  (see test/isolation/specs/thread_depth.spec and archive_race.spec).
 *
 *	  No rule has an exception that the writer can reach.  A foreign key's
 *	  cascade is recognised by what it did: a reaction whose message is gone
 *	  goes with it; one whose user this transaction deleted goes with the
 *	  user (rule_row_deleted_here(): deleted, not given a new id); an
 *	  archived channel loses archived_by only when that user was deleted.  Rows loaded by a restore pass: the rules stand aside while
 *	  chatgenius.restoring() is true (cg_restoring(), restore.c), which only
 *	  a superuser's session can make it; updated_at is kept on every UPDATE.
 *
 *	  Trust: the queries name every relation and operator with its schema
 *	  (chatgenius is the extension's fixed schema, pg_catalog's operators
 *	  as OPERATOR(pg_catalog.=)), so that no search_path, the writing role's
 *	  or the database's, and no operator in another schema can change what
 *	  they run.  They run as the trigger function's owner, as the SECURITY
 *	  DEFINER PL/pgSQL functions did, so that an app role needs no UPDATE
 *	  right on channels for the FOR SHARE lock of its post.
 *
 *	  Entry points: each SQL definition that ever named one still resolves
 *	  (chatgenius_messages_rules, the row trigger of 1.10, also reads the
 *	  parent as the row is written, since 1.10's definitions have no
 *	  statement-end trigger).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/stratnum.h"
#include "access/sysattr.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "storage/bufmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "chatgenius.h"

/* The extension's fixed schema, as the rules' queries name it. */
#define RULE_SCHEMA		"chatgenius"

/* The columns the rules read, by name (rule_columns). */
typedef enum RuleColumn
{
	COL_ID,
	COL_CHANNEL_ID,
	COL_THREAD_ID,
	COL_USER_ID,
	COL_UPDATED_AT,
	COL_DELETED_AT,
	COL_MESSAGE_ID,
	COL_NAME,
	COL_ARCHIVED_AT,
	COL_ARCHIVED_BY,
	RULE_NCOLUMNS
} RuleColumn;

static const char *const rule_column_names[RULE_NCOLUMNS] = {
	"id", "channel_id", "thread_id", "user_id", "updated_at", "deleted_at",
	"message_id", "name", "archived_at", "archived_by"
};

#define RULE_COL(c)		(1 << (c))

/*
 * What a rule function needs to know of its relation: the numbers of the
 * columns it reads (0 if not needed), and the function's owner, whose
 * rights the queries run with.
 */
typedef struct RuleCache
{
	Oid			fn_oid;
	Oid			relid;
	uint32		need;			/* the RULE_COL bits looked up */
	bool		valid;
	Oid			owner;
	AttrNumber	att[RULE_NCOLUMNS];
} RuleCache;

/*
 * The RuleCaches of this backend, one per function and relation (a
 * statement's FmgrInfo, and so fn_extra, is new each time: looking the
 * columns and the owner up once per statement cost more than the rule's
 * own work on a one-row post).  Any relcache invalidation of the relation
 * (ALTER TABLE) or of all relations, and any change to pg_proc (ALTER
 * FUNCTION ... OWNER), drops the entries concerned; a full array is used
 * round robin.  The chat tables have eleven (function, table) pairs.
 */
#define RULE_NCACHES	16
static RuleCache rule_caches[RULE_NCACHES];
static int	rule_next_cache;
static bool rule_callbacks_registered;

/*
 * The queries, prepared once per backend.  Each names its relations and
 * operators with their schemas.
 */
typedef enum RuleQuery
{
	Q_PARENT,					/* a reply's parent, locked */
	Q_REPLIES,					/* whether a message has replies */
	Q_CHANNEL,					/* a channel's archiving, locked */
	Q_CHANNEL_NAME,				/* a channel's name, for a refusal */
	Q_MESSAGE_CHANNEL,			/* a message's channel */
	RULE_NQUERIES
} RuleQuery;

static const char *const rule_query_text[RULE_NQUERIES] = {
	"SELECT m.channel_id, m.thread_id FROM chatgenius.messages m"
	" WHERE m.id OPERATOR(pg_catalog.=) $1 FOR SHARE OF m",
	"SELECT 1 FROM chatgenius.messages r"
	" WHERE r.thread_id OPERATOR(pg_catalog.=) $1 LIMIT 1",
	"SELECT c.archived_at FROM chatgenius.channels c"
	" WHERE c.id OPERATOR(pg_catalog.=) $1 FOR SHARE OF c",
	"SELECT c.name FROM chatgenius.channels c"
	" WHERE c.id OPERATOR(pg_catalog.=) $1",
	"SELECT m.channel_id FROM chatgenius.messages m"
	" WHERE m.id OPERATOR(pg_catalog.=) $1",
};

static SPIPlanPtr rule_plans[RULE_NQUERIES];

PG_FUNCTION_INFO_V1(chatgenius_messages_rules);
PG_FUNCTION_INFO_V1(chatgenius_messages_row_rules);
PG_FUNCTION_INFO_V1(chatgenius_messages_thread_rules);
PG_FUNCTION_INFO_V1(chatgenius_reactions_rules);
PG_FUNCTION_INFO_V1(chatgenius_channels_rules);
PG_FUNCTION_INFO_V1(chatgenius_set_updated_at);

#define RULE_ON(op)		(1 << (op))

/*
 * rule_check_call
 *		Returns the TriggerData of a call, after checking that it is a row
 *		trigger fired BEFORE (before true) or AFTER one of the events in
 *		events (RULE_ON(TRIGGER_EVENT_*) bits); errors otherwise.
 */
static TriggerData *
rule_check_call(FunctionCallInfo fcinfo, const char *fname, bool before,
				uint32 events, const char *allowed)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	uint32		op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager", fname)));
	op = trigdata->tg_event & TRIGGER_EVENT_OPMASK;
	if (TRIGGER_FIRED_BEFORE(trigdata->tg_event) != before ||
		TRIGGER_FIRED_INSTEAD(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		(op != TRIGGER_EVENT_INSERT && op != TRIGGER_EVENT_UPDATE &&
		 op != TRIGGER_EVENT_DELETE) ||
		(RULE_ON(op) & events) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired %s %s ... FOR EACH ROW",
						fname, before ? "BEFORE" : "AFTER", allowed)));
	return trigdata;
}

/*
 * rule_forget_relation / rule_forget_functions
 *		Invalidation callbacks: drop the RuleCaches of relid (every one for
 *		InvalidOid), or all of them when a pg_proc row changes.
 */
static void
rule_forget_relation(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < RULE_NCACHES; i++)
		if (relid == InvalidOid || rule_caches[i].relid == relid)
			rule_caches[i].valid = false;
}

static void
rule_forget_functions(Datum arg, int cacheid, uint32 hashvalue)
{
	rule_forget_relation(arg, InvalidOid);
}

/*
 * rule_columns
 *		Returns the backend's RuleCache of the calling function and its
 *		trigger's relation: the numbers of the columns in need (a mask of
 *		RULE_COL bits) and the function's owner, looked up on the first call
 *		and again after an invalidation.  The entry stays as it is until the
 *		next call (an invalidation only marks it), which a rule function
 *		makes once, first.  A missing column is an error that names it.
 */
static RuleCache *
rule_columns(FunctionCallInfo fcinfo, Relation rel, uint32 need)
{
	Oid			fn_oid = fcinfo->flinfo->fn_oid;
	Oid			relid = RelationGetRelid(rel);
	TupleDesc	tupdesc = RelationGetDescr(rel);
	RuleCache  *cache;
	HeapTuple	proc;
	int			i;

	for (i = 0; i < RULE_NCACHES; i++)
	{
		cache = &rule_caches[i];
		if (cache->valid && cache->fn_oid == fn_oid && cache->relid == relid &&
			cache->need == need)
			return cache;
	}
	if (!rule_callbacks_registered)
	{
		CacheRegisterRelcacheCallback(rule_forget_relation, (Datum) 0);
		CacheRegisterSyscacheCallback(PROCOID, rule_forget_functions, (Datum) 0);
		rule_callbacks_registered = true;
	}
	cache = &rule_caches[rule_next_cache];
	rule_next_cache = (rule_next_cache + 1) % RULE_NCACHES;
	cache->valid = false;
	for (i = 0; i < RULE_NCOLUMNS; i++)
	{
		cache->att[i] = 0;
		if ((need & RULE_COL(i)) == 0)
			continue;
		cache->att[i] = SPI_fnumber(tupdesc, rule_column_names[i]);
		if (cache->att[i] <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							rule_column_names[i], RelationGetRelationName(rel)),
					 errhint("The rule trigger expects the chatgenius schema's columns.")));
	}
	proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn_oid));
	if (!HeapTupleIsValid(proc))
		elog(ERROR, "cache lookup failed for function %u", fn_oid);
	cache->owner = ((Form_pg_proc) GETSTRUCT(proc))->proowner;
	ReleaseSysCache(proc);
	cache->fn_oid = fn_oid;
	cache->relid = relid;
	cache->need = need;
	cache->valid = true;
	return cache;
}

/*
 * rule_text
 *		Returns column att of tuple as a palloc'd C string, or NULL when it is
 *		null.  The chat tables' ids and names are varchar or text.
 */
static char *
rule_text(HeapTuple tuple, TupleDesc tupdesc, AttrNumber att)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, att, tupdesc, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* Whether two text (or varchar) values hold the same bytes. */
static bool
rule_text_eq(Datum a, Datum b)
{
	text	   *ta = DatumGetTextPP(a);
	text	   *tb = DatumGetTextPP(b);

	return VARSIZE_ANY_EXHDR(ta) == VARSIZE_ANY_EXHDR(tb) &&
		memcmp(VARDATA_ANY(ta), VARDATA_ANY(tb), VARSIZE_ANY_EXHDR(ta)) == 0;
}

/*
 * rule_same
 *		Returns whether column att is the same in both tuples (IS NOT
 *		DISTINCT FROM: both null, or the same value).  Equal images are
 *		equal values for every type of the chat tables (text and varchar in
 *		the database's deterministic collation, timestamps, integers).
 */
static bool
rule_same(HeapTuple a, HeapTuple b, TupleDesc tupdesc, AttrNumber att)
{
	Form_pg_attribute attr = TupleDescAttr(tupdesc, att - 1);
	bool		anull,
				bnull;
	Datum		ad = heap_getattr(a, att, tupdesc, &anull);
	Datum		bd = heap_getattr(b, att, tupdesc, &bnull);

	if (anull || bnull)
		return anull && bnull;
	return datum_image_eq(ad, bd, attr->attbyval, attr->attlen);
}

/*
 * rule_same_but
 *		Returns whether every column of the two tuples is the same (as
 *		rule_same) except the nskip columns in skip: whether an UPDATE
 *		changed nothing else.
 */
static bool
rule_same_but(HeapTuple a, HeapTuple b, TupleDesc tupdesc, const AttrNumber *skip,
			  int nskip)
{
	AttrNumber	i;
	int			k;

	for (i = 1; i <= tupdesc->natts; i++)
	{
		bool		skipped = TupleDescAttr(tupdesc, i - 1)->attisdropped;

		for (k = 0; k < nskip && !skipped; k++)
			skipped = (skip[k] == i);
		if (!skipped && !rule_same(a, b, tupdesc, i))
			return false;
	}
	return true;
}

/* Whether the UPDATE's SET list names column att (UPDATE OF att). */
static bool
rule_updated(TriggerData *trigdata, AttrNumber att)
{
	return bms_is_member(att - FirstLowInvalidHeapAttributeNumber,
						 trigdata->tg_updatedcols);
}

/* What RAISE prints for a null argument; format()'s %s prints ''. */
#define RAISE_ARG(s)	((s) ? (s) : "<NULL>")
#define FORMAT_ARG(s)	((s) ? (s) : "")

/*
 * rule_begin / rule_end
 *		Connect to SPI as the function's owner, and back; rule_begin returns
 *		the caller's user and security context for rule_end.  An error in
 *		between needs no clean-up: the (sub)transaction's abort restores both
 *		(the foreign key triggers switch users the same way).
 */
typedef struct RuleSaved
{
	Oid			user;
	int			sec_context;
} RuleSaved;

static RuleSaved
rule_begin(const RuleCache *cache)
{
	RuleSaved	saved;

	GetUserIdAndSecContext(&saved.user, &saved.sec_context);
	SetUserIdAndSecContext(cache->owner,
						   saved.sec_context | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	return saved;
}

static void
rule_end(RuleSaved saved)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	SetUserIdAndSecContext(saved.user, saved.sec_context);
}

/*
 * rule_query
 *		Runs query q with the one text (or varchar) argument arg, a column's
 *		value as the row holds it; returns the number of rows (at most 1),
 *		the row in SPI_tuptable.  Prepares the query on its first use in
 *		this backend, for a generic plan: each is a lookup by key, which
 *		the parameter's value does not change (the plan cache would plan
 *		its first calls again each time, to compare).
 */
static uint64
rule_query(RuleQuery q, Datum arg)
{
	int			rc;

	if (rule_plans[q] == NULL)
	{
		Oid			argtype = TEXTOID;
		SPIPlanPtr	plan = SPI_prepare_cursor(rule_query_text[q], 1, &argtype,
											  CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", rule_query_text[q],
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		rule_plans[q] = plan;
	}
	rc = SPI_execute_plan(rule_plans[q], &arg, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "SPI_execute_plan failed for \"%s\": %s", rule_query_text[q],
			 SPI_result_code_string(rc));
	return SPI_processed;
}

/* The value of column col (1-based) of the row rule_query found, as text. */
static char *
rule_result_text(int col)
{
	return SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);
}

/* The value of column col (1-based) of the row rule_query found. */
static Datum
rule_result(int col, bool *isnull)
{
	return SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col, isnull);
}

/*
 * rule_refuse_archived
 *		Raises the refusal of a write into an archived channel, the same
 *		words for every table (refuse_archived() until 1.9); what says which
 *		write.
 */
static void
pg_attribute_noreturn()
rule_refuse_archived(const char *channel_id, const char *channel_name, const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("channel \"%s\" is archived", RAISE_ARG(channel_name)),
			 errdetail("An archived channel is read-only: %s.", what),
			 errhint("Unarchive it first: UPDATE chatgenius.channels SET archived_at = NULL, archived_by = NULL WHERE id = %s;",
					 channel_id ? quote_literal_cstr(channel_id) : "NULL")));
}

/*
 * rule_channel_archived
 *		Reads the channel whose id is channel FOR SHARE; returns whether it
 *		is archived, and its name.  A channel that is not found is not
 *		archived: it is the foreign key's to judge, or (a cascade) gone in
 *		this transaction.
 */
static bool
rule_channel_archived(Datum channel, char **name)
{
	bool		isnull;

	if (rule_query(Q_CHANNEL, channel) == 0)
		return false;
	(void) rule_result(1, &isnull);
	if (isnull)
		return false;
	*name = rule_query(Q_CHANNEL_NAME, channel) > 0 ? rule_result_text(1) : NULL;
	return true;
}

/*
 * rule_set_updated_at
 *		Returns tuple with updated_at set to now() (the transaction's start),
 *		a new tuple in the current memory context.
 */
static HeapTuple
rule_set_updated_at(HeapTuple tuple, TupleDesc tupdesc, AttrNumber att)
{
	int			col = att;
	Datum		value = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	bool		isnull = false;

	return heap_modify_tuple_by_cols(tuple, tupdesc, 1, &col, &value, &isnull);
}

/* ---------------------------------------------------------------- cascades */

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
 * rule_row_deleted_here
 *		Returns whether this transaction deleted the row of table
 *		chatgenius.relname whose primary key (one text or varchar column) is
 *		key: how a rule tells a foreign key's cascade (ON DELETE CASCADE, ON
 *		DELETE SET NULL) from the writer's own change, by what happened
 *		rather than by who asked.  pg_trigger_depth() > 1 is no such sign
 *		(an AFTER trigger on the writer's temporary table reaches it), nor
 *		is "the parent is not found" (a writable CTE can give it another id
 *		in the same statement).  A row this transaction deleted has a
 *		version whose deleter is this transaction (or one of its live
 *		subtransactions) and which no newer version follows; only heap tuple
 *		headers say that, so every version of the key is read through the
 *		primary key index with SnapshotAny.  False for a row that is there,
 *		was never there, was deleted by another transaction, or was given
 *		another key.
 */
static bool
rule_row_deleted_here(const char *relname, const char *key)
{
	Oid			relid = get_relname_relid(relname, get_namespace_oid(RULE_SCHEMA, false));
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
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", RULE_SCHEMA, relname),
				 errhint(CG_DAMAGED_HINT)));
	rel = table_open(relid, AccessShareLock);
	indexid = RelationGetPrimaryKeyIndex(rel);
	if (!OidIsValid(indexid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("relation \"%s.%s\" has no primary key", RULE_SCHEMA, relname),
				 errhint(CG_DAMAGED_HINT)));
	index = index_open(indexid, AccessShareLock);
	if (IndexRelationGetNumberOfKeyAttributes(index) != 1)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("primary key of relation \"%s.%s\" is not one column", RULE_SCHEMA, relname),
				 errhint(CG_DAMAGED_HINT)));
	keytype = index->rd_opcintype[0];
	eqop = get_opfamily_member(index->rd_opfamily[0], keytype, keytype, BTEqualStrategyNumber);
	if (!OidIsValid(eqop) || keytype != TEXTOID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("primary key of relation \"%s.%s\" is not a text column", RULE_SCHEMA, relname),
				 errhint(CG_DAMAGED_HINT)));
	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, keytype,
						   index->rd_indcollation[0], get_opcode(eqop),
						   CStringGetTextDatum(key));

	slot = table_slot_create(rel, NULL);
	if (!TTS_IS_BUFFERTUPLE(slot))
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("relation \"%s.%s\" is not a heap table", RULE_SCHEMA, relname),
				 errhint(CG_DAMAGED_HINT)));
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

/* ---------------------------------------------------------------- messages */

/*
 * rule_messages_row
 *		The thread rules that the row alone decides: a message stays in its
 *		channel (a reply moved along would leave its thread; a thread's
 *		first message, its replies), and does not reply to itself.
 */
static void
rule_messages_row(const RuleCache *cache, TupleDesc tupdesc, HeapTuple newtup,
				  HeapTuple oldtup)
{
	const AttrNumber *att = cache->att;
	bool		thread_null;
	bool		id_null;
	Datum		thread;
	Datum		id;

	if (oldtup && !rule_same(newtup, oldtup, tupdesc, att[COL_CHANNEL_ID]))
	{
		char	   *old_id = rule_text(oldtup, tupdesc, att[COL_ID]);
		char	   *old_channel = rule_text(oldtup, tupdesc, att[COL_CHANNEL_ID]);

		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("message %s cannot move to another channel", RAISE_ARG(old_id)),
				 errdetail("It belongs to channel %s.", FORMAT_ARG(old_channel)),
				 errhint("Post a new message in the other channel instead.")));
	}
	thread = heap_getattr(newtup, att[COL_THREAD_ID], tupdesc, &thread_null);
	if (thread_null)
		return;
	id = heap_getattr(newtup, att[COL_ID], tupdesc, &id_null);
	if (!id_null && rule_text_eq(thread, id))
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("message %s cannot be a reply to itself", TextDatumGetCString(id))));
}

/*
 * rule_messages_parent
 *		Threads are one level deep, as in Slack: a reply (thread_id set)
 *		points at a top-level message of the same channel, and a message
 *		with replies does not become a reply.  Refuses a reply in another
 *		channel, a reply to a reply, and a message with replies becoming a
 *		reply.  A parent that is not found is an error when parent_missing
 *		is (the statement's end: every row is there) and is skipped when it
 *		is not (1.10's row trigger, as a row is written: the foreign key
 *		judges it at the statement's end).
 *
 *		The parent is read FOR SHARE: that conflicts with another session's
 *		UPDATE of it (FOR NO KEY UPDATE), so a reply and a change of its
 *		parent's thread_id cannot both commit unseen by each other's check.
 *		An UPDATE of a message already holds its row lock when this runs, so
 *		the "has replies" check sees every reply whose check locked it first.
 */
static void
rule_messages_parent(const RuleCache *cache, TupleDesc tupdesc, HeapTuple newtup,
					 HeapTuple oldtup, bool parent_missing)
{
	const AttrNumber *att = cache->att;
	bool		thread_null;
	bool		channel_null;
	bool		id_null;
	Datum		thread = heap_getattr(newtup, att[COL_THREAD_ID], tupdesc, &thread_null);
	Datum		channel = heap_getattr(newtup, att[COL_CHANNEL_ID], tupdesc, &channel_null);
	Datum		id = heap_getattr(newtup, att[COL_ID], tupdesc, &id_null);

	if (thread_null)
		return;
	if (rule_query(Q_PARENT, thread) > 0)
	{
		bool		parent_channel_null;
		bool		parent_thread_null;
		Datum		parent_channel = rule_result(1, &parent_channel_null);

		(void) rule_result(2, &parent_thread_null);
		if (parent_channel_null != channel_null ||
			(!channel_null && !rule_text_eq(parent_channel, channel)))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("reply must be in the channel of its thread"),
					 errdetail("Message %s is in channel %s, the reply in channel %s.",
							   TextDatumGetCString(thread), FORMAT_ARG(rule_result_text(1)),
							   FORMAT_ARG(rule_text(newtup, tupdesc, att[COL_CHANNEL_ID])))));
		if (!parent_thread_null)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("message %s is itself a reply", TextDatumGetCString(thread)),
					 errdetail("Threads are one level deep."),
					 errhint("Reply to the first message of its thread, %s.", rule_result_text(2))));
	}
	else if (parent_missing)
		ereport(ERROR,
				(errcode(ERRCODE_FOREIGN_KEY_VIOLATION),
				 errmsg("message %s replies to message %s, which does not exist",
						RAISE_ARG(rule_text(newtup, tupdesc, att[COL_ID])),
						TextDatumGetCString(thread))));

	if (oldtup && !id_null &&
		heap_attisnull(oldtup, att[COL_THREAD_ID], tupdesc) &&
		rule_query(Q_REPLIES, id) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("message %s has replies and cannot become a reply", TextDatumGetCString(id)),
				 errdetail("Threads are one level deep.")));
}

/*
 * rule_messages_archived
 *		An archived channel takes no new message, no edit (any change but
 *		deleted_at: a soft delete still hides a message) and no hard
 *		delete: row is the new row (INSERT, UPDATE) or the deleted one, what
 *		says which.  There is no exception: a message deleted with its
 *		channel or its thread is not in an archived one (neither is deleted
 *		while archived), and rows from a dump pass while restoring.  The
 *		channel is read FOR SHARE, which conflicts with the archiving UPDATE
 *		(FOR NO KEY UPDATE): a write waits for an archiving in progress and
 *		then sees it, and an archiving waits for the writes in progress.
 */
static void
rule_messages_archived(const RuleCache *cache, TupleDesc tupdesc, HeapTuple row,
					   const char *what)
{
	bool		isnull;
	Datum		channel = heap_getattr(row, cache->att[COL_CHANNEL_ID], tupdesc, &isnull);
	char	   *name;

	if (!isnull && rule_channel_archived(channel, &name))
		rule_refuse_archived(TextDatumGetCString(channel), name, what);
}

/*
 * rule_messages_edited
 *		Returns whether an UPDATE of a message changes more than deleted_at
 *		(and updated_at, which the trigger sets): an edit, for the archive.
 */
static bool
rule_messages_edited(const RuleCache *cache, TupleDesc tupdesc, HeapTuple newtup,
					 HeapTuple oldtup)
{
	const AttrNumber skip[] = {cache->att[COL_DELETED_AT], cache->att[COL_UPDATED_AT]};

	return !rule_same_but(newtup, oldtup, tupdesc, skip, lengthof(skip));
}

/*
 * messages_before
 *		The BEFORE INSERT OR UPDATE OR DELETE ... FOR EACH ROW work on
 *		messages: the thread rules of the row (on an INSERT and an UPDATE
 *		OF id, channel_id or thread_id), the reply's parent too when
 *		parent_now (1.10's trigger, which has no statement-end check), the
 *		archive rule (on every INSERT, DELETE and edit), all unless
 *		restoring; then updated_at on an UPDATE.  Returns the row to write.
 */
static Datum
messages_before(FunctionCallInfo fcinfo, bool parent_now)
{
	TriggerData *trigdata = rule_check_call(fcinfo, "messages_rules", true,
											RULE_ON(TRIGGER_EVENT_INSERT) | RULE_ON(TRIGGER_EVENT_UPDATE) |
											RULE_ON(TRIGGER_EVENT_DELETE),
											"INSERT OR UPDATE OR DELETE");
	Relation	rel = trigdata->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		is_update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	bool		is_delete = TRIGGER_FIRED_BY_DELETE(trigdata->tg_event);
	HeapTuple	newtup = is_update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	HeapTuple	oldtup = is_update ? trigdata->tg_trigtuple : NULL;
	RuleCache  *cache = rule_columns(fcinfo, rel,
									 RULE_COL(COL_ID) | RULE_COL(COL_CHANNEL_ID) |
									 RULE_COL(COL_THREAD_ID) | RULE_COL(COL_UPDATED_AT) |
									 RULE_COL(COL_DELETED_AT));
	const AttrNumber *att = cache->att;

	if (is_delete)
	{
		if (!cg_restoring())
		{
			RuleSaved	saved = rule_begin(cache);

			rule_messages_archived(cache, tupdesc, trigdata->tg_trigtuple, "no message deleted");
			rule_end(saved);
		}
		return PointerGetDatum(trigdata->tg_trigtuple);
	}
	if (!cg_restoring())
	{
		bool		thread_rule = !is_update ||
			rule_updated(trigdata, att[COL_ID]) ||
			rule_updated(trigdata, att[COL_CHANNEL_ID]) ||
			rule_updated(trigdata, att[COL_THREAD_ID]);
		bool		parent_rule = parent_now && thread_rule &&
			!heap_attisnull(newtup, att[COL_THREAD_ID], tupdesc);
		bool		archive_rule = !is_update ||
			rule_messages_edited(cache, tupdesc, newtup, oldtup);

		if (thread_rule)
			rule_messages_row(cache, tupdesc, newtup, oldtup);
		if (parent_rule || archive_rule)
		{
			RuleSaved	saved = rule_begin(cache);

			if (parent_rule)
				rule_messages_parent(cache, tupdesc, newtup, oldtup, false);
			if (archive_rule)
				rule_messages_archived(cache, tupdesc, newtup,
									   is_update ? "no edit" : "no new message");
			rule_end(saved);
		}
	}
	if (is_update)
		newtup = rule_set_updated_at(newtup, tupdesc, att[COL_UPDATED_AT]);
	return PointerGetDatum(newtup);
}

/*
 * chatgenius_messages_row_rules
 *		Trigger function messages_rules() since 1.11 (BEFORE INSERT OR
 *		UPDATE OR DELETE ON messages FOR EACH ROW): what a row decides alone
 *		or with its channel; the reply's parent is messages_thread_rules',
 *		at the statement's end.  Returns the row to write.
 */
Datum
chatgenius_messages_row_rules(PG_FUNCTION_ARGS)
{
	return messages_before(fcinfo, false);
}

/*
 * chatgenius_messages_rules
 *		Trigger function messages_rules() of 1.10 (BEFORE INSERT OR UPDATE
 *		ON messages FOR EACH ROW), for a database not yet updated to 1.11:
 *		the row's rules and the reply's parent, read as the row is written.
 *		Returns the row to write.
 */
Datum
chatgenius_messages_rules(PG_FUNCTION_ARGS)
{
	return messages_before(fcinfo, true);
}

/*
 * chatgenius_messages_thread_rules
 *		Trigger function messages_thread_rules() (AFTER INSERT OR UPDATE OF
 *		thread_id ON messages FOR EACH ROW), fired once the statement's rows
 *		are all there: a reply's parent exists, is in the reply's channel
 *		and is no reply itself; a message that becomes a reply has none.  A
 *		reply to a reply written before its parent, by a multi-row INSERT,
 *		COPY, a writable CTE or ON CONFLICT DO UPDATE, is refused as one row
 *		is.  A top-level message, an UPDATE that leaves thread_id as it was
 *		and a restore's rows need nothing (a WHEN clause would say as much,
 *		but PostgreSQL reads and compiles it again for every statement, which
 *		cost a one-row post more than the event does).  Returns NULL (an
 *		AFTER trigger's result is ignored).
 */
Datum
chatgenius_messages_thread_rules(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = rule_check_call(fcinfo, "messages_thread_rules", false,
											RULE_ON(TRIGGER_EVENT_INSERT) | RULE_ON(TRIGGER_EVENT_UPDATE),
											"INSERT OR UPDATE");
	Relation	rel = trigdata->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		is_update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	HeapTuple	newtup = is_update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	HeapTuple	oldtup = is_update ? trigdata->tg_trigtuple : NULL;
	RuleCache  *cache = rule_columns(fcinfo, rel,
									 RULE_COL(COL_ID) | RULE_COL(COL_CHANNEL_ID) | RULE_COL(COL_THREAD_ID));
	RuleSaved	saved;

	if (cg_restoring() ||
		heap_attisnull(newtup, cache->att[COL_THREAD_ID], tupdesc) ||
		(oldtup && rule_same(newtup, oldtup, tupdesc, cache->att[COL_THREAD_ID])))
		return PointerGetDatum(NULL);
	saved = rule_begin(cache);
	rule_messages_parent(cache, tupdesc, newtup, oldtup, true);
	rule_end(saved);
	return PointerGetDatum(NULL);
}

/* ---------------------------------------------------------------- reactions */

/*
 * rule_reactions_archived
 *		Refuses, with what, a reaction row added to, changed in or taken
 *		from (the deleted or old row) an archived channel.  A reaction whose
 *		message is gone (a message is deleted only outside an archive, and
 *		its cascade takes the reaction) is not in one.  When user_cascade,
 *		the reaction may go with its user if this transaction deleted the
 *		user (the cascade of users' foreign key; a user given another id is
 *		not deleted).
 */
static void
rule_reactions_archived(const RuleCache *cache, TupleDesc tupdesc, HeapTuple row,
						const char *what, bool user_cascade)
{
	bool		isnull;
	Datum		message = heap_getattr(row, cache->att[COL_MESSAGE_ID], tupdesc, &isnull);
	char	   *channel;
	char	   *name;
	char	   *user;

	if (isnull || rule_query(Q_MESSAGE_CHANNEL, message) == 0)
		return;
	channel = rule_result_text(1);
	if (channel == NULL || !rule_channel_archived(CStringGetTextDatum(channel), &name))
		return;
	user = rule_text(row, tupdesc, cache->att[COL_USER_ID]);
	if (user_cascade && user != NULL && rule_row_deleted_here("users", user))
		return;
	rule_refuse_archived(channel, name, what);
}

/*
 * chatgenius_reactions_rules
 *		Trigger function reactions_rules() (BEFORE INSERT OR UPDATE OR
 *		DELETE ON reactions FOR EACH ROW; 1.10's trigger fires on INSERT OR
 *		DELETE): in an archived channel no reaction is added, changed (the
 *		old and the new row) or taken back, unless restoring; one goes with
 *		its message or its user (rule_reactions_archived).  Returns the row.
 */
Datum
chatgenius_reactions_rules(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = rule_check_call(fcinfo, "reactions_rules", true,
											RULE_ON(TRIGGER_EVENT_INSERT) | RULE_ON(TRIGGER_EVENT_UPDATE) |
											RULE_ON(TRIGGER_EVENT_DELETE),
											"INSERT OR UPDATE OR DELETE");
	Relation	rel = trigdata->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	HeapTuple	row = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event)
		? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	RuleCache  *cache;
	RuleSaved	saved;

	if (cg_restoring())
		return PointerGetDatum(row);
	cache = rule_columns(fcinfo, rel, RULE_COL(COL_MESSAGE_ID) | RULE_COL(COL_USER_ID));
	if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event) &&
		rule_same_but(row, trigdata->tg_trigtuple, tupdesc, NULL, 0))
		return PointerGetDatum(row);

	saved = rule_begin(cache);
	if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
		rule_reactions_archived(cache, tupdesc, row, "no new reaction", false);
	else if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		rule_reactions_archived(cache, tupdesc, row, "no reaction taken back", true);
	else
	{
		rule_reactions_archived(cache, tupdesc, trigdata->tg_trigtuple, "no reaction changed", false);
		rule_reactions_archived(cache, tupdesc, row, "no reaction changed", false);
	}
	rule_end(saved);
	return PointerGetDatum(row);
}

/* ---------------------------------------------------------------- channels */

/*
 * rule_channels_archived_change
 *		Whether an UPDATE of an archived channel's row is one that an
 *		archived channel allows, nothing else changed with it: unarchiving
 *		(archived_at set to NULL; archived_by and deleted_at may change
 *		along), a soft delete (deleted_at set where it was NULL), or losing
 *		archived_by because this transaction deleted that user (the foreign
 *		key's ON DELETE SET NULL).
 */
static bool
rule_channels_archived_change(const RuleCache *cache, TupleDesc tupdesc,
							  HeapTuple newtup, HeapTuple oldtup)
{
	const AttrNumber *att = cache->att;
	const AttrNumber skip[] = {att[COL_ARCHIVED_AT], att[COL_ARCHIVED_BY],
	att[COL_DELETED_AT], att[COL_UPDATED_AT]};
	bool		changed = false;

	if (!rule_same_but(newtup, oldtup, tupdesc, skip, lengthof(skip)))
		return false;
	if (heap_attisnull(newtup, att[COL_ARCHIVED_AT], tupdesc))
		return true;			/* unarchiving */
	if (!rule_same(newtup, oldtup, tupdesc, att[COL_ARCHIVED_AT]))
		return false;
	if (!rule_same(newtup, oldtup, tupdesc, att[COL_DELETED_AT]))
	{
		if (!heap_attisnull(oldtup, att[COL_DELETED_AT], tupdesc))
			return false;
		changed = true;			/* soft delete */
	}
	if (!rule_same(newtup, oldtup, tupdesc, att[COL_ARCHIVED_BY]))
	{
		char	   *archiver = rule_text(oldtup, tupdesc, att[COL_ARCHIVED_BY]);

		if (!heap_attisnull(newtup, att[COL_ARCHIVED_BY], tupdesc) ||
			archiver == NULL || !rule_row_deleted_here("users", archiver))
			return false;
		changed = true;			/* the archiving user deleted */
	}
	return changed;
}

/*
 * chatgenius_channels_rules
 *		Trigger function channels_rules() (BEFORE UPDATE OR DELETE ON
 *		channels FOR EACH ROW; 1.10's trigger fires on UPDATE): an archived
 *		channel's row changes only by unarchiving or soft delete
 *		(rule_channels_archived_change) and is not deleted (its messages
 *		would go with it), unless restoring; then updated_at.  The row is
 *		already locked by its UPDATE or DELETE: no query, no lock.  Returns
 *		the row to write.
 */
Datum
chatgenius_channels_rules(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = rule_check_call(fcinfo, "channels_rules", true,
											RULE_ON(TRIGGER_EVENT_UPDATE) | RULE_ON(TRIGGER_EVENT_DELETE),
											"UPDATE OR DELETE");
	Relation	rel = trigdata->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		is_delete = TRIGGER_FIRED_BY_DELETE(trigdata->tg_event);
	HeapTuple	newtup = trigdata->tg_newtuple;
	HeapTuple	oldtup = trigdata->tg_trigtuple;
	RuleCache  *cache = rule_columns(fcinfo, rel,
									 RULE_COL(COL_ID) | RULE_COL(COL_NAME) | RULE_COL(COL_UPDATED_AT) |
									 RULE_COL(COL_DELETED_AT) | RULE_COL(COL_ARCHIVED_AT) |
									 RULE_COL(COL_ARCHIVED_BY));
	const AttrNumber *att = cache->att;

	if (!heap_attisnull(oldtup, att[COL_ARCHIVED_AT], tupdesc) && !cg_restoring() &&
		(is_delete || !rule_channels_archived_change(cache, tupdesc, newtup, oldtup)))
		rule_refuse_archived(rule_text(oldtup, tupdesc, att[COL_ID]),
							 rule_text(oldtup, tupdesc, att[COL_NAME]),
							 "its row changes only by unarchiving or soft delete");
	if (is_delete)
		return PointerGetDatum(oldtup);
	return PointerGetDatum(rule_set_updated_at(newtup, tupdesc, att[COL_UPDATED_AT]));
}

/*
 * chatgenius_set_updated_at
 *		Trigger function set_updated_at() (BEFORE UPDATE FOR EACH ROW) of the
 *		tables that have no other rule: returns the new row with updated_at
 *		set to now().
 */
Datum
chatgenius_set_updated_at(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = rule_check_call(fcinfo, "set_updated_at", true,
											RULE_ON(TRIGGER_EVENT_UPDATE), "UPDATE");
	Relation	rel = trigdata->tg_relation;
	RuleCache  *cache = rule_columns(fcinfo, rel, RULE_COL(COL_UPDATED_AT));

	return PointerGetDatum(rule_set_updated_at(trigdata->tg_newtuple,
											   RelationGetDescr(rel),
											   cache->att[COL_UPDATED_AT]));
}
