/* SPDX-License-Identifier: MIT */
/*
 * ring_fixture.c: a ring or a loud skip, and temporary directories (see
 * ring_fixture.h).  cmocka assertions; it removes only the directories it
 * is handed.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "ring_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ring *
ringfx_new(unsigned sq_entries, unsigned cq_entries)
{
	struct ring_opts o = {.sq_entries = sq_entries,
			      .cq_entries = cq_entries};
	struct ring *r;
	int err;

	r = ring_new(&o, &err);
	if (r == NULL)
		fprintf(stderr, "*** io_uring unavailable (%s): SKIPPING ***\n",
			strerror(-err));
	return r;
}

void
ringfx_mkdtemp(char *buf, size_t size, const char *name)
{
	int n = snprintf(buf, size, "/tmp/%s.XXXXXX", name);

	assert_true(n > 0 && (size_t)n < size);
	assert_non_null(mkdtemp(buf));
}

void
ringfx_rmdir(const char *dir)
{
	char cmd[256];
	int n = snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);

	assert_true(n > 0 && (size_t)n < sizeof(cmd));
	assert_int_equal(system(cmd), 0);
}
