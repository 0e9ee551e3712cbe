/* SPDX-License-Identifier: MIT */
/*
 * test_result_text: the failure text of smtp_client_result.c
 * (docs/ERRORS.md, "Failure text"): smtpc_result_fail() says each fact
 * once for every failure class, and smtpc_result_describe() gives a reply
 * by code and stage and anything else by its text; truncation and
 * out-of-range values included.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "smtp_client_int.h"

/* smtpc_result_fail: "<failure> at <stage>[: <reason>]", X.7.5 for TLS. */
static void
test_fail_text(void **state)
{
	static const struct {
		enum smtpc_fail f;
		enum smtpc_stage st;
		int err;
		const char *reason; /* NULL: strerror */
		const char *want;
	} cases[] = {
	    {SMTPC_FAIL_TLS, SMTPC_STAGE_STARTTLS, -EPROTO,
	     "peer sent fatal alert protocol_version during the handshake",
	     "TLS error at STARTTLS: peer sent fatal alert protocol_version "
	     "during the handshake"},
	    {SMTPC_FAIL_REFUSED, SMTPC_STAGE_CONNECT, -ECONNREFUSED, NULL,
	     "connection refused at connect"},
	    {SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_RCPT, -ETIMEDOUT, NULL,
	     "timeout at RCPT"},
	    {SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_DOT, -ETIME, NULL,
	     "timeout at end of data"},
	    /* a layer's own words are kept, even for a refusal */
	    {SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_BANNER, -ETIMEDOUT, "no greeting",
	     "timeout at greeting: no greeting"},
	    {SMTPC_FAIL_UNREACH, SMTPC_STAGE_CONNECT, -EHOSTUNREACH, NULL,
	     "unreachable at connect: No route to host"},
	    {SMTPC_FAIL_RESET, SMTPC_STAGE_BODY, -ECONNRESET, NULL,
	     "connection lost at message body: Connection reset by peer"},
	    {SMTPC_FAIL_PROTO, SMTPC_STAGE_EHLO, -EBADMSG, NULL,
	     "protocol error at EHLO: Bad message"},
	    {SMTPC_FAIL_LOCAL, SMTPC_STAGE_CONNECT, -EADDRNOTAVAIL, NULL,
	     "local error at connect: Cannot assign requested address"},
	    {SMTPC_FAIL_RESET, SMTPC_STAGE_IDLE, 0, NULL,
	     "connection lost at idle"},
	    {SMTPC_FAIL_PROTO, SMTPC_STAGE_QUIT, -EBADMSG, "",
	     "protocol error at QUIT"},
	    {SMTPC_FAIL_PROTO, SMTPC_STAGE_IDLE, -EPROTO, NULL,
	     "protocol error at idle"},
	    {SMTPC_FAIL_LOCAL, SMTPC_STAGE_CONNECT, -ETIMEDOUT, NULL,
	     "local error at connect: Connection timed out"},
	    {(enum smtpc_fail)99, (enum smtpc_stage)99, -EIO, "x", "? at ?: x"},
	};
	struct smtpc_result r;

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		smtpc_result_fail(&r, cases[i].f, cases[i].st, cases[i].err,
				  cases[i].reason);
		assert_string_equal(r.text, cases[i].want);
		assert_int_equal(r.status, SMTPC_R_TEMPORARY);
		assert_int_equal(r.fail, cases[i].f);
		assert_int_equal(r.stage, cases[i].st);
		assert_int_equal(r.err, cases[i].err);
		assert_int_equal(r.code, 0);
		assert_int_equal(r.esc[0],
				 cases[i].f == SMTPC_FAIL_TLS ? 4 : 0);
		assert_int_equal(r.esc[1],
				 cases[i].f == SMTPC_FAIL_TLS ? 7 : 0);
		assert_int_equal(r.esc[2],
				 cases[i].f == SMTPC_FAIL_TLS ? 5 : 0);
	}
	/* a reason longer than the text is cut, and terminated */
	char big[2 * SMTPC_TEXT_MAX];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	smtpc_result_fail(&r, SMTPC_FAIL_TLS, SMTPC_STAGE_STARTTLS, -EPROTO,
			  big);
	assert_int_equal(strlen(r.text), SMTPC_TEXT_MAX - 1);
	assert_memory_equal(r.text, "TLS error at STARTTLS: aaa", 26);
}

/* smtpc_result_describe: a reply by code and stage, else the text. */
static void
test_describe(void **state)
{
	static const struct {
		struct smtpc_result r;
		const char *want;
	} cases[] = {
	    {{.stage = SMTPC_STAGE_RCPT,
	      .fail = SMTPC_FAIL_REPLY,
	      .code = 450,
	      .esc = {4, 2, 0},
	      .text = "4.2.0 try later"},
	     "450 at RCPT: 4.2.0 try later"},
	    {{.stage = SMTPC_STAGE_BANNER,
	      .fail = SMTPC_FAIL_REPLY,
	      .code = 554,
	      .text = "go away"},
	     "554 at greeting: go away"},
	    {{.stage = SMTPC_STAGE_DOT,
	      .fail = SMTPC_FAIL_NONE,
	      .code = 250,
	      .text = "2.0.0 ok"},
	     "250 at end of data: 2.0.0 ok"},
	    {{.stage = SMTPC_STAGE_MAIL, .fail = SMTPC_FAIL_REPLY, .code = 421},
	     "421 at MAIL"},
	    /* our own texts already say it all */
	    {{.stage = SMTPC_STAGE_STARTTLS,
	      .fail = SMTPC_FAIL_TLS,
	      .err = -EOPNOTSUPP,
	      .esc = {4, 7, 4},
	      .text = "TLS required but STARTTLS not offered"},
	     "TLS required but STARTTLS not offered"},
	    {{.stage = SMTPC_STAGE_LOCAL,
	      .fail = SMTPC_FAIL_CAPS,
	      .err = -EINVAL,
	      .esc = {5, 6, 3},
	      .text = "server lacks 8BITMIME"},
	     "server lacks 8BITMIME"},
	    {{.stage = SMTPC_STAGE_QUIT, .fail = SMTPC_FAIL_NONE},
	     "no failure at QUIT"},
	    {{.stage = SMTPC_STAGE_CONNECT,
	      .fail = SMTPC_FAIL_TIMEOUT,
	      .err = -ETIMEDOUT},
	     "timeout at connect"},
	};
	struct smtpc_result r;
	char buf[SMTPC_TEXT_MAX + 32];

	(void)state;
	for (size_t i = 0; i < nitems(cases); i++) {
		assert_ptr_equal(
		    smtpc_result_describe(&cases[i].r, buf, sizeof(buf)), buf);
		assert_string_equal(buf, cases[i].want);
	}
	/* a session failure describes as its text */
	smtpc_result_fail(&r, SMTPC_FAIL_TLS, SMTPC_STAGE_STARTTLS, -EPROTO,
			  "peer sent fatal alert protocol_version");
	assert_string_equal(smtpc_result_describe(&r, buf, sizeof(buf)),
			    "TLS error at STARTTLS: peer sent fatal alert "
			    "protocol_version");
	/* cut to fit, terminated; n = 0 writes nothing */
	r = (struct smtpc_result){
	    .fail = SMTPC_FAIL_REPLY, .stage = SMTPC_STAGE_RCPT, .code = 550};
	snprintf(r.text, sizeof(r.text), "5.1.1 unknown");
	assert_string_equal(smtpc_result_describe(&r, buf, 8), "550 at ");
	buf[0] = 'z';
	smtpc_result_describe(&r, buf, 0);
	assert_int_equal(buf[0], 'z');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fail_text),
	    cmocka_unit_test(test_describe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
