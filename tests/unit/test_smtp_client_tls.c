/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_client_tls: STARTTLS in the client session, on a real ring,
 * against the scripted TLS peer of ctls_fixture.c (tls.c's server side,
 * certificates from tls_fixture.sh).  Covers delivery over TLSv1.3 and
 * v1.2 with only the post-TLS capabilities, STARTTLS never twice, required
 * without STARTTLS, verify=host with a wrong name, opportunistic with an
 * untrusted certificate, plaintext injected after the 220, pipelined reuse
 * over TLS, resumption (and forgetting a failed resumed attempt).  Refusals
 * and faults are in test_smtp_client_tls_faults.c.  Skips loudly without
 * io_uring.
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
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "ctls_fixture.h"
#include "smtp_client.h"
#include "tls.h"

static void
delivery_over(void **state, enum tls_version max, const char *caps_post,
	      const char *proto)
{
	FX_GET(f);
	const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_TLS_EHLO(caps_post),
	    {CTLS_P_EXPECT_1, CTLS_B8_MAIL, 0},
	    {CTLS_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CTLS_P_EXPECT, CTLS_B8_WIRE, 0},
	    {CTLS_P_SEND, "250 2.0.0 queued as T\r\n", 0},
	    CTLS_QUIT_END,
	    {CTLS_P_END, NULL, 0},
	};
	struct smtpc_msg *m;

	assert_int_equal(strlen(CTLS_B8), 26);
	f->peer.max = max;
	ctls_client_ctx(f, TLS_VERIFY_HOST);
	m = ctls_msg(f, 0, CTLS_B8);
	m->eightbit = true;
	ctls_run(f, script);
	assert_int_equal(f->ndone, 1);
	speer_assert_res("b@y", &m->rcpt[0].res, SMTPC_R_DELIVERED, 250,
			 SMTPC_STAGE_DOT);
	assert_int_equal(f->done_info[0].state, SMTPC_TLS_S_ON);
	assert_int_equal(f->done_info[0].code, 220);
	assert_string_equal(f->done_info[0].proto, proto);
	assert_true(strlen(f->done_info[0].cipher) > 0);
	assert_true(f->done_info[0].verified);
	assert_false(f->done_info[0].resumed);
	assert_string_equal(f->peer.sni[0], "mx.test.example");
	assert_string_equal(f->peer.proto[0], proto);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
	assert_int_equal(f->why.code, 221);
	assert_string_equal(f->close_info.proto, proto);
}

static void
test_delivery_tls13(void **state)
{
	delivery_over(state, TLS_V_ANY, CTLS_CAPS_POST, "TLSv1.3");
}

/* Also: STARTTLS offered again after TLS is never sent a second time. */
static void
test_delivery_tls12_starttls_once(void **state)
{
	delivery_over(state, TLS_V_1_2, CTLS_CAPS_POST_AGAIN, "TLSv1.2");
}

static void
test_required_not_offered(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE("250-mx.test.example\r\n250 PIPELINING\r\n"),
	    CTLS_QUIT_END,
	    {CTLS_P_END, NULL, 0},
	};

	f->o.tls = SMTPC_TLS_POLICY_REQUIRED;
	ctls_client_ctx(f, TLS_VERIFY_HOST);
	(void)ctls_msg(f, 0, CTLS_B1);
	ctls_run(f, script); /* QUIT right after EHLO: no MAIL */
	assert_int_equal(f->next_calls, 0);
	assert_int_equal(f->ndone, 0);
	assert_int_equal(f->why.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->why.fail, SMTPC_FAIL_TLS);
	assert_int_equal(f->why.err, -EOPNOTSUPP);
	assert_int_equal(f->why.stage, SMTPC_STAGE_STARTTLS);
	assert_int_equal(f->why.esc[0], 4);
	assert_int_equal(f->why.esc[1], 7);
	assert_int_equal(f->why.esc[2], 4);
	assert_int_equal(f->close_info.state, SMTPC_TLS_S_NOT_OFFERED);
}

static void
test_verify_host_wrong_name(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_STARTTLS_220,
	    {CTLS_P_TLS_FAIL, NULL, 0},
	    {CTLS_P_END, NULL, 0},
	};

	f->o.tls = SMTPC_TLS_POLICY_REQUIRED;
	f->o.mx_host = "other.example"; /* the certificate is mx.test.example */
	ctls_client_ctx(f, TLS_VERIFY_HOST);
	(void)ctls_msg(f, 0, CTLS_B1);
	ctls_run(f, script);
	assert_int_equal(f->next_calls, 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_TLS);
	assert_int_equal(f->why.stage, SMTPC_STAGE_STARTTLS);
	assert_int_equal(f->why.err, -EKEYREJECTED);
	assert_non_null(strstr(f->why.text, "mismatch"));
	assert_int_equal(f->close_info.state, SMTPC_TLS_S_FAILED);
	assert_non_null(strstr(f->close_info.error, "mismatch"));
	assert_string_equal(f->peer.sni[0], ""); /* never completed */
}

static void
test_opportunistic_untrusted_delivers(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_TLS_EHLO(CTLS_CAPS_POST),
	    {CTLS_P_EXPECT_1, CTLS_B1_MAIL, 0},
	    {CTLS_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CTLS_P_EXPECT, CTLS_B1_DOT, 0},
	    {CTLS_P_SEND, "250 ok\r\n", 0},
	    {CTLS_P_EXPECT, "QUIT\r\n", 0},
	    {CTLS_P_SEND, "221 bye\r\n", 0},
	    {CTLS_P_CLOSE_NOTIFY, NULL, 0}, /* ours comes anyway */
	    {CTLS_P_EOF, NULL, 0},
	    {CTLS_P_END, NULL, 0},
	};

	f->peer.cert = ctls_self;
	f->peer.key = ctls_self_key;
	ctls_client_ctx(f, TLS_VERIFY_NONE);
	(void)ctls_msg(f, 0, CTLS_B1);
	ctls_run(f, script);
	assert_int_equal(f->ndone, 1);
	speer_assert_res("b@y", &f->msgs[0].rc[0].res, SMTPC_R_DELIVERED, 250,
			 SMTPC_STAGE_DOT);
	assert_int_equal(f->done_info[0].state, SMTPC_TLS_S_ON);
	assert_false(f->done_info[0].verified);
	assert_true(strlen(f->done_info[0].verr) > 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_injection_after_220(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    {CTLS_P_EXPECT, "STARTTLS\r\n", 0},
	    {CTLS_P_SEND, "220 go\r\n250 fake\r\n", 0},
	    {CTLS_P_EOF, NULL, 0}, /* not even a ClientHello */
	    {CTLS_P_END, NULL, 0},
	};

	ctls_client_ctx(f, TLS_VERIFY_NONE);
	(void)ctls_msg(f, 0, CTLS_B1);
	ctls_run(f, script);
	assert_int_equal(f->next_calls, 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_TLS);
	assert_int_equal(f->why.stage, SMTPC_STAGE_STARTTLS);
	assert_int_equal(f->why.err, -EBADMSG);
	assert_non_null(strstr(f->why.text, "injection"));
	assert_int_equal(f->close_info.state, SMTPC_TLS_S_INJECTED);
}

static void
test_pipelined_reuse_over_tls(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_TLS_EHLO(CTLS_CAPS_POST),
	    {CTLS_P_EXPECT_1, CTLS_B1_MAIL, 0},
	    {CTLS_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CTLS_P_EXPECT_1, CTLS_B1_DOT CTLS_B1_MAIL, 0},
	    {CTLS_P_SEND, "250 one\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CTLS_P_EXPECT_1, CTLS_B1_DOT CTLS_B1_MAIL, 0},
	    {CTLS_P_SEND, "250 two\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CTLS_P_EXPECT_1, CTLS_B1_DOT, 0},
	    {CTLS_P_SEND, "250 three\r\n", 0},
	    CTLS_QUIT_END,
	    {CTLS_P_END, NULL, 0},
	};

	ctls_client_ctx(f, TLS_VERIFY_HOST);
	for (unsigned i = 0; i < 3; i++)
		(void)ctls_msg(f, i, CTLS_B1);
	ctls_run(f, script);
	assert_int_equal(f->ndone, 3);
	for (unsigned i = 0; i < 3; i++) {
		static const char *const want[] = {"one", "two", "three"};

		speer_assert_res("b@y", &f->msgs[i].rc[0].res,
				 SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
		assert_string_equal(f->msgs[i].rc[0].res.text, want[i]);
		assert_int_equal(f->done_info[i].state, SMTPC_TLS_S_ON);
	}
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
resumption(void **state, enum tls_version max)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_TLS_EHLO(CTLS_CAPS_POST),
	    CTLS_QUIT_END,
	    {CTLS_P_NEXT_CONN, NULL, 0},
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_TLS_EHLO(CTLS_CAPS_POST),
	    CTLS_QUIT_END,
	    {CTLS_P_END, NULL, 0},
	};
	char key[400], got[400];

	f->peer.max = max;
	ctls_client_ctx(f, TLS_VERIFY_HOST);
	f->cache = tls_cache_new(8, 60 * 1000000000LL);
	f->o.tls_cache = f->cache;
	f->o.tls_binding = "out1";
	ctls_peer_start(f, script);
	ctls_session(f); /* idle -> QUIT: no message */
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
	assert_int_equal(f->close_info.state, SMTPC_TLS_S_ON);
	assert_false(f->close_info.resumed);
	assert_int_equal(tls_cache_count(f->cache), 1);
	ctls_session(f);
	ctls_peer_join(f);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
	assert_int_equal(f->close_info.state, SMTPC_TLS_S_ON);
	assert_true(f->close_info.resumed);
	assert_true(f->close_info.verified); /* carried over */
	assert_false(f->peer.resumed[0]);
	assert_true(f->peer.resumed[1]);
	assert_int_equal(tls_cache_count(f->cache), 1);
	/* the key: mx host, port, binding */
	f->closed = false;
	f->s = smtpc_new(f->r, &f->o, &ctls_ops, f);
	snprintf(key, sizeof(key), "mx.test.example:%u:out1",
		 ntohs(((struct sockaddr_in *)&f->o.dst)->sin_port));
	assert_string_equal(smtpc_tls_cache_key(f->s, got, sizeof(got)), key);
	smtpc_cancel(f->s); /* never started: on_close from the ring */
	while (!f->closed)
		assert_true(ring_run_once(f->r, 50 * 1000000LL) >= 0);
}

static void
test_resumption_tls13(void **state)
{
	resumption(state, TLS_V_ANY);
}

static void
test_resumption_tls12(void **state)
{
	resumption(state, TLS_V_1_2);
}

static void
test_failed_resumed_handshake_forgets(void **state)
{
	FX_GET(f);
	static const struct ctls_step script[] = {
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_TLS_EHLO(CTLS_CAPS_POST),
	    CTLS_QUIT_END,
	    {CTLS_P_NEXT_CONN, NULL, 0},
	    CTLS_EHLO_PRE(CTLS_CAPS_PRE),
	    CTLS_STARTTLS_220,
	    {CTLS_P_SLEEP, NULL, 50},
	    /* a plaintext fatal alert (handshake_failure) */
	    {CTLS_P_SEND_RAW, "\x15\x03\x03\x00\x02\x02\x28", 7},
	    {CTLS_P_DRAIN, NULL, 0},
	    {CTLS_P_END, NULL, 0},
	};

	ctls_client_ctx(f, TLS_VERIFY_HOST);
	f->cache = tls_cache_new(8, 60 * 1000000000LL);
	f->o.tls_cache = f->cache;
	ctls_peer_start(f, script);
	ctls_session(f);
	assert_int_equal(tls_cache_count(f->cache), 1);
	ctls_session(f);
	ctls_peer_join(f);
	assert_int_equal(f->why.fail, SMTPC_FAIL_TLS);
	assert_int_equal(f->why.err, -EPROTO);
	assert_int_equal(f->close_info.state, SMTPC_TLS_S_FAILED);
	assert_true(strlen(f->close_info.error) > 0);
	assert_int_equal(tls_cache_count(f->cache), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, ctls_setup, ctls_teardown)
	    T(test_delivery_tls13),
	    T(test_delivery_tls12_starttls_once),
	    T(test_required_not_offered),
	    T(test_verify_host_wrong_name),
	    T(test_opportunistic_untrusted_delivers),
	    T(test_injection_after_220),
	    T(test_pipelined_reuse_over_tls),
	    T(test_resumption_tls13),
	    T(test_resumption_tls12),
	    T(test_failed_resumed_handshake_forgets),
#undef T
	};

	return cmocka_run_group_tests(tests, ctls_group_setup,
				      ctls_group_teardown);
}
