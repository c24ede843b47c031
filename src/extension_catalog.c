/*-------------------------------------------------------------------------
 *
 * extension_catalog.c
 *	  Where the extension lives: its pg_extension row, the default version
 *	  of its control file, and its own tables, opened by name inside its
 *	  schema with the columns the C code needs looked up by name.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <sys/stat.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_depend.h"
#include "catalog/pg_extension.h"
#include "miscadmin.h"
#include "storage/lmgr.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"

#include "chatgenius.h"

/* The control file's default_version, cached with the file's identity. */
static char *control_default_version = NULL;
static struct stat control_stat;

/*
 * cg_extension_lookup
 *		Fills *ext from the extension's pg_extension row; returns false if
 *		the extension is not installed in this database.  Every entry point
 *		starts here, so that nothing depends on OIDs cached across
 *		DROP/CREATE EXTENSION.
 */
bool
cg_extension_lookup(CgExtension *ext)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	bool		found = false;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum(CG_EXTENSION_NAME));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		Form_pg_extension form = (Form_pg_extension) GETSTRUCT(tup);
		Datum		version;
		bool		isnull;

		ext->extoid = form->oid;
		ext->nspoid = form->extnamespace;
		ext->nspname = get_namespace_name(form->extnamespace);
		version = heap_getattr(tup, Anum_pg_extension_extversion,
							   RelationGetDescr(rel), &isnull);
		ext->extversion = isnull ? pstrdup("") : TextDatumGetCString(version);
		ext->tuple_xmin = HeapTupleHeaderGetXmin(tup->t_data);
		ext->tuple_tid = tup->t_self;
		found = ext->nspname != NULL;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return found;
}

/*
 * cg_extension_members
 *		Returns the extension's member objects, palloc'd in the current
 *		memory context, and their number in *count: the objects pg_depend
 *		marks as the extension's (deptype 'e', by CREATE EXTENSION, ALTER
 *		EXTENSION ADD and the scripts), in the catalog's order.  The schema
 *		fingerprint hashes them all; health()'s triggers row takes the
 *		tables among them.
 */
CgMember *
cg_extension_members(Oid extoid, int *count)
{
	Relation	rel;
	ScanKeyData key[2];
	SysScanDesc scan;
	HeapTuple	tup;
	int			max = 64;
	int			n = 0;
	CgMember   *members = palloc(max * sizeof(CgMember));

	rel = table_open(DependRelationId, AccessShareLock);
	ScanKeyInit(&key[0], Anum_pg_depend_refclassid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(ExtensionRelationId));
	ScanKeyInit(&key[1], Anum_pg_depend_refobjid, BTEqualStrategyNumber,
				F_OIDEQ, ObjectIdGetDatum(extoid));
	scan = systable_beginscan(rel, DependReferenceIndexId, true, NULL, 2, key);
	while (HeapTupleIsValid(tup = systable_getnext(scan)))
	{
		Form_pg_depend dep = (Form_pg_depend) GETSTRUCT(tup);

		if (dep->deptype != DEPENDENCY_EXTENSION)
			continue;
		if (n == max)
		{
			max *= 2;
			members = repalloc(members, max * sizeof(CgMember));
		}
		members[n].classid = dep->classid;
		members[n].objid = dep->objid;
		n++;
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	*count = n;
	return members;
}

/*
 * cg_extension_require
 *		Like cg_extension_lookup but raises an error when the extension is
 *		missing; returns nothing.  For functions that cannot answer without
 *		it.
 */
void
cg_extension_require(CgExtension *ext)
{
	if (!cg_extension_lookup(ext))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("extension \"%s\" is not installed in this database",
						CG_EXTENSION_NAME),
				 errhint("Run CREATE EXTENSION %s.", CG_EXTENSION_NAME)));
}

/*
 * cg_control_default_version
 *		Returns the default_version of the installed control file, or NULL
 *		if it cannot be read.  The value is cached and re-read only when the
 *		file changes (a package upgrade), because health() asks on every call.
 */
const char *
cg_control_default_version(void)
{
	char		sharepath[MAXPGPATH];
	char		path[MAXPGPATH];
	struct stat st;
	FILE	   *fp;
	ConfigVariable *head = NULL;
	ConfigVariable *tail = NULL;
	ConfigVariable *item;
	char	   *found = NULL;

	get_share_path(my_exec_path, sharepath);
	snprintf(path, sizeof(path), "%s/extension/%s.control",
			 sharepath, CG_EXTENSION_NAME);
	if (stat(path, &st) != 0)
		return NULL;
	if (control_default_version != NULL &&
		st.st_ino == control_stat.st_ino &&
		st.st_dev == control_stat.st_dev &&
		st.st_size == control_stat.st_size &&
		st.st_mtime == control_stat.st_mtime)
		return control_default_version;

	fp = AllocateFile(path, "r");
	if (fp == NULL)
		return NULL;
	if (!ParseConfigFp(fp, path, 0, LOG, &head, &tail))
	{
		FreeFile(fp);
		FreeConfigVariables(head);
		return NULL;
	}
	FreeFile(fp);

	for (item = head; item != NULL; item = item->next)
	{
		if (item->name != NULL && item->value != NULL &&
			strcmp(item->name, "default_version") == 0)
			found = item->value;
	}
	if (found != NULL)
	{
		if (control_default_version != NULL)
			pfree(control_default_version);
		control_default_version = MemoryContextStrdup(TopMemoryContext, found);
		control_stat = st;
	}
	FreeConfigVariables(head);
	return found != NULL ? control_default_version : NULL;
}

/*
 * cg_version_compare
 *		Returns <0, 0 or >0 as version a is older than, equal to or newer
 *		than b.  Dotted numeric parts compare as numbers ("1.10" > "1.9"),
 *		anything else as strings.
 */
int
cg_version_compare(const char *a, const char *b)
{
	while (*a != '\0' || *b != '\0')
	{
		if (isdigit((unsigned char) *a) && isdigit((unsigned char) *b))
		{
			char	   *enda;
			char	   *endb;
			unsigned long na = strtoul(a, &enda, 10);
			unsigned long nb = strtoul(b, &endb, 10);

			if (na != nb)
				return na < nb ? -1 : 1;
			a = enda;
			b = endb;
		}
		else if (*a == '\0')
			return -1;
		else if (*b == '\0')
			return 1;
		else
		{
			if (*a != *b)
				return (unsigned char) *a < (unsigned char) *b ? -1 : 1;
			a++;
			b++;
		}
	}
	return 0;
}

/*
 * set_problem
 *		Fills *problem; returns nothing.  Shorthand for the table checks.
 */
static void
set_problem(CgProblem *problem, int sqlerrcode, char *message, const char *hint)
{
	problem->sqlerrcode = sqlerrcode;
	problem->message = message;
	problem->hint = hint ? pstrdup(hint) : NULL;
}

/*
 * cg_open_extension_table
 *		Returns the extension's table relname opened with AccessShareLock,
 *		with attnums[i] set to the attribute number of columns[i]; or NULL
 *		with *problem filled if the table or a column is missing, has the
 *		wrong type, or the user may not read it.  Columns are found by name
 *		so that the C code survives columns added by later versions.  With
 *		nowait, a table locked by another transaction is a problem
 *		(ERRCODE_LOCK_NOT_AVAILABLE) instead of a wait: health() must
 *		answer while an ALTER TABLE or VACUUM FULL runs.
 */
Relation
cg_open_extension_table(const CgExtension *ext, const char *relname,
						const CgColumnSpec *columns, int ncolumns,
						AttrNumber *attnums, bool nowait, CgProblem *problem)
{
	Oid			relid;
	Relation	rel;
	TupleDesc	tupdesc;
	int			i;

	relid = get_relname_relid(relname, ext->nspoid);
	if (OidIsValid(relid) && nowait &&
		!ConditionalLockRelationOid(relid, AccessShareLock))
	{
		set_problem(problem, ERRCODE_LOCK_NOT_AVAILABLE,
					psprintf("relation \"%s.%s\" is locked by another transaction",
							 ext->nspname, relname),
					NULL);
		return NULL;
	}
	if (!OidIsValid(relid) ||
		(rel = try_table_open(relid, nowait ? NoLock : AccessShareLock)) == NULL)
	{
		if (OidIsValid(relid) && nowait)
			UnlockRelationOid(relid, AccessShareLock);
		set_problem(problem, ERRCODE_UNDEFINED_TABLE,
					psprintf("relation \"%s.%s\" does not exist",
							 ext->nspname, relname),
					CG_DAMAGED_HINT);
		return NULL;
	}
	if (rel->rd_rel->relkind != RELKIND_RELATION)
	{
		set_problem(problem, ERRCODE_WRONG_OBJECT_TYPE,
					psprintf("\"%s.%s\" is not a table", ext->nspname, relname),
					CG_DAMAGED_HINT);
		table_close(rel, AccessShareLock);
		return NULL;
	}
	if (pg_class_aclcheck(relid, GetUserId(), ACL_SELECT) != ACLCHECK_OK)
	{
		set_problem(problem, ERRCODE_INSUFFICIENT_PRIVILEGE,
					psprintf("permission denied for table %s", relname),
					psprintf("GRANT SELECT ON %s.%s to the role, or grant it pg_monitor.",
							 ext->nspname, relname));
		table_close(rel, AccessShareLock);
		return NULL;
	}

	tupdesc = RelationGetDescr(rel);
	for (i = 0; i < ncolumns; i++)
	{
		int			j;

		attnums[i] = InvalidAttrNumber;
		for (j = 0; j < tupdesc->natts; j++)
		{
			Form_pg_attribute att = TupleDescAttr(tupdesc, j);

			if (!att->attisdropped &&
				strcmp(NameStr(att->attname), columns[i].name) == 0)
			{
				if (att->atttypid != columns[i].typid)
				{
					set_problem(problem, ERRCODE_DATATYPE_MISMATCH,
								psprintf("column \"%s\" of relation \"%s.%s\" is of type %s, expected %s",
										 columns[i].name, ext->nspname, relname,
										 format_type_be(att->atttypid),
										 format_type_be(columns[i].typid)),
								CG_DAMAGED_HINT);
					table_close(rel, AccessShareLock);
					return NULL;
				}
				attnums[i] = att->attnum;
				break;
			}
		}
		if (attnums[i] == InvalidAttrNumber)
		{
			set_problem(problem, ERRCODE_UNDEFINED_COLUMN,
						psprintf("column \"%s\" of relation \"%s.%s\" does not exist",
								 columns[i].name, ext->nspname, relname),
						CG_DAMAGED_HINT);
			table_close(rel, AccessShareLock);
			return NULL;
		}
	}
	return rel;
}

/*
 * cg_report_problem
 *		Raises *problem as an error; does not return.  For callers that have
 *		no row to report it in.
 */
void
cg_report_problem(const CgProblem *problem)
{
	ereport(ERROR,
			(errcode(problem->sqlerrcode),
			 errmsg_internal("%s", problem->message),
			 problem->hint ? errhint("%s", problem->hint) : 0));
	pg_unreachable();
}
