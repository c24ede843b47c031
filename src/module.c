/*-------------------------------------------------------------------------
 *
 * module.c
 *	  The chatgenius shared library: module magic, load-time initialisation
 *	  and the chatgenius.* settings, defined from one table (settings[]):
 *	  health()'s thresholds, each naming the check of health_checks.h that
 *	  reads it, and the realtime settings.  The table is the settings' one
 *	  source: their C variables take their defaults from it, pg_settings
 *	  shows it (a threshold's extra_desc names its check), and
 *	  test/extension/vocabulary.t holds the documentation to pg_settings.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <limits.h>

#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "chatgenius.h"
#include "health_checks.h"
#include "realtime.h"

PG_MODULE_MAGIC;

/* The settings' variables; _PG_init gives each its default from settings[]. */
int			cg_connections_warn_percent;
int			cg_connections_critical_percent;
double		cg_tunnel_warn_intervals;
double		cg_tunnel_critical_intervals;
int			cg_stopped_critical_after;
int			cg_wraparound_warn_percent;
int			cg_wraparound_critical_percent;
int			cg_multixact_warn_percent;
int			cg_multixact_critical_percent;
int			cg_long_transaction_warn;
int			cg_long_transaction_critical;
int			cg_idle_in_transaction_warn;
int			cg_idle_in_transaction_critical;
int			cg_prepared_transaction_warn;
int			cg_prepared_transaction_critical;
int			cg_slot_xmin_warn_age;
int			cg_slot_xmin_critical_age;
int			cg_locks_warn_blocked;
int			cg_locks_critical_blocked;
int			cg_replication_expected_standbys;
int			cg_replication_lag_warn;
int			cg_replication_lag_critical;
int			cg_replication_lag_warn_size;
int			cg_replication_lag_critical_size;
int			cg_realtime;
int			cg_realtime_batch_delay;
int			cg_realtime_delay_warn;
int			cg_realtime_delay_critical;
int			cg_realtime_resume_delay;
double		cg_notify_queue_warn_percent;
double		cg_notify_queue_critical_percent;

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

typedef enum CgSettingType
{
	CG_SETTING_INT,
	CG_SETTING_REAL,
	CG_SETTING_ENUM
} CgSettingType;

/* One chatgenius.* setting. */
typedef struct CgSetting
{
	const char *name;			/* after "chatgenius." */
	CgSettingType type;
	void	   *variable;		/* int * (INT, ENUM) or double * (REAL) */
	double		boot;			/* the default */
	double		min;
	double		max;
	int			flags;			/* GUC_UNIT_* */
	GucContext	context;
	int			check;			/* CgCheckId that reads it, or CG_CHECK_NONE */
	const char *short_desc;
	const char *long_desc;		/* NULL: none; a check's setting gets
								 * check_long_desc[check] */
	const struct config_enum_entry *options;	/* ENUM */
} CgSetting;

/*
 * The shapes most thresholds share: a percentage, a time in seconds
 * (accepting units such as '5min'), a count of backends or transactions.
 */
#define PERCENT(name, check, var, boot, desc) \
	{name, CG_SETTING_INT, &var, boot, 0, 100, 0, CG_THRESHOLD_CONTEXT, CG_CHECK_##check, desc}
#define SECONDS(name, check, var, boot, desc) \
	{name, CG_SETTING_INT, &var, boot, 0, INT_MAX / 1000, GUC_UNIT_S, CG_THRESHOLD_CONTEXT, CG_CHECK_##check, desc}
#define COUNT(name, check, var, boot, desc) \
	{name, CG_SETTING_INT, &var, boot, 0, INT_MAX, 0, CG_THRESHOLD_CONTEXT, CG_CHECK_##check, desc}

static const CgSetting settings[] = {
	PERCENT("connections_warn_percent", connections, cg_connections_warn_percent, 80,
			"Client connections, in percent of the connections available to non-superusers, at which health() warns."),
	PERCENT("connections_critical_percent", connections, cg_connections_critical_percent, 95,
			"Client connections, in percent of the connections available to non-superusers, at which health() reports critical."),
	{"tunnel_warn_intervals", CG_SETTING_REAL, &cg_tunnel_warn_intervals, 2.0, 0.0, 1000000.0,
		0, CG_THRESHOLD_CONTEXT, CG_CHECK_tunnel,
		"Heartbeat age, in heartbeat intervals, at which health() warns about a tunnel."},
	{"tunnel_critical_intervals", CG_SETTING_REAL, &cg_tunnel_critical_intervals, 3.0, 0.0, 1000000.0,
		0, CG_THRESHOLD_CONTEXT, CG_CHECK_tunnel,
		"Heartbeat age, in heartbeat intervals, at which health() reports a tunnel as stale (critical)."},
	SECONDS("stopped_critical_after", tunnel, cg_stopped_critical_after, 3600,
			"Time a tunnel may stay stopped (its helper not restarted) before health() reports it critical."),
	PERCENT("wraparound_warn_percent", wraparound, cg_wraparound_warn_percent, 50,
			"Oldest database transaction ID age, in percent of 2^31, at which health() warns."),
	PERCENT("wraparound_critical_percent", wraparound, cg_wraparound_critical_percent, 75,
			"Oldest database transaction ID age, in percent of 2^31, at which health() reports critical."),
	PERCENT("multixact_warn_percent", multixact, cg_multixact_warn_percent, 50,
			"Oldest database multixact ID age, in percent of 2^31, at which health() warns."),
	PERCENT("multixact_critical_percent", multixact, cg_multixact_critical_percent, 75,
			"Oldest database multixact ID age, in percent of 2^31, at which health() reports critical."),
	SECONDS("long_transaction_warn", long_transactions, cg_long_transaction_warn, 300,
			"Age of the oldest client transaction at which health() warns."),
	SECONDS("long_transaction_critical", long_transactions, cg_long_transaction_critical, 3600,
			"Age of the oldest client transaction at which health() reports critical."),
	SECONDS("idle_in_transaction_warn", idle_in_transaction, cg_idle_in_transaction_warn, 60,
			"Time the oldest session idle in a transaction has been idle at which health() warns."),
	SECONDS("idle_in_transaction_critical", idle_in_transaction, cg_idle_in_transaction_critical, 600,
			"Time the oldest session idle in a transaction has been idle at which health() reports critical."),
	SECONDS("prepared_transaction_warn", prepared_transactions, cg_prepared_transaction_warn, 300,
			"Age of the oldest prepared transaction at which health() warns."),
	SECONDS("prepared_transaction_critical", prepared_transactions, cg_prepared_transaction_critical, 3600,
			"Age of the oldest prepared transaction at which health() reports critical."),
	COUNT("slot_xmin_warn_age", replication_slots, cg_slot_xmin_warn_age, 10000000,
		  "Age, in transactions, of the oldest xmin held by a replication slot at which health() warns."),
	COUNT("slot_xmin_critical_age", replication_slots, cg_slot_xmin_critical_age, 100000000,
		  "Age, in transactions, of the oldest xmin held by a replication slot at which health() reports critical."),
	COUNT("locks_warn_blocked", locks, cg_locks_warn_blocked, 1,
		  "Number of backends waiting on a heavyweight lock at which health() warns."),
	COUNT("locks_critical_blocked", locks, cg_locks_critical_blocked, 10,
		  "Number of backends waiting on a heavyweight lock at which health() reports critical."),
	COUNT("replication_expected_standbys", replication, cg_replication_expected_standbys, 0,
		  "Number of standbys that should be connected to the primary; fewer is critical in health() (0: no expectation)."),
	{"replication_lag_warn", CG_SETTING_INT, &cg_replication_lag_warn, 10000, 0, INT_MAX,
		GUC_UNIT_MS, CG_THRESHOLD_CONTEXT, CG_CHECK_replication,
		"Replication lag (write, flush or replay, or a standby's replay) at which health() warns."},
	{"replication_lag_critical", CG_SETTING_INT, &cg_replication_lag_critical, 60000, 0, INT_MAX,
		GUC_UNIT_MS, CG_THRESHOLD_CONTEXT, CG_CHECK_replication,
		"Replication lag (write, flush or replay, or a standby's replay) at which health() reports critical."},
	{"replication_lag_warn_size", CG_SETTING_INT, &cg_replication_lag_warn_size, 16 * 1024, 0, INT_MAX,
		GUC_UNIT_KB, CG_THRESHOLD_CONTEXT, CG_CHECK_replication,
		"WAL a standby has not replayed yet at which health() warns."},
	{"replication_lag_critical_size", CG_SETTING_INT, &cg_replication_lag_critical_size, 1024 * 1024, 0, INT_MAX,
		GUC_UNIT_KB, CG_THRESHOLD_CONTEXT, CG_CHECK_replication,
		"WAL a standby has not replayed yet at which health() reports critical."},
	SECONDS("realtime_delay_warn", realtime, cg_realtime_delay_warn, 5,
			"Age of the oldest change not yet sent by the notifier at which health() warns."),
	SECONDS("realtime_delay_critical", realtime, cg_realtime_delay_critical, 60,
			"Age of the oldest change not yet sent by the notifier at which health() reports critical."),
	{"notify_queue_warn_percent", CG_SETTING_REAL, &cg_notify_queue_warn_percent, 10.0, 0.0, 100.0,
		0, CG_THRESHOLD_CONTEXT, CG_CHECK_notify_queue,
		"Use of the NOTIFY queue, in percent of its size, at which health() warns."},
	{"notify_queue_critical_percent", CG_SETTING_REAL, &cg_notify_queue_critical_percent, 50.0, 0.0, 100.0,
		0, CG_THRESHOLD_CONTEXT, CG_CHECK_notify_queue,
		"Use of the NOTIFY queue, in percent of its size, at which health() reports critical."},

	/*
	 * Superuser only: a session that turned it off would silence its
	 * changes for every listener.
	 */
	{"realtime", CG_SETTING_ENUM, &cg_realtime, CG_REALTIME_ON, 0, 0,
		0, PGC_SUSET, CG_CHECK_NONE,
		"How changes to messages, reactions, channel_members and user_status reach listeners: on (outbox and notifier), direct (NOTIFY in the writing transaction) or off.",
		"Without chatgenius in shared_preload_libraries, on behaves as direct.",
		realtime_options},
	{"realtime_batch_delay", CG_SETTING_INT, &cg_realtime_batch_delay, 2, 0, 1000,
		GUC_UNIT_MS, PGC_SIGHUP, CG_CHECK_NONE,
		"Pause of the notifier between two batches of notifications."},
	{"realtime_resume_delay", CG_SETTING_INT, &cg_realtime_resume_delay, 10, 0, 3600,
		GUC_UNIT_S, PGC_SIGHUP, CG_CHECK_NONE,
		"Time after the server starts accepting writes (start, crash recovery, promotion) before the notifiers send the changes left in the outboxes.",
		"Gives LISTEN connections cut by a failover time to reconnect; a change committed meanwhile sends them at once."},
};

/* The extra_desc of a check's settings: which health() check reads them. */
#define CG_CHECK_LONG_DESC(name) "Read by the health() check " #name ".",
static const char *const check_long_desc[CG_NCHECKS] = {
	CG_HEALTH_CHECKS(CG_CHECK_LONG_DESC)
};
#undef CG_CHECK_LONG_DESC

/*
 * define_setting
 *		Defines one setting of the table as chatgenius.NAME; returns nothing.
 *		The full name is allocated in TopMemoryContext: the GUC machinery
 *		keeps the pointer.
 */
static void
define_setting(const CgSetting *s)
{
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	const char *name = psprintf("chatgenius.%s", s->name);
	const char *long_desc = s->check != CG_CHECK_NONE
		? check_long_desc[s->check] : s->long_desc;

	switch (s->type)
	{
		case CG_SETTING_INT:
			DefineCustomIntVariable(name, s->short_desc, long_desc, (int *) s->variable,
									(int) s->boot, (int) s->min, (int) s->max,
									s->context, s->flags, NULL, NULL, NULL);
			break;
		case CG_SETTING_REAL:
			DefineCustomRealVariable(name, s->short_desc, long_desc, (double *) s->variable,
									 s->boot, s->min, s->max,
									 s->context, s->flags, NULL, NULL, NULL);
			break;
		case CG_SETTING_ENUM:
			DefineCustomEnumVariable(name, s->short_desc, long_desc, (int *) s->variable,
									 (int) s->boot, s->options,
									 s->context, s->flags, NULL, NULL, NULL);
			break;
	}
	MemoryContextSwitchTo(old);
}

/*
 * _PG_init
 *		Library load hook; returns nothing.  Defines the settings of the
 *		table, reserves the chatgenius. prefix so that misspelt settings are
 *		reported instead of silently ignored, and, when preloaded, reserves
 *		the shared memory of the notifiers.
 */
void
_PG_init(void)
{
	for (int i = 0; i < lengthof(settings); i++)
		define_setting(&settings[i]);

	MarkGUCPrefixReserved("chatgenius");

	cg_realtime_xact_callback_register();
	if (process_shared_preload_libraries_in_progress)
	{
		cg_realtime_shmem_init_hooks();
		cg_notifier_launcher_register();
	}
}
