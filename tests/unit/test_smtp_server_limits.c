/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_server_limits: the inbound ESMTP engine's limits and errors on
 * a real ring over a socketpair (or loopback TCP for the listener), with
 * tst_fixture.c: line too long, the error limit, idle and session
 * timeouts, early talker, bad sequences, pipelining without PIPELINING,
 * size limits, recipient limit, drop, BDAT, the connection limit and the
 * footprint.  Skips (loudly) where io_uring is unavailable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ring.h"
#include "smtp_server.h"
#include "smtps_fixture.h"
#include "timer.h"
#include "tst_fixture.h"

static void
test_line_too_long_survives(void **state)
{
	TST_OR_SKIP(x);
	char line[3000];

	tst_start(x);
	tst_ehlo(x);
	memset(line, 'A', sizeof(line) - 3);
	memcpy(line + sizeof(line) - 3, "\r\n", 3);
	tst_send(x, line);
	tst_expect(x, "500 5.5.6 ");
	tst_wait(x, 1);
	assert_non_null(strstr(x->in, "\r\n"));
	x->in_len = 0;
	tst_send(x, "NOOP\r\n");
	tst_expect(x, "250 2.0.0 Ok\r\n");
	assert_false(x->closed);
}

static void
test_error_limit(void **state)
{
	TST_OR_SKIP(x);

	x->cfg.errors_max = 3;
	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "BOGUS\r\nRCPT TO:<a@b>\r\nXYZZY\r\nNOOP\r\n");
	tst_expect(x, "500 5.5.1 ");
	tst_wait(x, 1);
	assert_non_null(
	    strstr(x->in, "503 5.5.1 Error: need MAIL command\r\n"));
	assert_non_null(strstr(x->in, "421 4.7.0 Error: too many errors\r\n"));
	assert_null(strstr(x->in, "250 2.0.0 Ok")); /* NOOP never handled */
	x->in_len = 0;
	tst_expect_eof(x);
	assert_int_equal(x->why, SMTPS_CLOSE_ERRORS);
}

static void
test_idle_timeout(void **state)
{
	TST_OR_SKIP(x);

	x->cfg.idle_timeout_ms = 100;
	tst_start(x);
	tst_expect(x, "220 test.host ESMTP\r\n");
	tst_expect(x, "421 4.4.2 Error: timeout exceeded\r\n");
	tst_expect_eof(x);
	assert_int_equal(x->why, SMTPS_CLOSE_IDLE);
}

/* Each command moves the idle deadline on: the session timer, armed
 * for an earlier recv, fires early and is moved, never closing. */
static void
test_idle_timer_moves(void **state)
{
	TST_OR_SKIP(x);

	x->cfg.idle_timeout_ms = 100;
	tst_start(x);
	tst_expect(x, "220 test.host ESMTP\r\n");
	for (int i = 0; i < 6; i++) { /* 360 ms in all, > 3 idle timeouts */
		tst_drain(x, 60);
		tst_send(x, "NOOP\r\n");
		tst_expect(x, "250 2.0.0 Ok\r\n");
	}
	assert_false(x->closed);
	tst_expect(x, "421 4.4.2 Error: timeout exceeded\r\n");
	tst_expect_eof(x);
	assert_int_equal(x->why, SMTPS_CLOSE_IDLE);
}

static void
test_session_timeout(void **state)
{
	TST_OR_SKIP(x);

	x->cfg.session_timeout_ms = 150;
	tst_start(x);
	tst_expect(x, "220 test.host ESMTP\r\n");
	for (int i = 0; i < 5; i++) {
		tst_drain(x, 20);
		tst_send(x, "NOOP\r\n");
		tst_expect(x, "250 2.0.0 Ok\r\n");
	}
	tst_expect(x, "421 4.4.2 Error: session timeout exceeded\r\n");
	tst_expect_eof(x);
	assert_int_equal(x->why, SMTPS_CLOSE_SESSION_TIMEOUT);
}

static void
test_early_talker(void **state)
{
	TST_OR_SKIP(x);

	x->async_stage = SMTPS_STAGE_GREETING;
	x->async_ns = 200000000;
	tst_start(x);
	tst_send(x, "EHLO hasty\r\n");
	tst_expect(x, "554 5.5.0 Error: talking before the greeting\r\n");
	tst_expect_eof(x);
	assert_int_equal(x->why, SMTPS_CLOSE_EARLY_TALKER);
	assert_int_equal(x->asked[SMTPS_STAGE_HELO], 0);
	assert_int_equal(smtps_server_stats(x->srv)->early_talkers, 1);
}

static void
test_early_talker_allowed(void **state)
{
	TST_OR_SKIP(x);

	x->cfg.early_talker_ok = true;
	x->async_stage = SMTPS_STAGE_GREETING;
	x->async_ns = 50000000;
	tst_start(x);
	tst_send(x, "NOOP\r\n");
	tst_expect(x, "220 test.host ESMTP\r\n250 2.0.0 Ok\r\n");
}

static void
test_bad_sequence(void **state)
{
	TST_OR_SKIP(x);

	tst_start(x);
	tst_expect(x, "220 test.host ESMTP\r\n");
	tst_send(x, "MAIL FROM:<a@b>\r\n");
	tst_expect(x, "503 5.5.1 Error: send HELO/EHLO first\r\n");
	tst_send(x, "EHLO c\r\n");
	tst_wait(x, 1);
	tst_drain(x, 20);
	tst_read(x);
	x->in_len = 0;
	tst_send(x, "RCPT TO:<a@b>\r\n");
	tst_expect(x, "503 5.5.1 Error: need MAIL command\r\n");
	tst_send(x, "DATA\r\n");
	tst_expect(x, "503 5.5.1 Error: need MAIL command\r\n");
	tst_send(x, "MAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nDATA\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n503 5.5.1 Error: nested MAIL command\r\n"
		      "554 5.5.1 Error: no valid recipients\r\n");
	tst_send(x, "RSET\r\nRCPT TO:<a@b>\r\n");
	tst_expect(x, "250 2.0.0 Ok\r\n503 5.5.1 Error: need MAIL command\r\n");
	tst_send(x, "MAIL FROM:<bad\r\n");
	tst_expect(x, "501 5.1.7 ");
	assert_int_equal(x->asked[SMTPS_STAGE_RSET], 1);
}

static void
test_pipelining_not_advertised(void **state)
{
	TST_OR_SKIP(x);

	x->cfg.caps = SMTPS_CAP_DEFAULT & ~(unsigned)SMTPS_CAP_PIPELINING;
	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "MAIL FROM:<a@b>\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n");
	tst_send(x, "RCPT TO:<c@d>\r\nRCPT TO:<e@f>\r\n");
	tst_expect(x, "250 2.1.5 Ok\r\n554 5.5.0 Error: SMTP protocol "
		      "synchronization (PIPELINING not negotiated)\r\n");
	tst_expect_eof(x);
	assert_int_equal(x->why, SMTPS_CLOSE_PIPELINING);
	assert_int_equal(x->asked[SMTPS_STAGE_RCPT], 1);
}

static void
test_size_limits(void **state)
{
	TST_OR_SKIP(x);
	char body[300];

	x->cfg.size_max = 100;
	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "MAIL FROM:<a@b> SIZE=101\r\n");
	tst_expect(x, "552 5.3.4 Message size exceeds fixed limit\r\n");
	tst_send(x, "MAIL FROM:<a@b> SIZE=100\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		      "354 End data with <CR><LF>.<CR><LF>\r\n");
	memset(body, 'x', sizeof(body));
	memcpy(body + 100, "\r\n", 2);
	memcpy(body + 200, "\r\n.\r\n", 6);
	tst_send(x, body);
	tst_expect(x, "552 5.3.4 Error: message size exceeds limit\r\n");
	assert_true(x->info.oversize);
	assert_true(x->body_len <= 100);
	/* the session goes on, the transaction is gone */
	tst_send(x, "RCPT TO:<c@d>\r\n");
	tst_expect(x, "503 5.5.1 Error: need MAIL command\r\n");
}

static void
test_too_many_recipients(void **state)
{
	TST_OR_SKIP(x);

	x->cfg.rcpt_max = 2;
	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nRCPT TO:<e@d>\r\n"
		    "RCPT TO:<f@d>\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
		      "452 4.5.3 Error: too many recipients\r\n");
	assert_int_equal(x->asked[SMTPS_STAGE_RCPT], 2);
}

static void
test_drop_at_data(void **state)
{
	TST_OR_SKIP(x);

	x->drop_stage = SMTPS_STAGE_DATA;
	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
	/* replies queued before the drop still go out */
	tst_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n");
	tst_expect_eof(x);
	assert_int_equal(x->why, SMTPS_CLOSE_OWNER_DROP);
}

static void
test_bdat(void **state)
{
	TST_OR_SKIP(x);

	x->cfg.caps |= SMTPS_CAP_CHUNKING;
	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nBDAT 7\r\nhel\r\n.o"
		    "BDAT 0 LAST\r\n");
	tst_expect(x,
		   "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		   "250 2.0.0 7 octets received\r\n250 2.0.0 Ok: queued\r\n");
	assert_int_equal(x->body_len, 7);
	assert_memory_equal(x->body, "hel\r\n.o", 7);
	assert_true(x->info.bdat);
	/* refused BDAT: the chunk is still consumed */
	tst_send(x, "BDAT 5\r\nQUIT!NOOP\r\n");
	tst_expect(x, "503 5.5.1 Error: need MAIL command\r\n250 2.0.0 Ok\r\n");
}

static void
test_max_sessions_over_tcp(void **state)
{
	TST_OR_SKIP(x);
	char name[64];
	struct sockaddr_in sa;
	int c1, c2, idx;

	x->cfg.sessions_max = 1;
	x->srv = smtps_server_new(x->r, &x->cfg, &tst_ops, x);
	idx = smtps_listen(x->srv, "127.0.0.1:0", name, sizeof(name));
	assert_int_equal(idx, 0);
	assert_int_equal(smtps_listener_count(x->srv), 1);
	assert_string_equal(smtps_listener_name(x->srv, 0), name);
	assert_int_equal(smtps_listen(x->srv, "nonsense", NULL, 0), -EINVAL);
	assert_int_equal(smtps_listen(x->srv, "[::1:0", NULL, 0), -EINVAL);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)atoi(strrchr(name, ':') + 1));
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	c1 = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(c1, (struct sockaddr *)&sa, sizeof(sa)), 0);
	x->cfd = c1;
	assert_int_equal(fcntl(c1, F_SETFL, O_NONBLOCK), 0);
	tst_expect(x, "220 test.host ESMTP\r\n");
	assert_string_equal(smtps_peer_addr(x->sess), "127.0.0.1");
	c2 = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(c2, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(fcntl(c2, F_SETFL, O_NONBLOCK), 0);
	x->cfd = c2;
	tst_expect(x, "421 4.7.0 test.host Error: too many connections\r\n");
	tst_expect_eof(x);
	close(c2);
	x->cfd = c1;
	assert_int_equal(smtps_server_stats(x->srv)->rejected_busy, 1);
	assert_int_equal(smtps_server_stats(x->srv)->sessions, 1);
}

static void
test_footprint(void **state)
{
	TST_OR_SKIP(x);

	x->srv = smtps_server_new(x->r, &x->cfg, &tst_ops, x);
	fprintf(stderr, "session footprint: %zu bytes\n",
		smtps_session_footprint(x->srv));
	assert_true(smtps_session_footprint(x->srv) < 16384);
	assert_string_equal(smtps_stage_str(SMTPS_STAGE_DOT), "dot");
	assert_string_equal(smtps_close_why_str(SMTPS_CLOSE_IDLE), "idle");
	assert_string_equal(smtps_stage_str(SMTPS_STAGE__COUNT), "?");
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tst_setup, tst_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_line_too_long_survives),
	    T(test_error_limit),
	    T(test_idle_timeout),
	    T(test_idle_timer_moves),
	    T(test_session_timeout),
	    T(test_early_talker),
	    T(test_early_talker_allowed),
	    T(test_bad_sequence),
	    T(test_pipelining_not_advertised),
	    T(test_size_limits),
	    T(test_too_many_recipients),
	    T(test_drop_at_data),
	    T(test_bdat),
	    T(test_max_sessions_over_tcp),
	    T(test_footprint),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
