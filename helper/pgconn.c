/*
 * pgconn.c
 *		Deadline-bound libpq (see pgconn.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdlib.h>
#include <termios.h>
#include <unistd.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "escape.h"
#include "pgconn.h"

/* A password typed at setup's or verify's prompt (pg_connect_prompting). */
static char *prompted_password;

/* Whether the last failed pg_connect wanted a password it did not have. */
static bool needed_password;

/* See pgconn.h: a message fit for one log line.  Returns buf. */
const char *
pg_one_line(char *buf, size_t len, const char *msg)
{
	size_t		n = 0;
	const char *p;

	if (len == 0)
		return buf;
	for (p = msg ? msg : ""; *p && n + 3 < len; p++)
	{
		if (*p == '\n')
		{
			if (p[1] == '\0')
				break;
			buf[n++] = ';';
			buf[n++] = ' ';
		}
		else if (*p != '\r')
			buf[n++] = *p;
	}
	while (n > 0 && (buf[n - 1] == ' ' || buf[n - 1] == ';' || buf[n - 1] == '\t'))
		n--;
	buf[n] = '\0';
	return buf;
}

/*
 * Wait until sock is ready for events or the deadline passes.  Returns 1
 * when ready, 0 at the deadline, -1 on a poll error.
 */
static int
wait_socket(int sock, short events, int64_t deadline_ms)
{
	struct pollfd pfd;

	for (;;)
	{
		int64_t		left = deadline_ms - clock_now_ms();
		int			r;

		if (left <= 0)
			return 0;
		pfd.fd = sock;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int) left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/*
 * See pgconn.h.  Non-blocking connect driven by PQconnectPoll and poll(2)
 * up to the deadline.  Returns the connection or NULL (errbuf says why).
 */
PGconn *
pg_connect(const tunnel_config *cfg, int port, int64_t deadline_ms,
		   char *errbuf, size_t errlen)
{
	const char *keys[16];
	const char *vals[16];
	char		portbuf[16];
	char		timeout_s[16];
	char		options[200];
	const char *host = cfg->listen_host;
	int64_t		total = deadline_ms - clock_now_ms();
	PGconn	   *conn;
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	int			n = 0;

	if (host == NULL || config_tcp_off(cfg) || strcmp(host, "0.0.0.0") == 0 || strcmp(host, "*") == 0)
		host = "127.0.0.1";
	else if (strcmp(host, "::") == 0)
		host = "::1";
	if (total < 1)
		total = 1;
	snprintf(portbuf, sizeof(portbuf), "%d", port);
	/* libpq's own bound, in whole seconds; ours below is exact */
	snprintf(timeout_s, sizeof(timeout_s), "%d", (int) ((total + 999) / 1000) < 2 ? 2 : (int) ((total + 999) / 1000));
	/*
	 * search_path: the helper's statements (setup and verify as a superuser,
	 * the reporter as whoever POSTGRES_USER is) resolve in pg_catalog only,
	 * whatever the database's or the role's setting names: its owner could
	 * have put an operator or a count(*) of its own first.
	 */
	snprintf(options, sizeof(options),
			 "-c statement_timeout=%d -c lock_timeout=%d -c idle_in_transaction_session_timeout=%d "
			 "-c search_path=pg_catalog,pg_temp",
			 (int) total, (int) total, (int) (total * 2));

	keys[n] = "host";
	vals[n++] = host;
	keys[n] = "port";
	vals[n++] = portbuf;
	/* NULL with POSTGRES_SERVICE: the service names them */
	if (cfg->postgres_db != NULL)
	{
		keys[n] = "dbname";
		vals[n++] = cfg->postgres_db;
	}
	if (cfg->postgres_user != NULL)
	{
		keys[n] = "user";
		vals[n++] = cfg->postgres_user;
	}
	/* else libpq's own sources: the service, passfile, PGPASSWORD */
	if (cfg->postgres_password != NULL || prompted_password != NULL)
	{
		keys[n] = "password";
		vals[n++] = cfg->postgres_password ? cfg->postgres_password : prompted_password;
	}
	if (cfg->postgres_passfile != NULL)
	{
		keys[n] = "passfile";
		vals[n++] = cfg->postgres_passfile;
	}
	if (cfg->postgres_service != NULL)
	{
		keys[n] = "service";
		vals[n++] = cfg->postgres_service;
	}
	keys[n] = "application_name";
	vals[n++] = "chatgenius-tunnel";
	keys[n] = "connect_timeout";
	vals[n++] = timeout_s;
	keys[n] = "options";
	vals[n++] = options;
	keys[n] = "gssencmode";
	vals[n++] = "disable";
	keys[n] = NULL;
	vals[n] = NULL;

	conn = PQconnectStartParams(keys, vals, 0);
	if (conn == NULL)
	{
		snprintf(errbuf, errlen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) == CONNECTION_BAD)
	{
		pg_one_line(errbuf, errlen, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	while (st != PGRES_POLLING_OK)
	{
		int			r;

		if (st == PGRES_POLLING_FAILED)
		{
			pg_one_line(errbuf, errlen, PQerrorMessage(conn));
			needed_password = PQconnectionNeedsPassword(conn);
			PQfinish(conn);
			return NULL;
		}
		r = wait_socket(PQsocket(conn), st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
						deadline_ms);
		if (r <= 0)
		{
			snprintf(errbuf, errlen, "%s (through 127.0.0.1:%d)",
					 r == 0 ? "timeout expired while connecting to the database"
					 : "poll failed while connecting to the database", port);
			PQfinish(conn);
			return NULL;
		}
		st = PQconnectPoll(conn);
	}
	if (PQsetnonblocking(conn, 1) != 0)
	{
		pg_one_line(errbuf, errlen, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/*
 * See pgconn.h.  PQsendQueryParams, then flush and read with poll(2) up
 * to the deadline.  PQcancel is not used: in libpq 15 it blocks with no
 * timeout on the same (possibly frozen) path; closing the connection and
 * the server-side statement_timeout bound the statement instead.  Returns
 * the last result or NULL.
 */
PGresult *
pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *values,
		int64_t deadline_ms, char *errbuf, size_t errlen)
{
	PGresult   *last = NULL;
	PGresult   *res;
	int			r;

	if (!PQsendQueryParams(conn, sql, nparams, NULL, values, NULL, NULL, 0))
	{
		pg_one_line(errbuf, errlen, PQerrorMessage(conn));
		return NULL;
	}
	for (;;)
	{
		r = PQflush(conn);
		if (r == 0)
			break;
		if (r < 0 || wait_socket(PQsocket(conn), POLLOUT, deadline_ms) <= 0)
			goto failed;
	}
	for (;;)
	{
		while (PQisBusy(conn))
		{
			if (wait_socket(PQsocket(conn), POLLIN, deadline_ms) <= 0)
				goto failed;
			if (!PQconsumeInput(conn))
				goto failed;
		}
		res = PQgetResult(conn);
		if (res == NULL)
			break;
		PQclear(last);
		last = res;
		if (PQstatus(conn) == CONNECTION_BAD)
			break;
	}
	if (last == NULL)
	{
		pg_one_line(errbuf, errlen, PQerrorMessage(conn));
		return NULL;
	}
	return last;

failed:
	PQclear(last);
	if (clock_now_ms() >= deadline_ms)
		snprintf(errbuf, errlen, "timeout expired waiting for the database");
	else
		pg_one_line(errbuf, errlen, PQerrorMessage(conn));
	return NULL;
}

/* Writes s escaped, padded with spaces to width characters.  Returns nothing. */
static void
print_cell(FILE *out, const char *s, int width)
{
	escape_print(out, s, ESCAPE_TERMINAL);
	for (int w = escape_width(s, ESCAPE_TERMINAL); w < width; w++)
		fputc(' ', out);
}

/*
 * See pgconn.h: psql-like aligned output, every name and value escaped
 * (escape.h: the database's text is shown, never obeyed).  Returns nothing.
 */
void
pg_print_table(FILE *out, const PGresult *res)
{
	int			ncols = PQnfields(res);
	int			nrows = PQntuples(res);
	int			widths[64];
	int			c;
	int			r;

	if (ncols > 64)
		ncols = 64;
	for (c = 0; c < ncols; c++)
	{
		widths[c] = escape_width(PQfname(res, c), ESCAPE_TERMINAL);
		for (r = 0; r < nrows; r++)
		{
			int			w = escape_width(PQgetvalue(res, r, c), ESCAPE_TERMINAL);

			if (w > widths[c])
				widths[c] = w;
		}
	}
	for (c = 0; c < ncols; c++)
	{
		fputs(c ? " | " : " ", out);
		print_cell(out, PQfname(res, c), c + 1 < ncols ? widths[c] : 0);
	}
	fputc('\n', out);
	for (c = 0; c < ncols; c++)
	{
		int			i;

		fputs(c ? "-+-" : "-", out);
		for (i = 0; i < widths[c]; i++)
			fputc('-', out);
	}
	fputs("-\n", out);
	for (r = 0; r < nrows; r++)
	{
		for (c = 0; c < ncols; c++)
		{
			fputs(c ? " | " : " ", out);
			print_cell(out, PQgetvalue(res, r, c), c + 1 < ncols ? widths[c] : 0);
		}
		fputc('\n', out);
	}
	fprintf(out, "(%d row%s)\n", nrows, nrows == 1 ? "" : "s");
}

/*
 * Read a password from the terminal (/dev/tty) with echo off, as psql's
 * prompt does.  Returns a new string, or NULL when there is no terminal.
 */
static char *
prompt_password(const char *user)
{
	struct termios old;
	struct termios quiet;
	char		buf[1024];
	FILE	   *tty = fopen("/dev/tty", "r+");
	bool		echo_off;
	char	   *nl;
	char	   *got;

	if (tty == NULL)
		return NULL;
	fprintf(tty, "Password for user %s: ", user ? user : "(service)");
	fflush(tty);
	echo_off = tcgetattr(fileno(tty), &old) == 0;
	if (echo_off)
	{
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t) ECHO;
		quiet.c_lflag |= ECHONL;
		if (tcsetattr(fileno(tty), TCSADRAIN, &quiet) != 0)
			echo_off = false;
	}
	got = fgets(buf, sizeof(buf), tty);
	if (echo_off)
		(void) tcsetattr(fileno(tty), TCSADRAIN, &old);
	fclose(tty);
	if (got == NULL)
		return NULL;
	nl = strchr(buf, '\n');
	if (nl != NULL)
		*nl = '\0';
	got = strdup(buf);
	memset(buf, 0, sizeof(buf));
	return got;
}

/*
 * After "fe_sendauth: no password supplied": append to errbuf the sources
 * that were tried, in the order libpq and the helper try them, and what each
 * held, so that the operator knows where to put the password.  libpq 15
 * finds ~/.pgpass through the home folder of the effective user (not $HOME)
 * and ignores a file readable by group or others.
 */
static void
explain_no_password(const tunnel_config *cfg, bool had_tty, char *errbuf, size_t errlen)
{
	const char *role = cfg->postgres_user ? cfg->postgres_user : "(the service's)";
	const char *file = cfg->postgres_passfile;
	const char *file_src = "POSTGRES_PASSFILE";
	char		home_file[1024];
	char		owner[256] = "";
	const char *state;
	struct stat st;
	size_t		used = strlen(errbuf);

	if (file == NULL && getenv("PGPASSFILE") != NULL && getenv("PGPASSFILE")[0] != '\0')
	{
		file = getenv("PGPASSFILE");
		file_src = "PGPASSFILE";
	}
	if (file == NULL)
	{
		struct passwd *pw = getpwuid(geteuid());

		snprintf(home_file, sizeof(home_file), "%s/.pgpass", pw ? pw->pw_dir : "~");
		snprintf(owner, sizeof(owner), " of user %s", pw ? pw->pw_name : "(unknown)");
		file = home_file;
		file_src = "~/.pgpass";
	}
	if (stat(file, &st) != 0)
		state = errno == ENOENT ? "absent" : strerror(errno);
	else if (!S_ISREG(st.st_mode))
		state = "not a regular file";
	else if ((st.st_mode & 077) != 0)
		state = "ignored: readable by group or others (it must be mode 0600)";
	else
		state = "no line for host 127.0.0.1, this database and this role (host:port:database:role:password; port * matches the tunnel's)";
	if (used >= errlen)
		return;
	snprintf(errbuf + used, errlen - used,
			 "; tried for role %s: POSTGRES_PASSWORD (%s), PGPASSWORD (%s)%s%s%s, %s %s%s (%s), "
			 "and the terminal prompt (%s)",
			 role,
			 cfg->postgres_password ? "set" : "not set for this role",
			 getenv("PGPASSWORD") ? "set" : "not set",
			 cfg->postgres_service ? ", the service " : "",
			 cfg->postgres_service ? cfg->postgres_service : "",
			 cfg->postgres_service ? " (no password in it)" : "",
			 file_src, file, owner, state,
			 had_tty ? "no answer read from the terminal" : "stdin is not a terminal: run it on one to be asked");
}

/*
 * See pgconn.h: pg_connect, and once more after a password prompt when
 * the server wanted a password that no source supplied and stdin is a
 * terminal.  Returns the connection or NULL (errbuf says why).
 */
PGconn *
pg_connect_prompting(const tunnel_config *cfg, int port, int64_t deadline_ms,
					 char *errbuf, size_t errlen)
{
	PGconn	   *conn;
	bool		tty = isatty(STDIN_FILENO);

	needed_password = false;
	conn = pg_connect(cfg, port, deadline_ms, errbuf, errlen);
	if (conn != NULL || !needed_password || cfg->postgres_password != NULL ||
		prompted_password != NULL || !tty)
	{
		if (conn == NULL && needed_password)
			explain_no_password(cfg, false, errbuf, errlen);
		return conn;
	}
	prompted_password = prompt_password(cfg->postgres_user);
	if (prompted_password == NULL)
	{
		explain_no_password(cfg, true, errbuf, errlen);
		return NULL;
	}
	/* the prompt took the operator's time, not the network's */
	deadline_ms = clock_now_ms() + 10000 > deadline_ms ? clock_now_ms() + 10000 : deadline_ms;
	conn = pg_connect(cfg, port, deadline_ms, errbuf, errlen);
	return conn;
}
