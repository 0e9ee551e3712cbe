/* SPDX-License-Identifier: MIT */
/*
 * test_delivery: the glue between results and the spool, on a real ring
 * and spool in a temporary directory (skipped, loudly, without io_uring).
 * Delivery is suspended in the configuration so no session is ever opened:
 * the tests drive the batch code with synthetic results and check spool
 * marks, requeues (now / delayed with attempts), DSNs injected through the
 * spool (and not for the null sender, not for a DSN), domain purges and
 * deferrals with backoff, expiry, binding choice and the delivery log.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlv_fixture.h"
#include "log.h"

static const char fx_conf[] = "[server]\n"
			      "hostname = mta.test\n"
			      "[dns]\n"
			      "servers = 127.0.0.1:9\n"
			      "[delivery]\n"
			      "suspended = true\n"
			      "retry_interval = 10m\n"
			      "[binding b2]\n"
			      "address = 127.0.0.2\n";

static int
fx_setup(void **state)
{
	return dlv_fx_setup(state, "test_delivery", fx_conf);
}

/* Spool a message from sender to rcpts (comma list), binding b; queue it
 * with dlv_queue_msg; copy its id into id. */
static void
fx_msg(struct dlv_fx *f, const char *sender, const char *rcpts, const char *b,
       uint32_t flags, uint8_t id[SPOOL_ID_LEN])
{
	struct record_msg_rcpt rc[8];
	char buf[512], *save = NULL, *p;
	uint32_t n = 0;
	static const char body[] = "Subject: t\r\n\r\nbody\r\n";
	struct spool_env env = {
	    .sender = {(const uint8_t *)sender, strlen(sender)},
	    .binding = {(const uint8_t *)b, b ? strlen(b) : 0},
	    .flags = flags,
	    .rcpt = rc,
	};

	snprintf(buf, sizeof(buf), "%s", rcpts);
	memset(rc, 0, sizeof(rc));
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		rc[n].addr.p = (const uint8_t *)p;
		rc[n++].addr.len = strlen(p);
	}
	env.nrcpt = n;
	dlv_fx_spool(f, &env, body, sizeof(body) - 1, id);
	dlv_queue_msg(f->d, spool_find(f->sp, id));
}

static void
fx_drain(struct dlv_fx *f)
{
	dlv_fx_drain(f, 5);
}

static uint8_t
fx_state(struct dlv_fx *f, const uint8_t *id, uint32_t i, uint32_t *attempts)
{
	const struct spool_msg *m = spool_find(f->sp, id);
	struct spool_rcpt_info ri;

	if (m == NULL)
		return 0xff; /* message done and gone */
	spool_msg_rcpt(m, i, &ri);
	if (attempts)
		*attempts = ri.attempts;
	return ri.state;
}

static struct smtpc_result
res(enum smtpc_status st, enum smtpc_stage stage, int code, unsigned c1,
    unsigned c2, unsigned c3, const char *text)
{
	struct smtpc_result r;

	memset(&r, 0, sizeof(r));
	r.status = st;
	r.fail = st == SMTPC_R_DELIVERED ? SMTPC_FAIL_NONE : SMTPC_FAIL_REPLY;
	r.stage = stage;
	r.code = code;
	r.esc[0] = c1;
	r.esc[1] = c2;
	r.esc[2] = c3;
	snprintf(r.text, sizeof(r.text), "%s", text);
	return r;
}

/* DSNs (sender <>, RECORD_MSG_F_BOUNCE) queued for rcpt's domain. */
static unsigned
fx_dsns_to(struct dlv_fx *f, const char *rcpt)
{
	domain_record *dr = dom_find(&f->doms, dom_of_addr(rcpt));
	unsigned n = 0;

	if (dr == NULL)
		return 0;
	for (unsigned b = 0; b < dr->nbind; b++) {
		for (struct dom_unit *u = dr->bind[b].active.head; u;
		     u = u->next) {
			struct spool_msg_info mi;

			spool_msg_info(spool_find(f->sp, u->id), &mi);
			if ((mi.flags & RECORD_MSG_F_BOUNCE) &&
			    mi.sender.len == 0)
				n++;
		}
	}
	return n;
}

static void
test_queue_binding_and_split(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	domain_record *a, *b;
	int slot = bnd_find(&f->bnds, "b2");

	fx_msg(f, "s@src.test", "x@a.test,y@B.test,z@a.test", "b2", 0, id);
	a = dom_find(&f->doms, "a.test");
	b = dom_find(&f->doms, "b.test");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->bind[slot].active.count, 1);
	assert_int_equal(a->bind[slot].active.head->nrcpt, 2);
	assert_int_equal(b->bind[slot].active.count, 1);
	assert_ptr_equal(a->ctx, f->d);
	/* No binding given: default. */
	fx_msg(f, "s@src.test", "w@a.test", NULL, 0, id);
	assert_int_equal(a->bind[bnd_find(&f->bnds, "default")].active.count,
			 1);
	assert_int_equal(a->nactive, 2);
}

/* Take the one unit of dr and apply results[] to it. */
static void
fx_apply(struct dlv_fx *f, domain_record *dr, const struct smtpc_result *r,
	 unsigned n, unsigned accepted)
{
	struct dom_unit *u = dom_active_pop_any(&f->doms, dr);
	struct dlv_batch b;

	assert_non_null(u);
	assert_int_equal(u->nrcpt, n);
	dlv_batch_init(&b, f->d, dr, u);
	for (unsigned i = 0; i < n; i++)
		dlv_batch_rcpt(&b, i, &r[i], accepted);
	dlv_batch_finish(&b);
}

static void
test_results_marks_requeue_dsn(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	domain_record *dr;
	uint32_t att = 0;
	struct smtpc_result r[4] = {
	    res(SMTPC_R_DELIVERED, SMTPC_STAGE_DOT, 250, 2, 0, 0, "ok"),
	    res(SMTPC_R_TEMPORARY, SMTPC_STAGE_RCPT, 451, 4, 3, 0, "later"),
	    res(SMTPC_R_PERMANENT, SMTPC_STAGE_RCPT, 550, 5, 1, 1, "no such"),
	    res(SMTPC_R_TEMPORARY, SMTPC_STAGE_RCPT, 452, 4, 5, 3,
		"too many recipients"),
	};

	fx_msg(f, "s@src.test", "a@d.test,b@d.test,c@d.test,e@d.test", NULL, 0,
	       id);
	dr = dom_find(&f->doms, "d.test");
	fx_apply(f, dr, r, 4, 2);
	fx_drain(f); /* bounce marks follow their DSN's commit */
	assert_int_equal(fx_state(f, id, 0, &att), RECORD_RS_DELIVERED);
	assert_int_equal(att, 1);
	assert_int_equal(fx_state(f, id, 1, &att), RECORD_RS_DEFERRED);
	assert_int_equal(att, 1);
	assert_int_equal(fx_state(f, id, 2, NULL), RECORD_RS_BOUNCED);
	/* 452 after accepted recipients: a new transaction now, no mark. */
	assert_int_equal(fx_state(f, id, 3, &att), RECORD_RS_PENDING);
	assert_int_equal(att, 0);
	assert_int_equal(dr->nactive, 1);
	assert_int_equal(
	    dr->bind[bnd_find(&f->bnds, "default")].active.head->rcpt[0], 3);
	assert_int_equal(dr->delayed.count, 1);
	assert_int_equal(dr->delayed.head->rcpt[0], 1);
	assert_true(dr->delayed.head->due_ms > dlv_wall_ms(f->d) + 8 * 60000);
	assert_int_equal(dr->deliveries, 1);
	assert_int_equal(dr->failures, 1);
	assert_int_equal(dr->transients, 1);
	/* The DSN is spooled and queued for the sender's domain. */
	fx_drain(f);
	assert_int_equal(fx_dsns_to(f, "s@src.test"), 1);
	assert_int_equal(f->d->st.dsns, 1);
}

static void
test_no_dsn_for_null_sender_or_dsn(void **state)
{
	DLV_FX();
	uint8_t id1[SPOOL_ID_LEN], id2[SPOOL_ID_LEN];
	struct smtpc_result r =
	    res(SMTPC_R_PERMANENT, SMTPC_STAGE_RCPT, 550, 5, 1, 1, "no");

	fx_msg(f, "", "a@n.test", NULL, 0, id1);
	fx_apply(f, dom_find(&f->doms, "n.test"), &r, 1, 0);
	fx_msg(f, "x@src.test", "b@n.test", NULL, RECORD_MSG_F_BOUNCE, id2);
	fx_apply(f, dom_find(&f->doms, "n.test"), &r, 1, 0);
	fx_drain(f);
	assert_int_equal(f->d->st.dsns, 0);
	assert_int_equal(f->d->st.bounced, 2);
	assert_int_equal(fx_dsns_to(f, "x@src.test"), 0);
	/* Every recipient final: the messages left the spool. */
	assert_null(spool_find(f->sp, id1));
	assert_null(spool_find(f->sp, id2));
}

static void
test_domain_purge_and_defer(void **state)
{
	DLV_FX();
	uint8_t id1[SPOOL_ID_LEN], id2[SPOOL_ID_LEN], id3[SPOOL_ID_LEN];
	domain_record *dr;
	struct outcome o;
	uint32_t att = 0;

	fx_msg(f, "s@src.test", "a@p.test,b@p.test", NULL, 0, id1);
	fx_msg(f, "s@src.test", "c@p.test", "b2", 0, id2);
	dr = dom_find(&f->doms, "p.test");
	outcome_classify_dns(DNS_NXDOMAIN, &o);
	assert_int_equal(o.action, OUTCOME_PURGE_DOMAIN);
	dlv_domain_fail(f->d, dr, &o, 0, "DNS: nxdomain");
	assert_int_equal(dr->nactive, 0);
	fx_drain(f);
	assert_null(spool_find(f->sp, id1));
	assert_null(spool_find(f->sp, id2));
	fx_drain(f);
	assert_int_equal(fx_dsns_to(f, "s@src.test"), 2); /* one per message */
	/* A temporary failure defers with an attempt and backs off. */
	fx_msg(f, "s@src.test", "d@q.test", NULL, 0, id3);
	dr = dom_find(&f->doms, "q.test");
	outcome_classify_dns(DNS_TEMPFAIL, &o);
	dlv_domain_fail(f->d, dr, &o, 0, "DNS: servfail");
	assert_int_equal(fx_state(f, id3, 0, &att), RECORD_RS_DEFERRED);
	assert_int_equal(att, 1);
	assert_int_equal(dr->nactive, 0);
	assert_int_equal(dr->delayed.count, 1);
	assert_int_equal(dr->defer_failures, 1);
	assert_true(dr->backoff_until_ms > dlv_wall_ms(f->d));
}

static void
test_expire_and_requeue1(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	domain_record *dr;
	struct dom_unit *u;

	fx_msg(f, "s@src.test", "a@e.test,b@e.test", NULL, 0, id);
	dr = dom_find(&f->doms, "e.test");
	dlv_requeue1(f->d, dr, bnd_find(&f->bnds, "default"), "test");
	assert_int_equal(dr->nactive, 0);
	assert_int_equal(dr->delayed.count, 1);
	assert_int_equal(fx_state(f, id, 0, NULL), RECORD_RS_PENDING);
	u = dom_delayed_pop(&f->doms, dr);
	dlv_unit_expire(f->d, dr, u, NULL);
	fx_drain(f);
	assert_null(spool_find(f->sp, id));
	assert_int_equal(f->d->st.expired, 2);
	fx_drain(f);
	assert_int_equal(fx_dsns_to(f, "s@src.test"), 1);
}

static void
test_replay_keeps_retry_time(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	domain_record *dr;
	struct smtpc_result r =
	    res(SMTPC_R_TEMPORARY, SMTPC_STAGE_RCPT, 451, 4, 3, 0, "later");
	struct dom_unit *u;
	int64_t due;

	fx_msg(f, "s@src.test", "a@r.test", NULL, 0, id);
	dr = dom_find(&f->doms, "r.test");
	fx_apply(f, dr, &r, 1, 0);
	assert_int_equal(dr->delayed.count, 1);
	due = dr->delayed.head->due_ms;
	u = dom_delayed_pop(&f->doms, dr);
	dom_unit_free(u);
	/* As at start-up: the deferred recipient waits for its time. */
	assert_int_equal(dlv_queue_msg(f->d, spool_find(f->sp, id)), 1);
	assert_int_equal(dr->nactive, 0);
	assert_int_equal(dr->delayed.count, 1);
	assert_true(dr->delayed.head->due_ms >= due - 1 &&
		    dr->delayed.head->due_ms <= due + 1);
	assert_int_equal(dr->delayed.head->attempts, 1);
}

static void
test_delivery_log(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	struct smtpc_result r =
	    res(SMTPC_R_DELIVERED, SMTPC_STAGE_DOT, 250, 2, 0, 0, "queued");
	char line[4096];
	FILE *fp;
	bool found = false;

	fx_msg(f, "s@src.test", "who@l.test", "b2", 0, id);
	fx_apply(f, dom_find(&f->doms, "l.test"), &r, 1, 1);
	dlogw_close(f->dl);
	f->dl = NULL;
	assert_int_equal(dlogw_open(f->r, f->logp, &f->dl), 0);
	f->d->dl = f->dl;
	fp = fopen(f->logp, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp))
		if (strstr(line, "\"event\":\"delivered\"") &&
		    strstr(line, "\"rcpt\":\"who@l.test\"") &&
		    strstr(line, "\"domain\":\"l.test\"") &&
		    strstr(line, "\"binding\":\"b2\"") &&
		    strstr(line, "\"code\":250") &&
		    strstr(line, "\"enhanced\":\"2.0.0\"") &&
		    strstr(line, "\"attempt\":1"))
			found = true;
	fclose(fp);
	assert_true(found);
}

/* The list maint_reclaim_run walks holds exactly the sessions that are
 * idle, have nothing in flight, are not reclaimed and not unlinked. */
static bool
on_reclaim_list(const struct dlv *d, const struct conn *c)
{
	for (const struct conn *x = d->reclaimable; x; x = x->rnext)
		if (x == c)
			return true;
	return false;
}

static void
test_reclaim_list(void **state)
{
	static const struct {
		bool idle, reclaimed, unlinked;
		unsigned msgs;
		bool listed;
	} steps[] = {
	    {false, false, false, 0, false}, {true, false, false, 0, true},
	    {true, false, false, 1, false},  {true, false, false, 0, true},
	    {false, false, false, 0, false}, {true, false, false, 0, true},
	    {true, true, false, 0, false},   {true, false, false, 0, true},
	    {true, false, true, 0, false},   {true, false, false, 0, true},
	};
	struct dlv d = {0};
	struct conn c[3] = {{0}};

	(void)state;
	for (size_t i = 0; i < nitems(steps); i++) {
		/* c[1] moves through the steps between two listed sessions */
		c[0].idle = c[2].idle = true;
		dlv_reclaim_sync(&d, &c[0]);
		dlv_reclaim_sync(&d, &c[2]);
		c[1].idle = steps[i].idle;
		c[1].reclaimed = steps[i].reclaimed;
		c[1].unlinked = steps[i].unlinked;
		c[1].msgs = steps[i].msgs;
		dlv_reclaim_sync(&d, &c[1]);
		dlv_reclaim_sync(&d, &c[1]); /* idempotent */
		assert_int_equal(on_reclaim_list(&d, &c[1]), steps[i].listed);
		assert_true(on_reclaim_list(&d, &c[0]));
		assert_true(on_reclaim_list(&d, &c[2]));
	}
	for (int k = 0; k < 3; k++) {
		c[k].unlinked = true;
		dlv_reclaim_sync(&d, &c[k]);
	}
	assert_null(d.reclaimable);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_queue_binding_and_split,
					    fx_setup, dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_results_marks_requeue_dsn,
					    fx_setup, dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_no_dsn_for_null_sender_or_dsn,
					    fx_setup, dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_domain_purge_and_defer,
					    fx_setup, dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_expire_and_requeue1, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_replay_keeps_retry_time,
					    fx_setup, dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_delivery_log, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test(test_reclaim_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
