/*
 * escape.c
 *		Text from others, shown and never obeyed (see escape.h).  One walk
 *		over the text, UTF-8 character by character, feeds a sink: a
 *		buffer, a stream, or a width count, so that the three entry points
 *		cannot disagree on what is escaped.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "escape.h"

typedef struct sink
{
	char	   *out;			/* NULL: nothing is stored */
	size_t		cap;			/* out's size, the NUL included */
	size_t		used;			/* bytes stored in out */
	bool		full;			/* a unit did not fit: nothing more is stored */
	FILE	   *f;				/* or written here */
	size_t		need;			/* bytes the whole text needs */
	int			width;			/* characters shown */
} sink;

/* Takes one unit (a character or an escape) of n bytes showing chars. */
static void
emit(sink *k, const char *p, size_t n, int chars)
{
	k->need += n;
	k->width += chars;
	if (k->f != NULL)
		fwrite(p, 1, n, k->f);
	else if (k->out != NULL && !k->full)
	{
		if (k->used + n + 1 > k->cap)
			k->full = true;
		else
		{
			memcpy(k->out + k->used, p, n);
			k->used += n;
		}
	}
}

/*
 * Takes the escape of byte value b: \xNN (in JSON, that text: \\xNN).
 */
static void
emit_byte(sink *k, unsigned int b, bool json)
{
	char		buf[16];
	int			n = snprintf(buf, sizeof(buf), "%s%02X", json ? "\\\\x" : "\\x", b);

	emit(k, buf, (size_t) n, n);
}

/* Takes the escape of character c: \uNNNN. */
static void
emit_char(sink *k, unsigned int c, bool json)
{
	char		buf[16];
	int			n = json ? snprintf(buf, sizeof(buf), "\\u%04x", c) :
		snprintf(buf, sizeof(buf), "\\u%04X", c);

	emit(k, buf, (size_t) n, n);
}

/*
 * Decodes the UTF-8 character at p.  Returns its length and sets *cp, or
 * returns 0 when the bytes are not UTF-8 (overlong, a surrogate, past
 * U+10FFFF, cut short).
 */
static int
utf8_next(const unsigned char *p, uint32_t *cp)
{
	uint32_t	c,
				min;
	int			n;

	if (p[0] < 0x80)
	{
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
	{
		n = 2;
		c = p[0] & 0x1f;
		min = 0x80;
	}
	else if (p[0] >= 0xe0 && p[0] <= 0xef)
	{
		n = 3;
		c = p[0] & 0x0f;
		min = 0x800;
	}
	else if (p[0] >= 0xf0 && p[0] <= 0xf4)
	{
		n = 4;
		c = p[0] & 0x07;
		min = 0x10000;
	}
	else
		return 0;
	for (int i = 1; i < n; i++)
	{
		if ((p[i] & 0xc0) != 0x80)
			return 0;			/* the terminating NUL stops here too */
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/*
 * True for the characters beyond ASCII that are escaped: the C1 controls
 * (U+009B is CSI on a terminal that takes 8-bit controls) and the
 * bidirectional embeddings, overrides and isolates, which reorder what
 * follows them on the screen.
 */
static bool
hidden_control(uint32_t c)
{
	return (c >= 0x80 && c <= 0x9f) || (c >= 0x202a && c <= 0x202e) ||
		(c >= 0x2066 && c <= 0x2069);
}

/* Feeds s, escaped for style, to k.  Returns nothing. */
static void
escape_walk(sink *k, const char *s, escape_style style)
{
	const unsigned char *p = (const unsigned char *) (s ? s : "");
	bool		json = style == ESCAPE_JSON;

	while (*p)
	{
		uint32_t	c;
		int			n = utf8_next(p, &c);

		if (n == 0)
		{
			/* not UTF-8: the byte's value, as text in JSON */
			emit_byte(k, *p, json);
			p++;
			continue;
		}
		if (c == '\n' && style == ESCAPE_TERMINAL_LINES)
			emit(k, "\n", 1, 0);
		else if (c == '\n')
			emit(k, "\\n", 2, 2);
		else if (c == '\r')
			emit(k, "\\r", 2, 2);
		else if (c == '\t')
			emit(k, "\\t", 2, 2);
		else if (json && (c == '"' || c == '\\'))
			emit(k, c == '"' ? "\\\"" : "\\\\", 2, 2);
		else if ((c < 0x20 || c == 0x7f) && json)
			emit_char(k, c, true);
		else if (c < 0x20 || c == 0x7f)
			emit_byte(k, c, false);
		else if (hidden_control(c))
			emit_char(k, c, json);
		else
			emit(k, (const char *) p, (size_t) n, 1);
		p += n;
	}
}

/* Returns the length the escaped text needs; see escape.h. */
size_t
escape_text(char *out, size_t outlen, const char *s, escape_style style)
{
	sink		k = {.out = outlen > 0 ? out : NULL,.cap = outlen};

	escape_walk(&k, s, style);
	if (k.out != NULL)
		out[k.used] = '\0';
	return k.need;
}

/* Returns the escaped text's width in characters; see escape.h. */
int
escape_width(const char *s, escape_style style)
{
	sink		k = {0};

	escape_walk(&k, s, style);
	return k.width;
}

/* Writes s escaped to f; see escape.h. */
void
escape_print(FILE *f, const char *s, escape_style style)
{
	sink		k = {.f = f};

	escape_walk(&k, s, style);
}
