/*-------------------------------------------------------------------------
 *
 * fingerprint.c
 *	  chatgenius.schema_fingerprint(): the hex SHA-256 of a sorted, OID-free
 *	  text description of every member object of the extension (pg_depend
 *	  deptype 'e') and of its pg_extension_config_dump settings.  Two
 *	  databases have the same fingerprint when their extension objects are
 *	  defined alike, whether they were installed fresh, updated or restored.
 *
 *	  Names are deparsed with a fixed search_path and fixed date, interval
 *	  and float output settings, so that the text does not depend on the
 *	  caller's session.  The result is cached per backend; relcache and
 *	  syscache callbacks on the member objects, the pg_extension row's
 *	  version and the set of members invalidate it.
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/cryptohash.h"
#include "common/hashfn.h"
#include "common/sha2.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "chatgenius.h"
#include "fingerprint.h"

PG_FUNCTION_INFO_V1(chatgenius_schema_fingerprint);

/* The cached fingerprint and what it was computed from. */
static bool fp_valid = false;
static char fp_hex[PG_SHA256_DIGEST_LENGTH * 2 + 1];
static Oid	fp_extoid = InvalidOid;
static TransactionId fp_ext_xmin = InvalidTransactionId;
static ItemPointerData fp_ext_tid;
static uint64 fp_members_signature = 0;
static int	fp_members_count = 0;
static Oid *fp_relids = NULL;
static int	fp_nrelids = 0;
static uint64 *fp_cachekeys = NULL;
static int	fp_ncachekeys = 0;

/* Bumped by every invalidation that matters, and by all while computing. */
static uint64 fp_inval_counter = 0;
static bool fp_computing = false;
static bool fp_callbacks_registered = false;

/* The syscaches whose member entries are watched by hash value. */
static const int fp_watched_caches[] = {PROCOID, TYPEOID, NAMESPACEOID, SEQRELID};

/* The syscaches any change of which invalidates (no key known beforehand). */
static const int fp_any_caches[] = {CONSTROID, ENUMOID};

/*
 * compare_oids / compare_uint64 / compare_strings
 *		qsort and bsearch comparators; return the usual <0, 0, >0.
 */
static int
compare_oids(const void *a, const void *b)
{
	Oid			x = *(const Oid *) a;
	Oid			y = *(const Oid *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

static int
compare_uint64(const void *a, const void *b)
{
	uint64		x = *(const uint64 *) a;
	uint64		y = *(const uint64 *) b;

	return x < y ? -1 : (x > y ? 1 : 0);
}

static int
compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/*
 * fp_relcache_callback
 *		Relcache invalidation callback; returns nothing.  Drops the cached
 *		fingerprint when a member relation (or any, for a full reset)
 *		changed.
 */
static void
fp_relcache_callback(Datum arg, Oid relid)
{
	if (fp_computing ||
		(fp_valid && (!OidIsValid(relid) ||
					  bsearch(&relid, fp_relids, fp_nrelids, sizeof(Oid),
							  compare_oids) != NULL)))
	{
		fp_valid = false;
		fp_inval_counter++;
	}
}

/*
 * fp_syscache_callback
 *		Syscache invalidation callback; returns nothing.  Drops the cached
 *		fingerprint when a watched entry (or any entry of an unkeyed cache,
 *		or everything) changed.
 */
static void
fp_syscache_callback(Datum arg, int cacheid, uint32 hashvalue)
{
	uint64		key = ((uint64) cacheid << 32) | hashvalue;

	if (fp_computing ||
		(fp_valid && (hashvalue == 0 || DatumGetBool(arg) ||
					  bsearch(&key, fp_cachekeys, fp_ncachekeys, sizeof(uint64),
							  compare_uint64) != NULL)))
	{
		fp_valid = false;
		fp_inval_counter++;
	}
}

/*
 * fp_register_callbacks
 *		Registers the invalidation callbacks once per backend; returns
 *		nothing.
 */
static void
fp_register_callbacks(void)
{
	int			i;

	if (fp_callbacks_registered)
		return;
	CacheRegisterRelcacheCallback(fp_relcache_callback, (Datum) 0);
	for (i = 0; i < (int) lengthof(fp_watched_caches); i++)
		CacheRegisterSyscacheCallback(fp_watched_caches[i], fp_syscache_callback,
									  BoolGetDatum(false));
	for (i = 0; i < (int) lengthof(fp_any_caches); i++)
		CacheRegisterSyscacheCallback(fp_any_caches[i], fp_syscache_callback,
									  BoolGetDatum(true));
	fp_callbacks_registered = true;
}

/*
 * collect_members
 *		Returns the extension's member objects (pg_depend deptype 'e') and
 *		sets *signature to an order-independent hash of them; the signature
 *		notices ALTER EXTENSION ADD / DROP, which invalidate no cache.
 */
static FpMember *
collect_members(Oid extoid, int *count, uint64 *signature)
{
	FpMember   *members = cg_extension_members(extoid, count);
	uint64		sum = 0;
	uint64		xor = 0;

	for (int i = 0; i < *count; i++)
	{
		uint64		h = hash_bytes_extended((const unsigned char *) &members[i],
											sizeof(FpMember), 0);

		sum += h;
		xor ^= h;
	}
	*signature = sum ^ (xor << 1) ^ ((uint64) *count << 56);
	return members;
}

/*
 * hash_lines
 *		Writes the hex SHA-256 of the lines, each followed by a newline, into
 *		hex (65 bytes); returns nothing.
 */
static void
hash_lines(char **lines, int nlines, char *hex)
{
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	int			i;

	if (ctx == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OUT_OF_MEMORY),
				 errmsg("out of memory")));
	if (pg_cryptohash_init(ctx) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not initialize %s context: %s", "SHA256",
						pg_cryptohash_error(ctx))));
	for (i = 0; i < nlines; i++)
	{
		if (pg_cryptohash_update(ctx, (const uint8 *) lines[i], strlen(lines[i])) < 0 ||
			pg_cryptohash_update(ctx, (const uint8 *) "\n", 1) < 0)
			ereport(ERROR,
					(errcode(ERRCODE_INTERNAL_ERROR),
					 errmsg("could not update %s context: %s", "SHA256",
							pg_cryptohash_error(ctx))));
	}
	if (pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
		ereport(ERROR,
				(errcode(ERRCODE_INTERNAL_ERROR),
				 errmsg("could not finalize %s context: %s", "SHA256",
						pg_cryptohash_error(ctx))));
	pg_cryptohash_free(ctx);
	hex_encode((const char *) digest, sizeof(digest), hex);
	hex[PG_SHA256_DIGEST_LENGTH * 2] = '\0';
}

/*
 * pin_output_settings
 *		Sets, for the current GUC nest level, the settings that change how
 *		names, dates, intervals and floats are printed; returns nothing.
 *		With search_path = pg_catalog every extension object is printed
 *		schema-qualified, whoever calls.
 */
static void
pin_output_settings(void)
{
	static const char *const settings[][2] = {
		{"search_path", "pg_catalog"},
		{"datestyle", "ISO, YMD"},
		{"intervalstyle", "postgres"},
		{"timezone", "UTC"},
		{"extra_float_digits", "3"},
	};
	int			i;

	for (i = 0; i < (int) lengthof(settings); i++)
		(void) set_config_option(settings[i][0], settings[i][1],
								 PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE,
								 true, 0, false);
}

/*
 * compute_fingerprint
 *		Describes every member, sorts the descriptions, hashes them into
 *		hex, and fills st's watch lists; returns true.  Returns false if
 *		st->nowait and a member relation is locked.
 */
static bool
compute_fingerprint(Oid extoid, FpMember *members, int nmembers,
					FpState *st, char *hex)
{
	int			save_nestlevel = NewGUCNestLevel();
	int			i;

	pin_output_settings();
	for (i = 0; i < nmembers; i++)
	{
		char	   *line = fp_describe_member(&members[i], st);

		if (line == NULL)
		{
			AtEOXact_GUC(true, save_nestlevel);
			return false;
		}
		fp_add_line(st, line);
	}
	fp_describe_extconfig(extoid, st);
	AtEOXact_GUC(true, save_nestlevel);

	qsort(st->lines, st->nlines, sizeof(char *), compare_strings);
	for (i = 0; i < st->nlines; i++)
		ereport(DEBUG1,
				(errmsg_internal("schema fingerprint input: %s", st->lines[i])));
	hash_lines(st->lines, st->nlines, hex);
	return true;
}

/*
 * copy_to_top
 *		Returns a sorted copy of n elements of size sz in TopMemoryContext
 *		(NULL if n is 0), freeing *old; for the cache's watch lists.
 */
static void *
copy_to_top(void *old, const void *src, int n, Size sz,
			int (*cmp) (const void *, const void *))
{
	void	   *copy = NULL;

	if (old != NULL)
		pfree(old);
	if (n == 0)
		return NULL;
	copy = MemoryContextAlloc(TopMemoryContext, n * sz);
	memcpy(copy, src, n * sz);
	qsort(copy, n, sz, cmp);
	return copy;
}

/*
 * cg_schema_fingerprint
 *		Returns the extension's schema fingerprint as a palloc'd hex string,
 *		from the cache when nothing it depends on has changed since it was
 *		computed.  With nowait, returns NULL and sets *locked_relation to
 *		the qualified name of a member relation that another transaction
 *		holds locked, instead of waiting for it.
 */
char *
cg_schema_fingerprint(const CgExtension *ext, bool nowait,
					  char **locked_relation)
{
	MemoryContext workcxt;
	MemoryContext oldcxt;
	FpMember   *members;
	int			nmembers;
	uint64		signature;
	uint64		counter_before;
	FpState		st;
	char		hex[PG_SHA256_DIGEST_LENGTH * 2 + 1];
	bool		complete;

	fp_register_callbacks();

	workcxt = AllocSetContextCreate(CurrentMemoryContext,
									"chatgenius schema fingerprint",
									ALLOCSET_DEFAULT_SIZES);
	oldcxt = MemoryContextSwitchTo(workcxt);
	members = collect_members(ext->extoid, &nmembers, &signature);

	if (fp_valid && fp_extoid == ext->extoid &&
		fp_ext_xmin == ext->tuple_xmin &&
		ItemPointerEquals(&fp_ext_tid, (ItemPointer) &ext->tuple_tid) &&
		fp_members_count == nmembers && fp_members_signature == signature)
	{
		MemoryContextSwitchTo(oldcxt);
		MemoryContextDelete(workcxt);
		return pstrdup(fp_hex);
	}

	memset(&st, 0, sizeof(st));
	st.lines = palloc(64 * sizeof(char *));
	st.maxlines = 64;
	st.relids = palloc(64 * sizeof(Oid));
	st.maxrelids = 64;
	st.cachekeys = palloc(64 * sizeof(uint64));
	st.maxcachekeys = 64;
	st.nowait = nowait;

	/*
	 * While computing, every invalidation counts: the watch lists are not
	 * known yet.  An error leaves fp_computing set, which only makes the
	 * callbacks more eager until the next computation finishes.
	 */
	fp_valid = false;
	counter_before = fp_inval_counter;
	fp_computing = true;
	complete = compute_fingerprint(ext->extoid, members, nmembers, &st, hex);
	fp_computing = false;

	MemoryContextSwitchTo(oldcxt);
	if (!complete)
	{
		char	   *relname = get_rel_name(st.locked_relid);
		char	   *nspname = get_namespace_name(get_rel_namespace(st.locked_relid));

		*locked_relation = relname && nspname
			? quote_qualified_identifier(nspname, relname)
			: psprintf("%u", st.locked_relid);
		MemoryContextDelete(workcxt);
		return NULL;
	}
	if (fp_inval_counter == counter_before)
	{
		fp_relids = copy_to_top(fp_relids, st.relids, st.nrelids,
								sizeof(Oid), compare_oids);
		fp_nrelids = st.nrelids;
		fp_cachekeys = copy_to_top(fp_cachekeys, st.cachekeys, st.ncachekeys,
								   sizeof(uint64), compare_uint64);
		fp_ncachekeys = st.ncachekeys;
		fp_extoid = ext->extoid;
		fp_ext_xmin = ext->tuple_xmin;
		fp_ext_tid = ext->tuple_tid;
		fp_members_count = nmembers;
		fp_members_signature = signature;
		memcpy(fp_hex, hex, sizeof(fp_hex));
		fp_valid = true;
	}
	MemoryContextDelete(workcxt);
	return pstrdup(hex);
}

/*
 * chatgenius_schema_fingerprint
 *		SQL chatgenius.schema_fingerprint(): returns the fingerprint as text.
 *		The install and update scripts record it in schema_migrations, and
 *		health() compares that record with the current value to find drift.
 */
Datum
chatgenius_schema_fingerprint(PG_FUNCTION_ARGS)
{
	CgExtension ext;

	cg_extension_require(&ext);
	PG_RETURN_TEXT_P(cstring_to_text(cg_schema_fingerprint(&ext, false, NULL)));
}
