/*
 * service_user.h
 *		The user the helper runs as, named in messages about the files and
 *		folders that user must own, read or write (the key, known_hosts,
 *		TUNNEL_STATE_DIR).
 */
#ifndef CHATGENIUS_SERVICE_USER_H
#define CHATGENIUS_SERVICE_USER_H

#include <stddef.h>

/* Writes "name, uid N" of the effective user into buf.  Returns buf. */
extern const char *service_user(char *buf, size_t len);

#endif							/* CHATGENIUS_SERVICE_USER_H */
