/*
 * known_hosts.h
 *		SSH_KNOWN_HOSTS read the way OpenSSH reads it, on top of libssh2
 *		1.10's parser: the file is read into memory by us (so an unreadable
 *		file is reported as such), markers are handled here (libssh2 1.10
 *		cannot parse them), each remaining line is fed to libssh2 on its own
 *		(a line it cannot parse is skipped and remembered, not the end of the
 *		file), and hosts are looked up under OpenSSH's name only: "host" for
 *		port 22, "[host]:port" otherwise.
 */
#ifndef CHATGENIUS_KNOWN_HOSTS_H
#define CHATGENIUS_KNOWN_HOSTS_H

#include <stddef.h>

#include <libssh2.h>

typedef struct known_hosts
{
	LIBSSH2_KNOWNHOSTS *hosts;	/* plain entries */
	LIBSSH2_KNOWNHOSTS *revoked;	/* @revoked entries */
	LIBSSH2_KNOWNHOSTS *ca;		/* @cert-authority entries */
	char		name[300];		/* "host" or "[host]:port" */
	const char *path;
	int			missing;		/* the file does not exist */
	int			skipped;		/* lines libssh2 could not parse */
	int			first_skipped;	/* line number of the first one */
	char		skipped_why[160];	/* and libssh2's reason */
} known_hosts;

/*
 * Read path for host:port into kh (kh->path keeps pointing at path).
 * Returns 0, or -1 with OpenSSH-style words in err when the file exists but
 * cannot be read (e.g. "Permission denied") or memory ran out; kh is then
 * freed already.
 */
extern int	known_hosts_load(known_hosts *kh, LIBSSH2_SESSION *session, const char *path,
							 const char *host, int port, char *err, size_t errlen);

/*
 * Returns the LIBSSH2_KNOWNHOST_CHECK_* result of key (type knownhost_type)
 * against the plain entries for the host.
 */
extern int	known_hosts_check(known_hosts *kh, const char *key, size_t keylen,
							  int knownhost_type);

/* Returns 1 when key is listed in a @revoked line matching the host. */
extern int	known_hosts_revoked(known_hosts *kh, const char *key, size_t keylen,
								int knownhost_type);

/* Returns 1 when a @cert-authority line names the host. */
extern int	known_hosts_has_ca(known_hosts *kh);

/*
 * Writes to buf (may be empty) what the user should know when the host is
 * not found: a missing file, skipped lines, an unusable @cert-authority.
 */
extern void known_hosts_explain(known_hosts *kh, char *buf, size_t len);

/* Frees what known_hosts_load made.  A zeroed kh is accepted. */
extern void known_hosts_free(known_hosts *kh);

#endif							/* CHATGENIUS_KNOWN_HOSTS_H */
