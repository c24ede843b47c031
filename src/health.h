/*-------------------------------------------------------------------------
 *
 * health.h
 *	  The interface between health.c and the checks kept in files of their
 *	  own (health_replication.c, ...): a check appends rows to the list and
 *	  grades its measures with the same rule as the others.  A new check is a
 *	  function of type CgHealthCheck, declared here and listed in health.c's
 *	  extra_checks.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CHATGENIUS_HEALTH_H
#define CHATGENIUS_HEALTH_H

#include "postgres.h"

typedef enum CheckStatus
{
	CHECK_OK,
	CHECK_WARN,
	CHECK_CRITICAL
} CheckStatus;

typedef struct CheckRow
{
	const char *check_name;
	CheckStatus status;
	char	   *detail;
} CheckRow;

typedef struct CheckList
{
	CheckRow   *rows;
	int			n;
	int			max;
} CheckList;

typedef void (*CgHealthCheck) (CheckList *list);

extern void cg_health_add(CheckList *list, const char *check_name,
						  CheckStatus status, char *detail);
extern CheckStatus cg_health_grade(double value, double warn, double critical);

/* health_replication.c */
extern void cg_check_replication(CheckList *list);

/* health_realtime.c */
extern void cg_check_realtime(CheckList *list);

#endif							/* CHATGENIUS_HEALTH_H */
