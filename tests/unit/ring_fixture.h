/* SPDX-License-Identifier: MIT */
/*
 * ring_fixture.h: the set-up every unit test on a real ring repeats: a
 * ring, or a loud "SKIPPING" line when io_uring is unavailable (the test
 * then skips, never fails), and a temporary directory made and removed.
 * Used by the spool, delivery, Redis and server fixtures.  Test support
 * only: it asserts instead of returning errors.
 */
#ifndef RINGMTA_RING_FIXTURE_H
#define RINGMTA_RING_FIXTURE_H

#include <stddef.h>

#include "ring.h"

/*
 * A new ring with sq_entries/cq_entries, owned by the caller (ring_free),
 * or NULL after printing why io_uring is unavailable: the caller skips.
 */
struct ring *ringfx_new(unsigned sq_entries, unsigned cq_entries);
/* Make the directory /tmp/<name>.XXXXXX and write its path into
 * buf[size]; fails the test when it cannot. */
void ringfx_mkdtemp(char *buf, size_t size, const char *name);
/* Remove the directory dir and everything under it; fails the test when
 * that fails. */
void ringfx_rmdir(const char *dir);

#endif
