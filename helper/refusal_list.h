/*
 * refusal_list.h
 *		What a client the tunnel cannot serve is told: the one list of the
 *		SQLSTATEs, each with the words its message starts with after
 *		"chatgenius-tunnel: " (the rest says why this time: the setting
 *		that filled up, the last error).  The CLIENTS section of
 *		chatgenius-tunnel(8) describes each row (test/tools/settings_agree.pl
 *		refusals, run by manual.t), and test/helper/refusal.t makes clients
 *		receive each one, checked against the row.
 *
 *		Each row: REFUSAL(id, sqlstate, condition, words)
 *		  id		the C name the code refuses by
 *		  sqlstate	the ErrorResponse's code (PostgreSQL's errcodes.txt)
 *		  condition	its condition name there
 *		  words		the message's first words, after "chatgenius-tunnel: "
 *
 *		Like event_list.h, this file has no include guard: include it with
 *		REFUSAL defined.
 */

/* id					sqlstate	condition	words */
REFUSAL(REFUSAL_POOL_FULL, "53300", "too_many_connections",
		"no more connections allowed: the pool is full")
REFUSAL(REFUSAL_UNREACHABLE, "08001", "sqlclient_unable_to_establish_sqlconnection",
		"cannot reach the database")
REFUSAL(REFUSAL_CHANNEL_FAILED, "08006", "connection_failure",
		"cannot reach the database")
REFUSAL(REFUSAL_SHUTTING_DOWN, "57P01", "admin_shutdown",
		"the tunnel is shutting down")
