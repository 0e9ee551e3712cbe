/* SPDX-License-Identifier: MIT */
/*
 * test_delivery_dsn: delivery_dsn.c on a real ring and spool in a
 * temporary directory (skipped, loudly, without io_uring).  Delay notices:
 * the rule table (previous and new next try around received +
 * delay_warning, NOTIFY, null sender, DSN originals, policy off or past
 * expiry), the notice's content, and exactly one notice across restarts.
 * The asynchronous read of the original: the DSN is built after the read's
 * completion, even when the message is done before it; big originals are
 * returned as headers; ENVID, ORCPT and RET reach the DSN from the
 * spooled envelope; shutdown with a read in flight, waited for or
 * cancelled, is clean.
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
#include <unistd.h>

#include "dlv_fixture.h"
#include "log.h"

#define MIN_US (60ull * 1000000)

static const char fx_conf[] = "[server]\n"
			      "hostname = mta.test\n"
			      "[dns]\n"
			      "servers = 127.0.0.1:9\n"
			      "[delivery]\n"
			      "suspended = true\n"
			      "message_expiration = 1d\n"
			      "delay_warning = 1h\n"
			      "[domain off.test]\n"
			      "delay_warning = 0\n"
			      "[domain late.test]\n"
			      "delay_warning = 2d\n";

static int
fx_setup(void **state)
{
	return dlv_fx_setup(state, "test_dlvdsn", fx_conf);
}

/* Spool a message from sender to one rcpt (NOTIFY notify) with body. */
static void
fx_msg(struct dlv_fx *f, const char *sender, const char *rcpt, uint8_t notify,
       uint32_t flags, const char *body, size_t len, uint8_t id[SPOOL_ID_LEN])
{
	struct record_msg_rcpt rc = {
	    .addr = {(const uint8_t *)rcpt, strlen(rcpt)},
	    .notify = notify,
	};
	struct spool_env env = {
	    .sender = {(const uint8_t *)sender, strlen(sender)},
	    .flags = flags,
	    .rcpt = &rc,
	    .nrcpt = 1,
	};

	dlv_fx_spool(f, &env, body, len, id);
}

static const char fx_body[] = "Subject: t\r\n\r\nbody\r\n";

static void
fx_drain(struct dlv_fx *f)
{
	dlv_fx_drain(f, 10);
	assert_int_equal(spool_drain(f->sp, 5000), 0);
}

static uint64_t
fx_received(struct dlv_fx *f, const uint8_t *id)
{
	struct spool_msg_info mi;

	spool_msg_info(spool_find(f->sp, id), &mi);
	return mi.received_us;
}

/* Record recipient 0 of id as deferred until next_us (a past deferral). */
static void
fx_mark(struct dlv_fx *f, const uint8_t *id, uint8_t state, uint64_t next_us)
{
	struct spool_state st = {
	    .state = state, .attempts = 1, .next_try_us = next_us};

	assert_true(spool_mark(f->sp, id, 0, 1, &st, NULL, NULL) >= 0);
}

/*
 * A deferral of recipient 0 of id (451 4.3.0 at RCPT) whose next try is
 * received + next_min minutes, through a unit and a batch: dlv_dsn_delay()
 * is called where dlv_batch_finish() calls it, before the marks.
 */
static void
fx_defer(struct dlv_fx *f, const uint8_t *id, const char *domain,
	 uint64_t next_min)
{
	domain_record *dr = dom_get(&f->doms, domain);
	struct dom_unit *u = dom_unit_new(id, 1);
	uint64_t next = fx_received(f, id) + next_min * MIN_US;
	struct smtpc_result r;
	struct dlv_batch b;

	memset(&r, 0, sizeof(r));
	r.status = SMTPC_R_TEMPORARY;
	r.fail = SMTPC_FAIL_REPLY;
	r.stage = SMTPC_STAGE_RCPT;
	r.code = 451;
	r.esc[0] = 4;
	r.esc[1] = 3;
	snprintf(r.text, sizeof(r.text), "try later");
	u->nrcpt = 1;
	dlv_batch_init(&b, f->d, dr, u);
	b.mx = "mx.d.test";
	dlv_batch_rcpt(&b, 0, &r, 0);
	assert_int_equal(b.nmarks, 1);
	assert_int_equal(b.marks[0].state, RECORD_RS_DEFERRED);
	b.marks[0].next_try_us = next;
	dlv_dsn_delay(&b);
	/* Written first so that a dlv_batch_finish() that calls
	 * dlv_dsn_delay() itself finds this deferral already recorded. */
	fx_mark(f, id, RECORD_RS_DEFERRED, next);
	dlv_batch_finish(&b);
}

struct fx_found {
	unsigned n;
	uint8_t id[SPOOL_ID_LEN];
};

static int
fx_find_dsn(void *arg, const struct spool_msg *m)
{
	struct fx_found *fd = arg;
	struct spool_msg_info mi;

	spool_msg_info(m, &mi);
	if ((mi.flags & RECORD_MSG_F_BOUNCE) && mi.sender.len == 0) {
		fd->n++;
		memcpy(fd->id, mi.id, SPOOL_ID_LEN);
	}
	return 0;
}

/* DSNs in the spool; the last one's body into *msg (heap) if asked. */
static unsigned
fx_dsns(struct dlv_fx *f, char **msg)
{
	struct fx_found fd = {0};
	struct spool_body sb;
	ssize_t n;

	fx_drain(f);
	assert_int_equal(spool_foreach_live(f->sp, fx_find_dsn, &fd), 0);
	if (msg == NULL || fd.n == 0)
		return fd.n;
	assert_int_equal(spool_body_loc(f->sp, fd.id, &sb), 0);
	*msg = calloc(1, sb.len + 1);
	n = pread(sb.fd, *msg, sb.len, (off_t)sb.off);
	assert_int_equal(n, (ssize_t)sb.len);
	return fd.n;
}

/* ---- delay notices ------------------------------------------------------ */

#define NONE UINT64_MAX /* never deferred before */

struct delay_case {
	const char *name, *sender, *rcpt;
	uint32_t flags;
	uint8_t notify;
	uint64_t prev_min, next_min; /* next tries, minutes after receipt */
	unsigned want;
};

static const struct delay_case delay_cases[] = {
    {"first deferral past T", "s@src.test", "a@d.test", 0, 0, NONE, 90, 1},
    {"first deferral before T", "s@src.test", "a@d.test", 0, 0, NONE, 30, 0},
    {"crossing T", "s@src.test", "a@d.test", 0, 0, 30, 90, 1},
    {"next exactly T", "s@src.test", "a@d.test", 0, 0, 30, 60, 1},
    {"previous exactly T", "s@src.test", "a@d.test", 0, 0, 60, 120, 0},
    {"already past T", "s@src.test", "a@d.test", 0, 0, 90, 180, 0},
    {"both before T", "s@src.test", "a@d.test", 0, 0, 20, 50, 0},
    {"NOTIFY=DELAY", "s@src.test", "a@d.test", 0, RECORD_NOTIFY_DELAY, 30, 90,
     1},
    {"NOTIFY=SUCCESS,DELAY", "s@src.test", "a@d.test", 0,
     RECORD_NOTIFY_SUCCESS | RECORD_NOTIFY_DELAY, NONE, 90, 1},
    {"NOTIFY=FAILURE", "s@src.test", "a@d.test", 0, RECORD_NOTIFY_FAILURE, 30,
     90, 0},
    {"NOTIFY=NEVER", "s@src.test", "a@d.test", 0, RECORD_NOTIFY_NEVER, 30, 90,
     0},
    {"null sender", "", "a@d.test", 0, 0, 30, 90, 0},
    {"a DSN", "s@src.test", "a@d.test", RECORD_MSG_F_BOUNCE, 0, 30, 90, 0},
    {"delay_warning = 0", "s@src.test", "a@off.test", 0, 0, 30, 90, 0},
    {"delay_warning past expiry", "s@src.test", "a@late.test", 0, 0, 30, 2000,
     0},
};

static void
test_delay_rule(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	unsigned before;

	for (size_t i = 0; i < nitems(delay_cases); i++) {
		const struct delay_case *c = &delay_cases[i];

		before = fx_dsns(f, NULL);
		fx_msg(f, c->sender, c->rcpt, c->notify, c->flags, fx_body,
		       sizeof(fx_body) - 1, id);
		if (c->prev_min != NONE)
			fx_mark(f, id, RECORD_RS_DEFERRED,
				fx_received(f, id) + c->prev_min * MIN_US);
		fx_defer(f, id, dom_of_addr(c->rcpt), c->next_min);
		if (fx_dsns(f, NULL) - before != c->want)
			fail_msg("case \"%s\": %u notices, want %u", c->name,
				 fx_dsns(f, NULL) - before, c->want);
	}
}

static void
test_delay_content(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	char *msg = NULL;
	static const char *const want[] = {
	    "To: <s@src.test>\r\n",
	    "Subject: Delayed Mail (still being retried)\r\n",
	    "Auto-Submitted: auto-replied\r\n",
	    "Final-Recipient: rfc822; a@d.test\r\n",
	    "Action: delayed\r\n",
	    "Status: 4.3.0\r\n",
	    "Remote-MTA: dns; mx.d.test\r\n",
	    "Diagnostic-Code: smtp; try later\r\n",
	    "Will-Retry-Until: ",
	    "Content-Type: text/rfc822-headers\r\n",
	    "Subject: t\r\n",
	};

	fx_msg(f, "s@src.test", "a@d.test", 0, 0, fx_body, sizeof(fx_body) - 1,
	       id);
	fx_defer(f, id, "d.test", 90);
	assert_int_equal(fx_dsns(f, &msg), 1);
	for (size_t i = 0; i < nitems(want); i++)
		if (strstr(msg, want[i]) == NULL)
			fail_msg("no \"%s\" in:\n%s", want[i], msg);
	assert_null(strstr(msg, "\r\nbody\r\n")); /* headers only */
	assert_int_equal(f->d->st.dsns, 1);
	free(msg);
}

/* Restart (replay) between the deferrals: still exactly one notice. */
static void
test_delay_once_across_restarts(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];

	fx_msg(f, "s@src.test", "a@d.test", 0, 0, fx_body, sizeof(fx_body) - 1,
	       id);
	fx_defer(f, id, "d.test", 30);
	assert_int_equal(fx_dsns(f, NULL), 0);
	dlv_fx_close(f);
	dlv_fx_open(f);
	fx_defer(f, id, "d.test", 90);
	assert_int_equal(fx_dsns(f, NULL), 1);
	dlv_fx_close(f);
	dlv_fx_open(f);
	fx_defer(f, id, "d.test", 180);
	fx_defer(f, id, "d.test", 400);
	assert_int_equal(fx_dsns(f, NULL), 1);
}

/* ---- the asynchronous read ---------------------------------------------- */

static int
fx_send_failure(struct dlv_fx *f, const uint8_t *id)
{
	struct dlv_dsn_rcpt rc = {
	    .addr = "a@d.test",
	    .diag = "no such user",
	    .mta = "mx.d.test",
	    .status = "5.1.1",
	    .last_attempt = 1700000000,
	};

	return dlv_dsn_send(f->d, id, &rc, 1);
}

/* Spool the standard message to a@d.test and start its failure DSN. */
static void
fx_msg_failure(struct dlv_fx *f, uint8_t id[SPOOL_ID_LEN])
{
	fx_msg(f, "s@src.test", "a@d.test", 0, 0, fx_body, sizeof(fx_body) - 1,
	       id);
	assert_int_equal(fx_send_failure(f, id), 0);
}

static void
test_failure_read_async(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN], none[SPOOL_ID_LEN] = {0};
	char *msg = NULL;

	assert_int_equal(fx_send_failure(f, none), -ENOENT);
	fx_msg_failure(f, id);
	/* The read is armed, nothing is built yet. */
	assert_non_null(f->d->dsn_jobs);
	assert_int_equal(f->d->st.dsns, 0);
	/* The message is done before the read completes: the job reads its
	 * own fd, so the DSN still returns the original. */
	fx_mark(f, id, RECORD_RS_BOUNCED, 0);
	assert_null(spool_find(f->sp, id));
	assert_int_equal(fx_dsns(f, &msg), 1);
	assert_null(f->d->dsn_jobs);
	assert_int_equal(f->d->st.dsns, 1);
	assert_non_null(strstr(msg, "Subject: Undelivered Mail Returned to "
				    "Sender\r\n"));
	assert_non_null(strstr(msg, "Content-Type: message/rfc822\r\n\r\n"
				    "Subject: t\r\n\r\nbody\r\n"));
	assert_non_null(strstr(msg, "Status: 5.1.1\r\n"));
	free(msg);
}

static void
test_failure_big_original(void **state)
{
	DLV_FX();
	size_t len = 300 * 1024;
	char *body = malloc(len), *msg = NULL;
	uint8_t id[SPOOL_ID_LEN];

	memset(body, '7', len);
	for (size_t i = 62; i < len; i += 64)
		memcpy(body + i, "\r\n", 2);
	memcpy(body, "Subject: big\r\n\r\n", 16);
	fx_msg(f, "s@src.test", "a@d.test", 0, 0, body, len, id);
	assert_int_equal(fx_send_failure(f, id), 0);
	assert_int_equal(fx_dsns(f, &msg), 1);
	assert_non_null(strstr(msg, "larger than 102400 bytes"));
	assert_non_null(strstr(msg, "Content-Type: text/rfc822-headers\r\n\r\n"
				    "Subject: big\r\n"));
	assert_null(strstr(msg, "7777777777"));
	free(msg);
	free(body);
}

static struct smtpc_result
fx_res(int code, unsigned c1, unsigned c2, unsigned c3, const char *text)
{
	struct smtpc_result r;

	memset(&r, 0, sizeof(r));
	r.status = code >= 500 ? SMTPC_R_PERMANENT : SMTPC_R_TEMPORARY;
	r.fail = SMTPC_FAIL_REPLY;
	r.stage = SMTPC_STAGE_RCPT;
	r.code = code;
	r.esc[0] = c1;
	r.esc[1] = c2;
	r.esc[2] = c3;
	snprintf(r.text, sizeof(r.text), "%s", text);
	return r;
}

static uint8_t
fx_state(struct dlv_fx *f, const uint8_t *id, uint32_t i)
{
	const struct spool_msg *m = spool_find(f->sp, id);
	struct spool_rcpt_info ri;

	if (m == NULL)
		return 0xff; /* done and gone */
	spool_msg_rcpt(m, i, &ri);
	return ri.state;
}

/*
 * A batch with one bounce (DSN) and one deferral: the DSN job takes the
 * bounce's mark and writes it only once the DSN is committed; the batch
 * keeps the deferral's.  If the read is cancelled at shutdown, the bounce
 * is never recorded, so the recipient is tried again after a restart.
 */
static void
fx_bounce_batch(struct dlv_fx *f, uint8_t id[SPOOL_ID_LEN], struct dlv_batch *b)
{
	struct smtpc_result r[2] = {
	    fx_res(550, 5, 1, 1, "no such user"),
	    fx_res(451, 4, 3, 0, "try later"),
	};
	struct record_msg_rcpt rc[2] = {
	    {.addr = {(const uint8_t *)"a@d.test", 8}},
	    {.addr = {(const uint8_t *)"b@d.test", 8}},
	};
	struct spool_env env = {
	    .sender = {(const uint8_t *)"s@src.test", 10},
	    .rcpt = rc,
	    .nrcpt = 2,
	};
	struct dom_unit *u;

	dlv_fx_spool(f, &env, fx_body, sizeof(fx_body) - 1, id);
	u = dom_unit_new(id, 2);
	u->nrcpt = 2;
	u->rcpt[1] = 1;
	dlv_batch_init(b, f->d, dom_get(&f->doms, "d.test"), u);
	dlv_batch_rcpt(b, 0, &r[0], 0);
	dlv_batch_rcpt(b, 1, &r[1], 0);
	assert_int_equal(b->nmarks, 2);
	assert_int_equal(b->ndsn, 1);
	dlv_dsn_send_batch(b);
	assert_int_equal(b->nmarks, 1);
	assert_int_equal(b->marks[0].state, RECORD_RS_DEFERRED);
	assert_int_equal(b->ndsn, 0);
	dlv_dsn_send_batch(b); /* consumed: nothing more */
	assert_non_null(f->d->dsn_jobs);
	dlv_batch_finish(b);
}

/*
 * ENVID, ORCPT and RET go from the spooled envelope into the DSN: a 550
 * through a batch for a message with ENVID=ENV-42, RET=HDRS and an ORCPT
 * gives Original-Envelope-Id, Original-Recipient and the headers only.
 */
static void
test_failure_envid_orcpt_ret(void **state)
{
	DLV_FX();
	static const char orcpt[] = "rfc822;Orig@D.test";
	static const char envid[] = "ENV-42";
	struct smtpc_result r = fx_res(550, 5, 1, 1, "no such user");
	struct record_msg_rcpt rc = {
	    .addr = {(const uint8_t *)"a@d.test", 8},
	    .orcpt = {(const uint8_t *)orcpt, sizeof(orcpt) - 1},
	};
	struct spool_env env = {
	    .sender = {(const uint8_t *)"s@src.test", 10},
	    .envid = {(const uint8_t *)envid, sizeof(envid) - 1},
	    .ret = RECORD_RET_HDRS,
	    .rcpt = &rc,
	    .nrcpt = 1,
	};
	uint8_t id[SPOOL_ID_LEN];
	struct dom_unit *u;
	struct dlv_batch b;
	char *msg = NULL;

	dlv_fx_spool(f, &env, fx_body, sizeof(fx_body) - 1, id);
	u = dom_unit_new(id, 1);
	u->nrcpt = 1;
	dlv_batch_init(&b, f->d, dom_get(&f->doms, "d.test"), u);
	dlv_batch_rcpt(&b, 0, &r, 0);
	assert_int_equal(b.ndsn, 1);
	dlv_dsn_send_batch(&b);
	dlv_batch_finish(&b);
	assert_int_equal(fx_dsns(f, &msg), 1);
	assert_non_null(strstr(msg, "Original-Envelope-Id: ENV-42\r\n"));
	assert_non_null(strstr(msg, "Original-Recipient: rfc822;"));
	assert_non_null(strstr(msg, "Orig@D.test\r\n"));
	assert_non_null(strstr(msg, "Final-Recipient: rfc822; a@d.test\r\n"));
	assert_non_null(strstr(msg, "Content-Type: text/rfc822-headers\r\n"));
	assert_non_null(strstr(msg, "Subject: t\r\n"));
	assert_null(strstr(msg, "\r\nbody\r\n")); /* RET=HDRS: no body */
	assert_null(strstr(msg, "message/rfc822"));
	free(msg);
}

static void
test_failure_marks_after_dsn(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	struct dlv_batch b;
	char *msg = NULL;

	fx_bounce_batch(f, id, &b);
	/* The DSN is not committed yet: the bounce is not recorded. */
	assert_int_equal(fx_state(f, id, 0), RECORD_RS_PENDING);
	assert_int_equal(fx_state(f, id, 1), RECORD_RS_DEFERRED);
	assert_int_equal(fx_dsns(f, &msg), 1);
	assert_int_equal(fx_state(f, id, 0), RECORD_RS_BOUNCED);
	assert_non_null(strstr(msg, "Final-Recipient: rfc822; a@d.test\r\n"));
	assert_null(strstr(msg, "b@d.test"));
	free(msg);
}

static void
test_failure_marks_kept_on_cancel(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];
	struct dlv_batch b;

	fx_bounce_batch(f, id, &b);
	dlv_dsn_abort_wait(f->d, 0);
	dlv_fx_close(f);
	dlv_fx_open(f);
	assert_int_equal(fx_state(f, id, 0), RECORD_RS_PENDING);
	assert_int_equal(fx_state(f, id, 1), RECORD_RS_DEFERRED);
	assert_int_equal(fx_dsns(f, NULL), 0);
}

/* Shutdown while the read is in flight: it is waited for, the DSN kept. */
static void
test_shutdown_waits_for_read(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];

	fx_msg_failure(f, id);
	dlv_fx_close(f);
	dlv_fx_open(f);
	assert_int_equal(fx_dsns(f, NULL), 1);
}

/* Shutdown that cannot wait: the read is cancelled and the job detached;
 * its completion, after the dlv is gone, frees it (ASan: no leak, no use
 * after free). */
static void
test_shutdown_cancels_read(void **state)
{
	DLV_FX();
	uint8_t id[SPOOL_ID_LEN];

	fx_msg_failure(f, id);
	assert_non_null(f->d->dsn_jobs);
	dlv_dsn_abort_wait(f->d, 0);
	assert_null(f->d->dsn_jobs);
	dlv_fx_close(f);
	/* The completion arrives after the dlv is freed. */
	for (int i = 0; i < 100 && ring_inflight(f->r) > 0; i++)
		ring_run_once(f->r, 10000000);
	assert_int_equal(ring_inflight(f->r), 0);
	dlv_fx_open(f);
	assert_int_equal(fx_dsns(f, NULL), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_delay_rule, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_delay_content, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_delay_once_across_restarts,
					    fx_setup, dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_failure_read_async, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_failure_envid_orcpt_ret,
					    fx_setup, dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_failure_big_original, fx_setup,
					    dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_failure_marks_after_dsn,
					    fx_setup, dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_failure_marks_kept_on_cancel,
					    fx_setup, dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_shutdown_waits_for_read,
					    fx_setup, dlv_fx_teardown),
	    cmocka_unit_test_setup_teardown(test_shutdown_cancels_read,
					    fx_setup, dlv_fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
