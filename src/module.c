/*-------------------------------------------------------------------------
 *
 * module.c
 *	  The chatgenius shared library: module magic, load-time initialisation
 *	  and the chatgenius.* settings that health() compares its checks with.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "utils/guc.h"

#include "chatgenius.h"

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

void		_PG_init(void);

/*
 * define_percent
 *		Defines one percentage threshold; returns nothing.  Exists because
 *		four settings share the same range and context.
 */
static void
define_percent(const char *name, const char *desc, int *var, int boot)
{
	DefineCustomIntVariable(name, desc, NULL, var, boot, 0, 100,
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * define_seconds
 *		Defines one time threshold in seconds (accepting units such as
 *		'5min'); returns nothing.  Exists because five settings share the
 *		same range, unit and context.
 */
static void
define_seconds(const char *name, const char *desc, int *var, int boot)
{
	DefineCustomIntVariable(name, desc, NULL, var, boot, 0, INT_MAX / 1000,
							PGC_USERSET, GUC_UNIT_S, NULL, NULL, NULL);
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
							PGC_USERSET, 0, NULL, NULL, NULL);
}

/*
 * _PG_init
 *		Library load hook; returns nothing.  Defines the health thresholds
 *		and reserves the chatgenius. prefix so that misspelt settings are
 *		reported instead of silently ignored.
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
							 PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomRealVariable("chatgenius.tunnel_critical_intervals",
							 "Heartbeat age, in heartbeat intervals, at which health() reports a tunnel as stale (critical).",
							 NULL, &cg_tunnel_critical_intervals, 3.0, 0.0, 1000000.0,
							 PGC_USERSET, 0, NULL, NULL, NULL);

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

	MarkGUCPrefixReserved("chatgenius");
}
