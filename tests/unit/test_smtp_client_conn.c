/* SPDX-License-Identifier: MIT */
/*
 * test_smtp_client_conn: the client session's connection faults and
 * limits on a real ring against scripted servers on 127.0.0.1
 * (smtpc_fixture.c): connect refused, the banner timeout, a cancel in
 * flight, more recipients than the pending window, DATA and dot
 * rejections, garbage and unsolicited replies, a large body streamed
 * byte-exact, reuse without PIPELINING, a short body file, IPv6 loopback,
 * the tables and struct sizes.  Skips loudly without io_uring.
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
test_connect_refused(void **state)
{
	FX_GET(f);

	/* Nobody listens on the port once the listener is closed. */
	close(f->peer.sp.lfd);
	f->peer.sp.lfd = socket(AF_INET, SOCK_STREAM, 0);
	f->s = smtpc_new(f->r, &f->o, &cfx_ops, f);
	assert_int_equal(smtpc_start(f->s), 0);
	while (!f->closed)
		assert_true(ring_run_once(f->r, 50 * 1000000LL) >= 0);
	assert_int_equal(f->why.fail, SMTPC_FAIL_REFUSED);
	assert_int_equal(f->why.stage, SMTPC_STAGE_CONNECT);
	assert_int_equal(f->next_calls, 0);
}

static void
test_many_rcpts_beyond_pend_window(void **state)
{
	FX_GET(f);
	static char names[40][8];
	static const char *to40[41];
	static char group_a[4096], group_b[1024], replies_a[1024],
	    replies_b[512];
	struct cfx_step script[] = {
	    CFX_BANNER_EHLO("250-mx.test\r\n250 PIPELINING\r\n"),
	    {CFX_P_EXPECT, group_a, 0},
	    {CFX_P_SEND, replies_a, 0},
	    {CFX_P_EXPECT, group_b, 0},
	    {CFX_P_SEND, replies_b, 0},
	    {CFX_P_EXPECT, "x\r\n.\r\n", 0},
	    {CFX_P_SEND, "250 ok\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};
	size_t oa, ob;
	unsigned i;

	/* pend[] holds 32: MAIL + 31 RCPT go first, the rest after replies */
	oa = (size_t)snprintf(group_a, sizeof(group_a), "MAIL FROM:<a@x>\r\n");
	ob = 0;
	for (i = 0; i < 40; i++) {
		snprintf(names[i], sizeof(names[i]), "r%u@y", i);
		to40[i] = names[i];
		if (i < 31)
			oa +=
			    (size_t)snprintf(group_a + oa, sizeof(group_a) - oa,
					     "RCPT TO:<%s>\r\n", names[i]);
		else
			ob +=
			    (size_t)snprintf(group_b + ob, sizeof(group_b) - ob,
					     "RCPT TO:<%s>\r\n", names[i]);
	}
	to40[40] = NULL;
	snprintf(group_b + ob, sizeof(group_b) - ob, "DATA\r\n");
	replies_a[0] = replies_b[0] = '\0';
	for (i = 0; i < 32; i++)
		strcat(replies_a, i == 5 ? "550 5.1.1 no\r\n" : "250 ok\r\n");
	for (i = 0; i < 9; i++)
		strcat(replies_b, "250 ok\r\n");
	strcat(replies_b, "354 go\r\n");
	cfx_queue(f, cfx_msg(f, 0, "x\r\n", 3, to40));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	for (i = 0; i < 40; i++) {
		if (i == 4)
			cfx_assert_rcpt(&f->msgs[0].rc[i], SMTPC_R_PERMANENT,
					550, SMTPC_STAGE_RCPT);
		else
			cfx_assert_rcpt(&f->msgs[0].rc[i], SMTPC_R_DELIVERED,
					250, SMTPC_STAGE_DOT);
	}
}

static void
test_banner_timeout(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    {CFX_P_EOF, NULL, 0},
	    {CFX_P_END, NULL, 0},
	};

	f->o.tmo.banner = 200;
	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_run(f, script);
	assert_int_equal(f->why.fail, SMTPC_FAIL_TIMEOUT);
	assert_int_equal(f->why.stage, SMTPC_STAGE_BANNER);
	assert_int_equal(f->why.err, -ETIMEDOUT);
	assert_int_equal(f->next_calls, 0);
}

static void
fx_cancel(struct timer *t)
{
	struct fx *f = container_of(t, struct fx, late);

	if (f->s != NULL)
		smtpc_cancel(f->s);
}

static void
test_cancel_in_flight(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP1, 0},
	    {CFX_P_EOF, NULL, 0},
	    {CFX_P_END, NULL, 0},
	};

	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to1));
	timer_init(&f->late, fx_cancel);
	timer_arm(ring_timers(f->r), &f->late,
		  ring_now_update(f->r) + 200 * 1000000LL);
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->msgs[0].rc[0].res.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->msgs[0].rc[0].res.err, -ECANCELED);
	assert_int_equal(f->why.fail, SMTPC_FAIL_LOCAL);
	assert_int_equal(f->why.err, -ECANCELED);
	assert_int_equal(f->why.stage, SMTPC_STAGE_MAIL);
}

static void
test_data_and_dot_rejections(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n451 4.3.0 try later\r\n", 0},
	    {CFX_P_EXPECT_1, "RSET\r\n" CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT_1, CFX_BODYDOT CFX_GROUP1, 0},
	    {CFX_P_SEND, "554 5.7.1 spam\r\n250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT_1, CFX_BODYDOT, 0},
	    {CFX_P_SEND, "452 4.3.1 full\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	for (unsigned i = 0; i < 3; i++)
		cfx_queue(f,
			  cfx_msg(f, i, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 3);
	cfx_assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_TEMPORARY, 451,
			SMTPC_STAGE_DATA);
	cfx_assert_rcpt(&f->msgs[1].rc[0], SMTPC_R_PERMANENT, 554,
			SMTPC_STAGE_DOT);
	cfx_assert_rcpt(&f->msgs[2].rc[0], SMTPC_R_TEMPORARY, 452,
			SMTPC_STAGE_DOT);
	assert_false(f->msgs[2].rc[0].res.maybe_dup);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_garbage_reply_is_protocol_error(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1, CFX_GROUP1, 0},
	    {CFX_P_SEND, "250 ok\r\n25x what\r\n", 0},
	    {CFX_P_EOF, NULL, 0},
	    {CFX_P_END, NULL, 0},
	};

	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->msgs[0].rc[0].res.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->msgs[0].rc[0].res.fail, SMTPC_FAIL_PROTO);
	assert_int_equal(f->msgs[0].rc[0].res.stage, SMTPC_STAGE_RCPT);
	assert_int_equal(f->why.fail, SMTPC_FAIL_PROTO);
}

static void
test_unsolicited_reply_while_idle(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_SEND, "250 surprise\r\n", 0},
	    {CFX_P_EOF, NULL, 0},
	    {CFX_P_END, NULL, 0},
	};

	f->o.tmo.idle = 2000;
	cfx_run(f, script);
	assert_int_equal(f->why.fail, SMTPC_FAIL_PROTO);
	assert_int_equal(f->why.stage, SMTPC_STAGE_IDLE);
}

static void
test_large_body_streamed_byte_exact(void **state)
{
	FX_GET(f);
	size_t cap = 400u << 10, bl = 0, wl = 0;
	char *body = malloc(cap), *wire = malloc(cap * 2);
	struct cfx_step script[] = {
	    CFX_BANNER_EHLO("250-mx.test\r\n250 PIPELINING\r\n"),
	    {CFX_P_EXPECT_1, "MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n", 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EXPECT, wire, 0},
	    {CFX_P_SEND, "250 ok\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	/* lines of varied length, a "." at every 7th line start, dots
	 * landing on every chunk and buffer boundary sooner or later */
	for (unsigned n = 0; bl < cap - 200; n++) {
		char line[160];
		int ll =
		    snprintf(line, sizeof(line), "%s%u %.*s\r\n",
			     n % 7 == 0 ? "." : "", n, (int)(n % 97),
			     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstu"
			     "vwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnop"
			     "qrstuvwxyz");

		memcpy(body + bl, line, (size_t)ll);
		bl += (size_t)ll;
		if (n % 7 == 0)
			wire[wl++] = '.';
		memcpy(wire + wl, line, (size_t)ll);
		wl += (size_t)ll;
	}
	memcpy(body + bl, "tail", 4); /* no final CRLF */
	bl += 4;
	memcpy(wire + wl, "tail\r\n.\r\n", 10);
	wl += 9;
	wire[wl] = '\0';
	cfx_queue(f, cfx_msg(f, 0, body, bl, cfx_to1));
	cfx_run(f, script);
	free(body);
	free(wire);
	assert_int_equal(f->ndone, 1);
	cfx_assert_rcpt(&f->msgs[0].rc[0], SMTPC_R_DELIVERED, 250,
			SMTPC_STAGE_DOT);
}

static void
test_reuse_without_pipelining(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO("250-mx.test\r\n250 8BITMIME\r\n"),
	    CFX_TXN_LOCKSTEP,
	    {CFX_P_EXPECT_1, CFX_BODYDOT, 0},
	    {CFX_P_SLEEP, NULL, 50}, /* nothing may follow "." unanswered */
	    {CFX_P_SEND, "250 one\r\n", 0},
	    CFX_TXN_LOCKSTEP,
	    {CFX_P_EXPECT_1, CFX_BODYDOT, 0},
	    {CFX_P_SEND, "250 two\r\n", 0},
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};

	cfx_queue(f, cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_queue(f, cfx_msg(f, 1, cfx_body1, strlen(cfx_body1), cfx_to1));
	cfx_run(f, script);
	assert_int_equal(f->ndone, 2);
	assert_string_equal(f->msgs[1].rc[0].res.text, "two");
}

static void
test_short_body_file_never_ends_data(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    {CFX_P_EXPECT_1,
	     "MAIL FROM:<a@x> SIZE=100\r\nRCPT TO:<b@y>\r\nDATA\r\n", 0},
	    {CFX_P_SEND, "250 ok\r\n250 ok\r\n354 go\r\n", 0},
	    {CFX_P_EOF_NODOT, NULL, 0},
	    {CFX_P_END, NULL, 0},
	};
	struct smtpc_msg *m =
	    cfx_msg(f, 0, cfx_body1, strlen(cfx_body1), cfx_to1);

	m->body_len = 100; /* the file holds 21 bytes after the offset */
	cfx_queue(f, m);
	cfx_run(f, script);
	assert_int_equal(f->ndone, 1);
	assert_int_equal(f->msgs[0].rc[0].res.status, SMTPC_R_TEMPORARY);
	assert_int_equal(f->msgs[0].rc[0].res.fail, SMTPC_FAIL_LOCAL);
	assert_int_equal(f->msgs[0].rc[0].res.err, -EIO);
	assert_false(f->msgs[0].rc[0].res.maybe_dup);
}

static void
test_ipv6_loopback(void **state)
{
	FX_GET(f);
	static const struct cfx_step script[] = {
	    CFX_BANNER_EHLO(CFX_CAPS_PIPE),
	    CFX_QUIT_END,
	    {CFX_P_END, NULL, 0},
	};
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&f->o.dst;
	socklen_t sl = sizeof(*sin6);
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)sin6, sl) != 0) {
		fprintf(stderr, "*** no IPv6 loopback: SKIPPING ***\n");
		if (fd >= 0)
			close(fd);
		skip();
		return;
	}
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)sin6, &sl), 0);
	f->o.dst_len = sl;
	close(f->peer.sp.lfd);
	f->peer.sp.lfd = fd;
	cfx_run(f, script);
	assert_int_equal(f->why.fail, SMTPC_FAIL_NONE);
}

static void
test_tables_and_size(void **state)
{
	(void)state;
	assert_string_equal(smtpc_fail_str(SMTPC_FAIL_REFUSED), "refused");
	assert_string_equal(smtpc_fail_str(SMTPC_FAIL__COUNT), "?");
	assert_string_equal(smtpc_state_str(SMTPC_S_TXN), "TXN");
	assert_string_equal(smtpc_stage_str(SMTPC_STAGE_DOT), "dot");
	assert_string_equal(smtpc_status_str(SMTPC_R_TEMPORARY), "temporary");
	assert_int_equal(smtpc_fail_from_errno(-ECONNREFUSED),
			 SMTPC_FAIL_REFUSED);
	assert_int_equal(smtpc_fail_from_errno(-EHOSTUNREACH),
			 SMTPC_FAIL_UNREACH);
	assert_int_equal(smtpc_fail_from_errno(-ETIMEDOUT), SMTPC_FAIL_TIMEOUT);
	assert_int_equal(smtpc_fail_from_errno(-EPIPE), SMTPC_FAIL_RESET);
	assert_int_equal(smtpc_fail_from_errno(-EBADMSG), SMTPC_FAIL_PROTO);
	assert_int_equal(smtpc_fail_from_errno(-EADDRNOTAVAIL),
			 SMTPC_FAIL_LOCAL);
	/* 10,000 idle sessions within 200 MB. */
	fprintf(stderr, "sizeof(struct smtpc) = %zu\n", smtpc_session_size());
	assert_true(smtpc_session_size() * 10000 < 200u * 1000 * 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, cfx_setup, cfx_teardown)
	    T(test_connect_refused),
	    T(test_many_rcpts_beyond_pend_window),
	    T(test_banner_timeout),
	    T(test_cancel_in_flight),
	    T(test_data_and_dot_rejections),
	    T(test_garbage_reply_is_protocol_error),
	    T(test_unsolicited_reply_while_idle),
	    T(test_large_body_streamed_byte_exact),
	    T(test_reuse_without_pipelining),
	    T(test_short_body_file_never_ends_data),
	    T(test_ipv6_loopback),
	    cmocka_unit_test(test_tables_and_size),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
