/*-------------------------------------------------------------------------
 *
 * chatgenius.h
 *	  Declarations shared by the chatgenius extension's C files: the GUC
 *	  thresholds, the lookups of the extension's own catalog entries and
 *	  tables, the backend status scan and the schema fingerprint.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CHATGENIUS_H
#define CHATGENIUS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "storage/itemptr.h"
#include "utils/relcache.h"

#define CG_EXTENSION_NAME		"chatgenius"

/* GUC thresholds (module.c's settings table) */
extern int	cg_connections_warn_percent;
extern int	cg_connections_critical_percent;
extern double cg_tunnel_warn_intervals;
extern double cg_tunnel_critical_intervals;
extern int	cg_wraparound_warn_percent;
extern int	cg_wraparound_critical_percent;
extern int	cg_long_transaction_warn;
extern int	cg_long_transaction_critical;
extern int	cg_locks_warn_blocked;
extern int	cg_locks_critical_blocked;
extern int	cg_stopped_critical_after;
extern int	cg_multixact_warn_percent;
extern int	cg_multixact_critical_percent;
extern int	cg_prepared_transaction_warn;
extern int	cg_prepared_transaction_critical;
extern int	cg_slot_xmin_warn_age;
extern int	cg_slot_xmin_critical_age;
extern int	cg_replication_expected_standbys;
extern int	cg_replication_lag_warn;	/* ms */
extern int	cg_replication_lag_critical;	/* ms */
extern int	cg_replication_lag_warn_size;	/* kB */
extern int	cg_replication_lag_critical_size;	/* kB */
extern int	cg_idle_in_transaction_warn;	/* s */
extern int	cg_idle_in_transaction_critical;	/* s */
extern double cg_notify_queue_warn_percent;
extern double cg_notify_queue_critical_percent;

/*
 * The installed extension as pg_extension describes it (extension_catalog.c).
 * tuple_xmin and tuple_tid identify the version of the pg_extension row, so
 * that a cached value derived from it notices ALTER EXTENSION UPDATE and
 * pg_extension_config_dump.
 */
typedef struct CgExtension
{
	Oid			extoid;
	Oid			nspoid;
	char	   *nspname;
	char	   *extversion;
	TransactionId tuple_xmin;
	ItemPointerData tuple_tid;
} CgExtension;

/* The hint of every error about an object of the extension changed by hand. */
#define CG_DAMAGED_HINT \
	"An object of the chatgenius extension was altered by hand; undo the change, or restore the database from a dump."

/*
 * Why one of the extension's tables cannot be read: an SQLSTATE, a primary
 * message and a hint, ready for ereport or for a health() detail.
 */
typedef struct CgProblem
{
	int			sqlerrcode;
	char	   *message;
	char	   *hint;
} CgProblem;

/* A column the C code needs from one of the extension's tables. */
typedef struct CgColumnSpec
{
	const char *name;
	Oid			typid;
} CgColumnSpec;

/* One member object of the extension: pg_depend's (classid, objid), deptype 'e'. */
typedef struct CgMember
{
	Oid			classid;
	Oid			objid;
} CgMember;

extern bool cg_extension_lookup(CgExtension *ext);
extern CgMember *cg_extension_members(Oid extoid, int *count);
extern void cg_extension_require(CgExtension *ext);
extern const char *cg_control_default_version(void);
extern int	cg_version_compare(const char *a, const char *b);
extern Relation cg_open_extension_table(const CgExtension *ext,
										const char *relname,
										const CgColumnSpec *columns,
										int ncolumns, AttrNumber *attnums,
										bool nowait, CgProblem *problem);
extern void cg_report_problem(const CgProblem *problem) pg_attribute_noreturn();

/* One scan of the backend status array (backends.c). */
typedef struct CgBackendSummary
{
	int			client_total;	/* client backends, any state */
	int			client_active;	/* running a statement (or fastpath) */
	int			client_idle;
	int			client_idle_in_xact;	/* idle in transaction (aborted too) */
	int			lock_waiters;	/* any backend waiting on a heavyweight lock */
	int			oldest_xact_pid;	/* 0 if no client has a transaction */
	TimestampTz oldest_xact_start;
	int			oldest_idle_in_xact_pid;	/* 0 if none is idle in one */
	TimestampTz oldest_idle_in_xact_since;	/* when it became idle */
	bool		oldest_idle_in_xact_holds_xmin; /* it has an xid or an xmin */
} CgBackendSummary;

extern void cg_scan_backends(CgBackendSummary *summary);

/* One row of chatgenius.tunnel_status (tunnel_status_scan.c). */
typedef struct CgTunnelRow
{
	char	   *tunnel_name;
	char	   *state;
	int32		heartbeat_interval_ms;
	bool		last_heartbeat_isnull;
	TimestampTz last_heartbeat;
	TimestampTz updated_at;
	char	   *last_error;		/* NULL if none */
	int32		pool_size;
	int32		sessions_open;
	int32		channels_active;
	int64		channels_total;
	int32		clients_waiting;
	int64		bytes_in;
	int64		bytes_out;
	int64		reconnects;
} CgTunnelRow;

extern bool cg_scan_tunnel_status(const CgExtension *ext, CgTunnelRow **rows,
								  int *nrows, bool nowait, CgProblem *problem);

/* The schema_migrations row of one version (migrations_scan.c). */
typedef struct CgMigration
{
	bool		found;
	bool		success;
	char	   *fingerprint;	/* NULL if none was recorded */
} CgMigration;

extern bool cg_find_migration(const CgExtension *ext, const char *version,
							  CgMigration *migration, bool nowait,
							  CgProblem *problem);

/* The schema fingerprint, cached per backend (fingerprint.c). */
extern char *cg_schema_fingerprint(const CgExtension *ext, bool nowait,
								   char **locked_relation);

/* Whether this session loads a dump: chatgenius.restoring() (restore.c). */
extern bool cg_restoring(void);

#endif							/* CHATGENIUS_H */
