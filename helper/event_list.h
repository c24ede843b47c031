/*
 * event_list.h
 *		The tunnel's event names: the one list.  Every other copy is made
 *		from it or held to it by a test (test/helper/event_names.t): the
 *		event_emit calls name their event by its id (a name not listed here
 *		does not compile), the spool reads back only these names, the status
 *		reply prints them, and chatgenius-tunnel(8) describes each one.  The
 *		CHECK constraint of chatgenius.tunnel_events accepts, in each
 *		extension version, exactly the names whose "since" is at or below
 *		that version.
 *
 *		Each row: EVENT_NAME(id, name, level, since)
 *		  id	the C name the code emits it by
 *		  name	its name in the log, the spool and tunnel_events.event
 *		  level	the level of its log line (a call may raise it)
 *		  since	the first extension version whose tunnel_events takes it:
 *				until the database is updated to it, the event stays in the
 *				spool (spool.h)
 *
 *		A new event is a row here with the next extension version, a widened
 *		CHECK in that version's update script, and an entry in the EVENTS
 *		section of chatgenius-tunnel(8).
 *
 *		Like PostgreSQL's kwlist.h, this file has no include guard: include
 *		it with EVENT_NAME defined, to make of the rows what that file needs.
 */

/* id						name					level		since */
EVENT_NAME(EV_CONNECTED, "connected", LOG_INFO, "1.0")
EVENT_NAME(EV_DISCONNECTED, "disconnected", LOG_WARN, "1.0")
EVENT_NAME(EV_RECONNECTING, "reconnecting", LOG_WARN, "1.0")
EVENT_NAME(EV_RECONNECTED, "reconnected", LOG_INFO, "1.0")
EVENT_NAME(EV_HEALTH_CHECK_FAILED, "health_check_failed", LOG_WARN, "1.0")
EVENT_NAME(EV_POOL_FULL, "pool_full", LOG_WARN, "1.0")
EVENT_NAME(EV_MAX_RETRIES_EXCEEDED, "maxRetriesExceeded", LOG_ERROR, "1.0")
EVENT_NAME(EV_STOPPED, "stopped", LOG_INFO, "1.0")
EVENT_NAME(EV_EVENTS_DROPPED, "events_dropped", LOG_WARN, "1.0")
EVENT_NAME(EV_PRIMARY_CHANGED, "primary_changed", LOG_WARN, "1.5")
EVENT_NAME(EV_STANDBY_DOWN, "standby_down", LOG_WARN, "1.5")
EVENT_NAME(EV_STANDBY_LAGGING, "standby_lagging", LOG_WARN, "1.5")
EVENT_NAME(EV_SPLIT_BRAIN, "split_brain", LOG_WARN, "1.5")
EVENT_NAME(EV_CHANNEL_OPEN_TIMEOUT, "channel_open_timeout", LOG_WARN, "1.11")
