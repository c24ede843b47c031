/*-------------------------------------------------------------------------
 *
 * health_checks.h
 *	  health()'s checks, in the order of its rows: the one list of their
 *	  names.  health.c runs cg_check_NAME for each, module.c's settings
 *	  table names the check each threshold belongs to (CG_CHECK_NAME, so a
 *	  misspelt one does not compile), and test/extension/vocabulary.t holds
 *	  the documentation's table of checks, verify's output and health()'s
 *	  rows to this list.
 *
 * One line per check, X(name): every check adds at least one row, under
 * that name, on every call.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CHATGENIUS_HEALTH_CHECKS_H
#define CHATGENIUS_HEALTH_CHECKS_H

#define CG_HEALTH_CHECKS(X) \
	X(connections) \
	X(tunnel) \
	X(schema) \
	X(triggers) \
	X(wraparound) \
	X(multixact) \
	X(long_transactions) \
	X(idle_in_transaction) \
	X(prepared_transactions) \
	X(replication_slots) \
	X(locks) \
	X(replication) \
	X(realtime) \
	X(notify_queue)

/* CG_CHECK_connections, ...: a check's place in the list. */
#define CG_CHECK_ENUM_ENTRY(name) CG_CHECK_##name,
typedef enum CgCheckId
{
	CG_HEALTH_CHECKS(CG_CHECK_ENUM_ENTRY)
	CG_NCHECKS
} CgCheckId;
#undef CG_CHECK_ENUM_ENTRY

/* Not a check: a setting that no check reads (module.c). */
#define CG_CHECK_NONE (-1)

#endif							/* CHATGENIUS_HEALTH_CHECKS_H */
