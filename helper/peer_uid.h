/*
 * peer_uid.h
 *		Which local user opened a client connection: the helper's pool
 *		shares its room between local users (pool.c), so that one user
 *		flooding the loopback port cannot keep another's clients out.
 */
#ifndef CHATGENIUS_PEER_UID_H
#define CHATGENIUS_PEER_UID_H

/*
 * Returns the uid owning the other end of the accepted socket fd when that
 * end is a socket of this host (a loopback peer, or a Unix socket's:
 * SO_PEERCRED), else -1 (a remote peer, or the kernel would not say).
 */
extern long peer_uid(int fd);

#endif							/* CHATGENIUS_PEER_UID_H */
