/*
 * answer_fuzz.c
 *		libFuzzer target for what the helper reads from other machines and
 *		prints for operators: the HTTP answer reader (helper/http_answer.c),
 *		the bounded JSON reader (helper/json.c) on the body, every lookup
 *		the Patroni probe makes, and the escape of text for a terminal and
 *		for JSON (helper/escape.c).  Any input must be read or refused,
 *		never crash, leak or read out of bounds; an escaped text must hold
 *		no control character.  Built and run by test/fuzz/answer_fuzz.t.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "http_answer.h"
#include "json.h"

/* Walks every value under t, reading each as the probe would. */
static void
walk(const json_doc *d, int t, int depth)
{
	char		buf[256];
	int64_t		v;

	if (depth > JSON_MAX_DEPTH + 1)
		abort();				/* the reader let a deeper text through */
	(void) json_string(d, t, buf, sizeof(buf));
	(void) json_int(d, t, &v);
	(void) json_get(d, t, "members");
	(void) json_get(d, t, "timeline");
	for (int c = json_first(d, t); c >= 0; c = json_after(d, t, c))
		walk(d, d->tokens[t].type == JSON_OBJECT ? c + 1 : c, depth + 1);
}

/* Aborts when the escaped text holds a control byte (line feeds aside). */
static void
check_escaped(const char *s, escape_style style)
{
	char		out[8192];

	(void) escape_text(out, sizeof(out), s, style);
	for (const unsigned char *p = (const unsigned char *) out; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p == 0x7f || (p[0] == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f))
			abort();
	if (style != ESCAPE_TERMINAL_LINES && strchr(out, '\n') != NULL)
		abort();
}

/* Returns 0: libFuzzer's entry point, one input per call. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *buf = malloc(size + 1);
	char	   *text = malloc(size + 1);
	json_doc   *d = malloc(sizeof(json_doc));
	http_answer a;
	char		why[128];

	if (buf == NULL || text == NULL || d == NULL)
		abort();
	memcpy(text, data, size);
	text[size] = '\0';
	check_escaped(text, ESCAPE_TERMINAL);
	check_escaped(text, ESCAPE_TERMINAL_LINES);
	check_escaped(text, ESCAPE_JSON);
	for (int eof = 0; eof <= 1; eof++)
	{
		memcpy(buf, data, size);
		if (http_answer_read(buf, size, eof, &a, why, sizeof(why)) == HTTP_COMPLETE)
		{
			if (a.body < buf || a.body + a.body_len > buf + size || a.status < 100 || a.status > 599)
				abort();
			if (json_parse(d, a.body, a.body_len, why, sizeof(why)) == 0)
				walk(d, 0, 0);
		}
	}
	if (json_parse(d, (const char *) data, size, why, sizeof(why)) == 0)
		walk(d, 0, 0);
	free(d);
	free(text);
	free(buf);
	return 0;
}
