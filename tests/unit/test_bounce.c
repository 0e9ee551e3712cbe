/* SPDX-License-Identifier: MIT */
/*
 * test_bounce: DSN generation.  Every DSN built here is also parsed by
 * Python's email package (policy.default) through popen()
 * (bounce_fixture.h): it must be a multipart/report with the expected parts
 * and per-recipient fields, with every line CRLF-terminated and at most 998
 * bytes.  Tables cover the four kinds with one and several recipients,
 * ORCPT/ENVID present and absent, the status rules, NOTIFY rules, the null
 * sender and DSNs of DSNs.  The original message and hostile input:
 * test_bounce_content.c.
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
#include <sys/wait.h>
#include <unistd.h>

#include "bounce.h"
#include "bounce_fixture.h"

/* ---- the kind table ------------------------------------------------------ */

struct kind_case {
	const char *name;
	enum bounce_kind kind;
	enum bounce_action action;
	enum bounce_ret ret;
	size_t nrcpt;
	bool orcpt, envid;
	const char *subject, *parts, *status, *text_has;
	unsigned flags; /* expected out flags */
};

static const struct kind_case kind_cases[] = {
    {"failed 1 orcpt envid", BOUNCE_FAILED, BOUNCE_ACTION_FAILED,
     BOUNCE_RET_NONE, 1, true, true, "Undelivered Mail Returned to Sender",
     "text/plain,message/delivery-status,message/rfc822", "5.1.1",
     "could not be delivered", 0},
    {"failed 3 full", BOUNCE_FAILED, BOUNCE_ACTION_FAILED, BOUNCE_RET_FULL, 3,
     false, false, "Undelivered Mail Returned to Sender",
     "text/plain,message/delivery-status,message/rfc822", "5.1.1",
     "A copy of your message is attached.", 0},
    {"failed 2 hdrs", BOUNCE_FAILED, BOUNCE_ACTION_FAILED, BOUNCE_RET_HDRS, 2,
     true, false, "Undelivered Mail Returned to Sender",
     "text/plain,message/delivery-status,text/rfc822-headers", "5.1.1",
     "The header section of your message is attached.", BOUNCE_OUT_HDRS_ONLY},
    {"delayed 1", BOUNCE_DELAYED, BOUNCE_ACTION_DELAYED, BOUNCE_RET_FULL, 1,
     false, true, "Delayed Mail (still being retried)",
     "text/plain,message/delivery-status,text/rfc822-headers", "4.1.1",
     "will keep trying", BOUNCE_OUT_HDRS_ONLY},
    {"delayed 4", BOUNCE_DELAYED, BOUNCE_ACTION_DELAYED, BOUNCE_RET_NONE, 4,
     true, true, "Delayed Mail (still being retried)",
     "text/plain,message/delivery-status,text/rfc822-headers", "4.1.1",
     "Trying until: Wed, 15 Nov 2023", BOUNCE_OUT_HDRS_ONLY},
    {"relayed 1", BOUNCE_RELAYED, BOUNCE_ACTION_RELAYED, BOUNCE_RET_FULL, 1,
     true, true, "Successful Mail Delivery Report",
     "text/plain,message/delivery-status,text/rfc822-headers", "2.1.1",
     "not offer delivery notifications", BOUNCE_OUT_HDRS_ONLY},
    {"delivered 2", BOUNCE_DELIVERED, BOUNCE_ACTION_DELIVERED, BOUNCE_RET_NONE,
     2, false, false, "Successful Mail Delivery Report",
     "text/plain,message/delivery-status,text/rfc822-headers", "2.1.1",
     "was delivered to", BOUNCE_OUT_HDRS_ONLY},
};

static void
test_kind_one(const struct kind_case *c)
{
	struct bounce_rcpt r[4];
	struct bounce_in in;
	struct bounce_out out;
	struct bfx_py_out *py;
	char addr[4][48], orcpt[4][64], key[64], want[96];

	for (size_t i = 0; i < c->nrcpt; i++) {
		snprintf(addr[i], sizeof(addr[i]), "rcpt%zu@b.example", i);
		snprintf(orcpt[i], sizeof(orcpt[i]), "rfc822;Rcpt%zu@B.example",
			 i);
		r[i] = (struct bounce_rcpt){
		    .addr = addr[i],
		    .orcpt = c->orcpt ? orcpt[i] : NULL,
		    .action = c->action,
		    .status = "5.1.1",
		    .remote_mta = "mx.b.example",
		    .diag = "550 5.1.1 user unknown",
		    .diag_len = 22,
		    .last_attempt = BFX_NOW - 10,
		    .retry_until = BFX_NOW + 86400,
		};
	}
	bfx_in_init(&in, r, c->nrcpt);
	in.kind = c->kind;
	in.ret = c->ret;
	in.envid = c->envid ? "ENV-42" : NULL;
	in.arrival = BFX_ARRIVAL;
	in.queue_id = "Q123";
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_int_equal(out.flags, c->flags);
	assert_string_equal(out.env_sender, "");
	assert_string_equal(out.env_rcpt, "alice@a.example");
	py = bfx_py_check(&out);
	bfx_py_eq(py, "to", "alice@a.example");
	bfx_py_eq(py, "from",
		  "Mail Delivery System <MAILER-DAEMON@mta.example>");
	bfx_py_eq(py, "subject", c->subject);
	bfx_py_eq(py, "parts", c->parts);
	assert_non_null(strstr(bfx_py_get(py, "text"), c->text_has));
	snprintf(want, sizeof(want), "%zu", c->nrcpt + 1);
	bfx_py_eq(py, "nblocks", want);
	bfx_py_eq(py, "msg.Reporting-MTA", "dns; mta.example");
	bfx_py_eq(py, "msg.Original-Envelope-Id", c->envid ? "ENV-42" : NULL);
	bfx_py_eq(py, "msg.Arrival-Date", "Tue, 14 Nov 2023 19:26:40 +0000");
	bfx_py_eq(py, "msg.X-Ringmta-Queue-ID", "Q123");
	for (size_t i = 0; i < c->nrcpt; i++) {
		bool delayed = c->action == BOUNCE_ACTION_DELAYED;

#define RKEY(f) (snprintf(key, sizeof(key), "rcpt%zu." f, i), key)
		snprintf(want, sizeof(want), "rfc822; rcpt%zu@b.example", i);
		bfx_py_eq(py, RKEY("Final-Recipient"), want);
		snprintf(want, sizeof(want), "rfc822; Rcpt%zu@B.example", i);
		bfx_py_eq(py, RKEY("Original-Recipient"),
			  c->orcpt ? want : NULL);
		bfx_py_eq(py, RKEY("Action"), bounce_action_str(c->action));
		bfx_py_eq(py, RKEY("Status"), c->status);
		bfx_py_eq(py, RKEY("Remote-MTA"), "dns; mx.b.example");
		bfx_py_eq(py, RKEY("Diagnostic-Code"),
			  "smtp; 550 5.1.1 user unknown");
		bfx_py_eq(py, RKEY("Last-Attempt-Date"),
			  "Tue, 14 Nov 2023 22:14:50 +0000");
		bfx_py_eq(py, RKEY("Will-Retry-Until"),
			  delayed ? "Wed, 15 Nov 2023 22:15:00 +0000" : NULL);
		snprintf(want, sizeof(want), "%d",
			 (c->orcpt ? 7 : 6) + (delayed ? 1 : 0));
		bfx_py_eq(py, RKEY("n"), want);
#undef RKEY
	}
	if (strstr(c->parts, "message/rfc822")) {
		bfx_py_eq(py, "orig.subject", "lunch");
		bfx_py_eq(py, "orig.body", "See you at noon.\r\\n");
	} else {
		const char *t = bfx_py_get(py, "orig.text");

		assert_non_null(strstr(t, "Subject: lunch"));
		assert_null(strstr(t, "noon"));
	}
	free(py);
	bounce_out_fini(&out);
}

static void
test_kinds(void **state)
{
	(void)state;
	for (size_t i = 0; i < nitems(kind_cases); i++) {
		print_message("case %s\n", kind_cases[i].name);
		test_kind_one(&kind_cases[i]);
	}
}

/* ---- small rules ------------------------------------------------------- */

struct status_case {
	enum bounce_action action;
	const char *in, *want;
};

static void
test_status_table(void **state)
{
	static const struct status_case cases[] = {
	    {BOUNCE_ACTION_FAILED, "5.1.1", "5.1.1"},
	    {BOUNCE_ACTION_FAILED, "4.4.7", "5.4.7"},
	    {BOUNCE_ACTION_FAILED, "5.123.456", "5.123.456"},
	    {BOUNCE_ACTION_FAILED, "5.1234.1", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, "5.1.1 ", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, "5.1.", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, "5..1", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, "3.1.1", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, "", "5.0.0"},
	    {BOUNCE_ACTION_FAILED, NULL, "5.0.0"},
	    {BOUNCE_ACTION_DELAYED, "4.4.1", "4.4.1"},
	    {BOUNCE_ACTION_DELAYED, "5.4.1", "4.4.1"},
	    {BOUNCE_ACTION_DELAYED, "x", "4.0.0"},
	    {BOUNCE_ACTION_DELIVERED, "2.0.0", "2.0.0"},
	    {BOUNCE_ACTION_RELAYED, "5.1.1", "2.1.1"},
	    {BOUNCE_ACTION_EXPANDED, NULL, "2.0.0"},
	};
	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		struct bounce_rcpt r = {.addr = "b@b.example",
					.action = cases[i].action,
					.status = cases[i].in};
		struct bounce_in in;
		struct bounce_out out;
		char want[64];

		bfx_in_init(&in, &r, 1);
		assert_int_equal(bounce_build(&in, &out), 0);
		snprintf(want, sizeof(want), "\r\nStatus: %s\r\n",
			 cases[i].want);
		if (strstr(out.msg, want) == NULL)
			fail_msg("case %zu: %s not found", i, want);
		snprintf(want, sizeof(want), "\r\nAction: %s\r\n",
			 bounce_action_str(cases[i].action));
		assert_non_null(strstr(out.msg, want));
		bounce_out_fini(&out);
	}
}

static void
test_build_refuses(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_rcpt bad = {.addr = NULL};
	struct bounce_in in;
	struct bounce_out out;

	(void)state;
	for (int i = 0; i < 11; i++) {
		bfx_in_init(&in, &r, 1);
		switch (i) {
		case 0:
			in.sender = "";
			break;
		case 1:
			in.sender = NULL;
			break;
		case 2:
			in.flags = BOUNCE_F_IS_DSN;
			break;
		case 3:
			in.nrcpt = 0;
			break;
		case 4:
			in.reporting_mta = "";
			break;
		case 5:
			in.now = 0;
			break;
		case 6:
			in.now = INT64_MAX;
			break;
		case 7:
			in.rcpts = &bad;
			break;
		case 8:
			in.kind = BOUNCE_KIND__COUNT;
			break;
		case 9:
			in.arrival = -5;
			break;
		case 10:
			r.last_attempt = INT64_MIN;
			break;
		}
		out.msg = (char *)"stale";
		if (bounce_build(&in, &out) != -EINVAL)
			fail_msg("case %d not refused", i);
		assert_null(out.msg);
		bounce_out_fini(&out);
		r.last_attempt = 0;
	}
}

static void
test_deterministic(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out a, b;

	(void)state;
	bfx_in_init(&in, &r, 1);
	assert_int_equal(bounce_build(&in, &a), 0);
	assert_int_equal(bounce_build(&in, &b), 0);
	assert_int_equal(a.len, b.len);
	assert_memory_equal(a.msg, b.msg, a.len);
	assert_true(strncmp(a.message_id, "20231114221500.", 15) == 0);
	assert_non_null(strstr(a.message_id, "@mta.example"));
	bounce_out_fini(&b);
	in.seed = (const uint8_t *)"x";
	in.seed_len = 1;
	in.msgid_domain = "ids.example";
	assert_int_equal(bounce_build(&in, &b), 0);
	assert_string_not_equal(a.boundary, b.boundary);
	assert_string_not_equal(a.message_id, b.message_id);
	assert_non_null(strstr(b.message_id, "@ids.example"));
	bounce_out_fini(&a);
	bounce_out_fini(&b);
	bounce_out_fini(&b); /* idempotent */
}

struct notify_case {
	const char *sender;
	unsigned flags, notify;
	enum bounce_kind kind;
	bool want;
};

static void
test_should_send(void **state)
{
	enum {
		N = BOUNCE_NOTIFY_NEVER,
		S = BOUNCE_NOTIFY_SUCCESS,
		F = BOUNCE_NOTIFY_FAILURE,
		D = BOUNCE_NOTIFY_DELAY,
	};
	static const struct notify_case cases[] = {
	    {"a@b", 0, 0, BOUNCE_FAILED, true},
	    {"a@b", 0, 0, BOUNCE_DELAYED, true},
	    {"a@b", 0, 0, BOUNCE_DELIVERED, false},
	    {"a@b", 0, 0, BOUNCE_RELAYED, false},
	    {"", 0, 0, BOUNCE_FAILED, false},
	    {NULL, 0, F, BOUNCE_FAILED, false},
	    {"", 0, S, BOUNCE_DELIVERED, false},
	    {"a@b", BOUNCE_F_IS_DSN, F, BOUNCE_FAILED, false},
	    {"a@b", BOUNCE_F_IS_DSN, 0, BOUNCE_FAILED, false},
	    {"a@b", BOUNCE_F_SMTPUTF8, F, BOUNCE_FAILED, true},
	    {"a@b", 0, N, BOUNCE_FAILED, false},
	    {"a@b", 0, N | F, BOUNCE_FAILED, false},
	    {"a@b", 0, F, BOUNCE_FAILED, true},
	    {"a@b", 0, F, BOUNCE_DELAYED, false},
	    {"a@b", 0, F, BOUNCE_DELIVERED, false},
	    {"a@b", 0, D, BOUNCE_DELAYED, true},
	    {"a@b", 0, D, BOUNCE_FAILED, false},
	    {"a@b", 0, S, BOUNCE_DELIVERED, true},
	    {"a@b", 0, S, BOUNCE_RELAYED, true},
	    {"a@b", 0, S, BOUNCE_FAILED, false},
	    {"a@b", 0, S | F | D, BOUNCE_DELAYED, true},
	    {"a@b", 0, S | F | D, BOUNCE_KIND__COUNT, false},
	};
	(void)state;
	for (size_t i = 0; i < nitems(cases); i++)
		if (bounce_should_send(cases[i].sender, cases[i].flags,
				       cases[i].notify,
				       cases[i].kind) != cases[i].want)
			fail_msg("case %zu", i);
}

struct is_dsn_case {
	const char *hdr;
	bool want;
};

static void
test_is_dsn(void **state)
{
	static const struct is_dsn_case cases[] = {
	    {"Content-Type: multipart/report; "
	     "report-type=delivery-status;\r\n\tboundary=x\r\n\r\n",
	     true},
	    {"Subject: x\r\ncontent-type: Multipart/Report;\r\n "
	     "Report-Type=\"Delivery-Status\"\r\n\r\n",
	     true},
	    {"Content-Type: multipart/report; report-type = "
	     "global-delivery-status\n\n",
	     true},
	    {"Content-Type: multipart/report; "
	     "report-type=disposition-notification\r\n\r\n",
	     false},
	    {"Content-Type: multipart/reports; "
	     "report-type=delivery-status\r\n\r\n",
	     false},
	    {"Content-Type: text/plain\r\n\r\nContent-Type: multipart/report; "
	     "report-type=delivery-status\r\n",
	     false},
	    {"Subject: x\r\n\r\nContent-Type: multipart/report; "
	     "report-type=delivery-status\r\n",
	     false},
	    {"X-Content-Type: multipart/report; "
	     "report-type=delivery-status\r\n",
	     false},
	    {"Content-Type: multipart/report; report-type=delivery-statusx\r\n",
	     false},
	    {"Content-Type: multipart/report\r\nX: report-type=delivery-status"
	     "\r\n",
	     false},
	    {"", false},
	};
	(void)state;
	for (size_t i = 0; i < nitems(cases); i++)
		if (bounce_is_dsn(cases[i].hdr, strlen(cases[i].hdr)) !=
		    cases[i].want)
			fail_msg("case %zu", i);
}

/* Our own DSN is recognised as one (no bounce of a bounce). */
static void
test_own_dsn_is_dsn(void **state)
{
	struct bounce_rcpt r = {.addr = "b@b.example"};
	struct bounce_in in;
	struct bounce_out out;

	(void)state;
	bfx_in_init(&in, &r, 1);
	assert_int_equal(bounce_build(&in, &out), 0);
	assert_true(bounce_is_dsn(out.msg, out.len));
	bounce_out_fini(&out);
	assert_false(bounce_is_dsn(bfx_orig, bfx_orig_len));
}

static void
test_strings(void **state)
{
	(void)state;
	assert_string_equal(bounce_kind_str(BOUNCE_DELAYED), "delayed");
	assert_string_equal(bounce_kind_str(BOUNCE_KIND__COUNT), "?");
	assert_string_equal(bounce_action_str(BOUNCE_ACTION_EXPANDED),
			    "expanded");
	assert_string_equal(bounce_action_str(BOUNCE_ACTION__COUNT), "?");
	assert_string_equal(bounce_ret_str(BOUNCE_RET_HDRS), "hdrs");
	assert_string_equal(bounce_ret_str(BOUNCE_RET__COUNT), "?");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kinds),
	    cmocka_unit_test(test_status_table),
	    cmocka_unit_test(test_build_refuses),
	    cmocka_unit_test(test_deterministic),
	    cmocka_unit_test(test_should_send),
	    cmocka_unit_test(test_is_dsn),
	    cmocka_unit_test(test_own_dsn_is_dsn),
	    cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
