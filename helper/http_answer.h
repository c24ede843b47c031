/*
 * http_answer.h
 *		Reads an HTTP/1.x answer (RFC 9112) that another machine sent, as
 *		far as a client of a REST API needs it: the status code and the
 *		body, the body's end taken from Content-Length, chunked
 *		Transfer-Encoding, or the close (HTTP/1.0, as Patroni answers).
 *		Nothing else of the headers is believed.  Bounded: headers of at
 *		most HTTP_HEADERS_MAX bytes; the caller bounds the whole answer by
 *		its buffer.  An answer that could be read two ways (Content-Length
 *		twice, different; both Content-Length and Transfer-Encoding) is
 *		refused.
 */
#ifndef CHATGENIUS_HTTP_ANSWER_H
#define CHATGENIUS_HTTP_ANSWER_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_HEADERS_MAX 8192

typedef struct http_answer
{
	int			status;			/* 100..599 */
	char	   *body;			/* inside the caller's buffer */
	size_t		body_len;
} http_answer;

typedef enum http_read
{
	HTTP_COMPLETE,				/* *a is filled */
	HTTP_INCOMPLETE,			/* more bytes are needed (eof was false) */
	HTTP_INVALID				/* why says what */
} http_read;

/*
 * Reads the len bytes in buf (a chunked body is decoded in place); eof
 * says the server closed after them.  Returns what it found.
 */
extern http_read http_answer_read(char *buf, size_t len, bool eof, http_answer *a,
								  char *why, size_t whylen);

#endif							/* CHATGENIUS_HTTP_ANSWER_H */
