/* SPDX-License-Identifier: MIT */
/*
 * test_rstate_dirty: the publisher visits only the domain records marked
 * with dom_dirty().  The dirty list itself (src/domain.c: FIFO, each
 * record once, the queue functions mark, on_dirty once per empty to
 * non-empty); then against a real redis-server: every published gauge
 * and counter, changed and marked, is in Redis after one round; an idle
 * round sends no command and walks no record; the timer sleeps until the
 * heartbeat and wakes one interval after a record is marked.
 * redis-server must be installed; io_uring unavailable skips the Redis
 * cases loudly.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "binding.h"
#include "config.h"
#include "domain.h"
#include "redis.h"
#include "rstate_fixture.h"
#include "redis_server.h"
#include "ring.h"
#include "rstate.h"
#include "rstate_int.h"

#define MS 1000000LL

/* ---- the dirty list (pure) ----------------------------------------------- */

static void
t_count(void *arg)
{
	(*(unsigned *)arg)++;
}

static struct dom_unit *
t_unit(int64_t due_ms)
{
	static const uint8_t id[DOM_ID_LEN] = {7};
	struct dom_unit *u = dom_unit_new(id, 1);

	u->due_ms = due_ms;
	return u;
}

/* Drain t's list into names (comma separated); returns how many. */
static unsigned
t_drain(struct dom_table *t, char *names, size_t len)
{
	domain_record *dr;
	unsigned n = 0;

	names[0] = '\0';
	while ((dr = dom_dirty_pop(t)) != NULL) {
		snprintf(names + strlen(names), len - strlen(names), "%s%s",
			 n ? "," : "", dr->name);
		n++;
	}
	assert_int_equal(t->ndirty, 0);
	return n;
}

static void
test_dirty_list(void **state)
{
	struct dom_table t;
	unsigned calls = 0;
	domain_record *a, *b, *c;
	char names[64];

	(void)state;
	dom_table_init(&t, 1);
	t.on_dirty = t_count;
	t.on_dirty_arg = &calls;
	a = dom_get(&t, "a.example");
	b = dom_get(&t, "b.example");
	c = dom_get(&t, "c.example");
	assert_null(dom_dirty_pop(&t));
	assert_int_equal(calls, 0); /* creating records marks nothing */
	dom_dirty(b);
	dom_dirty(a);
	dom_dirty(b); /* idempotent */
	dom_dirty(c);
	assert_int_equal(t.ndirty, 3);
	/* once, when the list stopped being empty */
	assert_int_equal(calls, 1);
	assert_int_equal(t_drain(&t, names, sizeof(names)), 3);
	assert_string_equal(names, "b.example,a.example,c.example");
	/* popped records can be marked again, and call on_dirty again */
	dom_dirty(c);
	assert_int_equal(calls, 2);
	assert_ptr_equal(dom_dirty_pop(&t), c);
	assert_null(dom_dirty_pop(&t));
	dom_dirty(a);
	assert_ptr_equal(dom_dirty_pop(&t), a);
	dom_table_fini(&t);
}

/* Each queue function marks its record; one that changes nothing doesn't. */
static void
test_queue_ops_mark(void **state)
{
	struct dom_table t;
	domain_record *dr;
	struct dom_unit *u;
	struct dom_addr addr = {.pref = 10};
	char names[64];

	(void)state;
	dom_table_init(&t, 1);
	dr = dom_get(&t, "q.example");
	dom_active_push(&t, dr, t_unit(0));
	assert_int_equal(t_drain(&t, names, sizeof(names)), 1);
	u = dom_active_pop(&t, dr, 0);
	assert_non_null(u);
	assert_int_equal(t_drain(&t, names, sizeof(names)), 1);
	dom_active_unshift(&t, dr, u);
	assert_int_equal(t_drain(&t, names, sizeof(names)), 1);
	u = dom_active_pop_any(&t, dr);
	assert_int_equal(t_drain(&t, names, sizeof(names)), 1);
	assert_null(dom_active_pop(&t, dr, 0)); /* empty: no change */
	assert_null(dom_active_pop_any(&t, dr));
	assert_int_equal(t_drain(&t, names, sizeof(names)), 0);
	u->due_ms = 5000;
	dom_delayed_push(&t, dr, u);
	assert_int_equal(t_drain(&t, names, sizeof(names)), 1);
	assert_int_equal(dom_promote_due(dr, 4999), 0); /* nothing due */
	assert_int_equal(t_drain(&t, names, sizeof(names)), 0);
	assert_int_equal(dom_promote_due(dr, 5000), 1);
	assert_int_equal(t_drain(&t, names, sizeof(names)), 1);
	dom_delayed_push(&t, dr, dom_active_pop(&t, dr, 0));
	t_drain(&t, names, sizeof(names));
	u = dom_delayed_pop(&t, dr);
	assert_non_null(u);
	assert_int_equal(t_drain(&t, names, sizeof(names)), 1);
	assert_null(dom_delayed_pop(&t, dr));
	assert_int_equal(t_drain(&t, names, sizeof(names)), 0);
	dom_unit_free(u);
	dom_mx_set(dr, &addr, 1, 1000);
	assert_int_equal(t_drain(&t, names, sizeof(names)), 1);
	assert_string_equal(names, "q.example");
	dom_table_fini(&t);
}

/* ---- against redis-server --------------------------------------------- */

struct tctx {
	struct rsfx x;
	struct ring *r;         /* x.r */
	struct rds *rds;        /* x.rds */
	struct dom_table *doms; /* &x.doms */
	struct rstate *rs;      /* x.rs */
};

/* With a ring (the timer runs, every 20 ms at most) when timer. */
static int
t_setup(void **state, bool timer)
{
	struct tctx *t =
	    rsfx_setup(state, sizeof(*t), "test-rstate-dirty", "rd");

	if (t == NULL)
		return 0;
	t->r = t->x.r;
	t->rds = t->x.rds;
	t->doms = &t->x.doms;
	assert_int_equal(
	    rstate_new(&(struct rstate_opts){.ring = timer ? t->r : NULL,
					     .interval_ms = 20,
					     .rds = t->rds,
					     .doms = t->doms,
					     .bnds = &t->x.bnds,
					     .node_id = "dirty-1",
					     .version = "1"},
		       &t->rs),
	    0);
	t->x.rs = t->rs;
	return 0;
}

static int
setup(void **state)
{
	return t_setup(state, false);
}

static int
setup_timer(void **state)
{
	return t_setup(state, true);
}

#define CTX_OR_SKIP(t) RSFX_CTX(t)

static void
t_turns(struct tctx *t, int n)
{
	for (int i = 0; i < n; i++)
		assert_true(ring_run_once(t->r, 2 * MS) >= 0);
}

static const char *
t_hget(struct tctx *t, const char *key, const char *field)
{
	return rsfx_hget(&t->x, key, field);
}

/* Commands this client handed to hiredis so far (direct, batched and
 * deltas alike). */
static uint64_t
t_sent(const struct tctx *t)
{
	return rds_stats(t->rds)->cmds;
}

/* One mutation of a published field, and the value Redis must then hold. */
struct t_change {
	const char *field, *want;
	void (*fn)(struct tctx *t, domain_record *dr);
};

static void
t_push(struct tctx *t, domain_record *dr)
{
	dom_active_push(t->doms, dr, t_unit(0));
	dr->received++;
}

static void
t_delay(struct tctx *t, domain_record *dr)
{
	dom_delayed_push(t->doms, dr, t_unit(1700000099000LL));
}

static void
t_conn(struct tctx *t, domain_record *dr)
{
	(void)t;
	dr->nconn = 4;
	dom_dirty(dr);
}

static void
t_mx(struct tctx *t, domain_record *dr)
{
	struct dom_addr a = {.pref = 1};

	(void)t;
	dom_mx_set(dr, &a, 1, 1);
}

static void
t_backoff(struct tctx *t, domain_record *dr)
{
	(void)t;
	dr->defer_failures = 2;
	dr->backoff_until_ms = 1700000123000LL;
	dom_dirty(dr);
}

static void
t_error(struct tctx *t, domain_record *dr)
{
	(void)t;
	snprintf(dr->last_error, sizeof(dr->last_error), "421 4.3.2 busy");
	dom_dirty(dr);
}

static void
t_suspend(struct tctx *t, domain_record *dr)
{
	static const char msg[] = "suspend g.example";

	(void)dr;
	assert_int_equal(rstate_ctl_apply(t->rs, msg, strlen(msg)), 0);
}

static void
t_counters(struct tctx *t, domain_record *dr)
{
	(void)t;
	dr->attempts += 3;
	dr->deliveries += 2;
	dr->transients += 1;
	dr->failures += 5;
	dom_dirty(dr);
}

static void
test_each_change_published(void **state)
{
	CTX_OR_SKIP(t);
	static const struct t_change ch[] = {
	    {"active", "1", t_push},
	    {"received", "1", NULL},
	    {"delayed", "1", t_delay},
	    {"next_attempt", "1700000099000", NULL},
	    {"connections", "4", t_conn},
	    {"mx_state", "ready", t_mx},
	    {"consecutive_failures", "2", t_backoff},
	    {"backoff_until", "1700000123000", NULL},
	    {"last_code", "421", t_error},
	    {"last_text", "421 4.3.2 busy", NULL},
	    {"suspended", "1", t_suspend},
	    {"attempts", "3", t_counters},
	    {"deliveries", "2", NULL},
	    {"transients", "1", NULL},
	    {"failures", "5", NULL},
	};
	domain_record *dr = dom_get(t->doms, "g.example");
	int64_t now = 1700000000000LL;

	dom_dirty(dom_get(t->doms, "other.example"));
	rstate_publish(t->rs, now);
	assert_string_equal(t_hget(t, "rd:domain:other.example", "active"),
			    "0");
	for (size_t i = 0; i < nitems(ch); i++) {
		if (ch[i].fn != NULL) {
			ch[i].fn(t, dr);
			/* one round, well before the heartbeat is due */
			now += 10;
			assert_true(rstate_publish(t->rs, now) > 0);
		}
		assert_string_equal(
		    t_hget(t, "rd:domain:g.example", ch[i].field), ch[i].want);
	}
	assert_string_equal(t_hget(t, "rd:stats", "failures"), "5");
	assert_string_equal(t_hget(t, "rd:node:dirty-1", "connections"), "4");
	assert_string_equal(t_hget(t, "rd:node:dirty-1", "queued"), "2");
	/* only g.example changed: other.example was not written again */
	assert_string_equal(t_hget(t, "rd:domain:other.example", "updated"),
			    "1700000000000");
}

/* Nothing marked: no command and no walk until the heartbeat, which
 * sends only the node's hash and the data-loss check. */
static void
test_idle_round_silent(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *dr = dom_get(t->doms, "i.example");
	uint64_t before;
	int64_t now = 1000;

	dom_dirty(dr);
	assert_true(rstate_publish(t->rs, now) > 0);
	t_hget(t, "rd:domain:i.example", "active"); /* let it all settle */
	t_turns(t, 10);
	before = t_sent(t);
	/* a change nobody marked: an idle round must not even look */
	dr->nconn = 7;
	for (int i = 1; i < RSTATE_BEAT_MS / 100; i++) {
		assert_int_equal(rstate_publish(t->rs, now + i * 100), 0);
		t_turns(t, 2);
	}
	assert_int_equal(t_sent(t), before);
	assert_false(rds_deltas_pending(t->rds));
	/* the heartbeat: the node's hash (HSET, EXPIRE, SADD) and the
	 * SISMEMBER check, still no domain */
	assert_int_equal(rstate_publish(t->rs, now + RSTATE_BEAT_MS), 3);
	t_turns(t, 10);
	assert_int_equal(t_sent(t), before + 4);
	assert_string_equal(t_hget(t, "rd:domain:i.example", "connections"),
			    "0");
	/* a wall clock that jumped back does not silence the heartbeat */
	assert_int_equal(rstate_publish(t->rs, 10), 3);
	/* marked: published by the next round */
	dom_dirty(dr);
	assert_true(rstate_publish(t->rs, 20) > 3);
	assert_string_equal(t_hget(t, "rd:domain:i.example", "connections"),
			    "7");
}

/* The timer: after a round with nothing dirty it sleeps until the
 * heartbeat; a record marked then wakes it one interval after the last
 * round, and the change is in Redis. */
static void
test_timer_sleeps(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *dr = dom_get(t->doms, "w.example");
	uint64_t rounds;

	rfx_run_for(t->r, 100); /* the first rounds (start-up) */
	assert_true(timer_armed(&t->rs->tm));
	assert_true(t->rs->tm.when - ring_now(t->r) >
		    (RSTATE_BEAT_MS - 200) * MS);
	rounds = t->rs->round;
	rfx_run_for(t->r, 200); /* 10 intervals: no round */
	assert_int_equal(t->rs->round, rounds);
	dr->nconn = 2;
	dom_dirty(dr);
	assert_true(t->rs->tm.when <= t->rs->last_round_ns + 20 * MS);
	assert_string_equal(t_hget(t, "rd:domain:w.example", "connections"),
			    "2");
	assert_int_equal(t->rs->round, rounds + 1);
	/* a burst of marks is one round per interval, not one per mark */
	for (int i = 0; i < 5; i++) {
		dr->nconn = 10 + (unsigned)i;
		dom_dirty(dr);
		assert_true(ring_run_once(t->r, 0) >= 0);
	}
	rfx_run_for(t->r, 60);
	assert_true(t->rs->round <= rounds + 1 + 2);
	assert_string_equal(t_hget(t, "rd:domain:w.example", "connections"),
			    "14");
}

/* A data loss found by the check is repaired at once: the round that
 * writes every key again does not wait an interval after the round that
 * sent the check (the FLUSHALL repair must fit in one heartbeat). */
static void
test_loss_repaired_at_once(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *dr = dom_get(t->doms, "l.example");
	uint64_t rounds;

	dr->deliveries = 3;
	dom_dirty(dr);
	rfx_run_for(t->r, 100); /* start-up rounds: published, a member */
	assert_string_equal(t_hget(t, "rd:domain:l.example", "deliveries"),
			    "3");
	rsfx_cmd(&t->x, 1, (const char *const[]){"FLUSHALL"});
	/* a heartbeat round (a wall clock far ahead: due) sends the check */
	rounds = t->rs->round;
	assert_true(rstate_publish(t->rs, INT64_MAX / 4) > 0);
	assert_true(t->rs->checking);
	t->rs->last_round_ns = ring_now(t->r); /* as rst_timer() sets it */
	for (int i = 0; i < 500 && t->rs->checking; i++)
		assert_true(ring_run_once(t->r, 1 * MS) >= 0);
	assert_false(t->rs->checking);
	/* the repair: already run, or due now (not 20 ms after the round) */
	assert_true(
	    t->rs->round > rounds + 1 ||
	    (timer_armed(&t->rs->tm) && t->rs->tm.when <= ring_now(t->r)));
	assert_string_equal(t_hget(t, "rd:domain:l.example", "deliveries"),
			    "3");
}

/* The node hash: gauges over every domain, this process's totals, and
 * rates per minute over the rounds of the last minute. */
static void
test_node_totals_rates(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *a = dom_get(t->doms, "a.example");
	domain_record *b = dom_get(t->doms, "b.example");
	static const struct {
		const char *field, *want;
	} first[] =
	    {
		{"active", "3"},
		{"delayed", "0"},
		{"queued", "3"},
		{"connections", "3"},
		{"received", "3"},
		{"deliveries", "4"},
		{"transients", "1"},
		{"failures", "0"},
		{"deliveries_per_min", "0"}, /* one round: no interval yet */
	    },
	  later[] =
	      {
		  {"deliveries", "34"},
		  {"transients", "1"},
		  {"failures", "6"},
		  {"received", "3"},
		  {"deliveries_per_min", "60"}, /* 30 in 30 s */
		  {"failures_per_min", "12"},
		  {"transients_per_min", "0"},
	      },
	  window[] = {
	      {"deliveries_per_min", "0"}, /* the minute holds no change */
	      {"deliveries", "34"},
	  };

	t_push(t, a);
	t_push(t, a);
	t_push(t, b);
	a->nconn = 2;
	b->nconn = 1;
	a->deliveries = 3;
	b->deliveries = 1;
	b->transients = 1;
	rstate_publish(t->rs, 100000);
	for (size_t i = 0; i < nitems(first); i++)
		assert_string_equal(
		    t_hget(t, "rd:node:dirty-1", first[i].field),
		    first[i].want);
	a->deliveries += 30;
	b->failures = 6;
	dom_dirty(a);
	dom_dirty(b);
	rstate_publish(t->rs, 130000);
	for (size_t i = 0; i < nitems(later); i++)
		assert_string_equal(
		    t_hget(t, "rd:node:dirty-1", later[i].field),
		    later[i].want);
	/* 61 s later nothing changed: rounds older than a minute drop out */
	rstate_publish(t->rs, 191000);
	rstate_publish(t->rs, 192000);
	for (size_t i = 0; i < nitems(window); i++)
		assert_string_equal(
		    t_hget(t, "rd:node:dirty-1", window[i].field),
		    window[i].want);
}

/* While Redis is down there is no heartbeat: no round, no wakeup (a
 * dirty record still gets its round, queued for when Redis is back). */
static void
test_no_beat_while_down(void **state)
{
	CTX_OR_SKIP(t);
	domain_record *dr = dom_get(t->doms, "d.example");

	rfx_run_for(t->r, 60); /* the first rounds */
	assert_true(timer_armed(&t->rs->tm));
	assert_int_equal(rdsrv_stop(&t->x.srv, 2000), 0);
	RFX_RUN_UNTIL(t->r, !rds_is_up(t->rds), 3000);
	rfx_run_for(t->r, 60);
	dr->nconn = 1;
	dom_dirty(dr);
	rfx_run_for(t->r, 60); /* its round, then nothing is armed */
	assert_int_equal(t->doms->ndirty, 0);
	assert_false(timer_armed(&t->rs->tm));
	assert_int_equal(rstate_publish(t->rs, INT64_MAX / 2), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dirty_list),
	    cmocka_unit_test(test_queue_ops_mark),
	    cmocka_unit_test_setup_teardown(test_each_change_published, setup,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_idle_round_silent, setup,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_timer_sleeps, setup_timer,
					    rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_loss_repaired_at_once,
					    setup_timer, rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_no_beat_while_down,
					    setup_timer, rsfx_teardown),
	    cmocka_unit_test_setup_teardown(test_node_totals_rates, setup,
					    rsfx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
