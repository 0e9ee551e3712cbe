/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_server: the inbound ESMTP engine on a real ring, the client
 * being the other end of a socketpair (or loopback TCP for the listener).
 * Greeting, EHLO capabilities, a pipelined batch answered in one send,
 * asynchronous replies from a timer, body chunks and end of data with a
 * pipelined QUIT, line too long, the error limit, idle timeout, early
 * talker, bad sequences, pipelining without PIPELINING, size limits,
 * recipient limit, drop, BDAT, the connection limit and the footprint.
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

/* The engine asks body_buf for at most this (its scratch's size). */
#define SMTPS_SCRATCH_TEST 16384

/* The owner: records what the engine asks and answers as told. */
struct tst {
	struct ring *r;
	struct smtps_server *srv;
	struct smtps_config cfg;
	int cfd; /* client end */
	char in[65536];
	size_t in_len;
	/* owner behaviour */
	enum smtps_stage async_stage; /* answer this stage from a timer */
	int64_t async_ns;
	enum smtps_stage drop_stage; /* smtps_drop() at this stage */
	bool pause_on_body;          /* smtps_pause() in the next on_body */
	unsigned own_mode; /* body_buf: 0 NULL, 1 own[], 2 own[] every 2nd */
	char own[SMTPS_SCRATCH_TEST];
	unsigned own_asked, own_bodies;
	const char *own_given; /* what body_buf returned last */
	struct timer tm;
	struct smtps_session *sess;
	/* records */
	unsigned asked[SMTPS_STAGE__COUNT];
	char body[65536];
	size_t body_len;
	unsigned body_calls;
	struct smtps_data_info info;
	bool closed;
	enum smtps_close_why why;
	char helo[300];
	char rcpt[300];
};

static void
tst_timer(struct timer *t)
{
	struct tst *x = container_of(t, struct tst, tm);

	assert_int_equal(smtps_reply(x->sess, 0, NULL), 0);
}

static void
tst_ask(struct smtps_session *s, enum smtps_stage st)
{
	struct tst *x = smtps_server_udata(smtps_session_server(s));

	x->asked[st]++;
	x->sess = s;
	assert_int_equal(smtps_pending(s), st);
	if (x->drop_stage == st) {
		smtps_drop(s);
		return;
	}
	if (x->async_stage == st) {
		timer_arm(ring_timers(x->r), &x->tm,
			  ring_now(x->r) + x->async_ns);
		return;
	}
	assert_int_equal(smtps_reply(s, 0, NULL), 0);
}

static void
tst_on_connect(struct smtps_session *s)
{
	tst_ask(s, SMTPS_STAGE_GREETING);
}

static void
tst_on_helo(struct smtps_session *s, bool ehlo, const char *name)
{
	struct tst *x = smtps_server_udata(smtps_session_server(s));

	(void)ehlo;
	snprintf(x->helo, sizeof(x->helo), "%s", name);
	tst_ask(s, SMTPS_STAGE_HELO);
}

static void
tst_on_mail(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	(void)cmd;
	tst_ask(s, SMTPS_STAGE_MAIL);
}

static void
tst_on_rcpt(struct smtps_session *s, const struct smtpp_cmd *cmd)
{
	struct tst *x = smtps_server_udata(smtps_session_server(s));

	smtpp_addr_str(&cmd->path, x->rcpt, sizeof(x->rcpt));
	tst_ask(s, SMTPS_STAGE_RCPT);
}

static void
tst_on_data(struct smtps_session *s)
{
	tst_ask(s, SMTPS_STAGE_DATA);
}

static void
tst_on_body(struct smtps_session *s, const char *buf, size_t len)
{
	struct tst *x = smtps_server_udata(smtps_session_server(s));

	assert_true(x->body_len + len <= sizeof(x->body));
	if (x->own_given != NULL) { /* decoded where body_buf said */
		assert_ptr_equal(buf, x->own_given);
		x->own_bodies++;
	}
	x->own_given = NULL;
	memcpy(x->body + x->body_len, buf, len);
	x->body_len += len;
	x->body_calls++;
	if (x->pause_on_body) {
		x->pause_on_body = false;
		smtps_pause(s);
		smtps_pause(s); /* idempotent */
		assert_true(smtps_paused(s));
	}
}

static char *
tst_body_buf(struct smtps_session *s, size_t len)
{
	struct tst *x = smtps_server_udata(smtps_session_server(s));

	assert_true(len > 0 && len <= sizeof(x->own));
	x->own_asked++;
	x->own_given = NULL;
	if (x->own_mode == 0 || (x->own_mode == 2 && x->own_asked % 2))
		return NULL;
	memset(x->own, 'Z', sizeof(x->own)); /* nothing stale shows */
	x->own_given = x->own;
	return x->own;
}

static void
tst_on_data_end(struct smtps_session *s, const struct smtps_data_info *info)
{
	struct tst *x = smtps_server_udata(smtps_session_server(s));

	x->info = *info;
	if (info->oversize) {
		x->asked[SMTPS_STAGE_DOT]++;
		assert_int_equal(smtps_reply(s, 250, NULL), -EALREADY);
		return;
	}
	tst_ask(s, SMTPS_STAGE_DOT);
}

static void
tst_on_rset(struct smtps_session *s)
{
	tst_ask(s, SMTPS_STAGE_RSET);
}

static void
tst_on_quit(struct smtps_session *s)
{
	tst_ask(s, SMTPS_STAGE_QUIT);
}

static void
tst_on_close(struct smtps_session *s, enum smtps_close_why why)
{
	struct tst *x = smtps_server_udata(smtps_session_server(s));

	x->closed = true;
	x->why = why;
	timer_cancel(ring_timers(x->r), &x->tm);
	assert_int_equal(smtps_reply(s, 250, NULL), -ECONNRESET);
}

static const struct smtps_ops tst_ops = {
    .on_connect = tst_on_connect,
    .on_helo = tst_on_helo,
    .on_mail = tst_on_mail,
    .on_rcpt = tst_on_rcpt,
    .on_data = tst_on_data,
    .on_body = tst_on_body,
    .body_buf = tst_body_buf,
    .on_data_end = tst_on_data_end,
    .on_rset = tst_on_rset,
    .on_quit = tst_on_quit,
    .on_close = tst_on_close,
};

static int
setup(void **state)
{
	struct tst *x = calloc(1, sizeof(*x));

	x->r = sfx_ring_new();
	if (x->r == NULL) {
		free(x);
		*state = NULL;
		return 0;
	}
	sfx_config(&x->cfg);
	x->cfd = -1;
	timer_init(&x->tm, tst_timer);
	*state = x;
	return 0;
}

static void
tst_drain(struct tst *x, int ms)
{
	sfx_drain(x->r, ms);
}

static int
teardown(void **state)
{
	struct tst *x = *state;

	if (x == NULL)
		return 0;
	sfx_teardown(x->r, x->srv, x->cfd);
	free(x);
	return 0;
}

#define TST_OR_SKIP(x)                                                         \
	struct tst *x = *state;                                                \
	if (x == NULL)                                                         \
	skip()

/* Start the server and one session over a socketpair. */
static void
tst_start(struct tst *x)
{
	x->cfd = sfx_start(x->r, &x->cfg, &tst_ops, x, &x->srv);
}

static void
tst_send(struct tst *x, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(write(x->cfd, s, n), (ssize_t)n);
}

/* Read what the server sent; returns false at EOF. */
static bool
tst_read(struct tst *x)
{
	for (;;) {
		ssize_t n = read(x->cfd, x->in + x->in_len,
				 sizeof(x->in) - x->in_len - 1);

		if (n > 0) {
			x->in_len += (size_t)n;
			x->in[x->in_len] = '\0';
			continue;
		}
		return n != 0;
	}
}

/* Run the ring until the client has want bytes, EOF, or 3 s. */
static void
tst_wait(struct tst *x, size_t want)
{
	int64_t end = ring_now_update(x->r) + 3000000000LL;

	while (x->in_len < want && ring_now_update(x->r) < end) {
		assert_true(ring_run_once(x->r, 5000000) >= 0);
		if (!tst_read(x))
			return;
	}
}

/* Expect exactly s next from the server, and consume it. */
static void
tst_expect(struct tst *x, const char *s)
{
	size_t n = strlen(s);

	tst_wait(x, n);
	if (x->in_len < n || memcmp(x->in, s, n) != 0) {
		fprintf(stderr, "expected: [%s]\n     got: [%.*s]\n", s,
			(int)x->in_len, x->in);
		fail();
	}
	memmove(x->in, x->in + n, x->in_len - n);
	x->in_len -= n;
	x->in[x->in_len] = '\0';
}

/* Expect the connection to be closed (EOF) within 3 s, nothing else. */
static void
tst_expect_eof(struct tst *x)
{
	int64_t end = ring_now_update(x->r) + 3000000000LL;

	while (ring_now_update(x->r) < end) {
		assert_true(ring_run_once(x->r, 5000000) >= 0);
		if (!tst_read(x)) {
			assert_int_equal(x->in_len, 0);
			return;
		}
	}
	fail_msg("no EOF");
}

/* Expect the stream to end with tail, then EOF. */
static void
tst_expect_eof_after(struct tst *x, const char *tail)
{
	int64_t end = ring_now_update(x->r) + 3000000000LL;
	size_t n = strlen(tail);

	while (ring_now_update(x->r) < end) {
		assert_true(ring_run_once(x->r, 5000000) >= 0);
		if (!tst_read(x)) {
			assert_true(x->in_len >= n);
			assert_memory_equal(x->in + x->in_len - n, tail, n);
			return;
		}
	}
	fail_msg("no EOF");
}

static void
tst_ehlo(struct tst *x)
{
	tst_expect(x, "220 test.host ESMTP\r\n");
	tst_send(x, "EHLO client.test\r\n");
	tst_expect(x, "250-test.host\r\n");
	tst_wait(x, 1);
	/* skip the capability lines */
	for (;;) {
		char *nl = strstr(x->in, "\r\n");

		if (nl == NULL) {
			tst_wait(x, x->in_len + 1);
			continue;
		}
		bool last = strncmp(x->in, "250 ", 4) == 0;
		size_t n = (size_t)(nl + 2 - x->in);

		memmove(x->in, x->in + n, x->in_len - n);
		x->in_len -= n;
		x->in[x->in_len] = '\0';
		if (last)
			break;
	}
}

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
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
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
	    T(test_line_too_long_survives),
	    T(test_error_limit),
	    T(test_idle_timeout),
	    T(test_idle_timer_moves),
	    T(test_body_lent_buffer),
	    T(test_body_owner_buffer),
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
