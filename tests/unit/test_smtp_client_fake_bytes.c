/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_client_fake_bytes: the client session engine on the fake ring
 * (smtpc_fake_fixture.c), byte by byte: banner and EHLO split at every
 * byte, short sends resubmitted from the right offset (and a refused
 * re-arm), completions after CLOSING and a cancel with a read in flight, a
 * large body in place, a long transaction in one send, EOF mid reply,
 * connect errors and the connect, reply and send deadlines.  The state
 * edges are in test_smtp_client_fake.c.
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

#include "fake_ring.h"
#include "smtp_client.h"
#include "smtpc_fake_fixture.h"

/* ---- byte-level -----------------------------------------------------------
 */

static void
test_banner_split_every_byte(void **state)
{
	static const char *const banners[] = {
	    FFX_BANNER,
	    "220-mx.example first\r\n220-second\r\n220 last\r\n",
	};
	struct fx *f = *state;

	for (size_t b = 0; b < nitems(banners); b++) {
		size_t len = strlen(banners[b]);

		for (size_t k = 1; k < len; k++) {
			ffx_start(f);
			ffx_connect(f);
			fake_ring_recv_bytes(banners[b], k);
			assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BANNER);
			assert_null(fake_ring_sent(NULL));
			fake_ring_recv_bytes(banners[b] + k, len - k);
			assert_int_equal(smtpc_get_state(f->s), SMTPC_S_EHLO);
			ffx_expect_sent(FFX_EHLO);
			ffx_end(f);
		}
		/* and one byte per recv */
		ffx_start(f);
		ffx_connect(f);
		fake_ring_recv_split(banners[b], 1);
		ffx_expect_sent(FFX_EHLO);
		ffx_end(f);
	}
}

static void
test_ehlo_multiline_split_every_byte(void **state)
{
	struct fx *f = *state;
	size_t len = strlen(FFX_EHLO_PIPE);

	for (size_t k = 0; k <= len; k++) {
		f->nmsg = 1;
		ffx_to_ehlo(f);
		if (k > 0 && k < len) {
			fake_ring_recv_bytes(FFX_EHLO_PIPE, k);
			assert_int_equal(smtpc_get_state(f->s), SMTPC_S_EHLO);
			assert_null(fake_ring_sent(NULL));
			fake_ring_recv_bytes(&FFX_EHLO_PIPE[k], len - k);
		} else {
			/* k == 0: a byte per recv; k == len: one recv */
			fake_ring_recv_split(FFX_EHLO_PIPE, k == 0 ? 1 : len);
		}
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_TXN);
		assert_true(
		    reply_caps_has(smtpc_caps(f->s), REPLY_CAP_PIPELINING));
		assert_true(
		    reply_caps_has(smtpc_caps(f->s), REPLY_CAP_8BITMIME));
		assert_true(reply_caps_has(smtpc_caps(f->s),
					   REPLY_CAP_ENHANCEDSTATUSCODES));
		ffx_expect_sent(FFX_GROUP); /* one send: the whole group */
		ffx_end(f);
	}
}

/* Short sends of the group at every offset, then byte by byte. */
static void
test_short_send_resubmitted(void **state)
{
	struct fx *f = *state;
	size_t len = strlen(FFX_GROUP);

	for (size_t k = 1; k <= len; k++) {
		struct fake_op *so;
		const void *buf;
		int64_t dl;

		ffx_to_group(f);
		fake_ring_wire_reset();
		so = fake_ring_pending(RING_OP_SEND);
		assert_non_null(so);
		buf = so->cbuf;
		/* no linked timeout: the session timer holds the send's */
		assert_int_equal(so->deadline, 0);
		dl = timer_heap_next(ring_timers(f->r));
		assert_int_equal(dl, ring_now(f->r) + f->o.tmo.block * FFX_MS);
		fake_ring_set_now(ring_now(f->r) + 5 * FFX_MS);
		if (k < len) {
			assert_int_equal(fake_ring_send_complete(k), k);
			so = fake_ring_pending(RING_OP_SEND);
			assert_non_null(so);
			assert_ptr_equal(so->cbuf, (const char *)buf + k);
			assert_int_equal(so->len, len - k);
			assert_int_equal(so->deadline, 0);
			/* same deadline */
			assert_int_equal(timer_heap_next(ring_timers(f->r)),
					 dl);
			assert_string_equal(fake_ring_sent(NULL),
					    &FFX_GROUP[k]);
		} else {
			/* every byte its own send */
			for (size_t i = 0; i + 1 < len; i++)
				assert_int_equal(fake_ring_send_complete(1), 1);
		}
		(void)fake_ring_send_complete(SIZE_MAX);
		assert_null(fake_ring_pending(RING_OP_SEND));
		assert_string_equal(fake_ring_wire(NULL), FFX_GROUP);
		/* the replies still match the commands after a short send */
		fake_ring_recv_str("250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n");
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BODY);
		ffx_end(f);
		assert_int_equal(f->msg[0].rc[1].res.code, 550);
	}
}

/* The re-arm of a short send refused by the ring: local failure. */
static void
test_short_send_rearm_refused(void **state)
{
	struct fx *f = *state;

	ffx_to_group(f);
	fake_ring_fail_next(RING_OP_SEND, -EBUSY);
	(void)fake_ring_send_complete(4);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	assert_null(fake_ring_pending(RING_OP_SEND));
	ffx_expect_closed(f, SMTPC_FAIL_LOCAL, SMTPC_STAGE_MAIL, -EAGAIN, 0);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->msg[0].rc[0].res.status, SMTPC_R_TEMPORARY);
}

/* ---- completions after CLOSING ------------------------------------------- */

enum late {
	LATE_SEND_OK,
	LATE_SEND_SHORT,
	LATE_RECV_BYTES,
	LATE_RECV_EOF
};

static void
late_complete(enum ring_op kind, enum late how)
{
	struct fake_op *fo = fake_ring_pending(kind);

	assert_non_null(fo);
	assert_true(fo->cancel);
	switch (how) {
	case LATE_SEND_OK:
		(void)fake_ring_send_complete(SIZE_MAX);
		break;
	case LATE_SEND_SHORT:
		(void)fake_ring_send_complete(1); /* must not be re-armed */
		break;
	case LATE_RECV_BYTES:
		fake_ring_recv_str("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
		break;
	case LATE_RECV_EOF:
		assert_int_equal(fake_ring_complete(fo, 0), 0);
		break;
	}
}

static void
test_completion_after_cancel(void **state)
{
	static const struct {
		enum ring_op first;
		enum late first_how;
		enum ring_op second;
	} cases[] = {
	    {RING_OP_SEND, LATE_SEND_OK, RING_OP_RECV},
	    {RING_OP_SEND, LATE_SEND_SHORT, RING_OP_RECV},
	    {RING_OP_RECV, LATE_RECV_BYTES, RING_OP_SEND},
	    {RING_OP_RECV, LATE_RECV_EOF, RING_OP_SEND},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < nitems(cases); i++) {
		unsigned sends;

		ffx_to_group(f); /* send (group) and recv both in flight */
		sends = fake_ring_armed_total(RING_OP_SEND);
		smtpc_cancel(f->s);
		smtpc_cancel(f->s);           /* idempotent */
		assert_int_equal(f->done, 1); /* message settled at once */
		assert_int_equal(f->msg[0].rc[0].res.status, SMTPC_R_TEMPORARY);
		assert_int_equal(f->closed, 0); /* never from inside */
		assert_int_equal(fake_ring_run_tasks(), 0);
		late_complete(cases[i].first, cases[i].first_how);
		(void)fake_ring_run_tasks();
		assert_int_equal(f->closed, 0); /* one op still in flight */
		assert_int_equal(fake_ring_count(), 1);
		assert_int_equal(fake_ring_armed_total(RING_OP_SEND), sends);
		/* the ring's -ECANCELED, not a timeout: op was cancelled */
		assert_int_equal(
		    fake_ring_complete(fake_ring_pending(cases[i].second),
				       -ECANCELED),
		    -ECANCELED);
		assert_int_equal(f->closed, 0); /* freed from the task */
		assert_int_equal(fake_ring_run_tasks(), 1);
		assert_int_equal(f->closed, 1);
		assert_int_equal(f->done, 1);
		assert_int_equal(f->why.fail, SMTPC_FAIL_LOCAL);
		assert_int_equal(f->why.err, -ECANCELED);
		ffx_end(f);
	}
}

/* Cancel in BODY with the file read in flight: the read lands later. */
static void
test_cancel_with_read_in_flight(void **state)
{
	struct fx *f = *state;
	struct fake_op *rd;

	ffx_to_body(f);
	rd = fake_ring_pending(RING_OP_READ);
	assert_non_null(rd);
	assert_int_equal(rd->fd, 1000);
	assert_int_equal(rd->off, 7);
	assert_int_equal(rd->len, strlen(FFX_BODY_IN));
	smtpc_cancel(f->s);
	(void)fake_ring_complete(fake_ring_pending(RING_OP_RECV), -ECANCELED);
	(void)fake_ring_run_tasks();
	assert_int_equal(f->closed, 0);
	fake_ring_read_bytes(FFX_BODY_IN, strlen(FFX_BODY_IN)); /* into obuf */
	assert_null(fake_ring_pending(RING_OP_SEND));
	(void)fake_ring_run_tasks();
	assert_int_equal(f->closed, 1);
	assert_false(f->msg[0].rc[0].res.maybe_dup);
	ffx_end(f);
}

/*
 * A 200 KiB body: file reads land in the output buffer (big around the
 * body) and go out as they are; a "." line at the start of the second
 * read and a CRLF split by a read still come out stuffed and whole; the
 * next read is armed while a send is in flight; a handful of reads and
 * sends in all.
 */
static void
test_large_body_in_place(void **state)
{
	enum {
		BODY = 200 * 1024
	};
	struct fx *f = *state;
	char *body = malloc(BODY), *want = malloc(2 * BODY);
	unsigned reads = 0, sends = 0, overlap = 0;
	size_t wlen, got;
	struct fake_op *rd, *so;

	assert_non_null(body);
	assert_non_null(want);
	for (size_t i = 0; i < BODY; i++)
		body[i] = (char)('a' + i % 26);
	for (size_t i = 76; i < BODY; i += 78)
		memcpy(body + i, "\r\n", 2);
	memcpy(body + 65534, "\r\n.x", 4); /* "." first in read 2 */
	memcpy(body + 131071, "\r\n", 2);  /* CRLF across reads 2/3 */
	memcpy(body + BODY - 2, "\r\n", 2);
	wlen = ffx_stuffed(body, BODY, want);
	f->msg[0].m.body_len = BODY;
	ffx_to_body(f);
	fake_ring_wire_reset();
	for (;;) {
		rd = fake_ring_pending(RING_OP_READ);
		so = fake_ring_pending(RING_OP_SEND);
		if (rd != NULL && so != NULL)
			overlap++;
		if (rd != NULL) {
			assert_true(rd->off >= 7 &&
				    rd->off - 7 + rd->len <= BODY);
			reads++;
			fake_ring_read_bytes(body + rd->off - 7, rd->len);
		} else if (so != NULL) {
			sends++;
			(void)fake_ring_send_complete(SIZE_MAX);
		} else {
			break;
		}
	}
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_NEXT);
	assert_ptr_equal(fake_ring_wire(&got), fake_ring_wire(NULL));
	assert_int_equal(got, wlen);
	assert_memory_equal(fake_ring_wire(NULL), want, wlen);
	assert_true(reads >= 4 && reads <= 6);
	assert_true(sends >= 4 && sends <= 6);
	assert_true(overlap > 0);
	fake_ring_recv_str("250 queued\r\n");
	assert_int_equal(f->msg[0].rc[0].res.status, SMTPC_R_DELIVERED);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_IDLE);
	ffx_end(f);
	free(body);
	free(want);
}

/*
 * A pipelined transaction longer than an inline buffer (24 recipients of
 * about 120 bytes) still leaves in one send.
 */
static void
test_long_txn_one_send(void **state)
{
	enum {
		NR = 24
	};
	struct fx *f = *state;
	static struct smtpc_rcpt rc[NR]; /* outlive a failed assert */
	static char addr[NR][128];
	char want[NR * 140 + 64], rcpt[160];
	size_t len, wl;

	memset(rc, 0, sizeof(rc));
	wl = (size_t)snprintf(want, sizeof(want),
			      "MAIL FROM:<a@example.org>\r\n");
	for (unsigned i = 0; i < NR; i++) {
		snprintf(addr[i], sizeof(addr[i]),
			 "r%02u@%050u.%050u.example.net", i, 0u, i);
		rc[i].addr = addr[i];
		snprintf(rcpt, sizeof(rcpt), "RCPT TO:<%s>\r\n", addr[i]);
		memcpy(want + wl, rcpt, strlen(rcpt));
		wl += strlen(rcpt);
	}
	memcpy(want + wl, "DATA\r\n", 7);
	wl += 6;
	assert_true(wl > 2048); /* more than an inline buffer */
	f->msg[0].m.rcpt = rc;
	f->msg[0].m.nrcpt = NR;
	ffx_to_group(f);
	assert_non_null(fake_ring_sent(&len));
	assert_int_equal(len, wl);
	ffx_expect_sent(want);
	ffx_end(f);
}

/* ---- EOF, errors and deadlines ------------------------------------------- */

static void
test_eof_mid_reply_is_reset(void **state)
{
	static const struct {
		int upto; /* 0 banner, 1 EHLO, 2 TXN */
		const char *part;
		enum smtpc_stage stage;
	} cases[] = {
	    {0, "220 mx.exa", SMTPC_STAGE_BANNER},
	    {0, "220-mx\r\n", SMTPC_STAGE_BANNER},
	    {1, "250-mx.example\r\n250-PIPEL", SMTPC_STAGE_EHLO},
	    {2, "250 ok\r\n25", SMTPC_STAGE_RCPT},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < nitems(cases); i++) {
		if (cases[i].upto == 0) {
			ffx_start(f);
			ffx_connect(f);
		} else if (cases[i].upto == 1) {
			ffx_to_ehlo(f);
		} else {
			ffx_to_group(f);
			ffx_expect_sent(FFX_GROUP);
		}
		fake_ring_recv_str(cases[i].part);
		assert_int_equal(
		    fake_ring_complete(fake_ring_pending(RING_OP_RECV), 0), 0);
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		ffx_expect_closed(f, SMTPC_FAIL_RESET, cases[i].stage,
				  -ECONNRESET, 0);
		if (cases[i].upto == 2) {
			assert_int_equal(f->done, 1);
			assert_int_equal(f->msg[0].rc[1].res.fail,
					 SMTPC_FAIL_RESET);
		}
	}
}

static void
test_connect_errors(void **state)
{
	static const struct {
		int res;
		enum smtpc_fail fail;
		int err;
	} cases[] = {
	    {-ECONNREFUSED, SMTPC_FAIL_REFUSED, -ECONNREFUSED},
	    {-ENETUNREACH, SMTPC_FAIL_UNREACH, -ENETUNREACH},
	    {-EHOSTUNREACH, SMTPC_FAIL_UNREACH, -EHOSTUNREACH},
	    {-ECONNRESET, SMTPC_FAIL_RESET, -ECONNRESET},
	    {-EADDRNOTAVAIL, SMTPC_FAIL_LOCAL, -EADDRNOTAVAIL},
	    /* the linked timeout fired: the ring maps it to -ETIMEDOUT */
	    {-ECANCELED, SMTPC_FAIL_TIMEOUT, -ETIMEDOUT},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < nitems(cases); i++) {
		struct fake_op *c;

		f->nmsg = 1;
		ffx_start(f);
		c = fake_ring_pending(RING_OP_CONNECT);
		assert_non_null(c);
		assert_int_equal(c->len, sizeof(struct sockaddr_in));
		assert_int_equal(c->deadline,
				 ring_now(f->r) + f->o.tmo.connect * FFX_MS);
		assert_int_equal(fake_ring_complete(c, cases[i].res),
				 cases[i].err);
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		assert_int_equal(fake_ring_armed_total(RING_OP_RECV), 0);
		ffx_expect_closed(f, cases[i].fail, SMTPC_STAGE_CONNECT,
				  cases[i].err, 0);
		assert_int_equal(f->taken, 0); /* no message taken */
	}
}

/* The connect's own deadline passes on the fake clock. */
static void
test_connect_deadline(void **state)
{
	struct fx *f = *state;

	ffx_start(f);
	assert_int_equal(fake_ring_advance(f->o.tmo.connect * FFX_MS - 1), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CONNECT);
	assert_int_equal(fake_ring_advance(1), 1);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	ffx_expect_closed(f, SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_CONNECT,
			  -ETIMEDOUT, 0);
}

/* The session timer: the EHLO reply deadline, absolute despite dribble. */
static void
test_reply_deadline(void **state)
{
	struct fx *f = *state;

	ffx_to_ehlo(f);
	assert_int_equal(fake_ring_advance(f->o.tmo.ehlo * FFX_MS / 2), 0);
	fake_ring_recv_str("250-mx.example\r\n"); /* progress, not a reply */
	assert_int_equal(fake_ring_advance(f->o.tmo.ehlo * FFX_MS / 2 - 1), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_EHLO);
	assert_int_equal(fake_ring_advance(1), 1);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	assert_true(fake_ring_pending(RING_OP_RECV)->cancel);
	ffx_expect_closed(f, SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_EHLO, -ETIMEDOUT,
			  0);
}

/*
 * A send that never completes: the session timer, armed at the send's
 * deadline (the earliest one: "." waits longer), ends the session and
 * cancels the send, which carries no linked timeout of its own.
 */
static void
test_send_deadline(void **state)
{
	struct fx *f = *state;

	ffx_to_body(f);
	fake_ring_read_bytes(FFX_BODY_IN, strlen(FFX_BODY_IN));
	assert_string_equal(fake_ring_sent(NULL), FFX_BODY_OUT);
	assert_int_equal(fake_ring_pending(RING_OP_SEND)->deadline, 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_NEXT);
	assert_true(f->o.tmo.block < f->o.tmo.dot);
	assert_int_equal(fake_ring_advance(f->o.tmo.block * FFX_MS - 1), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_NEXT);
	assert_int_equal(fake_ring_advance(1), 1);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	assert_true(fake_ring_pending(RING_OP_SEND)->cancel);
	ffx_expect_closed(f, SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_DOT, -ETIMEDOUT,
			  0);
	assert_true(f->msg[0].rc[0].res.maybe_dup); /* "." was queued */
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, ffx_setup, ffx_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_banner_split_every_byte),
	    T(test_ehlo_multiline_split_every_byte),
	    T(test_short_send_resubmitted),
	    T(test_short_send_rearm_refused),
	    T(test_completion_after_cancel),
	    T(test_cancel_with_read_in_flight),
	    T(test_eof_mid_reply_is_reset),
	    T(test_connect_errors),
	    T(test_connect_deadline),
	    T(test_reply_deadline),
	    T(test_send_deadline),
	    T(test_large_body_in_place),
	    T(test_long_txn_one_send),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
