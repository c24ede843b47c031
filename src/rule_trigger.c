/*-------------------------------------------------------------------------
 *
 * rule_trigger.c
 *	  The rule triggers (BEFORE ... FOR EACH ROW) of the chat tables, one per
 *	  table, since 1.10: messages_rules (threads one level deep, no post or
 *	  edit in an archived channel, updated_at), reactions_rules (no reaction
 *	  added or taken back in an archived channel), channels_rules (an
 *	  archived channel's row changes only by unarchiving, updated_at), and
 *	  set_updated_at for the tables that only keep updated_at.
 *
 *	  Until 1.9 these were PL/pgSQL functions, up to three BEFORE triggers on
 *	  one table; each call paid for a trigger invocation, a PL/pgSQL frame,
 *	  SECURITY DEFINER's GUC save and restore for its search_path, and a
 *	  tuple rebuilt for NEW.updated_at.  Here one call does all of it, the
 *	  queries are prepared once per backend (SPI_keepplan), and updated_at
 *	  is written into the new tuple directly.  The error messages, SQLSTATEs,
 *	  details and hints are those of the PL/pgSQL functions, and so are the
 *	  row locks: the parent of a reply and the channel of a post are read
 *	  FOR SHARE, which conflicts with the UPDATE that could break the rule
 *	  (see test/isolation/specs/thread_depth.spec and archive_race.spec).
 *
 *	  Trust: the queries name every relation and operator with its schema
 *	  (chatgenius is the extension's fixed schema, pg_catalog's operators
 *	  as OPERATOR(pg_catalog.=)), so that no search_path, the writing role's
 *	  or the database's, and no operator in another schema can change what
 *	  they run.  They run as the trigger function's owner, as the SECURITY
 *	  DEFINER PL/pgSQL functions did, so that an app role needs no UPDATE
 *	  right on channels for the FOR SHARE lock of its post.
 *
 *	  Restores: the rules stand aside while chatgenius.restoring() is true
 *	  (cg_restoring(), restore.c), as the old triggers' WHEN clauses had
 *	  them; updated_at is kept on every UPDATE, as set_updated_at (which had
 *	  no WHEN clause) kept it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "access/xact.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "nodes/bitmapset.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "chatgenius.h"

/* The columns the rules read, by name (rule_columns). */
typedef enum RuleColumn
{
	COL_ID,
	COL_CHANNEL_ID,
	COL_THREAD_ID,
	COL_CONTENT,
	COL_CREATED_AT,
	COL_UPDATED_AT,
	COL_MESSAGE_ID,
	COL_NAME,
	COL_ARCHIVED_AT,
	COL_ARCHIVED_BY,
	RULE_NCOLUMNS
} RuleColumn;

static const char *const rule_column_names[RULE_NCOLUMNS] = {
	"id", "channel_id", "thread_id", "content", "created_at", "updated_at",
	"message_id", "name", "archived_at", "archived_by"
};

/*
 * What one trigger's FmgrInfo remembers for the statement (fn_extra): the
 * relation whose columns were looked up, their numbers (0 if not needed),
 * and the function's owner, whose rights the queries run with.
 */
typedef struct RuleCache
{
	Oid			relid;
	Oid			owner;
	AttrNumber	att[RULE_NCOLUMNS];
} RuleCache;

/*
 * The queries, prepared once per backend.  Each names its relations and
 * operators with their schemas.
 */
typedef enum RuleQuery
{
	Q_PARENT,					/* a reply's parent, locked */
	Q_REPLIES,					/* whether a message has replies */
	Q_CHANNEL,					/* a channel's name and archiving, locked */
	Q_MESSAGE_CHANNEL,			/* a message's channel */
	RULE_NQUERIES
} RuleQuery;

static const char *const rule_query_text[RULE_NQUERIES] = {
	"SELECT m.channel_id, m.thread_id FROM chatgenius.messages m"
	" WHERE m.id OPERATOR(pg_catalog.=) $1 FOR SHARE OF m",
	"SELECT 1 FROM chatgenius.messages r"
	" WHERE r.thread_id OPERATOR(pg_catalog.=) $1 LIMIT 1",
	"SELECT c.name, c.archived_at FROM chatgenius.channels c"
	" WHERE c.id OPERATOR(pg_catalog.=) $1 FOR SHARE OF c",
	"SELECT m.channel_id FROM chatgenius.messages m"
	" WHERE m.id OPERATOR(pg_catalog.=) $1",
};

static SPIPlanPtr rule_plans[RULE_NQUERIES];

PG_FUNCTION_INFO_V1(chatgenius_messages_rules);
PG_FUNCTION_INFO_V1(chatgenius_reactions_rules);
PG_FUNCTION_INFO_V1(chatgenius_channels_rules);
PG_FUNCTION_INFO_V1(chatgenius_set_updated_at);

/*
 * rule_check_call
 *		Returns the TriggerData of a call, after checking that it is a row
 *		trigger fired BEFORE one of the events in events (TRIGGER_EVENT_*
 *		bits); errors otherwise.
 */
static TriggerData *
rule_check_call(FunctionCallInfo fcinfo, const char *fname, uint32 events,
				const char *allowed)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	uint32		op;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" was not called by trigger manager", fname)));
	op = trigdata->tg_event & TRIGGER_EVENT_OPMASK;
	if (!TRIGGER_FIRED_BEFORE(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event) ||
		(op != TRIGGER_EVENT_INSERT && op != TRIGGER_EVENT_UPDATE &&
		 op != TRIGGER_EVENT_DELETE) ||
		((1 << op) & events) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired BEFORE %s ... FOR EACH ROW",
						fname, allowed)));
	return trigdata;
}

#define RULE_ON(op)		(1 << (op))

/*
 * rule_columns
 *		Returns the statement's cache of the trigger's relation: the numbers
 *		of the columns in need (a mask of RuleColumn bits), looked up once
 *		per statement, and the function's owner.  A missing column is an
 *		error that names it.
 */
static RuleCache *
rule_columns(FunctionCallInfo fcinfo, Relation rel, uint32 need)
{
	RuleCache  *cache = (RuleCache *) fcinfo->flinfo->fn_extra;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	HeapTuple	proc;
	int			c;

	if (cache && cache->relid == RelationGetRelid(rel))
		return cache;
	if (!cache)
	{
		cache = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(RuleCache));
		fcinfo->flinfo->fn_extra = cache;
	}
	for (c = 0; c < RULE_NCOLUMNS; c++)
	{
		cache->att[c] = 0;
		if ((need & (1 << c)) == 0)
			continue;
		cache->att[c] = SPI_fnumber(tupdesc, rule_column_names[c]);
		if (cache->att[c] <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							rule_column_names[c], RelationGetRelationName(rel)),
					 errhint("The rule trigger expects the chatgenius schema's columns.")));
	}
	proc = SearchSysCache1(PROCOID, ObjectIdGetDatum(fcinfo->flinfo->fn_oid));
	if (!HeapTupleIsValid(proc))
		elog(ERROR, "cache lookup failed for function %u", fcinfo->flinfo->fn_oid);
	cache->owner = ((Form_pg_proc) GETSTRUCT(proc))->proowner;
	ReleaseSysCache(proc);
	cache->relid = RelationGetRelid(rel);
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
 *		Runs query q with the one text argument arg; returns the number of
 *		rows (at most 1), the row in SPI_tuptable.  Prepares the query on
 *		its first use in this backend.
 */
static uint64
rule_query(RuleQuery q, const char *arg)
{
	Datum		value = CStringGetTextDatum(arg);
	int			rc;

	if (rule_plans[q] == NULL)
	{
		Oid			argtype = TEXTOID;
		SPIPlanPtr	plan = SPI_prepare(rule_query_text[q], 1, &argtype);

		if (plan == NULL)
			elog(ERROR, "SPI_prepare failed for \"%s\": %s", rule_query_text[q],
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "SPI_keepplan failed");
		rule_plans[q] = plan;
	}
	rc = SPI_execute_plan(rule_plans[q], &value, NULL, false, 1);
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
 *		Reads channel channel_id FOR SHARE; returns whether it is archived,
 *		with its name and archiving time.  A channel that is not found is
 *		not archived (the foreign key's to judge).
 */
static bool
rule_channel_archived(const char *channel_id, char **name, TimestampTz *archived_at)
{
	bool		isnull;
	Datum		d;

	if (channel_id == NULL || rule_query(Q_CHANNEL, channel_id) == 0)
		return false;
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
	if (isnull)
		return false;
	*archived_at = DatumGetTimestampTz(d);
	*name = rule_result_text(1);
	return true;
}

/*
 * rule_created_since
 *		Returns whether the tuple's created_at is at or after t (false when
 *		created_at is null, as the SQL comparison was not true).
 */
static bool
rule_created_since(HeapTuple tuple, TupleDesc tupdesc, AttrNumber att, TimestampTz t)
{
	bool		isnull;
	Datum		d = heap_getattr(tuple, att, tupdesc, &isnull);

	return !isnull && DatumGetTimestampTz(d) >= t;
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

/*
 * rule_messages_thread
 *		Threads are one level deep, as in Slack: a reply (thread_id set)
 *		points at a top-level message of the same channel.  Refuses a reply
 *		in another channel, a reply to a reply, a message replying to
 *		itself, a message with replies becoming a reply, and a message
 *		moving to another channel.  A parent that is not found is left to
 *		the foreign key (which also lets pg_restore load replies before
 *		their parents in the same COPY).
 *
 *		The parent is read FOR SHARE: that conflicts with another session's
 *		UPDATE of it (FOR NO KEY UPDATE), so a reply and a change of its
 *		parent's thread_id cannot both commit unseen by each other's check.
 *		An UPDATE of a message already holds its row lock when this runs, so
 *		the "has replies" check sees every reply whose insert locked it first.
 */
static void
rule_messages_thread(const RuleCache *cache, TupleDesc tupdesc, HeapTuple newtup,
					 HeapTuple oldtup)
{
	const AttrNumber *att = cache->att;
	char	   *id;
	char	   *channel;
	char	   *thread;

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

	thread = rule_text(newtup, tupdesc, att[COL_THREAD_ID]);
	if (thread == NULL)
		return;
	id = rule_text(newtup, tupdesc, att[COL_ID]);
	channel = rule_text(newtup, tupdesc, att[COL_CHANNEL_ID]);

	if (id != NULL && strcmp(thread, id) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("message %s cannot be a reply to itself", id)));

	if (rule_query(Q_PARENT, thread) > 0)
	{
		char	   *parent_channel = rule_result_text(1);
		char	   *parent_thread = rule_result_text(2);

		if ((parent_channel == NULL) != (channel == NULL) ||
			(parent_channel && strcmp(parent_channel, channel) != 0))
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("reply must be in the channel of its thread"),
					 errdetail("Message %s is in channel %s, the reply in channel %s.",
							   thread, FORMAT_ARG(parent_channel), FORMAT_ARG(channel))));
		if (parent_thread != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_CHECK_VIOLATION),
					 errmsg("message %s is itself a reply", thread),
					 errdetail("Threads are one level deep."),
					 errhint("Reply to the first message of its thread, %s.", parent_thread)));
	}

	if (oldtup && id != NULL &&
		heap_attisnull(oldtup, att[COL_THREAD_ID], tupdesc) &&
		rule_query(Q_REPLIES, id) > 0)
		ereport(ERROR,
				(errcode(ERRCODE_CHECK_VIOLATION),
				 errmsg("message %s has replies and cannot become a reply", id),
				 errdetail("Threads are one level deep.")));
}

/*
 * rule_messages_archived
 *		An archived channel takes no new message and no edit.  "New" means
 *		created at or after the archiving: rows created before it (an import
 *		of old messages) still go in.  The channel is read FOR SHARE, which
 *		conflicts with the archiving UPDATE (FOR NO KEY UPDATE): a post
 *		waits for an archiving in progress and then sees it, and an
 *		archiving waits for the posts in progress.
 */
static void
rule_messages_archived(const RuleCache *cache, TupleDesc tupdesc, HeapTuple newtup,
					   HeapTuple oldtup)
{
	const AttrNumber *att = cache->att;
	char	   *channel;
	char	   *name;
	TimestampTz archived_at;

	if (oldtup && rule_same(newtup, oldtup, tupdesc, att[COL_CONTENT]) &&
		rule_same(newtup, oldtup, tupdesc, att[COL_THREAD_ID]))
		return;
	channel = rule_text(newtup, tupdesc, att[COL_CHANNEL_ID]);
	if (rule_channel_archived(channel, &name, &archived_at) &&
		(oldtup || rule_created_since(newtup, tupdesc, att[COL_CREATED_AT], archived_at)))
		rule_refuse_archived(channel, name, oldtup ? "no edit" : "no new message");
}

/*
 * chatgenius_messages_rules
 *		Trigger function messages_rules() (BEFORE INSERT OR UPDATE ON
 *		messages FOR EACH ROW): the thread rule on an INSERT and an UPDATE OF
 *		channel_id or thread_id, the archive rule on an INSERT and an UPDATE
 *		OF content or thread_id (the columns of the 1.9 triggers), both
 *		unless restoring; then updated_at on an UPDATE.  Returns the row to
 *		write.
 */
Datum
chatgenius_messages_rules(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = rule_check_call(fcinfo, "messages_rules",
											RULE_ON(TRIGGER_EVENT_INSERT) | RULE_ON(TRIGGER_EVENT_UPDATE),
											"INSERT OR UPDATE");
	Relation	rel = trigdata->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		is_update = TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event);
	HeapTuple	newtup = is_update ? trigdata->tg_newtuple : trigdata->tg_trigtuple;
	HeapTuple	oldtup = is_update ? trigdata->tg_trigtuple : NULL;
	RuleCache  *cache = rule_columns(fcinfo, rel,
									 (1 << COL_ID) | (1 << COL_CHANNEL_ID) | (1 << COL_THREAD_ID) |
									 (1 << COL_CONTENT) | (1 << COL_CREATED_AT) | (1 << COL_UPDATED_AT));
	const AttrNumber *att = cache->att;

	if (!cg_restoring())
	{
		bool		thread_rule = !is_update ||
			rule_updated(trigdata, att[COL_CHANNEL_ID]) ||
			rule_updated(trigdata, att[COL_THREAD_ID]);
		bool		archive_rule = !is_update ||
			rule_updated(trigdata, att[COL_CONTENT]) ||
			rule_updated(trigdata, att[COL_THREAD_ID]);

		if (thread_rule || archive_rule)
		{
			RuleSaved	saved = rule_begin(cache);

			if (thread_rule)
				rule_messages_thread(cache, tupdesc, newtup, oldtup);
			if (archive_rule)
				rule_messages_archived(cache, tupdesc, newtup, oldtup);
			rule_end(saved);
		}
	}
	if (is_update)
		newtup = rule_set_updated_at(newtup, tupdesc, att[COL_UPDATED_AT]);
	return PointerGetDatum(newtup);
}

/*
 * chatgenius_reactions_rules
 *		Trigger function reactions_rules() (BEFORE INSERT OR DELETE ON
 *		reactions FOR EACH ROW): in an archived channel no reaction is added
 *		(created at or after the archiving) and none is taken back, unless
 *		restoring.  A reaction that goes with its message, its user or its
 *		channel (a cascade, from inside another trigger) still goes; one
 *		whose message is not found is the foreign key's to judge.  Returns
 *		the row.
 */
Datum
chatgenius_reactions_rules(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = rule_check_call(fcinfo, "reactions_rules",
											RULE_ON(TRIGGER_EVENT_INSERT) | RULE_ON(TRIGGER_EVENT_DELETE),
											"INSERT OR DELETE");
	Relation	rel = trigdata->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	bool		is_delete = TRIGGER_FIRED_BY_DELETE(trigdata->tg_event);
	HeapTuple	row = trigdata->tg_trigtuple;
	RuleCache  *cache;
	RuleSaved	saved;
	char	   *message;
	char	   *channel;
	char	   *name;
	TimestampTz archived_at;

	if (cg_restoring())
		return PointerGetDatum(row);
	if (is_delete && DatumGetInt32(DirectFunctionCall1(pg_trigger_depth, (Datum) 0)) > 1)
		return PointerGetDatum(row);
	cache = rule_columns(fcinfo, rel, (1 << COL_MESSAGE_ID) | (1 << COL_CREATED_AT));
	message = rule_text(row, tupdesc, cache->att[COL_MESSAGE_ID]);
	if (message == NULL)
		return PointerGetDatum(row);

	saved = rule_begin(cache);
	if (rule_query(Q_MESSAGE_CHANNEL, message) > 0)
	{
		channel = rule_result_text(1);
		if (rule_channel_archived(channel, &name, &archived_at) &&
			(is_delete ||
			 rule_created_since(row, tupdesc, cache->att[COL_CREATED_AT], archived_at)))
			rule_refuse_archived(channel, name,
								 is_delete ? "no reaction taken back" : "no new reaction");
	}
	rule_end(saved);
	return PointerGetDatum(row);
}

/*
 * chatgenius_channels_rules
 *		Trigger function channels_rules() (BEFORE UPDATE ON channels FOR EACH
 *		ROW): an archived channel's row changes only by unarchiving
 *		(archived_at set to NULL, nothing else but archived_by changed), or
 *		by losing archived_by when that user is deleted (the foreign key's ON
 *		DELETE SET NULL, from inside its trigger), unless restoring; then
 *		updated_at.  The row is already locked by its UPDATE: no query, no
 *		lock.  Returns the row to write.
 */
Datum
chatgenius_channels_rules(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = rule_check_call(fcinfo, "channels_rules",
											RULE_ON(TRIGGER_EVENT_UPDATE), "UPDATE");
	Relation	rel = trigdata->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	HeapTuple	newtup = trigdata->tg_newtuple;
	HeapTuple	oldtup = trigdata->tg_trigtuple;
	RuleCache  *cache = rule_columns(fcinfo, rel,
									 (1 << COL_ID) | (1 << COL_NAME) | (1 << COL_UPDATED_AT) |
									 (1 << COL_ARCHIVED_AT) | (1 << COL_ARCHIVED_BY));
	const AttrNumber *att = cache->att;

	if (!heap_attisnull(oldtup, att[COL_ARCHIVED_AT], tupdesc) && !cg_restoring())
	{
		bool		rest_same = true;
		int			i;

		/* to_jsonb(NEW) - the three = to_jsonb(OLD) - the three */
		for (i = 1; i <= tupdesc->natts && rest_same; i++)
		{
			if (TupleDescAttr(tupdesc, i - 1)->attisdropped ||
				i == att[COL_ARCHIVED_AT] || i == att[COL_ARCHIVED_BY] ||
				i == att[COL_UPDATED_AT])
				continue;
			rest_same = rule_same(newtup, oldtup, tupdesc, i);
		}
		if (rest_same && heap_attisnull(newtup, att[COL_ARCHIVED_AT], tupdesc))
			;					/* unarchiving */
		else if (rest_same &&
				 rule_same(newtup, oldtup, tupdesc, att[COL_ARCHIVED_AT]) &&
				 heap_attisnull(newtup, att[COL_ARCHIVED_BY], tupdesc) &&
				 DatumGetInt32(DirectFunctionCall1(pg_trigger_depth, (Datum) 0)) > 1)
			;					/* the archiving user deleted: ON DELETE SET NULL */
		else
			rule_refuse_archived(rule_text(oldtup, tupdesc, att[COL_ID]),
								 rule_text(oldtup, tupdesc, att[COL_NAME]),
								 "its row changes only by unarchiving");
	}
	newtup = rule_set_updated_at(newtup, tupdesc, att[COL_UPDATED_AT]);
	return PointerGetDatum(newtup);
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
	TriggerData *trigdata = rule_check_call(fcinfo, "set_updated_at",
											RULE_ON(TRIGGER_EVENT_UPDATE), "UPDATE");
	Relation	rel = trigdata->tg_relation;
	RuleCache  *cache = rule_columns(fcinfo, rel, 1 << COL_UPDATED_AT);

	return PointerGetDatum(rule_set_updated_at(trigdata->tg_newtuple,
											   RelationGetDescr(rel),
											   cache->att[COL_UPDATED_AT]));
}
