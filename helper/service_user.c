/*
 * service_user.c
 *		The user the helper runs as, for messages (see service_user.h).
 */
#include <pwd.h>
#include <stdio.h>
#include <unistd.h>

#include "service_user.h"

/*
 * Returns buf holding "name, uid N" of the effective user (or "uid N" when
 * the user has no passwd entry).  getpwuid_r: sessions open on several
 * threads.
 */
const char *
service_user(char *buf, size_t len)
{
	struct passwd pwd,
			   *pw = NULL;
	char		tmp[1024];
	uid_t		uid = geteuid();

	if (getpwuid_r(uid, &pwd, tmp, sizeof(tmp), &pw) != 0 || pw == NULL)
		snprintf(buf, len, "uid %d", (int) uid);
	else
		snprintf(buf, len, "%s, uid %d", pw->pw_name, (int) uid);
	return buf;
}
