/* SPDX-License-Identifier: MIT */
/*
 * test_domain: the domain table and its queues (per-binding active FIFO,
 * unshift, delayed order, promotion), the MX set (history kept across
 * lookups), MX choice with penalties and spread (table-driven), the GCRA
 * throttle arithmetic and the connection goal (table-driven).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "domain.h"

static const uint8_t id1[DOM_ID_LEN] = {1};
static const uint8_t id2[DOM_ID_LEN] = {2};

static struct dom_unit *
unit(const uint8_t *id, int slot, int64_t due)
{
	struct dom_unit *u = dom_unit_new(id, 1);

	u->nrcpt = 1;
	u->bslot = slot;
	u->due_ms = due;
	return u;
}

static void
test_queues_per_binding(void **state)
{
	struct dom_table t;
	domain_record *dr;
	struct dom_unit *a, *b, *c, *u;

	(void)state;
	dom_table_init(&t, 2);
	dr = dom_get(&t, "example.com");
	assert_ptr_equal(dom_find(&t, "example.com"), dr);
	assert_null(dom_find(&t, "example.org"));
	assert_int_equal(dr->nbind, 2);
	a = unit(id1, 0, 0);
	b = unit(id2, 1, 0);
	c = unit(id2, 0, 0);
	dom_active_push(&t, dr, a);
	dom_active_push(&t, dr, b);
	dom_active_unshift(&t, dr, c);
	assert_int_equal(dr->nactive, 3);
	assert_int_equal(t.units, 3);
	assert_int_equal(dr->bind[0].active.count, 2);
	assert_ptr_equal(dom_active_pop(&t, dr, 0), c); /* unshift first */
	assert_ptr_equal(dom_active_pop(&t, dr, 0), a);
	assert_null(dom_active_pop(&t, dr, 0));
	assert_ptr_equal(dom_active_pop_any(&t, dr), b);
	assert_null(dom_active_pop_any(&t, dr));
	assert_int_equal(dr->nactive, 0);
	assert_int_equal(t.units, 0);
	dom_unit_free(a);
	dom_unit_free(b);
	dom_unit_free(c);
	/* Delayed: ordered by due time, promoted into their binding. */
	dom_delayed_push(&t, dr, unit(id1, 1, 300));
	dom_delayed_push(&t, dr, unit(id1, 0, 100));
	dom_delayed_push(&t, dr, unit(id2, 0, 200));
	assert_int_equal(dom_next_due(dr), 100);
	assert_int_equal(dom_promote_due(dr, 99), 0);
	assert_int_equal(dom_promote_due(dr, 200), 2);
	assert_int_equal(dr->bind[0].active.count, 2);
	assert_int_equal(dom_next_due(dr), 300);
	u = dom_delayed_pop(&t, dr);
	assert_non_null(u);
	assert_int_equal(u->due_ms, 300);
	dom_unit_free(u);
	assert_int_equal(dom_next_due(dr), INT64_MAX);
	dom_table_fini(&t); /* frees the two still active */
}

/* The active units' earliest received time: kept by push, unshift and
 * promotion, reset when the queues empty or by dom_rcvd_reset(). */
static void
test_rcvd_min(void **state)
{
	struct dom_table t;
	domain_record *dr;
	struct dom_unit *a = unit(id1, 0, 0), *b = unit(id2, 1, 0),
			*c = unit(id2, 0, 0), *d = unit(id1, 1, 50), *u;

	(void)state;
	dom_table_init(&t, 2);
	dr = dom_get(&t, "example.com");
	assert_true(dr->rcvd_min_ms == INT64_MAX);
	a->received_ms = 5000;
	b->received_ms = 7000;
	c->received_ms = 3000;
	d->received_ms = 1000;
	dom_active_push(&t, dr, a);
	assert_true(dr->rcvd_min_ms == 5000);
	dom_active_push(&t, dr, b); /* later: no change */
	assert_true(dr->rcvd_min_ms == 5000);
	dom_active_unshift(&t, dr, c); /* earlier, at the head */
	assert_true(dr->rcvd_min_ms == 3000);
	u = unit(id1, 0, 0);
	u->received_ms = 4000;
	dom_active_push(&t, dr, u);
	assert_true(dr->rcvd_min_ms == 3000);
	dom_delayed_push(&t, dr, d);
	assert_true(dr->rcvd_min_ms == 3000); /* delayed units do not count */
	assert_int_equal(dom_promote_due(dr, 50), 1);
	assert_true(dr->rcvd_min_ms == 1000); /* promoted: now they do */
	dom_rcvd_reset(dr, 2000);
	assert_true(dr->rcvd_min_ms == 2000);
	/* Taking units keeps the bound (lower: safe) until none is left. */
	for (int i = 0; i < 5; i++) {
		assert_true(dr->rcvd_min_ms == 2000);
		u = dom_active_pop_any(&t, dr);
		assert_non_null(u);
		if (u != a && u != b && u != c && u != d)
			dom_unit_free(u);
	}
	assert_int_equal(dr->nactive, 0);
	assert_true(dr->rcvd_min_ms == INT64_MAX);
	dom_active_push(&t, dr, b);
	assert_true(dr->rcvd_min_ms == 7000);
	u = dom_active_pop(&t, dr, 1);
	assert_ptr_equal(u, b);
	assert_true(dr->rcvd_min_ms == INT64_MAX);
	dom_unit_free(a);
	dom_unit_free(b);
	dom_unit_free(c);
	dom_unit_free(d);
	dom_table_fini(&t);
}

/* The units of one message (control's retry and delete): taken from
 * every queue in order, the others kept in theirs, the counters and the
 * earliest received time made exact, the record dirty only when one was
 * taken. */
static void
test_take_msg(void **state)
{
	static const uint8_t id3[DOM_ID_LEN] = {3};
	struct dom_table t;
	domain_record *dr;
	struct dom_unit *a = unit(id1, 0, 0), *b = unit(id2, 0, 0),
			*c = unit(id1, 1, 0), *d = unit(id1, 0, 70),
			*e = unit(id2, 0, 80), *list = NULL, **tail = &list;

	(void)state;
	dom_table_init(&t, 2);
	dr = dom_get(&t, "example.com");
	a->received_ms = 1000;
	b->received_ms = 5000;
	c->received_ms = 1000;
	dom_active_push(&t, dr, a);
	dom_active_push(&t, dr, b);
	dom_active_push(&t, dr, c);
	dom_delayed_push(&t, dr, d);
	dom_delayed_push(&t, dr, e);
	while (dom_dirty_pop(&t) != NULL)
		;
	/* Nothing of id3: nothing changes, not dirty. */
	assert_int_equal(dom_take_msg(&t, dr, id3, false, &tail), 0);
	assert_null(list);
	assert_null(dr->dirty_prev);
	assert_true(dr->rcvd_min_ms == 1000);
	/* Delayed only: the active units and their age stay. */
	assert_int_equal(dom_take_msg(&t, dr, id1, true, &tail), 1);
	assert_ptr_equal(list, d);
	assert_ptr_equal(tail, &d->next);
	assert_int_equal(dr->delayed.count, 1);
	assert_ptr_equal(dr->delayed.head, e);
	assert_ptr_equal(dr->delayed.tail, &e->next);
	assert_int_equal(dr->nactive, 3);
	assert_true(dr->rcvd_min_ms == 1000);
	assert_int_equal(t.units, 4);
	assert_non_null(dr->dirty_prev);
	while (dom_dirty_pop(&t) != NULL)
		;
	/* Every queue: appended after d; b left, its age now the earliest. */
	assert_int_equal(dom_take_msg(&t, dr, id1, false, &tail), 2);
	assert_ptr_equal(d->next, a);
	assert_ptr_equal(a->next, c);
	assert_null(c->next);
	assert_ptr_equal(tail, &c->next);
	assert_int_equal(dr->nactive, 1);
	assert_int_equal(dr->bind[0].active.count, 1);
	assert_int_equal(dr->bind[1].active.count, 0);
	assert_null(dr->bind[1].active.head);
	assert_ptr_equal(dr->bind[0].active.head, b);
	assert_ptr_equal(dr->bind[0].active.tail, &b->next);
	assert_true(dr->rcvd_min_ms == 5000);
	assert_int_equal(t.units, 2);
	assert_non_null(dr->dirty_prev);
	/* The queues still work after the unlinks (tails right). */
	dom_active_push(&t, dr, a);
	dom_active_push(&t, dr, c);
	assert_ptr_equal(b->next, a);
	assert_ptr_equal(dom_active_pop(&t, dr, 1), c);
	assert_ptr_equal(dom_active_pop(&t, dr, 0), b);
	assert_ptr_equal(dom_active_pop(&t, dr, 0), a);
	/* The last ones: none left, no age. */
	dom_active_push(&t, dr, b);
	list = NULL;
	tail = &list;
	assert_int_equal(dom_take_msg(&t, dr, id2, false, &tail), 2);
	assert_ptr_equal(list, b);
	assert_ptr_equal(b->next, e);
	assert_int_equal(dr->nactive, 0);
	assert_int_equal(dr->delayed.count, 0);
	assert_ptr_equal(dr->delayed.tail, &dr->delayed.head);
	assert_true(dr->rcvd_min_ms == INT64_MAX);
	assert_int_equal(t.units, 0);
	dom_unit_free(a);
	dom_unit_free(b);
	dom_unit_free(c);
	dom_unit_free(d);
	dom_unit_free(e);
	dom_table_fini(&t);
}

static void
test_table_grows(void **state)
{
	struct dom_table t;
	char name[32];

	(void)state;
	dom_table_init(&t, 1);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		dom_get(&t, name);
	}
	assert_int_equal(t.count, 500);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "d%d.example", i);
		assert_non_null(dom_find(&t, name));
	}
	dom_table_fini(&t);
}

struct split_seen {
	unsigned units, bad;
	uint32_t nrcpt[4];
};

static void
split_out(domain_record *dr, struct dom_unit *u, void *arg)
{
	struct split_seen *s = arg;

	(void)dr;
	s->nrcpt[s->units++] = u->nrcpt;
	dom_unit_free(u);
}

static void
split_bad(uint32_t i, const char *why, void *arg)
{
	struct split_seen *s = arg;

	(void)i;
	(void)why;
	s->bad++;
}

static void
test_split(void **state)
{
	static const char *const addr[] = {"a@X.example.",
					   "b@y.example",
					   "c@x.example",
					   "nodomain",
					   "d@bad..name",
					   "e@B\xc3\xbc"
					   "cher.Example.",
					   "f@xn--bcher-kva.example"};
	struct dom_table t;
	struct split_seen s = {0};

	(void)state;
	dom_table_init(&t, 1);
	assert_int_equal(
	    dom_split(&t, id1, addr, NULL, 7, split_out, split_bad, &s), 3);
	assert_int_equal(s.units, 3);
	assert_int_equal(s.nrcpt[0], 2); /* x.example, normalised */
	assert_int_equal(s.nrcpt[1], 1);
	assert_int_equal(s.nrcpt[2], 2); /* U-label and A-label: one key */
	assert_int_equal(s.bad, 2);
	assert_non_null(dom_find(&t, "x.example"));
	assert_non_null(dom_find(&t, "xn--bcher-kva.example"));
	assert_null(dom_find(&t, "X.example."));
	dom_table_fini(&t);
}

/* An address 127.0.0.n with preference pref. */
static struct dom_addr
addr4(int n, uint16_t pref)
{
	struct dom_addr a;
	struct sockaddr_in *sin = (struct sockaddr_in *)&a.sa;

	memset(&a, 0, sizeof(a));
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0x7f000000u | (unsigned)n);
	a.len = sizeof(*sin);
	a.pref = pref;
	snprintf(a.host, sizeof(a.host), "mx%d.example", n);
	snprintf(a.ip, sizeof(a.ip), "127.0.0.%d", n);
	return a;
}

struct pick_case {
	const char *name;
	uint16_t pref[4];
	unsigned nconn[4];
	int64_t penalty[4];
	size_t n;
	int64_t now;
	int want;
	bool last_of_want; /* dom_mx_last(want) */
};

static const struct pick_case pick_cases[] = {
    {"first of best pref", {10, 20}, {0, 0}, {0, 0}, 2, 100, 0, false},
    {"order ignores position", {20, 10}, {0, 0}, {0, 0}, 2, 100, 1, false},
    {"penalised best: next pref", {10, 20}, {0, 0}, {500, 0}, 2, 100, 1, true},
    {"penalty over: best again", {10, 20}, {0, 0}, {100, 0}, 2, 100, 0, false},
    {"equal prefs: fewest conns", {10, 10, 20}, {3, 1, 0}, {0}, 3, 0, 1, false},
    {"equal prefs tie: first", {10, 10}, {2, 2}, {0}, 2, 0, 0, false},
    {"all penalised", {10, 20}, {0, 0}, {500, 600}, 2, 100, -ENOENT, false},
    {"none at all", {0}, {0}, {0}, 0, 0, -ENOENT, false},
    {"single address is last", {10}, {5}, {0}, 1, 0, 0, true},
};

static void
test_mx_pick(void **state)
{
	(void)state;
	for (size_t k = 0; k < nitems(pick_cases); k++) {
		const struct pick_case *c = &pick_cases[k];
		struct dom_table t;
		struct dom_addr v[4];
		domain_record *dr;
		int got;

		dom_table_init(&t, 1);
		dr = dom_get(&t, "example.com");
		for (size_t i = 0; i < c->n; i++)
			v[i] = addr4((int)i + 2, c->pref[i]);
		dom_mx_set(dr, v, c->n, 1000);
		for (size_t i = 0; i < c->n; i++) {
			dr->addrs[i].nconn = c->nconn[i];
			dr->addrs[i].penalty_until_ms = c->penalty[i];
		}
		got = dom_mx_pick(dr, c->now);
		if (got != c->want)
			fail_msg("%s: got %d want %d", c->name, got, c->want);
		if (got >= 0 &&
		    dom_mx_last(dr, (size_t)got, c->now) != c->last_of_want)
			fail_msg("%s: last_mx", c->name);
		dom_table_fini(&t);
	}
}

static void
test_mx_set_keeps_history(void **state)
{
	struct dom_table t;
	struct dom_addr v[2] = {addr4(2, 10), addr4(3, 20)}, w[2];
	domain_record *dr;

	(void)state;
	dom_table_init(&t, 1);
	dr = dom_get(&t, "example.com");
	assert_int_equal(dr->mx_state, DOM_MX_NONE);
	dom_mx_set(dr, v, 2, 5000);
	assert_int_equal(dr->mx_state, DOM_MX_READY);
	assert_string_equal(dom_mx_state_str(dr->mx_state), "ready");
	dr->addrs[1].strikes = 3;
	dr->addrs[1].penalty_until_ms = 777;
	dr->addrs[1].nconn = 2;
	/* New answer: order and prefs changed, one address gone. */
	w[0] = addr4(3, 5);
	w[1] = addr4(4, 30);
	dom_mx_set(dr, w, 2, 9000);
	assert_int_equal(dr->naddrs, 2);
	assert_int_equal(dr->mx_expires_ms, 9000);
	assert_string_equal(dr->addrs[0].ip, "127.0.0.3");
	assert_int_equal(dr->addrs[0].pref, 5);
	assert_int_equal(dr->addrs[0].strikes, 3);
	assert_int_equal(dr->addrs[0].penalty_until_ms, 777);
	assert_int_equal(dr->addrs[0].nconn, 2);
	assert_int_equal(dr->addrs[1].strikes, 0);
	assert_int_equal(dom_mx_penalty_end(dr), 777);
	assert_string_equal(dom_mx_state_str(DOM_MX__COUNT), "?");
	dom_table_fini(&t);
}

static void
test_rate(void **state)
{
	struct value_rate unlimited = {0, 1000}, r10 = {10, 1000},
			  r3 = {3, 60000}, fast = {5000, 1};
	int64_t tat = 0;

	(void)state;
	/* Unlimited: always now, tat untouched. */
	assert_int_equal(dom_rate_take(&unlimited, &tat, 5), 0);
	assert_int_equal(tat, 0);
	assert_int_equal(dom_rate_wait(&unlimited, 1 << 30, 5), 0);
	/* 10/s: 100 ms apart. */
	tat = 0;
	assert_int_equal(dom_rate_take(&r10, &tat, 1000000), 0);
	assert_int_equal(tat, 1100000);
	assert_int_equal(dom_rate_take(&r10, &tat, 1000000), 100000);
	assert_int_equal(dom_rate_wait(&r10, tat, 1050000), 50000);
	assert_int_equal(tat, 1100000); /* a refusal changes nothing */
	/* Slightly late: caught up (the rate holds over time). */
	assert_int_equal(dom_rate_take(&r10, &tat, 1120000), 0);
	assert_int_equal(tat, 1200000);
	/* 100 events, each taken as soon as allowed: exactly 10/s. */
	for (int i = 0; i < 100; i++) {
		int64_t now = tat;

		assert_int_equal(dom_rate_take(&r10, &tat, now), 0);
	}
	assert_int_equal(tat, 1200000 + 100 * 100000);
	/* A long idle period earns no burst. */
	assert_int_equal(dom_rate_take(&r10, &tat, 100000000), 0);
	assert_int_equal(dom_rate_take(&r10, &tat, 100000000), 100000);
	/* 3 per minute: 20 s apart. */
	tat = 0;
	assert_int_equal(dom_rate_take(&r3, &tat, 0), 0);
	assert_int_equal(dom_rate_wait(&r3, tat, 0), 20000000);
	/* Faster than 1 per microsecond: spacing of at least 1 us. */
	tat = 0;
	assert_int_equal(dom_rate_take(&fast, &tat, 10), 0);
	assert_int_equal(tat, 11);
}

struct goal_case {
	const char *name;
	struct dom_goal_in in;
	unsigned want;
	enum dom_goal_bound bound;
};

#define GB      DOM_GOAL_BATCH
/* ceil(n / DOM_GOAL_BATCH): the sessions n queued units ask for. */
#define GPAR(n) (((n) + GB - 1) / GB)

static const struct goal_case goal_cases[] = {
    {"empty queue", {.queued = 0, .throttle_ok = 1}, 0, DOM_GOAL_QUEUE},
    {"empty queue, server full: not a waiter",
     {.queued = 0, .nconn_srv = 10, .max_srv = 10, .throttle_ok = 1},
     0,
     DOM_GOAL_QUEUE},
    {"one per unit when a session carries one",
     {.queued = 3, .per_session = 1, .max_dom = 20, .throttle_ok = 5},
     3,
     DOM_GOAL_QUEUE},
    {"queue depth over the batch",
     {.queued = 40, .per_session = 100, .throttle_ok = UINT32_MAX},
     GPAR(40),
     DOM_GOAL_QUEUE},
    {"one unit: one session",
     {.queued = 1, .per_session = 100, .throttle_ok = UINT32_MAX},
     1,
     DOM_GOAL_QUEUE},
    {"waiting sessions take units",
     {.queued = 3,
      .per_session = 1,
      .waiting = 2,
      .capacity = 2,
      .nconn_dom = 2,
      .max_dom = 20,
      .throttle_ok = 9},
     1,
     DOM_GOAL_QUEUE},
    {"busy sessions take the next units",
     {.queued = 4 * GB,
      .per_session = 100,
      .busy = 3,
      .capacity = 300,
      .nconn_dom = 3,
      .throttle_ok = 99},
     1,
     DOM_GOAL_QUEUE},
    {"more sessions than the queue asks for",
     {.queued = 1,
      .waiting = 4,
      .capacity = 400,
      .per_session = 100,
      .throttle_ok = 9},
     0,
     DOM_GOAL_QUEUE},
    {"capacity: sessions near their last message",
     {.queued = 250,
      .per_session = 100,
      .busy = 250 / GB + 1,
      .capacity = 10,
      .throttle_ok = 99},
     3,
     DOM_GOAL_QUEUE},
    {"capacity: no limit per session (0)",
     {.queued = 5 * GB, .per_session = 0, .busy = 5, .throttle_ok = 99},
     0,
     DOM_GOAL_QUEUE},
    {"domain limit",
     {.queued = 50,
      .per_session = 1,
      .nconn_dom = 18,
      .max_dom = 20,
      .throttle_ok = 99},
     2,
     DOM_GOAL_DOMAIN},
    {"domain limit reached",
     {.queued = 50,
      .per_session = 1,
      .nconn_dom = 20,
      .max_dom = 20,
      .throttle_ok = 99},
     0,
     DOM_GOAL_DOMAIN},
    {"domain limit over (reload lowered it)",
     {.queued = 50,
      .per_session = 1,
      .nconn_dom = 25,
      .max_dom = 20,
      .throttle_ok = 99},
     0,
     DOM_GOAL_DOMAIN},
    {"server limit",
     {.queued = 50,
      .per_session = 1,
      .max_dom = 20,
      .nconn_srv = 99,
      .max_srv = 100,
      .throttle_ok = 99},
     1,
     DOM_GOAL_SERVER},
    {"server limit reached: a waiter",
     {.queued = 50,
      .per_session = 1,
      .max_dom = 20,
      .nconn_srv = 100,
      .max_srv = 100,
      .throttle_ok = 99},
     0,
     DOM_GOAL_SERVER},
    {"server: free slots promised to other domains",
     {.queued = 50,
      .per_session = 1,
      .nconn_srv = 95,
      .max_srv = 100,
      .reserved_srv = 4,
      .throttle_ok = 99},
     1,
     DOM_GOAL_SERVER},
    {"server: every free slot promised",
     {.queued = 50,
      .per_session = 1,
      .nconn_srv = 95,
      .max_srv = 100,
      .reserved_srv = 5,
      .throttle_ok = 99},
     0,
     DOM_GOAL_SERVER},
    {"domain limit reached before the server's: not a waiter",
     {.queued = 50,
      .per_session = 1,
      .nconn_dom = 2,
      .max_dom = 2,
      .nconn_srv = 10,
      .max_srv = 10,
      .throttle_ok = 99},
     0,
     DOM_GOAL_DOMAIN},
    {"binding limit",
     {.queued = 50,
      .per_session = 1,
      .max_dom = 20,
      .nconn_dom = 5,
      .nconn_bind = 1,
      .max_bind = 3,
      .throttle_ok = 99},
     2,
     DOM_GOAL_BINDING},
    {"binding limit reached, other bindings' sessions do not count",
     {.queued = 50,
      .per_session = 1,
      .max_dom = 20,
      .nconn_dom = 8,
      .nconn_bind = 1,
      .max_bind = 1,
      .throttle_ok = 99},
     0,
     DOM_GOAL_BINDING},
    {"binding limit over (reload lowered it)",
     {.queued = 50,
      .per_session = 1,
      .nconn_bind = 4,
      .max_bind = 2,
      .throttle_ok = 99},
     0,
     DOM_GOAL_BINDING},
    {"binding limit above the queue's need: not a bound",
     {.queued = 3, .per_session = 1, .max_bind = 10, .throttle_ok = 99},
     3,
     DOM_GOAL_QUEUE},
    {"binding limit 0: no limit",
     {.queued = 7,
      .per_session = 1,
      .nconn_bind = 50,
      .max_bind = 0,
      .throttle_ok = 99},
     7,
     DOM_GOAL_QUEUE},
    {"domain limit tighter than the binding's",
     {.queued = 50,
      .per_session = 1,
      .nconn_dom = 19,
      .max_dom = 20,
      .max_bind = 5,
      .throttle_ok = 99},
     1,
     DOM_GOAL_DOMAIN},
    {"binding limit reached before the server's: not a waiter",
     {.queued = 50,
      .per_session = 1,
      .nconn_bind = 2,
      .max_bind = 2,
      .nconn_srv = 10,
      .max_srv = 10,
      .throttle_ok = 99},
     0,
     DOM_GOAL_BINDING},
    {"server limit under the binding's room: a waiter",
     {.queued = 50,
      .per_session = 1,
      .max_bind = 4,
      .nconn_srv = 9,
      .max_srv = 10,
      .throttle_ok = 99},
     1,
     DOM_GOAL_SERVER},
    {"binding limit, then the connection throttle",
     {.queued = 50, .per_session = 1, .max_bind = 4, .throttle_ok = 1},
     1,
     DOM_GOAL_THROTTLE},
    {"no limits configured",
     {.queued = 7, .per_session = 1, .throttle_ok = 99},
     7,
     DOM_GOAL_QUEUE},
    {"connection throttle",
     {.queued = 9, .per_session = 1, .max_dom = 20, .throttle_ok = 1},
     1,
     DOM_GOAL_THROTTLE},
    {"connection throttle closed",
     {.queued = 9, .per_session = 1, .max_dom = 20, .throttle_ok = 0},
     0,
     DOM_GOAL_THROTTLE},
    {"suspended",
     {.queued = 9, .throttle_ok = 9, .suspended = true},
     0,
     DOM_GOAL_BLOCKED},
    {"backing off",
     {.queued = 9, .throttle_ok = 9, .backoff = true},
     0,
     DOM_GOAL_BLOCKED},
    {"no route",
     {.queued = 9, .throttle_ok = 9, .no_route = true},
     0,
     DOM_GOAL_BLOCKED},
    {"message throttle with a waiting session",
     {.queued = 9, .waiting = 1, .throttle_ok = 9, .msg_throttled = true},
     0,
     DOM_GOAL_BLOCKED},
};

static void
test_conn_goal(void **state)
{
	(void)state;
	for (size_t k = 0; k < nitems(goal_cases); k++) {
		const struct goal_case *c = &goal_cases[k];
		enum dom_goal_bound bound = DOM_GOAL__COUNT;
		unsigned got = dom_conn_goal(&c->in, &bound);

		if (got != c->want || bound != c->bound)
			fail_msg("%s: got %u (%s) want %u (%s)", c->name, got,
				 dom_goal_bound_str(bound), c->want,
				 dom_goal_bound_str(c->bound));
		assert_int_equal(dom_conn_goal(&c->in, NULL), got);
	}
	assert_string_equal(dom_goal_bound_str(DOM_GOAL_SERVER), "server");
	assert_string_equal(dom_goal_bound_str(DOM_GOAL_BINDING), "binding");
	assert_string_equal(dom_goal_bound_str(DOM_GOAL__COUNT), "?");
}

/* The server's waiters: FIFO, each domain at most once. */
static void
test_waitq(void **state)
{
	struct dom_table t;
	struct dom_waitq q;
	domain_record *a, *b, *c;

	(void)state;
	dom_table_init(&t, 1);
	dom_waitq_init(&q);
	a = dom_get(&t, "a.example");
	b = dom_get(&t, "b.example");
	c = dom_get(&t, "c.example");
	assert_null(dom_waitq_pop(&q));
	assert_true(dom_waitq_push(&q, b));
	assert_true(dom_waitq_push(&q, a));
	assert_false(dom_waitq_push(&q, b)); /* already waiting */
	assert_true(dom_waitq_push(&q, c));
	assert_int_equal(q.n, 3);
	assert_ptr_equal(dom_waitq_pop(&q), b);
	assert_false(b->srv_waiting);
	assert_true(dom_waitq_push(&q, b)); /* again, at the tail */
	assert_ptr_equal(dom_waitq_pop(&q), a);
	assert_ptr_equal(dom_waitq_pop(&q), c);
	assert_ptr_equal(dom_waitq_pop(&q), b);
	assert_null(dom_waitq_pop(&q));
	assert_int_equal(q.n, 0);
	assert_true(dom_waitq_push(&q, c)); /* the tail was reset */
	assert_ptr_equal(dom_waitq_pop(&q), c);
	/* removal from the head, the middle and the tail keeps the order */
	assert_true(dom_waitq_push(&q, a));
	assert_true(dom_waitq_push(&q, b));
	assert_true(dom_waitq_push(&q, c));
	dom_waitq_remove(&q, b);
	assert_false(b->srv_waiting);
	dom_waitq_remove(&q, b); /* not queued: no-op */
	assert_int_equal(q.n, 2);
	dom_waitq_remove(&q, c);
	assert_true(dom_waitq_push(&q, b)); /* appended after a */
	dom_waitq_remove(&q, a);
	assert_ptr_equal(q.head, b);
	assert_ptr_equal(dom_waitq_pop(&q), b);
	assert_null(dom_waitq_pop(&q));
	assert_int_equal(q.n, 0);
	assert_true(dom_waitq_push(&q, c));
	assert_ptr_equal(dom_waitq_pop(&q), c);
	dom_table_fini(&t);
}

static void
test_of_addr(void **state)
{
	(void)state;
	assert_string_equal(dom_of_addr("a@b.example"), "b.example");
	assert_string_equal(dom_of_addr("\"a@x\"@b.example"), "b.example");
	assert_null(dom_of_addr("a@"));
	assert_null(dom_of_addr("plain"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_queues_per_binding),
	    cmocka_unit_test(test_rcvd_min),
	    cmocka_unit_test(test_take_msg),
	    cmocka_unit_test(test_table_grows),
	    cmocka_unit_test(test_split),
	    cmocka_unit_test(test_mx_pick),
	    cmocka_unit_test(test_mx_set_keeps_history),
	    cmocka_unit_test(test_rate),
	    cmocka_unit_test(test_conn_goal),
	    cmocka_unit_test(test_waitq),
	    cmocka_unit_test(test_of_addr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
