/* SPDX-License-Identifier: MIT */
/*
 * compat.h: small language helpers shared by every module.
 *
 * container_of, nitems, MIN/MAX, attributes, BUG_ON for our own invariants
 * (never for peer input), and the x*alloc family that aborts on OOM as
 * Postfix, OpenSMTPD and Redis do: the spool is durable, so a crash-restart
 * loses nothing and OOM branches are untestable clutter.
 */
#ifndef RINGMTA_COMPAT_H
#define RINGMTA_COMPAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define container_of(ptr, type, member)                                        \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define nitems(a) (sizeof(a) / sizeof((a)[0]))

#ifndef MIN
#define MIN(a, b) ((a) < (b) ? (a) : (b))
#endif
#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

#define ATTR_FMT(f, a) __attribute__((format(printf, f, a)))
#define ATTR_WUR       __attribute__((warn_unused_result))
#define ATTR_NORETURN  __attribute__((noreturn))
#define ATTR_UNUSED    __attribute__((unused))
#define likely(x)      __builtin_expect(!!(x), 1)
#define unlikely(x)    __builtin_expect(!!(x), 0)

/* Report a broken internal invariant and abort. */
ATTR_NORETURN void compat_bug(const char *file, int line, const char *cond);
#define BUG_ON(cond)                                                           \
	do {                                                                   \
		if (unlikely(cond))                                            \
			compat_bug(__FILE__, __LINE__, #cond);                 \
	} while (0)

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
/* Resize p to n elements of sz bytes each, aborting on overflow. */
void *xreallocarray(void *p, size_t n, size_t sz);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

#endif
