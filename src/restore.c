/*-------------------------------------------------------------------------
 *
 * restore.c
 *	  chatgenius.restoring(): whether the rows being written come from a
 *	  dump rather than from the app, so that the triggers that guard new
 *	  writes (threads, archiving) and announce them (NOTIFY) stand aside.
 *
 *	  pg_dump's output, restored by pg_restore or psql, starts every session
 *	  with "SET check_function_bodies = false" (so do CREATE and ALTER
 *	  EXTENSION while they run a script); an application never needs it.
 *	  session_replication_role = replica, the documented restore procedure,
 *	  keeps ordinary triggers from firing at all; it is checked too for
 *	  triggers marked ENABLE ALWAYS.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/guc.h"

#include "chatgenius.h"

PG_FUNCTION_INFO_V1(chatgenius_restoring);

/*
 * chatgenius_restoring
 *		SQL chatgenius.restoring(): returns true while this session loads a
 *		dump (function bodies unchecked, or replication role "replica"),
 *		false for an application's writes.  Used in the WHEN clause of the
 *		rule and NOTIFY triggers, so that a restore queues no trigger event
 *		and no notification for them.
 */
Datum
chatgenius_restoring(PG_FUNCTION_ARGS)
{
	PG_RETURN_BOOL(!check_function_bodies ||
				   SessionReplicationRole == SESSION_REPLICATION_ROLE_REPLICA);
}
