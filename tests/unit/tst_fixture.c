/* SPDX-License-Identifier: MIT */
/*
 * tst_fixture: the fixture of test_smtp_server and test_smtp_server_limits.
 * Owns the owner (struct tst: records what the engine asks, answers as
 * told, now or from a timer), the per-test setup and teardown, and the
 * plaintext client over the socketpair (send, read, expect, EHLO).  The
 * ring and server set-up are smtps_fixture.c's; no test logic here.
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

/* The engine asks body_buf for at most this (its scratch's size). */

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

const struct smtps_ops tst_ops = {
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

int
tst_setup(void **state)
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

void
tst_drain(struct tst *x, int ms)
{
	sfx_drain(x->r, ms);
}

int
tst_teardown(void **state)
{
	struct tst *x = *state;

	if (x == NULL)
		return 0;
	sfx_teardown(x->r, x->srv, x->cfd);
	free(x);
	return 0;
}

/* Start the server and one session over a socketpair. */
void
tst_start(struct tst *x)
{
	x->cfd = sfx_start(x->r, &x->cfg, &tst_ops, x, &x->srv);
}

void
tst_send(struct tst *x, const char *s)
{
	size_t n = strlen(s);

	assert_int_equal(write(x->cfd, s, n), (ssize_t)n);
}

/* Read what the server sent; returns false at EOF. */
bool
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
void
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
void
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
void
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
void
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

void
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
