/*
 * json.c
 *		The bounded JSON reader (see json.h): one recursive-descent pass
 *		that checks the grammar and records each value as a token (its
 *		byte range, its element count, where its subtree ends), so that a
 *		lookup is a walk over the tokens and never reads past the text.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define JSON_MAX_KEY 256		/* a longer key refuses the document */

typedef struct parser
{
	json_doc   *d;
	size_t		pos;
	char	   *why;
	size_t		whylen;
} parser;

static int	parse_value(parser *p, int depth);

/* Fills why with what went wrong, where.  Returns -1. */
static int
fail(parser *p, const char *what)
{
	snprintf(p->why, p->whylen, "%s at byte %zu", what, p->pos);
	return -1;
}

/* The byte at the parser's position, or -1 at the end. */
static int
peek(const parser *p)
{
	return p->pos < p->d->len ? (unsigned char) p->d->text[p->pos] : -1;
}

/* Skips JSON's whitespace. */
static void
skip_space(parser *p)
{
	int			c;

	while ((c = peek(p)) == ' ' || c == '\t' || c == '\n' || c == '\r')
		p->pos++;
}

/* A new token of type t at the current position.  Returns it, or -1. */
static int
new_token(parser *p, json_type t)
{
	json_token *tok;

	if (p->d->ntokens >= JSON_MAX_TOKENS)
		return fail(p, "too many values");
	tok = &p->d->tokens[p->d->ntokens];
	tok->type = t;
	tok->start = p->pos;
	tok->end = p->pos;
	tok->size = 0;
	tok->next = p->d->ntokens + 1;
	return p->d->ntokens++;
}

/* Returns the value of hex digit c, or -1. */
static int
hex_value(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads a string.  Returns its token, or -1. */
static int
parse_string(parser *p)
{
	int			t = new_token(p, JSON_STRING);

	if (t < 0)
		return -1;
	p->pos++;					/* the opening quote */
	for (;;)
	{
		int			c = peek(p);

		if (c < 0)
			return fail(p, "unterminated string");
		if (c == '"')
			break;
		if (c < 0x20)
			return fail(p, "control character in a string");
		p->pos++;
		if (c != '\\')
			continue;
		c = peek(p);
		if (c == 'u')
		{
			for (int i = 1; i <= 4; i++)
				if (p->pos + i >= p->d->len || hex_value(p->d->text[p->pos + i]) < 0)
					return fail(p, "bad \\u escape");
			p->pos += 5;
		}
		else if (c >= 0 && strchr("\"\\/bfnrt", c) != NULL)
			p->pos++;
		else
			return fail(p, "bad escape");
	}
	p->pos++;					/* the closing quote */
	p->d->tokens[t].end = p->pos;
	return t;
}

/* Reads a number (RFC 8259's grammar).  Returns its token, or -1. */
static int
parse_number(parser *p)
{
	int			t = new_token(p, JSON_NUMBER);
	int			c;

	if (t < 0)
		return -1;
	if (peek(p) == '-')
		p->pos++;
	c = peek(p);
	if (c == '0')
		p->pos++;
	else if (c >= '1' && c <= '9')
		while ((c = peek(p)) >= '0' && c <= '9')
			p->pos++;
	else
		return fail(p, "bad number");
	if (peek(p) == '.')
	{
		p->pos++;
		if ((c = peek(p)) < '0' || c > '9')
			return fail(p, "bad fraction");
		while ((c = peek(p)) >= '0' && c <= '9')
			p->pos++;
	}
	if ((c = peek(p)) == 'e' || c == 'E')
	{
		p->pos++;
		if ((c = peek(p)) == '+' || c == '-')
			p->pos++;
		if ((c = peek(p)) < '0' || c > '9')
			return fail(p, "bad exponent");
		while ((c = peek(p)) >= '0' && c <= '9')
			p->pos++;
	}
	p->d->tokens[t].end = p->pos;
	return t;
}

/* Reads true, false or null.  Returns its token, or -1. */
static int
parse_literal(parser *p)
{
	static const struct
	{
		const char *word;
		json_type	type;
	}			words[] = {{"true", JSON_TRUE}, {"false", JSON_FALSE}, {"null", JSON_NULL}};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
	{
		size_t		n = strlen(words[i].word);

		if (p->d->len - p->pos >= n && memcmp(p->d->text + p->pos, words[i].word, n) == 0)
		{
			int			t = new_token(p, words[i].type);

			if (t < 0)
				return -1;
			p->pos += n;
			p->d->tokens[t].end = p->pos;
			return t;
		}
	}
	return fail(p, "unexpected character");
}

/*
 * True when the object obj (being read, its pairs so far complete) has a
 * key equal to key token k other than k itself.
 */
static bool
key_repeated(const json_doc *d, int obj, int k)
{
	char		a[JSON_MAX_KEY + 1];
	char		b[JSON_MAX_KEY + 1];

	if (json_string(d, k, a, sizeof(a)) != 0)
		return false;
	for (int i = obj + 1; i < k; i = d->tokens[i + 1].next)
		if (json_string(d, i, b, sizeof(b)) == 0 && strcmp(a, b) == 0)
			return true;
	return false;
}

/* Reads an object or an array.  Returns its token, or -1. */
static int
parse_container(parser *p, int depth)
{
	bool		object = peek(p) == '{';
	int			t = new_token(p, object ? JSON_OBJECT : JSON_ARRAY);
	int			close = object ? '}' : ']';

	if (t < 0)
		return -1;
	if (depth >= JSON_MAX_DEPTH)
		return fail(p, "nested too deep");
	p->pos++;
	skip_space(p);
	if (peek(p) == close)
		p->pos++;
	else
		for (;;)
		{
			skip_space(p);
			if (object)
			{
				int			k;

				if (peek(p) != '"')
					return fail(p, "a key expected");
				if ((k = parse_string(p)) < 0)
					return -1;
				if (p->d->tokens[k].end - p->d->tokens[k].start > JSON_MAX_KEY)
					return fail(p, "key too long");
				if (key_repeated(p->d, t, k))
					return fail(p, "a key given twice");
				skip_space(p);
				if (peek(p) != ':')
					return fail(p, "':' expected");
				p->pos++;
			}
			if (parse_value(p, depth + 1) < 0)
				return -1;
			p->d->tokens[t].size++;
			skip_space(p);
			if (peek(p) == ',')
			{
				p->pos++;
				continue;
			}
			if (peek(p) != close)
				return fail(p, object ? "',' or '}' expected" : "',' or ']' expected");
			p->pos++;
			break;
		}
	p->d->tokens[t].end = p->pos;
	p->d->tokens[t].next = p->d->ntokens;
	return t;
}

/* Reads any value.  Returns its token, or -1. */
static int
parse_value(parser *p, int depth)
{
	int			c;

	skip_space(p);
	c = peek(p);
	if (c == '{' || c == '[')
		return parse_container(p, depth);
	if (c == '"')
		return parse_string(p);
	if (c == '-' || (c >= '0' && c <= '9'))
		return parse_number(p);
	if (c < 0)
		return fail(p, "unexpected end");
	return parse_literal(p);
}

/* Returns 0, or -1 with why; see json.h. */
int
json_parse(json_doc *d, const char *text, size_t len, char *why, size_t whylen)
{
	parser		p = {.d = d,.pos = 0,.why = why,.whylen = whylen};

	d->text = text;
	d->len = len;
	d->ntokens = 0;
	if (parse_value(&p, 0) < 0)
		return -1;
	skip_space(&p);
	if (p.pos != len)
		return fail(&p, "text after the value");
	return 0;
}

/* Returns the first element or key of container, or -1; see json.h. */
int
json_first(const json_doc *d, int container)
{
	const json_token *c;

	if (container < 0 || container >= d->ntokens)
		return -1;
	c = &d->tokens[container];
	if ((c->type != JSON_OBJECT && c->type != JSON_ARRAY) || c->size == 0)
		return -1;
	return container + 1;
}

/* Returns the element or key after t in container, or -1; see json.h. */
int
json_after(const json_doc *d, int container, int t)
{
	int			n;

	if (t < 0)
		return -1;
	n = d->tokens[container].type == JSON_OBJECT ? d->tokens[t + 1].next : d->tokens[t].next;
	return n < d->tokens[container].next ? n : -1;
}

/* Returns key's value token in obj, or -1; see json.h. */
int
json_get(const json_doc *d, int obj, const char *key)
{
	if (obj < 0 || obj >= d->ntokens || d->tokens[obj].type != JSON_OBJECT)
		return -1;
	for (int k = json_first(d, obj); k >= 0; k = json_after(d, obj, k))
		if (json_string_is(d, k, key))
			return k + 1;
	return -1;
}

/* Appends code point c as UTF-8 at *o in buf.  Returns false when it does not fit. */
static bool
put_utf8(char *buf, size_t len, size_t *o, uint32_t c)
{
	unsigned char u[4];
	size_t		n;

	if (c < 0x80)
	{
		u[0] = (unsigned char) c;
		n = 1;
	}
	else if (c < 0x800)
	{
		u[0] = (unsigned char) (0xc0 | (c >> 6));
		u[1] = (unsigned char) (0x80 | (c & 0x3f));
		n = 2;
	}
	else if (c < 0x10000)
	{
		u[0] = (unsigned char) (0xe0 | (c >> 12));
		u[1] = (unsigned char) (0x80 | ((c >> 6) & 0x3f));
		u[2] = (unsigned char) (0x80 | (c & 0x3f));
		n = 3;
	}
	else
	{
		u[0] = (unsigned char) (0xf0 | (c >> 18));
		u[1] = (unsigned char) (0x80 | ((c >> 12) & 0x3f));
		u[2] = (unsigned char) (0x80 | ((c >> 6) & 0x3f));
		u[3] = (unsigned char) (0x80 | (c & 0x3f));
		n = 4;
	}
	if (*o + n >= len)
		return false;
	memcpy(buf + *o, u, n);
	*o += n;
	return true;
}

/* The 4 hex digits at s (checked by the parser). */
static uint32_t
hex4(const char *s)
{
	return (uint32_t) (hex_value(s[0]) << 12 | hex_value(s[1]) << 8 | hex_value(s[2]) << 4 |
					   hex_value(s[3]));
}

/* Returns 0 with the unescaped string in buf, or -1; see json.h. */
int
json_string(const json_doc *d, int t, char *buf, size_t len)
{
	const char *s;
	size_t		i,
				end,
				o = 0;

	if (t < 0 || t >= d->ntokens || d->tokens[t].type != JSON_STRING || len == 0)
		return -1;
	s = d->text;
	i = d->tokens[t].start + 1;
	end = d->tokens[t].end - 1;
	while (i < end)
	{
		uint32_t	c;

		if (s[i] != '\\')
		{
			if (o + 1 >= len)
				return -1;
			buf[o++] = s[i++];
			continue;
		}
		i++;
		switch (s[i])
		{
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'n':
				c = '\n';
				break;
			case 'r':
				c = '\r';
				break;
			case 't':
				c = '\t';
				break;
			case 'u':
				c = hex4(s + i + 1);
				i += 4;
				/* a surrogate pair makes one character; a lone half is U+FFFD */
				if (c >= 0xd800 && c <= 0xdbff && i + 6 < end && s[i + 1] == '\\' &&
					s[i + 2] == 'u' && hex4(s + i + 3) >= 0xdc00 && hex4(s + i + 3) <= 0xdfff)
				{
					c = 0x10000 + ((c - 0xd800) << 10) + (hex4(s + i + 3) - 0xdc00);
					i += 6;
				}
				else if (c >= 0xd800 && c <= 0xdfff)
					c = 0xfffd;
				break;
			default:
				c = (unsigned char) s[i];	/* " \ / */
				break;
		}
		i++;
		if (c == 0 || !put_utf8(buf, len, &o, c))
			return -1;
	}
	buf[o] = '\0';
	return 0;
}

/* Returns true when t is a string equal to s; see json.h. */
bool
json_string_is(const json_doc *d, int t, const char *s)
{
	char		buf[512];

	return json_string(d, t, buf, sizeof(buf)) == 0 && strcmp(buf, s) == 0;
}

/* Returns 0 with the integer in *v, or -1; see json.h. */
int
json_int(const json_doc *d, int t, int64_t *v)
{
	char		buf[32];
	size_t		n;
	char	   *end;
	long long	x;

	if (t < 0 || t >= d->ntokens || d->tokens[t].type != JSON_NUMBER)
		return -1;
	n = d->tokens[t].end - d->tokens[t].start;
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, d->text + d->tokens[t].start, n);
	buf[n] = '\0';
	if (strpbrk(buf, ".eE") != NULL)
		return -1;
	errno = 0;
	x = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*v = x;
	return 0;
}
