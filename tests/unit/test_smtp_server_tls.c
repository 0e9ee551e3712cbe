/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_server_tls: STARTTLS in the inbound ESMTP engine, on a real
 * ring over a socketpair, the client side driven by tls.c client sessions
 * in this process.  STARTTLS, EHLO again and a message over TLSv1.3 and
 * TLSv1.2; pipelined plaintext behind STARTTLS discarded and counted (in
 * the same write, and while the owner's reply is pending); a pipelined
 * batch over TLS in one send; double STARTTLS, arguments, a transaction;
 * the recv in flight at the 220 kept into the handshake; garbage, EOF and
 * timeout in the handshake; tls_required; the owner refusing STARTTLS;
 * raw injection for test tools; idle timeout and QUIT under TLS with
 * close_notify.  Certificates come from tls_fixture.sh; the owner and the
 * client are tc_fixture.c.  Skips (loudly) where io_uring is unavailable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring.h"
#include "smtp_server.h"
#include "smtp_server_int.h"
#include "smtps_fixture.h"
#include "timer.h"
#include "tls.h"
#include "tc_fixture.h"

/* ---- tests -------------------------------------------------------------- */

static void
tc_message(struct tc *x, enum tls_version maxv, const char *proto)
{
	const struct smtps_server_stats *st;
	char *body = malloc(100000);
	size_t n = 0;

	x->cfg.size_max = 1000000;
	tc_client_ctx(x, maxv);
	tc_to_tls(x);
	assert_string_equal(tls_sess_protocol(x->ct), proto);
	assert_string_equal(x->ti.protocol, proto);
	assert_string_equal(x->ti.cipher, tls_sess_cipher(x->ct));
	assert_string_equal(x->ti.sni, "mx.test.example");
	/* RFC 3207: the EHLO before TLS is forgotten */
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "503 5.5.1 Error: send HELO/EHLO first\r\n");
	tc_ehlo(x, false);
	/* a body over several records and receive buffers */
	while (n < 99000) {
		n += (size_t)snprintf(body + n, 100000 - n,
				      "line %06zu .. some text to fill it\r\n",
				      n);
	}
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n");
	tc_send(x, "RCPT TO:<c@d.test>\r\n");
	tc_expect(x, "250 2.1.5 Ok\r\n");
	tc_send(x, "DATA\r\n");
	tc_expect(x, "354 End data with <CR><LF>.<CR><LF>\r\n");
	tc_send_n(x, body, n);
	tc_send(x, ".\r\nQUIT\r\n");
	tc_expect(x, "250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n");
	tc_expect_eof(x);
	assert_int_equal(x->rd_rc, -EPIPE); /* close_notify, not a cut */
	assert_int_equal(x->body_len, n);
	assert_memory_equal(x->body, body, n);
	assert_string_equal(x->ti_dot.protocol, proto);
	assert_true(x->closed);
	assert_int_equal(x->why, SMTPS_CLOSE_QUIT);
	st = smtps_server_stats(x->srv);
	assert_int_equal(st->tls_starts, 1);
	assert_int_equal(st->tls_handshakes, 1);
	assert_int_equal(st->tls_failures, 0);
	assert_int_equal(st->tls_injected_bytes, 0);
	assert_int_equal(x->asked[SMTPS_STAGE_STARTTLS], 1);
	free(body);
}

static void
test_message_tls13(void **state)
{
	TC_OR_SKIP(x);
	tc_message(x, TLS_V_ANY, "TLSv1.3");
}

static void
test_message_tls12(void **state)
{
	TC_OR_SKIP(x);
	tc_message(x, TLS_V_1_2, "TLSv1.2");
}

/* A pipelined batch over TLS is answered in one send. */
static void
test_pipelined_batch_over_tls(void **state)
{
	uint64_t sends;

	TC_OR_SKIP(x);
	tc_to_tls(x);
	tc_ehlo(x, false);
	tc_drain(x, 20);
	sends = smtps_server_stats(x->srv)->sends;
	tc_send(x, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\n"
		   "RCPT TO:<e@f.test>\r\nDATA\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
		     "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_int_equal(smtps_server_stats(x->srv)->sends - sends, 1);
	tc_send(x, "Subject: x\r\n\r\n..dot\r\n.\r\n");
	tc_expect(x, "250 2.0.0 Ok: queued\r\n");
	assert_int_equal(x->body_len, 20);
	assert_memory_equal(x->body, "Subject: x\r\n\r\n.dot\r\n", 20);
}

/* CVE-2011-0411: what follows STARTTLS in the same write is dropped. */
static void
test_injection_same_write(void **state)
{
	const char junk[] = "MAIL FROM:<inject@evil.test>\r\n";
	const struct smtps_server_stats *st;

	TC_OR_SKIP(x);
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "STARTTLS\r\nMAIL FROM:<inject@evil.test>\r\n");
	tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
	tc_handshake(x);
	assert_int_equal(x->asked[SMTPS_STAGE_MAIL], 0);
	st = smtps_server_stats(x->srv);
	assert_int_equal(st->tls_injected_bytes, sizeof(junk) - 1);
	assert_int_equal(st->tls_injected_sessions, 1);
	assert_int_equal(smtps_tls_injected(x->sess), sizeof(junk) - 1);
	/* the injected MAIL did not open a transaction inside TLS */
	tc_ehlo(x, false);
	tc_send(x, "RCPT TO:<c@d.test>\r\n");
	tc_expect(x, "503 5.5.1 Error: need MAIL command\r\n");
	tc_send(x, "MAIL FROM:<good@b.test>\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n");
	assert_string_equal(x->mail, "good@b.test");
	assert_int_equal(x->asked[SMTPS_STAGE_MAIL], 1);
}

/* Plaintext arriving while the owner's 220 is pending is dropped too. */
static void
test_injection_while_pending(void **state)
{
	TC_OR_SKIP(x);
	x->starttls_async = 100000000; /* 100 ms */
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "STARTTLS\r\n");
	tc_drain(x, 20);
	tc_send(x, "RSET\r\n");
	tc_drain(x, 20);
	tc_send(x, "NOOP\r\n");
	tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
	assert_int_equal(x->in_len, 0); /* no 250 for RSET/NOOP */
	tc_handshake(x);
	assert_int_equal(x->asked[SMTPS_STAGE_RSET], 0);
	assert_int_equal(smtps_server_stats(x->srv)->tls_injected_bytes, 12);
	tc_ehlo(x, false);
}

static void
test_starttls_sequence(void **state)
{
	TC_OR_SKIP(x);
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "STARTTLS now\r\n");
	tc_expect(x, "501 5.5.4 Syntax error, no parameters allowed\r\n");
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n");
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "503 5.5.1 Error: MAIL transaction in progress\r\n");
	tc_send(x, "RSET\r\n");
	tc_expect(x, "250 2.0.0 Ok\r\n");
	assert_int_equal(x->asked[SMTPS_STAGE_STARTTLS], 0);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
	tc_handshake(x);
	tc_ehlo(x, false);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "503 5.5.1 Error: TLS already active\r\n");
	tc_send(x, "QUIT\r\n");
	tc_expect(x, "221 2.0.0 Bye\r\n");
	tc_expect_eof(x);
	assert_int_equal(x->asked[SMTPS_STAGE_STARTTLS], 1);
}

/*
 * The recv armed before the 220 is out stays in flight into the handshake:
 * never cancelled nor re-armed, only its deadline moves to the handshake's
 * (smtps_tls_begin), and the handshake then completes over it.
 */
static void
test_handshake_keeps_recv(void **state)
{
	struct smtps_session *s;
	uint16_t gen;

	TC_OR_SKIP(x);
	x->cfg.handshake_timeout_ms = 2000;
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_send(x, "STARTTLS\r\n");
	for (int i = 0; i < 500 && (x->sess == NULL ||
				    x->sess->tls_st != SMTPS_TLS_HANDSHAKE);
	     i++)
		assert_true(ring_run_once(x->r, 2000000) >= 0);
	s = x->sess;
	assert_non_null(s);
	assert_int_equal(s->tls_st, SMTPS_TLS_HANDSHAKE);
	assert_true(uop_busy(&s->op_recv));
	assert_int_equal(s->op_recv.cancelled, 0);
	assert_true(s->t_hs < s->t_end);
	assert_true(s->t_recv == s->t_hs);
	assert_true(timer_armed(&s->deadline));
	assert_true(s->deadline.when <= s->t_recv);
	gen = s->op_recv.gen;
	tc_drain(x, 50);
	assert_true(uop_busy(&s->op_recv));
	assert_int_equal(s->op_recv.gen, gen);
	assert_true(s->t_recv == s->t_hs);
	tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
	tc_handshake(x);
	tc_ehlo(x, false);
}

/* Garbage, EOF, and silence in the handshake: closed, counted. */
static void
test_handshake_failures(void **state)
{
	static const struct {
		const char *send; /* NULL: say nothing; "": close */
		const char *name;
	} cases[] = {
	    {"EHLO plaintext.test\r\nMAIL FROM:<a@b>\r\n", "plaintext"},
	    {"\x16\x03\x01\x00\x05hello", "bad record"},
	    {"\x15\x03\x03\x00\x02\x02\x28", "alert"},
	    {"", "eof"},
	    {NULL, "timeout"},
	};

	TC_OR_SKIP(x);
	x->cfg.handshake_timeout_ms = 300;
	x->srv = smtps_server_new(x->r, &x->cfg, &tc_ops, x);
	for (size_t i = 0; i < nitems(cases); i++) {
		int sv[2];
		int64_t t0;

		fprintf(stderr, "case %s\n", cases[i].name);
		assert_int_equal(
		    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		x->cfd = sv[1];
		x->eof = false;
		x->closed = false;
		x->in_len = 0;
		assert_int_equal(fcntl(x->cfd, F_SETFL, O_NONBLOCK), 0);
		assert_int_equal(smtps_adopt(x->srv, sv[0], 0), 0);
		tc_expect(x, "220 test.host ESMTP\r\n");
		tc_send(x, "STARTTLS\r\n");
		tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
		t0 = ring_now_update(x->r);
		if (cases[i].send && cases[i].send[0])
			tc_send(x, cases[i].send);
		else if (cases[i].send)
			shutdown(x->cfd, SHUT_WR);
		tc_expect_eof(x);
		if (cases[i].send == NULL)
			assert_true(ring_now_update(x->r) - t0 >= 290000000);
		/* nothing readable came back: no SMTP reply in clear */
		assert_null(strstr(x->in, "250"));
		assert_true(x->closed);
		assert_int_equal(x->why, SMTPS_CLOSE_TLS);
		assert_int_equal(smtps_server_stats(x->srv)->tls_failures,
				 i + 1);
		close(x->cfd);
		x->cfd = -1;
	}
	assert_int_equal(x->asked[SMTPS_STAGE_HELO], 0);
	assert_int_equal(x->asked[SMTPS_STAGE_MAIL], 0);
	assert_int_equal(smtps_server_stats(x->srv)->tls_handshakes, 0);
}

static void
test_tls_required(void **state)
{
	TC_OR_SKIP(x);
	x->cfg.tls_required = true;
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "530 5.7.0 Must issue a STARTTLS command first\r\n");
	tc_send(x, "RCPT TO:<c@d.test>\r\n");
	tc_expect(x, "503 5.5.1 Error: need MAIL command\r\n");
	assert_int_equal(x->asked[SMTPS_STAGE_MAIL], 0);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "220 2.0.0 Ready to start TLS\r\n");
	tc_handshake(x);
	tc_ehlo(x, false);
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n");
	assert_int_equal(x->asked[SMTPS_STAGE_MAIL], 1);
}

/* The owner says 454: plaintext goes on; without a context: 502. */
static void
test_owner_refuses(void **state)
{
	TC_OR_SKIP(x);
	x->starttls_code = 454;
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, true);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "454 4.7.0 TLS not available\r\n");
	tc_send(x, "MAIL FROM:<a@b.test>\r\n");
	tc_expect(x, "250 2.1.0 Ok\r\n");
	assert_false(smtps_tls_info(x->sess, NULL));
	assert_int_equal(smtps_server_stats(x->srv)->tls_starts, 0);
}

static void
test_no_context(void **state)
{
	TC_OR_SKIP(x);
	x->cfg.tls = NULL;
	x->cfg.caps |= SMTPS_CAP_STARTTLS; /* ignored without a context */
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_ehlo(x, false);
	tc_send(x, "STARTTLS\r\n");
	tc_expect(x, "502 5.5.1 Error: command not implemented\r\n");
	assert_int_equal(x->asked[SMTPS_STAGE_STARTTLS], 0);
}

/* smtps_inject_raw: the bytes leave with the 220, in the same write. */
static void
test_inject_raw(void **state)
{
	char buf[256];
	ssize_t n;

	TC_OR_SKIP(x);
	x->inject = "250 injected\r\n";
	tc_start(x);
	tc_expect(x, "220 test.host ESMTP\r\n");
	tc_send(x, "STARTTLS\r\n");
	for (int i = 0; i < 20; i++)
		assert_true(ring_run_once(x->r, 5000000) >= 0);
	n = read(x->cfd, buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_string_equal(buf,
			    "220 2.0.0 Ready to start TLS\r\n250 injected\r\n");
}

/* Idle timeout under TLS: an encrypted 421, close_notify, EOF. */
static void
test_idle_timeout_tls(void **state)
{
	TC_OR_SKIP(x);
	x->cfg.idle_timeout_ms = 300;
	tc_to_tls(x);
	tc_ehlo(x, false);
	tc_expect(x, "421 4.4.2 Error: timeout exceeded\r\n");
	tc_expect_eof(x);
	assert_int_equal(x->rd_rc, -EPIPE);
	assert_int_equal(x->why, SMTPS_CLOSE_IDLE);
}

/* The client's close_notify ends the session like EOF. */
static void
test_client_close_notify(void **state)
{
	TC_OR_SKIP(x);
	tc_to_tls(x);
	tc_ehlo(x, false);
	assert_int_equal(tls_shutdown(x->ct), 0);
	tc_expect_eof(x);
	assert_int_equal(x->why, SMTPS_CLOSE_EOF);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_message_tls13, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_message_tls12, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_pipelined_batch_over_tls,
					    tc_setup, tc_teardown),
	    cmocka_unit_test_setup_teardown(test_injection_same_write, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_injection_while_pending,
					    tc_setup, tc_teardown),
	    cmocka_unit_test_setup_teardown(test_starttls_sequence, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_keeps_recv, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_handshake_failures, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_tls_required, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_owner_refuses, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_no_context, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_inject_raw, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_idle_timeout_tls, tc_setup,
					    tc_teardown),
	    cmocka_unit_test_setup_teardown(test_client_close_notify, tc_setup,
					    tc_teardown),
	};

	return cmocka_run_group_tests_name("smtp_server_tls", tests,
					   tc_group_setup, tc_group_teardown);
}
