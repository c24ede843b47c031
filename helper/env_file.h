/*
 * env_file.h
 *		The env file's grammar, as a shell and the dotenv loaders of the app
 *		read it: KEY=VALUE lines, blank lines and # comments, an optional
 *		"export ", 'single quotes' taken literally, "double quotes" knowing
 *		\n \" \\, and an unquoted value ending at " #" (an inline comment).
 *		What the names mean is the settings table's business (config.c):
 *		each assignment is handed to a callback, in file order.
 */
#ifndef CHATGENIUS_ENV_FILE_H
#define CHATGENIUS_ENV_FILE_H

#include <stddef.h>
#include <sys/stat.h>

/* Most bytes read from an env file: settings, not data. */
#define ENV_FILE_MAX (1024 * 1024)

/*
 * Called for each KEY=VALUE line (value unquoted; it may be empty).
 * Returns EXIT_CLEAN to go on, or an exit code (exit_codes.h) with errbuf
 * filled to stop the parse there.
 */
typedef int (*env_assign_fn) (const char *key, const char *value, int lineno,
							  void *arg, char *errbuf, size_t errlen);

/*
 * Parse text (len bytes; a NUL byte is refused), naming the file as path
 * in messages, and hand each assignment to assign.  Returns EXIT_CLEAN,
 * the callback's code, or EXIT_BAD_CONFIG with errbuf naming the file and
 * the line (EXIT_FAILURE_OTHER out of memory).
 */
extern int	env_file_parse(const char *text, size_t len, const char *path,
						   env_assign_fn assign, void *arg, char *errbuf, size_t errlen);

/*
 * Read the file at path, at most ENV_FILE_MAX bytes, into *text (malloc'd,
 * *len bytes; the caller wipes and frees it: it may hold secrets), with
 * its fstat in *st, so that the mode judged is the one of the file read.
 * Returns EXIT_CLEAN, or EXIT_BAD_CONFIG with errbuf naming the file
 * (EXIT_FAILURE_OTHER out of memory).
 */
extern int	env_file_read(const char *path, char **text, size_t *len, struct stat *st,
						  char *errbuf, size_t errlen);

#endif							/* CHATGENIUS_ENV_FILE_H */
