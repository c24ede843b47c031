/*
 * http_server.h
 *		The local HTTP endpoint (TUNNEL_HTTP_ADDR, off when unset): GET
 *		/metrics (metrics.h), and the probes /startup, /liveness and
 *		/readiness as Cloud SQL Auth Proxy defines them (status_board.h:
 *		200 "ok", or 503 with the reason as the body).
 *
 *		It has its own thread and never touches the data path.  A client is
 *		bounded as the listener bounds its own: HTTP_MAX_CONNECTIONS at once
 *		(a new one takes the place of the one that has been sending its
 *		request the longest), HTTP_REQUEST_MAX bytes of request head,
 *		HTTP_IO_MS to send it and read the answer; one request per
 *		connection.
 */
#ifndef CHATGENIUS_HTTP_SERVER_H
#define CHATGENIUS_HTTP_SERVER_H

#include <stddef.h>

#define HTTP_MAX_CONNECTIONS	16
#define HTTP_REQUEST_MAX		4096
#define HTTP_IO_MS				2000

/*
 * Bind addr ("host:port", "[v6]:port"; port 0 takes a free one), or take
 * fd (a listening socket passed by systemd, -1: none).  Returns 0, or -1
 * with the reason in err (naming TUNNEL_HTTP_ADDR and the value).
 */
extern int	http_server_open(const char *addr, int fd, char *err, size_t errlen);

/* Start the thread.  Returns 0, or -1 (logged). */
extern int	http_server_start(void);

/* Stop the thread and close every socket.  Safe to call at any point. */
extern void http_server_stop(void);

#endif							/* CHATGENIUS_HTTP_SERVER_H */
