/* SPDX-License-Identifier: MIT */
/*
 * test_maint_expiry: units carry their message's received time from the
 * spool record (queued or replayed, requeued by a batch), so the
 * maintainer expires them at their time without looking anything up.  On
 * the routing context of dlv_fixture.c, a suspended domain keeps its
 * units queued: the first tick arms the domain's timer for the first
 * expiry (before the 15 s scan), a tick with nothing due changes nothing
 * and leaves the record clean for the publisher, the unit expires
 * (recipient final, no longer queued) once its time has come, not
 * before, and a sweep leaves the earliest received time exact.
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
#include "delivery_int.h"
#include "dlv_fixture.h"
#include "maintainer.h"
#include "ring.h"
#include "timer.h"

#define EXP_MS 1500

/* Suspended: the units stay queued, no session, no lookup. */
static const char fx_conf[] = "[server]\nhostname = mta.test\n"
			      "[dns]\nservers = 127.0.0.1:9\n"
			      "[domain default]\nsuspended = true\n";

static int
fx_setup(void **state)
{
	return dlv_fx_setup(state, "test_maint_expiry", fx_conf);
}

static uint8_t
t_state(struct dlv_fx *f, const uint8_t id[SPOOL_ID_LEN])
{
	const struct spool_msg *m = spool_find(f->sp, id);
	struct spool_rcpt_info ri;

	if (m == NULL)
		return RECORD_RS__COUNT;
	spool_msg_rcpt(m, 0, &ri);
	return ri.state;
}

static void
test_expiry_at_its_time(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	struct spool_msg_info mi;
	struct domain_policy *pol;
	domain_record *dr;
	int64_t rcvd_ms, in_ns, end;

	/* The policy of the domain with a short lifetime (an override: the
	 * configuration's minimum is a minute). */
	dr = dom_get(&f->doms, "exp.test");
	pol = xmalloc(sizeof(*pol));
	memcpy(pol, config_domain(f->cfg, "exp.test"), sizeof(*pol));
	pol->message_expiration_ms = EXP_MS;
	dr->policy_ovr = pol;
	dlv_fx_msg1(f, "a@exp.test", id);
	spool_msg_info(spool_find(f->sp, id), &mi);
	rcvd_ms = (int64_t)(mi.received_us / 1000);
	dlv_fx_drain(f, 3); /* the poke's tick */
	assert_int_equal(dr->nactive, 1);
	assert_true(dr->rcvd_min_ms == rcvd_ms);
	/* Armed for the expiry, not for the scan. */
	assert_true(timer_armed(&dr->mt_timer));
	in_ns = dr->mt_timer.when - ring_now_update(f->r);
	assert_true(in_ns <= (int64_t)EXP_MS * 1000000);
	assert_true(in_ns < (int64_t)MAINT_SCAN_INTERVAL_MS * 1000000 / 2);
	/* A tick with nothing due changes nothing: not dirty. */
	while (dom_dirty_pop(&f->doms) != NULL)
		;
	maint_tick(dr);
	assert_null(dr->dirty_prev);
	assert_int_equal(dr->nactive, 1);
	assert_int_equal(t_state(f, id), RECORD_RS_PENDING);
	/* Its time comes: expired by the timer, no session needed. */
	end = ring_now_update(f->r) + 4000LL * 1000000;
	while (dr->nactive > 0 && ring_now_update(f->r) < end)
		assert_true(ring_run_once(f->r, 10 * 1000000) >= 0);
	assert_int_equal(dr->nactive, 0);
	assert_true(dlv_wall_ms(f->d) >= rcvd_ms + EXP_MS);
	dlv_fx_drain(f, 5);
	assert_true(t_state(f, id) == RECORD_RS_EXPIRED ||
		    t_state(f, id) == RECORD_RS__COUNT);
	assert_true(dr->rcvd_min_ms == INT64_MAX);
}

/* The policy of dr with message_expiration_ms exp (an override: the
 * configuration's minimum is a minute). */
static void
t_expiration(struct dlv_fx *f, domain_record *dr, uint64_t exp)
{
	struct domain_policy *pol = xmalloc(sizeof(*pol));

	memcpy(pol, config_domain(f->cfg, dr->name), sizeof(*pol));
	pol->message_expiration_ms = exp;
	free(dr->policy_ovr);
	dr->policy_ovr = pol;
}

static int64_t
t_rcvd_ms(struct dlv_fx *f, const uint8_t id[SPOOL_ID_LEN])
{
	struct spool_msg_info mi;

	spool_msg_info(spool_find(f->sp, id), &mi);
	return (int64_t)(mi.received_us / 1000);
}

/* Every way a unit is made carries the record's received time: queued,
 * requeued by a batch (now and later), replayed while deferred. */
static void
test_units_carry_received(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	struct dlv_batch b;
	struct dom_unit *u;
	domain_record *dr;
	int64_t rcvd_ms;

	dlv_fx_msg1(f, "a@carry.test", id);
	rcvd_ms = t_rcvd_ms(f, id);
	assert_true(rcvd_ms > 0);
	dr = dom_find(&f->doms, "carry.test");
	assert_non_null(dr);
	assert_int_equal(dr->nactive, 1);
	assert_true(dr->bind[0].active.head->received_ms == rcvd_ms);
	assert_true(dr->rcvd_min_ms == rcvd_ms);
	/* Requeued for later (a temporary failure): it keeps the time. */
	u = dom_active_pop_any(&f->doms, dr);
	assert_non_null(u);
	dlv_batch_init(&b, f->d, dr, u);
	b.later_idx[b.nlater++] = u->rcpt[0];
	b.later_due = dlv_wall_ms(f->d) + 3600 * 1000;
	dlv_batch_finish(&b);
	assert_int_equal(dr->delayed.count, 1);
	assert_true(dr->delayed.head->received_ms == rcvd_ms);
	/* Requeued for now (a new transaction): the same. */
	u = dom_delayed_pop(&f->doms, dr);
	dlv_batch_init(&b, f->d, dr, u);
	b.now_idx[b.nnow++] = u->rcpt[0];
	dlv_batch_finish(&b);
	assert_int_equal(dr->nactive, 1);
	assert_true(dr->bind[0].active.head->received_ms == rcvd_ms);
	assert_true(dr->rcvd_min_ms == rcvd_ms);
	dom_unit_free(dom_active_pop_any(&f->doms, dr));
	/* Queued again (as at start-up replay): the same. */
	dlv_fx_drain(f, 3);
	assert_int_equal(dlv_queue_msg(f->d, spool_find(f->sp, id)), 1);
	assert_int_equal(dr->nactive, 1);
	assert_true(dr->bind[0].active.head->received_ms == rcvd_ms);
}

/* A sweep expires what is due and leaves the earliest received time of
 * the units left (not the expired one's): the timer is then armed for
 * the next expiry, not for now again. */
static void
test_sweep_leaves_exact_age(void **state)
{
	DLV_FX();
	uint8_t id1[SPOOL_ID_LEN], id2[SPOOL_ID_LEN];
	domain_record *dr = dom_get(&f->doms, "sweep.test");
	struct dom_unit *old;
	int64_t now_ms, in_ns;

	t_expiration(f, dr, 60000);
	dlv_fx_msg1(f, "a@sweep.test", id1);
	dlv_fx_msg1(f, "b@sweep.test", id2);
	dlv_fx_drain(f, 3); /* the poke's tick: armed for the scan */
	assert_int_equal(dr->nactive, 2);
	/* The first one is older than its lifetime. */
	now_ms = dlv_wall_ms(f->d);
	old = dr->bind[0].active.head;
	assert_memory_equal(old->id, id1, SPOOL_ID_LEN);
	old->received_ms = now_ms - 61000;
	dom_rcvd_reset(dr, old->received_ms);
	maint_tick(dr);
	assert_int_equal(dr->nactive, 1);
	assert_memory_equal(dr->bind[0].active.head->id, id2, SPOOL_ID_LEN);
	assert_true(dr->rcvd_min_ms == t_rcvd_ms(f, id2));
	assert_true(timer_armed(&dr->mt_timer));
	in_ns = dr->mt_timer.when - ring_now_update(f->r);
	assert_true(in_ns > (int64_t)MAINT_SCAN_INTERVAL_MS * 1000000 / 2);
	dlv_fx_drain(f, 5);
	assert_true(t_state(f, id1) == RECORD_RS_EXPIRED ||
		    t_state(f, id1) == RECORD_RS__COUNT);
	assert_int_equal(t_state(f, id2), RECORD_RS_PENDING);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_expiry_at_its_time, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_units_carry_received, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_sweep_leaves_exact_age,
					    fx_setup, dlv_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
