/* SPDX-License-Identifier: MIT */
/*
 * fsutil.c: mkdir -p.  Start-up only.
 */
#include "fsutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
fsutil_mkdirs(const char *dir, mode_t mode)
{
	char *p = xstrdup(dir), *s = p;
	int rc = 0;

	for (;;) {
		s = strchr(s + 1, '/');
		if (s)
			*s = '\0';
		if (p[0] && mkdir(p, mode) == -1 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		if (s == NULL)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}

int
fsutil_mkdirs_for(const char *file, mode_t mode)
{
	char *p = xstrdup(file), *slash = strrchr(p, '/');
	int rc = 0;

	if (slash && slash != p) {
		*slash = '\0';
		rc = fsutil_mkdirs(p, mode);
	}
	free(p);
	return rc;
}
