/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  chatgenius.restoring(): whether the rows being written come from a
 *	  dump rather than from the app, so that the triggers that guard new
 *	  writes (threads, archiving) and announce them (NOTIFY) stand aside.
 *
 *	  pg_dump's output, restored by pg_restore or psql, starts every session
 *	  with "SET check_function_bodies = false" (so do CREATE and ALTER
 *	  EXTENSION while they run a script).  Any role may set that, so it
 *	  counts only in a session that a superuser opened: restoring a dump of
 *	  this superuser-installed extension takes one anyway, and a restore
 *	  signal must be one that only a superuser can give, as
 *	  session_replication_role is (pg_restore --disable-triggers needs one
 *	  too).  session_replication_role = replica, the documented restore
 *	  procedure, keeps ordinary triggers from firing at all; it is checked
 *	  too for triggers marked ENABLE ALWAYS.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/guc.h"

#include "chatgenius.h"

PG_FUNCTION_INFO_V1(chatgenius_restoring);

/*
 * chatgenius_restoring
 *		SQL chatgenius.restoring(): returns true while this session loads a
 *		dump (replication role "replica", or function bodies unchecked in a
 *		superuser's session), false for an application's writes.  The
 *		session user, not the current one: a SECURITY DEFINER function
 *		owned by a superuser does not make its caller's session one.  Used
 *		in the WHEN clause of the rule and NOTIFY triggers, so that a
 *		restore queues no trigger event and no notification for them.
 */
Datum
chatgenius_restoring(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(cg_restoring());
}

/*
 * cg_restoring
 *		Returns what chatgenius.restoring() returns, for the C rule triggers
 *		(rule_trigger.c), which ask it themselves: their trigger also keeps
 *		updated_at, which a restore's UPDATE still sets.
 */
bool
cg_restoring(void)
{
	if (SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA)
		return true;
	return !check_function_bodies && superuser_arg(GetSessionUserId());
}
