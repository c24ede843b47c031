/*-------------------------------------------------------------------------
 *
 * health.h
 *	  The interface between health.c, which runs the checks, and the checks
 *	  themselves, in health.c and in files of their own (health_replication.c,
 *	  health_triggers.c, ...): a check appends rows to the list under its own
 *	  name and grades its measures with the same rule as the others.  A new
 *	  check is a line in health_checks.h and a function cg_check_NAME.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CHATGENIUS_HEALTH_H
#define CHATGENIUS_HEALTH_H

#include "postgres.h"

#include "datatype/timestamp.h"

#include "chatgenius.h"
#include "health_checks.h"

typedef enum CheckStatus
{
	CHECK_OK,
	CHECK_WARN,
	CHECK_CRITICAL
} CheckStatus;

typedef struct CheckRow
{
	CgCheckId	check;
	CheckStatus status;
	char	   *detail;
} CheckRow;

typedef struct CheckList
{
	CheckRow   *rows;
	int			n;
	int			max;
} CheckList;

/*
 * What every check may read, gathered once per call: the installed
 * extension (NULL when it is not), one scan of the backend status array and
 * the time the checks measure ages against.
 */
typedef struct CgHealthContext
{
	const CgExtension *ext;
	CgBackendSummary backends;
	TimestampTz now;
} CgHealthContext;

extern const char *const cg_check_names[CG_NCHECKS];

extern void cg_health_add(CheckList *list, CgCheckId check,
						  CheckStatus status, char *detail);
extern CheckStatus cg_health_grade(double value, double warn, double critical);
extern double cg_seconds_between(TimestampTz earlier, TimestampTz later);

/* void cg_check_connections(CheckList *list, const CgHealthContext *ctx); ... */
#define CG_CHECK_PROTOTYPE(name) \
	extern void cg_check_##name(CheckList *list, const CgHealthContext *ctx);
CG_HEALTH_CHECKS(CG_CHECK_PROTOTYPE)
#undef CG_CHECK_PROTOTYPE

#endif							/* CHATGENIUS_HEALTH_H */
