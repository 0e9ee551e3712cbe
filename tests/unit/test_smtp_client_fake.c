/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_client_fake: the client session engine on the fake ring
 * (tests/fakes/fake_ring.c): every completion delivered by hand, split at
 * any byte, short, late or failed, and the clock moved by hand.
 *
 * Complements test_smtp_client.c (real ring, scripted peer), which already
 * covers: pipelined group in one send, multiline split, HELO fallback,
 * lone ".", mixed RCPT outcomes, 421 mid transaction, 5xx banner, reset in
 * DATA, "." reply dribble timeout, reuse behind ".", max deliveries, idle
 * kick/timeout, RSET after MAIL rejection (2xx), dot-stuffing, capability
 * refusals, binding, refused connect, > pend window, banner timeout,
 * cancel, DATA/"." rejections, garbage reply, unsolicited reply, large
 * body, reuse without pipelining, short body file, IPv6.
 *
 * Here, beyond the byte-level cases (banner and EHLO split at every byte,
 * short sends resubmitted from the right offset, completions after
 * CLOSING, EOF mid reply, connect errors and deadlines), the STATES.md
 * edges the real-ring tests do not reach:
 *   BANNER  --421-->                 CLOSING (reply, no QUIT)
 *   BANNER  --4xx-->                 QUIT --221--> CLOSING (reason: banner)
 *   BANNER  --2xx/3xx not 220-->     CLOSING (proto)
 *   EHLO    --4xx-->                 QUIT (reason: EHLO reply)
 *   EHLO    --3xx-->                 CLOSING (proto)
 *   HELO    --5xx-->                 QUIT (reason: HELO reply)
 *   HELO    --3xx-->                 CLOSING (proto)
 *   TXN     --MAIL 3xx / RCPT 3xx / DATA 2xx-->  CLOSING (proto)
 *   NEXT    --"." reply 3xx-->       CLOSING (proto)
 *   TXN     --RSET non-2xx-->        CLOSING (proto)
 *   TXN     --MAIL 5xx, DATA 354-->  NEXT with a lone "." (reply ignored)
 *   QUIT    --EOF / 421-->           CLOSING (clean)
 *   TXN     --send 0 / -EPIPE-->     CLOSING (reset)
 *   TXN     --short send re-arm refused--> CLOSING (local)
 *   BODY    --read -EIO-->           CLOSING (local), no "." on the wire
 *   BODY    --cancel, read completes after CLOSING--> chunk still valid
 *   BODY/NEXT --send deadline (session timer)--> CLOSING (timeout)
 *   IDLE    --smtpc_quit-->          QUIT (deferred, once, quit timeout)
 *   EHLO/BODY --smtpc_quit-->        the transaction ends, then QUIT
 *
 * A protocol error in a reply handler is reported with the stage of the
 * command it answered (smtpc_reply() keeps it in s->reply_stage while the
 * handler runs; this file found that it used to name the next one).
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
#include "ring.h"
#include "smtp_client.h"
#include "timer.h"

#define MS        1000000LL
#define STAGE_ANY SMTPC_STAGE__COUNT /* stage not checked: see the top */

#define BANNER "220 mx.example ESMTP\r\n"
#define EHLO   "EHLO client.example\r\n"
#define EHLO_PIPE                                                              \
	"250-mx.example hello\r\n250-PIPELINING\r\n250-8BITMIME\r\n"           \
	"250 ENHANCEDSTATUSCODES\r\n"
#define GROUP                                                                  \
	"MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.net>\r\n"             \
	"RCPT TO:<c@example.net>\r\nDATA\r\n"
#define BODY_IN  "Hello\r\n.dot\r\n"
#define BODY_OUT "Hello\r\n..dot\r\n.\r\n"

/* ---- fixture --------------------------------------------------------------
 */

struct tmsg {
	struct smtpc_msg m;
	struct smtpc_rcpt rc[2];
};

struct fx {
	struct ring *r;
	struct smtpc_opts o;
	struct smtpc *s;
	struct tmsg msg[2];
	unsigned nmsg, taken, done, closed;
	struct smtpc_result why;
};

static struct smtpc_msg *
fx_next_msg(struct smtpc *s, void *arg)
{
	struct fx *f = arg;

	(void)s;
	return f->taken < f->nmsg ? &f->msg[f->taken++].m : NULL;
}

static void
fx_msg_done(struct smtpc *s, struct smtpc_msg *m, void *arg)
{
	struct fx *f = arg;

	(void)s;
	(void)m;
	f->done++;
}

static void
fx_on_close(struct smtpc *s, const struct smtpc_result *why, void *arg)
{
	struct fx *f = arg;

	assert_ptr_equal(s, f->s);
	f->why = *why;
	f->closed++;
	f->s = NULL;
}

static const struct smtpc_ops fx_ops = {
    .next_msg = fx_next_msg,
    .on_msg_done = fx_msg_done,
    .on_close = fx_on_close,
};

static void
fx_msg_init(struct tmsg *t)
{
	memset(t, 0, sizeof(*t));
	t->m.from = "a@example.org";
	t->m.body_fd = 1000; /* never touched: reads go through the fake */
	t->m.body_off = 7;
	t->m.body_len = strlen(BODY_IN);
	t->rc[0].addr = "b@example.net";
	t->rc[1].addr = "c@example.net";
	t->m.rcpt = t->rc;
	t->m.nrcpt = 2;
}

static int
setup(void **state)
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
	fx_msg_init(&f->msg[0]);
	fx_msg_init(&f->msg[1]);
	*state = f;
	return 0;
}

/* Make and start a new session (the previous one must have closed). */
static void
fx_start(struct fx *f)
{
	assert_null(f->s);
	f->closed = f->done = f->taken = 0;
	f->s = smtpc_new(f->r, &f->o, &fx_ops, f);
	assert_int_equal(smtpc_start(f->s), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CONNECT);
}

/* Cancel if still open, deliver every cancelled completion, reap. */
static void
fx_end(struct fx *f)
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

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f->s != NULL || f->closed == 0)
		fx_end(f);
	ring_free(f->r);
	free(f);
	return 0;
}

/* The armed send must hold exactly want; complete it in full. */
static void
expect_sent(const char *want)
{
	size_t len;
	const char *got = fake_ring_sent(&len);

	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	(void)fake_ring_send_complete(SIZE_MAX);
}

static void
fx_connect(struct fx *f)
{
	struct fake_op *c = fake_ring_pending(RING_OP_CONNECT);

	assert_non_null(c);
	assert_int_equal(fake_ring_complete(c, 0), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BANNER);
	assert_non_null(fake_ring_pending(RING_OP_RECV));
}

/* Connect, greet, EHLO sent; the reply is the test's. */
static void
fx_to_ehlo(struct fx *f)
{
	fx_start(f);
	fx_connect(f);
	fake_ring_recv_str(BANNER);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_EHLO);
	expect_sent(EHLO);
}

/* nmsg messages offered; connect, greet, EHLO answered with PIPELINING:
 * the session must then be in state want. */
static void
fx_to_ready(struct fx *f, unsigned nmsg, enum smtpc_state want)
{
	f->nmsg = nmsg;
	fx_to_ehlo(f);
	fake_ring_recv_str(EHLO_PIPE);
	assert_int_equal(smtpc_get_state(f->s), want);
}

/* Up to the pipelined group of msg[0] being armed (not completed). */
static void
fx_to_group(struct fx *f)
{
	fx_to_ready(f, 1, SMTPC_S_TXN);
}

/* Up to the body read being armed after "354". */
static void
fx_to_body(struct fx *f)
{
	fx_to_group(f);
	expect_sent(GROUP);
	fake_ring_recv_str("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BODY);
}

static void
expect_closed(struct fx *f, enum smtpc_fail fail, enum smtpc_stage stage,
	      int err, int code)
{
	fx_end(f);
	assert_int_equal(f->why.fail, fail);
	if (stage != STAGE_ANY)
		assert_int_equal(f->why.stage, stage);
	assert_int_equal(f->why.err, err);
	assert_int_equal(f->why.code, code);
}

/* ---- byte-level -----------------------------------------------------------
 */

static void
test_banner_split_every_byte(void **state)
{
	static const char *const banners[] = {
	    BANNER,
	    "220-mx.example first\r\n220-second\r\n220 last\r\n",
	};
	struct fx *f = *state;

	for (size_t b = 0; b < nitems(banners); b++) {
		size_t len = strlen(banners[b]);

		for (size_t k = 1; k < len; k++) {
			fx_start(f);
			fx_connect(f);
			fake_ring_recv_bytes(banners[b], k);
			assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BANNER);
			assert_null(fake_ring_sent(NULL));
			fake_ring_recv_bytes(banners[b] + k, len - k);
			assert_int_equal(smtpc_get_state(f->s), SMTPC_S_EHLO);
			expect_sent(EHLO);
			fx_end(f);
		}
		/* and one byte per recv */
		fx_start(f);
		fx_connect(f);
		fake_ring_recv_split(banners[b], 1);
		expect_sent(EHLO);
		fx_end(f);
	}
}

static void
test_ehlo_multiline_split_every_byte(void **state)
{
	struct fx *f = *state;
	size_t len = strlen(EHLO_PIPE);

	for (size_t k = 0; k <= len; k++) {
		f->nmsg = 1;
		fx_to_ehlo(f);
		if (k > 0 && k < len) {
			fake_ring_recv_bytes(EHLO_PIPE, k);
			assert_int_equal(smtpc_get_state(f->s), SMTPC_S_EHLO);
			assert_null(fake_ring_sent(NULL));
			fake_ring_recv_bytes(&EHLO_PIPE[k], len - k);
		} else {
			/* k == 0: a byte per recv; k == len: one recv */
			fake_ring_recv_split(EHLO_PIPE, k == 0 ? 1 : len);
		}
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_TXN);
		assert_true(
		    reply_caps_has(smtpc_caps(f->s), REPLY_CAP_PIPELINING));
		assert_true(
		    reply_caps_has(smtpc_caps(f->s), REPLY_CAP_8BITMIME));
		assert_true(reply_caps_has(smtpc_caps(f->s),
					   REPLY_CAP_ENHANCEDSTATUSCODES));
		expect_sent(GROUP); /* one send: the whole group */
		fx_end(f);
	}
}

/* Short sends of the group at every offset, then byte by byte. */
static void
test_short_send_resubmitted(void **state)
{
	struct fx *f = *state;
	size_t len = strlen(GROUP);

	for (size_t k = 1; k <= len; k++) {
		struct fake_op *so;
		const void *buf;
		int64_t dl;

		fx_to_group(f);
		fake_ring_wire_reset();
		so = fake_ring_pending(RING_OP_SEND);
		assert_non_null(so);
		buf = so->cbuf;
		/* no linked timeout: the session timer holds the send's */
		assert_int_equal(so->deadline, 0);
		dl = timer_heap_next(ring_timers(f->r));
		assert_int_equal(dl, ring_now(f->r) + f->o.tmo.block * MS);
		fake_ring_set_now(ring_now(f->r) + 5 * MS);
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
			assert_string_equal(fake_ring_sent(NULL), &GROUP[k]);
		} else {
			/* every byte its own send */
			for (size_t i = 0; i + 1 < len; i++)
				assert_int_equal(fake_ring_send_complete(1), 1);
		}
		(void)fake_ring_send_complete(SIZE_MAX);
		assert_null(fake_ring_pending(RING_OP_SEND));
		assert_string_equal(fake_ring_wire(NULL), GROUP);
		/* the replies still match the commands after a short send */
		fake_ring_recv_str("250 ok\r\n250 ok\r\n550 no\r\n354 go\r\n");
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BODY);
		fx_end(f);
		assert_int_equal(f->msg[0].rc[1].res.code, 550);
	}
}

/* The re-arm of a short send refused by the ring: local failure. */
static void
test_short_send_rearm_refused(void **state)
{
	struct fx *f = *state;

	fx_to_group(f);
	fake_ring_fail_next(RING_OP_SEND, -EBUSY);
	(void)fake_ring_send_complete(4);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	assert_null(fake_ring_pending(RING_OP_SEND));
	expect_closed(f, SMTPC_FAIL_LOCAL, SMTPC_STAGE_MAIL, -EAGAIN, 0);
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

		fx_to_group(f); /* send (group) and recv both in flight */
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
		fx_end(f);
	}
}

/* Cancel in BODY with the file read in flight: the read lands later. */
static void
test_cancel_with_read_in_flight(void **state)
{
	struct fx *f = *state;
	struct fake_op *rd;

	fx_to_body(f);
	rd = fake_ring_pending(RING_OP_READ);
	assert_non_null(rd);
	assert_int_equal(rd->fd, 1000);
	assert_int_equal(rd->off, 7);
	assert_int_equal(rd->len, strlen(BODY_IN));
	smtpc_cancel(f->s);
	(void)fake_ring_complete(fake_ring_pending(RING_OP_RECV), -ECANCELED);
	(void)fake_ring_run_tasks();
	assert_int_equal(f->closed, 0);
	fake_ring_read_bytes(BODY_IN, strlen(BODY_IN)); /* into obuf */
	assert_null(fake_ring_pending(RING_OP_SEND));
	(void)fake_ring_run_tasks();
	assert_int_equal(f->closed, 1);
	assert_false(f->msg[0].rc[0].res.maybe_dup);
	fx_end(f);
}

/* The body's wire bytes, written plainly: "." doubled at a line start. */
static size_t
stuffed(const char *in, size_t len, char *out)
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
	wlen = stuffed(body, BODY, want);
	f->msg[0].m.body_len = BODY;
	fx_to_body(f);
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
	fx_end(f);
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
	fx_to_group(f);
	assert_non_null(fake_ring_sent(&len));
	assert_int_equal(len, wl);
	expect_sent(want);
	fx_end(f);
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
			fx_start(f);
			fx_connect(f);
		} else if (cases[i].upto == 1) {
			fx_to_ehlo(f);
		} else {
			fx_to_group(f);
			expect_sent(GROUP);
		}
		fake_ring_recv_str(cases[i].part);
		assert_int_equal(
		    fake_ring_complete(fake_ring_pending(RING_OP_RECV), 0), 0);
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		expect_closed(f, SMTPC_FAIL_RESET, cases[i].stage, -ECONNRESET,
			      0);
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
		fx_start(f);
		c = fake_ring_pending(RING_OP_CONNECT);
		assert_non_null(c);
		assert_int_equal(c->len, sizeof(struct sockaddr_in));
		assert_int_equal(c->deadline,
				 ring_now(f->r) + f->o.tmo.connect * MS);
		assert_int_equal(fake_ring_complete(c, cases[i].res),
				 cases[i].err);
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		assert_int_equal(fake_ring_armed_total(RING_OP_RECV), 0);
		expect_closed(f, cases[i].fail, SMTPC_STAGE_CONNECT,
			      cases[i].err, 0);
		assert_int_equal(f->taken, 0); /* no message taken */
	}
}

/* The connect's own deadline passes on the fake clock. */
static void
test_connect_deadline(void **state)
{
	struct fx *f = *state;

	fx_start(f);
	assert_int_equal(fake_ring_advance(f->o.tmo.connect * MS - 1), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CONNECT);
	assert_int_equal(fake_ring_advance(1), 1);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	expect_closed(f, SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_CONNECT, -ETIMEDOUT,
		      0);
}

/* The session timer: the EHLO reply deadline, absolute despite dribble. */
static void
test_reply_deadline(void **state)
{
	struct fx *f = *state;

	fx_to_ehlo(f);
	assert_int_equal(fake_ring_advance(f->o.tmo.ehlo * MS / 2), 0);
	fake_ring_recv_str("250-mx.example\r\n"); /* progress, not a reply */
	assert_int_equal(fake_ring_advance(f->o.tmo.ehlo * MS / 2 - 1), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_EHLO);
	assert_int_equal(fake_ring_advance(1), 1);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	assert_true(fake_ring_pending(RING_OP_RECV)->cancel);
	expect_closed(f, SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_EHLO, -ETIMEDOUT, 0);
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

	fx_to_body(f);
	fake_ring_read_bytes(BODY_IN, strlen(BODY_IN));
	assert_string_equal(fake_ring_sent(NULL), BODY_OUT);
	assert_int_equal(fake_ring_pending(RING_OP_SEND)->deadline, 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_NEXT);
	assert_true(f->o.tmo.block < f->o.tmo.dot);
	assert_int_equal(fake_ring_advance(f->o.tmo.block * MS - 1), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_NEXT);
	assert_int_equal(fake_ring_advance(1), 1);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	assert_true(fake_ring_pending(RING_OP_SEND)->cancel);
	expect_closed(f, SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_DOT, -ETIMEDOUT, 0);
	assert_true(f->msg[0].rc[0].res.maybe_dup); /* "." was queued */
}

/* ---- state edges (see the list at the top) ------------------------------- */

struct edge {
	const char *name;
	int upto;          /* 0 banner, 1 EHLO reply, 2 HELO reply */
	const char *reply; /* the reply under test */
	const char *quit;  /* "QUIT\r\n" expected next, or NULL */
	enum smtpc_fail fail;
	enum smtpc_stage stage;
	int err, code;
};

static void
test_greeting_edges(void **state)
{
	static const struct edge cases[] = {
	    {"banner 421", 0, "421 busy\r\n", NULL, SMTPC_FAIL_REPLY,
	     SMTPC_STAGE_BANNER, 0, 421},
	    {"banner 450", 0, "450 later\r\n", "QUIT\r\n", SMTPC_FAIL_REPLY,
	     SMTPC_STAGE_BANNER, 0, 450},
	    {"banner 250", 0, "250 what\r\n", NULL, SMTPC_FAIL_PROTO,
	     SMTPC_STAGE_BANNER, -EPROTO, 0},
	    {"banner 354", 0, "354 what\r\n", NULL, SMTPC_FAIL_PROTO,
	     SMTPC_STAGE_BANNER, -EPROTO, 0},
	    {"EHLO 451", 1, "451 later\r\n", "QUIT\r\n", SMTPC_FAIL_REPLY,
	     SMTPC_STAGE_EHLO, 0, 451},
	    {"EHLO 354", 1, "354 what\r\n", NULL, SMTPC_FAIL_PROTO,
	     SMTPC_STAGE_EHLO, -EPROTO, 0},
	    {"HELO 550", 2, "550 go away\r\n", "QUIT\r\n", SMTPC_FAIL_REPLY,
	     SMTPC_STAGE_HELO, 0, 550},
	    {"HELO 354", 2, "354 what\r\n", NULL, SMTPC_FAIL_PROTO,
	     SMTPC_STAGE_HELO, -EPROTO, 0},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < nitems(cases); i++) {
		const struct edge *e = &cases[i];

		print_message("edge: %s\n", e->name);
		f->nmsg = 1;
		if (e->upto == 0) {
			fx_start(f);
			fx_connect(f);
		} else {
			fx_to_ehlo(f);
		}
		if (e->upto == 2) {
			fake_ring_recv_str("502 no EHLO\r\n");
			expect_sent("HELO client.example\r\n");
		}
		fake_ring_recv_str(e->reply);
		if (e->quit != NULL) {
			assert_int_equal(smtpc_get_state(f->s), SMTPC_S_QUIT);
			expect_sent(e->quit);
			fake_ring_recv_str("221 bye\r\n");
		}
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		assert_null(fake_ring_pending(RING_OP_SEND));
		expect_closed(f, e->fail, e->stage, e->err, e->code);
		assert_int_equal(f->taken, 0);
	}
}

/* Replies with a class the command cannot have: protocol failure. */
static void
test_txn_bad_reply_class(void **state)
{
	static const struct {
		const char *replies;
		enum smtpc_stage stage;
		bool body;
	} cases[] = {
	    /* the stage should be MAIL, RCPT, DATA, DOT (see the top) */
	    {"354 what\r\n", SMTPC_STAGE_MAIL, false},
	    {"250 ok\r\n354 what\r\n", SMTPC_STAGE_RCPT, false},
	    {"250 ok\r\n250 ok\r\n250 ok\r\n250 what\r\n", SMTPC_STAGE_DATA,
	     false},
	    {"354 what\r\n", SMTPC_STAGE_DOT, true},
	};
	struct fx *f = *state;

	for (size_t i = 0; i < nitems(cases); i++) {
		if (cases[i].body) {
			fx_to_body(f);
			fake_ring_read_bytes(BODY_IN, strlen(BODY_IN));
			expect_sent(BODY_OUT);
		} else {
			fx_to_group(f);
			expect_sent(GROUP);
		}
		fake_ring_recv_str(cases[i].replies);
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		expect_closed(f, SMTPC_FAIL_PROTO, cases[i].stage, -EPROTO, 0);
		assert_int_equal(f->done, 1);
		assert_int_equal(f->msg[0].rc[0].res.status, SMTPC_R_TEMPORARY);
		assert_int_equal(f->msg[0].rc[0].res.maybe_dup, cases[i].body);
	}
}

/* MAIL 5xx, DATA 354 anyway: lone "."; then RSET refused: protocol. */
static void
test_mail_rejected_354_then_rset_refused(void **state)
{
	struct fx *f = *state;

	fx_to_group(f);
	f->nmsg = 2;
	expect_sent(GROUP);
	fake_ring_recv_str("550 5.1.8 bad sender\r\n503 no\r\n503 no\r\n");
	assert_int_equal(f->done, 0);
	fake_ring_recv_str("354 go\r\n");
	assert_int_equal(fake_ring_armed_total(RING_OP_READ), 0);
	/* the lone "." and, pipelined behind it, RSET and the next group */
	expect_sent(".\r\nRSET\r\n" GROUP);
	fake_ring_recv_str("250 ignored\r\n");
	assert_int_equal(f->done, 1);
	for (unsigned r = 0; r < 2; r++) {
		assert_int_equal(f->msg[0].rc[r].res.code, 550);
		assert_int_equal(f->msg[0].rc[r].res.stage, SMTPC_STAGE_MAIL);
		assert_int_equal(f->msg[0].rc[r].res.status, SMTPC_R_PERMANENT);
	}
	fake_ring_recv_str("500 what RSET\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	/* the stage should be RSET (see the top) */
	expect_closed(f, SMTPC_FAIL_PROTO, SMTPC_STAGE_RSET, -EPROTO, 0);
	assert_int_equal(f->done, 2);
	assert_int_equal(f->msg[1].rc[0].res.status, SMTPC_R_TEMPORARY);
}

/* QUIT answered by EOF or by 421: a clean end either way. */
static void
test_quit_eof_or_421(void **state)
{
	static const char *const ends[] = {NULL, "421 closing\r\n"};
	struct fx *f = *state;

	for (size_t i = 0; i < nitems(ends); i++) {
		f->o.tmo.idle = 50;
		fx_to_ready(f, 0, SMTPC_S_IDLE);
		assert_int_equal(fake_ring_advance(50 * MS), 1);
		expect_sent("QUIT\r\n");
		if (ends[i] == NULL)
			(void)fake_ring_complete(
			    fake_ring_pending(RING_OP_RECV), 0);
		else
			fake_ring_recv_str(ends[i]);
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		expect_closed(f, SMTPC_FAIL_NONE, SMTPC_STAGE_QUIT, 0,
			      ends[i] ? 421 : 0);
		assert_int_equal(f->why.status, SMTPC_R_DELIVERED);
	}
	smtpc_timeouts_default(&f->o.tmo);
}

/* An unsolicited 421 while idle (RFC 5321 4.2) ends the session as a
 * reply, not as a protocol error. */
static void
test_unsolicited_421_while_idle(void **state)
{
	struct fx *f = *state;

	fx_to_ready(f, 0, SMTPC_S_IDLE);
	fake_ring_recv_str("421 4.4.2 mx.example idle too long\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	expect_closed(f, SMTPC_FAIL_REPLY, SMTPC_STAGE_IDLE, 0, 421);
}

static void
test_send_failures_are_reset(void **state)
{
	static const int results[] = {0, -EPIPE, -ECONNRESET};
	struct fx *f = *state;

	for (size_t i = 0; i < nitems(results); i++) {
		fx_to_group(f);
		(void)fake_ring_complete(fake_ring_pending(RING_OP_SEND),
					 results[i]);
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		expect_closed(f, SMTPC_FAIL_RESET, SMTPC_STAGE_MAIL,
			      results[i] ? results[i] : -ECONNRESET, 0);
		assert_int_equal(f->done, 1);
	}
}

/* A body read error: no "." may follow a cut body. */
static void
test_body_read_error(void **state)
{
	struct fx *f = *state;

	fx_to_body(f);
	fake_ring_wire_reset();
	(void)fake_ring_complete(fake_ring_pending(RING_OP_READ), -EIO);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	assert_null(fake_ring_pending(RING_OP_SEND));
	assert_string_equal(fake_ring_wire(NULL), "");
	expect_closed(f, SMTPC_FAIL_LOCAL, SMTPC_STAGE_BODY, -EIO, 0);
	assert_false(f->msg[0].rc[0].res.maybe_dup);
}

/* The whole delivery on the fake: exact wire, then IDLE, then cancel. */
static void
test_full_delivery_wire(void **state)
{
	struct fx *f = *state;

	fx_to_body(f);
	fake_ring_read_bytes(BODY_IN, strlen(BODY_IN));
	fake_ring_recv_str("250 2.0.0 queued\r\n"); /* before the send ends */
	(void)fake_ring_flush_sends();
	assert_int_equal(f->done, 1);
	assert_int_equal(f->msg[0].rc[0].res.status, SMTPC_R_DELIVERED);
	assert_int_equal(f->msg[0].rc[1].res.code, 250);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_IDLE);
	assert_string_equal(fake_ring_wire(NULL), EHLO GROUP BODY_OUT);
	assert_int_equal(smtpc_deliveries(f->s), 1);
	fx_end(f);
}

/* ---- smtpc_quit ----------------------------------------------------------
 */

/* An idle session (idle 100 s, quit 40 ms) asked twice to QUIT: nothing
 * happens inside the call; after the deferred task one "QUIT" is sent. */
static void
fx_quit_idle(struct fx *f)
{
	f->o.tmo.idle = 100000;
	f->o.tmo.quit = 40;
	fx_to_ready(f, 0, SMTPC_S_IDLE);
	fake_ring_wire_reset();
	smtpc_quit(f->s);
	smtpc_quit(f->s);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_IDLE);
	assert_null(fake_ring_pending(RING_OP_SEND));
	(void)fake_ring_run_tasks();
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_QUIT);
	expect_sent("QUIT\r\n");
}

/* QUIT, then 221: a clean end, as after any QUIT. */
static void
fx_quit_221(struct fx *f)
{
	fake_ring_recv_str("221 bye\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	expect_closed(f, SMTPC_FAIL_NONE, SMTPC_STAGE_QUIT, 0, 221);
	assert_int_equal(f->why.status, SMTPC_R_DELIVERED);
}

/* Idle: QUIT once (a further quit or kick adds nothing), no message
 * taken; 221 ends it cleanly. */
static void
test_quit_idle(void **state)
{
	struct fx *f = *state;

	fx_quit_idle(f);
	smtpc_quit(f->s); /* in QUIT: nothing more */
	smtpc_kick(f->s);
	(void)fake_ring_run_tasks();
	assert_null(fake_ring_pending(RING_OP_SEND));
	assert_string_equal(fake_ring_wire(NULL), "QUIT\r\n");
	assert_int_equal(f->taken, 0);
	fx_quit_221(f);
	smtpc_timeouts_default(&f->o.tmo);
}

/* The QUIT reply is awaited for the quit timeout, not the idle one. */
static void
test_quit_idle_timeout(void **state)
{
	struct fx *f = *state;

	fx_quit_idle(f);
	assert_int_equal(fake_ring_advance(39 * MS), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_QUIT);
	assert_int_equal(fake_ring_advance(1 * MS), 1);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	expect_closed(f, SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_QUIT, -ETIMEDOUT, 0);
	smtpc_timeouts_default(&f->o.tmo);
}

/* Mid transaction: the message in flight completes (its body, "." and
 * reply), the next one is not taken, then QUIT (never behind "."). */
static void
test_quit_mid_transaction(void **state)
{
	struct fx *f = *state;

	fx_to_ready(f, 2, SMTPC_S_TXN);
	expect_sent(GROUP);
	fake_ring_recv_str("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BODY);
	smtpc_quit(f->s);
	(void)fake_ring_run_tasks();
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BODY);
	fake_ring_read_bytes(BODY_IN, strlen(BODY_IN));
	(void)fake_ring_flush_sends();
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_NEXT);
	assert_null(fake_ring_pending(RING_OP_SEND));
	fake_ring_recv_str("250 2.0.0 queued\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_QUIT);
	expect_sent("QUIT\r\n");
	assert_int_equal(f->taken, 1);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->msg[0].rc[0].res.status, SMTPC_R_DELIVERED);
	assert_int_equal(f->msg[0].rc[1].res.status, SMTPC_R_DELIVERED);
	assert_string_equal(fake_ring_wire(NULL),
			    EHLO GROUP BODY_OUT "QUIT\r\n");
	fx_quit_221(f);
}

/* Asked while greeting: EHLO completes, no message is taken, QUIT. */
static void
test_quit_while_greeting(void **state)
{
	struct fx *f = *state;

	f->nmsg = 1;
	fx_to_ehlo(f);
	smtpc_quit(f->s);
	(void)fake_ring_run_tasks();
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_EHLO);
	fake_ring_recv_str(EHLO_PIPE);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_QUIT);
	expect_sent("QUIT\r\n");
	assert_int_equal(f->taken, 0);
	fx_quit_221(f);
}

/* After cancel (CLOSING) it does nothing: the reason stays "cancelled". */
static void
test_quit_after_cancel(void **state)
{
	struct fx *f = *state;

	fx_to_ready(f, 0, SMTPC_S_IDLE);
	smtpc_cancel(f->s);
	smtpc_quit(f->s);
	(void)fake_ring_run_tasks();
	assert_null(fake_ring_pending(RING_OP_SEND));
	expect_closed(f, SMTPC_FAIL_LOCAL, SMTPC_STAGE_IDLE, -ECANCELED, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

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
	    T(test_greeting_edges),
	    T(test_txn_bad_reply_class),
	    T(test_mail_rejected_354_then_rset_refused),
	    T(test_quit_eof_or_421),
	    T(test_unsolicited_421_while_idle),
	    T(test_send_failures_are_reset),
	    T(test_body_read_error),
	    T(test_full_delivery_wire),
	    T(test_quit_idle),
	    T(test_quit_idle_timeout),
	    T(test_quit_mid_transaction),
	    T(test_quit_while_greeting),
	    T(test_quit_after_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
