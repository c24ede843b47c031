/*-------------------------------------------------------------------------
 *
 * health_notify_queue.c
 *	  health()'s notify_queue row: how full the server's NOTIFY queue is, as
 *	  pg_notification_queue_usage() tells.
 *
 * The queue (8 GB in PostgreSQL 15) is shared by every database and is
 * emptied only as far as its slowest listener has read.  One LISTEN
 * connection that stops reading fills it: a client that no longer reads its
 * socket (its backend blocks once the socket's buffers are full), or a
 * session left idle in a transaction (a backend reads the queue only between
 * transactions).  Once it is full, every NOTIFY fails at commit: the realtime
 * notifier's, the realtime triggers' in direct mode and the tunnel's events.
 * PostgreSQL logs a warning from half full on; this row puts the figure
 * where monitoring looks, with thresholds that are real numbers, since 1% is
 * already 80 MB of notifications nobody read.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/fmgroids.h"

#include "chatgenius.h"
#include "health.h"

/*
 * cg_check_notify_queue
 *		Adds the notify_queue row: the queue's use in percent against
 *		chatgenius.notify_queue_warn_percent and _critical_percent, and, when
 *		either is reached, what fills it and what a full queue breaks.
 */
void
cg_check_notify_queue(CheckList *list, const CgHealthContext *ctx)
{
	double		percent = 100.0 * DatumGetFloat8(OidFunctionCall0(F_PG_NOTIFICATION_QUEUE_USAGE));
	CheckStatus status = cg_health_grade(percent, cg_notify_queue_warn_percent,
										 cg_notify_queue_critical_percent);
	StringInfoData detail;

	initStringInfo(&detail);
	if (percent <= 0.0)
		appendStringInfoString(&detail, "the NOTIFY queue is empty");
	else
		appendStringInfo(&detail, percent >= 1.0 ? "the NOTIFY queue is %.1f%% full"
						 : "the NOTIFY queue is %.4f%% full", percent);
	if (status != CHECK_OK && percent > 0.0)
		appendStringInfoString(&detail,
							   ": a listener is not reading (a LISTEN connection idle in a transaction, or a client that stopped reading its socket); once the queue is full every NOTIFY fails at commit");
	cg_health_add(list, CG_CHECK_notify_queue, status, detail.data);
}
