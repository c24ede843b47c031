/*-------------------------------------------------------------------------
 *
 * fingerprint_describe.c
 *	  The text that the schema fingerprint hashes: one OID-free description
 *	  per member object of the extension (relations with their columns,
 *	  constraints, indexes and triggers; functions; types; sequences;
 *	  anything else by its identity), the privileges of PUBLIC and the
 *	  built-in roles, and the
 *	  pg_extension_config_dump settings.  Also notes, for the cache, which
 *	  relcache and syscache entries the descriptions came from.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/transam.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_attrdef.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_enum.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_sequence.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "nodes/nodes.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/regproc.h"
#include "utils/rel.h"
#include "utils/ruleutils.h"
#include "utils/syscache.h"

#include "chatgenius.h"
#include "fingerprint.h"

/*
 * compare_strings
 *		qsort comparator for C strings; returns strcmp's order.
 */
static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * add_line / watch_relation / watch_cache_entry
 *		Append to the description or to the watch lists; return nothing.
 */
void
fp_add_line(FpState *st, char *line)
{
	if (st->nlines == st->maxlines)
	{
		st->maxlines = st->maxlines * 2 + 16;
		st->lines = repalloc(st->lines, st->maxlines * sizeof(char *));
	}
	st->lines[st->nlines++] = line;
}

static void
watch_relation(FpState *st, Oid relid)
{
	if (st->nrelids == st->maxrelids)
	{
		st->maxrelids = st->maxrelids * 2 + 16;
		st->relids = repalloc(st->relids, st->maxrelids * sizeof(Oid));
	}
	st->relids[st->nrelids++] = relid;
}

static void
watch_cache_entry(FpState *st, int cacheid, Oid oid)
{
	uint32		hashvalue = GetSysCacheHashValue1(cacheid, ObjectIdGetDatum(oid));

	if (st->ncachekeys == st->maxcachekeys)
	{
		st->maxcachekeys = st->maxcachekeys * 2 + 16;
		st->cachekeys = repalloc(st->cachekeys, st->maxcachekeys * sizeof(uint64));
	}
	st->cachekeys[st->ncachekeys++] = ((uint64) cacheid << 32) | hashvalue;
}

/*
 * aclitem_text
 *		Returns one ACL entry as "grantee=privileges" with the grantor left
 *		out and the owner written as "owner": the text then does not depend
 *		on the name of the role that ran CREATE EXTENSION or the restore.
 */
static char *
aclitem_text(const AclItem *item, Oid ownerid)
{
	char	   *text = DatumGetCString(DirectFunctionCall1(aclitemout,
														   PointerGetDatum(item)));
	char	   *privs = strchr(text, '=');
	char	   *slash;

	if (privs == NULL)
		return text;
	slash = strrchr(privs, '/');
	if (slash != NULL)
		*slash = '\0';
	if (item->ai_grantee == ownerid)
		return psprintf("owner%s", privs);
	if (item->ai_grantee == ACL_ID_PUBLIC)
		return psprintf("public%s", privs);
	*privs = '\0';
	return psprintf("%s=%s", text, privs + 1);
}

/*
 * append_acl
 *		Appends " acl=" and the sorted entries of an ACL datum (role names,
 *		no OIDs) to buf; returns nothing.  A null ACL is printed as the
 *		default it stands for, and sorting makes the text independent of the
 *		order of GRANTs, so that equal privileges give equal text.  Columns
 *		without privileges of their own print nothing.
 *
 *		Only entries for the owner, PUBLIC and the built-in roles (pg_monitor
 *		and the like, which the extension's scripts grant to) are described,
 *		without grantors (see aclitem_text): an operator granting the app's
 *		or the helper's role access, as doc/extension.md asks, is not drift, and
 *		neither is a restore by a superuser of another name, while opening a
 *		table to PUBLIC is.
 */
static void
append_acl(StringInfo buf, Datum acldatum, bool isnull, ObjectType objtype,
		   Oid ownerid)
{
	Acl		   *acl;
	AclItem    *items;
	char	  **strs;
	int			n;
	int			nkept;
	int			i;

	if (isnull && objtype == OBJECT_COLUMN)
		return;
	acl = isnull ? acldefault(objtype, ownerid) : DatumGetAclP(acldatum);
	n = ACL_NUM(acl);
	items = ACL_DAT(acl);
	strs = palloc(Max(n, 1) * sizeof(char *));
	nkept = 0;
	for (i = 0; i < n; i++)
	{
		if (items[i].ai_grantee != ACL_ID_PUBLIC &&
			items[i].ai_grantee != ownerid &&
			items[i].ai_grantee >= FirstNormalObjectId)
			continue;
		strs[nkept++] = aclitem_text(&items[i], ownerid);
	}
	if (nkept == 0 && objtype == OBJECT_COLUMN)
		return;
	qsort(strs, nkept, sizeof(char *), compare_strings);
	appendStringInfoString(buf, " acl={");
	for (i = 0; i < nkept; i++)
		appendStringInfo(buf, "%s%s", i > 0 ? "," : "", strs[i]);
	appendStringInfoChar(buf, '}');
}

/*
 * text_of
 *		Returns the C string of a text datum returned by a pg_get_*def
 *		function; exists to keep the describers short.
 */
static char *
text_of(Datum d)
{
	return TextDatumGetCString(d);
}

/*
 * append_sorted
 *		Sorts the lines in list and appends each, prefixed with "\n  ", to
 *		buf; returns nothing.
 */
static void
append_sorted(StringInfo buf, char **list, int n)
{
	int			i;

	qsort(list, n, sizeof(char *), compare_strings);
	for (i = 0; i < n; i++)
		appendStringInfo(buf, "\n  %s", list[i]);
}

/*
 * describe_constraints
 *		Appends the constraints of a relation (relid) or of a domain (typid)
 *		as "constraint name definition" lines, sorted, to buf; returns
 *		nothing.
 */
static void
describe_constraints(StringInfo buf, Oid relid, Oid typid)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	char	  **list = NULL;
	int			n = 0;
	int			max = 0;

	rel = table_open(ConstraintRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_constraint_conrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	ScanKeyInit(&key[1], Anum_pg_constraint_contypid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(typid));
	scan = systable_beginscan(rel, ConstraintRelidTypidNameIndexId, true,
							  NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_constraint con = (Form_pg_constraint) GETSTRUCT(tup);

		if (n == max)
		{
			max = max * 2 + 8;
			list = list ? repalloc(list, max * sizeof(char *)) : palloc(max * sizeof(char *));
		}
		list[n++] = psprintf("constraint %s %s",
							 quote_identifier(NameStr(con->conname)),
							 text_of(DirectFunctionCall1(pg_get_constraintdef,
														 ObjectIdGetDatum(con->oid))));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (n > 0)
		append_sorted(buf, list, n);
}

/*
 * describe_triggers
 *		Appends the user-defined triggers of a relation with their enabled
 *		state, sorted, to buf; returns nothing.  Internal (foreign key)
 *		triggers are skipped: their names contain OIDs and their
 *		constraints are described already.
 */
static void
describe_triggers(StringInfo buf, Oid relid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	  **list = NULL;
	int			n = 0;
	int			max = 0;

	rel = table_open(TriggerRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_trigger_tgrelid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(relid));
	scan = systable_beginscan(rel, TriggerRelidNameIndexId, true, NULL, 1, &key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_trigger trg = (Form_pg_trigger) GETSTRUCT(tup);

		if (trg->tgisinternal)
			continue;
		if (n == max)
		{
			max = max * 2 + 8;
			list = list ? repalloc(list, max * sizeof(char *)) : palloc(max * sizeof(char *));
		}
		list[n++] = psprintf("trigger %s enabled=%c",
							 text_of(DirectFunctionCall1(pg_get_triggerdef,
														 ObjectIdGetDatum(trg->oid))),
							 trg->tgenabled);
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (n > 0)
		append_sorted(buf, list, n);
}

/*
 * describe_indexes
 *		Appends the definitions of a relation's indexes, sorted, to buf and
 *		watches each index's relcache entry; returns nothing.
 */
static void
describe_indexes(StringInfo buf, Relation rel, FpState *st)
{
	List	   *indexes = RelationGetIndexList(rel);
	ListCell   *lc;
	char	  **list;
	int			n = 0;

	if (indexes == NIL)
		return;
	list = palloc(list_length(indexes) * sizeof(char *));
	foreach(lc, indexes)
	{
		Oid			indexoid = lfirst_oid(lc);

		watch_relation(st, indexoid);
		list[n++] = psprintf("index %s",
							 text_of(DirectFunctionCall1(pg_get_indexdef,
														 ObjectIdGetDatum(indexoid))));
	}
	append_sorted(buf, list, n);
	list_free(indexes);
}

/*
 * column_default
 *		Returns the deparsed default (or generation) expression of column
 *		attnum of rel, or NULL if it has none.
 */
static char *
column_default(Relation rel, AttrNumber attnum)
{
	TupleConstr *constr = RelationGetDescr(rel)->constr;
	int			i;

	if (constr == NULL)
		return NULL;
	for (i = 0; i < constr->num_defval; i++)
	{
		if (constr->defval[i].adnum == attnum)
			return deparse_expression(stringToNode(constr->defval[i].adbin),
									  deparse_context_for(RelationGetRelationName(rel),
														  RelationGetRelid(rel)),
									  false, false);
	}
	return NULL;
}

/*
 * describe_columns
 *		Appends one line per live column of rel, numbered by position
 *		among the live columns (so that a dropped column leaves no trace),
 *		with type, typmod, not null, default, collation, identity,
 *		generation and column ACL; returns nothing.
 */
static void
describe_columns(StringInfo buf, Relation rel)
{
	TupleDesc	tupdesc = RelationGetDescr(rel);
	int			position = 0;
	int			i;

	for (i = 0; i < tupdesc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(tupdesc, i);
		char	   *def;
		HeapTuple	atttup;

		if (att->attisdropped)
			continue;
		position++;
		appendStringInfo(buf, "\n  column %d %s %s", position,
						 quote_identifier(NameStr(att->attname)),
						 format_type_with_typemod(att->atttypid, att->atttypmod));
		if (att->attnotnull)
			appendStringInfoString(buf, " not null");
		if (att->atthasdef && (def = column_default(rel, att->attnum)) != NULL)
			appendStringInfo(buf, " default %s", def);
		if (OidIsValid(att->attcollation))
			appendStringInfo(buf, " collate %s", get_collation_name(att->attcollation));
		if (att->attidentity)
			appendStringInfo(buf, " identity=%c", att->attidentity);
		if (att->attgenerated)
			appendStringInfo(buf, " generated=%c", att->attgenerated);
		atttup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(RelationGetRelid(rel)),
								 Int16GetDatum(att->attnum));
		if (HeapTupleIsValid(atttup))
		{
			bool		isnull;
			Datum		acl = SysCacheGetAttr(ATTNUM, atttup,
											  Anum_pg_attribute_attacl, &isnull);

			append_acl(buf, acl, isnull, OBJECT_COLUMN, InvalidOid);
			ReleaseSysCache(atttup);
		}
	}
}

/*
 * describe_sequence
 *		Appends a sequence's parameters (not its current value, which is
 *		data) to buf; returns nothing.
 */
static void
describe_sequence(StringInfo buf, Oid relid, FpState *st)
{
	HeapTuple	tup = SearchSysCache1(SEQRELID, ObjectIdGetDatum(relid));
	Form_pg_sequence seq;

	watch_cache_entry(st, SEQRELID, relid);
	if (!HeapTupleIsValid(tup))
		return;
	seq = (Form_pg_sequence) GETSTRUCT(tup);
	appendStringInfo(buf, "\n  sequence as %s start " INT64_FORMAT
					 " increment " INT64_FORMAT " max " INT64_FORMAT
					 " min " INT64_FORMAT " cache " INT64_FORMAT " cycle=%d",
					 format_type_be(seq->seqtypid), seq->seqstart,
					 seq->seqincrement, seq->seqmax, seq->seqmin, seq->seqcache,
					 seq->seqcycle ? 1 : 0);
	ReleaseSysCache(tup);
}

/*
 * fp_open_relation
 *		Returns relation relid opened with AccessShareLock; or, with
 *		st->nowait, NULL (and st->locked_relid set) when another transaction
 *		holds a conflicting lock, so that health() never waits behind an
 *		ALTER TABLE.
 */
static Relation
fp_open_relation(Oid relid, FpState *st)
{
	Relation	rel;

	if (!st->nowait)
		return relation_open(relid, AccessShareLock);
	if (!ConditionalLockRelationOid(relid, AccessShareLock))
	{
		st->locked_relid = relid;
		return NULL;
	}
	rel = try_relation_open(relid, NoLock);
	if (rel == NULL)
	{
		UnlockRelationOid(relid, AccessShareLock);
		st->locked_relid = relid;
	}
	return rel;
}

/*
 * describe_relation
 *		Returns the description of a member relation: kind, persistence,
 *		row security, options, ACL, columns, constraints, indexes, triggers,
 *		and a view's query or a sequence's parameters.  Returns NULL if
 *		fp_open_relation gave up.
 */
static char *
describe_relation(Oid relid, FpState *st)
{
	StringInfoData buf;
	Relation	rel;
	HeapTuple	classtup;
	char		relkind;

	rel = fp_open_relation(relid, st);
	if (rel == NULL)
		return NULL;
	relkind = rel->rd_rel->relkind;
	watch_relation(st, relid);

	initStringInfo(&buf);
	appendStringInfo(&buf, "relation %s kind=%c persistence=%c rls=%d,%d",
					 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
												RelationGetRelationName(rel)),
					 relkind, rel->rd_rel->relpersistence,
					 rel->rd_rel->relrowsecurity ? 1 : 0,
					 rel->rd_rel->relforcerowsecurity ? 1 : 0);

	classtup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (HeapTupleIsValid(classtup))
	{
		bool		isnull;
		Datum		d;

		d = SysCacheGetAttr(RELOID, classtup, Anum_pg_class_reloptions, &isnull);
		if (!isnull)
			appendStringInfo(&buf, " options=%s",
							 OidOutputFunctionCall(F_ARRAY_OUT, d));
		d = SysCacheGetAttr(RELOID, classtup, Anum_pg_class_relacl, &isnull);
		append_acl(&buf, d, isnull,
				   relkind == RELKIND_SEQUENCE ? OBJECT_SEQUENCE : OBJECT_TABLE,
				   rel->rd_rel->relowner);
		ReleaseSysCache(classtup);
	}

	if (relkind == RELKIND_SEQUENCE)
		describe_sequence(&buf, relid, st);
	else
	{
		describe_columns(&buf, rel);
		if (relkind == RELKIND_VIEW || relkind == RELKIND_MATVIEW)
			appendStringInfo(&buf, "\n  query %s",
							 text_of(DirectFunctionCall1(pg_get_viewdef,
														 ObjectIdGetDatum(relid))));
		if (relkind != RELKIND_COMPOSITE_TYPE)
		{
			describe_constraints(&buf, relid, InvalidOid);
			describe_indexes(&buf, rel, st);
			describe_triggers(&buf, relid);
		}
	}
	relation_close(rel, AccessShareLock);
	return buf.data;
}

/*
 * describe_function
 *		Returns the description of a member function: its full definition
 *		as pg_get_functiondef prints it (arguments, result, language,
 *		volatility, strictness, security, configuration, body) and its ACL.
 */
static char *
describe_function(Oid procid, FpState *st)
{
	StringInfoData buf;
	HeapTuple	tup;
	bool		isnull;
	Datum		acl;

	watch_cache_entry(st, PROCOID, procid);
	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(procid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for function %u", procid);

	initStringInfo(&buf);
	if (((Form_pg_proc) GETSTRUCT(tup))->prokind == PROKIND_AGGREGATE)
		appendStringInfo(&buf, "aggregate %s", format_procedure_qualified(procid));
	else
		appendStringInfo(&buf, "function %s",
						 text_of(DirectFunctionCall1(pg_get_functiondef,
													 ObjectIdGetDatum(procid))));
	acl = SysCacheGetAttr(PROCOID, tup, Anum_pg_proc_proacl, &isnull);
	append_acl(&buf, acl, isnull, OBJECT_FUNCTION,
			   ((Form_pg_proc) GETSTRUCT(tup))->proowner);
	ReleaseSysCache(tup);
	return buf.data;
}

/*
 * describe_enum_labels
 *		Appends an enum's labels in their sort order to buf; returns
 *		nothing.
 */
static void
describe_enum_labels(StringInfo buf, Oid typid)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	rel = table_open(EnumRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_enum_enumtypid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(typid));
	scan = systable_beginscan(rel, EnumTypIdSortOrderIndexId, true, NULL, 1, &key);
	appendStringInfoString(buf, " labels");
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
		appendStringInfo(buf, " %s",
						 quote_literal_cstr(NameStr(((Form_pg_enum) GETSTRUCT(tup))->enumlabel)));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * describe_type
 *		Returns the description of a member type: kind, and a domain's base
 *		type, not null, default and constraints, an enum's labels, or a
 *		composite type's columns; plus its ACL.  Returns NULL if
 *		fp_open_relation gave up.
 */
static char *
describe_type(Oid typid, FpState *st)
{
	StringInfoData buf;
	HeapTuple	tup;
	Form_pg_type typ;
	bool		isnull;
	Datum		d;

	watch_cache_entry(st, TYPEOID, typid);
	tup = SearchSysCache1(TYPEOID, ObjectIdGetDatum(typid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for type %u", typid);
	typ = (Form_pg_type) GETSTRUCT(tup);

	initStringInfo(&buf);
	appendStringInfo(&buf, "type %s kind=%c", format_type_be_qualified(typid),
					 typ->typtype);
	if (typ->typtype == TYPTYPE_DOMAIN)
	{
		appendStringInfo(&buf, " base=%s",
						 format_type_with_typemod(typ->typbasetype, typ->typtypmod));
		if (typ->typnotnull)
			appendStringInfoString(&buf, " not null");
		d = SysCacheGetAttr(TYPEOID, tup, Anum_pg_type_typdefaultbin, &isnull);
		if (!isnull)
			appendStringInfo(&buf, " default %s",
							 deparse_expression(stringToNode(TextDatumGetCString(d)),
												NIL, false, false));
		if (OidIsValid(typ->typcollation))
			appendStringInfo(&buf, " collate %s", get_collation_name(typ->typcollation));
		describe_constraints(&buf, InvalidOid, typid);
	}
	else if (typ->typtype == TYPTYPE_ENUM)
		describe_enum_labels(&buf, typid);
	else if (typ->typtype == TYPTYPE_COMPOSITE && OidIsValid(typ->typrelid))
	{
		Relation	rel = fp_open_relation(typ->typrelid, st);

		if (rel == NULL)
		{
			ReleaseSysCache(tup);
			return NULL;
		}
		watch_relation(st, typ->typrelid);
		describe_columns(&buf, rel);
		relation_close(rel, AccessShareLock);
	}
	d = SysCacheGetAttr(TYPEOID, tup, Anum_pg_type_typacl, &isnull);
	append_acl(&buf, d, isnull, OBJECT_TYPE, typ->typowner);
	ReleaseSysCache(tup);
	return buf.data;
}

/*
 * describe_other
 *		Returns the description of a member of any other class (schema,
 *		cast, operator, event trigger, ...): its object type and identity,
 *		plus the ACL of a schema.
 */
static char *
describe_other(const FpMember *m, FpState *st)
{
	ObjectAddress addr;
	StringInfoData buf;

	addr.classId = m->classid;
	addr.objectId = m->objid;
	addr.objectSubId = 0;
	initStringInfo(&buf);
	appendStringInfo(&buf, "%s %s", getObjectTypeDescription(&addr, false),
					 getObjectIdentity(&addr, false));
	if (m->classid == NamespaceRelationId)
	{
		HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(m->objid));

		watch_cache_entry(st, NAMESPACEOID, m->objid);
		if (HeapTupleIsValid(tup))
		{
			bool		isnull;
			Datum		acl = SysCacheGetAttr(NAMESPACEOID, tup,
											  Anum_pg_namespace_nspacl, &isnull);

			append_acl(&buf, acl, isnull, OBJECT_SCHEMA,
					   ((Form_pg_namespace) GETSTRUCT(tup))->nspowner);
			ReleaseSysCache(tup);
		}
	}
	return buf.data;
}

/*
 * fp_describe_extconfig
 *		Adds one line per pg_extension_config_dump entry of the extension:
 *		the table's qualified name and its filter condition; returns
 *		nothing.
 */
void
fp_describe_extconfig(Oid extoid, FpState *st)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		cfgnull;
		bool		condnull;
		Datum		cfg = heap_getattr(tup, Anum_pg_extension_extconfig,
									   RelationGetDescr(rel), &cfgnull);
		Datum		cond = heap_getattr(tup, Anum_pg_extension_extcondition,
										RelationGetDescr(rel), &condnull);
		Datum	   *oids = NULL;
		Datum	   *conds = NULL;
		int			noids = 0;
		int			nconds = 0;
		int			i;

		if (!cfgnull)
			deconstruct_array(DatumGetArrayTypeP(cfg), OIDOID, sizeof(Oid), true,
							  TYPALIGN_INT, &oids, NULL, &noids);
		if (!condnull)
			deconstruct_array(DatumGetArrayTypeP(cond), TEXTOID, -1, false,
							  TYPALIGN_INT, &conds, NULL, &nconds);
		for (i = 0; i < noids; i++)
		{
			Oid			relid = DatumGetObjectId(oids[i]);
			char	   *relname = get_rel_name(relid);
			char	   *nspname = get_namespace_name(get_rel_namespace(relid));

			fp_add_line(st, psprintf("config %s condition %s",
								  relname && nspname ? quote_qualified_identifier(nspname, relname) : "(missing)",
								  i < nconds ? quote_literal_cstr(TextDatumGetCString(conds[i])) : "(none)"));
		}
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
}

/*
 * fp_describe_member
 *		Returns the description of one member object, by its class; NULL if
 *		st->nowait and a relation it needs is locked.
 */
char *
fp_describe_member(const FpMember *m, FpState *st)
{
	if (m->classid == RelationRelationId)
		return describe_relation(m->objid, st);
	if (m->classid == ProcedureRelationId)
		return describe_function(m->objid, st);
	if (m->classid == TypeRelationId)
		return describe_type(m->objid, st);
	return describe_other(m, st);
}
