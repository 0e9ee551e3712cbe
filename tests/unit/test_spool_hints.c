/* SPDX-License-Identifier: MIT */
/*
 * test_spool_hints: when the spool commits, on a real ring
 * (spool_fixture.c).  The commit delay (waits for open transactions only,
 * ends early, bounded, off); commit hints: they hold a small batch back,
 * end it early, expire when leaked; the listener's accounting over real
 * SMTP sessions (committed, refused, RSET, EHLO, QUIT, dropped
 * connections, errors) returns to zero.  Skips loudly without io_uring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "crc32c.h"
#include "listener.h"
#include "log.h"
#include "ring.h"
#include "spool.h"
#include "spool_fixture.h"
#include "spool_int.h"

/* Begin a transaction with some body and leave it open. */
static void
open_txn(struct spfx *f, struct spool_txn *t, uint32_t flags)
{
	struct spfx_env e;
	uint8_t b[64];

	spfx_env_make(&e, 1);
	e.env.flags = flags;
	spfx_body_fill(b, sizeof(b), 1);
	assert_int_equal(spool_txn_begin(f->sp, t, &e.env, NULL, NULL), 0);
	assert_int_equal(spool_txn_body(t, b, sizeof(b)), 0);
}

/* ms since t0 (ring_now scale). */
static int64_t
since_ms(struct spfx *f, int64_t t0)
{
	return (ring_now_update(f->r) - t0) / 1000000;
}

static void
test_commit_delay(void **state)
{
	SPFX();
	struct spool_txn b = {0}, c3 = {0}, t1 = {0}, t2 = {0};
	struct spfx_cres a, a2, bres = {0};
	uint64_t batches;
	int64_t t0;

	f->o.commit_delay_us = 200000; /* 200 ms: unmistakable */
	spfx_open(f);
	/* A lone transaction never waits. */
	t0 = ring_now_update(f->r);
	spfx_commit_one(f, &a, 1, 100);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);

	/* Another one open: the batch waits for it, then both share it. */
	open_txn(f, &b, 0);
	spfx_submit(f, &t1, &a, 2, 100, 1);
	spfx_run_ms(f, 20);
	assert_int_equal(a.calls, 0);
	assert_int_equal(spool_stats(f->sp)->waits, 1);
	batches = spool_stats(f->sp)->batches;
	t0 = ring_now_update(f->r);
	spool_txn_commit(&b, spfx_cres_on_commit, &bres);
	spfx_run_until(f, &bres.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_int_equal(bres.err, 0);
	assert_true(since_ms(f, t0) < 150); /* ended early */
	assert_int_equal(spool_stats(f->sp)->batches, batches + 1);

	/* The sibling never commits: the wait ends at commit_delay. */
	open_txn(f, &b, 0);
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 3, 100, 1);
	spfx_run_until(f, &a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_true(since_ms(f, t0) >= 195);
	assert_non_null(b.in);

	/* An abort of the awaited one ends the wait; one begun during the
	 * wait is not waited for. */
	spfx_submit(f, &t1, &a, 4, 100, 1);
	spfx_run_ms(f, 10);
	assert_int_equal(a.calls, 0);
	open_txn(f, &c3, 0);
	t0 = ring_now_update(f->r);
	spool_txn_abort(&b);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	spool_txn_abort(&c3);

	/* A full batch (max_batch) starts at once. */
	f->o.max_batch = 2;
	spfx_reopen(f);
	open_txn(f, &b, 0);
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 5, 100, 1);
	spfx_submit(f, &t2, &a2, 6, 100, 1);
	spfx_run_until(f, &a2.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);
	spool_txn_abort(&b);

	/* SPOOL_DELAY_OFF: never waits. */
	f->o.max_batch = 0;
	f->o.commit_delay_us = SPOOL_DELAY_OFF;
	spfx_reopen(f);
	open_txn(f, &b, 0);
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 7, 100, 1);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);
	spool_txn_abort(&b);
}

static void
test_commit_hints(void **state)
{
	SPFX();
	struct spool_hint h = {0}, h2 = {0}, many[50];
	struct spool_txn b = {0}, t1 = {0};
	struct spfx_cres a, bres = {0};
	uint64_t batches, waits;
	int64_t t0;

	f->o.commit_delay_us = 200000; /* 200 ms: unmistakable */
	spfx_open(f);
	/* Begin twice counts once, end twice is harmless. */
	assert_int_equal(spool_hints(f->sp), 0);
	spool_hint_begin(f->sp, &h);
	spool_hint_begin(f->sp, &h);
	assert_int_equal(spool_hints(f->sp), 1);
	spool_hint_end(f->sp, &h);
	spool_hint_end(f->sp, &h);
	assert_int_equal(spool_hints(f->sp), 0);
	memset(many, 0, sizeof(many));
	for (unsigned i = 0; i < nitems(many); i++)
		spool_hint_begin(f->sp, &many[i]);
	assert_int_equal(spool_hints(f->sp), nitems(many));
	for (unsigned i = nitems(many); i-- > 0;)
		spool_hint_end(f->sp, &many[i]);
	assert_int_equal(spool_hints(f->sp), 0);

	/* A hinted session holds a lone commit back; its end (commit,
	 * RSET, QUIT...) ends the wait early. */
	spool_hint_begin(f->sp, &h);
	spfx_submit(f, &t1, &a, 1, 100, 1);
	spfx_run_ms(f, 20);
	assert_int_equal(a.calls, 0);
	assert_int_equal(spool_stats(f->sp)->waits, 1);
	t0 = ring_now_update(f->r);
	spool_hint_end(f->sp, &h);
	spfx_run_until(f, &a.calls, 1);
	assert_int_equal(a.err, 0);
	assert_true(since_ms(f, t0) < 150);

	/* The listener's order: hint at MAIL, transaction at the end of
	 * the headers, both closed at commit: one batch for both, early. */
	spool_hint_begin(f->sp, &h);
	open_txn(f, &b, 0);
	spfx_submit(f, &t1, &a, 2, 100, 1);
	spfx_run_ms(f, 20);
	assert_int_equal(a.calls, 0);
	batches = spool_stats(f->sp)->batches;
	t0 = ring_now_update(f->r);
	spool_txn_commit(&b, spfx_cres_on_commit, &bres);
	spool_hint_end(f->sp, &h);
	spfx_run_until(f, &bres.calls, 1);
	assert_int_equal(a.calls, 1);
	assert_int_equal(bres.err, 0);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->batches, batches + 1);

	/* A hint begun during the wait is not waited for. */
	spool_hint_begin(f->sp, &h);
	spfx_submit(f, &t1, &a, 3, 100, 1);
	spfx_run_ms(f, 10);
	spool_hint_begin(f->sp, &h2);
	t0 = ring_now_update(f->r);
	spool_hint_end(f->sp, &h);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	spool_hint_end(f->sp, &h2);

	/* A leaked hint: a batch waits commit_delay at most, and once the
	 * hint has expired nothing waits for it. */
	spool_hint_begin(f->sp, &h);
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 4, 100, 1);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) >= 195);
	spfx_run_ms(f, 2 * SPOOL_HINT_TTL_MS + 10);
	assert_int_equal(spool_hints(f->sp), 0);
	waits = spool_stats(f->sp)->waits;
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 5, 100, 1);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, waits);
	spool_hint_end(f->sp, &h); /* late: changes nothing */
	assert_int_equal(spool_hints(f->sp), 0);
	spool_hint_begin(f->sp, &h); /* and it can be used again */
	assert_int_equal(spool_hints(f->sp), 1);
	spool_hint_end(f->sp, &h);

	/* SPOOL_DELAY_OFF: a hint never holds a batch back. */
	f->o.commit_delay_us = SPOOL_DELAY_OFF;
	spfx_reopen(f);
	spool_hint_begin(f->sp, &h);
	t0 = ring_now_update(f->r);
	spfx_submit(f, &t1, &a, 6, 100, 1);
	spfx_run_until(f, &a.calls, 1);
	assert_true(since_ms(f, t0) < 150);
	assert_int_equal(spool_stats(f->sp)->waits, 0);
	spool_hint_end(f->sp, &h);
}

/* --- the listener's hints over real SMTP sessions --- */

struct lfx {
	struct config *cfg;
	struct listener *l;
	struct sockaddr_in sa;
};

static void
lfx_start(struct spfx *f, struct lfx *x)
{
	static const char conf[] = "[server]\nhostname = t.test\n"
				   "[listener]\naddress = 127.0.0.1:0\n"
				   "relay_networks = 127.0.0.0/8\n"
				   "max_errors = 3\n";
	struct config_err_list errs;
	const char *bound;
	unsigned port;

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
lfx_stop(struct spfx *f, struct lfx *x)
{
	listener_stop(x->l);
	for (int i = 0; i < 5000 && !listener_idle(x->l); i++)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	assert_true(listener_idle(x->l));
	listener_free(x->l);
	config_free(x->cfg);
}

/* Send line (if not NULL), run the loop until a final reply arrives;
 * returns its code, or 0 when the server closed the connection. */
static int
lfx_chat(struct spfx *f, int fd, const char *line)
{
	char buf[4096];
	size_t len = 0;
	int code;

	if (line != NULL)
		assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL),
				 (ssize_t)strlen(line));
	for (int i = 0; i < 5000; i++) {
		ssize_t n;
		char *eol;

		assert_true(ring_run_once(f->r, 1000000) >= 0);
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n > 0)
			len += (size_t)n;
		buf[len] = '\0';
		/* the last final line of those complete (replies sent
		 * together, e.g. 500 then 421, arrive together) */
		code = 0;
		for (char *p = buf; (eol = strstr(p, "\r\n")) != NULL;
		     p = eol + 2)
			if (eol - p >= 4 && p[3] == ' ')
				code = atoi(p);
		if (code != 0)
			return code;
	}
	fail_msg("no reply to %s", line ? line : "(connect)");
	return -1;
}

static int
lfx_connect(struct spfx *f, struct lfx *x)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(
	    connect(fd, (const struct sockaddr *)&x->sa, sizeof(x->sa)), 0);
	assert_int_equal(lfx_chat(f, fd, NULL), 220);
	assert_int_equal(lfx_chat(f, fd, "EHLO c.test\r\n"), 250);
	return fd;
}

/* Run the loop until no hint is left (a dropped client is noticed). */
static unsigned
lfx_settle(struct spfx *f)
{
	for (int i = 0; i < 2000 && spool_hints(f->sp) > 0; i++)
		assert_true(ring_run_once(f->r, 1000000) >= 0);
	return spool_hints(f->sp);
}

#define LFX_MAIL "MAIL FROM:<a@s.test>\r\n"
#define LFX_RCPT "RCPT TO:<b@d.test>\r\n"
#define LFX_BODY "Subject: t\r\n\r\nhello\r\n"

struct lfx_case {
	const char *name;
	struct {
		const char *line;
		int code; /* expected reply; -1: send only */
	} step[6];
	unsigned during; /* hints after the steps */
	const char *end; /* ends the session; NULL: drop the connection */
	int end_code;
};

static const struct lfx_case lfx_cases[] = {
    {"RSET", {{LFX_MAIL, 250}, {LFX_RCPT, 250}}, 1, "RSET\r\n", 250},
    {"QUIT", {{LFX_MAIL, 250}, {LFX_RCPT, 250}}, 1, "QUIT\r\n", 221},
    {"EHLO", {{LFX_MAIL, 250}}, 1, "EHLO c.test\r\n", 250},
    {"drop after MAIL", {{LFX_MAIL, 250}}, 1, NULL, 0},
    {"drop in the body",
     {{LFX_MAIL, 250},
      {LFX_RCPT, 250},
      {"DATA\r\n", 354},
      {"Subject: t\r\n\r\npart", -1}},
     1,
     NULL,
     0},
    {"committed",
     {{LFX_MAIL, 250},
      {LFX_RCPT, 250},
      {"DATA\r\n", 354},
      {LFX_BODY ".\r\n", 250}},
     0,
     "QUIT\r\n",
     221},
    {"refused at the end of data",
     {{LFX_MAIL, 250},
      {LFX_RCPT, 250},
      {"DATA\r\n", 354},
      {"X-Binding: nope\r\n\r\nx\r\n.\r\n", 550}},
     0,
     "QUIT\r\n",
     221},
    {"bad line endings",
     {{LFX_MAIL, 250},
      {LFX_RCPT, 250},
      {"DATA\r\n", 354},
      {"a\nb\r\n.\r\n", 550}},
     0,
     NULL,
     0},
    {"refused MAIL", {{"MAIL FROM:<\xc3\xa9@s.test>\r\n", 553}}, 0, NULL, 0},
    {"no valid recipient",
     {{LFX_MAIL, 250}, {"RCPT TO:<a@b@c>\r\n", 554}, {"DATA\r\n", 554}},
     1,
     "QUIT\r\n",
     221},
    {"nested MAIL", {{LFX_MAIL, 250}, {LFX_MAIL, 503}}, 1, "RSET\r\n", 250},
    {"too many errors",
     {{LFX_MAIL, 250}, {"FOO\r\n", 500}, {"FOO\r\n", 500}},
     1,
     "FOO\r\n",
     421},
};

static void
test_listener_hints(void **state)
{
	SPFX();
	struct lfx x;
	int fds[50], code;

	spfx_open(f);
	lfx_start(f, &x);
	for (size_t c = 0; c < nitems(lfx_cases); c++) {
		const struct lfx_case *k = &lfx_cases[c];
		int fd = lfx_connect(f, &x);

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
		if (lfx_settle(f) != 0)
			fail_msg("%s: %u hints left", k->name,
				 spool_hints(f->sp));
	}
	assert_int_equal(spool_stats(f->sp)->messages, 1);

	/* Fifty sessions in a transaction at once, then all dropped. */
	for (size_t i = 0; i < nitems(fds); i++) {
		fds[i] = lfx_connect(f, &x);
		assert_int_equal(lfx_chat(f, fds[i], LFX_MAIL), 250);
	}
	assert_int_equal(spool_hints(f->sp), nitems(fds));
	for (size_t i = 0; i < nitems(fds); i++)
		close(fds[i]);
	assert_int_equal(lfx_settle(f), 0);
	lfx_stop(f, &x);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(x) cmocka_unit_test_setup_teardown(x, spfx_setup, spfx_teardown)
	    T(test_commit_delay),
	    T(test_commit_hints),
	    T(test_listener_hints),
#undef T
	};

	log_init("test_spool_hints");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
