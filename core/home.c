/*
 * home.c — see home.h.
 */
#include "core/home.h"

#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/fsutil.h"

char *daimon_home_dir(void)
{
	const char *env = getenv("DAIMON_HOME");
	if (env && *env)
		return daimon_xstrdup(env);
	const char *home = getenv("HOME");
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw && pw->pw_dir ? pw->pw_dir : "/tmp";
	}
	return daimon_xasprintf("%s/.daimon", home);
}

char *daimon_home_path(const char *home, const char *rel)
{
	return daimon_xasprintf("%s/%s", home, rel);
}

int daimon_home_ensure(const char *home)
{
	if (daimon_mkdir_p(home, 0700) < 0)
		return -1;
	char *sessions = daimon_home_path(home, "sessions");
	int rc = daimon_mkdir_p(sessions, 0700);
	free(sessions);
	return rc;
}
