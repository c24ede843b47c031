/*
 * ssh_session.c
 *		Opening one SSH connection the way OpenSSH's ssh -L would with
 *		StrictHostKeyChecking=yes and PubkeyAuthentication only: a TCP
 *		connect bounded in time, a handshake pinned to the host key types
 *		known for the host, the known_hosts check, and public-key auth.
 *		Every step is non-blocking, driven by poll on the directions libssh2
 *		reports, and the whole attempt shares one deadline
 *		(SSH_CONNECT_TIMEOUT).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "ssh_session.h"

/* Host key types: known_hosts bit, method names, OpenSSH's label. */
typedef struct key_kind
{
	int			knownhost_type;
	int			hostkey_type;	/* libssh2_session_hostkey's answer */
	const char *methods;
	const char *label;
} key_kind;

static const key_kind key_kinds[] = {
	{LIBSSH2_KNOWNHOST_KEY_ED25519, LIBSSH2_HOSTKEY_TYPE_ED25519,
	"ssh-ed25519", "ED25519"},
	{LIBSSH2_KNOWNHOST_KEY_ECDSA_256, LIBSSH2_HOSTKEY_TYPE_ECDSA_256,
	"ecdsa-sha2-nistp256", "ECDSA"},
	{LIBSSH2_KNOWNHOST_KEY_ECDSA_384, LIBSSH2_HOSTKEY_TYPE_ECDSA_384,
	"ecdsa-sha2-nistp384", "ECDSA"},
	{LIBSSH2_KNOWNHOST_KEY_ECDSA_521, LIBSSH2_HOSTKEY_TYPE_ECDSA_521,
	"ecdsa-sha2-nistp521", "ECDSA"},
	{LIBSSH2_KNOWNHOST_KEY_SSHRSA, LIBSSH2_HOSTKEY_TYPE_RSA,
	"rsa-sha2-512,rsa-sha2-256,ssh-rsa", "RSA"},
};

#define N_KEY_KINDS ((int) (sizeof(key_kinds) / sizeof(key_kinds[0])))

/* Returns the helper's one monotonic clock (clock.h), in milliseconds. */
int64_t
ssh_now_ms(void)
{
	return clock_now_ms();
}

/*
 * libssh2's socket reader, wrapped to note when the server last sent
 * anything: libssh2 1.10 does not count unanswered keepalives, so liveness
 * is judged on this time.  Returns what recv(2) returns, or -errno as
 * libssh2 expects.
 */
static
LIBSSH2_RECV_FUNC(conn_recv)
{
	ssh_conn   *conn = (ssh_conn *) *abstract;
	ssize_t		n = recv(socket, buffer, length, flags);

	if (n < 0)
		return -errno;
	if (n > 0)
		atomic_store(&conn->last_recv_ms, ssh_now_ms());
	return n;
}

/*
 * Returns the libssh2 error code of the session's last error and writes
 * "what: message" into err; used for every failure report.
 */
int
ssh_conn_error(ssh_conn *conn, const char *what, char *err, size_t errlen)
{
	char	   *msg = NULL;
	int			code;

	code = libssh2_session_last_error(conn->session, &msg, NULL, 0);
	snprintf(err, errlen, "%s: %s", what, msg && *msg ? msg : "unknown error");
	return code;
}

/*
 * Returns 1 when the socket became ready for what libssh2 is blocked on,
 * 0 at the deadline, -1 on error or hang-up.  The one place where the
 * opening steps wait, so no step spins.
 */
int
ssh_conn_wait(ssh_conn *conn, int64_t deadline_ms)
{
	struct pollfd pfd;
	int			dir = libssh2_session_block_directions(conn->session);
	int64_t		left = deadline_ms - ssh_now_ms();
	int			rc;

	if (left <= 0)
		return 0;
	pfd.fd = conn->sock;
	pfd.events = 0;
	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		pfd.events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		pfd.events |= POLLOUT;
	if (pfd.events == 0)
		pfd.events = POLLIN;
	pfd.revents = 0;
	do
		rc = poll(&pfd, 1, (int) left);
	while (rc < 0 && errno == EINTR);
	if (rc < 0)
		return -1;
	if (rc == 0)
		return 0;
	if ((pfd.revents & (POLLERR | POLLNVAL)) != 0)
		return -1;
	return 1;
}

/*
 * Returns a connected TCP socket to host:port or -1 with OpenSSH's
 * "connect to host H port P: <strerror>" in err ("Connection refused" for
 * ECONNREFUSED), trying each resolved address until the deadline.
 */
static int
tcp_connect(const char *host, int port, int64_t deadline, char *err, size_t errlen)
{
	struct addrinfo hints,
			   *res = NULL,
			   *ai;
	char		portstr[16];
	int			rc,
				saved = ETIMEDOUT;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(portstr, sizeof(portstr), "%d", port);
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0)
	{
		snprintf(err, errlen, "Could not resolve hostname %s: %s", host, gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next)
	{
		int			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
								ai->ai_protocol);
		int			one = 1;

		if (fd < 0)
		{
			saved = errno;
			continue;
		}
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0 ||
			setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) != 0)
		{
			saved = errno;
			close(fd);
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		{
			freeaddrinfo(res);
			return fd;
		}
		if (errno == EINPROGRESS)
		{
			struct pollfd pfd = {.fd = fd,.events = POLLOUT};
			int64_t		left = deadline - ssh_now_ms();
			int			soerr = 0;
			socklen_t	slen = sizeof(soerr);

			do
				rc = left > 0 ? poll(&pfd, 1, (int) left) : 0;
			while (rc < 0 && errno == EINTR && (left = deadline - ssh_now_ms()) > 0);
			if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == 0)
			{
				if (soerr == 0)
				{
					freeaddrinfo(res);
					return fd;
				}
				saved = soerr;
			}
			else
				saved = rc == 0 ? ETIMEDOUT : errno;
		}
		else
			saved = errno;
		close(fd);
	}
	freeaddrinfo(res);
	snprintf(err, errlen, "connect to host %s port %d: %s", host, port, strerror(saved));
	return -1;
}

/*
 * Returns 0 when the private key file is private to its owner; otherwise
 * -1 with OpenSSH's refusal ("Permissions 0644 for '...' are too open.").
 */
static int
check_key_permissions(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) != 0)
	{
		snprintf(err, errlen, "Load key \"%s\": %s", path, strerror(errno));
		return -1;
	}
	if ((st.st_mode & 077) != 0)
	{
		snprintf(err, errlen,
				 "Permissions 0%03o for '%s' are too open. "
				 "It is required that your private key files are NOT accessible by others. "
				 "This private key will be ignored.",
				 (unsigned int) (st.st_mode & 0777), path);
		return -1;
	}
	return 0;
}

/* Writes the known_hosts name of the server: host, or [host]:port. */
static void
host_label(const tunnel_config *cfg, char *buf, size_t len)
{
	if (cfg->ssh_port == 22)
		snprintf(buf, len, "%s", cfg->ssh_host);
	else
		snprintf(buf, len, "[%s]:%d", cfg->ssh_host, cfg->ssh_port);
}

/*
 * Returns a bit per key_kinds entry that known_hosts holds for the host.
 * A probe key of each type is checked: a mismatch means a key of that type
 * is known (the type is in the check mask, so other types do not count).
 */
static int
known_kinds(LIBSSH2_KNOWNHOSTS *hosts, const tunnel_config *cfg)
{
	static const char probe[] = "chatgenius-probe";
	int			mask = 0;

	for (int i = 0; i < N_KEY_KINDS; i++)
	{
		int			rc = libssh2_knownhost_checkp(hosts, cfg->ssh_host, cfg->ssh_port,
												  probe, sizeof(probe) - 1,
												  LIBSSH2_KNOWNHOST_TYPE_PLAIN |
												  LIBSSH2_KNOWNHOST_KEYENC_RAW |
												  key_kinds[i].knownhost_type,
												  NULL);

		if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH || rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
			mask |= 1 << i;
	}
	return mask;
}

/*
 * Writes the server's key fingerprint as OpenSSH prints it
 * ("SHA256:base64 without padding") into buf.
 */
static void
fingerprint(LIBSSH2_SESSION *session, char *buf, size_t len)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *h =
		(const unsigned char *) libssh2_hostkey_hash(session, LIBSSH2_HOSTKEY_HASH_SHA256);
	size_t		o;

	o = (size_t) snprintf(buf, len, "SHA256:");
	if (h == NULL)
	{
		snprintf(buf, len, "(unknown)");
		return;
	}
	for (int i = 0; i < 32 && o + 5 < len; i += 3)
	{
		unsigned int v = (unsigned int) h[i] << 16;
		int			n = 32 - i < 3 ? 32 - i : 3;

		if (n > 1)
			v |= (unsigned int) h[i + 1] << 8;
		if (n > 2)
			v |= h[i + 2];
		buf[o++] = b64[(v >> 18) & 63];
		buf[o++] = b64[(v >> 12) & 63];
		if (n > 1)
			buf[o++] = b64[(v >> 6) & 63];
		if (n > 2)
			buf[o++] = b64[v & 63];
	}
	buf[o] = '\0';
}

/*
 * Runs one non-blocking libssh2 call to completion: expr is evaluated
 * again, with the same arguments, after every EAGAIN once the socket is
 * ready.  Leaves the call's final result in rcvar, or
 * LIBSSH2_ERROR_TIMEOUT at the deadline.
 */
#define DRIVE(conn, deadline, expr, rcvar) \
	do { \
		for (;;) \
		{ \
			(rcvar) = (expr); \
			if ((rcvar) != LIBSSH2_ERROR_EAGAIN) \
				break; \
			if (ssh_conn_wait((conn), (deadline)) <= 0) \
			{ \
				(rcvar) = LIBSSH2_ERROR_TIMEOUT; \
				break; \
			} \
		} \
	} while (0)

/*
 * Returns SSH_OK when the server's host key is in known_hosts, else
 * SSH_FAIL_AUTH with OpenSSH's words for an unknown or a changed key.
 */
static ssh_result
verify_host_key(ssh_conn *conn, LIBSSH2_KNOWNHOSTS *hosts, const tunnel_config *cfg,
				char *err, size_t errlen)
{
	size_t		keylen = 0;
	int			type = 0;
	const char *key = libssh2_session_hostkey(conn->session, &keylen, &type);
	const key_kind *kind = NULL;
	char		label[300];
	char		fp[80];
	int			rc;

	host_label(cfg, label, sizeof(label));
	for (int i = 0; i < N_KEY_KINDS; i++)
		if (key_kinds[i].hostkey_type == type)
			kind = &key_kinds[i];
	if (key == NULL || kind == NULL)
	{
		snprintf(err, errlen, "Host key verification failed. Unsupported host key type from %s.", label);
		return SSH_FAIL_AUTH;
	}
	rc = libssh2_knownhost_checkp(hosts, cfg->ssh_host, cfg->ssh_port, key, keylen,
								  LIBSSH2_KNOWNHOST_TYPE_PLAIN |
								  LIBSSH2_KNOWNHOST_KEYENC_RAW |
								  kind->knownhost_type, NULL);
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
		return SSH_OK;
	fingerprint(conn->session, fp, sizeof(fp));
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
		snprintf(err, errlen,
				 "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! "
				 "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY! "
				 "The fingerprint for the %s key sent by the remote host is %s. "
				 "Host key for %s has changed and you have requested strict checking. "
				 "Host key verification failed.",
				 kind->label, fp, label);
	else
		snprintf(err, errlen,
				 "No %s host key is known for %s and you have requested strict checking "
				 "(server key %s, known hosts file %s). Host key verification failed.",
				 kind->label, label, fp, cfg->known_hosts);
	return SSH_FAIL_AUTH;
}

/*
 * Authenticates with the private key only.  Returns SSH_OK, SSH_FAIL_AUTH
 * ("Permission denied (methods).") when the server does not take the key
 * or offers no publickey method (no other method is ever tried), or
 * SSH_FAIL_RETRY on a network failure or timeout.
 */
static ssh_result
authenticate(ssh_conn *conn, const tunnel_config *cfg, int64_t deadline,
			 char *err, size_t errlen)
{
	const char *user = cfg->ssh_user;
	char	   *methods;
	int			rc;

	for (;;)
	{
		methods = libssh2_userauth_list(conn->session, user, (unsigned int) strlen(user));
		if (methods != NULL)
			break;
		if (libssh2_userauth_authenticated(conn->session))
			return SSH_OK;
		rc = libssh2_session_last_errno(conn->session);
		if (rc != LIBSSH2_ERROR_EAGAIN)
		{
			ssh_conn_error(conn, "authentication methods", err, errlen);
			return SSH_FAIL_RETRY;
		}
		if (ssh_conn_wait(conn, deadline) <= 0)
		{
			snprintf(err, errlen, "authentication methods: timed out");
			return SSH_FAIL_RETRY;
		}
	}
	if (strstr(methods, "publickey") == NULL)
	{
		snprintf(err, errlen, "%s@%s: Permission denied (%s).", user, cfg->ssh_host, methods);
		return SSH_FAIL_AUTH;
	}
	DRIVE(conn, deadline,
		  libssh2_userauth_publickey_fromfile_ex(conn->session, user,
												 (unsigned int) strlen(user), NULL,
												 cfg->ssh_key_path,
												 cfg->ssh_key_passphrase),
		  rc);
	if (rc == 0)
		return SSH_OK;
	if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED ||
		rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED)
	{
		snprintf(err, errlen, "%s@%s: Permission denied (publickey).", user, cfg->ssh_host);
		return SSH_FAIL_AUTH;
	}
	if (rc == LIBSSH2_ERROR_FILE || rc == LIBSSH2_ERROR_METHOD_NOT_SUPPORTED)
	{
		char		why[200];

		ssh_conn_error(conn, "", why, sizeof(why));
		snprintf(err, errlen, "Load key \"%s\": invalid format or wrong passphrase%s",
				 cfg->ssh_key_path, why);
		return SSH_FAIL_AUTH;
	}
	if (rc == LIBSSH2_ERROR_TIMEOUT)
		snprintf(err, errlen, "authentication: timed out");
	else
		ssh_conn_error(conn, "authentication", err, errlen);
	return SSH_FAIL_RETRY;
}

/*
 * Returns SSH_OK with *out set to an authenticated non-blocking session,
 * or the failure class and reason.  Every failure frees what it made.
 */
ssh_result
ssh_conn_open(const tunnel_config *cfg, ssh_conn **out, char *err, size_t errlen)
{
	int64_t		deadline = ssh_now_ms() + cfg->connect_timeout_ms;
	ssh_conn   *conn;
	LIBSSH2_KNOWNHOSTS *hosts;
	ssh_result	result = SSH_FAIL_RETRY;
	char		methods[200] = "";
	int			kinds,
				rc;

	*out = NULL;
	if (check_key_permissions(cfg->ssh_key_path, err, errlen) != 0)
		return SSH_FAIL_AUTH;
	conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return SSH_FAIL_RETRY;
	}
	conn->sock = -1;
	atomic_store(&conn->last_recv_ms, ssh_now_ms());
	conn->session = libssh2_session_init_ex(NULL, NULL, NULL, conn);
	if (conn->session == NULL)
	{
		snprintf(err, errlen, "could not create an SSH session");
		free(conn);
		return SSH_FAIL_RETRY;
	}
	libssh2_session_set_blocking(conn->session, 0);
	libssh2_session_callback_set(conn->session, LIBSSH2_CALLBACK_RECV, (void *) conn_recv);

	hosts = libssh2_knownhost_init(conn->session);
	if (hosts == NULL)
	{
		ssh_conn_error(conn, "known hosts", err, errlen);
		goto fail;
	}
	/* A missing file is an empty list: the host is then unknown. */
	(void) libssh2_knownhost_readfile(hosts, cfg->known_hosts,
									  LIBSSH2_KNOWNHOST_FILE_OPENSSH);
	kinds = known_kinds(hosts, cfg);
	for (int i = 0; i < N_KEY_KINDS; i++)
		if (kinds & (1 << i))
		{
			if (methods[0] != '\0')
				strncat(methods, ",", sizeof(methods) - strlen(methods) - 1);
			strncat(methods, key_kinds[i].methods, sizeof(methods) - strlen(methods) - 1);
		}
	if (methods[0] != '\0' &&
		libssh2_session_method_pref(conn->session, LIBSSH2_METHOD_HOSTKEY, methods) != 0)
	{
		ssh_conn_error(conn, "host key methods", err, errlen);
		goto fail_hosts;
	}

	conn->sock = tcp_connect(cfg->ssh_host, cfg->ssh_port, deadline, err, errlen);
	if (conn->sock < 0)
		goto fail_hosts;

	DRIVE(conn, deadline, libssh2_session_handshake(conn->session, conn->sock), rc);
	if (rc != 0)
	{
		if (rc == LIBSSH2_ERROR_TIMEOUT)
			snprintf(err, errlen, "ssh handshake with %s port %d: timed out",
					 cfg->ssh_host, cfg->ssh_port);
		else if (rc == LIBSSH2_ERROR_KEX_FAILURE && methods[0] != '\0')
		{
			char		label[300];

			host_label(cfg, label, sizeof(label));
			snprintf(err, errlen,
					 "Unable to negotiate with %s: no matching host key type found. "
					 "Their offer does not include the known type(s) %s. "
					 "Host key verification failed.", label, methods);
			result = SSH_FAIL_AUTH;
		}
		else
			ssh_conn_error(conn, "ssh handshake", err, errlen);
		goto fail_hosts;
	}
	result = verify_host_key(conn, hosts, cfg, err, errlen);
	if (result != SSH_OK)
		goto fail_hosts;
	libssh2_knownhost_free(hosts);
	hosts = NULL;

	result = authenticate(conn, cfg, deadline, err, errlen);
	if (result != SSH_OK)
		goto fail;
	/* Keepalives are sent by the owner when it sees silence; 1 s floor. */
	libssh2_keepalive_config(conn->session, 1, 1);
	*out = conn;
	return SSH_OK;

fail_hosts:
	if (hosts != NULL)
		libssh2_knownhost_free(hosts);
fail:
	ssh_conn_close(conn, "failed", 200);
	return result;
}

/*
 * Ends the session: a bounded disconnect message, then the socket is shut
 * so that nothing in libssh2 can wait on it any more, then every resource
 * is freed.
 */
void
ssh_conn_close(ssh_conn *conn, const char *reason, int timeout_ms)
{
	int64_t		deadline = ssh_now_ms() + timeout_ms;
	int			rc;

	if (conn == NULL)
		return;
	if (conn->sock >= 0 && conn->session != NULL && timeout_ms > 0)
		DRIVE(conn, deadline,
			  libssh2_session_disconnect_ex(conn->session, SSH_DISCONNECT_BY_APPLICATION,
											reason, ""),
			  rc);
	if (conn->sock >= 0)
		shutdown(conn->sock, SHUT_RDWR);
	if (conn->session != NULL)
	{
		for (int i = 0; i < 1000; i++)
			if (libssh2_session_free(conn->session) != LIBSSH2_ERROR_EAGAIN)
				break;
	}
	if (conn->sock >= 0)
		close(conn->sock);
	free(conn);
}
