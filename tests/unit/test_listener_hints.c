/* SPDX-License-Identifier: MIT */
/*
 * test_listener_hints: where the listener begins and ends commit hints,
 * over real SMTP sessions on 127.0.0.1 (spool_fixture.c for the ring and
 * the spool).  A session from relay_networks (a trusted injector) holds a
 * hint from its connection on, through EHLO and MAIL, until its commit,
 * RSET, QUIT or loss; an untrusted one only from MAIL.  A batch started
 * while a trusted session had only connected waits for its message.
 * Skips loudly without io_uring.
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
#include "ring.h"
#include "spool.h"
#include "spool_fixture.h"

struct tlh {
	struct config *cfg;
	struct listener *l;
	struct sockaddr_in sa;
};

/* A listener on 127.0.0.1:0 trusting relay (a CIDR list). */
static void
tlh_start(struct spfx *f, struct tlh *x, const char *relay)
{
	struct config_err_list errs;
	const char *bound;
	unsigned port;
	char conf[256];

	snprintf(conf, sizeof(conf),
		 "[server]\nhostname = t.test\n[listener]\n"
		 "address = 127.0.0.1:0\nrelay_networks = %s\n"
		 "max_errors = 3\n",
		 relay);
	config_err_list_init(&errs);
	assert_int_equal(config_load_string("t", conf, &x->cfg, &errs), 0);
	config_err_list_fini(&errs);
	assert_int_equal(
	    listener_new(f->r, x->cfg, f->sp, NULL, NULL, NULL, &x->l), 0);
	bound = listener_bound(x->l, 0);
	assert_non_null(bound);
	assert_int_equal(sscanf(bound, "127.0.0.1:%u", &port), 1);
	memset(&x->sa, 0, sizeof(x->sa));
	x->sa.sin_family = AF_INET;
	x->sa.sin_port = htons((uint16_t)port);
	x->sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void
tlh_stop(struct spfx *f, struct tlh *x)
{
	listener_stop(x->l);
	for (int i = 0; i < 5000 && !listener_idle(x->l); i++)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	assert_true(listener_idle(x->l));
	listener_free(x->l);
	config_free(x->cfg);
}

/* Send line, run the loop until the reply's last line arrives; its code
 * (0: the server closed the connection). */
static int
tlh_chat(struct spfx *f, int fd, const char *line)
{
	char buf[2048];
	size_t len = 0;

	if (line != NULL)
		assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL),
				 (ssize_t)strlen(line));
	for (int i = 0; i < 5000; i++) {
		ssize_t n;

		assert_true(ring_run_once(f->r, 1000000) >= 0);
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n > 0)
			len += (size_t)n;
		buf[len] = '\0';
		for (char *p = buf, *e; (e = strstr(p, "\r\n")) != NULL;
		     p = e + 2)
			if (e - p >= 4 && p[3] == ' ' && e[2] == '\0')
				return atoi(p);
	}
	fail_msg("no reply to %s", line ? line : "(connect)");
	return -1;
}

static int
tlh_connect(struct spfx *f, struct tlh *x)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(
	    connect(fd, (const struct sockaddr *)&x->sa, sizeof(x->sa)), 0);
	assert_int_equal(tlh_chat(f, fd, NULL), 220);
	return fd;
}

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
		struct tlh x;
		int fd, code;

		tlh_start(f, &x, k->trusted ? "127.0.0.0/8" : "10.0.0.0/8");
		fd = tlh_connect(f, &x);
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
			code = tlh_chat(f, fd, k->step[i].line);
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
		tlh_stop(f, &x);
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
	struct tlh x;
	int fd;

	f->o.commit_delay_us = 200000; /* 200 ms: unmistakable */
	spfx_open(f);
	tlh_start(f, &x, "127.0.0.0/8");
	fd = tlh_connect(f, &x);
	batches = spool_stats(f->sp)->batches;
	spfx_submit(f, &t, &c, 1, 100, 1);
	spfx_run_ms(f, 20);
	assert_int_equal(c.calls, 0);
	assert_int_equal(spool_stats(f->sp)->waits, 1);
	assert_int_equal(tlh_chat(f, fd, "EHLO c.test\r\n"), 250);
	assert_int_equal(tlh_chat(f, fd, TLH_MAIL), 250);
	assert_int_equal(tlh_chat(f, fd, TLH_RCPT), 250);
	assert_int_equal(tlh_chat(f, fd, "DATA\r\n"), 354);
	assert_int_equal(c.calls, 0);
	assert_int_equal(tlh_chat(f, fd, TLH_MSG), 250);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.err, 0);
	assert_int_equal(spool_stats(f->sp)->batches, batches + 1);
	assert_int_equal(tlh_chat(f, fd, "QUIT\r\n"), 221);
	close(fd);
	tlh_stop(f, &x);
}

/* Connected, banner read, EHLO answered. */
static int
tlh_ehlo(struct spfx *f, struct tlh *x)
{
	int fd = tlh_connect(f, x);

	assert_int_equal(tlh_chat(f, fd, "EHLO c.test\r\n"), 250);
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
	struct tlh x;
	int fds[50], code;

	spfx_open(f);
	tlh_start(f, &x, "127.0.0.0/8");
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
			code = tlh_chat(f, fd, k->step[i].line);
			if (code != k->step[i].code)
				fail_msg("%s: step %zu: %d", k->name, i, code);
		}
		if (spool_hints(f->sp) != k->during)
			fail_msg("%s: %u hints, want %u", k->name,
				 spool_hints(f->sp), k->during);
		if (k->end != NULL &&
		    (code = tlh_chat(f, fd, k->end)) != k->end_code)
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
		assert_int_equal(tlh_chat(f, fds[i], TLH_MAIL), 250);
	}
	assert_int_equal(spool_hints(f->sp), nitems(fds));
	for (size_t i = 0; i < nitems(fds); i++)
		close(fds[i]);
	assert_int_equal(tlh_settle(f), 0);
	tlh_stop(f, &x);
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
