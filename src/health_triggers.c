/*-------------------------------------------------------------------------
 *
 * health_triggers.c
 *	  health()'s triggers row: does every trigger of the extension's tables
 *	  fire for the app?
 *
 * The rules (threads, archived channels), updated_at, the realtime changes
 * (outbox rows and NOTIFY) and the foreign keys are all triggers.  ALTER
 * TABLE ... DISABLE TRIGGER (the table's owner may run it) switches one off
 * without an error anywhere: writes go on, and what the trigger kept stops,
 * silently.  ENABLE REPLICA TRIGGER does the same for every session not in
 * session_replication_role = replica.  Each such trigger is a critical row
 * that names it, its table and what stops working; the schema check only
 * sees that the catalog drifted (a warning).
 *
 * What stops is known by the trigger's function: the table below, or the
 * foreign key a constraint trigger belongs to.  sql/regress_health.sql
 * disables every trigger the extension makes and expects each row to say
 * what stops, so a new trigger function cannot be added without its line
 * here.  Catalogs are read directly (pg_depend, pg_trigger), without locks
 * on the tables, as the other checks read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "commands/trigger.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"

#include "chatgenius.h"
#include "health.h"

/* What stops working when a trigger of this function no longer fires. */
typedef struct TriggerRole
{
	const char *function;		/* in the extension's schema */
	const char *stops;
} TriggerRole;

static const TriggerRole trigger_roles[] = {
	{"messages_rules",
	"the message rules stop: messages may move to another channel or reply to themselves, archived channels take posts, edits and hard deletes, and updated_at is not kept"},
	{"messages_thread_rules",
	"a reply's parent is no longer checked: replies may nest deeper than one level or cross channels"},
	{"reactions_rules",
	"archived channels take reactions, their changes and their removal"},
	{"channels_rules",
	"an archived channel's row may change in any way or be deleted, and updated_at is not kept"},
	{"set_updated_at",
	"updated_at is not kept"},
	{"notify_message_change",
	"realtime: changes to messages are not notified (message_change)"},
	{"notify_reaction_change",
	"realtime: changes to reactions are not notified (reaction_change)"},
	{"notify_channel_member_change",
	"realtime: changes to channel members are not notified (channel_member_change)"},
	{"notify_user_status_change",
	"realtime: changes to user status are not notified (user_status_change)"},
	{"schema_migrations_merge",
	"a restored dump's migration history no longer merges with the rows CREATE EXTENSION wrote"},
};

/* A member table of the extension, for sorting by name. */
typedef struct MemberTable
{
	Oid			relid;
	char	   *relname;
} MemberTable;

/* qsort comparator: member tables by name. */
static int
member_table_cmp(const void *a, const void *b)
{
	return strcmp(((const MemberTable *) a)->relname,
				  ((const MemberTable *) b)->relname);
}

/*
 * member_tables
 *		Returns the extension's ordinary and partitioned tables sorted by
 *		name, and their number in *n: the relations that pg_depend marks as
 *		members (deptype 'e'), not every table of the schema.
 */
static MemberTable *
member_tables(Oid extoid, int *n)
{
	int			nmembers;
	CgMember   *members = cg_extension_members(extoid, &nmembers);
	MemberTable *tables = palloc(Max(nmembers, 1) * sizeof(MemberTable));

	*n = 0;
	for (int i = 0; i < nmembers; i++)
	{
		char		relkind;

		if (members[i].classid != RelationRelationId)
			continue;
		relkind = get_rel_relkind(members[i].objid);
		if (relkind != RELKIND_RELATION && relkind != RELKIND_PARTITIONED_TABLE)
			continue;
		tables[*n].relid = members[i].objid;
		tables[*n].relname = get_rel_name(members[i].objid);
		if (tables[*n].relname != NULL)
			(*n)++;
	}
	pfree(members);
	if (*n > 1)
		qsort(tables, *n, sizeof(MemberTable), member_table_cmp);
	return tables;
}

/*
 * what_stops
 *		Returns what stops working when a trigger calling function funcoid no
 *		longer fires: the table's line for the extension's own functions,
 *		else a sentence that names the function.
 */
static char *
what_stops(Oid funcoid)
{
	char	   *name = get_func_name(funcoid);

	for (int i = 0; i < lengthof(trigger_roles); i++)
	{
		if (name != NULL && strcmp(name, trigger_roles[i].function) == 0)
			return pstrdup(trigger_roles[i].stops);
	}
	return psprintf("its function %s() no longer runs", name ? name : "?");
}

/*
 * add_trigger_rows
 *		Adds a critical row for each trigger of one table that does not fire
 *		in an ordinary session, one per foreign key for the triggers that
 *		enforce a key; counts the table's triggers into *ntriggers and
 *		returns how many rows it added.
 */
static int
add_trigger_rows(CheckList *list, Relation tgrel, const CgExtension *ext,
				 const MemberTable *table, int *ntriggers)
{
	SysScanDesc scan;
	ScanKeyData key;
	HeapTuple	tup;
	char	   *qualified = quote_qualified_identifier(ext->nspname, table->relname);
	List	   *keys_seen = NIL;
	int			added = 0;

	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(table->relid));
	scan = systable_beginscan(tgrel, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger trg = (Form_pg_trigger) GETSTRUCT(tup);
		const char *state;

		(*ntriggers)++;
		if (trg->tgenabled == TRIGGER_DISABLED)
			state = "is disabled";
		else if (trg->tgenabled == TRIGGER_FIRES_ON_REPLICA)
			state = "fires only where session_replication_role = replica";
		else
			continue;

		if (trg->tgisinternal && OidIsValid(trg->tgconstraint))
		{
			char	   *conname;

			if (list_member_oid(keys_seen, trg->tgconstraint))
				continue;
			keys_seen = lappend_oid(keys_seen, trg->tgconstraint);
			conname = get_constraint_name(trg->tgconstraint);
			cg_health_add(list, CG_CHECK_triggers, CHECK_CRITICAL,
						  psprintf("a trigger of foreign key %s on %s %s: the key is not enforced",
								   quote_identifier(conname ? conname : "?"),
								   qualified, state));
		}
		else
			cg_health_add(list, CG_CHECK_triggers, CHECK_CRITICAL,
						  psprintf("trigger %s on %s %s: %s",
								   quote_identifier(NameStr(trg->tgname)),
								   qualified, state, what_stops(trg->tgfoid)));
		added++;
	}
	systable_endscan(scan);
	list_free(keys_seen);
	return added;
}

/*
 * cg_check_triggers
 *		Adds the triggers rows: one critical row for each trigger of the
 *		extension's tables that does not fire for the app, or one ok row
 *		that counts them.
 */
void
cg_check_triggers(CheckList *list, const CgHealthContext *ctx)
{
	MemberTable *tables;
	Relation	tgrel;
	int			ntables;
	int			ntriggers = 0;
	int			added = 0;

	if (ctx->ext == NULL)
	{
		cg_health_add(list, CG_CHECK_triggers, CHECK_OK,
					  pstrdup("the extension is not installed"));
		return;
	}
	tables = member_tables(ctx->ext->extoid, &ntables);
	tgrel = table_open(TriggerRelationId, AccessShareLock);
	for (int i = 0; i < ntables; i++)
		added += add_trigger_rows(list, tgrel, ctx->ext, &tables[i], &ntriggers);
	table_close(tgrel, AccessShareLock);
	if (added == 0)
		cg_health_add(list, CG_CHECK_triggers, CHECK_OK,
					  psprintf("all %d triggers of the extension's %d tables fire",
							   ntriggers, ntables));
}
