/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_client: the client session on a real ring against scripted
 * servers on 127.0.0.1 (smtpc_fixture.c: a peer thread with blocking
 * sockets runs each script: expect these bytes, send these bytes, split at
 * every byte, dribble, reset).  Pipelined groups checked as one read,
 * reuse with the next MAIL behind the previous ".", per-recipient
 * outcomes, 421, 5xx banner, HELO fallback, lone ".", timeouts, resets,
 * dot-stuffing, the capability refusals and source binding.  Connection
 * faults and limits are in test_smtp_client_conn.c.  Skips loudly without
 * io_uring.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "smtp_client.h"
#include "smtpc_fixture.h"

static void
test_pipelined_group_one_send(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP2, 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT, "Subject: t\r\n\r\nhello\r\n.\r\n", 0},
	    {CFX_P_SEND, "250 2.0.0 queued as X\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to2));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	cfx_assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_DELIVERED, 250,
			SMTPC_STAGE_DOT);
	cfx_assert_rcpt(&f->msgs[0].rc[1], SMTPC_R_DELIVERED, 250,
			SMTPC_STAGE_DOT);
	assert_int_equal(f->msgs[0].rc[0].res.esc[0], 2);
	assert_non_null(strstr(f->msgs[0].rc[0].res.text, "queued as X"));
	assert_false(f->msgs[0].rc[0].res.maybe_dup);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
	assert_int_equal(f->why.code, 221);
	/* the message; none after "."; none after its reply (not on sends) */
	assert_int_equal(f->next_calls, 3);
}

static void
test_split_every_byte_multiline(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    {CFX_P_SPLIT, "220-mx.test ESMTP\r\n220 welcome\r\n", 0},
	    {CFX_P_EXPECT, "EHLO client.example\r\n", 0},
	    {CFX_P_SPLIT, CFX_CAPS_PIPE, 0},
	    {CFX_P_EXPECT_1, CFX_GROUP2, 0},
	    {CFX_P_SPLIT, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT, "Subject: t\r\n\r\nhello\r\n.\r\n", 0},
	    {CFX_P_SPLIT, "250-2.0.0 queued\r\n250 2.0.0 as Y\r\n", 0},
	    {CFX_P_EXPECT, "QUIT\r\n", 0},
	    {CFX_P_SPLIT, "221 bye\r\n", 0},
	    {CFX_P_EOF, NULL, 0},
	    {CFX_P_END, NULL, 0},
	};

	f->o.tmo.idle = 300;
	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to2));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	cfx_assert_rcpt(&f->msgs[0].rc[1], SMTPC_R_DELIVERED, 250,
			SMTPC_STAGE_DOT);
	assert_non_null(strstr(f->msgs[0].rc[1].res.text, "as Y"));
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_helo_fallback_no_pipelining(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO("502 5.5.1 EHLO not here\r\n"),
	    {CFX_P_EXPECT, "HELO client.example\r\n", 0},
	    {CFX_P_SEND, "250 mx.test\r\n", 0},
	    CFX_TXN_LOCKSTEP,
	    {CFX_P_EXPECT, "Subject: t\r\n\r\nhello\r\n.\r\n", 0},
	    {CFX_P_SEND, "250 ok\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	cfx_deliver_one(f, script, cfx_body1);
}

static void
test_all_rcpts_rejected_lone_dot(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP2, 0},
	    {CFX_P_SEND,
	     "250 ok\r\n550 5.1.1 no b\r\n550 5.1.1 no c\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT_1, ".\r\n", 0},
	    {CFX_P_SEND, "554 5.5.1 no valid recipients\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to2));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	cfx_assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_PERMANENT, 550,
			SMTPC_STAGE_RCPT);
	cfx_assert_rcpt(&f->msgs[0].rc[1], SMTPC_R_PERMANENT, 550,
			SMTPC_STAGE_RCPT);
	assert_int_equal(f->msgs[0].rc[1].res.fail, SMTPC_FAIL_REPLY);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_mixed_rcpt_outcomes_dsn(void **state)
{
	FX_GET(f);
	static const char *const to3[] = {"b@y", "c@y", "d@y", NULL};
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO("250-mx.test\r\n250-PIPELINING\r\n250 DSN\r\n"),
	    {CFX_P_EXPECT_1,
	     "MAIL FROM:<a@x> RET=HDRS ENVID=e+2B1\r\n"
	     "RCPT TO:<b@y> NOTIFY=FAILURE ORCPT=rfc822;B@y\r\n"
	     "RCPT TO:<c@y>\r\nRCPT TO:<d@y>\r\nDATA\r\n",
	     0},
	    {CFX_P_SEND,
	     "250 ok\r\n250 ok\r\n451 4.2.0 later\r\n550 5.1.1 unknown\r\n"
	     "354 go\r\n",
	     0},
	    {CFX_P_EXPECT, "Subject: t\r\n\r\nhello\r\n.\r\n", 0},
	    {CFX_P_SEND, "250 2.0.0 ok\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};
	struct smtpc_msg *m = cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), to3);

	m->ret = SMTPCMD_RET_HDRS;
	m->envid = "e+1";
	m->rcpt[0].notify = SMTPCMD_NOTIFY_FAILURE;
	m->rcpt[0].orcpt = "B@y";
	cfx_queue(f, m);
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	cfx_assert_rcpt(&m->rcpt[0], SMTPC_R_DELIVERED, 250, SMTPC_STAGE_DOT);
	cfx_assert_rcpt(&m->rcpt[1], SMTPC_R_TEMPORARY, 451, SMTPC_STAGE_RCPT);
	cfx_assert_rcpt(&m->rcpt[2], SMTPC_R_PERMANENT, 550, SMTPC_STAGE_RCPT);
	assert_int_equal(m->rcpt[1].res.esc[0], 4);
	assert_int_equal(m->rcpt[1].res.esc[2], 0);
	assert_int_equal(m->rcpt[2].res.esc[2], 1);
}

static void
test_421_mid_transaction(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP2, 0},
	    {CFX_P_SEND, "250 ok\r\n421 4.3.2 shutting down\r\n", 0},
	    {CFX_P_EOF, NULL, 0},
	    {CFX_P_END, NULL, 0},
	};

	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to2));
	cfx_queue(f, cfx_msg(f, 1, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	cfx_assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_TEMPORARY, 421,
			SMTPC_STAGE_RCPT);
	cfx_assert_rcpt(&f->msgs[0].rc[1], SMTPC_R_TEMPORARY, 421,
			SMTPC_STAGE_RCPT);
	assert_false(f->msgs[0].rc[0].res.maybe_dup);
	assert_int_equal(f->why.fail, SMTPC_FAIL_REPLY);
	assert_int_equal(f->why.code, 421);
	assert_int_equal(f->qhead, 1); /* the second message never taken */
}

static void
test_banner_5xx(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    {CFX_P_SEND, "554 5.7.1 go away\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 0);
	assert_int_equal(f->next_calls, 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_REPLY);
	assert_int_equal(f->why.code, 554);
	assert_int_equal(f->why.stage, SMTPC_STAGE_BANNER);
	assert_int_equal(f->why.esc[1], 7);
}

static void
test_reset_during_data(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO("250-mx.test\r\n250 PIPELINING\r\n"),
	    {CFX_P_EXPECT_1, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n", 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_SLEEP, NULL, 100},
	    {CFX_P_RESET, NULL, 0},
	    {CFX_P_END, NULL, 0},
	};
	size_t len = 16u << 20;
	char *big = malloc(len);

	for (size_t i = 0; i < len; i++)
		big[i] = (i % 64 == 63) ? '\n' : 'a';
	cfx_queue(f, cfx_msg(f, 0, big, len, cfx_to1));
	free(big);
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->msgs[0].rc[0].res.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->msgs[0].rc[0].res.fail, SMTPC_FAIL_RESET);
	assert_int_equal(f->msgs[0].rc[0].res.stage, SMTPC_STAGE_BODY);
	assert_false(f->msgs[0].rc[0].res.maybe_dup);
	assert_int_equal(f->why.fail, SMTPC_FAIL_RESET);
}

static void
test_dot_reply_dribble_times_out(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT, "Subject: t\r\n\r\nhello\r\n.\r\n", 0},
	    {CFX_P_DRIBBLE, "250 2.0.0 ok\r\n", 100},
	    {CFX_P_END, NULL, 0},
	};
	struct timespec t0, t1;
	long ms;

	f->o.tmo.dot = 300;
	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to1));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cfx_run(f, script);
	t1 = f->closed_at;
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->msgs[0].rc[0].res.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->msgs[0].rc[0].res.fail, SMTPC_FAIL_TIMEOUT);
	assert_int_equal(f->msgs[0].rc[0].res.stage, SMTPC_STAGE_DOT);
	assert_true(f->msgs[0].rc[0].res.maybe_dup);
	assert_int_equal(f->why.fail, SMTPC_FAIL_TIMEOUT);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	/* The deadline did not move with each byte (1.4 s of dribble). */
	assert_true(ms < 1200);
}

static void
test_reuse_three_pipelined_behind_dot(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT_1, CFX_BODYDOT CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 one\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT_1, CFX_BODYDOT CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 two\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT_1, CFX_BODYDOT, 0},
	    {CFX_P_SEND, "250 three\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	for (unsigned i = 0; i < 3; i++)
		cfx_queue(f,
			  cfx_msg(f, i, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 3);
	for (unsigned i = 0; i < 3; i++) {
		static const char *const want[] = {"one", "two", "three"};

		assert_ptr_equal(f->done[i], &f->msgs[i].m);
		cfx_assert_rcpt(&f->msgs[i].rc[0], SMTPC_R_DELIVERED, 250,
				SMTPC_STAGE_DOT);
		assert_string_equal(f->msgs[i].rc[0].res.text, want[i]);
	}
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_max_deliveries_then_quit(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT_1, CFX_BODYDOT CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 one\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT_1, CFX_BODYDOT, 0},
	    {CFX_P_SLEEP, NULL, 50}, /* QUIT must not follow "." unanswered */
	    {CFX_P_SEND, "250 two\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	f->o.max_deliveries = 2;
	f->o.tmo.idle = 5000; /* QUIT must come from the limit */
	for (unsigned i = 0; i < 3; i++)
		cfx_queue(f,
			  cfx_msg(f, i, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 2);
	assert_int_equal(f->qhead, 2);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
fx_late(struct timer *t)
{
	struct fx *f = container_of(t, struct fx, late);

	cfx_queue(f, &f->msgs[f->late_idx].m);
	if (f->s != NULL)
		smtpc_kick(f->s);
}

static void
test_idle_kick_then_idle_timeout(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT_1, CFX_BODYDOT, 0},
	    {CFX_P_SEND, "250 ok\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};
	struct timespec t0, t1;
	long ms;

	f->o.tmo.idle = 400;
	(void)cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to1);
	f->late_idx = 0;
	timer_init(&f->late, fx_late);
	timer_arm(ring_timers(f->r), &f->late,
		  ring_now_update(f->r) + 150 * 1000000LL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cfx_run(f, script);
	t1 = f->closed_at;
	assert_int_equal(f->ndone, 1);
	cfx_assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_DELIVERED, 250,
			SMTPC_STAGE_DOT);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 150 + 400); /* kicked, then a full idle period */
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_rset_after_mail_rejection(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP1, 0},
	    {CFX_P_SEND,
	     "550 5.7.1 sender refused\r\n503 5.5.1 need MAIL\r\n"
	     "503 5.5.1 need MAIL\r\n",
	     0},
	    {CFX_P_EXPECT_1, "RSET\r\n" CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 flushed\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT_1, CFX_BODYDOT, 0},
	    {CFX_P_SEND, "250 ok\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_queue(f, cfx_msg(f, 1, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 2);
	cfx_assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_PERMANENT, 550,
			SMTPC_STAGE_MAIL);
	cfx_assert_rcpt(&f->msgs[1].rc[0], SMTPC_R_DELIVERED, 250,
			SMTPC_STAGE_DOT);
}

static void
test_dot_stuffing_exact(void **state)
{
	FX_GET(f);
	static const char body[] = ".\r\n..\r\n.x\r\nmid.dle\r\n\r\nend";
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO("250-mx.test\r\n250 PIPELINING\r\n"),
	    {CFX_P_EXPECT_1, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n", 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT, "..\r\n...\r\n..x\r\nmid.dle\r\n\r\nend\r\n.\r\n",
	     0},
	    {CFX_P_SEND, "250 ok\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	cfx_deliver_one(f, script, body);
}

static void
test_capability_refusals_not_sent(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO("250-mx.test\r\n250-PIPELINING\r\n250 SIZE 20\r\n"),
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};
	static const char b8[] = "Subject: \xc3\xa9\r\n\r\nx\r\n";
	struct smtpc_msg *m8 = cfx_msg(f, 0, b8, strlen(b8), cfx_to1);
	struct smtpc_msg *mu = cfx_msg(f, 1, "x\r\n", 3, cfx_to1);
	struct smtpc_msg *mbig =
	    cfx_msg(f, 2, cfx_body1, strlen(cfx_body1), cfx_to1);

	m8->eightbit = true;
	mu->smtputf8 = true;
	cfx_queue(f, m8);
	cfx_queue(f, mu);
	cfx_queue(f, mbig);
	cfx_run(f, script);
	assert_int_equal(f->ndone, 3);
	for (unsigned i = 0; i < 3; i++) {
		static const unsigned want[3][2] = {{6, 3}, {6, 7}, {3, 4}};
		const struct smtpc_result *r = &f->msgs[i].rc[0].res;

		assert_int_equal(r->status, SMTPC_R_PERMANENT);
		assert_int_equal(r->fail, SMTPC_FAIL_CAPS);
		assert_int_equal(r->stage, SMTPC_STAGE_LOCAL);
		assert_int_equal(r->code, 0);
		assert_int_equal(r->esc[0], 5);
		assert_int_equal(r->esc[1], want[i][0]);
		assert_int_equal(r->esc[2], want[i][1]);
	}
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_source_address_binding(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};
	struct sockaddr_in *src = (struct sockaddr_in *)&f->o.src;

	src->sin_family = AF_INET;
	src->sin_addr.s_addr = htonl(0x7f000002);
	f->o.src_len = sizeof(*src);
	cfx_run(f, script);
	assert_string_equal(f->peer.peer_ip, "127.0.0.2");
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, cfx_setup, cfx_teardown)
	    T(test_pipelined_group_one_send),
	    T(test_split_every_byte_multiline),
	    T(test_helo_fallback_no_pipelining),
	    T(test_all_rcpts_rejected_lone_dot),
	    T(test_mixed_rcpt_outcomes_dsn),
	    T(test_421_mid_transaction),
	    T(test_banner_5xx),
	    T(test_reset_during_data),
	    T(test_dot_reply_dribble_times_out),
	    T(test_reuse_three_pipelined_behind_dot),
	    T(test_max_deliveries_then_quit),
	    T(test_idle_kick_then_idle_timeout),
	    T(test_rset_after_mail_rejection),
	    T(test_dot_stuffing_exact),
	    T(test_capability_refusals_not_sent),
	    T(test_source_address_binding),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
