/*-------------------------------------------------------------------------
 *
 * ulid.c
 *	  chatgenius.ulid(): 26-character ULIDs (Crockford base32 of a 48-bit
 *	  Unix millisecond timestamp and 80 random bits), monotonic within a
 *	  backend so that ids made in the same millisecond still sort in the
 *	  order they were made.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "chatgenius.h"

#define ULID_LENGTH			26
#define ULID_TIME_CHARS		10
#define ULID_MAX_MS			((UINT64CONST(1) << 48) - 1)
#define ULID_HI_MASK		0xFFFF	/* the random part's top 16 bits */

/* Crockford's base32 alphabet: no I, L, O or U. */
static const char ulid_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/*
 * The previous ULID of this backend: its millisecond and its 80-bit random
 * part as a 16-bit high and a 64-bit low half.
 */
static bool ulid_have_last = false;
static uint64 ulid_last_ms = 0;
static uint32 ulid_last_hi = 0;
static uint64 ulid_last_lo = 0;

PG_FUNCTION_INFO_V1(chatgenius_ulid);

/*
 * ulid_now_ms
 *		Returns the current time in milliseconds since the Unix epoch; the
 *		ULID's time part.
 */
static uint64
ulid_now_ms(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int64		unix_ms;

	unix_ms = now / 1000 +
		(int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * SECS_PER_DAY * 1000;
	if (unix_ms < 0 || (uint64) unix_ms > ULID_MAX_MS)
		ereport(ERROR,
				(errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE),
				 errmsg("current time is outside the range of a ULID timestamp")));
	return (uint64) unix_ms;
}

/*
 * ulid_next_random
 *		Sets *hi and *lo to the random part of the next ULID for millisecond
 *		*ms; returns nothing.  A fresh millisecond gets 80 new random bits; a
 *		millisecond that is not later than the previous one keeps the
 *		previous millisecond and increments the previous random part, which
 *		is what keeps ULIDs monotonic within the backend.
 */
static void
ulid_next_random(uint64 *ms, uint32 *hi, uint64 *lo)
{
	if (ulid_have_last && *ms <= ulid_last_ms)
	{
		*ms = ulid_last_ms;
		*lo = ulid_last_lo + 1;
		*hi = ulid_last_hi + (*lo == 0 ? 1 : 0);
		if (*hi > ULID_HI_MASK)
			ereport(ERROR,
					(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
					 errmsg("ULID random part overflowed within one millisecond"),
					 errhint("Retry in the next millisecond.")));
	}
	else
	{
		uint8		buf[10];
		int			i;

		if (!pg_strong_random(buf, sizeof(buf)))
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not generate random values")));
		*hi = ((uint32) buf[0] << 8) | buf[1];
		*lo = 0;
		for (i = 2; i < 10; i++)
			*lo = (*lo << 8) | buf[i];
	}
}

/*
 * ulid_encode
 *		Writes the 26 base32 characters of (ms, hi, lo) into out (which has
 *		room for 27 bytes); returns nothing.
 */
static void
ulid_encode(uint64 ms, uint32 hi, uint64 lo, char *out)
{
	int			i;

	for (i = ULID_TIME_CHARS - 1; i >= 0; i--)
	{
		out[i] = ulid_alphabet[ms & 31];
		ms >>= 5;
	}
	for (i = ULID_LENGTH - 1; i >= ULID_TIME_CHARS; i--)
	{
		out[i] = ulid_alphabet[lo & 31];
		lo = (lo >> 5) | ((uint64) (hi & 31) << 59);
		hi >>= 5;
	}
	out[ULID_LENGTH] = '\0';
}

/*
 * chatgenius_ulid
 *		SQL chatgenius.ulid(): returns a new ULID as text.  It is the
 *		server-side default of every id column, so that ids sort by creation
 *		time like the app's client-made ULIDs do.
 */
Datum
chatgenius_ulid(PG_FUNCTION_ARGS)
{
	uint64		ms = ulid_now_ms();
	uint32		hi;
	uint64		lo;
	char		out[ULID_LENGTH + 1];

	ulid_next_random(&ms, &hi, &lo);
	ulid_encode(ms, hi, lo, out);

	ulid_have_last = true;
	ulid_last_ms = ms;
	ulid_last_hi = hi;
	ulid_last_lo = lo;

	PG_RETURN_TEXT_P(cstring_to_text(out));
}
