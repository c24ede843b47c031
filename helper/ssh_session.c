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
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "known_hosts.h"
#include "service_user.h"
#include "clock.h"
#include "ssh_session.h"

/* A private key file larger than this is not a key (OpenSSH: 1 MB too). */
#define KEY_FILE_MAX (1024 * 1024)

/*
 * Host key types: known_hosts bit, method names, OpenSSH's label.  Only
 * names libssh2 1.10 knows: it has no rsa-sha2-* host key methods, and an
 * unknown name in the preference list fails the whole list.
 */
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
	"ssh-rsa", "RSA"},
};

#define N_KEY_KINDS ((int) (sizeof(key_kinds) / sizeof(key_kinds[0])))

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
		atomic_store(&conn->last_recv_ms, clock_now_ms());
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
	int64_t		left = deadline_ms - clock_now_ms();
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
 * One name lookup handed to a thread of its own, so that the caller can
 * give up at its deadline: getaddrinfo(3) has no timeout of its own (the
 * resolver's, from resolv.conf, can add up to minutes).  The last of the
 * two owners (caller, thread) frees the job.
 */
typedef struct resolve_job
{
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	int			owners;
	bool		done;
	char	   *host;
	char		port[16];
	int			rc;
	struct addrinfo *res;
} resolve_job;

/* Drops one owner of job; the last one frees it.  Returns nothing. */
static void
resolve_release(resolve_job *job)
{
	bool		last;

	pthread_mutex_lock(&job->lock);
	last = --job->owners == 0;
	pthread_mutex_unlock(&job->lock);
	if (!last)
		return;
	if (job->res != NULL)
		freeaddrinfo(job->res);
	pthread_cond_destroy(&job->done_cv);
	pthread_mutex_destroy(&job->lock);
	free(job->host);
	free(job);
}

/* The lookup thread: getaddrinfo, then wake the caller.  Returns NULL. */
static void *
resolve_main(void *arg)
{
	resolve_job *job = arg;
	struct addrinfo hints;
	struct addrinfo *res = NULL;
	int			rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(job->host, job->port, &hints, &res);
	pthread_mutex_lock(&job->lock);
	job->rc = rc;
	job->res = rc == 0 ? res : NULL;
	job->done = true;
	pthread_cond_signal(&job->done_cv);
	pthread_mutex_unlock(&job->lock);
	resolve_release(job);
	return NULL;
}

/*
 * Resolves host:port before deadline (monotonic ms).  Returns 0 with *out
 * set (the caller frees it with freeaddrinfo), or -1 with OpenSSH's
 * "Could not resolve hostname H: reason" in err.
 */
static int
resolve(const char *host, int port, int64_t deadline, struct addrinfo **out,
		char *err, size_t errlen)
{
	resolve_job *job = calloc(1, sizeof(*job));
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t	tid;
	int			rc = -1;

	*out = NULL;
	if (job == NULL || (job->host = strdup(host)) == NULL)
	{
		free(job);
		snprintf(err, errlen, "Could not resolve hostname %s: out of memory", host);
		return -1;
	}
	snprintf(job->port, sizeof(job->port), "%d", port);
	job->owners = 2;
	pthread_mutex_init(&job->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&job->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&tid, &ta, resolve_main, job) != 0)
	{
		pthread_attr_destroy(&ta);
		job->owners = 1;
		snprintf(err, errlen, "Could not resolve hostname %s: cannot start a lookup thread", host);
		resolve_release(job);
		return -1;
	}
	pthread_attr_destroy(&ta);

	pthread_mutex_lock(&job->lock);
	while (!job->done)
	{
		struct timespec ts;

		if (clock_now_ms() >= deadline)
			break;
		ts.tv_sec = deadline / 1000;
		ts.tv_nsec = (long) (deadline % 1000) * 1000000L;
		(void) pthread_cond_timedwait(&job->done_cv, &job->lock, &ts);
	}
	if (!job->done)
		snprintf(err, errlen, "Could not resolve hostname %s: timed out (SSH_CONNECT_TIMEOUT)", host);
	else if (job->rc != 0)
		snprintf(err, errlen, "Could not resolve hostname %s: %s", host, gai_strerror(job->rc));
	else
	{
		*out = job->res;
		job->res = NULL;
		rc = 0;
	}
	pthread_mutex_unlock(&job->lock);
	resolve_release(job);
	return rc;
}

/*
 * Returns a connected TCP socket to host:port or -1 with OpenSSH's
 * "connect to host H port P: <strerror>" in err ("Connection refused" for
 * ECONNREFUSED), trying each resolved address (res) until the deadline.
 */
static int
tcp_connect(const char *host, int port, struct addrinfo *res, int64_t deadline,
			char *err, size_t errlen)
{
	struct addrinfo *ai;
	int			rc,
				saved = ETIMEDOUT;

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
			return fd;
		}
		if (errno == EINPROGRESS)
		{
			struct pollfd pfd = {.fd = fd,.events = POLLOUT};
			int64_t		left = deadline - clock_now_ms();
			int			soerr = 0;
			socklen_t	slen = sizeof(soerr);

			do
				rc = left > 0 ? poll(&pfd, 1, (int) left) : 0;
			while (rc < 0 && errno == EINTR && (left = deadline - clock_now_ms()) > 0);
			if (rc > 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &slen) == 0)
			{
				if (soerr == 0)
				{
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
	snprintf(err, errlen, "connect to host %s port %d: %s", host, port, strerror(saved));
	return -1;
}

/*
 * Reads the private key the way OpenSSH's sshkey_load_private does: one
 * open(2) (a symlink is followed, as ssh does; every check is then made on
 * the file actually opened, through fstat, so nothing can be swapped in
 * between), a regular file owned by the user the helper runs as (or root;
 * any owner when the helper runs as root), not accessible by group or others, read into memory for
 * libssh2_userauth_publickey_frommemory.  Returns the malloc'd key text
 * (length in *len), or NULL with OpenSSH's words in err; *transient says
 * whether the failure was this process running short (out of descriptors
 * or memory), which a later attempt may not meet, rather than the key.
 */
static char *
load_private_key(const char *path, size_t *len, bool *transient, char *err, size_t errlen)
{
	int			fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	struct stat st;
	char	   *buf = NULL;
	size_t		n = 0;
	char		who[128];

	*transient = false;
	if (fd < 0)
	{
		*transient = (errno == EMFILE || errno == ENFILE || errno == ENOMEM);
		snprintf(err, errlen, "Load key \"%s\": %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0)
	{
		snprintf(err, errlen, "Load key \"%s\": %s", path, strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode))
	{
		snprintf(err, errlen, "Load key \"%s\": not a regular file", path);
		goto fail;
	}
	/*
	 * Root may use a key that another user owns (doc/operations.md's setup and
	 * verify, as root, with the service user's key), as OpenSSH's root may:
	 * the mode check below still refuses a loose one.
	 */
	if (st.st_uid != geteuid() && st.st_uid != 0 && geteuid() != 0)
	{
		snprintf(err, errlen,
				 "Bad owner or permissions on %s: owned by uid %d, not by root or by the "
				 "user chatgenius-tunnel runs as (%s). This private key will be ignored.",
				 path, (int) st.st_uid, service_user(who, sizeof(who)));
		goto fail;
	}
	if ((st.st_mode & 077) != 0)
	{
		snprintf(err, errlen,
				 "Permissions 0%03o for '%s' are too open. "
				 "It is required that your private key files are NOT accessible by others. "
				 "This private key will be ignored.",
				 (unsigned int) (st.st_mode & 0777), path);
		goto fail;
	}
	if (st.st_size <= 0 || st.st_size > KEY_FILE_MAX)
	{
		snprintf(err, errlen, "Load key \"%s\": invalid format", path);
		goto fail;
	}
	buf = malloc((size_t) st.st_size + 1);
	if (buf == NULL)
	{
		*transient = true;
		snprintf(err, errlen, "Load key \"%s\": out of memory", path);
		goto fail;
	}
	while (n < (size_t) st.st_size)
	{
		ssize_t		r = read(fd, buf + n, (size_t) st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
		{
			snprintf(err, errlen, "Load key \"%s\": %s", path,
					 r < 0 ? strerror(errno) : "file shrank while read");
			explicit_bzero(buf, n);
			free(buf);
			buf = NULL;
			goto fail;
		}
		n += (size_t) r;
	}
	buf[n] = '\0';
	*len = n;
	close(fd);
	return buf;

fail:
	close(fd);
	return NULL;
}

/* Frees the key text after wiping it.  Returns nothing. */
static void
free_private_key(char *key, size_t len)
{
	if (key == NULL)
		return;
	explicit_bzero(key, len);
	free(key);
}

/*
 * Returns a bit per key_kinds entry that known_hosts holds for the host
 * under its OpenSSH name (so a plain "host" entry never counts for another
 * port).  A probe key of each type is checked: a mismatch means a key of
 * that type is known (the type is in the check mask, so other types do not
 * count).
 */
static int
known_kinds(known_hosts *kh)
{
	static const char probe[] = "chatgenius-probe";
	int			mask = 0;

	for (int i = 0; i < N_KEY_KINDS; i++)
	{
		int			rc = known_hosts_check(kh, probe, sizeof(probe) - 1,
										   key_kinds[i].knownhost_type);

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
 * Returns SSH_OK when the server's host key is in known_hosts and not
 * revoked, else SSH_FAIL_AUTH with OpenSSH's words for a revoked, changed
 * or unknown key (plus what made it unknown: a missing file, skipped
 * lines, a @cert-authority line).
 */
static ssh_result
verify_host_key(ssh_conn *conn, known_hosts *kh, char *err, size_t errlen)
{
	size_t		keylen = 0;
	int			type = 0;
	const char *key = libssh2_session_hostkey(conn->session, &keylen, &type);
	const key_kind *kind = NULL;
	char		fp[80];
	char		why[600];
	int			rc;

	for (int i = 0; i < N_KEY_KINDS; i++)
		if (key_kinds[i].hostkey_type == type)
			kind = &key_kinds[i];
	if (key == NULL || kind == NULL)
	{
		snprintf(err, errlen, "Host key verification failed. Unsupported host key type from %s.", kh->name);
		return SSH_FAIL_AUTH;
	}
	fingerprint(conn->session, fp, sizeof(fp));
	if (known_hosts_revoked(kh, key, keylen, kind->knownhost_type))
	{
		snprintf(err, errlen,
				 "WARNING: REVOKED HOST KEY DETECTED! The %s host key for %s is marked as "
				 "revoked (%s, known hosts file %s). This could mean that a stolen key is "
				 "being used to impersonate this host. Host key verification failed.",
				 kind->label, kh->name, fp, kh->path);
		return SSH_FAIL_AUTH;
	}
	rc = known_hosts_check(kh, key, keylen, kind->knownhost_type);
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH)
		return SSH_OK;
	if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH)
		snprintf(err, errlen,
				 "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! "
				 "IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY! "
				 "The fingerprint for the %s key sent by the remote host is %s. "
				 "Host key for %s has changed and you have requested strict checking. "
				 "Host key verification failed.",
				 kind->label, fp, kh->name);
	else
	{
		known_hosts_explain(kh, why, sizeof(why));
		snprintf(err, errlen,
				 "No %s host key is known for %s and you have requested strict checking "
				 "(server key %s, known hosts file %s).%s Host key verification failed.",
				 kind->label, kh->name, fp, kh->path, why);
	}
	return SSH_FAIL_AUTH;
}

/*
 * Authenticates with the private key only.  Returns SSH_OK, SSH_FAIL_AUTH
 * ("Permission denied (methods).") when the server does not take the key
 * or offers no publickey method (no other method is ever tried), or
 * SSH_FAIL_RETRY on a network failure or timeout.
 */
static ssh_result
authenticate(ssh_conn *conn, const tunnel_config *cfg, const char *key, size_t keylen,
			 int64_t deadline, char *err, size_t errlen)
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
		  libssh2_userauth_publickey_frommemory(conn->session, user, strlen(user),
												NULL, 0, key, keylen,
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
	if (rc == LIBSSH2_ERROR_KEYFILE_AUTH_FAILED)
	{
		snprintf(err, errlen, "Load key \"%s\": incorrect passphrase supplied to decrypt private key",
				 cfg->ssh_key_path);
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
 * Makes the libssh2 session of conn: non-blocking, with the receive hook
 * that notes liveness.  The one place where a session is created, so that
 * socket I/O callbacks are installed here too.  Returns 0, or -1 with the
 * reason in err.
 */
static int
session_create(ssh_conn *conn, char *err, size_t errlen)
{
	conn->session = libssh2_session_init_ex(NULL, NULL, NULL, conn);
	if (conn->session == NULL)
	{
		snprintf(err, errlen, "could not create an SSH session");
		return -1;
	}
	libssh2_session_set_blocking(conn->session, 0);
	libssh2_session_callback_set(conn->session, LIBSSH2_CALLBACK_RECV, (void *) conn_recv);
	return 0;
}

/*
 * Everything after name resolution: known_hosts, TCP connect, handshake
 * pinned to the known key types, host key check, authentication with the
 * key text.  Returns SSH_OK with *out set, or the failure class and reason;
 * every failure frees what it made.
 */
static ssh_result
open_resolved(const tunnel_config *cfg, struct addrinfo *addrs, const char *key,
			  size_t keylen, ssh_conn **out, char *err, size_t errlen)
{
	int64_t		deadline = clock_now_ms() + cfg->connect_timeout_ms;
	ssh_conn   *conn;
	known_hosts kh;
	ssh_result	result = SSH_FAIL_RETRY;
	char		methods[200] = "";
	int			kinds,
				rc;

	conn = calloc(1, sizeof(*conn));
	if (conn == NULL)
	{
		snprintf(err, errlen, "out of memory");
		return SSH_FAIL_RETRY;
	}
	conn->sock = -1;
	atomic_store(&conn->last_recv_ms, clock_now_ms());
	if (session_create(conn, err, errlen) != 0)
	{
		free(conn);
		return SSH_FAIL_RETRY;
	}

	if (known_hosts_load(&kh, conn->session, cfg->known_hosts, cfg->ssh_host, cfg->ssh_port,
						 err, errlen) != 0)
	{
		result = SSH_FAIL_AUTH;
		goto fail;
	}
	kinds = known_kinds(&kh);
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

	conn->sock = tcp_connect(cfg->ssh_host, cfg->ssh_port, addrs, deadline, err, errlen);
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
			snprintf(err, errlen,
					 "Unable to negotiate with %s: no matching host key type found. "
					 "Their offer does not include the known type(s) %s. "
					 "Host key verification failed.", kh.name, methods);
			result = SSH_FAIL_AUTH;
		}
		else
			ssh_conn_error(conn, "ssh handshake", err, errlen);
		goto fail_hosts;
	}
	result = verify_host_key(conn, &kh, err, errlen);
	if (result != SSH_OK)
		goto fail_hosts;
	known_hosts_free(&kh);

	result = authenticate(conn, cfg, key, keylen, deadline, err, errlen);
	if (result != SSH_OK)
		goto fail;
	/* Keepalives are sent by the owner when it sees silence; 1 s floor. */
	libssh2_keepalive_config(conn->session, 1, 1);
	*out = conn;
	return SSH_OK;

fail_hosts:
	known_hosts_free(&kh);
fail:
	ssh_conn_close(conn, "failed", 200);
	return result;
}

/*
 * Returns SSH_OK with *out set to an authenticated non-blocking session,
 * or the failure class and reason.  The key is read and the name resolved
 * first, each bounded, and outside handshake_lock (when given), which is
 * held only for the connection itself.
 */
ssh_result
ssh_conn_open_locked(const tunnel_config *cfg, pthread_mutex_t *handshake_lock,
					 ssh_conn **out, char *err, size_t errlen)
{
	struct addrinfo *addrs = NULL;
	size_t		keylen = 0;
	char	   *key;
	bool		transient;
	ssh_result	result;

	*out = NULL;
	key = load_private_key(cfg->ssh_key_path, &keylen, &transient, err, errlen);
	if (key == NULL)
		return transient ? SSH_FAIL_RETRY : SSH_FAIL_AUTH;
	if (resolve(cfg->ssh_host, cfg->ssh_port, clock_now_ms() + cfg->connect_timeout_ms,
				&addrs, err, errlen) != 0)
	{
		free_private_key(key, keylen);
		return SSH_FAIL_RETRY;
	}
	if (handshake_lock != NULL)
		pthread_mutex_lock(handshake_lock);
	result = open_resolved(cfg, addrs, key, keylen, out, err, errlen);
	if (handshake_lock != NULL)
		pthread_mutex_unlock(handshake_lock);
	freeaddrinfo(addrs);
	free_private_key(key, keylen);
	return result;
}

/* See ssh_session.h: ssh_conn_open_locked without a lock. */
ssh_result
ssh_conn_open(const tunnel_config *cfg, ssh_conn **out, char *err, size_t errlen)
{
	return ssh_conn_open_locked(cfg, NULL, out, err, errlen);
}

/*
 * Ends the session: a bounded disconnect message, then the socket is shut
 * so that nothing in libssh2 can wait on it any more, then every resource
 * is freed.
 */
void
ssh_conn_close(ssh_conn *conn, const char *reason, int timeout_ms)
{
	int64_t		deadline = clock_now_ms() + timeout_ms;
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

/* The latest refused channel open: its text and when (clock_now_ms). */
static pthread_mutex_t channel_failure_lock = PTHREAD_MUTEX_INITIALIZER;
static char channel_failure[512];
static int64_t channel_failure_ms;

/*
 * See ssh_session.h.  libssh2 1.10 keeps only the reason code of the
 * server's SSH_MSG_CHANNEL_OPEN_FAILURE (its message text is dropped), so
 * the code is mapped to ssh's words and to what it means for this tunnel.
 * Returns the libssh2 error code.
 */
int
ssh_channel_open_error(LIBSSH2_SESSION *session, const char *host, int port,
					   char *err, size_t errlen)
{
	char	   *last = NULL;
	int			code = libssh2_session_last_error(session, &last, NULL, 0);
	const char *msg = last != NULL ? last : "unknown error";

	/* short enough for a pump's 160-byte error with a long host name */
	if (code == LIBSSH2_ERROR_CHANNEL_FAILURE && strstr(msg, "(connect failed)") != NULL)
		snprintf(err, errlen,
				 "open failed: connect failed: the SSH server cannot reach %s port %d "
				 "(POSTGRES_REMOTE_HOST/POSTGRES_REMOTE_PORT)", host, port);
	else if (code == LIBSSH2_ERROR_CHANNEL_FAILURE &&
			 strstr(msg, "(administratively prohibited)") != NULL)
		snprintf(err, errlen,
				 "open failed: administratively prohibited: the SSH server refuses to forward "
				 "to %s port %d (AllowTcpForwarding/PermitOpen)", host, port);
	else if (code == LIBSSH2_ERROR_CHANNEL_FAILURE &&
			 strstr(msg, "(resource shortage)") != NULL)
		snprintf(err, errlen, "open failed: resource shortage: the SSH server cannot open "
				 "another channel to %s port %d", host, port);
	else
		snprintf(err, errlen, "channel open to %s port %d: %s", host, port, msg);
	if (code == LIBSSH2_ERROR_CHANNEL_FAILURE)
	{
		pthread_mutex_lock(&channel_failure_lock);
		snprintf(channel_failure, sizeof(channel_failure), "%s", err);
		channel_failure_ms = clock_now_ms();
		pthread_mutex_unlock(&channel_failure_lock);
	}
	return code;
}

/*
 * See ssh_session.h: the refusal goes first, since it is the cause and the
 * message after it (libpq's) may be cut at len.  Returns nothing.
 */
void
ssh_channel_failure_append(char *buf, size_t len, int64_t since_ms)
{
	char	   *old;

	pthread_mutex_lock(&channel_failure_lock);
	if (channel_failure[0] != '\0' && channel_failure_ms >= since_ms && len > 0 &&
		(old = strdup(buf)) != NULL)
	{
		snprintf(buf, len, "%s; then: %s", channel_failure, old);
		free(old);
	}
	pthread_mutex_unlock(&channel_failure_lock);
}
