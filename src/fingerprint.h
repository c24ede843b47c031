/*-------------------------------------------------------------------------
 *
 * fingerprint.h
 *	  What fingerprint.c (cache and hash) and fingerprint_describe.c (the
 *	  OID-free text of each member object) share.
 *
 *-------------------------------------------------------------------------
 */
#ifndef CHATGENIUS_FINGERPRINT_H
#define CHATGENIUS_FINGERPRINT_H

#include "postgres.h"

#include "chatgenius.h"

/* One member object of the extension (cg_extension_members). */
typedef CgMember FpMember;

/* Lines of the description, and what the cache must watch. */
typedef struct FpState
{
	char	  **lines;
	int			nlines;
	int			maxlines;
	Oid		   *relids;			/* relations whose relcache inval matters */
	int			nrelids;
	int			maxrelids;
	uint64	   *cachekeys;		/* (cacheid << 32 | hashvalue) that matter */
	int			ncachekeys;
	int			maxcachekeys;
	bool		nowait;			/* give up rather than wait for a lock */
	Oid			locked_relid;	/* the relation that made it give up */
} FpState;

extern void fp_add_line(FpState *st, char *line);
extern char *fp_describe_member(const FpMember *m, FpState *st);
extern void fp_describe_extconfig(Oid extoid, FpState *st);

#endif							/* CHATGENIUS_FINGERPRINT_H */
