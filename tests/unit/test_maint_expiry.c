/* SPDX-License-Identifier: MIT */
/*
 * test_maint_expiry: the maintainer expires queued units at their time,
 * not at a blanket scan.  On the routing context of dlv_fixture.c, a
 * suspended domain keeps its units queued: the first tick looks their age
 * up once (kept in the unit), arms the domain's timer for the first
 * expiry (before the 15 s scan), a tick with nothing due changes nothing
 * and leaves the record clean for the publisher, and the unit expires
 * (recipient final, no longer queued) once its time has come, not before.
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

/* Queue one message for rcpt; id = its id. */
static void
t_msg(struct dlv_fx *f, const char *rcpt, uint8_t id[SPOOL_ID_LEN])
{
	static const char body[] = "Subject: t\r\n\r\nbody\r\n";
	struct record_msg_rcpt rc = {
	    .addr = {(const uint8_t *)rcpt, strlen(rcpt)}};
	struct spool_env env = {
	    .sender = {(const uint8_t *)"s@src.test", 10},
	    .rcpt = &rc,
	    .nrcpt = 1,
	};

	dlv_fx_spool(f, &env, body, sizeof(body) - 1, id);
	assert_int_equal(dlv_queue_msg(f->d, spool_find(f->sp, id)), 1);
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
	t_msg(f, "a@exp.test", id);
	spool_msg_info(spool_find(f->sp, id), &mi);
	rcvd_ms = (int64_t)(mi.received_us / 1000);
	assert_true(dr->rcvd_unknown);
	dlv_fx_drain(f, 3); /* the poke's tick */
	/* Looked up once: kept in the unit and the record. */
	assert_int_equal(dr->nactive, 1);
	assert_false(dr->rcvd_unknown);
	assert_true(dr->rcvd_min_ms == MAX(rcvd_ms, 1));
	assert_true(dr->bind[0].active.head->received_ms == dr->rcvd_min_ms);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_expiry_at_its_time, fx_setup,
					    dlv_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
