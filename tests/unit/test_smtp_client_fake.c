/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_client_fake: the client session engine on the fake ring
 * (tests/fakes/fake_ring.c, through smtpc_fake_fixture.c): every
 * completion delivered by hand and the clock moved by hand.  The
 * byte-level cases are in test_smtp_client_fake_bytes.c; here the state
 * edges, smtpc_quit and the wire body.
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
#include "smtp_client.h"
#include "smtpc_fake_fixture.h"

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
			ffx_start(f);
			ffx_connect(f);
		} else {
			ffx_to_ehlo(f);
		}
		if (e->upto == 2) {
			fake_ring_recv_str("502 no EHLO\r\n");
			ffx_expect_sent("HELO client.example\r\n");
		}
		fake_ring_recv_str(e->reply);
		if (e->quit != NULL) {
			assert_int_equal(smtpc_get_state(f->s), SMTPC_S_QUIT);
			ffx_expect_sent(e->quit);
			fake_ring_recv_str("221 bye\r\n");
		}
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		assert_null(fake_ring_pending(RING_OP_SEND));
		ffx_expect_closed(f, e->fail, e->stage, e->err, e->code);
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
			ffx_to_body(f);
			fake_ring_read_bytes(FFX_BODY_IN, strlen(FFX_BODY_IN));
			ffx_expect_sent(FFX_BODY_OUT);
		} else {
			ffx_to_group(f);
			ffx_expect_sent(FFX_GROUP);
		}
		fake_ring_recv_str(cases[i].replies);
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		ffx_expect_closed(f, SMTPC_FAIL_PROTO, cases[i].stage, -EPROTO,
				  0);
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

	ffx_to_group(f);
	f->nmsg = 2;
	ffx_expect_sent(FFX_GROUP);
	fake_ring_recv_str("550 5.1.8 bad sender\r\n503 no\r\n503 no\r\n");
	assert_int_equal(f->done, 0);
	fake_ring_recv_str("354 go\r\n");
	assert_int_equal(fake_ring_armed_total(RING_OP_READ), 0);
	/* the lone "." and, pipelined behind it, RSET and the next group */
	ffx_expect_sent(".\r\nRSET\r\n" FFX_GROUP);
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
	ffx_expect_closed(f, SMTPC_FAIL_PROTO, SMTPC_STAGE_RSET, -EPROTO, 0);
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
		ffx_to_ready(f, 0, SMTPC_S_IDLE);
		assert_int_equal(fake_ring_advance(50 * FFX_MS), 1);
		ffx_expect_sent("QUIT\r\n");
		if (ends[i] == NULL)
			(void)fake_ring_complete(
			    fake_ring_pending(RING_OP_RECV), 0);
		else
			fake_ring_recv_str(ends[i]);
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		ffx_expect_closed(f, SMTPC_FAIL_NONE, SMTPC_STAGE_QUIT, 0,
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

	ffx_to_ready(f, 0, SMTPC_S_IDLE);
	fake_ring_recv_str("421 4.4.2 mx.example idle too long\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	ffx_expect_closed(f, SMTPC_FAIL_REPLY, SMTPC_STAGE_IDLE, 0, 421);
}

static void
test_send_failures_are_reset(void **state)
{
	static const int results[] = {0, -EPIPE, -ECONNRESET};
	struct fx *f = *state;

	for (size_t i = 0; i < nitems(results); i++) {
		ffx_to_group(f);
		(void)fake_ring_complete(fake_ring_pending(RING_OP_SEND),
					 results[i]);
		assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
		ffx_expect_closed(f, SMTPC_FAIL_RESET, SMTPC_STAGE_MAIL,
				  results[i] ? results[i] : -ECONNRESET, 0);
		assert_int_equal(f->done, 1);
	}
}

/* A body read error: no "." may follow a cut body. */
static void
test_body_read_error(void **state)
{
	struct fx *f = *state;

	ffx_to_body(f);
	fake_ring_wire_reset();
	(void)fake_ring_complete(fake_ring_pending(RING_OP_READ), -EIO);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	assert_null(fake_ring_pending(RING_OP_SEND));
	assert_string_equal(fake_ring_wire(NULL), "");
	ffx_expect_closed(f, SMTPC_FAIL_LOCAL, SMTPC_STAGE_BODY, -EIO, 0);
	assert_false(f->msg[0].rc[0].res.maybe_dup);
}

/* The whole delivery on the fake: exact wire, then IDLE, then cancel. */
static void
test_full_delivery_wire(void **state)
{
	struct fx *f = *state;

	ffx_to_body(f);
	fake_ring_read_bytes(FFX_BODY_IN, strlen(FFX_BODY_IN));
	fake_ring_recv_str("250 2.0.0 queued\r\n"); /* before the send ends */
	(void)fake_ring_flush_sends();
	assert_int_equal(f->done, 1);
	assert_int_equal(f->msg[0].rc[0].res.status, SMTPC_R_DELIVERED);
	assert_int_equal(f->msg[0].rc[1].res.code, 250);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_IDLE);
	assert_string_equal(fake_ring_wire(NULL),
			    FFX_EHLO FFX_GROUP FFX_BODY_OUT);
	assert_int_equal(smtpc_deliveries(f->s), 1);
	ffx_end(f);
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
	ffx_to_ready(f, 0, SMTPC_S_IDLE);
	fake_ring_wire_reset();
	smtpc_quit(f->s);
	smtpc_quit(f->s);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_IDLE);
	assert_null(fake_ring_pending(RING_OP_SEND));
	(void)fake_ring_run_tasks();
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_QUIT);
	ffx_expect_sent("QUIT\r\n");
}

/* QUIT, then 221: a clean end, as after any QUIT. */
static void
fx_quit_221(struct fx *f)
{
	fake_ring_recv_str("221 bye\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	ffx_expect_closed(f, SMTPC_FAIL_NONE, SMTPC_STAGE_QUIT, 0, 221);
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
	assert_int_equal(fake_ring_advance(39 * FFX_MS), 0);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_QUIT);
	assert_int_equal(fake_ring_advance(1 * FFX_MS), 1);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_CLOSING);
	ffx_expect_closed(f, SMTPC_FAIL_TIMEOUT, SMTPC_STAGE_QUIT, -ETIMEDOUT,
			  0);
	smtpc_timeouts_default(&f->o.tmo);
}

/* Mid transaction: the message in flight completes (its body, "." and
 * reply), the next one is not taken, then QUIT (never behind "."). */
static void
test_quit_mid_transaction(void **state)
{
	struct fx *f = *state;

	ffx_to_ready(f, 2, SMTPC_S_TXN);
	ffx_expect_sent(FFX_GROUP);
	fake_ring_recv_str("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BODY);
	smtpc_quit(f->s);
	(void)fake_ring_run_tasks();
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_BODY);
	fake_ring_read_bytes(FFX_BODY_IN, strlen(FFX_BODY_IN));
	(void)fake_ring_flush_sends();
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_NEXT);
	assert_null(fake_ring_pending(RING_OP_SEND));
	fake_ring_recv_str("250 2.0.0 queued\r\n");
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_QUIT);
	ffx_expect_sent("QUIT\r\n");
	assert_int_equal(f->taken, 1);
	assert_int_equal(f->done, 1);
	assert_int_equal(f->msg[0].rc[0].res.status, SMTPC_R_DELIVERED);
	assert_int_equal(f->msg[0].rc[1].res.status, SMTPC_R_DELIVERED);
	assert_string_equal(fake_ring_wire(NULL),
			    FFX_EHLO FFX_GROUP FFX_BODY_OUT "QUIT\r\n");
	fx_quit_221(f);
}

/* Asked while greeting: EHLO completes, no message is taken, QUIT. */
static void
test_quit_while_greeting(void **state)
{
	struct fx *f = *state;

	f->nmsg = 1;
	ffx_to_ehlo(f);
	smtpc_quit(f->s);
	(void)fake_ring_run_tasks();
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_EHLO);
	fake_ring_recv_str(FFX_EHLO_PIPE);
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_QUIT);
	ffx_expect_sent("QUIT\r\n");
	assert_int_equal(f->taken, 0);
	fx_quit_221(f);
}

/* After cancel (CLOSING) it does nothing: the reason stays "cancelled". */
static void
test_quit_after_cancel(void **state)
{
	struct fx *f = *state;

	ffx_to_ready(f, 0, SMTPC_S_IDLE);
	smtpc_cancel(f->s);
	smtpc_quit(f->s);
	(void)fake_ring_run_tasks();
	assert_null(fake_ring_pending(RING_OP_SEND));
	ffx_expect_closed(f, SMTPC_FAIL_LOCAL, SMTPC_STAGE_IDLE, -ECANCELED, 0);
}

/* Run msg[0]'s body (from body[0..len)) through reads and sends; the
 * session must end in NEXT.  Returns what went on the wire. */
static const char *
fx_pump_body(struct fx *f, const char *body, size_t len, size_t *got_r)
{
	struct fake_op *rd, *so;

	f->msg[0].m.body_len = len;
	ffx_to_group(f);
	ffx_expect_sent(FFX_GROUP);
	fake_ring_wire_reset();
	fake_ring_recv_str("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n");
	for (;;) {
		rd = fake_ring_pending(RING_OP_READ);
		so = fake_ring_pending(RING_OP_SEND);
		if (rd != NULL) {
			assert_true(rd->off >= 7 &&
				    rd->off - 7 + rd->len <= len);
			fake_ring_read_bytes(body + rd->off - 7, rd->len);
		} else if (so != NULL) {
			(void)fake_ring_send_complete(SIZE_MAX);
		} else {
			break;
		}
	}
	assert_int_equal(smtpc_get_state(f->s), SMTPC_S_NEXT);
	return fake_ring_wire(got_r);
}

/*
 * A wire body (smtpc_msg.wire, RECORD_MSG_F_WIRE) goes out exactly as read,
 * then ".\r\n": nothing is scanned, so even a (dishonest) "\r\n.x" stays
 * unstuffed, which shows the bytes took no encoder; the same body without
 * the flag is stuffed.  Several reads and sends (200 KiB), and the empty
 * body.
 */
static void
test_wire_body_as_is(void **state)
{
	enum {
		BODY = 200 * 1024
	};
	struct fx *f = *state;
	char *body = malloc(BODY), *want = malloc(2 * BODY);
	const char *got;
	size_t glen, wlen;

	assert_non_null(body);
	assert_non_null(want);
	for (size_t i = 0; i < BODY; i++)
		body[i] = (char)('a' + i % 26);
	for (size_t i = 76; i < BODY; i += 78)
		memcpy(body + i, "\r\n", 2);
	memcpy(body + 70000, "\r\n.x", 4);
	memcpy(body + BODY - 2, "\r\n", 2);

	f->msg[0].m.wire = true;
	got = fx_pump_body(f, body, BODY, &glen);
	assert_int_equal(glen, BODY + 3);
	assert_memory_equal(got, body, BODY);
	assert_memory_equal(got + BODY, ".\r\n", 3);
	fake_ring_recv_str("250 queued\r\n");
	assert_int_equal(f->msg[0].rc[0].res.status, SMTPC_R_DELIVERED);
	ffx_end(f);

	ffx_msg_init(&f->msg[0]); /* not wire: the same body is stuffed */
	wlen = ffx_stuffed(body, BODY, want);
	got = fx_pump_body(f, body, BODY, &glen);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	assert_true(wlen == BODY + 4); /* one "." doubled, then ".\r\n" */
	ffx_end(f);

	ffx_msg_init(&f->msg[0]); /* empty wire body: only the terminator */
	f->msg[0].m.wire = true;
	got = fx_pump_body(f, body, 0, &glen);
	assert_int_equal(glen, 3);
	assert_memory_equal(got, ".\r\n", 3);
	ffx_end(f);
	free(body);
	free(want);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, ffx_setup, ffx_teardown)

int
main(void)
{
	const struct CMUnitTest tests[] = {
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
	    T(test_wire_body_as_is),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
