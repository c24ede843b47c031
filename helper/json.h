/*
 * json.h
 *		A bounded JSON reader for what another machine answers (Patroni's
 *		REST API).  The whole text must be one valid JSON value (RFC 8259),
 *		at most JSON_MAX_DEPTH deep and JSON_MAX_TOKENS values long, with no
 *		key twice in one object (which of two would a reader believe?);
 *		anything else is refused whole, never half read.  The values are
 *		then looked up by key and read as strings or integers, each bounded
 *		by the caller's buffer.
 */
#ifndef CHATGENIUS_JSON_H
#define CHATGENIUS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JSON_MAX_DEPTH	16
#define JSON_MAX_TOKENS 2048

typedef enum json_type
{
	JSON_OBJECT,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL
} json_type;

typedef struct json_token
{
	json_type	type;
	size_t		start;			/* the value's first byte (a string's quote) */
	size_t		end;			/* one past its last byte */
	int			size;			/* an object's pairs, an array's elements */
	int			next;			/* the token after this value's own tokens */
} json_token;

typedef struct json_doc
{
	const char *text;
	size_t		len;
	int			ntokens;
	json_token	tokens[JSON_MAX_TOKENS];
} json_doc;

/*
 * Reads text (len bytes, not NUL-terminated necessarily) into d; token 0
 * is the top value.  Returns 0, or -1 with why filled when it is not one
 * JSON value within the bounds above.
 */
extern int	json_parse(json_doc *d, const char *text, size_t len, char *why, size_t whylen);

/* The token of key's value in object obj, or -1 (not an object, no key). */
extern int	json_get(const json_doc *d, int obj, const char *key);

/*
 * An array's or object's first element (an object's first key), and the
 * element after t in the same container.  Return -1 past the last one.
 */
extern int	json_first(const json_doc *d, int container);
extern int	json_after(const json_doc *d, int container, int t);

/*
 * String token t unescaped into buf (NUL-terminated).  Returns 0, or -1
 * when t is no string, does not fit, or holds a NUL.
 */
extern int	json_string(const json_doc *d, int t, char *buf, size_t len);

/* True when t is a string equal to s. */
extern bool json_string_is(const json_doc *d, int t, const char *s);

/* Integer token t into *v.  Returns 0, or -1 (no integer, out of range). */
extern int	json_int(const json_doc *d, int t, int64_t *v);

#endif							/* CHATGENIUS_JSON_H */
