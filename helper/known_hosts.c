/*
 * known_hosts.c
 *		SSH_KNOWN_HOSTS read the way OpenSSH reads it (see known_hosts.h).
 *		libssh2 1.10's own libssh2_knownhost_readfile stops at the first line
 *		it cannot parse (a marker, an unknown key type) and its result tells
 *		nothing of an unreadable file, so the file is read here and fed to
 *		libssh2 line by line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "known_hosts.h"
#include "service_user.h"

/* A known_hosts file larger than this is refused (OpenSSH has no limit). */
#define KNOWN_HOSTS_MAX (64 * 1024 * 1024)

#define CHECK_FLAGS (LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW)

/*
 * Reads the whole of fd into a malloc'd, NUL-terminated buffer.  Returns
 * it (length in *len), or NULL with errno set.
 */
static char *
read_all(int fd, size_t *len)
{
	size_t		cap = 8192,
				n = 0;
	char	   *buf = malloc(cap);

	if (buf == NULL)
		return NULL;
	for (;;)
	{
		ssize_t		r;

		if (n + 1 >= cap)
		{
			char	   *nb;

			if (cap >= KNOWN_HOSTS_MAX)
			{
				free(buf);
				errno = EFBIG;
				return NULL;
			}
			nb = realloc(buf, cap * 2);
			if (nb == NULL)
			{
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
		{
			int			saved = errno;

			free(buf);
			errno = saved;
			return NULL;
		}
		if (r == 0)
			break;
		n += (size_t) r;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Remembers the first line libssh2 could not parse, with its reason. */
static void
note_skipped(known_hosts *kh, LIBSSH2_SESSION *session, int lineno, const char *what)
{
	char	   *msg = NULL;

	kh->skipped++;
	if (kh->first_skipped != 0)
		return;
	kh->first_skipped = lineno;
	if (what == NULL)
	{
		libssh2_session_last_error(session, &msg, NULL, 0);
		what = msg && *msg ? msg : "unparsable";
	}
	snprintf(kh->skipped_why, sizeof(kh->skipped_why), "%s", what);
}

/*
 * Feeds one line (no newline) to the list its marker selects.  Returns
 * nothing: a line that cannot be used is counted in kh->skipped.
 */
static void
add_line(known_hosts *kh, LIBSSH2_SESSION *session, char *line, int lineno)
{
	LIBSSH2_KNOWNHOSTS *list = kh->hosts;
	size_t		len;

	while (*line == ' ' || *line == '\t')
		line++;
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		line[--len] = '\0';
	if (len == 0 || line[0] == '#')
		return;
	if (line[0] == '@')
	{
		size_t		w = strcspn(line, " \t");

		if (w == 8 && strncmp(line, "@revoked", 8) == 0)
			list = kh->revoked;
		else if (w == 15 && strncmp(line, "@cert-authority", 15) == 0)
			list = kh->ca;
		else
		{
			note_skipped(kh, session, lineno, "unknown marker");
			return;
		}
		line += w;
		while (*line == ' ' || *line == '\t')
			line++;
		len = strlen(line);
	}
	if (libssh2_knownhost_readline(list, line, len, LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
		note_skipped(kh, session, lineno, NULL);
}

/* See known_hosts.h.  Returns 0, or -1 with the reason in err. */
int
known_hosts_load(known_hosts *kh, LIBSSH2_SESSION *session, const char *path,
				 const char *host, int port, char *err, size_t errlen)
{
	int			fd;
	struct stat st;
	char	   *text;
	char	   *line;
	size_t		len = 0;
	int			lineno = 0;

	memset(kh, 0, sizeof(*kh));
	kh->path = path;
	if (port == 22)
		snprintf(kh->name, sizeof(kh->name), "%s", host);
	else
		snprintf(kh->name, sizeof(kh->name), "[%s]:%d", host, port);
	kh->hosts = libssh2_knownhost_init(session);
	kh->revoked = libssh2_knownhost_init(session);
	kh->ca = libssh2_knownhost_init(session);
	if (kh->hosts == NULL || kh->revoked == NULL || kh->ca == NULL)
	{
		snprintf(err, errlen, "known hosts: out of memory");
		known_hosts_free(kh);
		return -1;
	}

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0 && errno == ENOENT)
	{
		kh->missing = 1;
		return 0;
	}
	if (fd >= 0 && fstat(fd, &st) == 0 && !S_ISREG(st.st_mode))
	{
		snprintf(err, errlen, "load_hostkeys: %s is not a regular file (SSH_KNOWN_HOSTS). "
				 "Host key verification failed.", path);
		close(fd);
		known_hosts_free(kh);
		return -1;
	}
	text = fd >= 0 ? read_all(fd, &len) : NULL;
	if (text == NULL)
	{
		int			saved = errno;
		char		who[128];

		snprintf(err, errlen,
				 "load_hostkeys: fopen %s: %s (SSH_KNOWN_HOSTS must be readable by "
				 "the user chatgenius-tunnel runs as: %s). "
				 "Host key verification failed.",
				 path, strerror(saved), service_user(who, sizeof(who)));
		if (fd >= 0)
			close(fd);
		known_hosts_free(kh);
		return -1;
	}
	close(fd);
	line = text;
	while (line != NULL && *line != '\0')
	{
		char	   *nl = strchr(line, '\n');

		if (nl != NULL)
			*nl = '\0';
		lineno++;
		add_line(kh, session, line, lineno);
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	return 0;
}

/* See known_hosts.h.  Returns libssh2's check result. */
int
known_hosts_check(known_hosts *kh, const char *key, size_t keylen, int knownhost_type)
{
	/* port -1: only kh->name, never a plain "host" for another port */
	return libssh2_knownhost_checkp(kh->hosts, kh->name, -1, key, keylen,
									CHECK_FLAGS | knownhost_type, NULL);
}

/* See known_hosts.h.  Returns 1 when the key is revoked for the host. */
int
known_hosts_revoked(known_hosts *kh, const char *key, size_t keylen, int knownhost_type)
{
	return libssh2_knownhost_checkp(kh->revoked, kh->name, -1, key, keylen,
									CHECK_FLAGS | knownhost_type, NULL)
		== LIBSSH2_KNOWNHOST_CHECK_MATCH;
}

/* See known_hosts.h.  Returns 1 when a CA line names the host. */
int
known_hosts_has_ca(known_hosts *kh)
{
	static const char probe[] = "chatgenius-probe";

	/* key type 0 matches every type: a host match gives MISMATCH */
	return libssh2_knownhost_checkp(kh->ca, kh->name, -1, probe, sizeof(probe) - 1,
									CHECK_FLAGS, NULL) != LIBSSH2_KNOWNHOST_CHECK_NOTFOUND;
}

/* See known_hosts.h.  Returns nothing. */
void
known_hosts_explain(known_hosts *kh, char *buf, size_t len)
{
	size_t		n = 0;

	buf[0] = '\0';
	if (kh->missing)
		n += (size_t) snprintf(buf + n, len - n, " The known hosts file %s does not exist.", kh->path);
	if (kh->skipped > 0 && n < len)
		n += (size_t) snprintf(buf + n, len - n,
							   " %d line(s) of %s could not be read and were skipped "
							   "(first: line %d: %s).",
							   kh->skipped, kh->path, kh->first_skipped, kh->skipped_why);
	if (known_hosts_has_ca(kh) && n < len)
		snprintf(buf + n, len - n,
				 " A @cert-authority line names %s, but host certificates are not "
				 "supported: add the host's own key.", kh->name);
}

/* See known_hosts.h.  Returns nothing. */
void
known_hosts_free(known_hosts *kh)
{
	if (kh->hosts != NULL)
		libssh2_knownhost_free(kh->hosts);
	if (kh->revoked != NULL)
		libssh2_knownhost_free(kh->revoked);
	if (kh->ca != NULL)
		libssh2_knownhost_free(kh->ca);
	kh->hosts = kh->revoked = kh->ca = NULL;
}
