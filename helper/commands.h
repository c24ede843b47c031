/*
 * commands.h
 *		The one-shot commands: setup (install or update the extension through
 *		the tunnel) and verify (print versions and health()).
 */
#ifndef CHATGENIUS_COMMANDS_H
#define CHATGENIUS_COMMANDS_H

#include "config.h"

/* Both return the process exit code (see config.h). */
extern int	setup_command(tunnel_config *cfg);
extern int	verify_command(tunnel_config *cfg);

#endif							/* CHATGENIUS_COMMANDS_H */
