/*-------------------------------------------------------------------------
 *
 * pool_stats.c
 *	  chatgenius.pool_stats(): one row per tunnel with the pool figures the
 *	  helper reported, the heartbeat's age, and the server's own view of its
 *	  client backends (total, active, idle, idle in transaction).
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "chatgenius.h"

#define POOL_STATS_COLUMNS	16

PG_FUNCTION_INFO_V1(chatgenius_pool_stats);

/*
 * heartbeat_age
 *		Returns the interval from the last heartbeat to now, never negative.
 */
static Interval *
heartbeat_age(TimestampTz last_heartbeat, TimestampTz now)
{
	Interval   *age = palloc0(sizeof(Interval));

	age->time = now > last_heartbeat ? now - last_heartbeat : 0;
	return age;
}

/*
 * chatgenius_pool_stats
 *		SQL chatgenius.pool_stats(): returns a row per tunnel_status row,
 *		ordered by tunnel name.  Raises an error if tunnel_status cannot be
 *		read, since there is no row to report it in.
 */
Datum
chatgenius_pool_stats(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	CgExtension ext;
	CgTunnelRow *rows;
	int			nrows;
	CgProblem	problem;
	CgBackendSummary backends;
	TimestampTz now;
	int			i;

	InitMaterializedSRF(fcinfo, 0);
	if (rsinfo->setDesc->natts != POOL_STATS_COLUMNS)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("function pool_stats() must be declared to return %d columns",
						POOL_STATS_COLUMNS)));

	cg_extension_require(&ext);
	if (!cg_scan_tunnel_status(&ext, &rows, &nrows, false, &problem))
		cg_report_problem(&problem);
	cg_scan_backends(&backends);
	now = GetCurrentTimestamp();

	for (i = 0; i < nrows; i++)
	{
		const CgTunnelRow *row = &rows[i];
		Datum		values[POOL_STATS_COLUMNS];
		bool		nulls[POOL_STATS_COLUMNS];

		memset(nulls, false, sizeof(nulls));
		values[0] = CStringGetTextDatum(row->tunnel_name);
		values[1] = CStringGetTextDatum(row->state);
		values[2] = Int32GetDatum(row->pool_size);
		values[3] = Int32GetDatum(row->sessions_open);
		values[4] = Int32GetDatum(row->channels_active);
		values[5] = Int64GetDatum(row->channels_total);
		values[6] = Int32GetDatum(row->clients_waiting);
		values[7] = Int64GetDatum(row->bytes_in);
		values[8] = Int64GetDatum(row->bytes_out);
		values[9] = Int64GetDatum(row->reconnects);
		if (row->last_heartbeat_isnull)
		{
			nulls[10] = true;
			nulls[11] = true;
			values[10] = values[11] = (Datum) 0;
		}
		else
		{
			values[10] = TimestampTzGetDatum(row->last_heartbeat);
			values[11] = IntervalPGetDatum(heartbeat_age(row->last_heartbeat, now));
		}
		values[12] = Int32GetDatum(backends.client_total);
		values[13] = Int32GetDatum(backends.client_active);
		values[14] = Int32GetDatum(backends.client_idle);
		values[15] = Int32GetDatum(backends.client_idle_in_xact);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
