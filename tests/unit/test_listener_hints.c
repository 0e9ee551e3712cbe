/* SPDX-License-Identifier: MIT */
/*
 * test_listener_hints: where the listener begins and ends commit hints,
 * over real SMTP sessions on 127.0.0.1 (spool_fixture.c for the ring and
 * the spool, listener_fixture.c for the listener).  A session from
 * relay_networks (a trusted injector) holds a hint from its connection
 * on, through EHLO and MAIL, until its commit, RSET, QUIT or loss; an
 * untrusted one only from MAIL.  A batch started while a trusted session
 * had only connected waits for its message.  Skips loudly without
 * io_uring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "listener.h"
#include "listener_fixture.h"
#include "ring.h"
#include "spool.h"
#include "spool_fixture.h"

#define TLH_MAIL "MAIL FROM:<a@s.test>\r\n"
#define TLH_RCPT "RCPT TO:<b@d.test>\r\n"
#define TLH_MSG  "Subject: t\r\n\r\nhello\r\n.\r\n"

struct tlh_case {
	const char *name;
	bool trusted;
	unsigned at_connect; /* hints once the banner is in */
	struct {
		const char *line; /* NULL: drop (code -1) or the end (0) */
		int code;
		unsigned hints; /* after the reply */
	} step[8];
};

static const struct tlh_case tlh_cases[] = {
    {"trusted: connect to commit",
     true,
     1,
     {{"EHLO c.test\r\n", 250, 1},
      {"EHLO c.test\r\n", 250, 1},
      {TLH_MAIL, 250, 1},
      {TLH_RCPT, 250, 1},
      {"DATA\r\n", 354, 1},
      {TLH_MSG, 250, 0},
      {"QUIT\r\n", 221, 0}}},
    {"trusted: next message from MAIL",
     true,
     1,
     {{"EHLO c.test\r\n", 250, 1},
      {TLH_MAIL, 250, 1},
      {"RSET\r\n", 250, 0},
      {"EHLO c.test\r\n", 250, 0},
      {TLH_MAIL, 250, 1},
      {"EHLO c.test\r\n", 250, 0}}},
    {"trusted: QUIT at once", true, 1, {{"QUIT\r\n", 221, 0}}},
    {"trusted: dropped after EHLO",
     true,
     1,
     {{"EHLO c.test\r\n", 250, 1}, {NULL, -1, 0}}},
    {"trusted: MAIL refused by the engine",
     true,
     1,
     {{"EHLO c.test\r\n", 250, 1},
      {"MAIL FROM:<\xc3\xa9@s.test>\r\n", 553, 1},
      {"QUIT\r\n", 221, 0}}},
    {"untrusted: from MAIL only",
     false,
     0,
     {{"EHLO c.test\r\n", 250, 0},
      {TLH_MAIL, 250, 1},
      {"RSET\r\n", 250, 0},
      {"QUIT\r\n", 221, 0}}},
};

/* Run the loop until no hint is left (a dropped client is noticed). */
static unsigned
tlh_settle(struct spfx *f)
{
	for (int i = 0; i < 2000 && spool_hints(f->sp) > 0; i++)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	return spool_hints(f->sp);
}

static void
test_hint_steps(void **state)
{
	SPFX();

	spfx_open(f);
	for (size_t c = 0; c < nitems(tlh_cases); c++) {
		const struct tlh_case *k = &tlh_cases[c];
		struct lfx x;
		int fd, code;

		lfx_start(f, &x, "t.test",
			  k->trusted ? "127.0.0.0/8" : "10.0.0.0/8");
		fd = lfx_connect(f, &x);
		if (spool_hints(f->sp) != k->at_connect)
			fail_msg("%s: %u hints at connect", k->name,
				 spool_hints(f->sp));
		for (size_t i = 0; i < nitems(k->step); i++) {
			if (k->step[i].line == NULL && k->step[i].code == 0)
				break; /* the table's unused tail */
			if (k->step[i].line == NULL) {
				close(fd);
				fd = -1;
				if (tlh_settle(f) != 0)
					fail_msg("%s: hint kept after a drop",
						 k->name);
				break;
			}
			code = lfx_chat(f, fd, k->step[i].line);
			if (code != k->step[i].code)
				fail_msg("%s: step %zu: %d", k->name, i, code);
			if (spool_hints(f->sp) != k->step[i].hints)
				fail_msg("%s: step %zu: %u hints", k->name, i,
					 spool_hints(f->sp));
		}
		if (fd >= 0)
			close(fd);
		if (tlh_settle(f) != 0)
			fail_msg("%s: hints left", k->name);
		lfx_stop(f, &x);
	}
	assert_int_equal(spool_stats(f->sp)->messages, 1);
}

/* A batch begun while a trusted session has only connected waits for
 * that session's message, and both share one fdatasync. */
static void
test_wait_for_fresh_session(void **state)
{
	SPFX();
	struct spool_txn t = {0};
	struct spfx_cres c;
	uint64_t batches;
	struct lfx x;
	int fd;

	f->o.commit_delay_us = 200000; /* 200 ms: unmistakable */
	spfx_open(f);
	lfx_start(f, &x, "t.test", "127.0.0.0/8");
	fd = lfx_connect(f, &x);
	batches = spool_stats(f->sp)->batches;
	spfx_submit(f, &t, &c, 1, 100, 1);
	spfx_run_ms(f, 20);
	assert_int_equal(c.calls, 0);
	assert_int_equal(spool_stats(f->sp)->waits, 1);
	assert_int_equal(lfx_chat(f, fd, "EHLO c.test\r\n"), 250);
	assert_int_equal(lfx_chat(f, fd, TLH_MAIL), 250);
	assert_int_equal(lfx_chat(f, fd, TLH_RCPT), 250);
	assert_int_equal(lfx_chat(f, fd, "DATA\r\n"), 354);
	assert_int_equal(c.calls, 0);
	assert_int_equal(lfx_chat(f, fd, TLH_MSG), 250);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.err, 0);
	assert_int_equal(spool_stats(f->sp)->batches, batches + 1);
	assert_int_equal(lfx_chat(f, fd, "QUIT\r\n"), 221);
	close(fd);
	lfx_stop(f, &x);
}

/* Connected, banner read, EHLO answered. */
static int
tlh_ehlo(struct spfx *f, struct lfx *x)
{
	int fd = lfx_connect(f, x);

	assert_int_equal(lfx_chat(f, fd, "EHLO c.test\r\n"), 250);
	return fd;
}

#define TLH_BODY "Subject: t\r\n\r\nhello\r\n"

struct tlh_sess_case {
	const char *name;
	struct {
		const char *line;
		int code; /* expected reply; -1: send only */
	} step[6];
	unsigned during; /* hints after the steps */
	const char *end; /* ends the session; NULL: drop the connection */
	int end_code;
};

static const struct tlh_sess_case tlh_sess_cases[] = {
    {"RSET", {{TLH_MAIL, 250}, {TLH_RCPT, 250}}, 1, "RSET\r\n", 250},
    {"QUIT", {{TLH_MAIL, 250}, {TLH_RCPT, 250}}, 1, "QUIT\r\n", 221},
    {"EHLO", {{TLH_MAIL, 250}}, 1, "EHLO c.test\r\n", 250},
    {"drop after MAIL", {{TLH_MAIL, 250}}, 1, NULL, 0},
    {"drop in the body",
     {{TLH_MAIL, 250},
      {TLH_RCPT, 250},
      {"DATA\r\n", 354},
      {"Subject: t\r\n\r\npart", -1}},
     1,
     NULL,
     0},
    {"committed",
     {{TLH_MAIL, 250},
      {TLH_RCPT, 250},
      {"DATA\r\n", 354},
      {TLH_BODY ".\r\n", 250}},
     0,
     "QUIT\r\n",
     221},
    {"refused at the end of data",
     {{TLH_MAIL, 250},
      {TLH_RCPT, 250},
      {"DATA\r\n", 354},
      {"X-Binding: nope\r\n\r\nx\r\n.\r\n", 550}},
     0,
     "QUIT\r\n",
     221},
    {"bad line endings",
     {{TLH_MAIL, 250},
      {TLH_RCPT, 250},
      {"DATA\r\n", 354},
      {"a\nb\r\n.\r\n", 550}},
     0,
     NULL,
     0},
    {"refused MAIL", {{"MAIL FROM:<\xc3\xa9@s.test>\r\n", 553}}, 1, NULL, 0},
    {"no valid recipient",
     {{TLH_MAIL, 250}, {"RCPT TO:<a@b@c>\r\n", 554}, {"DATA\r\n", 554}},
     1,
     "QUIT\r\n",
     221},
    {"nested MAIL", {{TLH_MAIL, 250}, {TLH_MAIL, 503}}, 1, "RSET\r\n", 250},
    {"too many errors",
     {{TLH_MAIL, 250}, {"FOO\r\n", 500}, {"FOO\r\n", 500}},
     1,
     "FOO\r\n",
     421},
};

/*
 * Every way a transaction ends returns the hint count to zero (trusted
 * sessions: the hint stays from connect until the session ends or
 * commits; the engine's own 553 to MAIL does not end it).
 */
static void
test_listener_hints(void **state)
{
	SPFX();
	struct lfx x;
	int fds[50], code;

	spfx_open(f);
	lfx_start(f, &x, "t.test", "127.0.0.0/8");
	for (size_t c = 0; c < nitems(tlh_sess_cases); c++) {
		const struct tlh_sess_case *k = &tlh_sess_cases[c];
		int fd = tlh_ehlo(f, &x);

		for (size_t i = 0; i < nitems(k->step) && k->step[i].line;
		     i++) {
			if (k->step[i].code < 0) {
				const char *p = k->step[i].line;

				assert_int_equal(send(fd, p, strlen(p), 0),
						 (ssize_t)strlen(p));
				spfx_run_ms(f, 5);
				continue;
			}
			code = lfx_chat(f, fd, k->step[i].line);
			if (code != k->step[i].code)
				fail_msg("%s: step %zu: %d", k->name, i, code);
		}
		if (spool_hints(f->sp) != k->during)
			fail_msg("%s: %u hints, want %u", k->name,
				 spool_hints(f->sp), k->during);
		if (k->end != NULL &&
		    (code = lfx_chat(f, fd, k->end)) != k->end_code)
			fail_msg("%s: end: %d", k->name, code);
		/* RSET, EHLO and QUIT drop the hint at once */
		if (k->end != NULL && code != 421 && spool_hints(f->sp) != 0)
			fail_msg("%s: hint kept", k->name);
		close(fd);
		if (tlh_settle(f) != 0)
			fail_msg("%s: %u hints left", k->name,
				 spool_hints(f->sp));
	}
	assert_int_equal(spool_stats(f->sp)->messages, 1);

	/* Fifty sessions in a transaction at once, then all dropped. */
	for (size_t i = 0; i < nitems(fds); i++) {
		fds[i] = tlh_ehlo(f, &x);
		assert_int_equal(lfx_chat(f, fds[i], TLH_MAIL), 250);
	}
	assert_int_equal(spool_hints(f->sp), nitems(fds));
	for (size_t i = 0; i < nitems(fds); i++)
		close(fds[i]);
	assert_int_equal(tlh_settle(f), 0);
	lfx_stop(f, &x);
}

int
main(void)
{
#define T(x) cmocka_unit_test_setup_teardown(x, spfx_setup, spfx_teardown)
	const struct CMUnitTest tests[] = {
	    T(test_hint_steps),
	    T(test_wait_for_fresh_session),
	    T(test_listener_hints),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
