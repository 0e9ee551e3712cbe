/* SPDX-License-Identifier: MIT */
/*
 * test_rlease_reload: rlease_reconfigure() on a live rlease against a real
 * redis-server (unix socket in a temporary directory): a new lease TTL is
 * what the next acquire and renewal write as the member's expiry (leases
 * held keep theirs until renewed), a shorter one brings the renewal round
 * forward, the unreachable policy follows the last call in both
 * directions for connections and message tokens (a switch to local pokes
 * the domains closed refused), and bad values change nothing.  Skips
 * loudly when io_uring is unavailable; a missing redis-server is a
 * failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "domain.h"
#include "log.h"
#include "redis.h"
#include "redis_fixture.h"
#include "ring.h"
#include "rlease.h"
#include "rlease_int.h"
#include "value.h"

#define KEY "rr:lease:a.example"

/* ms left before member's expiry in KEY, by Redis's clock (-1: none). */
static const char rr_left_lua[] =
    "local s = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
    "if not s then return -1 end\n"
    "local t = redis.call('TIME')\n"
    "return tonumber(s) - (tonumber(t[1]) * 1000 +\n"
    "                      math.floor(tonumber(t[2]) / 1000))\n";

struct rr {
	struct ring *r;
	struct rfx srv;
	struct rds *rds;
	struct rlease *rl;
	struct dom_table doms;
	domain_record *dr;
	int ups, pokes, replies;
	int64_t last_when;
	long long reply;
};

static void
rr_up(void *arg)
{
	((struct rr *)arg)->ups++;
}

static void
rr_poke(domain_record *dr, int64_t when_ms, void *arg)
{
	struct rr *t = arg;

	(void)dr;
	t->pokes++;
	t->last_when = when_ms;
}

static void
rr_int_cb(void *arg, int status, const struct rds_reply *rep)
{
	struct rr *t = arg;

	t->replies++;
	t->reply =
	    status == 0 && rep->type == RDS_REPLY_INTEGER ? rep->integer : -2;
}

#define RUN_UNTIL(t, cond, ms) RFX_RUN_UNTIL((t)->r, cond, ms)

/* One integer command (after the write-behind batch went). */
static long long
rr_cmd(struct rr *t, int argc, const char *const *argv)
{
	int want = t->replies + 1;

	rfx_run_for(t->r, 20);
	assert_int_equal(rds_cmd(t->rds, rr_int_cb, t, argc, argv, NULL), 0);
	RUN_UNTIL(t, t->replies == want, 2000);
	return t->reply;
}

/* ms left on the lease of ticket tk, by Redis's clock. */
static long long
rr_left(struct rr *t, uint64_t tk)
{
	char mem[RL_NODE_MAX + 48];

	snprintf(mem, sizeof(mem), "%s:%llu", t->rl->node,
		 (unsigned long long)tk);
	return rr_cmd(
	    t, 5, (const char *const[]){"EVAL", rr_left_lua, "1", KEY, mem});
}

/* One lease on (dr, slot) under a domain limit of 8: asked for, granted,
 * taken.  Returns its ticket. */
static uint64_t
rr_take(struct rr *t, int slot)
{
	uint64_t tk = 0;
	int pokes = t->pokes;

	assert_int_equal(rlease_take(t->rl, t->dr, slot, "b", 8, 0, 1, &tk), 0);
	RUN_UNTIL(t, t->pokes > pokes, 2000);
	assert_int_equal(rlease_take(t->rl, t->dr, slot, "b", 8, 0, 1, &tk), 1);
	assert_true(tk != 0);
	return tk;
}

static int
setup(void **state)
{
	struct rr *t = calloc(1, sizeof(*t));
	int err = 0;

	assert_non_null(t);
	*state = t;
	t->r = rfx_ring(256, 4096);
	if (t->r == NULL)
		return 0;
	rfx_init(&t->srv, "test-rlease-reload");
	rfx_start(&t->srv);
	dom_table_init(&t->doms, 2);
	t->dr = dom_get(&t->doms, "a.example");
	t->rds = rds_new(t->r,
			 &(struct rds_opts){.target = t->srv.sock,
					    .key_prefix = "rr",
					    .on_up = rr_up,
					    .backoff_max_ms = 200,
					    .cb_arg = t},
			 &err);
	assert_non_null(t->rds);
	RUN_UNTIL(t, t->ups == 1, 2000);
	assert_int_equal(
	    rlease_new(&(struct rlease_opts){.ring = t->r,
					     .rds = t->rds,
					     .node_id = "n1",
					     .ttl_ms = 3000,
					     .fallback = CONFIG_CLUSTER_CLOSED,
					     .poke = rr_poke,
					     .cb_arg = t},
		       &t->rl),
	    0);
	return 0;
}

static int
teardown(void **state)
{
	struct rr *t = *state;

	if (t->r != NULL) {
		rlease_stop(t->rl);
		rds_free(t->rds, 500);
		rlease_free(t->rl);
		dom_table_fini(&t->doms);
	}
	rfx_close(t->r, &t->srv, SIGKILL);
	free(t);
	return 0;
}

#define CTX_OR_SKIP(t)                                                         \
	struct rr *t = *state;                                                 \
	if (t->r == NULL)                                                      \
	skip()

/* A new TTL: the next acquire writes it, the held lease keeps its expiry
 * until the next renewal writes the new one. */
static void
test_ttl(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t held, fresh;
	long long left;

	held = rr_take(t, 0);
	left = rr_left(t, held);
	assert_true(left > 2500 && left <= 3000);
	assert_int_equal(rlease_reconfigure(t->rl, 9000, CONFIG_CLUSTER_CLOSED),
			 0);
	assert_true(t->rl->o.ttl_ms == 9000);
	fresh = rr_take(t, 1);
	left = rr_left(t, fresh);
	assert_true(left > 8500 && left <= 9000);
	assert_true(rr_cmd(t, 2, (const char *const[]){"PTTL", KEY}) > 17000);
	left = rr_left(t, held);
	assert_true(left > 0 && left <= 3000); /* not renewed yet */
	assert_true(rlease_renew(t->rl) >= 1);
	RUN_UNTIL(t, t->rl->inflight == 0, 2000);
	left = rr_left(t, held);
	assert_true(left > 8500 && left <= 9000);
	/* 0 is the default. */
	assert_int_equal(rlease_reconfigure(t->rl, 0, CONFIG_CLUSTER_CLOSED),
			 0);
	assert_true(t->rl->o.ttl_ms == RLEASE_TTL_MS);
	left = rr_left(t, rr_take(t, 2));
	assert_true(left > RLEASE_TTL_MS - 500 && left <= RLEASE_TTL_MS);
}

/* A shorter TTL brings the next renewal round within the new period; a
 * longer one leaves a round already due sooner where it is. */
static void
test_ttl_period(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t tk, renewals;
	long long left;

	assert_int_equal(
	    rlease_reconfigure(t->rl, 60000, CONFIG_CLUSTER_CLOSED), 0);
	tk = rr_take(t, 0); /* arms the round 20 s away */
	assert_true(t->rl->tm.when > ring_now(t->r) + 19000 * 1000000LL);
	assert_int_equal(rlease_reconfigure(t->rl, 900, CONFIG_CLUSTER_CLOSED),
			 0);
	assert_true(t->rl->tm.when <= ring_now(t->r) + 300 * 1000000LL);
	renewals = rlease_stats(t->rl)->renewals;
	rfx_run_for(t->r, 700); /* two rounds or more */
	assert_true(rlease_stats(t->rl)->renewals >= renewals + 2);
	left = rr_left(t, tk);
	assert_true(left > 0 && left <= 900);
	assert_int_equal(
	    rlease_reconfigure(t->rl, 60000, CONFIG_CLUSTER_CLOSED), 0);
	assert_true(t->rl->tm.when <= ring_now(t->r) + 300 * 1000000LL);
}

/* The policy while Redis is down follows the last reconfigure. */
static void
test_fallback(void **state)
{
	CTX_OR_SKIP(t);
	const struct value_rate rate = {.count = 4, .period_ms = 10000};
	uint64_t tk = 0;
	int pokes;

	(void)rr_take(t, 0);
	rfx_kill(&t->srv, SIGKILL);
	RUN_UNTIL(t, !rds_is_up(t->rds), 3000);
	/* closed: refused, and no token */
	assert_int_equal(rlease_take(t->rl, t->dr, 0, "b", 8, 0, 1, &tk), 0);
	assert_true(rlease_stats(t->rl)->closed == 1);
	assert_int_equal(rlease_msg_wait(t->rl, t->dr, &rate, 1000),
			 RLEASE_CLOSED_MS);
	/* local: the refused domain is poked now (once for its connections,
	 * once for its tokens), then allowed */
	pokes = t->pokes;
	assert_int_equal(rlease_reconfigure(t->rl, 3000, CONFIG_CLUSTER_LOCAL),
			 0);
	assert_int_equal(t->pokes, pokes + 2);
	assert_true(t->last_when == 0);
	assert_int_equal(rlease_take(t->rl, t->dr, 0, "b", 8, 0, 1, &tk), 1);
	assert_true(tk != 0);
	assert_true(rlease_stats(t->rl)->local == 1);
	assert_int_equal(rlease_msg_wait(t->rl, t->dr, &rate, 1000), 0);
	assert_int_equal(rlease_msg_ready(t->rl, t->dr, &rate), 1);
	/* the same policy again: no poke */
	pokes = t->pokes;
	assert_int_equal(rlease_reconfigure(t->rl, 3000, CONFIG_CLUSTER_LOCAL),
			 0);
	assert_int_equal(t->pokes, pokes);
	/* closed again: refused again */
	assert_int_equal(rlease_reconfigure(t->rl, 3000, CONFIG_CLUSTER_CLOSED),
			 0);
	assert_int_equal(t->pokes, pokes);
	assert_int_equal(rlease_take(t->rl, t->dr, 0, "b", 8, 0, 1, &tk), 0);
	assert_true(rlease_stats(t->rl)->closed == 2);
	assert_true(rlease_stats(t->rl)->local == 1);
	assert_int_equal(rlease_msg_wait(t->rl, t->dr, &rate, 1000),
			 RLEASE_CLOSED_MS);
}

/* Bad values are refused and change nothing; NULL is fine. */
static void
test_bad(void **state)
{
	CTX_OR_SKIP(t);
	static const struct {
		unsigned ttl;
		int fb;
		int want;
	} c[] = {
	    {299, CONFIG_CLUSTER_LOCAL, -EINVAL},
	    {1, CONFIG_CLUSTER_CLOSED, -EINVAL},
	    {3000, CONFIG_CLUSTER__COUNT, -EINVAL},
	    {3000, -1, -EINVAL},
	    {300, CONFIG_CLUSTER_CLOSED, 0},
	};

	for (size_t i = 0; i < nitems(c); i++) {
		int64_t period = t->rl->period_ns;

		assert_int_equal(rlease_reconfigure(
				     t->rl, c[i].ttl,
				     (enum config_cluster_unreachable)c[i].fb),
				 c[i].want);
		if (c[i].want < 0) {
			assert_true(t->rl->o.ttl_ms == 3000);
			assert_true(t->rl->period_ns == period);
			assert_int_equal(t->rl->o.fallback,
					 CONFIG_CLUSTER_CLOSED);
		} else {
			assert_true(t->rl->o.ttl_ms == c[i].ttl);
			assert_true(t->rl->period_ns == 100 * 1000000LL);
		}
	}
	assert_int_equal(rlease_reconfigure(NULL, 1, CONFIG_CLUSTER__COUNT), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_ttl),
	    T(test_ttl_period),
	    T(test_fallback),
	    T(test_bad),
#undef T
	};

	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
