/* SPDX-License-Identifier: MIT */
/*
 * smtpc_fake_fixture.c: the fixture of the client tests on the fake ring
 * (see smtpc_fake_fixture.h).  cmocka assertions; completions are
 * delivered by hand through fake_ring.h.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "smtpc_fake_fixture.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct smtpc_msg *
ffx_next_msg(struct smtpc *s, void *arg)
{
	struct fx *f = arg;

	(void)s;
	return f->taken < f->nmsg ? &f->msg[f->taken++].m : NULL;
}

static void
ffx_msg_done(struct smtpc *s, struct smtpc_msg *m, void *arg)
{
	struct fx *f = arg;

	(void)s;
	(void)m;
	f->done++;
}

static void
ffx_on_close(struct smtpc *s, const struct smtpc_result *why, void *arg)
{
	struct fx *f = arg;

	assert_ptr_equal(s, f->s);
	f->why = *why;
	f->closed++;
	f->s = NULL;
}

static const struct smtpc_ops ffx_ops = {
    .next_msg = ffx_next_msg,
    .on_msg_done = ffx_msg_done,
    .on_close = ffx_on_close,
};

void
ffx_msg_init(struct ffx_tmsg *t)
{
	memset(t, 0, sizeof(*t));
	t->m.from = "a@example.org";
	t->m.body_fd = 1000; /* never touched: reads go through the fake */
	t->m.body_off = 7;
	t->m.body_len = strlen(FFX_BODY_IN);
	t->rc[0].addr = "b@example.net";
	t->rc[1].addr = "c@example.net";
	t->m.rcpt = t->rc;
	t->m.nrcpt = 2;
}

int
ffx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct sockaddr_in *sin;
	int err = 0;

	assert_non_null(f);
	f->r = ring_new(NULL, &err);
	assert_non_null(f->r);
	sin = (struct sockaddr_in *)&f->o.dst;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(25);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->o.dst_len = sizeof(*sin);
	f->o.mx_host = "mx.example";
	f->o.ehlo_name = "client.example";
	smtpc_timeouts_default(&f->o.tmo);
	ffx_msg_init(&f->msg[0]);
	ffx_msg_init(&f->msg[1]);
	*state = f;
	return 0;
}

/* Make and start a new session (the previous one must have closed). */
void
ffx_start(struct fx *f)
{
	assert_null(f->s);
	f->closed = f->done = f->taken = 0;
	f->s = smtpc_new(f->r, &f->o, &ffx_ops, f);
	assert_int_equal(smtpc_start(f->s), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CONNECT);
}

/* Cancel if still open, deliver every cancelled completion, reap. */
void
ffx_end(struct fx *f)
{
	if (f->s != NULL)
		smtpc_cancel(f->s);
	for (int i = 0; i < 4 && f->closed == 0; i++) {
		(void)fake_ring_complete_cancelled();
		(void)fake_ring_run_tasks();
	}
	assert_int_equal(f->closed, 1);
	assert_null(f->s);
	assert_int_equal(fake_ring_count(), 0);
	assert_int_equal(ring_inflight(f->r), 0);
	assert_int_equal(timer_heap_count(ring_timers(f->r)), 0);
}

int
ffx_teardown(void **state)
{
	struct fx *f = *state;

	if (f->s != NULL || f->closed == 0)
		ffx_end(f);
	ring_free(f->r);
	free(f);
	return 0;
}

/* The armed send must hold exactly want; complete it in full. */
void
ffx_expect_sent(const char *want)
{
	size_t len;
	const char *got = fake_ring_sent(&len);

	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	(void)fake_ring_send_complete(SIZE_MAX);
}

void
ffx_connect(struct fx *f)
{
	struct fake_op *c = fake_ring_pending(RING_OP_CONNECT);

	assert_non_null(c);
	assert_int_equal(fake_ring_complete(c, 0), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BANNER);
	assert_non_null(fake_ring_pending(RING_OP_RECV));
}

/* Connect, greet, EHLO sent; the reply is the test's. */
void
ffx_to_ehlo(struct fx *f)
{
	ffx_start(f);
	ffx_connect(f);
	fake_ring_recv_str(FFX_BANNER);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_EHLO);
	ffx_expect_sent(FFX_EHLO);
}

/* nmsg messages offered; connect, greet, EHLO answered with PIPELINING:
 * the session must then be in state want. */
void
ffx_to_ready(struct fx *f, unsigned nmsg, enum smtpc_state want)
{
	f->nmsg = nmsg;
	ffx_to_ehlo(f);
	fake_ring_recv_str(FFX_EHLO_PIPE);
	assert_int_equal(smtpc_get_state(f->s), want);
}

/* Up to the pipelined group of msg[0] being armed (not completed). */
void
ffx_to_group(struct fx *f)
{
	ffx_to_ready(f, 1, SMTPC_S_TXN);
}

/* Up to the body read being armed after "354". */
void
ffx_to_body(struct fx *f)
{
	ffx_to_group(f);
	ffx_expect_sent(FFX_GROUP);
	fake_ring_recv_str("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BODY);
}

void
ffx_expect_closed(struct fx *f, enum smtpc_fail fail, enum smtpc_stage stage,
		  int err, int code)
{
	ffx_end(f);
	assert_int_equal(f->why.fail, fail);
	if (stage != FFX_STAGE_ANY)
		assert_int_equal(f->why.stage, stage);
	assert_int_equal(f->why.err, err);
	assert_int_equal(f->why.code, code);
}

/* The body's wire bytes, written plainly: "." doubled at a line start. */
size_t
ffx_stuffed(const char *in, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		if (in[i] == '.' && (i == 0 || in[i - 1] == '\n'))
			out[o++] = '.';
		out[o++] = in[i];
	}
	memcpy(out + o, ".\r\n", 3);
	return o + 3;
}
