/* SPDX-License-Identifier: MIT */
/*
 * test_maintainer: when a domain's maintainer ticks next (table-driven:
 * delayed units, backoff, penalties, throttles, the scan interval), that
 * ticks and pokes of a record without a routing context are no-ops, when
 * the message rates stop the goal from opening more sessions, and
 * the server-wide waiters: FIFO hand-over of freed slots, promised slots
 * that no other domain may take, stale waiters skipped (on a real ring,
 * skipped loudly without io_uring).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "config.h"
#include "delivery.h"
#include "log.h"
#include "maintainer.h"

#define NOW  1000000
#define SCAN MAINT_SCAN_INTERVAL_MS

struct wake_case {
	const char *name;
	struct maint_wake_in in;
	int64_t want;
};

/* The table leaves next_due_ms, penalty_ms, expire_ms and scan_ms at 0
 * for "none" (INT64_MAX, set by test_next_wake). */
#define QUIET .now_ms = NOW

static const struct wake_case wake_cases[] = {
    {"idle domain: only when poked", {QUIET}, INT64_MAX},
    {"delayed unit only", {QUIET, .next_due_ms = NOW + 5000}, NOW + 5000},
    {"active units with sessions, nothing timed: only when poked",
     {QUIET, .active = 3, .nconn = 3},
     INT64_MAX},
    {"active units: the first expiry",
     {QUIET, .active = 3, .nconn = 3, .expire_ms = NOW + 432000000},
     NOW + 432000000},
    {"active units: the safety scan",
     {QUIET, .active = 3, .scan_ms = NOW + SCAN},
     NOW + SCAN},
    {"expiry before the scan",
     {QUIET, .active = 3, .expire_ms = NOW + 100, .scan_ms = NOW + SCAN},
     NOW + 100},
    {"scan before the expiry",
     {QUIET, .active = 3, .expire_ms = NOW + SCAN * 9, .scan_ms = NOW + SCAN},
     NOW + SCAN},
    {"expiry without active units: not a reason",
     {QUIET, .expire_ms = NOW + 100, .scan_ms = NOW + 50,
      .next_due_ms = NOW + 9000},
     NOW + 9000},
    {"active units, earlier delayed unit",
     {QUIET, .next_due_ms = NOW + 100, .active = 3, .scan_ms = NOW + SCAN},
     NOW + 100},
    {"backoff ends before the scan",
     {QUIET, .backoff_ms = NOW + 2000, .active = 1, .scan_ms = NOW + SCAN},
     NOW + 2000},
    {"backoff ends after the scan",
     {QUIET, .backoff_ms = NOW + SCAN * 4, .active = 1, .scan_ms = NOW + SCAN},
     NOW + SCAN},
    {"backoff ends, sessions open, nothing else timed",
     {QUIET, .backoff_ms = NOW + SCAN * 4, .active = 1, .nconn = 2},
     NOW + SCAN * 4},
    {"backoff over: ignored",
     {QUIET, .backoff_ms = NOW - 1, .active = 1, .expire_ms = NOW + 7},
     NOW + 7},
    {"penalty end", {QUIET, .penalty_ms = NOW + 700, .active = 1}, NOW + 700},
    {"penalty already over: ignored",
     {QUIET, .penalty_ms = NOW - 700, .active = 1},
     INT64_MAX},
    {"throttle end", {QUIET, .throttle_ms = NOW + 100, .active = 1}, NOW + 100},
    {"throttle over: ignored",
     {QUIET, .throttle_ms = NOW, .active = 1},
     INT64_MAX},
    {"throttle without active units: not a reason",
     {QUIET, .next_due_ms = NOW + 9000, .penalty_ms = NOW + 10,
      .throttle_ms = NOW + 100, .backoff_ms = NOW + 50},
     NOW + 9000},
    {"earliest of all",
     {.now_ms = NOW,
      .next_due_ms = NOW + 400,
      .backoff_ms = NOW + 300,
      .penalty_ms = NOW + 200,
      .throttle_ms = NOW + 250,
      .expire_ms = NOW + 220,
      .scan_ms = NOW + 230,
      .active = 2,
      .nconn = 4},
     NOW + 200},
    {"earliest of all: the expiry",
     {.now_ms = NOW,
      .next_due_ms = NOW + 400,
      .backoff_ms = NOW + 300,
      .penalty_ms = NOW + 200,
      .throttle_ms = NOW + 250,
      .expire_ms = NOW + 190,
      .scan_ms = NOW + 230,
      .active = 2},
     NOW + 190},
};

static void
test_next_wake(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(wake_cases); i++) {
		struct maint_wake_in in = wake_cases[i].in;
		int64_t *none[] = {&in.next_due_ms, &in.penalty_ms,
				   &in.expire_ms, &in.scan_ms};
		int64_t got;

		for (size_t k = 0; k < nitems(none); k++)
			if (*none[k] == 0)
				*none[k] = INT64_MAX;
		got = maint_next_wake(&in);

		if (got != wake_cases[i].want)
			fail_msg("%s: got %lld want %lld", wake_cases[i].name,
				 (long long)got, (long long)wake_cases[i].want);
	}
}

/* A message's expiry: received + expiration, saturating; none stays none. */
static void
test_expire_at(void **state)
{
	static const struct {
		int64_t received, expiration, want;
	} c[] = {
	    {1000, 500, 1500},
	    {1000, 0, 1000},
	    {1000, -5, 1000},
	    {INT64_MAX, 500, INT64_MAX},
	    {INT64_MAX - 10, 100, INT64_MAX},
	    {INT64_MAX - 100, 100, INT64_MAX},
	    {INT64_MAX - 101, 100, INT64_MAX - 1},
	};

	(void)state;
	for (size_t i = 0; i < nitems(c); i++)
		if (maint_expire_at(c[i].received, c[i].expiration) !=
		    c[i].want)
			fail_msg("case %zu: got %lld want %lld", i,
				 (long long)maint_expire_at(c[i].received,
							    c[i].expiration),
				 (long long)c[i].want);
}

/* The goal's msg_throttled from the message rates (this node's and the
 * cluster's): every input that can flip it. */
static void
test_rate_blocks(void **state)
{
	static const struct {
		const char *name;
		struct maint_rate_in in;
		bool want;
	} c[] = {
	    {"no rate", {.waiting = 3, .nconn = 3, .wait_ms = 900}, false},
	    {"rate, nothing open, no wait: open", {.rated = true}, false},
	    {"rate, nothing open: one ahead of a wait shorter than idle",
	     {.rated = true, .wait_ms = 900, .idle_ms = 5000},
	     false},
	    {"rate, nothing open: it would idle out before the wait ends",
	     {.rated = true, .wait_ms = 900, .idle_ms = 900},
	     true},
	    {"rate, nothing open, idle_timeout 0: any wait blocks",
	     {.rated = true, .wait_ms = 1},
	     true},
	    {"rate, a session waits: it takes the next",
	     {.rated = true, .waiting = 1, .nconn = 1},
	     true},
	    {"rate, busy sessions, a message may go now",
	     {.rated = true, .nconn = 2},
	     false},
	    {"rate, busy sessions, the next token comes later",
	     {.rated = true, .nconn = 2, .wait_ms = 1},
	     true},
	};

	(void)state;
	for (size_t i = 0; i < nitems(c); i++)
		if (maint_rate_blocks(&c[i].in) != c[i].want)
			fail_msg("%s: got %d", c[i].name, !c[i].want);
}

static void
test_no_context(void **state)
{
	struct dom_table t;
	domain_record *dr;

	(void)state;
	dom_table_init(&t, 1);
	dr = dom_get(&t, "example.com");
	maint_poke(dr);
	maint_schedule(dr, 5);
	maint_tick(dr);
	maint_stop(dr);
	assert_false(timer_armed(&dr->mt_timer));
	dom_table_fini(&t);
}

static const char srv_conf[] = "[server]\n"
			       "hostname = mta.test\n"
			       "[dns]\n"
			       "servers = 127.0.0.1:9\n"
			       "[delivery]\n"
			       "suspended = true\n"
			       "max_connections = 2\n";

/* Slots freed by ending sessions go to the waiters, oldest first. */
static void
test_srv_waiters(void **state)
{
	struct ring_opts ro = {.sq_entries = 64, .cq_entries = 256};
	struct config_err_list errs;
	struct config *cfg;
	struct dom_table doms;
	struct bnd_table bnds;
	domain_record *a, *b, *c;
	struct ring *r;
	struct dlv *d;
	int err;

	(void)state;
	log_set_level(LOG_ERR);
	r = ring_new(&ro, &err);
	if (r == NULL) {
		fprintf(stderr, "*** io_uring unavailable (%s): SKIPPING ***\n",
			strerror(-err));
		skip();
	}
	config_err_list_init(&errs);
	assert_int_equal(config_load_string("t", srv_conf, &cfg, &errs), 0);
	config_err_list_fini(&errs);
	bnd_table_init(&bnds, cfg);
	dom_table_init(&doms, (unsigned)bnds.n);
	assert_int_equal(dlv_new(&(struct dlv_opts){.ring = r,
						    .cfg = cfg,
						    .doms = &doms,
						    .bnds = &bnds},
				 &d),
			 0);
	a = dom_get(&doms, "a.example");
	b = dom_get(&doms, "b.example");
	c = dom_get(&doms, "c.example");
	a->ctx = b->ctx = c->ctx = d;
	a->nactive = b->nactive = 5;
	d->nconn = 2; /* the server is full */
	maint_srv_wait(d, b);
	maint_srv_wait(d, a);
	maint_srv_wait(d, b); /* once */
	assert_int_equal(d->srv_waitq.n, 2);
	maint_srv_release(d); /* nothing free: nothing happens */
	assert_int_equal(d->srv_waitq.n, 2);
	assert_false(timer_armed(&b->mt_timer));
	d->nconn = 1; /* a session ended: its slot goes to b, the oldest */
	maint_srv_release(d);
	assert_int_equal(b->srv_grants, 1);
	assert_int_equal(d->srv_reserved, 1);
	assert_true(timer_armed(&b->mt_timer));
	assert_int_equal(a->srv_grants, 0);
	assert_int_equal(d->srv_waitq.n, 1);
	maint_srv_release(d); /* the free slot is b's: not a's */
	assert_int_equal(a->srv_grants, 0);
	/* a waiter served meanwhile is skipped, the slot goes on */
	maint_srv_wait(d, c); /* c has nothing queued */
	a->nactive = 0;
	d->nconn = 0;
	maint_srv_release(d);
	assert_int_equal(a->srv_grants, 0);
	assert_int_equal(c->srv_grants, 0);
	assert_int_equal(d->srv_waitq.n, 0);
	assert_int_equal(d->srv_reserved, 1);
	/* a slot is never promised twice while stopping */
	d->stopping = true;
	maint_srv_wait(d, a);
	maint_srv_release(d);
	assert_int_equal(a->srv_grants, 0);
	d->stopping = false;
	maint_stop(a);
	maint_stop(b);
	maint_stop(c);
	d->nconn = 0;
	dlv_free(d);
	dom_table_fini(&doms);
	bnd_table_fini(&bnds);
	config_free(cfg);
	assert_int_equal(ring_shutdown(r, 2000), 0);
	ring_free(r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_next_wake),
	    cmocka_unit_test(test_expire_at),
	    cmocka_unit_test(test_rate_blocks),
	    cmocka_unit_test(test_no_context),
	    cmocka_unit_test(test_srv_waiters),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
