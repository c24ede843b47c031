/*
 * env_file.c
 *		The env file's grammar (see env_file.h): reading the file within its
 *		bound, and cutting it into assignments.  It knows no setting: the
 *		callback decides what a name means.
 */
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "env_file.h"
#include "exit_codes.h"

/* Trim leading and trailing white space in place.  Returns the start. */
static char *
trim(char *s)
{
	char	   *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char) e[-1]))
		*--e = '\0';
	return s;
}

/*
 * Parse one env file value in place: 'single quoted' is literal, "double
 * quoted" knows \n \" \\, unquoted ends at " #" (an inline comment).
 * Returns the value, or NULL when a quote is not closed.
 */
static char *
parse_env_value(char *v)
{
	char	   *r;
	char	   *w;

	v = trim(v);
	if (v[0] == '\'')
	{
		r = strchr(v + 1, '\'');
		if (r == NULL)
			return NULL;
		*r = '\0';
		return v + 1;
	}
	if (v[0] == '"')
	{
		for (r = w = v + 1; *r && *r != '"'; r++)
		{
			if (*r == '\\' && r[1] != '\0')
			{
				r++;
				*w++ = (*r == 'n') ? '\n' : *r;
			}
			else
				*w++ = *r;
		}
		if (*r != '"')
			return NULL;
		*w = '\0';
		return v + 1;
	}
	for (r = v; *r; r++)
		if (*r == '#' && (r == v || r[-1] == ' ' || r[-1] == '\t'))
		{
			*r = '\0';
			break;
		}
	return trim(v);
}

/*
 * The message for a line that breaks the grammar.  Returns
 * EXIT_BAD_CONFIG.
 */
static int
bad_line(char *errbuf, size_t errlen, int lineno, const char *path, const char *why)
{
	if (errbuf != NULL && errlen > 0)
		snprintf(errbuf, errlen, "invalid line %d in env file \"%s\" (%s)", lineno, path, why);
	return EXIT_BAD_CONFIG;
}

/*
 * Returns whether key is a name: letters, digits and '_', not starting
 * with a digit.
 */
static bool
valid_name(const char *key)
{
	const char *k;

	for (k = key; *k; k++)
		if (!(isalnum((unsigned char) *k) || *k == '_'))
			return false;
	return *key != '\0' && !isdigit((unsigned char) *key);
}

/* See env_file.h.  Returns the code. */
int
env_file_parse(const char *text, size_t tlen, const char *path,
			   env_assign_fn assign, void *arg, char *errbuf, size_t errlen)
{
	const char *nul = memchr(text, '\0', tlen);
	char	   *buf;
	char	   *line;
	char	   *next;
	int			lineno = 0;
	int			rc = EXIT_CLEAN;

	if (nul != NULL)
	{
		lineno = 1;
		for (const char *p = text; p < nul; p++)
			lineno += *p == '\n';
		return bad_line(errbuf, errlen, lineno, path, "NUL byte");
	}
	buf = malloc(tlen + 1);
	if (buf == NULL)
	{
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "out of memory");
		return EXIT_FAILURE_OTHER;
	}
	memcpy(buf, text, tlen);
	buf[tlen] = '\0';

	for (line = buf; line != NULL && rc == EXIT_CLEAN; line = next)
	{
		char	   *s;
		char	   *eq;
		char	   *key;
		char	   *value;

		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		else if (*line == '\0')
			break;
		lineno++;
		s = trim(line);
		if (*s == '\0' || *s == '#')
			continue;
		if (strncmp(s, "export ", 7) == 0 || strncmp(s, "export\t", 7) == 0)
			s = trim(s + 7);
		eq = strchr(s, '=');
		if (eq != NULL)
			*eq = '\0';
		key = trim(s);
		if (eq == NULL || !valid_name(key))
			rc = bad_line(errbuf, errlen, lineno, path, "expected KEY=VALUE");
		else if ((value = parse_env_value(eq + 1)) == NULL)
			rc = bad_line(errbuf, errlen, lineno, path, "unterminated quote");
		else
			rc = assign(key, value, lineno, arg, errbuf, errlen);
	}
	/* the copy holds POSTGRES_PASSWORD as the file does */
	explicit_bzero(buf, tlen + 1);
	free(buf);
	return rc;
}

/* See env_file.h.  Returns the code; *text is NULL unless EXIT_CLEAN. */
int
env_file_read(const char *path, char **text, size_t *len, struct stat *st,
			  char *errbuf, size_t errlen)
{
	FILE	   *f = fopen(path, "r");
	char	   *buf;
	size_t		n = 0;
	const char *why = NULL;

	*text = NULL;
	*len = 0;
	if (f == NULL)
		why = strerror(errno);
	else if ((buf = malloc(ENV_FILE_MAX + 1)) == NULL)
	{
		fclose(f);
		if (errbuf != NULL && errlen > 0)
			snprintf(errbuf, errlen, "out of memory");
		return EXIT_FAILURE_OTHER;
	}
	else
	{
		n = fread(buf, 1, ENV_FILE_MAX + 1, f);
		if (ferror(f) || fstat(fileno(f), st) != 0)
			why = strerror(errno);
		else if (n > ENV_FILE_MAX)
			why = "";
		fclose(f);
		if (why == NULL)
		{
			*text = buf;
			*len = n;
			return EXIT_CLEAN;
		}
		explicit_bzero(buf, n);
		free(buf);
	}
	if (errbuf != NULL && errlen > 0)
	{
		if (why[0] != '\0')
			snprintf(errbuf, errlen, "cannot read env file \"%s\": %s", path, why);
		else
			snprintf(errbuf, errlen, "env file \"%s\" is larger than %d bytes", path, ENV_FILE_MAX);
	}
	return EXIT_BAD_CONFIG;
}
