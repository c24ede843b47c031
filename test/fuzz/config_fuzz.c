/*
 * config_fuzz.c
 *		libFuzzer target for the helper's env-file grammar and the
 *		conversion of every setting (helper/env_file.c, helper/config.c):
 *		any input must end in EXIT_CLEAN or a configuration error with a
 *		message, never a crash, a leak or undefined behaviour.  Built and run by
 *		test/fuzz/config_fuzz.t.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Returns 0: libFuzzer's entry point, one input per call. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char		err[1024];
	int			rc;

	err[0] = '\0';
	rc = config_parse_text((const char *) data, size, err, sizeof(err));
	/* a refusal always says why */
	if (rc != EXIT_CLEAN && err[0] == '\0')
		abort();
	return 0;
}
