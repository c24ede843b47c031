/*
 * http_answer.c
 *		The HTTP/1.x answer reader (see http_answer.h): the status line,
 *		the header block up to its empty line (only Content-Length and
 *		Transfer-Encoding are looked at), then the body by the framing
 *		they give.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_answer.h"

/* Returns HTTP_INVALID after filling why. */
static http_read
invalid(char *why, size_t whylen, const char *what)
{
	snprintf(why, whylen, "%s", what);
	return HTTP_INVALID;
}

/*
 * The end of the header block in buf (one past its empty line), or 0 when
 * it is not there yet.
 */
static size_t
headers_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++)
	{
		if (buf[i] == '\n' && buf[i + 1] == '\n')
			return i + 2;
		if (i + 3 < len && memcmp(buf + i, "\r\n\r\n", 4) == 0)
			return i + 4;
	}
	return 0;
}

/*
 * Parses the decimal digits of [s, e) into *v (at most 9 digits: bodies
 * are bounded far below).  Returns 0, or -1.
 */
static int
parse_size(const char *s, const char *e, size_t *v)
{
	size_t		x = 0;

	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	if (s == e || e - s > 9)
		return -1;
	for (; s < e; s++)
	{
		if (*s < '0' || *s > '9')
			return -1;
		x = x * 10 + (size_t) (*s - '0');
	}
	*v = x;
	return 0;
}

/*
 * Parses a chunk size line [s, nl): 1 to 8 hex digits (chunks are bounded
 * far below 4 GiB), then its end or a chunk extension (';').  Neither sign,
 * nor white space, nor "0x": strtoul(3) takes all three, and "-1" became a
 * size whose sum with the rest wrapped around.  Returns 0 with *v, or -1.
 */
static int
parse_chunk_size(const char *s, const char *nl, size_t *v)
{
	size_t		x = 0;
	int			digits = 0;

	for (; s < nl && digits <= 8; s++, digits++)
	{
		char		c = *s;

		if (c >= '0' && c <= '9')
			x = x * 16 + (size_t) (c - '0');
		else if (c >= 'a' && c <= 'f')
			x = x * 16 + (size_t) (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			x = x * 16 + (size_t) (c - 'A' + 10);
		else
			break;
	}
	if (digits == 0 || digits > 8 || (s < nl && *s != '\r' && *s != ';'))
		return -1;
	*v = x;
	return 0;
}

/*
 * Reads the chunked body at [body, body + len); with apply, decodes it in
 * place (only once it was found complete: an answer is read again as more
 * bytes come).  Returns HTTP_COMPLETE with *out_len, HTTP_INCOMPLETE, or
 * HTTP_INVALID.
 */
static http_read
dechunk(char *body, size_t len, bool apply, size_t *out_len, char *why, size_t whylen)
{
	size_t		in = 0,
				out = 0;

	for (;;)
	{
		char	   *nl = memchr(body + in, '\n', len - in);
		size_t		size;

		if (nl == NULL)
			return len - in > 32 ? invalid(why, whylen, "chunk size line too long") : HTTP_INCOMPLETE;
		if (parse_chunk_size(body + in, nl, &size) != 0)
			return invalid(why, whylen, "bad chunk size");
		in = (size_t) (nl - body) + 1;
		if (size == 0)
		{
			*out_len = out;
			return HTTP_COMPLETE;	/* trailers, if any, are not read */
		}
		if (size >= len - in)
			return HTTP_INCOMPLETE;	/* the chunk and at least its line end */
		if (apply)
			memmove(body + out, body + in, size);
		out += size;
		in += size;
		if (body[in] == '\r')
			in++;
		if (in >= len)
			return HTTP_INCOMPLETE;
		if (body[in] != '\n')
			return invalid(why, whylen, "chunk not followed by its line end");
		in++;
	}
}

/* Reads an answer; see http_answer.h. */
http_read
http_answer_read(char *buf, size_t len, bool eof, http_answer *a, char *why, size_t whylen)
{
	size_t		hend = headers_end(buf, len < HTTP_HEADERS_MAX ? len : HTTP_HEADERS_MAX);
	size_t		content_length = 0;
	bool		has_length = false,
				chunked = false;
	int			status;
	char	   *line;

	if (len >= 5 && memcmp(buf, "HTTP/", 5) != 0)
		return invalid(why, whylen, "not an HTTP answer");
	if (hend == 0)
	{
		if (len >= HTTP_HEADERS_MAX)
			return invalid(why, whylen, "headers too long");
		return eof ? invalid(why, whylen, "answer cut short in its headers") : HTTP_INCOMPLETE;
	}
	/* "HTTP/1.x NNN reason" */
	if (hend < 14 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '0' && buf[7] != '1') ||
		buf[8] != ' ' || buf[9] < '1' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' ||
		buf[11] < '0' || buf[11] > '9' || (buf[12] != ' ' && buf[12] != '\r' && buf[12] != '\n'))
		return invalid(why, whylen, "bad status line");
	status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	for (line = memchr(buf, '\n', hend) + 1; line < buf + hend;)
	{
		char	   *nl = memchr(line, '\n', (size_t) (buf + hend - line));
		char	   *colon = memchr(line, ':', (size_t) (nl - line));

		if (colon != NULL)
		{
			size_t		name = (size_t) (colon - line);

			if (name == 14 && strncasecmp(line, "Content-Length", 14) == 0)
			{
				size_t		v;

				if (parse_size(colon + 1, nl, &v) != 0 || (has_length && v != content_length))
					return invalid(why, whylen, "bad Content-Length");
				content_length = v;
				has_length = true;
			}
			else if (name == 17 && strncasecmp(line, "Transfer-Encoding", 17) == 0)
			{
				const char *v = colon + 1;
				const char *e = nl;

				/* chunked alone: "gzip, chunked" would leave a body we cannot read */
				while (v < e && (*v == ' ' || *v == '\t'))
					v++;
				while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
					e--;
				if (e - v != 7 || strncasecmp(v, "chunked", 7) != 0)
					return invalid(why, whylen, "unknown Transfer-Encoding");
				chunked = true;
			}
		}
		line = nl + 1;
	}
	if (has_length && chunked)
		return invalid(why, whylen, "both Content-Length and Transfer-Encoding");
	a->status = status;
	a->body = buf + hend;
	if (chunked)
	{
		http_read	r = dechunk(buf + hend, len - hend, false, &a->body_len, why, whylen);

		if (r == HTTP_INCOMPLETE && eof)
			return invalid(why, whylen, "answer cut short in its body");
		if (r == HTTP_COMPLETE)
			r = dechunk(buf + hend, len - hend, true, &a->body_len, why, whylen);
		return r;
	}
	if (has_length)
	{
		if (len - hend >= content_length)
		{
			a->body_len = content_length;
			return HTTP_COMPLETE;
		}
		return eof ? invalid(why, whylen, "answer cut short in its body") : HTTP_INCOMPLETE;
	}
	if (!eof)
		return HTTP_INCOMPLETE;
	a->body_len = len - hend;
	return HTTP_COMPLETE;
}
