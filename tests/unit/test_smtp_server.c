/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_server: the inbound ESMTP engine on a real ring, the client
 * being the other end of a socketpair (tst_fixture.c).  Greeting, EHLO
 * capabilities, a half-close, a pipelined batch answered in one send,
 * asynchronous replies from a timer, pause and resume, body chunks and end
 * of data with a pipelined QUIT, lent and owner body buffers, body
 * anomalies.  Limits, timeouts and errors are test_smtp_server_limits.c.
 * Skips (loudly) where io_uring is unavailable.
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
test_greeting_and_ehlo_caps(void **state)
{
	TST_OR_SKIP(x);

	x->cfg.size_max = 1000000;
	x->cfg.caps |= SMTPS_CAP_CHUNKING;
	tst_start(x);
	tst_expect(x, "220 test.host ESMTP\r\n");
	assert_int_equal(x->asked[SMTPS_STAGE_GREETING], 1);
	tst_send(x, "EHLO client.test\r\n");
	tst_expect(x, "250-test.host\r\n250-PIPELINING\r\n250-SIZE 1000000\r\n"
		      "250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250-DSN\r\n"
		      "250-SMTPUTF8\r\n250 CHUNKING\r\n");
	assert_string_equal(x->helo, "client.test");
	assert_string_equal(smtps_helo_name(x->sess), "client.test");
	tst_send(x, "HELO other.test\r\n");
	tst_expect(x, "250 test.host\r\n");
	tst_send(x, "EHLO client.test\r\n");
	tst_expect(x, "250-test.host\r\n250-PIPELINING\r\n");
	tst_wait(x, 1);
	tst_drain(x, 20);
	tst_read(x);
	x->in_len = 0;
	tst_send(x, "NOOP\r\nHELP\r\nVRFY x\r\nEXPN x\r\nSTARTTLS\r\n");
	tst_expect(x, "250 2.0.0 Ok\r\n");
	tst_expect(x, "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET "
		      "NOOP QUIT HELP VRFY\r\n");
	tst_expect(x,
		   "252 2.5.2 Cannot VRFY user, but will accept message\r\n");
	tst_expect(x, "502 5.5.1 Error: command not implemented\r\n");
	tst_expect(x, "502 5.5.1 Error: command not implemented\r\n");
	tst_send(x, "QUIT\r\n");
	tst_expect(x, "221 2.0.0 Bye\r\n");
	tst_expect_eof(x);
	assert_true(x->closed);
	assert_int_equal(x->why, SMTPS_CLOSE_QUIT);
}

static void
test_half_close_gets_replies(void **state)
{
	TST_OR_SKIP(x);

	tst_start(x);
	tst_send(x, "EHLO c\r\nNOOP\r\nQUIT\r\n");
	assert_int_equal(shutdown(x->cfd, SHUT_WR), 0);
	tst_wait(x, 1);
	tst_expect_eof_after(x, "250 2.0.0 Ok\r\n221 2.0.0 Bye\r\n");
	assert_int_equal(x->why, SMTPS_CLOSE_QUIT);
}

static void
test_caps_hidden(void **state)
{
	TST_OR_SKIP(x);

	x->cfg.caps = SMTPS_CAP_8BITMIME;
	tst_start(x);
	tst_expect(x, "220 test.host ESMTP\r\n");
	tst_send(x, "EHLO c\r\n");
	tst_expect(x, "250-test.host\r\n250 8BITMIME\r\n");
	/* no ENHANCEDSTATUSCODES: enhanced codes are stripped */
	tst_send(x, "MAIL FROM:<a@b> SIZE=10\r\n");
	tst_expect(x, "555 Unsupported parameter\r\n");
	tst_send(x, "MAIL FROM:<a@b> BODY=8BITMIME\r\n");
	tst_expect(x, "250 Ok\r\n");
}

static void
test_pipelined_batch_one_send(void **state)
{
	TST_OR_SKIP(x);
	uint64_t sends;

	tst_start(x);
	tst_ehlo(x);
	sends = smtps_server_stats(x->srv)->sends;
	tst_send(x, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"
		    "RCPT TO:<c@y.test>\r\nDATA\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n"
		      "354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_int_equal(smtps_server_stats(x->srv)->sends - sends, 1);
	assert_int_equal(x->asked[SMTPS_STAGE_RCPT], 2);
	assert_string_equal(x->rcpt, "c@y.test");
}

static void
test_async_reply_holds_input(void **state)
{
	TST_OR_SKIP(x);
	int64_t t0;

	x->async_stage = SMTPS_STAGE_RCPT;
	x->async_ns = 100000000; /* 100 ms */
	tst_start(x);
	tst_ehlo(x);
	t0 = ring_now_update(x->r);
	tst_send(x, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n");
	/* DATA stays buffered while the RCPT reply is pending */
	tst_drain(x, 30);
	tst_read(x);
	assert_int_equal(x->in_len, 0);
	assert_int_equal(x->asked[SMTPS_STAGE_DATA], 0);
	assert_int_equal(smtps_pending(x->sess), SMTPS_STAGE_RCPT);
	tst_expect(x,
		   "250 2.1.5 Ok\r\n354 End data with <CR><LF>.<CR><LF>\r\n");
	assert_true(ring_now_update(x->r) - t0 >= 100000000);
	assert_int_equal(x->asked[SMTPS_STAGE_DATA], 1);
	/* the greeting can be late too, and a reply twice is refused */
	assert_int_equal(smtps_reply(x->sess, 250, NULL), -EALREADY);
}

/* A paused session reads nothing, survives the idle timeout, still sends
 * replies, and goes on from the loop after smtps_resume(). */
static void
test_pause_resume(void **state)
{
	TST_OR_SKIP(x);
	static const char want[] = "Subject: a\r\n\r\nline1\r\nline2\r\n";
	size_t first = strlen("Subject: a\r\n\r\nline1\r\n");

	x->cfg.idle_timeout_ms = 150;
	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		      "354 End data with <CR><LF>.<CR><LF>\r\n");
	x->pause_on_body = true;
	tst_send(x, "Subject: a\r\n\r\nline1\r\n");
	tst_drain(x, 30);
	assert_int_equal(x->body_len, first);
	assert_true(smtps_paused(x->sess));
	tst_send(x, "line2\r\n.\r\nQUIT\r\n");
	tst_drain(x, 400); /* > idle_timeout: not ours to lose */
	assert_false(x->closed);
	assert_int_equal(x->body_len, first);
	assert_int_equal(x->asked[SMTPS_STAGE_DOT], 0);
	tst_read(x);
	assert_int_equal(x->in_len, 0);
	smtps_resume(x->sess);
	assert_false(smtps_paused(x->sess));
	assert_int_equal(x->body_len, first); /* from the loop, not inside */
	smtps_resume(x->sess);                /* harmless when not paused */
	tst_expect(x, "250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n");
	tst_expect_eof(x);
	assert_int_equal(x->body_len, sizeof(want) - 1);
	assert_memory_equal(x->body, want, sizeof(want) - 1);
	assert_int_equal(x->asked[SMTPS_STAGE_DOT], 1);
}

/* While paused, replies given later still go out; input stays put. */
static void
test_pause_reply_still_sent(void **state)
{
	TST_OR_SKIP(x);

	x->async_stage = SMTPS_STAGE_RCPT;
	x->async_ns = 50000000;
	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nNOOP\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n");
	smtps_pause(x->sess);
	tst_expect(x, "250 2.1.5 Ok\r\n");
	tst_drain(x, 50);
	tst_read(x);
	assert_int_equal(x->in_len, 0); /* NOOP not processed */
	smtps_resume(x->sess);
	tst_expect(x, "250 2.0.0 Ok\r\n");
}

static void
test_body_and_pipelined_quit(void **state)
{
	TST_OR_SKIP(x);
	static const char want[] = "Subject: t\r\n\r\n.\r\n.x\r\nline\r\n";

	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		      "354 End data with <CR><LF>.<CR><LF>\r\n");
	tst_send(x, "Subject: t\r\n\r\n..\r\n");
	tst_drain(x, 20);
	tst_send(x, "..x\r\nline\r\n.\r\nQUIT\r\n");
	tst_expect(x, "250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n");
	tst_expect_eof(x);
	assert_int_equal(x->body_len, sizeof(want) - 1);
	assert_memory_equal(x->body, want, sizeof(want) - 1);
	assert_true(x->body_calls >= 2);
	assert_int_equal(x->info.size, sizeof(want) - 1);
	assert_int_equal(x->info.anomalies, 0);
	assert_false(x->info.oversize);
	assert_int_equal(smtps_session_messages(x->sess), 1);
}

/*
 * A body that fills the receive buffer is read into a lent 64 KiB buffer
 * (few, large on_body calls), the bytes come out exactly, and commands
 * pipelined after the dot still work once the buffer is given back.
 */
static void
test_body_lent_buffer(void **state)
{
	TST_OR_SKIP(x);
	static char wire[70000], want[65536];
	size_t wl = 0, nl = 0;

	for (int i = 0; i < 600; i++) { /* 100-byte lines, some stuffed */
		char line[101];

		memset(line, 'a' + i % 26, 98);
		line[98] = '\r';
		line[99] = '\n';
		line[100] = '\0';
		if (i % 50 == 0) {
			wire[wl++] = '.';
			line[0] = '.';
		}
		memcpy(wire + wl, line, 100);
		wl += 100;
		memcpy(want + nl, line, 100);
		nl += 100;
	}
	memcpy(wire + wl,
	       ".\r\nMAIL FROM:<c@x.test>\r\nRCPT TO:<d@y.test>\r\n"
	       "DATA\r\nsecond\r\n.\r\nQUIT\r\n",
	       sizeof(".\r\nMAIL FROM:<c@x.test>\r\nRCPT TO:<d@y.test>\r\n"
		      "DATA\r\nsecond\r\n.\r\nQUIT\r\n"));
	memcpy(want + nl, "second\r\n", 8);
	nl += 8;

	x->cfg.recv_buf = 4096;
	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		      "354 End data with <CR><LF>.<CR><LF>\r\n");
	tst_send(x, wire);
	tst_expect(x, "250 2.0.0 Ok: queued\r\n250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		      "354 End data with <CR><LF>.<CR><LF>\r\n"
		      "250 2.0.0 Ok: queued\r\n221 2.0.0 Bye\r\n");
	tst_expect_eof(x);
	assert_int_equal(x->body_len, nl);
	assert_memory_equal(x->body, want, nl);
	/* 4 KiB reads would take >= 15 calls for 60,000 bytes */
	assert_true(x->body_calls < 10);
	assert_int_equal(smtps_session_messages(x->sess), 2);
}

/*
 * body_buf: the body is decoded straight into the owner's buffer (on_body
 * gets that pointer), byte-exact with dots unstuffed, also when the owner
 * offers its buffer only every other time; never asked outside DATA.
 */
static void
test_body_owner_buffer(void **state)
{
	TST_OR_SKIP(x);
	static const char want[] = "Subject: t\r\n\r\n.\r\n.x\r\nline\r\n";
	static char wire[70000], big[65536];
	size_t wl = 0, nl = 0;

	for (int i = 0; i < 600; i++) { /* 100-byte lines, some stuffed */
		if (i % 40 == 0)
			wire[wl++] = '.';
		memset(wire + wl, 'a' + i % 26, 98);
		memcpy(wire + wl + 98, "\r\n", 2);
		if (i % 40 == 0)
			wire[wl] = '.'; /* "..aaa": the line is ".aaa" */
		memcpy(big + nl, wire + wl, 100);
		wl += 100;
		nl += 100;
	}
	memcpy(wire + wl, ".\r\n", 4);
	x->own_mode = 1;
	x->cfg.recv_buf = 4096;
	tst_start(x);
	tst_ehlo(x);
	assert_int_equal(x->own_asked, 0);
	tst_send(x, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		      "354 End data with <CR><LF>.<CR><LF>\r\n");
	tst_send(x, "Subject: t\r\n\r\n..\r\n");
	tst_drain(x, 20);
	tst_send(x, "..x\r\nline\r\n.\r\n");
	tst_expect(x, "250 2.0.0 Ok: queued\r\n");
	assert_int_equal(x->body_len, sizeof(want) - 1);
	assert_memory_equal(x->body, want, sizeof(want) - 1);
	assert_true(x->own_bodies >= 2);
	assert_int_equal(x->own_bodies, x->body_calls);
	/* Every other time: scratch and owner's buffer mixed. */
	x->own_mode = 2;
	x->own_asked = x->own_bodies = x->body_calls = 0;
	x->body_len = 0;
	tst_send(x, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		      "354 End data with <CR><LF>.<CR><LF>\r\n");
	tst_send(x, wire);
	tst_expect(x, "250 2.0.0 Ok: queued\r\n");
	assert_int_equal(x->body_len, nl);
	assert_memory_equal(x->body, big, nl);
	assert_true(x->own_bodies > 0 && x->own_bodies < x->body_calls);
	assert_int_equal(x->info.size, nl);
}

static void
test_body_anomalies_counted(void **state)
{
	TST_OR_SKIP(x);

	tst_start(x);
	tst_ehlo(x);
	tst_send(x, "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\nDATA\r\n");
	tst_expect(x, "250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n"
		      "354 End data with <CR><LF>.<CR><LF>\r\n");
	tst_send(x, "a\n.\nb\r\n.\r\n");
	tst_expect(x, "250 2.0.0 Ok: queued\r\n");
	assert_non_null(x->info.stats);
	assert_int_equal(x->info.stats->an[SDATA_AN_LF_DOT_LF], 1);
	assert_true(x->info.anomalies >= 1);
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, tst_setup, tst_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_greeting_and_ehlo_caps),
	    T(test_half_close_gets_replies),
	    T(test_caps_hidden),
	    T(test_pipelined_batch_one_send),
	    T(test_async_reply_holds_input),
	    T(test_pause_resume),
	    T(test_pause_reply_still_sent),
	    T(test_body_and_pipelined_quit),
	    T(test_body_anomalies_counted),
	    T(test_body_lent_buffer),
	    T(test_body_owner_buffer),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
