/* SPDX-License-Identifier: MIT */
/*
 * rstate_fixture.c: the ring, redis-server, client and tables the rstate
 * unit tests run on (rstate_fixture.h).  Test code only: it asserts.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "rstate_fixture.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "redis.h"
#include "redis_server.h"
#include "ring.h"
#include "rstate.h"

bool
rsfx_open(struct rsfx *x, const char *name, const char *prefix)
{
	int err;

	x->r = rfx_ring(256, 4096);
	if (x->r == NULL)
		return false;
	rfx_init(&x->fx, name);
	assert_int_equal(rdsrv_start(x->fx.dir, NULL, &x->srv), 0);
	x->rds = rds_new(x->r,
			 &(struct rds_opts){.target = rdsrv_socket(x->srv),
					    .key_prefix = prefix},
			 &err);
	assert_non_null(x->rds);
	RFX_RUN_UNTIL(x->r, rds_is_up(x->rds), 2000);
	x->cfg = config_default();
	bnd_table_init(&x->bnds, x->cfg);
	dom_table_init(&x->doms, (unsigned)x->bnds.n);
	return true;
}

void *
rsfx_setup(void **state, size_t size, const char *name, const char *prefix)
{
	struct rsfx *x = calloc(1, size);

	assert_non_null(x);
	*state = x;
	return rsfx_open(x, name, prefix) ? x : NULL;
}

void
rsfx_close(struct rsfx *x)
{
	if (x->r == NULL)
		return;
	rstate_stop(x->rs);
	rds_free(x->rds, 500);
	rstate_free(x->rs);
	assert_int_equal(rdsrv_stop(&x->srv, 2000), 0);
	assert_int_equal(ring_shutdown(x->r, 2000), 0);
	ring_free(x->r);
	dom_table_fini(&x->doms);
	bnd_table_fini(&x->bnds);
	config_free(x->cfg);
	rfx_rmdir(x->fx.dir);
	x->r = NULL;
}

int
rsfx_teardown(void **state)
{
	rsfx_close(*state);
	free(*state);
	return 0;
}

void
rsfx_run_until(struct rsfx *x, bool *cond, int ms)
{
	for (int i = 0; i < ms / 5 && !*cond; i++)
		assert_true(ring_run_once(x->r, 5 * 1000000LL) >= 0);
	assert_true(*cond);
}

static void
rsfx_reply(void *arg, int status, const struct rds_reply *rep)
{
	struct rsfx_reply *r = arg;

	assert_int_equal(status, 0);
	r->integer = rep->integer;
	r->str[0] = '\0';
	if (rep->str)
		snprintf(r->str, sizeof(r->str), "%.*s", (int)rep->len,
			 rep->str);
	r->nelem = rep->nelem;
	for (size_t i = 0; i < rep->nelem && i < 32; i++)
		snprintf(r->elems[i], sizeof(r->elems[i]), "%.*s",
			 (int)rep->elem[i].len,
			 rep->elem[i].str ? rep->elem[i].str : "");
	r->done = true;
}

void
rsfx_cmd(struct rsfx *x, int argc, const char *const *argv)
{
	for (int i = 0; i < 3; i++)
		assert_true(ring_run_once(x->r, 1000000LL) >= 0);
	x->rep.done = false;
	assert_int_equal(rds_cmd(x->rds, rsfx_reply, &x->rep, argc, argv, NULL),
			 0);
	rsfx_run_until(x, &x->rep.done, 2000);
}

const char *
rsfx_hget(struct rsfx *x, const char *key, const char *field)
{
	rsfx_cmd(x, 3, (const char *const[]){"HGET", key, field});
	return x->rep.str;
}
