/*
 * escape.h
 *		The one escape for text that the helper prints but did not write
 *		itself: what the database returns (health()'s details, the
 *		migration history, error messages), what an SSH or database peer
 *		said, what a tunnel row holds.  Such text may carry terminal
 *		control sequences (ESC ]0; sets the window title, CR and ESC [2K
 *		rewrite a line, a forged "verify: ok"): on an operator's terminal
 *		it is shown, never obeyed.  As psql shows a cell: CR as \r, other
 *		control characters as \xNN, C1 controls (U+0080..U+009F) as \uNNNN;
 *		and beyond psql, LF and TAB as \n and \t (a cell is one line here),
 *		the bidirectional overrides as \uNNNN, and bytes that are not UTF-8
 *		as \xNN.  The JSON form (status --json) is a valid JSON string body
 *		with the same characters escaped as JSON escapes.
 */
#ifndef CHATGENIUS_ESCAPE_H
#define CHATGENIUS_ESCAPE_H

#include <stddef.h>
#include <stdio.h>

typedef enum escape_style
{
	ESCAPE_TERMINAL,			/* one line for a terminal */
	ESCAPE_TERMINAL_LINES,		/* the same, line feeds kept: laid-out text */
	ESCAPE_JSON					/* the body of a JSON string (RFC 8259) */
} escape_style;

/*
 * Writes s (NULL: empty) escaped into out, truncated to outlen bytes with
 * the NUL (never inside an escape or a UTF-8 character).  Returns the
 * length the whole escaped text needs, as snprintf does.
 */
extern size_t escape_text(char *out, size_t outlen, const char *s, escape_style style);

/*
 * The display width of s once escaped: its characters, every escape's
 * characters included (for aligning table columns).
 */
extern int	escape_width(const char *s, escape_style style);

/* Writes s escaped to f.  Returns nothing. */
extern void escape_print(FILE *f, const char *s, escape_style style);

#endif							/* CHATGENIUS_ESCAPE_H */
