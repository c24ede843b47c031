/*
 * pgconn.h
 *		libpq through the tunnel with a hard deadline: connecting and each
 *		statement are driven non-blocking with poll(2), so a frozen path
 *		costs at most the deadline, never a hang.  The server bounds itself
 *		too (statement_timeout, lock_timeout).
 */
#ifndef CHATGENIUS_PGCONN_H
#define CHATGENIUS_PGCONN_H

#include <libpq-fe.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "clock.h"
#include "config.h"


/*
 * Connect to cfg's database through the listener on port (loopback when
 * the listener is bound to a wildcard address) as cfg->postgres_user
 * (password: POSTGRES_PASSWORD, else libpq's passfile or service),
 * application_name=chatgenius-tunnel, before deadline_ms (clock_now_ms
 * time).  Returns the connection, or NULL with libpq's reason in errbuf.
 */
extern PGconn *pg_connect(const tunnel_config *cfg, int port, int64_t deadline_ms,
						  char *errbuf, size_t errlen);

/*
 * pg_connect for setup and verify, run by an operator: when the server
 * asks for a password that neither POSTGRES_PASSWORD nor libpq's sources
 * (POSTGRES_PASSFILE, PGPASSFILE, ~/.pgpass, the service) supplied and
 * stdin is a terminal, prompt for it on the terminal (no echo) and
 * connect once more.  Returns the connection, or NULL with the reason in
 * errbuf.
 */
extern PGconn *pg_connect_prompting(const tunnel_config *cfg, int port, int64_t deadline_ms,
									char *errbuf, size_t errlen);

/*
 * Run one statement with text parameters before deadline_ms.  Returns the
 * last result (the caller PQclear()s it; check its status), or NULL with
 * the reason in errbuf when the connection failed or the deadline passed
 * (the connection is then unusable: PQfinish it).
 */
extern PGresult *pg_exec(PGconn *conn, const char *sql, int nparams,
						 const char *const *values, int64_t deadline_ms,
						 char *errbuf, size_t errlen);

/*
 * Copy a libpq/PostgreSQL message into buf on one line (newlines become
 * "; ", trailing white space dropped).  Returns buf.
 */
extern const char *pg_one_line(char *buf, size_t len, const char *msg);

/*
 * Print a result as an aligned table (header, rule, rows; NULL as "") to
 * out, the way psql does, control characters escaped (escape.h).  Returns
 * nothing.
 */
extern void pg_print_table(FILE *out, const PGresult *res);

#endif							/* CHATGENIUS_PGCONN_H */
