/*-------------------------------------------------------------------------
 *
 * realtime_trigger.c
 *	  The realtime triggers (AFTER ... FOR EACH ROW) of messages, reactions,
 *	  channel_members and user_status.  Each builds the change's JSON payload
 *	  (ids only, the same text json_build_object gave before 1.4) and, as
 *	  chatgenius.realtime says, appends it to the outbox for the notifier,
 *	  sends it with NOTIFY in the writing transaction, or drops it.
 *
 * The outbox row is written with a plain heap insert and index inserts: the
 * table has no trigger and no constraint besides NOT NULL, and its index is
 * on plain columns, so this is all an INSERT would do, at a fraction of the
 * executor's cost.  Its xid (the writer's top-level transaction) and seq
 * (the order within this backend) give the notifier the order of the
 * changes: see notifier.c.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/heapam.h"
#include "access/table.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/timestamp.h"
#include "utils/xid8.h"

#include "realtime.h"

/*
 * One key of a payload: the column it comes from, or, with is_set, whether
 * that column is not null (the "deleted" flag from deleted_at).
 */
typedef struct RtKey
{
	const char *key;
	const char *column;
	bool		is_set;
} RtKey;

/* The payloads, key by key, as the 1.0 trigger functions built them. */
static const RtKey message_keys[] = {
	{"id", "id"}, {"channel_id", "channel_id"}, {"thread_id", "thread_id"},
	{"user_id", "user_id"}, {"deleted", "deleted_at", true}, {NULL}
};
static const RtKey reaction_keys[] = {
	{"id", "id"}, {"message_id", "message_id"}, {"user_id", "user_id"},
	{"emoji", "emoji"}, {NULL}
};
static const RtKey channel_member_keys[] = {
	{"id", "id"}, {"channel_id", "channel_id"}, {"user_id", "user_id"},
	{"role", "role"}, {"deleted", "deleted_at", true}, {NULL}
};
static const RtKey user_status_keys[] = {
	{"id", "id"}, {"user_id", "user_id"}, {"presence", "presence"}, {NULL}
};

/* Order of this backend's outbox rows (within a transaction it increases). */
static int64 rt_outbox_seq = 0;

PG_FUNCTION_INFO_V1(chatgenius_notify_message_change);
PG_FUNCTION_INFO_V1(chatgenius_notify_reaction_change);
PG_FUNCTION_INFO_V1(chatgenius_notify_channel_member_change);
PG_FUNCTION_INFO_V1(chatgenius_notify_user_status_change);

/*
 * rt_append_key
 *		Appends ", "key" : " (or the first key without the comma) to buf;
 *		returns nothing.  json_build_object's spacing, kept for the app.
 */
static void
rt_append_key(StringInfo buf, const char *key)
{
	if (buf->len > 1)
		appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, " : ");
}

/*
 * rt_build_payload
 *		Returns the palloc'd JSON payload of one row change.  Every column the
 *		keys name is a varchar of the chat tables, so a value is a JSON string
 *		or null.
 */
static char *
rt_build_payload(TriggerData *trigdata, HeapTuple tuple, const char *operation,
				 const RtKey *keys)
{
	Relation	rel = trigdata->tg_relation;
	TupleDesc	tupdesc = RelationGetDescr(rel);
	StringInfoData buf;
	const RtKey *k;

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	rt_append_key(&buf, "operation");
	escape_json(&buf, operation);
	rt_append_key(&buf, "table");
	escape_json(&buf, RelationGetRelationName(rel));
	for (k = keys; k->key; k++)
	{
		int			attnum = SPI_fnumber(tupdesc, k->column);
		bool		isnull;

		if (attnum <= 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_COLUMN),
					 errmsg("column \"%s\" of relation \"%s\" does not exist",
							k->column, RelationGetRelationName(rel)),
					 errhint("The realtime trigger expects the chatgenius schema's columns.")));
		rt_append_key(&buf, k->key);
		(void) heap_getattr(tuple, attnum, tupdesc, &isnull);
		if (k->is_set)
			appendStringInfoString(&buf, isnull ? "false" : "true");
		else if (isnull)
			appendStringInfoString(&buf, "null");
		else
			escape_json(&buf, SPI_getvalue(tuple, tupdesc, attnum));
	}
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/*
 * rt_outbox_index
 *		Inserts the index entries of a new outbox row; returns nothing.  Only
 *		plain-column indexes are possible here (no expression, no predicate).
 */
static void
rt_outbox_index(Relation outbox, HeapTuple tuple, Datum *values)
{
	List	   *indexes = RelationGetIndexList(outbox);
	ListCell   *lc;

	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), RowExclusiveLock);
		IndexInfo  *info = BuildIndexInfo(index);
		Datum		ivalues[INDEX_MAX_KEYS];
		bool		inulls[INDEX_MAX_KEYS];
		int			i;

		if (info->ii_Expressions != NIL || info->ii_Predicate != NIL)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("index \"%s\" of the outbox is not on plain columns",
							RelationGetRelationName(index))));
		for (i = 0; i < info->ii_NumIndexAttrs; i++)
		{
			ivalues[i] = values[info->ii_IndexAttrNumbers[i] - 1];
			inulls[i] = false;
		}
		index_insert(index, ivalues, inulls, &tuple->t_self, outbox,
					 info->ii_Unique ? UNIQUE_CHECK_YES : UNIQUE_CHECK_NO, false, info);
		index_close(index, NoLock);
	}
	list_free(indexes);
}

/*
 * rt_outbox_append
 *		Appends one change to the outbox of the schema the chat table lives
 *		in; returns nothing.  The row commits or rolls back with the change.
 */
static void
rt_outbox_append(Relation chat_table, const char *channel, const char *payload)
{
	Oid			nspoid = RelationGetNamespace(chat_table);
	Oid			relid = get_relname_relid(CG_OUTBOX_TABLE, nspoid);
	Relation	outbox;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};
	HeapTuple	tuple;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist",
						get_namespace_name(nspoid), CG_OUTBOX_TABLE),
				 errhint("Update the extension: ALTER EXTENSION chatgenius UPDATE.")));
	outbox = table_open(relid, RowExclusiveLock);
	if (RelationGetDescr(outbox)->natts != 5)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("relation \"%s\" does not have the outbox's five columns",
						RelationGetRelationName(outbox))));

	values[0] = FullTransactionIdGetDatum(GetTopFullTransactionId());
	values[1] = Int64GetDatum(++rt_outbox_seq);
	values[2] = CStringGetTextDatum(channel);
	values[3] = CStringGetTextDatum(payload);
	values[4] = TimestampTzGetDatum(GetCurrentTimestamp());
	tuple = heap_form_tuple(RelationGetDescr(outbox), values, nulls);
	simple_heap_insert(outbox, tuple);
	rt_outbox_index(outbox, tuple, values);
	heap_freetuple(tuple);
	cg_realtime_outbox_written(outbox->rd_rel->relowner);
	table_close(outbox, NoLock);
}

/*
 * rt_change
 *		The body of every realtime trigger; returns NULL (an AFTER trigger's
 *		result is ignored).  DELETE describes the old row, INSERT and UPDATE
 *		the new one.
 */
static Datum
rt_change(FunctionCallInfo fcinfo, const char *fname, const char *channel,
		  const RtKey *keys)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	HeapTuple	tuple;
	const char *operation;
	char	   *payload;

	if (!CALLED_AS_TRIGGER(fcinfo) ||
		!TRIGGER_FIRED_AFTER(trigdata->tg_event) ||
		!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired AFTER ... FOR EACH ROW", fname)));

	if (cg_realtime == CG_REALTIME_OFF)
		return PointerGetDatum(NULL);

	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		operation = "DELETE";
		tuple = trigdata->tg_trigtuple;
	}
	else if (TRIGGER_FIRED_BY_UPDATE(trigdata->tg_event))
	{
		operation = "UPDATE";
		tuple = trigdata->tg_newtuple;
	}
	else if (TRIGGER_FIRED_BY_INSERT(trigdata->tg_event))
	{
		operation = "INSERT";
		tuple = trigdata->tg_trigtuple;
	}
	else
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("function \"%s\" must be fired for INSERT, UPDATE or DELETE", fname)));

	payload = rt_build_payload(trigdata, tuple, operation, keys);
	if (cg_realtime == CG_REALTIME_ON && cg_realtime_available())
		rt_outbox_append(trigdata->tg_relation, channel, payload);
	else
		Async_Notify(channel, payload);
	pfree(payload);
	return PointerGetDatum(NULL);
}

/*
 * chatgenius_notify_message_change
 *		Trigger messages_notify; returns NULL.  Channel message_change.
 */
Datum
chatgenius_notify_message_change(PG_FUNCTION_ARGS)
{
	return rt_change(fcinfo, "notify_message_change", "message_change", message_keys);
}

/*
 * chatgenius_notify_reaction_change
 *		Trigger reactions_notify; returns NULL.  Channel reaction_change.
 */
Datum
chatgenius_notify_reaction_change(PG_FUNCTION_ARGS)
{
	return rt_change(fcinfo, "notify_reaction_change", "reaction_change", reaction_keys);
}

/*
 * chatgenius_notify_channel_member_change
 *		Trigger channel_members_notify; returns NULL.  Channel
 *		channel_member_change.
 */
Datum
chatgenius_notify_channel_member_change(PG_FUNCTION_ARGS)
{
	return rt_change(fcinfo, "notify_channel_member_change", "channel_member_change",
					 channel_member_keys);
}

/*
 * chatgenius_notify_user_status_change
 *		Trigger user_status_notify; returns NULL.  Channel user_status_change.
 */
Datum
chatgenius_notify_user_status_change(PG_FUNCTION_ARGS)
{
	return rt_change(fcinfo, "notify_user_status_change", "user_status_change",
					 user_status_keys);
}
