/* SPDX-License-Identifier: MIT */
/*
 * test_rlease: cluster leases and message tokens (store/rlease) against a
 * real redis-server on a unix socket in a temporary directory, with two
 * rlease instances (two node ids, two clients) on one ring: the limit
 * holds across both, the binding x domain limit, expiry of a node that
 * stopped renewing, renewal keeping leases past the TTL, release, the
 * NOSCRIPT fallback after SCRIPT FLUSH, Redis down with closed and local
 * fallback (and the leases re-backed when it returns), the cluster token
 * bucket and the wait it tells the maintainer, one take asking for
 * several leases in one EVALSHA that grants part of them, and stop
 * giving everything back.  Skips loudly when io_uring is
 * unavailable; a missing redis-server is a failure.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "domain.h"
#include "redis_fixture.h"
#include "log.h"
#include "redis.h"
#include "ring.h"
#include "rlease.h"
#include "rlease_int.h"
#include "value.h"

#define MS 1000000LL

struct node {
	struct rds *rds;
	struct rlease *rl;
	int ups, pokes;
	int64_t last_when;
	struct tctx *t;
};

struct tctx {
	struct ring *r;
	struct rfx srv; /* no persistence */
	struct node n[2];
	struct dom_table doms;
	domain_record *dr;
	long long reply;
	int replies;
};

/* ---- fixture ------------------------------------------------------------- */

static void
t_up(void *arg)
{
	((struct node *)arg)->ups++;
}

static void
t_poke(domain_record *dr, int64_t when_ms, void *arg)
{
	struct node *n = arg;

	(void)dr;
	n->pokes++;
	n->last_when = when_ms;
}

#define RUN_UNTIL(t, cond, ms) RFX_RUN_UNTIL((t)->r, cond, ms)

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Node i: its own client and rlease (timer only when renew). */
static void
node_start(struct tctx *t, int i, unsigned ttl_ms,
	   enum config_cluster_unreachable fb, bool renew)
{
	struct node *n = &t->n[i];
	char id[8];
	int err = 0;

	n->t = t;
	n->rds = rds_new(t->r,
			 &(struct rds_opts){.target = t->srv.sock,
					    .key_prefix = "rl",
					    .on_up = t_up,
					    .backoff_max_ms = 200,
					    .cb_arg = n},
			 &err);
	assert_non_null(n->rds);
	RUN_UNTIL(t, n->ups == 1, 2000);
	snprintf(id, sizeof(id), "n%d", i + 1);
	assert_int_equal(
	    rlease_new(&(struct rlease_opts){.ring = renew ? t->r : NULL,
					     .rds = n->rds,
					     .node_id = id,
					     .ttl_ms = ttl_ms,
					     .fallback = fb,
					     .poke = t_poke,
					     .cb_arg = n},
		       &n->rl),
	    0);
}

static int
setup(void **state)
{
	struct tctx *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	*state = t;
	t->r = rfx_ring(256, 4096);
	if (t->r == NULL)
		return 0;
	rfx_init(&t->srv, "test-rlease");
	rfx_start(&t->srv);
	dom_table_init(&t->doms, 2);
	t->dr = dom_get(&t->doms, "a.example");
	return 0;
}

static int
teardown(void **state)
{
	struct tctx *t = *state;

	for (int i = 0; t->r != NULL && i < 2; i++) {
		rlease_stop(t->n[i].rl);
		rds_free(t->n[i].rds, 500);
		rlease_free(t->n[i].rl);
	}
	rfx_close(t->r, &t->srv, SIGKILL);
	if (t->r)
		dom_table_fini(&t->doms);
	free(t);
	return 0;
}

#define CTX_OR_SKIP(t)                                                         \
	struct tctx *t = *state;                                               \
	if (t->r == NULL)                                                      \
	skip()

static void
int_cb(void *arg, int status, const struct rds_reply *rep)
{
	struct tctx *t = arg;

	t->replies++;
	t->reply =
	    status == 0 && rep->type == RDS_REPLY_INTEGER ? rep->integer : -1;
}

/* An integer command through node 0's client (after its batch went). */
static long long
cmd_int(struct tctx *t, int argc, const char *const *argv)
{
	int want = t->replies + 1;

	rfx_run_for(t->r, 20); /* write-behind batches go first */
	assert_int_equal(rds_cmd(t->n[0].rds, int_cb, t, argc, argv, NULL), 0);
	RUN_UNTIL(t, t->replies == want, 2000);
	return t->reply;
}

static long long
zcard(struct tctx *t, const char *key)
{
	return cmd_int(t, 2, (const char *const[]){"ZCARD", key});
}

/*
 * Take leases for node i on (dr, slot), each take wanting what is still
 * missing, until want are held or the cluster refuses; a take that
 * answers 0 waits for the poke.  Returns how many were granted; tickets
 * land in tk.
 */
static int
take_n(struct tctx *t, int i, int slot, const char *bnd, unsigned dom,
       unsigned bind, int want, uint64_t *tk)
{
	struct node *n = &t->n[i];
	int got = 0;

	while (got < want) {
		int pokes = n->pokes, rc;

		rc = rlease_take(n->rl, t->dr, slot, bnd, dom, bind,
				 (unsigned)(want - got), &tk[got]);
		if (rc == 1) {
			assert_true(tk[got] != 0);
			got++;
			continue;
		}
		assert_int_equal(rc, 0);
		if (n->pokes > pokes) {
			/* Inside only within the retry time of a refusal,
			 * and only for later. */
			assert_true(n->last_when > 0);
			break;
		}
		RUN_UNTIL(t, n->pokes > pokes, 2000);
		if (rlease_spare(n->rl, t->dr, slot) == 0) {
			assert_true(n->last_when >
				    0); /* refused: retry later */
			break;
		}
		assert_int_equal(n->last_when, 0); /* granted: now */
	}
	return got;
}

/* ---- pure ------------------------------------------------------------------
 */

static void
test_share(void **state)
{
	static const struct {
		unsigned limit, nodes, want;
	} c[] = {
	    {0, 3, 0}, {5, 0, 5}, {5, 1, 5},    {5, 2, 2},
	    {5, 5, 1}, {5, 9, 1}, {100, 3, 33},
	};

	(void)state;
	for (size_t i = 0; i < nitems(c); i++)
		assert_int_equal(rlease_share(c[i].limit, c[i].nodes),
				 c[i].want);
}

static void
test_no_limit(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t tk = 99;

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, false);
	assert_int_equal(
	    rlease_take(t->n[0].rl, t->dr, 0, "default", 0, 0, 1, &tk), 1);
	assert_true(tk == 0);
	assert_int_equal(rlease_used(t->n[0].rl, t->dr, 0), 0);
	rlease_put(t->n[0].rl, t->dr, 0, 0); /* ignored */
	assert_int_equal(t->n[0].pokes, 0);
}

/* ---- leases ----------------------------------------------------------------
 */

static void
test_limit_two_nodes(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t a[8], b[8], extra;

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, true);
	node_start(t, 1, 0, CONFIG_CLUSTER_CLOSED, true);
	assert_int_equal(take_n(t, 0, 0, "default", 5, 0, 3, a), 3);
	assert_int_equal(take_n(t, 1, 1, "other", 5, 0, 8, b), 2);
	/* One question for 5 (what the limit leaves of 8): 2 granted. */
	assert_int_equal(rlease_stats(t->n[1].rl)->granted, 2);
	assert_int_equal(rlease_stats(t->n[1].rl)->refused, 3);
	assert_int_equal(take_n(t, 0, 0, "default", 5, 0, 1, &extra), 0);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 5);
	/* Within the retry time: no question to Redis, but the wake-up is
	 * asked for again (an earlier poke may have used it). */
	{
		int pokes = t->n[0].pokes;
		uint64_t cmds = rds_stats(t->n[0].rds)->cmds;

		assert_int_equal(rlease_take(t->n[0].rl, t->dr, 0, "default", 5,
					     0, 1, &extra),
				 0);
		assert_int_equal(t->n[0].pokes, pokes + 1);
		assert_true(t->n[0].last_when > 0);
		assert_true(rds_stats(t->n[0].rds)->cmds == cmds);
	}
	assert_int_equal(rlease_used(t->n[0].rl, t->dr, 0), 3);
	assert_int_equal(rlease_used(t->n[1].rl, t->dr, 1), 2);
	/* A lease given back on one node is room for the other. */
	rlease_put(t->n[1].rl, t->dr, 1, b[0]);
	rlease_put(t->n[1].rl, t->dr, 1, b[0]); /* twice: ignored */
	assert_int_equal(rlease_used(t->n[1].rl, t->dr, 1), 1);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 4);
	rfx_run_for(t->r, RLEASE_RETRY_MS + 20);
	assert_int_equal(take_n(t, 0, 0, "default", 5, 0, 1, &extra), 1);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 5);
	assert_int_equal(rlease_spare(t->n[0].rl, t->dr, 0), 0);
	/* Refused again; then a lease given back here clears the retry
	 * time: the next take asks at once, and gets it. */
	assert_int_equal(take_n(t, 0, 0, "default", 5, 0, 1, &extra), 0);
	rlease_put(t->n[0].rl, t->dr, 0, a[0]);
	assert_int_equal(t->n[0].last_when, 0);
	assert_int_equal(take_n(t, 0, 0, "default", 5, 0, 1, a), 1);
}

/* One take wanting n asks for them all in one EVALSHA, which grants k. */
static void
test_batch(void **state)
{
	CTX_OR_SKIP(t);
	struct node *n1 = &t->n[1], *n0 = &t->n[0];
	uint64_t a[8], b[8], tk;
	uint64_t cmds;

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, false);
	node_start(t, 1, 0, CONFIG_CLUSTER_CLOSED, false);
	assert_int_equal(take_n(t, 0, 0, "default", 5, 0, 3, a), 3);
	assert_int_equal(rlease_stats(n0->rl)->granted, 3);
	/* Node 2 wants 4: one command, 2 granted (the room left), 2
	 * refused; the grant pokes at once. */
	cmds = rds_stats(n1->rds)->cmds;
	assert_int_equal(rlease_take(n1->rl, t->dr, 0, "x", 5, 0, 4, &tk), 0);
	assert_int_equal(rds_stats(n1->rds)->cmds, cmds + 1);
	RUN_UNTIL(t, n1->pokes == 1, 2000);
	assert_int_equal(n1->last_when, 0);
	assert_int_equal(rlease_spare(n1->rl, t->dr, 0), 2);
	assert_int_equal(rlease_stats(n1->rl)->granted, 2);
	assert_int_equal(rlease_stats(n1->rl)->refused, 2);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 5);
	/* The spares serve the next takes without a question; then the
	 * refusal holds until the retry time (a wake-up for later). */
	cmds = rds_stats(n1->rds)->cmds;
	assert_int_equal(rlease_take(n1->rl, t->dr, 0, "x", 5, 0, 2, &b[0]), 1);
	assert_int_equal(rlease_take(n1->rl, t->dr, 0, "x", 5, 0, 1, &b[1]), 1);
	assert_true(b[0] != 0 && b[1] != 0 && b[0] != b[1]);
	assert_int_equal(rlease_take(n1->rl, t->dr, 0, "x", 5, 0, 1, &tk), 0);
	assert_int_equal(n1->pokes, 2);
	assert_true(n1->last_when > 0);
	assert_int_equal(rds_stats(n1->rds)->cmds, cmds);
	assert_int_equal(rlease_used(n1->rl, t->dr, 0), 2);
	/* Node 1 holds 3 of 5 and wants 10: it asks only for the 2 the
	 * limit leaves, and gets them (nothing refused).  A lease given back
	 * unused (dropped) is back in Redis at once but wakes nobody and
	 * keeps the retry time; one given back by a session's end pokes. */
	rlease_drop(n1->rl, t->dr, 0, b[0]);
	assert_int_equal(n1->pokes, 2);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 4);
	cmds = rds_stats(n1->rds)->cmds; /* the drop's ZREMs went */
	assert_int_equal(rlease_take(n1->rl, t->dr, 0, "x", 5, 0, 1, &tk), 0);
	assert_int_equal(n1->pokes, 3);
	assert_true(n1->last_when > 0); /* still within the retry time */
	assert_int_equal(rds_stats(n1->rds)->cmds, cmds);
	rlease_put(n1->rl, t->dr, 0, b[1]);
	assert_int_equal(n1->pokes, 4);
	assert_int_equal(n1->last_when, 0);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 3);
	assert_int_equal(
	    rlease_take(n0->rl, t->dr, 0, "default", 5, 0, 10, &tk), 0);
	RUN_UNTIL(t, rlease_spare(n0->rl, t->dr, 0) == 2, 2000);
	assert_int_equal(rlease_stats(n0->rl)->granted, 5);
	assert_int_equal(rlease_stats(n0->rl)->refused, 0);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 5);
	/* Not wanted after all: the spares go back at once, those in use
	 * stay. */
	rlease_trim(n0->rl, t->dr, 0);
	rlease_trim(n0->rl, t->dr, 7); /* no such group: nothing */
	rlease_trim(NULL, t->dr, 0);
	assert_int_equal(rlease_spare(n0->rl, t->dr, 0), 0);
	assert_int_equal(rlease_used(n0->rl, t->dr, 0), 3);
	assert_int_equal(rlease_stats(n0->rl)->released, 2);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 3);
}

static void
test_binding_limit(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t a[8], b[8];

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, true);
	node_start(t, 1, 0, CONFIG_CLUSTER_CLOSED, true);
	/* Per binding x domain only: each binding gets 2, across nodes. */
	assert_int_equal(take_n(t, 0, 0, "Out_1", 0, 2, 1, a), 1);
	assert_int_equal(take_n(t, 1, 0, "Out_1", 0, 2, 8, b), 1);
	assert_int_equal(take_n(t, 0, 1, "out1", 0, 2, 8, a + 1), 2);
	/* "Out_1" and "out1" are two keys, never one. */
	assert_int_equal(zcard(t, "rl:lease:a.example:_out__1"), 2);
	assert_int_equal(zcard(t, "rl:lease:a.example:out1"), 2);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 0);
	/* Both limits: the domain's 3 stops binding "y" at 1. */
	t->dr = dom_get(&t->doms, "b.example");
	assert_int_equal(take_n(t, 0, 0, "x", 3, 2, 8, a), 2);
	assert_int_equal(take_n(t, 1, 1, "y", 3, 2, 8, b), 1);
	assert_int_equal(zcard(t, "rl:lease:b.example"), 3);
	assert_int_equal(zcard(t, "rl:lease:b.example:x"), 2);
	assert_int_equal(zcard(t, "rl:lease:b.example:y"), 1);
}

static void
test_expiry_and_renewal(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t a[8], b[8];

	/* Node 1 renews (TTL 600 ms, every 200 ms); node 2 never does, as
	 * if killed. */
	node_start(t, 0, 600, CONFIG_CLUSTER_CLOSED, true);
	node_start(t, 1, 600, CONFIG_CLUSTER_CLOSED, false);
	assert_int_equal(take_n(t, 1, 0, "default", 3, 0, 2, b), 2);
	assert_int_equal(take_n(t, 0, 0, "default", 3, 0, 4, a), 1);
	rfx_run_for(t->r, 1500); /* more than twice the TTL */
	assert_true(rlease_stats(t->n[0].rl)->renewals >= 5);
	assert_int_equal(rlease_stats(t->n[0].rl)->lost, 0);
	/* Node 2's leases expired, node 1's were renewed. */
	assert_int_equal(take_n(t, 0, 0, "default", 3, 0, 4, a + 1), 2);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 3);
	/* The set itself expires once nobody renews it. */
	assert_true(
	    cmd_int(t, 2, (const char *const[]){"PTTL", "rl:lease:a.example"}) >
	    0);
	/* Node 2 comes back: its renewal finds its leases gone and the
	 * cluster full, so it holds them unbacked. */
	assert_int_equal(rlease_renew(t->n[1].rl), 2); /* lease + nodes */
	RUN_UNTIL(t, rlease_stats(t->n[1].rl)->lost == 2, 2000);
	assert_int_equal(rlease_used(t->n[1].rl, t->dr, 0), 2);
	/* The live-node set counts both. */
	RUN_UNTIL(t, rlease_nodes(t->n[1].rl) == 2, 2000);
}

/* No domain has used a cluster limit: the renewal timer sends nothing
 * (no node count every TTL/3); the first lease starts the rounds, with a
 * node count at once. */
static void
test_no_round_without_limits(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t a[2];
	uint64_t cmds;

	node_start(t, 0, 300, CONFIG_CLUSTER_CLOSED, true);
	rfx_run_for(t->r, 50);
	cmds = rds_stats(t->n[0].rds)->cmds;
	rfx_run_for(t->r, 400); /* four TTL/3 periods */
	assert_int_equal(rds_stats(t->n[0].rds)->cmds, cmds);
	assert_int_equal(rlease_stats(t->n[0].rl)->renewals, 0);
	assert_int_equal(zcard(t, "rl:cluster:nodes"), 0);
	assert_int_equal(take_n(t, 0, 0, "default", 3, 0, 1, a), 1);
	RUN_UNTIL(t, zcard(t, "rl:cluster:nodes") == 1, 2000);
	rfx_run_for(t->r, 400);
	assert_true(rlease_stats(t->n[0].rl)->renewals >= 2);
}

static void
test_spare_given_back(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t tk;

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, false);
	/* A take asks; the grant arrives as a spare nobody takes. */
	assert_int_equal(
	    rlease_take(t->n[0].rl, t->dr, 0, "default", 2, 0, 1, &tk), 0);
	RUN_UNTIL(t, t->n[0].pokes == 1, 2000);
	assert_int_equal(rlease_spare(t->n[0].rl, t->dr, 0), 1);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 1);
	/* The next round gives it back: a grant pokes at once, so a spare
	 * still unused a round later is not wanted. */
	(void)rlease_renew(t->n[0].rl);
	assert_int_equal(rlease_spare(t->n[0].rl, t->dr, 0), 0);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 0);
	assert_int_equal(rlease_stats(t->n[0].rl)->released, 1);
	/* One in use is kept and renewed. */
	assert_int_equal(
	    rlease_take(t->n[0].rl, t->dr, 0, "default", 2, 0, 1, &tk), 0);
	RUN_UNTIL(t, t->n[0].pokes == 2, 2000);
	assert_int_equal(
	    rlease_take(t->n[0].rl, t->dr, 0, "default", 2, 0, 1, &tk), 1);
	assert_int_equal(rlease_renew(t->n[0].rl), 2);
	assert_int_equal(rlease_used(t->n[0].rl, t->dr, 0), 1);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 1);
}

static void
test_noscript(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t a[4];

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, false);
	assert_int_equal(take_n(t, 0, 0, "default", 5, 0, 1, a), 1);
	assert_int_equal(
	    cmd_int(t, 3, (const char *const[]){"SCRIPT", "FLUSH", "SYNC"}),
	    -1); /* +OK, not an integer */
	assert_int_equal(take_n(t, 0, 0, "default", 5, 0, 1, a + 1), 1);
	assert_true(rds_stats(t->n[0].rds)->noscript_retries >= 1);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 2);
}

/* Redis down: closed refuses, local allows limit / nodes. */
static void
test_down(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t a[8], tk = 0;
	int pokes;

	node_start(t, 0, 0, CONFIG_CLUSTER_LOCAL, false);
	node_start(t, 1, 0, CONFIG_CLUSTER_CLOSED, false);
	(void)rlease_renew(t->n[0].rl);
	(void)rlease_renew(t->n[1].rl);
	RUN_UNTIL(t, rlease_nodes(t->n[0].rl) == 2, 2000);
	assert_int_equal(take_n(t, 0, 0, "default", 4, 0, 1, a), 1);
	rfx_kill(&t->srv, SIGKILL);
	RUN_UNTIL(t, !rds_is_up(t->n[0].rds) && !rds_is_up(t->n[1].rds), 3000);
	/* closed */
	assert_int_equal(rlease_take(t->n[1].rl, t->dr, 1, "b", 4, 0, 1, &tk),
			 0);
	assert_int_equal(rlease_stats(t->n[1].rl)->closed, 1);
	/* local: 4 / 2 nodes = 2 on this node, the lease held included */
	assert_int_equal(
	    rlease_take(t->n[0].rl, t->dr, 0, "default", 4, 0, 1, &a[1]), 1);
	assert_int_equal(
	    rlease_take(t->n[0].rl, t->dr, 0, "default", 4, 0, 1, &tk), 0);
	assert_int_equal(rlease_stats(t->n[0].rl)->local, 1);
	/* Back: node 1 re-backs its local lease; node 2 is poked. */
	rfx_start(&t->srv);
	RUN_UNTIL(t, rds_is_up(t->n[0].rds) && rds_is_up(t->n[1].rds), 3000);
	pokes = t->n[1].pokes;
	rlease_on_up(t->n[0].rl);
	rlease_on_up(t->n[1].rl);
	assert_int_equal(t->n[1].pokes, pokes + 1);
	assert_int_equal(rlease_stats(t->n[0].rl)->renewals, 1);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 2);
	assert_int_equal(take_n(t, 1, 1, "b", 4, 0, 8, a + 2), 2);
}

/*
 * Leases given back together go in one variadic ZREM per key: a failed
 * acquire of 48 (an error reply: the domain key is not a sorted set)
 * costs 2 commands, not one per member and key; 10 spares trimmed, the
 * same; what a node holds at stop, the same plus its live entry.
 */
static void
test_release_batched(void **state)
{
	CTX_OR_SKIP(t);
	struct node *n0 = &t->n[0];
	domain_record *d2 = dom_get(&t->doms, "b.example");
	domain_record *d3 = dom_get(&t->doms, "c.example");
	uint64_t tk, cmds;
	int pokes;

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, false);
	/* The script loaded (a first acquire), then a key of the wrong
	 * type. */
	assert_int_equal(take_n(t, 0, 0, "default", 100, 0, 1, &tk), 1);
	assert_int_equal(
	    cmd_int(t, 3,
		    (const char *const[]){"SADD", "rl:lease:b.example", "x"}),
	    1);
	cmds = rds_stats(n0->rds)->cmds;
	pokes = n0->pokes;
	assert_int_equal(rlease_take(n0->rl, d2, 0, "default", 100, 0, 48, &tk),
			 0);
	RUN_UNTIL(t, n0->pokes > pokes, 2000);
	assert_int_equal(rlease_stats(n0->rl)->errors, 1);
	assert_int_equal(rlease_stats(n0->rl)->released, 48);
	assert_int_equal(rlease_spare(n0->rl, d2, 0), 0);
	/* EVALSHA, then ZREM domain-key 48 members, ZREM binding-key too */
	assert_int_equal(rds_stats(n0->rds)->cmds, cmds + 3);
	/* Ten spares trimmed: two commands, and Redis holds none. */
	pokes = n0->pokes;
	assert_int_equal(rlease_take(n0->rl, d3, 0, "default", 100, 0, 10, &tk),
			 0);
	RUN_UNTIL(t, n0->pokes > pokes, 2000);
	assert_int_equal(rlease_spare(n0->rl, d3, 0), 10);
	assert_int_equal(zcard(t, "rl:lease:c.example"), 10);
	cmds = rds_stats(n0->rds)->cmds;
	rlease_trim(n0->rl, d3, 0);
	assert_int_equal(rds_stats(n0->rds)->cmds, cmds + 2);
	assert_int_equal(rlease_stats(n0->rl)->released, 58);
	assert_int_equal(zcard(t, "rl:lease:c.example"), 0);
	/* Stop: the lease of a.example (one ZREM per key) and the live
	 * entry. */
	cmds = rds_stats(n0->rds)->cmds;
	rlease_stop(n0->rl);
	assert_int_equal(rds_stats(n0->rds)->cmds, cmds + 3);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 0);
}

static void
test_stop_gives_back(void **state)
{
	CTX_OR_SKIP(t);
	uint64_t a[8];

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, true);
	node_start(t, 1, 0, CONFIG_CLUSTER_CLOSED, false);
	assert_int_equal(take_n(t, 1, 0, "default", 5, 0, 3, a), 3);
	/* Node 1 uses no cluster limit: it counts in only when asked. */
	assert_int_equal(zcard(t, "rl:cluster:nodes"), 0);
	(void)rlease_renew(t->n[0].rl);
	assert_int_equal(zcard(t, "rl:cluster:nodes"), 1);
	(void)rlease_renew(t->n[1].rl);
	RUN_UNTIL(t, rlease_nodes(t->n[1].rl) == 2, 2000);
	rlease_stop(t->n[1].rl);
	assert_int_equal(
	    rlease_take(t->n[1].rl, t->dr, 0, "default", 5, 0, 1, &a[0]), 0);
	assert_int_equal(zcard(t, "rl:lease:a.example"), 0);
	assert_int_equal(zcard(t, "rl:cluster:nodes"), 1);
}

/* ---- tokens ------------------------------------------------------------ */

static void
test_tokens(void **state)
{
	CTX_OR_SKIP(t);
	const struct value_rate r = {.count = 20, .period_ms = 10000};
	unsigned used[2] = {0, 0};
	int64_t end;

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, false);
	node_start(t, 1, 0, CONFIG_CLUSTER_LOCAL, false);
	/* No rate: always. */
	assert_int_equal(
	    rlease_msg_ready(t->n[0].rl, t->dr, &(struct value_rate){0}), 1);
	/* 20 per 10 s across both nodes, for 400 ms: a burst of 20, and
	 * the 21st not before 500 ms. */
	end = ring_now_update(t->r) + 400 * MS;
	while (ring_now_update(t->r) < end) {
		for (int i = 0; i < 2; i++)
			while (rlease_msg_ready(t->n[i].rl, t->dr, &r) == 1) {
				rlease_msg_use(t->n[i].rl, t->dr);
				used[i]++;
			}
		assert_true(ring_run_once(t->r, 5 * MS) >= 0);
	}
	for (int i = 0; i < 2; i++)
		while (rlease_msg_ready(t->n[i].rl, t->dr, &r) == 1) {
			rlease_msg_use(t->n[i].rl, t->dr);
			used[i]++;
		}
	assert_int_equal(used[0] + used[1], 20);
	assert_true(used[0] > 0 && used[1] > 0);
	assert_true(rlease_stats(t->n[0].rl)->token_waits > 0);
	assert_true(t->n[0].last_when > 0); /* told when to ask again */
	/* Redis down: closed sends nothing, local its share (20 / 1 node
	 * known: spaced at 500 ms, so one now). */
	rfx_kill(&t->srv, SIGKILL);
	RUN_UNTIL(t, !rds_is_up(t->n[0].rds) && !rds_is_up(t->n[1].rds), 3000);
	/* Not before the time Redis gave: no question, no fallback. */
	assert_int_equal(rlease_msg_ready(t->n[0].rl, t->dr, &r), 0);
	assert_int_equal(rlease_stats(t->n[0].rl)->closed, 0);
	rfx_run_for(t->r, 600);
	assert_int_equal(rlease_msg_ready(t->n[0].rl, t->dr, &r), 0);
	assert_int_equal(rlease_stats(t->n[0].rl)->closed, 1);
	used[1] = 0;
	for (int i = 0; i < 5; i++)
		if (rlease_msg_ready(t->n[1].rl, t->dr, &r) == 1) {
			rlease_msg_use(t->n[1].rl, t->dr);
			used[1]++;
		}
	assert_int_equal(used[1], 1);
}

/* What the maintainer learns of the cluster rate: when a message may go. */
static void
test_msg_wait(void **state)
{
	CTX_OR_SKIP(t);
	const struct value_rate r = {.count = 2, .period_ms = 10000};
	const struct value_rate none = {0};
	domain_record *d2 = dom_get(&t->doms, "b.example");
	struct node *n0 = &t->n[0], *n1 = &t->n[1];
	int64_t w, now;

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, false);
	node_start(t, 1, 0, CONFIG_CLUSTER_LOCAL, false);
	assert_int_equal(rlease_msg_wait(NULL, t->dr, &r, 0), 0);
	assert_int_equal(rlease_msg_wait(n0->rl, t->dr, &none, 0), 0);
	/* 2 per 10 s: a burst of 2, one token per question.  Nothing
	 * known: the wait asks (once), and says "soon". */
	for (int i = 0; i < 2; i++) {
		int pokes = n0->pokes;
		uint64_t cmds = rds_stats(n0->rds)->cmds;

		assert_int_equal(rlease_msg_wait(n0->rl, t->dr, &r, wall_ms()),
				 RLEASE_RETRY_MS);
		assert_int_equal(rlease_msg_wait(n0->rl, t->dr, &r, wall_ms()),
				 RLEASE_RETRY_MS);
		assert_int_equal(rlease_msg_ready(n0->rl, t->dr, &r), 0);
		assert_int_equal(rds_stats(n0->rds)->cmds, cmds + 1);
		RUN_UNTIL(t, n0->pokes > pokes, 2000);
		assert_int_equal(rlease_msg_ready(n0->rl, t->dr, &r), 1);
		/* A token at hand: no wait. */
		assert_int_equal(rlease_msg_wait(n0->rl, t->dr, &r, wall_ms()),
				 0);
		rlease_msg_use(n0->rl, t->dr);
	}
	/* The third: Redis says "in about 5 s", and the wait says so. */
	{
		int pokes = n0->pokes;

		assert_int_equal(rlease_msg_wait(n0->rl, t->dr, &r, wall_ms()),
				 RLEASE_RETRY_MS);
		RUN_UNTIL(t, n0->pokes > pokes, 2000);
	}
	assert_int_equal(rlease_stats(n0->rl)->token_waits, 1);
	now = wall_ms();
	w = rlease_msg_wait(n0->rl, t->dr, &r, now);
	assert_true(w > 4000 && w <= 5001);
	assert_int_equal(w, n0->last_when - now); /* the wake-up's time */
	/* Redis away: closed says "not before it is back" (looked at again
	 * every RLEASE_CLOSED_MS); local follows its own share's GCRA (2 /
	 * 1 node per 10 s: one now, the next 5 s later). */
	rfx_kill(&t->srv, SIGKILL);
	RUN_UNTIL(t, !rds_is_up(n0->rds) && !rds_is_up(n1->rds), 3000);
	assert_int_equal(rlease_msg_wait(n0->rl, d2, &r, wall_ms()),
			 RLEASE_CLOSED_MS);
	assert_int_equal(rlease_msg_ready(n0->rl, d2, &r), 0);
	assert_int_equal(rlease_msg_wait(n1->rl, d2, &r, wall_ms()), 0);
	assert_int_equal(rlease_msg_ready(n1->rl, d2, &r), 1);
	assert_int_equal(rlease_msg_wait(n1->rl, d2, &r, wall_ms()), 0);
	rlease_msg_use(n1->rl, d2);
	w = rlease_msg_wait(n1->rl, d2, &r, wall_ms());
	assert_true(w > 4000 && w <= 5000);
}

/*
 * rlease_msg_wait() walks rlease_msg_ready()'s ladder: asked first while
 * Redis is away, the local fallback's share is set from the rate and the
 * live nodes already (not left unset, "go now"), and the closed fallback
 * marks the domain refused, so that Redis's return pokes it.
 */
static void
test_msg_wait_first(void **state)
{
	CTX_OR_SKIP(t);
	const struct value_rate r = {.count = 4, .period_ms = 10000};
	struct node *n0 = &t->n[0], *n1 = &t->n[1];
	const struct rl_group *g;
	int pokes;

	node_start(t, 0, 0, CONFIG_CLUSTER_CLOSED, false);
	node_start(t, 1, 0, CONFIG_CLUSTER_LOCAL, false);
	(void)rlease_renew(n0->rl);
	(void)rlease_renew(n1->rl);
	/* The two clients' commands run in either order: count again. */
	RUN_UNTIL(t, rlease_nodes(n0->rl) == 2 || rlease_nodes(n1->rl) == 2,
		  2000);
	(void)rlease_renew(n1->rl);
	RUN_UNTIL(t, rlease_nodes(n1->rl) == 2, 2000);
	rfx_kill(&t->srv, SIGKILL);
	RUN_UNTIL(t, !rds_is_up(n0->rds) && !rds_is_up(n1->rds), 3000);
	/* local: 4 / 2 nodes per 10 s, from the first call */
	assert_int_equal(rlease_msg_wait(n1->rl, t->dr, &r, wall_ms()), 0);
	g = rlease_group_find(n1->rl, t->dr, RL_TOK_SLOT);
	assert_non_null(g);
	assert_int_equal(g->local_rate.count, 2);
	assert_int_equal(g->local_rate.period_ms, 10000);
	assert_int_equal(rlease_msg_ready(n1->rl, t->dr, &r), 1);
	rlease_msg_use(n1->rl, t->dr);
	assert_int_equal(rlease_stats(n1->rl)->local, 0); /* leases only */
	/* closed: the wait alone marks it refused; Redis back pokes it. */
	assert_int_equal(rlease_msg_wait(n0->rl, t->dr, &r, wall_ms()),
			 RLEASE_CLOSED_MS);
	assert_int_equal(rlease_stats(n0->rl)->closed, 0); /* takes nothing */
	rfx_start(&t->srv);
	RUN_UNTIL(t, rds_is_up(n0->rds), 3000);
	pokes = n0->pokes;
	rlease_on_up(n0->rl);
	assert_int_equal(n0->pokes, pokes + 1);
	assert_int_equal(n0->last_when, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_share),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	    T(test_no_limit),
	    T(test_limit_two_nodes),
	    T(test_batch),
	    T(test_binding_limit),
	    T(test_expiry_and_renewal),
	    T(test_no_round_without_limits),
	    T(test_spare_given_back),
	    T(test_noscript),
	    T(test_down),
	    T(test_release_batched),
	    T(test_stop_gives_back),
	    T(test_tokens),
	    T(test_msg_wait),
	    T(test_msg_wait_first),
#undef T
	};

	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
