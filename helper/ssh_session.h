/*
 * ssh_session.h
 *		One SSH connection: TCP connect with a timeout, handshake with the
 *		host key type pinned to what known_hosts holds, strict host key
 *		check, public-key authentication only.  The session is left
 *		non-blocking; its owner drives it with poll and
 *		libssh2_session_block_directions.
 */
#ifndef CHATGENIUS_SSH_SESSION_H
#define CHATGENIUS_SSH_SESSION_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include <libssh2.h>

#include "config.h"

/* How an attempt to open a session ended. */
typedef enum ssh_result
{
	SSH_OK = 0,
	SSH_FAIL_RETRY,				/* network, timeout, server gone: retry */
	SSH_FAIL_AUTH				/* auth refused, host key unknown/changed */
} ssh_result;

typedef struct ssh_conn
{
	int			sock;
	LIBSSH2_SESSION *session;
	_Atomic int64_t last_recv_ms;	/* monotonic ms of the last byte read */
} ssh_conn;

/*
 * Open an authenticated session to cfg->ssh_host:ssh_port within
 * cfg->connect_timeout_ms.  Returns SSH_OK with *out set, else the failure
 * class with the reason (OpenSSH's wording where users know it) in err.
 */
extern ssh_result ssh_conn_open(const tunnel_config *cfg, ssh_conn **out,
								char *err, size_t errlen);

/*
 * ssh_conn_open, with the connection itself (not the key read nor the name
 * lookup, which are bounded by SSH_CONNECT_TIMEOUT on their own) serialised
 * by handshake_lock.
 */
extern ssh_result ssh_conn_open_locked(const tunnel_config *cfg,
									   pthread_mutex_t *handshake_lock,
									   ssh_conn **out, char *err, size_t errlen);

/*
 * A refused direct-tcpip channel open, in ssh -L's words ("open failed:
 * connect failed: ..." / "open failed: administratively prohibited: ..."),
 * naming the address the SSH server could not reach, written to err.  The
 * text is also kept as the latest channel failure (ssh_channel_failure).
 * Returns the session's last libssh2 error code.
 */
extern int	ssh_channel_open_error(LIBSSH2_SESSION *session, const char *host, int port,
								   char *err, size_t errlen);

/*
 * When a channel open was refused at or after since_ms (clock_now_ms time),
 * rewrites buf as "<refusal>; then: <buf>", so that a failure seen
 * through the tunnel (libpq's "server closed the connection") names its
 * cause.  Returns nothing.
 */
extern void ssh_channel_failure_append(char *buf, size_t len, int64_t since_ms);

/*
 * Wait until the socket is ready in the direction(s) libssh2 last blocked
 * on, or until deadline_ms.  Returns 1 when ready, 0 on timeout, -1 on a
 * poll error or a hang-up.
 */
extern int	ssh_conn_wait(ssh_conn *conn, int64_t deadline_ms);

/*
 * The reason of the session's last error, as "what: libssh2's message";
 * returns the libssh2 error code.
 */
extern int	ssh_conn_error(ssh_conn *conn, const char *what, char *err, size_t errlen);

/*
 * Say goodbye (bounded by timeout_ms when the server still answers), free
 * the session and close the socket.  NULL is accepted.
 */
extern void ssh_conn_close(ssh_conn *conn, const char *reason, int timeout_ms);

#endif							/* CHATGENIUS_SSH_SESSION_H */
