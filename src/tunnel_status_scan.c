/*-------------------------------------------------------------------------
 *
 * tunnel_status_scan.c
 *	  Reads chatgenius.tunnel_status, the table the tunnel helper writes
 *	  through report_status(), with a plain heap scan: no SPI, no SQL text,
 *	  and never a look at tunnel_events.
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
#include "utils/timestamp.h"

#include "chatgenius.h"

enum
{
	COL_TUNNEL_NAME,
	COL_STATE,
	COL_HEARTBEAT_INTERVAL_MS,
	COL_LAST_HEARTBEAT,
	COL_LAST_ERROR,
	COL_POOL_SIZE,
	COL_SESSIONS_OPEN,
	COL_CHANNELS_ACTIVE,
	COL_CHANNELS_TOTAL,
	COL_CLIENTS_WAITING,
	COL_BYTES_IN,
	COL_BYTES_OUT,
	COL_RECONNECTS,
	COL_UPDATED_AT,
	NUM_TUNNEL_COLUMNS
};

static const CgColumnSpec tunnel_columns[NUM_TUNNEL_COLUMNS] = {
	[COL_TUNNEL_NAME] = {"tunnel_name", TEXTOID},
	[COL_STATE] = {"state", TEXTOID},
	[COL_HEARTBEAT_INTERVAL_MS] = {"heartbeat_interval_ms", INT4OID},
	[COL_LAST_HEARTBEAT] = {"last_heartbeat", TIMESTAMPTZOID},
	[COL_LAST_ERROR] = {"last_error", TEXTOID},
	[COL_POOL_SIZE] = {"pool_size", INT4OID},
	[COL_SESSIONS_OPEN] = {"sessions_open", INT4OID},
	[COL_CHANNELS_ACTIVE] = {"channels_active", INT4OID},
	[COL_CHANNELS_TOTAL] = {"channels_total", INT8OID},
	[COL_CLIENTS_WAITING] = {"clients_waiting", INT4OID},
	[COL_BYTES_IN] = {"bytes_in", INT8OID},
	[COL_BYTES_OUT] = {"bytes_out", INT8OID},
	[COL_RECONNECTS] = {"reconnects", INT8OID},
	[COL_UPDATED_AT] = {"updated_at", TIMESTAMPTZOID},
};

/*
 * compare_tunnel_rows
 *		qsort comparator; returns the byte order of the tunnel names, which
 *		makes health() and pool_stats() list tunnels in a stable order.
 */
static int
compare_tunnel_rows(const void *a, const void *b)
{
	return strcmp(((const CgTunnelRow *) a)->tunnel_name,
				  ((const CgTunnelRow *) b)->tunnel_name);
}

/*
 * slot_text
 *		Returns column i of the slot as a palloc'd C string, or NULL if the
 *		value is null.
 */
static char *
slot_text(TupleTableSlot *slot, AttrNumber attnum)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/*
 * slot_int64
 *		Returns column attnum of the slot as int64 (0 if null); is_int4 says
 *		whether the column is an integer rather than a bigint.
 */
static int64
slot_int64(TupleTableSlot *slot, AttrNumber attnum, bool is_int4)
{
	bool		isnull;
	Datum		d = slot_getattr(slot, attnum, &isnull);

	if (isnull)
		return 0;
	return is_int4 ? (int64) DatumGetInt32(d) : DatumGetInt64(d);
}

/*
 * cg_scan_tunnel_status
 *		Sets *rows and *nrows to the rows of tunnel_status, sorted by name,
 *		as the current snapshot sees them; returns true.  Returns false with
 *		*problem filled if the table cannot be read, or with nowait is
 *		locked (see cg_open_extension_table).
 */
bool
cg_scan_tunnel_status(const CgExtension *ext, CgTunnelRow **rows, int *nrows,
					  bool nowait, CgProblem *problem)
{
	AttrNumber	att[NUM_TUNNEL_COLUMNS];
	Relation	rel;
	Snapshot	snapshot;
	TableScanDesc scan;
	TupleTableSlot *slot;
	int			allocated = 16;
	int			n = 0;
	CgTunnelRow *result;

	rel = cg_open_extension_table(ext, "tunnel_status", tunnel_columns,
								  NUM_TUNNEL_COLUMNS, att, nowait, problem);
	if (rel == NULL)
		return false;

	result = palloc(allocated * sizeof(CgTunnelRow));
	snapshot = RegisterSnapshot(ActiveSnapshotSet() ? GetActiveSnapshot()
								: GetTransactionSnapshot());
	scan = table_beginscan(rel, snapshot, 0, NULL);
	slot = table_slot_create(rel, NULL);
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
	{
		CgTunnelRow *row;
		bool		isnull;
		Datum		d;

		if (n == allocated)
		{
			allocated *= 2;
			result = repalloc(result, allocated * sizeof(CgTunnelRow));
		}
		row = &result[n++];
		row->tunnel_name = slot_text(slot, att[COL_TUNNEL_NAME]);
		if (row->tunnel_name == NULL)
			row->tunnel_name = pstrdup("");
		row->state = slot_text(slot, att[COL_STATE]);
		if (row->state == NULL)
			row->state = pstrdup("");
		row->heartbeat_interval_ms = (int32) slot_int64(slot, att[COL_HEARTBEAT_INTERVAL_MS], true);
		d = slot_getattr(slot, att[COL_LAST_HEARTBEAT], &isnull);
		row->last_heartbeat_isnull = isnull;
		row->last_heartbeat = isnull ? 0 : DatumGetTimestampTz(d);
		d = slot_getattr(slot, att[COL_UPDATED_AT], &isnull);
		row->updated_at = isnull ? 0 : DatumGetTimestampTz(d);
		row->last_error = slot_text(slot, att[COL_LAST_ERROR]);
		row->pool_size = (int32) slot_int64(slot, att[COL_POOL_SIZE], true);
		row->sessions_open = (int32) slot_int64(slot, att[COL_SESSIONS_OPEN], true);
		row->channels_active = (int32) slot_int64(slot, att[COL_CHANNELS_ACTIVE], true);
		row->channels_total = slot_int64(slot, att[COL_CHANNELS_TOTAL], false);
		row->clients_waiting = (int32) slot_int64(slot, att[COL_CLIENTS_WAITING], true);
		row->bytes_in = slot_int64(slot, att[COL_BYTES_IN], false);
		row->bytes_out = slot_int64(slot, att[COL_BYTES_OUT], false);
		row->reconnects = slot_int64(slot, att[COL_RECONNECTS], false);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
	UnregisterSnapshot(snapshot);
	table_close(rel, AccessShareLock);

	qsort(result, n, sizeof(CgTunnelRow), compare_tunnel_rows);
	*rows = result;
	*nrows = n;
	return true;
}
