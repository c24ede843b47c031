/*-------------------------------------------------------------------------
 *
 * migrations_scan.c
 *	  Finds the chatgenius.schema_migrations row of one version with a heap
 *	  scan, for health()'s schema check: is the installed version recorded,
 *	  did it succeed, and which schema fingerprint did it leave behind.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/table.h"
#include "access/tableam.h"
#include "catalog/pg_type.h"
#include "executor/tuptable.h"
#include "utils/builtins.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "chatgenius.h"

enum
{
	COL_VERSION,
	COL_FINGERPRINT,
	COL_SUCCESS,
	NUM_MIGRATION_COLUMNS
};

static const CgColumnSpec migration_columns[NUM_MIGRATION_COLUMNS] = {
	[COL_VERSION] = {"version", TEXTOID},
	[COL_FINGERPRINT] = {"fingerprint", TEXTOID},
	[COL_SUCCESS] = {"success", BOOLOID},
};

/*
 * cg_find_migration
 *		Fills *migration with the schema_migrations row whose version equals
 *		version (found = false if there is none); returns true.  Returns
 *		false with *problem filled if the table cannot be read (or with
 *		nowait is locked).  The history
 *		holds one row per applied script, so a scan is cheaper than an index
 *		lookup's setup.
 */
bool
cg_find_migration(const CgExtension *ext, const char *version,
				  CgMigration *migration, bool nowait, CgProblem *problem)
{
	AttrNumber	att[NUM_MIGRATION_COLUMNS];
	Relation	rel;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;

	memset(migration, 0, sizeof(*migration));
	rel = cg_open_extension_table(ext, "schema_migrations", migration_columns,
								  NUM_MIGRATION_COLUMNS, att, nowait, problem);
	if (rel == NULL)
		return false;

	snapshot = RegisterSnapshot(ActiveSnapshotSet() ? GetActiveSnapshot()
								: GetTransactionSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		bool		isnull;
		Datum		d = slot_getattr(slot, att[COL_VERSION], &isnull);
		char	   *v;

		if (isnull)
			continue;
		v = TextDatumGetCString(d);
		if (strcmp(v, version) != 0)
			continue;

		migration->found = true;
		d = slot_getattr(slot, att[COL_SUCCESS], &isnull);
		migration->success = isnull ? true : DatumGetBool(d);
		d = slot_getattr(slot, att[COL_FINGERPRINT], &isnull);
		migration->fingerprint = isnull ? NULL : TextDatumGetCString(d);
		break;
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);
	return true;
}
