/*
 * log_cases.c
 *		The escapes of the helper's log fields, case by case: log_format
 *		(helper/log.c) with a value that needs none, quotes, a backslash,
 *		control characters, an already-quoted value, values between the
 *		format's own quotes, every conversion the code uses, NULL, %n (never
 *		written through), and a buffer too small.  Prints TAP; built and run by
 *		test/helper/log_format.t.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

static int	failed;
static int	n;

/* One TAP line: got against want.  Returns nothing. */
static void
check(const char *what, const char *got, const char *want)
{
	n++;
	if (strcmp(got, want) == 0)
		printf("ok %d - %s\n", n, what);
	else
	{
		printf("not ok %d - %s\n#      got: '%s'\n# expected: '%s'\n", n, what, got, want);
		failed++;
	}
}

#define CASE(want, ...) do { \
	char		b_[512]; \
	log_format(b_, sizeof(b_), __VA_ARGS__); \
	check(#__VA_ARGS__, b_, want); \
} while (0)

/* Returns 0 when every case passed. */
int
main(void)
{
	char		q[64];
	char		small[10];
	size_t		wanted;
	char		all[32];
	const char *volatile nothing = NULL;	/* unseen by the compiler's checks */
	int			count = -1;

	CASE("a=plain", "a=%s", "plain");
	CASE("a=\"two words\"", "a=%s", "two words");
	CASE("a=\"\"", "a=%s", "");
	CASE("a=\"q\\\"b\\\\s\\nn\\rr\\tt\"", "a=%s", "q\"b\\s\nn\rr\tt");
	CASE("a=\"c\\x01x\\x7f\"", "a=%s", "c\x01x\x7f");
	CASE("a=\"k=v\"", "a=%s", "k=v");
	CASE("a=\"already quoted\"", "a=%s", log_quote(q, sizeof(q), "already quoted"));
	CASE("a=\"\\\"bad\\\"quote\\\"\"", "a=%s", "\"bad\"quote\"");
	CASE("a=\"x y \\\"z\\\" \\\\ \\n\"", "a=\"%s\"", "x y \"z\" \\ \n");
	CASE("a=\"\\x01\"", "a=\"%s\"", "\x01");
	CASE("a=\"x y\" b=\"q\\\"\" c=5", "a=%s b=\"%s\" c=%d", "x y", "q\"", 5);
	CASE("n=42 m=-7 u=9 x=ff p=    3%", "n=%d m=%lld u=%zu x=%x p=%5d%%", 42, -7LL, (size_t) 9, 255, 3);
	CASE("v=-9223372036854775808", "v=%" PRId64, INT64_MIN);
	CASE("s=abc", "s=%.*s", 3, "abcdef");
	CASE("s=\"ab    \"|", "s=%-6s|", "ab");
	CASE("f=1.50 l=-3", "f=%.2f l=%ld", 1.5, -3L);
	CASE("a=(null)", "a=%s", nothing);
	CASE("a=\"\\x01\\x02\\x03\" b=\"x\\x1c\"", "a=%s b=%s", "\x01\x02\x03", "x\x1c");
	for (int i = 1; i < 32; i++)
		all[i - 1] = (char) i;
	all[31] = '\0';
	CASE("a=\"\\x01\\x02\\x03\\x04\\x05\\x06\\x07\\x08\\t\\n\\x0b\\x0c\\r\\x0e\\x0f\\x10"
		 "\\x11\\x12\\x13\\x14\\x15\\x16\\x17\\x18\\x19\\x1a\\x1b\\x1c\\x1d\\x1e\\x1f\" b=1",
		 "a=%s b=%d", all, 1);
	{
		char		b[512];
		const char *tail = " b=2 p=100%n";
		size_t		l;
		bool		good;

		log_format(b, sizeof(b), "a=%d%n b=%d p=100%%n", 1, &count, 2);
		l = strlen(b);
		good = count == -1 && strncmp(b, "a=1", 3) == 0 && l > strlen(tail) &&
			strcmp(b + l - strlen(tail), tail) == 0;
		n++;
		printf("%s %d - %%n is never written through, its argument taken: %s\n",
			   good ? "ok" : "not ok", n, b);
		failed += !good;
	}
	wanted = log_format(small, sizeof(small), "a=%s", "0123456789abc");
	check("a buffer too small: cut, terminated", small, "a=0123456");
	n++;
	printf("%s %d - a buffer too small: returns the length wanted (15: %zu)\n",
		   wanted == 15 ? "ok" : "not ok", n, wanted);
	failed += wanted != 15;
	printf("1..%d\n", n);
	return failed != 0;
}
