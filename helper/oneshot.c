/*
 * oneshot.c
 *		What setup and verify share: a passive tunnel on an ephemeral port,
 *		one libpq connection through it, the command's own steps, and the
 *		tunnel taken down again whatever happened.
 */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "escape.h"
#include "pgconn.h"
#include "reporter.h"
#include "tunnel.h"

/* How long connecting through the fresh tunnel may take, at least. */
#define ONESHOT_CONNECT_MIN_MS 10000

/*
 * Runs a one-shot command (see commands.h).  Returns the tunnel's exit
 * code when it did not come up, 1 when the database cannot be reached
 * through it, else what through returned.
 */
int
oneshot_run(tunnel_config *cfg, const char *command, bool explain_down,
			oneshot_steps through)
{
	int			port = 0;
	int			rc;
	char		err[2048];
	PGconn	   *conn;
	int			connect_ms = cfg->connect_timeout_ms > ONESHOT_CONNECT_MIN_MS ?
		cfg->connect_timeout_ms : ONESHOT_CONNECT_MIN_MS;

	reporter_set_passive(1);
	rc = tunnel_start(cfg, &port);
	if (rc != EXIT_CLEAN)
	{
		if (explain_down)
			fprintf(stderr, "chatgenius-tunnel: %s failed: the tunnel did not come up (exit %d%s)\n",
					command, rc,
					rc == EXIT_GAVE_UP ? ": the SSH server or the database is unreachable" : "");
		tunnel_stop();
		return rc;
	}
	conn = pg_connect_prompting(cfg, port, clock_now_ms() + connect_ms, err, sizeof(err));
	if (conn == NULL)
	{
		/* the server answered: a login it refused is not an unreachable database */
		bool		login = strstr(err, "fe_sendauth:") != NULL ||
			strstr(err, "password authentication failed") != NULL;

		char		shown[sizeof(err) * 4];

		/*
		 * One write: stderr is unbuffered, and the tunnel's threads log
		 * whole lines beside it (a health check failing the same way).
		 */
		escape_text(shown, sizeof(shown), err, ESCAPE_TERMINAL);	/* the server's words */
		fprintf(stderr, "chatgenius-tunnel: %s failed: %s: %s\n", command,
				login ? "the database refused the login through the tunnel" :
				"database unreachable through the tunnel", shown);
		rc = EXIT_FAILURE_OTHER;
	}
	else
	{
		rc = through(conn, cfg, port);
		PQfinish(conn);
	}
	tunnel_stop();
	return rc;
}
