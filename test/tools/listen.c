/*
 * listen: a LISTEN client for the realtime tests and the benchmark.
 *
 *   listen CONNINFO CHANNEL[,CHANNEL...]
 *
 * Prints "# listening" once every LISTEN is in place, then one line per
 * notification: the receive time in microseconds since the Unix epoch, the
 * channel and the payload, tab-separated, flushed at once.  Runs until
 * SIGTERM or SIGINT, or until the connection is lost (exit 1).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <libpq-fe.h>

static volatile sig_atomic_t stop_requested = 0;

/* Signal handler: asks the main loop to stop. */
static void
on_stop(int signo)
{
	(void) signo;
	stop_requested = 1;
}

/* Returns the current time in microseconds since the Unix epoch. */
static long long
now_us(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (long long) tv.tv_sec * 1000000 + tv.tv_usec;
}

/* Sends LISTEN for each comma-separated channel; returns 0 or -1. */
static int
listen_all(PGconn *conn, const char *list)
{
	char	   *copy = strdup(list);
	char	   *save = NULL;
	char	   *ch;
	int			rc = 0;

	if (copy == NULL)
		return -1;
	for (ch = strtok_r(copy, ",", &save); ch; ch = strtok_r(NULL, ",", &save))
	{
		char	   *ident = PQescapeIdentifier(conn, ch, strlen(ch));
		char		sql[256];
		PGresult   *res;

		if (ident == NULL)
		{
			rc = -1;
			break;
		}
		snprintf(sql, sizeof(sql), "LISTEN %s", ident);
		PQfreemem(ident);
		res = PQexec(conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
		{
			fprintf(stderr, "listen: %s", PQerrorMessage(conn));
			rc = -1;
		}
		PQclear(res);
		if (rc)
			break;
	}
	free(copy);
	return rc;
}

int
main(int argc, char **argv)
{
	PGconn	   *conn;
	struct sigaction sa;

	if (argc != 3)
	{
		fprintf(stderr, "usage: listen CONNINFO CHANNEL[,CHANNEL...]\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	conn = PQconnectdb(argv[1]);
	if (PQstatus(conn) != CONNECTION_OK)
	{
		fprintf(stderr, "listen: %s", PQerrorMessage(conn));
		PQfinish(conn);
		return 1;
	}
	if (listen_all(conn, argv[2]) != 0)
	{
		PQfinish(conn);
		return 1;
	}
	printf("# listening\n");
	fflush(stdout);

	while (!stop_requested)
	{
		struct pollfd pfd = {.fd = PQsocket(conn), .events = POLLIN};
		PGnotify   *n;
		int			r = poll(&pfd, 1, 100);

		if (r < 0 && errno != EINTR)
			break;
		if (r > 0 && !PQconsumeInput(conn))
		{
			fprintf(stderr, "listen: %s", PQerrorMessage(conn));
			PQfinish(conn);
			return 1;
		}
		while ((n = PQnotifies(conn)) != NULL)
		{
			printf("%lld\t%s\t%s\n", now_us(), n->relname, n->extra);
			PQfreemem(n);
		}
		fflush(stdout);
	}
	PQfinish(conn);
	return 0;
}
