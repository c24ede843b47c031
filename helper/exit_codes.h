/*
 * exit_codes.h
 *		The helper's exit codes, part of its public contract (the manual's
 *		EXIT STATUS).  A header of their own, so that a module that only
 *		returns them (env_file.c) needs nothing else of the configuration's.
 */
#ifndef CHATGENIUS_EXIT_CODES_H
#define CHATGENIUS_EXIT_CODES_H

#define EXIT_CLEAN			0
#define EXIT_FAILURE_OTHER	1
#define EXIT_BAD_CONFIG		2
#define EXIT_AUTH			3	/* auth refused, host key unknown or changed */
#define EXIT_GAVE_UP		4	/* "max retries exceeded" */

#endif							/* CHATGENIUS_EXIT_CODES_H */
