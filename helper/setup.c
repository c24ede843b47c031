/*
 * setup.c
 *		"chatgenius-tunnel setup": through the tunnel, CREATE EXTENSION
 *		chatgenius when it is absent or ALTER EXTENSION chatgenius UPDATE
 *		when it is older than the server's default version, give TUNNEL_NAME
 *		to the service's role (1.11: a tunnel's role writes only the names
 *		a superuser gave it), then print the migration history.  Never drops
 *		anything; running it twice is harmless.  POSTGRES_USER must be a
 *		superuser: the extension is superuser-installed.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "escape.h"
#include "log.h"
#include "pgconn.h"

/* setup's own limit, for the server's timeouts and for our deadline */
#define SETUP_TIMEOUT_MS 300000

/*
 * Prints before, the server's text escaped (escape.h: it may carry terminal
 * control sequences), then after, to f.  Returns nothing.
 */
static void
print_quoted(FILE *f, const char *before, const char *text, const char *after)
{
	fputs(before, f);
	escape_print(f, text, ESCAPE_TERMINAL);
	fputs(after, f);
}

/*
 * Print a failed statement the way psql does (ERROR, DETAIL, HINT) plus
 * our own hint about rights when the role is not a superuser.  Returns
 * EXIT_FAILURE_OTHER.
 */
static int
setup_failed(const char *what, PGresult *res, const char *errmsg,
			 const tunnel_config *cfg, bool superuser)
{
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	fprintf(stderr, "chatgenius-tunnel: setup failed: %s: ", what);
	print_quoted(stderr, "", primary ? primary : errmsg, "\n");
	if (detail)
		print_quoted(stderr, "DETAIL:  ", detail, "\n");
	if (hint)
		print_quoted(stderr, "HINT:  ", hint, "\n");
	/* (the install script's own 42501 is about the schema, not the role) */
	if (!superuser || (state && strcmp(state, "42501") == 0 &&
					   (primary == NULL || strstr(primary, "schema \"chatgenius\"") == NULL)))
		fprintf(stderr, "HINT:  POSTGRES_USER (\"%s\") must be a superuser to create or update "
				"chatgenius (a superuser-installed extension); run setup as one, e.g. "
				"--postgres-user postgres.\n", cfg->postgres_user);
	return EXIT_FAILURE_OTHER;
}

/*
 * Run one statement that returns rows or a command status.  Returns the
 * result when it succeeded, else NULL after printing why (the result is
 * passed to setup_failed).
 */
static PGresult *
run(PGconn *conn, const char *sql, int n, const char *const *v, int64_t deadline,
	const char *what, const tunnel_config *cfg, bool superuser, int *rc)
{
	char		err[1024];
	PGresult   *res = pg_exec(conn, sql, n, v, deadline, err, sizeof(err));

	if (res != NULL && (PQresultStatus(res) == PGRES_TUPLES_OK ||
						PQresultStatus(res) == PGRES_COMMAND_OK))
		return res;
	*rc = setup_failed(what, res, err, cfg, superuser);
	PQclear(res);
	return NULL;
}

/*
 * Run one statement whose result is not needed (run() then PQclear).
 * Returns EXIT_CLEAN, or the exit code after printing why.
 */
static int
run_only(PGconn *conn, const char *sql, int n, const char *const *v, int64_t deadline,
		 const char *what, const tunnel_config *cfg, bool superuser)
{
	int			rc = EXIT_CLEAN;
	PGresult   *res = run(conn, sql, n, v, deadline, what, cfg, superuser, &rc);

	PQclear(res);
	return rc;
}

/*
 * CREATE EXTENSION takes a schema "chatgenius" that already exists, and runs
 * the install script in it with our (a superuser's) rights: whoever owns it
 * could have left operators there for the script to pick up.  The script
 * refuses such a schema itself; this says so before trying, in setup's
 * words.  Returns EXIT_CLEAN when there is no such schema or a superuser
 * (or POSTGRES_USER) owns it.
 */
static int
refuse_foreign_schema(PGconn *conn, const tunnel_config *cfg, int64_t deadline)
{
	int			rc = EXIT_CLEAN;
	PGresult   *res = run(conn,
						  "SELECT r.rolname FROM pg_catalog.pg_namespace n "
						  "JOIN pg_catalog.pg_roles r ON r.oid OPERATOR(pg_catalog.=) n.nspowner "
						  "WHERE n.nspname OPERATOR(pg_catalog.=) 'chatgenius' AND NOT r.rolsuper "
						  "AND r.rolname OPERATOR(pg_catalog.<>) CURRENT_USER",
						  0, NULL, deadline, "reading the owner of schema chatgenius", cfg, true, &rc);

	if (res == NULL)
		return rc;
	if (PQntuples(res) == 1)
	{
		/* the owner's name is the server's text, and its owner chose it */
		print_quoted(stderr, "chatgenius-tunnel: setup failed: schema \"chatgenius\" already "
					 "exists and belongs to role \"", PQgetvalue(res, 0, 0),
					 "\", which is not a superuser\n");
		fprintf(stderr, "DETAIL:  CREATE EXTENSION would run the extension's scripts with POSTGRES_USER's "
				"rights (\"%s\") in that schema, where its owner may have left operators for them.\n"
				"HINT:  Check what it holds, then drop it (DROP SCHEMA chatgenius CASCADE) or give it "
				"to a superuser (ALTER SCHEMA chatgenius OWNER TO %s), and run setup again.\n",
				cfg->postgres_user, cfg->postgres_user);
		rc = EXIT_FAILURE_OTHER;
	}
	PQclear(res);
	return rc;
}

/*
 * Give TUNNEL_NAME to the service's role (the env file's POSTGRES_USER,
 * which setup's --postgres-user outranks): chatgenius.add_tunnel(), so
 * that the helper may write its status, events and routes.  This is the
 * step that 1.11 adds to a deployment, done here for the operator.
 * Nothing to do for a role that is a superuser (it writes every name), an
 * extension older than 1.11 (no add_tunnel()), or a setup that does not
 * run as a superuser (it could not).  A role that does not exist, or a
 * name that another role writes, fails with the server's hint.  Returns
 * the exit code.
 */
static int
give_tunnel_name(PGconn *conn, const tunnel_config *cfg, bool superuser, int64_t deadline)
{
	const char *v[2] = {cfg->tunnel_role, cfg->tunnel_name};
	char		what[600];
	PGresult   *res;
	bool		can;
	bool		role_super;
	int			rc = EXIT_CLEAN;

	if (!superuser)
		return EXIT_CLEAN;
	if (cfg->tunnel_role[0] == '\0')
	{
		/* the statement to paste: the name as an SQL literal (quotes doubled) */
		char	   *literal = PQescapeLiteral(conn, cfg->tunnel_name, strlen(cfg->tunnel_name));

		print_quoted(stdout, "Tunnel \"", cfg->tunnel_name,
					 "\": its role is the libpq service's; give it the name as a superuser:\n");
		print_quoted(stdout, "  SELECT chatgenius.add_tunnel(", literal ? literal : "'NAME'",
					 ", 'ROLE');\n");
		PQfreemem(literal);
		return EXIT_CLEAN;
	}
	res = run(conn,
			  "SELECT pg_catalog.to_regprocedure('chatgenius.add_tunnel(text,name)') IS NOT NULL, "
			  "coalesce((SELECT r.rolsuper FROM pg_catalog.pg_roles r "
			  "WHERE r.rolname OPERATOR(pg_catalog.=) $1::pg_catalog.text), false)",
			  1, v, deadline, "reading the tunnel's role", cfg, superuser, &rc);
	if (res == NULL)
		return rc;
	can = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	role_super = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (!can)
		return EXIT_CLEAN;
	if (role_super)
	{
		printf("Tunnel \"%s\": role \"%s\" is a superuser and writes every tunnel\n",
			   cfg->tunnel_name, cfg->tunnel_role);
		return EXIT_CLEAN;
	}
	snprintf(what, sizeof(what), "giving tunnel \"%s\" to role \"%s\"", cfg->tunnel_name,
			 cfg->tunnel_role);
	res = run(conn, "SELECT chatgenius.add_tunnel($2::pg_catalog.text, $1::pg_catalog.name)",
			  2, v, deadline, what, cfg, superuser, &rc);
	if (res == NULL)
		return rc;
	if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		printf("Tunnel \"%s\" is given to role \"%s\": its helper writes its status and events\n",
			   cfg->tunnel_name, cfg->tunnel_role);
	else
		printf("Tunnel \"%s\" is role \"%s\"'s already\n", cfg->tunnel_name, cfg->tunnel_role);
	PQclear(res);
	fflush(stdout);
	return EXIT_CLEAN;
}

/* The steps once connected (an oneshot_steps).  Returns the exit code. */
static int
setup_through(PGconn *conn, const tunnel_config *cfg, int port)
{
	int64_t		deadline = clock_now_ms() + SETUP_TIMEOUT_MS;
	PGresult   *res;
	char		installed[64] = "";
	char		available[64] = "";
	char		before[64] = "";
	char		limit[32];
	bool		superuser;
	int			rc = EXIT_CLEAN;
	const char *v[1];

	res = run(conn,
			  "SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'chatgenius'), "
			  "(SELECT default_version FROM pg_catalog.pg_available_extensions WHERE name = 'chatgenius'), "
			  "(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user), "
			  "pg_catalog.clock_timestamp()::text, current_user",
			  0, NULL, deadline, "reading the installed version", cfg, true, &rc);
	if (res == NULL)
		return rc;
	if (!PQgetisnull(res, 0, 0))
		snprintf(installed, sizeof(installed), "%s", PQgetvalue(res, 0, 0));
	if (!PQgetisnull(res, 0, 1))
		snprintf(available, sizeof(available), "%s", PQgetvalue(res, 0, 1));
	superuser = strcmp(PQgetvalue(res, 0, 2), "t") == 0;
	snprintf(before, sizeof(before), "%s", PQgetvalue(res, 0, 3));
	PQclear(res);

	/*
	 * The connection was opened with statement_timeout and lock_timeout set
	 * from the connect deadline (pgconn.c), fit for the health check.  An
	 * install or update may wait on locks and run long: it gets setup's own
	 * limit instead, so the server cancels nothing before the helper would.
	 */
	snprintf(limit, sizeof(limit), "%d", SETUP_TIMEOUT_MS);
	v[0] = limit;
	if ((rc = run_only(conn,
					   "SELECT pg_catalog.set_config('statement_timeout', $1, false), "
					   "pg_catalog.set_config('lock_timeout', $1, false)",
					   1, v, deadline, "setting setup's time limit", cfg, superuser)) != EXIT_CLEAN)
		return rc;

	if (available[0] == '\0')
	{
		fprintf(stderr, "chatgenius-tunnel: setup failed: extension \"chatgenius\" is not available "
				"on the database server\nHINT:  Install it there first (make install, PostgreSQL 15).\n");
		return EXIT_FAILURE_OTHER;
	}
	if (installed[0] == '\0' && (rc = refuse_foreign_schema(conn, cfg, deadline)) != EXIT_CLEAN)
		return rc;
	if (installed[0] == '\0')
	{
		print_quoted(stdout, "Installing chatgenius ", available, "\n");
		fflush(stdout);
		if ((rc = run_only(conn, "CREATE EXTENSION chatgenius", 0, NULL, deadline,
						   "CREATE EXTENSION chatgenius", cfg, superuser)) != EXIT_CLEAN)
			return rc;
		log_msg(LOG_INFO, "extension_installed", "version=%s", available);
	}
	else if (strcmp(installed, available) != 0)
	{
		print_quoted(stdout, "Updating chatgenius ", installed, " -> ");
		print_quoted(stdout, "", available, "\n");
		fflush(stdout);
		if ((rc = run_only(conn, "ALTER EXTENSION chatgenius UPDATE", 0, NULL, deadline,
						   "ALTER EXTENSION chatgenius UPDATE", cfg, superuser)) != EXIT_CLEAN)
			return rc;
		log_msg(LOG_INFO, "extension_updated", "from=%s to=%s", installed, available);
	}
	else
		print_quoted(stdout, "chatgenius ", installed, " is up to date: nothing to do\n");
	if ((rc = give_tunnel_name(conn, cfg, superuser, deadline)) != EXIT_CLEAN)
		return rc;

	v[0] = before;
	res = run(conn,
			  "SELECT coalesce(pg_catalog.string_agg(version, ', ' ORDER BY applied_at, "
			  "pg_catalog.string_to_array(version, '.')::pg_catalog.int4[]), '') "
			  "FROM chatgenius.schema_migrations WHERE applied_at >= $1::timestamptz",
			  1, v, deadline, "reading the migration history", cfg, superuser, &rc);
	if (res == NULL)
		return rc;
	print_quoted(stdout, "Versions applied now: ",
				 PQgetvalue(res, 0, 0)[0] ? PQgetvalue(res, 0, 0) : "none", "\n\n");
	PQclear(res);

	res = run(conn,
			  "SELECT version, description, script, "
			  "pg_catalog.to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' AS applied_at, "
			  "applied_by FROM chatgenius.schema_migrations "
			  "ORDER BY applied_at, pg_catalog.string_to_array(version, '.')::pg_catalog.int4[]",
			  0, NULL, deadline, "reading the migration history", cfg, superuser, &rc);
	if (res == NULL)
		return rc;
	printf("Migration history (chatgenius.schema_migrations):\n");
	pg_print_table(stdout, res);
	PQclear(res);
	fflush(stdout);
	return EXIT_CLEAN;
}

/*
 * setup: tunnel up on an ephemeral port, install or update, history,
 * tunnel down.  Returns the exit code (1 when PostgreSQL refused, with
 * its message and a hint about the rights needed).
 */
int
setup_command(tunnel_config *cfg)
{
	return oneshot_run(cfg, "setup", false, setup_through);
}
