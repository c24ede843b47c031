/*
 * verify.c
 *		"chatgenius-tunnel verify": bring the tunnel up, print the server
 *		version, the extension version and chatgenius.health() as a table.
 *		Exit 0 when no check is critical; 1 when one is (named on stderr) or
 *		the database cannot be reached; the tunnel's own codes (3, 4)
 *		otherwise.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "escape.h"
#include "pgconn.h"

#define VERIFY_TIMEOUT_MS 60000

/*
 * Print why a statement failed (PostgreSQL's words and hint, escaped: a
 * function's error text is the database's).  Returns 1.
 */
static int
verify_failed(const char *what, PGresult *res, const char *err)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	fprintf(stderr, "chatgenius-tunnel: verify failed: %s: ", what);
	escape_print(stderr, primary ? primary : err, ESCAPE_TERMINAL);
	fputc('\n', stderr);
	if (hint)
	{
		fputs("HINT:  ", stderr);
		escape_print(stderr, hint, ESCAPE_TERMINAL);
		fputc('\n', stderr);
	}
	if (state && strcmp(state, "42501") == 0)
		fprintf(stderr, "HINT:  verify needs EXECUTE on chatgenius.health() and SELECT on "
				"chatgenius.tunnel_status and chatgenius.schema_migrations for the POSTGRES_USER role "
				"(doc/extension.md, Privileges).\n");
	return EXIT_FAILURE_OTHER;
}

/* The checks once connected (an oneshot_steps).  Returns the exit code. */
static int
verify_through(PGconn *conn, const tunnel_config *cfg, int port)
{
	int64_t		deadline = clock_now_ms() + VERIFY_TIMEOUT_MS;
	char		err[1024];
	char		critical[1024] = "";
	PGresult   *res;
	int			nwarn = 0;
	int			r;

	res = pg_exec(conn,
				  "SELECT pg_catalog.current_setting('server_version'), "
				  "(SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'chatgenius'), "
				  "(SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = 'chatgenius')",
				  0, NULL, deadline, err, sizeof(err));
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		r = verify_failed("reading versions", res, err);
		PQclear(res);
		return r;
	}
	printf("tunnel:             ");
	escape_print(stdout, cfg->tunnel_name, ESCAPE_TERMINAL);
	printf(" -> %s:%d (through 127.0.0.1:%d)\n", cfg->remote_host, cfg->remote_port, port);
	printf("server version:     PostgreSQL ");
	escape_print(stdout, PQgetvalue(res, 0, 0), ESCAPE_TERMINAL);
	putchar('\n');
	if (PQgetisnull(res, 0, 1))
	{
		printf("extension version:  not installed\n");
		PQclear(res);
		fprintf(stderr, "chatgenius-tunnel: verify failed: extension \"chatgenius\" is not installed in database \"");
		escape_print(stderr, cfg->postgres_db, ESCAPE_TERMINAL);
		fprintf(stderr, "\"\nHINT:  Run \"chatgenius-tunnel setup\".\n");
		return EXIT_FAILURE_OTHER;
	}
	printf("extension version:  ");
	escape_print(stdout, PQgetvalue(res, 0, 1), ESCAPE_TERMINAL);
	if (!PQgetisnull(res, 0, 2))
	{
		printf(" (newest available: ");
		escape_print(stdout, PQgetvalue(res, 0, 2), ESCAPE_TERMINAL);
		putchar(')');
	}
	printf("\n\n");
	PQclear(res);

	res = pg_exec(conn, "SELECT check_name, status, detail FROM chatgenius.health()",
				  0, NULL, deadline, err, sizeof(err));
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
	{
		r = verify_failed("chatgenius.health()", res, err);
		PQclear(res);
		return r;
	}
	pg_print_table(stdout, res);
	for (r = 0; r < PQntuples(res); r++)
	{
		const char *status = PQgetvalue(res, r, 1);

		if (strcmp(status, "critical") == 0)
		{
			if (critical[0])
				strncat(critical, ", ", sizeof(critical) - strlen(critical) - 1);
			strncat(critical, PQgetvalue(res, r, 0), sizeof(critical) - strlen(critical) - 1);
		}
		else if (strcmp(status, "warn") == 0)
			nwarn++;
	}
	PQclear(res);
	fflush(stdout);
	if (critical[0])
	{
		fprintf(stderr, "chatgenius-tunnel: verify failed: critical checks: ");
		escape_print(stderr, critical, ESCAPE_TERMINAL);
		fputc('\n', stderr);
		return EXIT_FAILURE_OTHER;
	}
	printf("\nverify: ok (%d warning%s)\n", nwarn, nwarn == 1 ? "" : "s");
	return EXIT_CLEAN;
}

/*
 * verify: tunnel up on an ephemeral port, print versions and health(),
 * tunnel down.  Returns the exit code.
 */
int
verify_command(tunnel_config *cfg)
{
	return oneshot_run(cfg, "verify", true, verify_through);
}
