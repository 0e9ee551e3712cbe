/* SPDX-License-Identifier: MIT */
/*
 * test_control_queue: ringctl's retry and delete edit the domain queues
 * through domain.c's queue functions, so the record is marked dirty for
 * the publisher and its earliest received time (the maintainer's expiry
 * timer) stays exact, without store/rstate.c marking every record after
 * the request.  On the routing context of dlv_fixture.c with a control
 * context attached to an rstate whose Redis is never reachable (the
 * replies are dropped; the queues are what is checked), a suspended
 * domain keeps its units queued.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compat.h"
#include "control.h"
#include "dlv_fixture.h"
#include "redis.h"
#include "rstate.h"

/* Suspended: the units stay queued, no session, no lookup. */
static const char fx_conf[] = "[server]\nhostname = mta.test\n"
			      "[dns]\nservers = 127.0.0.1:9\n"
			      "[domain default]\nsuspended = true\n";

struct cq {
	struct dlv_fx *f;
	struct rds *rds;
	struct rstate *rs;
	struct ctl *c;
};

static int
cq_setup(void **state)
{
	struct cq *q;
	int err = 0;

	dlv_fx_setup(state, "test_control_queue", fx_conf);
	if (*state == NULL)
		return 0;
	q = xcalloc(1, sizeof(*q));
	q->f = *state;
	q->rds =
	    rds_new(q->f->r,
		    &(struct rds_opts){.target = "/nonexistent.ringmta/r.sock",
				       .key_prefix = "t"},
		    &err);
	assert_non_null(q->rds);
	assert_int_equal(rstate_new(&(struct rstate_opts){.rds = q->rds,
							  .doms = &q->f->doms,
							  .bnds = &q->f->bnds,
							  .node_id = "n1"},
				    &q->rs),
			 0);
	q->c =
	    ctl_new(&(struct ctl_opts){.cfg = q->f->cfg, .doms = &q->f->doms});
	ctl_attach(q->c, q->rs, q->f->d);
	*state = q;
	return 0;
}

static int
cq_teardown(void **state)
{
	struct cq *q = *state;

	if (q == NULL)
		return 0;
	rstate_stop(q->rs);
	rds_free(q->rds, 0);
	rstate_free(q->rs);
	ctl_free(q->c);
	*state = q->f;
	free(q);
	return dlv_fx_teardown(state);
}

#define CQ()                                                                   \
	struct cq *q = *state;                                                 \
	struct dlv_fx *f;                                                      \
	if (q == NULL) {                                                       \
		skip();                                                        \
		return;                                                        \
	}                                                                      \
	f = q->f

/* Run request op on message id, with an empty dirty list before. */
static void
t_request(struct cq *q, enum rstate_ctl op, const uint8_t id[SPOOL_ID_LEN])
{
	struct rstate_ctl_msg m = {.op = op};

	memset(m.reqid, '0', RSTATE_REQID_LEN);
	spool_id_str(id, m.arg);
	while (dom_dirty_pop(&q->f->doms) != NULL)
		;
	ctl_on_request(&m, q->c);
}

/* retry of a message whose unit is active behind a back-off: nothing
 * moves, the back-off is lifted and the record is dirty. */
static void
test_retry_unblocks_dirty(void **state)
{
	CQ();
	uint8_t id[SPOOL_ID_LEN];
	domain_record *dr;

	dlv_fx_msg1(f, "a@r.test", id);
	dr = dom_find(&f->doms, "r.test");
	dr->backoff_until_ms = dlv_wall_ms(f->d) + 3600 * 1000;
	dr->defer_failures = 3;
	t_request(q, RSTATE_CTL_RETRY, id);
	assert_int_equal(dr->nactive, 1);
	assert_int_equal(dr->delayed.count, 0);
	assert_true(dr->backoff_until_ms == 0);
	assert_int_equal(dr->defer_failures, 0);
	assert_non_null(dr->dirty_prev);
}

/* retry of a delayed unit: active now, with its age, dirty. */
static void
test_retry_delayed(void **state)
{
	CQ();
	uint8_t id[SPOOL_ID_LEN];
	struct dom_unit *u;
	domain_record *dr;
	int64_t rcvd;

	dlv_fx_msg1(f, "a@d.test", id);
	dr = dom_find(&f->doms, "d.test");
	u = dom_active_pop_any(&f->doms, dr);
	rcvd = u->received_ms;
	u->due_ms = dlv_wall_ms(f->d) + 3600 * 1000;
	dom_delayed_push(&f->doms, dr, u);
	assert_true(dr->rcvd_min_ms == INT64_MAX);
	t_request(q, RSTATE_CTL_RETRY, id);
	assert_int_equal(dr->nactive, 1);
	assert_int_equal(dr->delayed.count, 0);
	assert_int_equal(f->doms.units, 1);
	assert_true(dr->bind[0].active.head->due_ms == 0);
	assert_true(dr->rcvd_min_ms == rcvd);
	assert_non_null(dr->dirty_prev);
}

/* delete: the units leave the queues through domain.c (counters, the
 * earliest received time of the units left, dirty). */
static void
test_delete(void **state)
{
	CQ();
	uint8_t id1[SPOOL_ID_LEN], id2[SPOOL_ID_LEN];
	domain_record *dr;
	struct dom_unit *old;
	int64_t rcvd2;

	dlv_fx_msg1(f, "a@x.test", id1);
	dlv_fx_msg1(f, "b@x.test", id2);
	dr = dom_find(&f->doms, "x.test");
	assert_int_equal(dr->nactive, 2);
	old = dr->bind[0].active.head;
	assert_memory_equal(old->id, id1, SPOOL_ID_LEN);
	rcvd2 = old->next->received_ms;
	old->received_ms = rcvd2 - 5000; /* the older one */
	dom_rcvd_reset(dr, old->received_ms);
	t_request(q, RSTATE_CTL_DELETE, id1);
	assert_int_equal(dr->nactive, 1);
	assert_int_equal(dr->bind[0].active.count, 1);
	assert_int_equal(f->doms.units, 1);
	assert_true(dr->rcvd_min_ms == rcvd2); /* not the deleted one's */
	assert_non_null(dr->dirty_prev);
	dlv_fx_drain(f, 5);
	assert_null(spool_find(f->sp, id1));
	/* The last one: no age left, nothing queued. */
	t_request(q, RSTATE_CTL_DELETE, id2);
	assert_int_equal(dr->nactive, 0);
	assert_int_equal(f->doms.units, 0);
	assert_null(dr->bind[0].active.head);
	assert_true(dr->rcvd_min_ms == INT64_MAX);
	assert_non_null(dr->dirty_prev);
	dlv_fx_drain(f, 5);
	assert_null(spool_find(f->sp, id2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_retry_unblocks_dirty, cq_setup,
					    cq_teardown),
	    cmocka_unit_test_setup_teardown(test_retry_delayed, cq_setup,
					    cq_teardown),
	    cmocka_unit_test_setup_teardown(test_delete, cq_setup, cq_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
