/*-------------------------------------------------------------------------
 *
 * module.c
 *	  The chatgenius shared library: module magic, load-time initialisation,
 *	  the chatgenius.* settings that health() compares its checks with
 *	  (replication's too) and the realtime switch.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "chatgenius.h"
#include "realtime.h"

PG_MODULE_MAGIC;

int			cg_connections_warn_percent = 80;
int			cg_connections_critical_percent = 95;
double		cg_tunnel_warn_intervals = 2.0;
double		cg_tunnel_critical_intervals = 3.0;
int			cg_wraparound_warn_percent = 50;
int			cg_wraparound_critical_percent = 75;
int			cg_long_transaction_warn = 300;
int			cg_long_transaction_critical = 3600;
int			cg_locks_warn_blocked = 1;
int			cg_locks_critical_blocked = 10;
int			cg_stopped_critical_after = 3600;
int			cg_multixact_warn_percent = 50;
int			cg_multixact_critical_percent = 75;
int			cg_prepared_transaction_warn = 300;
int			cg_prepared_transaction_critical = 3600;
int			cg_slot_xmin_warn_age = 10000000;
int			cg_slot_xmin_critical_age = 100000000;
int			cg_replication_expected_standbys = 0;
int			cg_replication_lag_warn = 10000;
int			cg_replication_lag_critical = 60000;
int			cg_replication_lag_warn_size = 16 * 1024;
int			cg_replication_lag_critical_size = 1024 * 1024;
int			cg_realtime = CG_REALTIME_ON;
int			cg_realtime_batch_delay = 2;
int			cg_realtime_delay_warn = 5;
int			cg_realtime_delay_critical = 60;
int			cg_realtime_resume_delay = 10;

static const struct config_enum_entry realtime_options[] = {
	{"on", CG_REALTIME_ON, false},
	{"direct", CG_REALTIME_DIRECT, false},
	{"off", CG_REALTIME_OFF, false},
	{"true", CG_REALTIME_ON, true},
	{"false", CG_REALTIME_OFF, true},
	{NULL, 0, false}
};

void		_PG_init(void);

/*
 * Every health threshold is PGC_SUSET: health() is what monitoring trusts,
 * and a database owner's ALTER DATABASE ... SET (or a role's own ALTER ROLE
 * ... SET) of a threshold would silence it for every session that reads it.
 * A superuser sets them (postgresql.conf, ALTER SYSTEM, ALTER DATABASE).
 */
#define CG_THRESHOLD_CONTEXT	PGC_SUSET

/*
 * define_percent
 *		Defines one percentage threshold; returns nothing.  Exists because
 *		four settings share the same range and context.
 */
static void
define_percent(const char *name, const char *desc, int *var, int boot)
{
	DefineCustomIntVariable(name, desc, NULL, var, boot, 0, 100,
							CG_THRESHOLD_CONTEXT, 0, NULL, NULL, NULL);
}

/*
 * define_seconds
 *		Defines one time threshold in seconds (accepting units such as
 *		'5min'); returns nothing.  Exists because several settings share the
 *		same range, unit and context.
 */
static void
define_seconds(const char *name, const char *desc, int *var, int boot)
{
	DefineCustomIntVariable(name, desc, NULL, var, boot, 0, INT_MAX / 1000,
							CG_THRESHOLD_CONTEXT, GUC_UNIT_S, NULL, NULL, NULL);
}

/*
 * define_count
 *		Defines one threshold counted in backends or transactions; returns
 *		nothing.  Exists because four settings share the same range and
 *		context.
 */
static void
define_count(const char *name, const char *desc, int *var, int boot)
{
	DefineCustomIntVariable(name, desc, NULL, var, boot, 0, INT_MAX,
							CG_THRESHOLD_CONTEXT, 0, NULL, NULL, NULL);
}

/*
 * _PG_init
 *		Library load hook; returns nothing.  Defines the health thresholds
 *		and the realtime settings, reserves the chatgenius. prefix so that
 *		misspelt settings are reported instead of silently ignored, and, when
 *		preloaded, reserves the shared memory of the notifiers.
 */
void
_PG_init(void)
{
	define_percent("chatgenius.connections_warn_percent",
				   "Client connections, in percent of the connections available to non-superusers, at which health() warns.",
				   &cg_connections_warn_percent, 80);
	define_percent("chatgenius.connections_critical_percent",
				   "Client connections, in percent of the connections available to non-superusers, at which health() reports critical.",
				   &cg_connections_critical_percent, 95);

	DefineCustomRealVariable("chatgenius.tunnel_warn_intervals",
							 "Heartbeat age, in heartbeat intervals, at which health() warns about a tunnel.",
							 NULL, &cg_tunnel_warn_intervals, 2.0, 0.0, 1000000.0,
							 CG_THRESHOLD_CONTEXT, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("chatgenius.tunnel_critical_intervals",
							 "Heartbeat age, in heartbeat intervals, at which health() reports a tunnel as stale (critical).",
							 NULL, &cg_tunnel_critical_intervals, 3.0, 0.0, 1000000.0,
							 CG_THRESHOLD_CONTEXT, 0, NULL, NULL, NULL);

	define_percent("chatgenius.wraparound_warn_percent",
				   "Oldest database transaction ID age, in percent of 2^31, at which health() warns.",
				   &cg_wraparound_warn_percent, 50);
	define_percent("chatgenius.wraparound_critical_percent",
				   "Oldest database transaction ID age, in percent of 2^31, at which health() reports critical.",
				   &cg_wraparound_critical_percent, 75);

	define_seconds("chatgenius.long_transaction_warn",
				   "Age of the oldest client transaction at which health() warns.",
				   &cg_long_transaction_warn, 300);
	define_seconds("chatgenius.long_transaction_critical",
				   "Age of the oldest client transaction at which health() reports critical.",
				   &cg_long_transaction_critical, 3600);

	define_count("chatgenius.locks_warn_blocked",
				 "Number of backends waiting on a heavyweight lock at which health() warns.",
				 &cg_locks_warn_blocked, 1);
	define_count("chatgenius.locks_critical_blocked",
				 "Number of backends waiting on a heavyweight lock at which health() reports critical.",
				 &cg_locks_critical_blocked, 10);

	define_seconds("chatgenius.stopped_critical_after",
				   "Time a tunnel may stay stopped (its helper not restarted) before health() reports it critical.",
				   &cg_stopped_critical_after, 3600);

	define_percent("chatgenius.multixact_warn_percent",
				   "Oldest database multixact ID age, in percent of 2^31, at which health() warns.",
				   &cg_multixact_warn_percent, 50);
	define_percent("chatgenius.multixact_critical_percent",
				   "Oldest database multixact ID age, in percent of 2^31, at which health() reports critical.",
				   &cg_multixact_critical_percent, 75);

	define_seconds("chatgenius.prepared_transaction_warn",
				   "Age of the oldest prepared transaction at which health() warns.",
				   &cg_prepared_transaction_warn, 300);
	define_seconds("chatgenius.prepared_transaction_critical",
				   "Age of the oldest prepared transaction at which health() reports critical.",
				   &cg_prepared_transaction_critical, 3600);

	define_count("chatgenius.slot_xmin_warn_age",
				 "Age, in transactions, of the oldest xmin held by a replication slot at which health() warns.",
				 &cg_slot_xmin_warn_age, 10000000);
	define_count("chatgenius.slot_xmin_critical_age",
				 "Age, in transactions, of the oldest xmin held by a replication slot at which health() reports critical.",
				 &cg_slot_xmin_critical_age, 100000000);

	define_count("chatgenius.replication_expected_standbys",
				 "Number of standbys that should be connected to the primary; fewer is critical in health() (0: no expectation).",
				 &cg_replication_expected_standbys, 0);
	DefineCustomIntVariable("chatgenius.replication_lag_warn",
							"Replication lag (write, flush or replay, or a standby's replay) at which health() warns.",
							NULL, &cg_replication_lag_warn, 10000, 0, INT_MAX,
							CG_THRESHOLD_CONTEXT, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("chatgenius.replication_lag_critical",
							"Replication lag (write, flush or replay, or a standby's replay) at which health() reports critical.",
							NULL, &cg_replication_lag_critical, 60000, 0, INT_MAX,
							CG_THRESHOLD_CONTEXT, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("chatgenius.replication_lag_warn_size",
							"WAL a standby has not replayed yet at which health() warns.",
							NULL, &cg_replication_lag_warn_size, 16 * 1024, 0, INT_MAX,
							CG_THRESHOLD_CONTEXT, GUC_UNIT_KB, NULL, NULL, NULL);
	DefineCustomIntVariable("chatgenius.replication_lag_critical_size",
							"WAL a standby has not replayed yet at which health() reports critical.",
							NULL, &cg_replication_lag_critical_size, 1024 * 1024, 0, INT_MAX,
							CG_THRESHOLD_CONTEXT, GUC_UNIT_KB, NULL, NULL, NULL);

	/*
	 * Superuser only: a session that turned it off would silence its
	 * changes for every listener.
	 */
	DefineCustomEnumVariable("chatgenius.realtime",
							 "How changes to messages, reactions, channel_members and user_status reach listeners: on (outbox and notifier), direct (NOTIFY in the writing transaction) or off.",
							 "Without chatgenius in shared_preload_libraries, on behaves as direct.",
							 &cg_realtime, CG_REALTIME_ON, realtime_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("chatgenius.realtime_batch_delay",
							"Pause of the notifier between two batches of notifications.",
							NULL, &cg_realtime_batch_delay, 2, 0, 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);

	define_seconds("chatgenius.realtime_delay_warn",
				   "Age of the oldest change not yet sent by the notifier at which health() warns.",
				   &cg_realtime_delay_warn, 5);
	define_seconds("chatgenius.realtime_delay_critical",
				   "Age of the oldest change not yet sent by the notifier at which health() reports critical.",
				   &cg_realtime_delay_critical, 60);
	DefineCustomIntVariable("chatgenius.realtime_resume_delay",
							"Time after the server starts accepting writes (start, crash recovery, promotion) before the notifiers send the changes left in the outboxes.",
							"Gives LISTEN connections cut by a failover time to reconnect; a change committed meanwhile sends them at once.",
							&cg_realtime_resume_delay, 10, 0, 3600,
							PGC_SIGHUP, GUC_UNIT_S, NULL, NULL, NULL);

	MarkGUCPrefixReserved("chatgenius");

	cg_realtime_xact_callback_register();
	if (process_shared_preload_libraries_in_progress)
	{
		cg_realtime_shmem_init_hooks();
		cg_notifier_launcher_register();
	}
}
