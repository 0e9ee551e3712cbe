/* SPDX-License-Identifier: MIT */
/*
 * rstate_fixture.h: what the rstate unit tests share (test_rstate.c,
 * test_rstate_dirty.c): a ring, a redis-server (store/redis_server) in a
 * temporary directory, a client that is up on it, and the default
 * configuration's binding table with an empty domain table over it.
 * The tests make their own rstate on it.  Test code only: it asserts.
 */
#ifndef RINGMTA_RSTATE_FIXTURE_H
#define RINGMTA_RSTATE_FIXTURE_H

#include <stdbool.h>

#include "binding.h"
#include "domain.h"
#include "redis_fixture.h"

struct rstate;

/* The last reply rsfx_cmd() read (strings cut to fit). */
struct rsfx_reply {
	bool done;
	long long integer;
	char str[256];
	size_t nelem;
	char elems[32][128];
};

struct rsfx {
	struct rfx fx; /* only its directory: rdsrv runs the server */
	struct ring *r;
	struct rdsrv *srv;
	struct rds *rds;
	struct config *cfg;
	struct dom_table doms;
	struct bnd_table bnds;
	struct rstate *rs; /* the test's, stopped and freed by rsfx_close */
	struct rsfx_reply rep;
};

/*
 * Set x up in /tmp/NAME.XXXXXX with key prefix prefix, the client up.
 * Returns false (said loudly) when io_uring is unavailable: skip.
 */
bool rsfx_open(struct rsfx *x, const char *name, const char *prefix);
/*
 * cmocka setup: *state = a zeroed test context of size bytes whose first
 * member is a struct rsfx, opened as above.  Returns it, or NULL when the
 * test is to be skipped (*state is still set, for rsfx_teardown()).
 */
void *rsfx_setup(void **state, size_t size, const char *name,
		 const char *prefix);
/* rstate_stop(x->rs), rds_free(), rstate_free(x->rs), then free
 * everything x holds and remove its directory (x->rs may be NULL).
 * Nothing if x was not opened. */
void rsfx_close(struct rsfx *x);
/* cmocka teardown for a test context whose first member is a struct rsfx
 * (calloc'ed): rsfx_close() and free. */
int rsfx_teardown(void **state);
/* At the top of a test: t = the context, or skip without io_uring. */
#define RSFX_CTX(t)                                                            \
	struct tctx *t = *state;                                               \
	if (t->x.r == NULL)                                                    \
	skip()
/* Run turns until *cond, for at most ms milliseconds (fails after). */
void rsfx_run_until(struct rsfx *x, bool *cond, int ms);
/* Run one command (after letting pending writes flush); its reply is in
 * x->rep. */
void rsfx_cmd(struct rsfx *x, int argc, const char *const *argv);
/* HGET key field: the value, "" when absent (in x->rep.str). */
const char *rsfx_hget(struct rsfx *x, const char *key, const char *field);

#endif
