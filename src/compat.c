/* SPDX-License-Identifier: MIT */
/*
 * compat.c: allocation wrappers that abort on exhaustion, and BUG_ON's
 * reporter.  Nothing here may fail softly.
 */
#include "compat.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

void
compat_bug(const char *file, int line, const char *cond)
{
	fprintf(stderr, "BUG at %s:%d: %s\n", file, line, cond);
	abort();
}

static ATTR_NORETURN void
compat_oom(size_t n)
{
	/* No stdio allocation on this path: write(2) a fixed message. */
	static const char msg[] = "fatal: out of memory\n";
	(void)n;
	if (write(2, msg, sizeof(msg) - 1) < 0) {
		/* nothing more we can do */
	}
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		compat_oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		compat_oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		compat_oom(n);
	return q;
}

void *
xreallocarray(void *p, size_t n, size_t sz)
{
	if (sz && n > SIZE_MAX / sz)
		compat_oom(SIZE_MAX);
	return xrealloc(p, n * sz);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = xmalloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
