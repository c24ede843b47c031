/*
 * commands.h
 *		The one-shot commands: setup (install or update the extension through
 *		the tunnel) and verify (print versions and health()).
 */
#ifndef CHATGENIUS_COMMANDS_H
#define CHATGENIUS_COMMANDS_H

#include <libpq-fe.h>
#include <stdbool.h>

#include "config.h"

/* Both return the process exit code (see config.h). */
extern int	setup_command(tunnel_config *cfg);
extern int	verify_command(tunnel_config *cfg);

/*
 * A one-shot command's steps once connected through the tunnel (port is
 * the tunnel's local port).  Returns the exit code.
 */
typedef int (*oneshot_steps) (PGconn *conn, const tunnel_config *cfg, int port);

/*
 * The frame both commands share (oneshot.c): a passive tunnel on an
 * ephemeral port, a connection through it, through(), tunnel down.
 * Failures are printed as "chatgenius-tunnel: COMMAND failed: ..." (the
 * tunnel not coming up only when explain_down).  Returns the exit code.
 */
extern int	oneshot_run(tunnel_config *cfg, const char *command, bool explain_down,
						oneshot_steps through);

#endif							/* CHATGENIUS_COMMANDS_H */
